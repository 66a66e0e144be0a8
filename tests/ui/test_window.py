"""The main window, its panels, the error presenter, responsiveness and --smoke."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.jobs.job import FunctionJob, JobContext, Progress
from pgflex_gui.jobs.runner import JobRunner
from pgflex_gui.ui.about import default_about_info
from pgflex_gui.ui.main_window import MainWindow, portal_url
from pgflex_gui.ui.panels.jobs import RunnerBridge
from pgflex_gui.ui.tree.nodes import NodeKind
from pgflex_gui.ui.tree.view import NodeAction, QuickFilter
from tests.ui.fakes import FakeInventory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def window(qtbot, qsettings, inventory, tasks, now):
    opened: list[str] = []
    win = MainWindow(
        inventory=inventory,
        tasks=tasks,
        settings=qsettings,
        about_info=lambda: {"Qt": "6.x", "PySide6": "6.x", "azure-core": "1.0"},
        cloud="AzureCloud",
        account="dba@contoso.com",
        open_url=opened.append,
        now=now,
    )
    win.opened = opened  # type: ignore[attr-defined]
    qtbot.addWidget(win)
    win.show()
    win.start()
    qtbot.waitUntil(lambda: len(win.model.servers()) == 6, timeout=10_000)
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)
    yield win
    win.close()


def test_window_opens_with_status_bar_and_tree(window):
    assert "AzureCloud" in window.account_label.text()
    assert "dba@contoso.com" in window.account_label.text()
    assert window.width() >= 1000
    assert window.coverage.coverage.by_subscription["Production"]
    assert window.coverage.coverage.stale == ["pg-stale"]
    assert window.coverage.coverage.overdue["Production"] == 1  # not counted as green


def test_about_lists_versions(window, qtbot):
    about = window.show_about()
    qtbot.addWidget(about)
    assert about.info["Qt"] == "6.x"
    assert "azure-core" in about.text()
    info = default_about_info()
    assert {"Qt", "PySide6", "azure-core", "azure-mgmt-dataprotection"} <= set(info)


def test_selecting_a_server_shows_details(window):
    node = next(n for n in window.model.servers() if n.label == "pg-billing")
    window.tree.setCurrentIndex(window.proxy.mapFromSource(window.model.index_of(node)))
    rows = dict(window.details.rows())
    assert window.details.title() == "Server pg-billing"
    assert rows["PostgreSQL version"] == "15"
    assert rows["Storage"].startswith("6 TB — above the 4 TB")
    assert rows["Protection"] == "Protected (vault-weu)"


def test_quick_filter_buttons(window):
    window.quick_buttons[QuickFilter.UNPROTECTED].click()
    assert window.proxy.quick is QuickFilter.UNPROTECTED
    window.search.setText("pg-dev")
    window.quick_buttons[QuickFilter.ALL].click()
    assert window.proxy.quick is QuickFilter.ALL


def test_context_actions_without_handler_say_coming_soon(window):
    node = window.model.servers()[0]
    window._on_tree_action_requested(NodeAction.CONFIGURE_BACKUP.value, node)
    assert window.toast.isVisible()
    assert "coming soon" in window.toast.summary()
    assert [a for a, _ in window.tree.actions_for(node)][:3] == [
        NodeAction.CONFIGURE_BACKUP,
        NodeAction.BACKUP_NOW,
        NodeAction.RESTORE,
    ]


def test_context_actions_call_injected_handlers(qtbot, qsettings, inventory, inline_tasks):
    seen = []
    win = MainWindow(
        inventory=inventory,
        tasks=inline_tasks,
        settings=qsettings,
        handlers={NodeAction.RESTORE.value: seen.append},
    )
    qtbot.addWidget(win)
    win._dispatch(NodeAction.RESTORE.value, None)
    assert seen == [None]
    win.close()


def test_open_in_portal(window):
    node = next(n for n in window.model.servers() if n.label == "pg-orders")
    window._on_tree_action_requested(NodeAction.OPEN_PORTAL.value, node)
    assert window.opened == [portal_url(node)]
    assert window.opened[0].startswith("https://portal.azure.com/#@")
    assert window.opened[0].endswith("/flexibleServers/pg-orders")


def test_error_presenter_is_non_modal_with_details_and_copy(window, qtbot):
    error = AppError(
        Fault.PERMISSION,
        "The vault cannot read the server.",
        remedy="Assign the Reader role.",
        azure_code="UserErrorMSIMissingPermissions",
    )
    with qtbot.waitSignal(window.presenter.error_shown):
        window.presenter.show_error(error)
    assert window.toast.isVisible()
    assert QGuiApplication.focusWindow() is None or not window.toast.isModal()
    assert "UserErrorMSIMissingPermissions" in window.toast.report()
    window.toast.copy_report()
    assert "Assign the Reader role." in QGuiApplication.clipboard().text()


def test_errors_from_threads_reach_the_presenter(window, qtbot):
    with qtbot.waitSignal(window.presenter.error_shown) as blocker:
        threading.Thread(target=window.presenter.show_error, args=(ValueError("boom"),)).start()
    assert blocker.args[0].fault is Fault.APP
    assert "boom" in blocker.args[0].details


def test_log_panel_shows_records_from_threads(window, qtbot):
    logger = logging.getLogger("pgflex_gui.test")
    t = threading.Thread(target=logger.warning, args=("vault %s unreachable", "v1"))
    t.start()
    t.join()
    qtbot.waitUntil(lambda: "vault v1 unreachable" in window.log_panel.text(), timeout=5000)
    window.log_panel.set_level(logging.ERROR)
    assert "vault v1 unreachable" not in window.log_panel.text()


def test_refresh_f5_keeps_the_tree(window, qtbot, tasks):
    group = next(n for n in window.model.root.walk() if n.kind is NodeKind.SERVERS_GROUP)
    window.tree.setCurrentIndex(window.proxy.mapFromSource(window.model.index_of(group)))
    window.refresh_action.trigger()
    qtbot.waitUntil(lambda: tasks.pending == 0 and len(window.model.servers()) == 6, timeout=10_000)


def test_window_state_is_saved(window, qsettings):
    window.save_state()
    assert qsettings.value("main/geometry") is not None


def test_gui_stays_responsive_while_a_2s_task_and_job_run(qtbot, tasks, qapp):
    runner = JobRunner()
    bridge = RunnerBridge()
    bridge.attach(runner)
    gaps: list[float] = []
    last = [time.monotonic()]

    def tick() -> None:
        t = time.monotonic()
        gaps.append(t - last[0])
        last[0] = t

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)

    def slow_job(ctx: JobContext) -> str:
        for i in range(20):
            ctx.token.wait(0.1)
            ctx.report(Progress(i + 1, 20, "working"))
        return "done"

    try:
        timer.start()
        last[0] = time.monotonic()
        with qtbot.waitSignals([tasks.idle, bridge.finished], timeout=10_000):
            tasks.task(threading.Event().wait, 2.0).start()
            runner.submit(FunctionJob(slow_job, title="slow"), "transfer")
        timer.stop()
    finally:
        runner.shutdown()
    assert len(gaps) > 50
    assert max(gaps) < 0.1, f"the GUI thread stalled for {max(gaps) * 1000:.0f} ms"


def test_jobs_panel_follows_the_runner(qtbot, window, qapp):
    runner = JobRunner()
    bridge = RunnerBridge()
    bridge.attach(runner)
    window.jobs.connect_bridge(bridge, lambda job_id: "Download dump")

    def job(ctx: JobContext) -> None:
        ctx.report(Progress(5, 10, "half"))

    try:
        with qtbot.waitSignal(bridge.finished, timeout=5000):
            handle = runner.submit(FunctionJob(job, title="Download dump"), "transfer")
    finally:
        runner.shutdown()
    row = window.jobs.model.rows()[window.jobs.model.row_of(handle.id)]
    assert row.title == "Download dump"
    assert row.state == "Finished"


def test_azure_jobs_tab(qtbot, window, tasks):
    window.jobs.azure_filter.now = lambda: window.model._now()
    window.jobs.refresh_azure_jobs()
    qtbot.waitUntil(lambda: window.jobs.azure_model.rowCount() == 4, timeout=5000)
    window.jobs.azure_filter.set_filter(status="failed", max_age=None)
    assert window.jobs.azure_filter.rowCount() == 2


def test_smoke_exits_zero(tmp_path):
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path),
        XDG_DATA_HOME=str(tmp_path),
        XDG_STATE_HOME=str(tmp_path),
        XDG_CACHE_HOME=str(tmp_path),
        HOME=str(tmp_path),
    )
    out = subprocess.run(
        [sys.executable, "-m", "pgflex_gui", "--smoke"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]


def test_recovery_point_details_give_local_and_utc_time(window, qtbot, tasks):
    instance = next(n for n in window.model.root.walk() if n.kind is NodeKind.VAULTS_GROUP)
    window.tree.expand(window.proxy.mapFromSource(window.model.index_of(instance)))
    for kind in (NodeKind.VAULT, NodeKind.INSTANCES_GROUP, NodeKind.BACKUP_INSTANCE):
        qtbot.waitUntil(
            lambda kind=kind: any(n.kind is kind for n in window.model.root.walk()), timeout=5000
        )
        node = next(n for n in window.model.root.walk() if n.kind is kind)
        window.tree.expand(window.proxy.mapFromSource(window.model.index_of(node)))
    qtbot.waitUntil(
        lambda: any(n.kind is NodeKind.RECOVERY_POINT for n in window.model.root.walk()),
        timeout=5000,
    )
    point = next(n for n in window.model.root.walk() if n.kind is NodeKind.RECOVERY_POINT)
    window.tree.setCurrentIndex(window.proxy.mapFromSource(window.model.index_of(point)))
    rows = dict(window.details.rows())
    assert rows["Time (UTC)"].endswith(" UTC")
    assert rows["Time (UTC)"].startswith(point.ref.time.strftime("%Y-%m-%d %H:%M:%S"))
    assert rows["Time (local)"].startswith(point.ref.time.astimezone().strftime("%Y-%m-%d %H:%M"))


def test_empty_tree_and_details_say_what_to_do(qtbot, qsettings, tasks):
    inventory = FakeInventory(delay=5.0)
    win = MainWindow(inventory=inventory, tasks=tasks, settings=qsettings)
    qtbot.addWidget(win)
    win.show()
    win.start()
    assert win.tree_note.isVisible()
    assert "listing tenants" in win.tree_note.text()
    assert "Right-click a server" in win.details._hint.text()
    inventory.release()
    qtbot.waitUntil(lambda: not win.tree_note.isVisible(), timeout=10_000)
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)
    win.close()


def test_azure_job_details_follow_auto_refresh(window, qtbot):
    job = window.jobs.azure_model  # jobs come from the fake: two per vault
    window.jobs.refresh_azure_jobs()
    qtbot.waitUntil(lambda: job.rowCount() == 4, timeout=5000)
    failed = next(j for j in job.jobs() if j.status == "Failed")
    window.jobs.job_selected.emit(failed)
    rows = window.details.rows()
    assert ("Error", "UserErrorMSIMissingPermissions: The vault identity lacks a role.") in rows
    assert any(label == "What it means" for label, _ in rows)
    window.jobs.job_updated.emit(failed)  # same job read again: still shown
    assert window.details.title() == f"Backup job {failed.job_id}"
