"""A failed restore is visible where the DBA looks: the job row, a details view with the
reason and the fix, a desktop notification when the app is not in front, and the actions
that fit ("Retry with another read method", "Resume").

The restores are the real engine on the real JobRunner (hand-written fakes for Azure,
storage and PostgreSQL, as in the engine's unit tests); the bridge, the Jobs panel, the main
window, the details dialog and the workflow actions are the real widgets and classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.restore_outcome import RestoreFailed
from pgflex_gui.jobs.job import FunctionJob, JobContext
from pgflex_gui.jobs.journal import JournalStore
from pgflex_gui.jobs.restore import RestoreEngine, RestoreJob, plan_digest
from pgflex_gui.jobs.restore_plan_file import ContainerSpec, save_plan
from pgflex_gui.jobs.runner import JobRunner
from pgflex_gui.keystore import MemoryKeystore
from pgflex_gui.ui.main_window import MainWindow
from pgflex_gui.ui.notify import DesktopNotifier
from pgflex_gui.ui.panels.job_details import JobRequest
from pgflex_gui.ui.panels.jobs import JobsModel, RunnerBridge
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.workflows import PLAN_FILE_KEY, WorkflowActions, WorkflowServices
from tests.unit.jobs.test_restore_outcomes import DeniedListing
from tests.unit.test_restore_engine import (
    Events,
    FakeArm,
    FakeDownloader,
    FakePg,
    make_plan,
)

TITLE = "Restore into t"


@pytest.fixture
def calls() -> list[tuple[str, Any]]:
    return []


@pytest.fixture
def window(qtbot: Any, qsettings: Any, inventory: Any, tasks: TaskManager, now: Any, calls: list[tuple[str, Any]]) -> Any:  # fmt: skip
    handlers = {
        "resume-restore": lambda request: calls.append(("resume-restore", request)),
        "retry-restore": lambda request: calls.append(("retry-restore", request)),
    }
    win = MainWindow(inventory=inventory, tasks=tasks, settings=qsettings, now=now,
                     handlers=handlers)  # fmt: skip
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


@pytest.fixture
def runner(tmp_path: Path) -> Any:
    r = JobRunner(journals=JournalStore(tmp_path / "journals"))
    yield r
    r.shutdown()


def _engine(tmp_path: Path, *, denied: bool = False, fail: set[str] | None = None) -> RestoreEngine:
    ev = Events()
    downloader: Any = FakeDownloader(ev, {"a": 1, "b": 2, "c": 3})
    if denied:
        downloader = DeniedListing(downloader)
    pg = FakePg(ev)
    pg.fail = fail or set()
    return RestoreEngine(make_plan(tmp_path), arm=FakeArm(ev), downloader=downloader, pg=pg,
                         secrets=MemoryKeystore(), poll_s=0.01)  # fmt: skip


def _run(qtbot: Any, window: Any, runner: JobRunner, engine: RestoreEngine) -> tuple[str, Any]:
    bridge = RunnerBridge()
    unsubscribe = bridge.attach(runner)
    window.jobs.connect_bridge(bridge, lambda _job_id: TITLE)
    try:
        with qtbot.waitSignal(window.jobs.job_failed, timeout=20_000):
            handle = runner.submit(RestoreJob(engine, title=TITLE), "restore")
    finally:
        unsubscribe()
    model: JobsModel = window.jobs.model
    return handle.id, model.rows()[model.row_of(handle.id)]


def _click_cell(qtbot: Any, window: Any, row: int, column: int) -> None:
    view = window.jobs._local
    rect = view.visualRect(window.jobs.model.index(row, column))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_failed_download_shows_in_row_details_and_a_notification(qtbot: Any, window: Any, runner: JobRunner, tmp_path: Path, calls: list[tuple[str, Any]]) -> None:  # fmt: skip
    window.notifier._is_active = lambda: False  # the DBA is in another app
    window.bottom_tabs.setCurrentWidget(window.log_panel)
    with qtbot.waitSignal(window.notifier.notified, timeout=20_000) as note:
        job_id, row = _run(qtbot, window, runner, _engine(tmp_path, denied=True))
    # The row says what happened, not the last progress line.
    assert row.state == "Failed"
    assert row.message.startswith("Failed at the download: Access to the container was refused")
    assert "Azure restore job" not in row.message
    model = window.jobs.model
    i = model.row_of(job_id)
    assert model.index(i, JobsModel.PROGRESS_COLUMN).data() == row.message
    assert model.index(i, JobsModel.CANCEL_COLUMN).data() == "Details…"
    assert "Double-click" in model.index(i, 0).data(Qt.ItemDataRole.ToolTipRole)
    # The Jobs tab came to the front with the row selected; the desktop was told.
    assert window.bottom_tabs.currentWidget() is window.jobs
    assert window.jobs._local.currentIndex().row() == i
    assert note.args[0] == f"{TITLE}: Failed"
    assert "Failed at the download" in note.args[1]
    # Details: the reason, the fix and the actions that fit a failed download.
    _click_cell(qtbot, window, i, JobsModel.CANCEL_COLUMN)
    dialog = window.jobs.details_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.headline.text() == "Failed at the download"
    assert "Invalid token audience" in dialog.reason.text()
    assert "read method" in dialog.remedy.text()
    assert "AuthenticationFailed" in dialog.report.toPlainText()
    assert dialog.retry.isVisible()
    assert dialog.resume.isVisible()
    dialog.read_method.setCurrentIndex(dialog.read_method.findData("entra"))
    qtbot.mouseClick(dialog.retry, Qt.MouseButton.LeftButton)
    assert calls == [("retry-restore", JobRequest(job_id, "entra"))]
    qtbot.waitUntil(lambda: window.jobs.details_dialog is None)


def test_partly_failed_names_databases_and_offers_resume_only(qtbot: Any, window: Any, runner: JobRunner, tmp_path: Path, calls: list[tuple[str, Any]]) -> None:  # fmt: skip
    window.notifier._is_active = lambda: True  # in front: no desktop notification
    with qtbot.assertNotEmitted(window.notifier.notified):
        job_id, row = _run(qtbot, window, runner, _engine(tmp_path, fail={"a"}))
    assert row.state == "Partly failed"
    assert "Partly failed: 1 of 3 databases not restored (a)" in row.message
    assert isinstance(row.error, RestoreFailed)
    window.jobs._local.doubleClicked.emit(window.jobs.model.index(window.jobs.model.row_of(job_id), 0))  # fmt: skip
    dialog = window.jobs.details_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    assert "Not restored: a" in dialog.databases.text()
    assert "Restored: c, b" in dialog.databases.text()
    assert not dialog.retry.isVisible()  # reading the files worked
    qtbot.mouseClick(dialog.resume, Qt.MouseButton.LeftButton)
    assert calls == [("resume-restore", JobRequest(job_id))]


def test_notifier_without_a_tray_alerts_quietly(qtbot: Any, qapp: Any) -> None:
    from PySide6.QtWidgets import QWidget

    host = QWidget()
    qtbot.addWidget(host)
    notifier = DesktopNotifier(host, is_active=lambda: False)
    with qtbot.waitSignal(notifier.notified) as blocker:
        assert notifier.notify("Restore into t: Failed", "Failed at the download")
    assert blocker.args == ["Restore into t: Failed", "Failed at the download"]
    assert notifier.tray is None  # offscreen has no tray: no icon, no warning
    assert not DesktopNotifier(host, is_active=lambda: True).notify("x", "y")
    notifier.close()


def test_retry_resubmits_the_same_journal_with_the_new_read_method(qtbot: Any, inline_tasks: TaskManager, runner: JobRunner, tmp_path: Path) -> None:  # fmt: skip
    plan = make_plan(
        tmp_path, container=ContainerSpec(url="https://a.blob.core.windows.net/r",
                                          arm_id="/subscriptions/s/resourceGroups/g/providers/"
                                          "Microsoft.Storage/storageAccounts/a/blobServices/"
                                          "default/containers/r", sas_entry="sas:x",
                                          read_access="sas"),
    )  # fmt: skip
    plan_path = tmp_path / "p.plan.json"
    save_plan(plan, plan_path)

    def failing(ctx: JobContext) -> None:
        ctx.journal.checkpoint(PLAN_FILE_KEY, str(plan_path))
        raise AppError(Fault.PERMISSION, "refused")

    handle = runner.submit(FunctionJob(failing, title=TITLE, kind="restore"), "restore")
    handle.future.result(timeout=10)
    assert handle.error is not None
    started: list[tuple[Any, str]] = []

    def start_restore(p: Any, job_id: str | None = None) -> str:
        started.append((p, str(job_id)))
        return str(job_id)

    services = WorkflowServices(None, None, None, None, start_restore)
    wf = WorkflowActions(services=lambda: services, runner=runner, tasks=inline_tasks,
                         parent=lambda: None)  # fmt: skip
    try:
        wf.retry_restore(JobRequest(handle.id, "account-key"))
        wf.resume_restore(JobRequest(handle.id))
        with pytest.raises(AppError, match="plan is not known"):
            wf.resume_restore(JobRequest("no-such-job"))
    finally:
        wf.close()
    (retry, retry_id), (resume, resume_id) = started
    assert retry_id == resume_id == handle.id
    assert retry.container.read_access == "account-key"
    assert retry.container.sas_entry == ""
    assert resume == plan
    # The same restore: its journal (Azure job done, databases restored) is resumed.
    assert plan_digest(retry) == plan_digest(plan)
