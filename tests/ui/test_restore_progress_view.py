"""A running restore in the Jobs panel: one bar that never goes backwards, "estimating…" until
there is a rate, and the progress per database on double-click."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from pgflex_gui.domain.restore_progress import Created, CreatedKind, DbStage, ProgressTracker
from pgflex_gui.jobs.job import Progress
from pgflex_gui.ui.panels.jobs import JobsModel, JobsPanel, RunnerBridge
from tests.ui.fakes import SUB_A, FakeInventory


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def panel(qtbot: Any, tasks: Any, now: Any) -> tuple[JobsPanel, RunnerBridge]:
    widget = JobsPanel(tasks=tasks, inventory=FakeInventory(), subscriptions=lambda: [SUB_A],
                       now=now)  # fmt: skip
    qtbot.addWidget(widget)
    bridge = RunnerBridge()
    widget.connect_bridge(bridge, titles=lambda _j: "Restore into pg-new")
    widget.show()
    return widget, bridge


def _cell(panel: JobsPanel, column: int) -> str:
    model = panel.model
    return str(model.data(model.index(model.row_of("j1"), column)))


def _send(bridge: RunnerBridge, tracker: ProgressTracker, message: str) -> None:
    snap = tracker.snapshot()
    bridge.progress.emit("j1", Progress(100 * snap.fraction, 100, message, snap.eta_s, snap))


def test_running_restore_row_and_progress_per_database(qtbot: Any, panel: Any) -> None:
    widget, bridge = panel
    clock = Clock()
    tracker = ProgressTracker(clock)
    bridge.progress.emit("j1", Progress(0, None, "Azure restore job: InProgress"))
    assert _cell(widget, 3) == ""  # indeterminate, no restore detail yet
    tracker.databases({"sales": 4_000_000, "hr": 1_000_000})
    tracker.update("sales", stage=DbStage.DOWNLOAD, bytes_done=0)
    _send(bridge, tracker, "Downloading")
    assert _cell(widget, 3) == "estimating…"
    clock.t = 5
    tracker.update("hr", stage=DbStage.DONE)  # a small one finished first
    tracker.update("sales", bytes_done=400_000)
    _send(bridge, tracker, "sales: Download")
    row = widget.model.rows()[0]
    assert row.fraction is not None
    assert row.fraction < 0.5
    eta = _cell(widget, 3)
    assert eta.endswith("left")
    assert eta not in ("0 s left", "1 s left")
    high = row.fraction
    # A stage that reports no fraction (or a lower one) does not move the bar back.
    bridge.progress.emit("j1", Progress(0, None, "Creating the server"))
    assert widget.model.rows()[0].fraction == high
    tooltip = widget.model.data(widget.model.index(0, 2), Qt.ItemDataRole.ToolTipRole)
    assert "sales: Download, 0.4 MB of 4.0 MB" in tooltip
    assert "hr: Done" in tooltip

    rect = widget._local.visualRect(widget.model.index(0, JobsModel.PROGRESS_COLUMN))
    qtbot.mouseClick(widget._local.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialog = widget.progress_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.rows() == [("sales", "Download", "0.4 MB of 4.0 MB"), ("hr", "Done", "")]
    clock.t = 6
    tracker.update("sales", stage=DbStage.RESTORE, objects_done=12, objects_total=40)
    _send(bridge, tracker, "sales: restoring")
    assert dialog.rows()[0] == ("sales", "Restore", "12 of 40 objects")
    # The exact command line and the live output of one database, on demand.
    tracker.update("sales", command="/usr/bin/pg_restore -h h -p 5432 -U admin -d sales -w x.dump")
    tracker.output("sales", 'pg_restore: creating TABLE "public.orders"')
    _send(bridge, tracker, "sales: restoring")
    assert dialog.command.text() == ""  # nothing chosen yet
    dialog.table.selectRow(0)
    assert dialog.selected() == "sales"
    assert dialog.command.text().endswith("-d sales -w x.dump")
    assert dialog.output.toPlainText() == 'pg_restore: creating TABLE "public.orders"'
    tracker.output("sales", 'pg_restore: creating INDEX "public.orders_pkey"')
    _send(bridge, tracker, "sales: restoring")
    assert dialog.output.toPlainText().splitlines()[-1].endswith('"public.orders_pkey"')
    assert len(dialog.output.toPlainText().splitlines()) == 2
    assert dialog.bar.value() >= int(high * 1000)
    assert dialog.eta.text() == _cell(widget, 3)

    bridge.finished.emit("j1", None, None, False)
    assert widget.model.rows()[0].state == "Finished"
    assert _cell(widget, 3) == ""
    assert widget.model.data(widget.model.index(0, JobsModel.CANCEL_COLUMN)) == ""
    dialog.close()
    qtbot.waitUntil(lambda: widget.progress_dialog is None)


def test_cancel_asks_first_and_says_what_was_created(qtbot: Any, tasks: Any, now: Any) -> None:
    cancelled: list[str] = []
    widget = JobsPanel(tasks=tasks, inventory=FakeInventory(), subscriptions=lambda: [SUB_A],
                       cancel_job=cancelled.append, now=now)  # fmt: skip
    qtbot.addWidget(widget)
    bridge = RunnerBridge()
    widget.connect_bridge(bridge, titles=lambda _j: "Restore into pg-new")
    widget.show()
    tracker = ProgressTracker(Clock())
    tracker.databases({"sales": 10})
    _send(bridge, tracker, "Downloading")
    view = widget._local
    rect = view.visualRect(widget.model.index(0, JobsModel.CANCEL_COLUMN))

    def click_cancel() -> Any:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        box = widget.cancel_dialog
        assert box is not None
        qtbot.waitUntil(box.isVisible)
        return box

    box = click_cancel()
    assert box.text() == "Cancel Restore into pg-new?"
    assert "has not created anything yet" in box.informativeText()
    keep = next(b for b in box.buttons() if b.text() == "Keep it running")
    qtbot.mouseClick(keep, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.cancel_dialog is None)
    assert cancelled == []  # asked, and the user kept it running

    tracker.created(
        Created(CreatedKind.SERVER, "pg-new", "Server pg-new (new: this restore creates it)")
    )
    tracker.created(
        Created(
            CreatedKind.FILE, "/d/x_database_sales.sql", "Downloaded file /d/x_database_sales.sql"
        )
    )
    _send(bridge, tracker, "Creating the server")
    box = click_cancel()
    info = box.informativeText()
    assert "• Server pg-new (new: this restore creates it)" in info
    assert "• Downloaded file /d/x_database_sales.sql" in info
    assert "choose which of them to delete" in info
    stop = next(b for b in box.buttons() if b.text() == "Cancel the job")
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.cancel_dialog is None)
    assert cancelled == ["j1"]
