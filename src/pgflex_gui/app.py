"""Composition root: parse arguments, build every collaborator, hand them to the MainWindow.

Other modules are imported lazily and guarded, so the window still opens (showing a clear
message on the tree) while a piece is missing or fails to start.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QSettings, QTimer, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.ports import InventoryPort

__all__ = ["DeferredInventory", "UnavailableInventory", "build_parser", "run"]

log = logging.getLogger(__name__)

ORGANIZATION = "pgflex-gui"
APPLICATION = "pgflex-gui"
RESOURCES = Path(__file__).parent / "resources"
SMOKE_MS = 1500


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pgflex-gui", description=__doc__)
    parser.add_argument("--sandbox", action="store_true", help="use the local sandbox")
    parser.add_argument("--smoke", action="store_true", help="open, process events, exit 0")
    parser.add_argument("--arm-endpoint", metavar="URL", help="ARM endpoint override")
    parser.add_argument("--ca-bundle", metavar="FILE", help="PEM bundle for a private CA")
    parser.add_argument("--cloud", metavar="NAME", help="AzureCloud, AzureUSGovernment, …")
    parser.add_argument("--seed", metavar="NAME", default="default", help="sandbox seed data")
    parser.add_argument("--screenshot", metavar="PATH", help="save a PNG of the window, quit")
    return parser


# -- inventories used while the real one is missing or starting ----------------------------
class UnavailableInventory:
    """An InventoryPort whose every call raises ``error`` (shown as a Retry-able tree node)."""

    def __init__(self, error: AppError) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def fail(*_args: Any, **_kwargs: Any) -> Any:
            raise self.error

        return fail


class DeferredInventory:
    """Delegates to an inventory that is still being built (sandbox start, sign-in).

    Calls block on worker threads (never on the GUI thread) until ``future`` resolves.
    """

    def __init__(self, future: Future[InventoryPort], *, timeout_s: float = 180.0) -> None:
        self._future = future
        self._timeout = timeout_s

    def _target(self) -> InventoryPort:
        try:
            return self._future.result(timeout=self._timeout)
        except AppError:
            raise
        except Exception as exc:
            raise AppError(
                Fault.APP, "The inventory could not be started.", details=repr(exc)
            ) from exc

    def list_tenants(self) -> list[Any]:
        return self._target().list_tenants()

    def list_subscriptions(self, tenant_id: str) -> list[Any]:
        return self._target().list_subscriptions(tenant_id)

    def list_locations(self, subscription_id: str) -> list[Any]:
        return self._target().list_locations(subscription_id)

    def iter_servers(self, subscription_id: str) -> Iterator[list[Any]]:
        return self._target().iter_servers(subscription_id)

    def iter_vaults(self, subscription_id: str) -> Iterator[list[Any]]:
        return self._target().iter_vaults(subscription_id)

    def list_policies(self, vault_id: ResourceId) -> list[Any]:
        return self._target().list_policies(vault_id)

    def list_backup_instances(self, vault_id: ResourceId) -> list[Any]:
        return self._target().list_backup_instances(vault_id)

    def list_recovery_points(
        self,
        backup_instance_id: ResourceId,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Any]:
        return self._target().list_recovery_points(backup_instance_id, start=start, end=end)

    def list_jobs(self, vault_id: ResourceId) -> list[Any]:
        return self._target().list_jobs(vault_id)


# -- the pieces ------------------------------------------------------------------------------
@dataclass
class Composition:
    """Everything built for one run; ``close()`` undoes it in reverse order."""

    cloud: str = ""
    account: str = ""
    inventory: InventoryPort | None = None
    runner: Any = None
    sandbox: Any = None
    log_setup: Any = None
    keystore: Any = None
    about: dict[str, str] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:
                log.exception("Shutdown step failed")


def _setup_logging(comp: Composition) -> Any:
    try:
        from pgflex_gui.logs import setup_logging
    except ImportError:
        logging.basicConfig(level=logging.INFO)
        return None
    try:
        comp.log_setup = setup_logging()
        comp.closers.append(comp.log_setup.close)
    except Exception:
        logging.basicConfig(level=logging.INFO)
        log.exception("File logging could not be set up")
    return comp.log_setup


def _qt_message_handler(mode: Any, _context: Any, message: str) -> None:
    """Route Qt's own messages into logging (qutebrowser's qtlog)."""
    name = getattr(mode, "name", str(mode))
    level = {
        "QtDebugMsg": logging.DEBUG,
        "QtInfoMsg": logging.INFO,
        "QtWarningMsg": logging.WARNING,
    }.get(name, logging.ERROR)
    logging.getLogger("qt").log(level, "%s", message)


def _load_settings(args: argparse.Namespace) -> Any:
    try:
        from pgflex_gui.settings import load_settings

        settings = load_settings()
    except Exception:
        log.exception("Settings could not be loaded; using defaults")
        return None
    changes = {
        k: v
        for k, v in (
            ("cloud", args.cloud),
            ("arm_endpoint", args.arm_endpoint),
            ("ca_bundle", args.ca_bundle),
        )
        if v
    }
    return settings.replace(**changes) if changes and hasattr(settings, "replace") else settings


def _start_sandbox(comp: Composition, seed: str) -> InventoryPort:
    """Start the sandbox and an inventory over it, off the GUI thread."""
    future: Future[InventoryPort] = Future()

    def work() -> None:
        try:
            from pgflex_gui.azure.clients import ClientFactory
            from pgflex_gui.azure.inventory import AzureInventory
            from pgflex_gui.sandbox.runtime import Sandbox

            workdir = Path(os.environ.get("PGFLEX_SANDBOX_DIR", "")) or None
            sandbox = Sandbox.start(workdir, seed=seed)
            comp.sandbox = sandbox
            info = sandbox.info
            factory = (
                ClientFactory.for_sandbox(info)
                if hasattr(ClientFactory, "for_sandbox")
                else ClientFactory("Custom", None)
            )
            future.set_result(AzureInventory(factory))
        except ImportError as exc:
            future.set_exception(
                AppError(
                    Fault.APP,
                    "The sandbox is not available in this build.",
                    remedy="Sign in to Azure with File > Sign in…",
                    details=repr(exc),
                )
            )
        except Exception as exc:  # noqa: BLE001 - handed to the tree as a failed listing
            future.set_exception(exc)

    threading.Thread(target=work, name="sandbox-start", daemon=True).start()

    def stop() -> None:
        if comp.sandbox is not None:
            comp.sandbox.stop()

    comp.closers.append(stop)
    comp.cloud = "Sandbox"
    comp.account = f"sandbox ({seed})"
    return DeferredInventory(future)


def _azure_inventory(comp: Composition, settings: Any) -> InventoryPort:
    try:
        from pgflex_gui.azure.auth import build_credential, cloud_config
        from pgflex_gui.azure.clients import ClientFactory
        from pgflex_gui.azure.inventory import AzureInventory
        from pgflex_gui.keystore import Keystore

        cloud = cloud_config(
            settings.cloud,
            arm_endpoint=settings.arm_endpoint,
            authority_host=settings.authority_host,
        )
        comp.keystore = Keystore()
        credential = build_credential(
            settings.sign_in_method,
            cloud.authority_host,
            tenant_id=settings.tenant_id,
            client_id=settings.client_id,
            keystore=comp.keystore,
            ca_bundle=settings.ca_bundle,
        )
        comp.cloud = cloud.name
        comp.account = settings.client_id or settings.sign_in_method or ""
        return AzureInventory(ClientFactory(cloud, credential))
    except AppError as err:
        return UnavailableInventory(err)
    except Exception as exc:
        log.exception("Azure inventory could not be built")
        return UnavailableInventory(
            AppError(
                Fault.APP,
                "Azure access is not available in this build.",
                remedy="Use --sandbox, or update pgflex-gui.",
                details=repr(exc),
            )
        )


def _job_runner(comp: Composition) -> Any:
    try:
        from pgflex_gui.jobs.runner import JobRunner
    except ImportError:
        return None
    comp.runner = JobRunner()
    comp.closers.append(lambda: comp.runner.shutdown(cancel_running=True, wait=True))
    return comp.runner


def _probe_about(comp: Composition) -> None:
    """Keyring backend and pg tools take subprocesses: probe them on a worker thread."""

    def work() -> None:
        try:
            backend = comp.keystore.backend_name if comp.keystore is not None else None
            if backend is None:
                import keyring

                backend = type(keyring.get_keyring()).__name__
            comp.about["keyring backend"] = str(backend)
        except Exception as exc:  # noqa: BLE001 - About shows why
            comp.about["keyring backend"] = f"unavailable ({exc})"
        try:
            from pgflex_gui.postgres.tools import discover

            tools = discover()
            comp.about["pg tools"] = (
                ", ".join(f"{t.kind.value} {t.version} ({t.path})" for t in tools) or "none found"
            )
        except Exception as exc:  # noqa: BLE001 - About shows why
            comp.about["pg tools"] = f"unavailable ({exc})"

    comp.about.update({"keyring backend": "checking…", "pg tools": "checking…"})
    threading.Thread(target=work, name="about-probe", daemon=True).start()


def run(argv: Sequence[str] | None = None) -> int:
    """Build and run the app; returns the exit code."""
    args = build_parser().parse_args(argv)
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication([APPLICATION])
    app.setWindowIcon(QIcon(str(RESOURCES / "pgflex-gui.svg")))
    comp = Composition()
    _setup_logging(comp)
    qInstallMessageHandler(_qt_message_handler)

    # Imported here so a broken UI module still lets us log why.
    from pgflex_gui.ui.about import default_about_info
    from pgflex_gui.ui.errors import install_excepthooks
    from pgflex_gui.ui.main_window import MainWindow
    from pgflex_gui.ui.panels.jobs import RunnerBridge
    from pgflex_gui.ui.tasks import TaskManager

    settings = _load_settings(args)
    signed_in = settings is not None and getattr(settings, "sign_in_method", None)
    if args.sandbox or (not signed_in and not args.smoke and not args.screenshot):
        inventory = _start_sandbox(comp, args.seed)
    elif signed_in:
        inventory = _azure_inventory(comp, settings)
    else:
        inventory = UnavailableInventory(
            AppError(
                Fault.USER,
                "Not signed in to Azure.",
                remedy="Use File > Sign in…, or start with --sandbox.",
            )
        )
    tasks = TaskManager()
    comp.closers.append(lambda: tasks.shutdown(wait=True))
    runner = _job_runner(comp)
    bridge = RunnerBridge()
    if runner is not None:
        bridge.attach(runner)
    _probe_about(comp)

    def job_title(job_id: str) -> str:
        handle = runner.get(job_id) if runner is not None else None
        return getattr(getattr(handle, "job", None), "title", job_id[:8])

    def cancel_job(job_id: str) -> None:
        handle = runner.get(job_id) if runner is not None else None
        if handle is not None:
            handle.cancel()

    activity = getattr(getattr(comp.log_setup, "activity", None), "subscribe", None)
    window = MainWindow(
        inventory=inventory,
        tasks=tasks,
        settings=QSettings(),
        about_info=lambda: {**default_about_info(), **comp.about},
        cloud=comp.cloud or getattr(settings, "cloud", ""),
        account=comp.account,
        runner_bridge=bridge,
        job_titles=job_title,
        cancel_job=cancel_job,
        activity_source=activity,
        window_icon=QIcon(str(RESOURCES / "pgflex-gui.svg")),
    )
    restore_hooks = install_excepthooks(window.presenter)
    comp.closers.append(restore_hooks)
    window.show()
    window.start()
    if args.smoke:
        QTimer.singleShot(SMOKE_MS, window.close)
    if args.screenshot:

        def grab() -> None:
            window.grab().save(args.screenshot)
            window.close()

        QTimer.singleShot(SMOKE_MS * 2, grab)
    try:
        code = app.exec()
    finally:
        comp.close()
    log.info("pgflex-gui exited with %s", code)
    return int(code)
