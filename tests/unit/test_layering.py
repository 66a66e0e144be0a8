"""Only ui/ and app.py may import Qt: importing the rest must not load PySide6."""

import subprocess
import sys

NON_UI = [
    "pgflex_gui.domain.ids",
    "pgflex_gui.domain.models",
    "pgflex_gui.domain.errors",
    "pgflex_gui.azure",
    "pgflex_gui.postgres",
    "pgflex_gui.jobs",
    "pgflex_gui.sandbox",
]


def test_non_ui_packages_do_not_load_qt() -> None:
    # A fresh interpreter: this test process may already have Qt loaded by other tests.
    code = (
        "import importlib, pkgutil, sys\n"
        f"for name in {NON_UI!r}:\n"
        "    mod = importlib.import_module(name)\n"
        "    for info in pkgutil.walk_packages(getattr(mod, '__path__', []), name + '.'):\n"
        "        if info.name.endswith('__main__'):\n"
        "            continue\n"
        "        importlib.import_module(info.name)\n"
        "assert 'PySide6' not in sys.modules, sorted(m for m in sys.modules if 'PySide6' in m)\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
