"""The ``pgflex`` command: version, doctor, sandbox, restore and inventory.

Qt is never imported here: the command works on machines without a display.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import logging
import os
import platform
import sys
from collections.abc import Sequence
from typing import Any

from pgflex_gui import __version__, paths

__all__ = ["main", "versions"]

log = logging.getLogger(__name__)

NOT_IMPLEMENTED = 2

_SDK_PACKAGES = (
    "azure-identity",
    "azure-core",
    "azure-mgmt-dataprotection",
    "azure-mgmt-postgresqlflexibleservers",
    "azure-mgmt-storage",
    "azure-mgmt-resource",
    "azure-mgmt-resource-subscriptions",
    "azure-mgmt-authorization",
    "azure-storage-blob",
    "msal",
    "msal-extensions",
    "keyring",
    "platformdirs",
)


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str]:
    """pgflex-gui, Python and SDK versions (without importing Qt)."""
    out = {
        "pgflex-gui": _dist_version("pgflex-gui") or __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for name in _SDK_PACKAGES:
        out[name] = _dist_version(name) or "not installed"
    out["pyside6"] = _dist_version("PySide6-Essentials") or "not installed"
    return out


def _cmd_version(args: argparse.Namespace) -> int:
    info = versions()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
    return 0


def _doctor_report(timeout: float) -> dict[str, Any]:
    from pgflex_gui.keystore import probe_backend
    from pgflex_gui.settings import load_settings

    report: dict[str, Any] = {"versions": versions()}
    settings = load_settings()
    report["paths"] = {
        "config": str(paths.config_dir()),
        "logs": str(paths.log_dir()),
        "data": str(paths.data_dir()),
        "settings": str(paths.settings_path()),
    }
    info = probe_backend(timeout=timeout)
    report["keyring"] = {"backend": info.name, "secure": info.secure, "reason": info.reason}

    try:
        from pgflex_gui.azure.auth import persistent_cache_support
        from pgflex_gui.domain.cloud import resolve_cloud

        ok, why = persistent_cache_support()
        report["token_cache"] = {"persistent": ok, "reason": why}
        try:
            cloud = resolve_cloud(
                settings.cloud,
                arm_endpoint=settings.arm_endpoint,
                authority_host=settings.authority_host,
                ca_bundle=settings.ca_bundle,
                env=os.environ,
            )
            cloud_info: dict[str, Any] = {
                "cloud": cloud.name,
                "arm_endpoint": cloud.arm_endpoint,
                "authority_host": cloud.authority_host,
            }
        except Exception as exc:  # noqa: BLE001 - doctor reports, it does not fail
            cloud_info = {"cloud": settings.cloud, "error": str(exc)}
    except ImportError as exc:
        report["token_cache"] = {"persistent": False, "reason": f"azure-identity: {exc}"}
        cloud_info = {"cloud": settings.cloud}
    cloud_info["sign_in_method"] = settings.sign_in_method or "sandbox (none configured)"
    cloud_info["tenant_id"] = settings.tenant_id
    cloud_info["ca_bundle"] = settings.ca_bundle
    report["cloud"] = cloud_info

    try:
        tools_mod = importlib.import_module("pgflex_gui.postgres.tools")
    except ImportError:
        report["pg_tools"] = "pgflex_gui.postgres.tools is not available"
    else:
        try:
            found = tools_mod.discover(settings.pg_tool_paths)
            report["pg_tools"] = [
                {"tool": t.kind.value, "version": t.version, "path": str(t.path)} for t in found
            ]
        except Exception as exc:  # noqa: BLE001
            report["pg_tools"] = f"discovery failed: {exc}"
    return report


doctor_report = _doctor_report  # Help > Check this machine… shows the same checks


def _cmd_doctor(args: argparse.Namespace) -> int:
    report = _doctor_report(args.timeout)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0 if report["keyring"]["secure"] else 1
    v = report["versions"]
    print(f"pgflex-gui {v['pgflex-gui']} (Python {v['python']}, {v['platform']})")
    print(f"azure-identity {v['azure-identity']}, keyring {v['keyring']}")
    for name, where in report["paths"].items():
        print(f"  {name:<9} {where}")
    kr = report["keyring"]
    mark = "ok" if kr["secure"] else "WARNING"
    print(f"keyring: [{mark}] {kr['backend']}: {kr['reason']}")
    if not kr["secure"]:
        print("  secrets will be kept for the session only")
    tc = report["token_cache"]
    print(f"token cache: {'persistent' if tc['persistent'] else 'memory only'} ({tc['reason']})")
    for key, value in report["cloud"].items():
        print(f"  {key:<15} {value}")
    tools = report["pg_tools"]
    if isinstance(tools, str):
        print(f"PostgreSQL client tools: {tools}")
    elif not tools:
        print("PostgreSQL client tools: none found")
    else:
        print("PostgreSQL client tools:")
        for t in tools:
            print(f"  {t['tool']:<11} {t['version']:<7} {t['path']}")
    return 0 if kr["secure"] else 1


def _cmd_sandbox(rest: list[str]) -> int:
    try:
        sandbox_cli = importlib.import_module("pgflex_gui.sandbox.cli")
    except ImportError as exc:
        print(f"pgflex sandbox: the sandbox is not available ({exc})", file=sys.stderr)
        return NOT_IMPLEMENTED
    result = sandbox_cli.main(rest)
    return int(result or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgflex",
        description="pgflex-gui from the command line (no display needed).",
    )
    parser.add_argument("--debug", action="store_true", help="log debug messages to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("version", help="show the versions of pgflex-gui and its Azure SDKs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_version)

    p = sub.add_parser("doctor", help="check the keyring, token cache, cloud and PostgreSQL tools")
    p.add_argument("--json", action="store_true")
    p.add_argument("--timeout", type=float, default=5.0, help="keyring probe timeout (s)")
    p.set_defaults(func=_cmd_doctor)

    sub.add_parser(
        "sandbox", help="run the local sandbox (ARM, Azurite, PostgreSQL)", add_help=False
    )

    sub.add_parser(
        "restore",
        help="run a restore plan headless (pgflex restore --plan FILE [--sandbox DIR]); "
        "rerun the same command to resume",
        add_help=False,
    )

    sub.add_parser(
        "inventory",
        help="every server with its protection, backup type and newest recovery point "
        "(pgflex inventory [--sandbox DIR] [--json]); exit 0 all protected and recent, "
        "1 some unprotected or overdue, 2 listing failed",
        add_help=False,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # "sandbox" hands every following argument to the sandbox's own parser, untouched.
    debug = False
    while args_list[:1] == ["--debug"]:
        debug, args_list = True, args_list[1:]
    if args_list[:1] == ["sandbox"]:
        _configure_logging(debug)
        return _cmd_sandbox(args_list[1:])
    if args_list[:1] == ["restore"]:
        # The restore engine's own options (plan, journal, resume, sandbox, report).
        _configure_logging(debug)
        from pgflex_gui.restore_cli import main as restore_main

        return restore_main(args_list[1:])
    if args_list[:1] == ["inventory"]:
        _configure_logging(debug)
        from pgflex_gui.inventory_cli import main as inventory_main

        return inventory_main(args_list[1:])
    if debug:
        args_list.insert(0, "--debug")
    parser = _parser()
    args = parser.parse_args(args_list)
    _configure_logging(args.debug)
    return int(args.func(args))


def _configure_logging(debug: bool) -> None:
    from pgflex_gui.logs import RedactingFormatter, install_redaction

    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    install_redaction(handler)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
