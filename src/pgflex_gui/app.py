"""Composition root: parse arguments, build every collaborator, hand them to the MainWindow.

Its helpers sit beside it: ``composition`` (what one run is made of and how it shuts down),
``backends`` (the sandbox or Azure, their services, restore jobs and their resume),
``session_actions`` (sign in, sign out, settings) and ``showcase`` (``--screenshot``). The
modules behind them are imported lazily and guarded, so the window still opens (showing a
clear message on the tree) while a piece is missing or fails to start.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QSettings, QTimer, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from pgflex_gui.backends import (
    cloud_overrides,
    connect,
    job_runner,
    probe_about,
    session_services,
    start_azure,
    start_sandbox,
)
from pgflex_gui.composition import Composition, SettingsHolder
from pgflex_gui.domain.ports import InventoryPort
from pgflex_gui.session_actions import SessionActions
from pgflex_gui.showcase import screenshot_when_loaded
from pgflex_gui.termination import signal_name

__all__ = ["build_parser", "run"]

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


def _setup_logging(comp: Composition) -> Any:
    try:
        from pgflex_gui.logs import setup_logging
    except ImportError:
        logging.basicConfig(level=logging.INFO)
        return None
    try:
        comp.log_setup = setup_logging()
        comp.closers.append(comp.log_setup.close)
        from pgflex_gui.logs import AuditLog

        comp.audit = AuditLog()
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


def _startup_probe(window: Any, out: Path) -> None:
    """For ``benchmarks/startup.py``: wall-clock times of the first event-loop turn after the
    window is shown and of the first rows in the tree, appended to ``out``; then quit."""

    def mark(event: str) -> None:
        with out.open("a", encoding="utf-8") as fh:
            fh.write(f"{event} {time.time():.6f}\n")

    QTimer.singleShot(0, lambda: mark("window"))
    seen: list[bool] = []

    def on_rows(parent: Any, _first: int, _last: int) -> None:
        if seen or parent.isValid():
            return
        seen.append(True)
        mark("first_rows")
        QTimer.singleShot(0, window.close)

    window.model.rowsInserted.connect(on_rows)


def _load_settings() -> Any:
    """The saved settings (command-line overrides are applied when resolving the cloud)."""
    try:
        from pgflex_gui.settings import Settings, load_settings
    except ImportError:
        log.exception("Settings are not available")
        return None
    try:
        return load_settings()
    except Exception:
        log.exception("Settings could not be loaded; using defaults")
        return Settings()


def run(argv: Sequence[str] | None = None) -> int:
    """Build and run the app; returns the exit code."""
    args = build_parser().parse_args(argv)
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([APPLICATION])
    app.setWindowIcon(QIcon(str(RESOURCES / "pgflex-gui.svg")))
    comp = Composition()
    _setup_logging(comp)
    qInstallMessageHandler(_qt_message_handler)
    # First, so that a logout, shutdown or `timeout` during start-up also shuts down cleanly.
    from pgflex_gui.ui.termination import TerminationWatcher

    watcher = TerminationWatcher()
    comp.closers.insert(0, watcher.close)  # closers run in reverse: this one last
    watcher.terminated.connect(lambda _signum: app.quit())

    # Imported here so a broken UI module still lets us log why.
    from pgflex_gui.ui.about import default_about_info
    from pgflex_gui.ui.errors import install_excepthooks
    from pgflex_gui.ui.main_window import MainWindow
    from pgflex_gui.ui.panels.jobs import RunnerBridge
    from pgflex_gui.ui.session import KeystoreProvider, SessionController, SwitchableInventory
    from pgflex_gui.ui.tasks import TaskManager

    holder = SettingsHolder(_load_settings())
    comp.subscription_filter = lambda: getattr(holder.get(), "subscription_filter", ())
    comp.pg_tool_paths = lambda: dict(getattr(holder.get(), "pg_tool_paths", {}) or {})
    settings = holder.get()
    tasks = TaskManager()
    comp.tasks = tasks
    keystores = KeystoreProvider()
    comp.keystore = keystores
    session = SessionController(
        tasks=tasks,
        keystores=keystores,
        connect=connect(comp),
        load_settings=holder.get,
        save_settings=holder.save,
        overrides=cloud_overrides(args),
    )
    signed_in = settings is not None and getattr(settings, "sign_in_method", None)
    if args.sandbox or (not signed_in and not args.smoke and not args.screenshot):
        start_inventory: InventoryPort | None = start_sandbox(comp, args.seed, session, keystores)
    elif signed_in:
        start_inventory = start_azure(comp, args, settings, session, keystores)
    else:
        start_inventory = None  # "Not signed in" until File > Sign in…
    inventory = SwitchableInventory(start_inventory)
    runner = job_runner(comp)
    bridge = RunnerBridge()
    if runner is not None:
        comp.closers.append(bridge.attach(runner))
    probe_about(comp)

    def job_title(job_id: str) -> str:
        handle = runner.get(job_id) if runner is not None else None
        return getattr(getattr(handle, "job", None), "title", job_id[:8])

    def job_resources(job_id: str) -> list[str]:
        handle = runner.get(job_id) if runner is not None else None
        return touched_resources(getattr(handle, "job", None))

    def cancel_job(job_id: str) -> None:
        handle = runner.get(job_id) if runner is not None else None
        if handle is not None:
            handle.cancel()

    activity = getattr(getattr(comp.log_setup, "activity", None), "subscribe", None)
    qsettings = QSettings()
    from pgflex_gui.cli import doctor_report
    from pgflex_gui.ui.tree.follow import touched_resources
    from pgflex_gui.ui.workflows import WorkflowActions

    workflows = WorkflowActions(
        services=lambda: session_services(inventory),
        runner=runner,
        tasks=tasks,
        parent=lambda: window,
    )
    comp.closers.append(workflows.close)  # open wizards closed, runner listeners dropped
    actions = SessionActions(
        session=session,
        holder=holder,
        tasks=tasks,
        keystores=keystores,
        inventory=inventory,
        memory=qsettings,
    )
    window = MainWindow(
        inventory=inventory,
        tasks=tasks,
        settings=qsettings,
        about_info=lambda: {**default_about_info(), **comp.about},
        cloud=comp.cloud or getattr(settings, "cloud", ""),
        account=comp.account,
        handlers={**actions.handlers(), **workflows.handlers()},
        runner_bridge=bridge,
        job_titles=job_title,
        job_resources=job_resources,
        doctor=lambda: doctor_report(5.0),
        cancel_job=cancel_job,
        read_secret=lambda entry: keystores.get().get(entry),  # on a worker (the result view)
        activity_source=activity,
        window_icon=QIcon(str(RESOURCES / "pgflex-gui.svg")),
    )
    actions.attach(window)
    restore_hooks = install_excepthooks(window.presenter)
    comp.closers.append(restore_hooks)
    watcher.terminated.connect(lambda _signum: window.close())
    window.show()
    window.start()
    QTimer.singleShot(0, comp.run_after_show)
    probe = os.environ.get("PGFLEX_STARTUP_PROBE", "")
    if probe:
        _startup_probe(window, Path(probe))
    if args.smoke:
        QTimer.singleShot(SMOKE_MS, window.close)
    if args.screenshot:
        screenshot_when_loaded(window, tasks, args.screenshot)
    try:
        code = app.exec()
    finally:
        comp.close()
    if watcher.received:
        log.info("pgflex-gui stopped by %s", signal_name(watcher.received[0]))
    log.info("pgflex-gui exited with %s", code)
    return int(code)
