"""Entry script of the frozen app (PyInstaller).

``--self-check [--out FILE]`` proves the bundle is complete: it imports the Azure SDK
modules the app uses, resolves the keyring backend (and runs the keystore's probe, which
starts a child process: this checks ``multiprocessing.freeze_support``), checks that the
bundled Qt binding keeps reference counts straight across 10,000 emits of each signal kind
(``pgflex_gui.ui.qtcheck``), prints a JSON report and exits 0 (1 if anything failed).
Everything else goes to ``pgflex_gui.__main__``.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import sys
import traceback

SELF_CHECK_MODULES = (
    "azure.identity",
    "azure.mgmt.dataprotection",
    "azure.mgmt.postgresqlflexibleservers",
    "azure.mgmt.storage",
    "azure.mgmt.resource.resources",
    "azure.mgmt.resource.subscriptions",
    "azure.mgmt.authorization",
    "azure.storage.blob",
    "keyring",
    "pgflex_gui.keystore",
    "pgflex_gui.logs",
    "pgflex_gui.settings",
    "pgflex_gui.azure.auth",
    "pgflex_gui.cli",
)


def self_check(argv: list[str]) -> int:
    report: dict[str, object] = {"frozen": bool(getattr(sys, "frozen", False))}
    failed: dict[str, str] = {}
    for name in SELF_CHECK_MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - report every failure
            failed[name] = f"{type(exc).__name__}: {exc}"
    report["imports_failed"] = failed
    try:
        import keyring

        backend = keyring.get_keyring()
        report["keyring"] = f"{type(backend).__module__}.{type(backend).__qualname__}"
    except Exception as exc:  # noqa: BLE001
        report["keyring"] = f"error: {exc}"
    try:
        from pgflex_gui.cli import versions
        from pgflex_gui.keystore import probe_backend

        info = probe_backend(timeout=10)
        report["keyring_probe"] = {"name": info.name, "secure": info.secure, "reason": info.reason}
        report["versions"] = versions()
    except Exception:  # noqa: BLE001
        report["probe_error"] = traceback.format_exc()
    try:  # the Qt binding keeps reference counts straight across emits (PySide6 6.12.0 did not)
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtWidgets import QApplication

        from pgflex_gui.ui import qtcheck

        qt_app = QApplication.instance() or QApplication(["pgflex-gui-self-check"])
        drift = qtcheck.report(10_000)
        report["qt_binding"] = {
            "sound": qtcheck.is_sound(drift, 10_000),
            "drift": {k: {n: d for n, d in v.items() if d} for k, v in drift.items()},
        }
        del qt_app
    except Exception:  # noqa: BLE001
        report["qt_binding_error"] = traceback.format_exc()
    qt = report.get("qt_binding")
    qt_broken = not (isinstance(qt, dict) and qt.get("sound"))
    text = json.dumps(report, indent=2)
    out_path = None
    if "--out" in argv:
        index = argv.index("--out")
        out_path = argv[index + 1] if index + 1 < len(argv) else None
    if out_path:
        with open(out_path, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    if sys.stdout is not None:  # windowed builds on Windows have no stdout
        print(text)
    if qt_broken:
        if sys.stdout is not None:
            sys.stdout.flush()
        os._exit(1)  # teardown would abort in bool_dealloc on a broken binding
    return 1 if failed or "probe_error" in report else 0


def main() -> int:
    multiprocessing.freeze_support()  # the keyring probe runs in a spawned child
    argv = sys.argv[1:]
    if "--self-check" in argv:
        return self_check(argv)
    from pgflex_gui.__main__ import main as app_main

    return int(app_main() or 0)


if __name__ == "__main__":
    sys.exit(main())
