"""The Jobs panel: this app's jobs (from the JobRunner) and Azure Backup jobs across vaults."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.models import BackupJob
from pgflex_gui.domain.ports import InventoryPort
from pgflex_gui.domain.restore_outcome import RestoreOutcome
from pgflex_gui.domain.restore_progress import Created, RestoreProgress, eta_words
from pgflex_gui.domain.restore_summary import RestoreSummary
from pgflex_gui.ui.describe import duration_words, operation_words
from pgflex_gui.ui.panels.job_details import (
    CleanupOfferDialog,
    JobDetailsDialog,
    JobProgressDialog,
    JobRequest,
    outcome_of,
)
from pgflex_gui.ui.panels.restore_result import RestoreResultDialog
from pgflex_gui.ui.tasks import TaskManager

__all__ = [
    "AzureJobsModel",
    "AzureJobsResult",
    "HintTableView",
    "JobRow",
    "JobsModel",
    "JobsPanel",
    "RunnerBridge",
]

log = logging.getLogger(__name__)
AnyIndex = QModelIndex | QPersistentModelIndex
AUTO_REFRESH_MS = 5000  # while any Azure job is in progress


@dataclass(frozen=True)
class AzureJobsResult:
    """Jobs of every readable vault, and the vaults or subscriptions that could not be read."""

    jobs: list[BackupJob]
    vaults: int = 0
    unreadable: tuple[str, ...] = ()


class RunnerBridge(QObject):
    """Hops JobRunner listener calls (worker threads) onto the GUI thread.

    Signals:
        progress(str, object): job id, jobs.job.Progress.
        finished(str, object, object, bool): job id, result, AppError or None, cancelled.
    """

    progress = Signal(str, object)
    finished = Signal(str, object, object, bool)

    def attach(self, runner: Any) -> Callable[[], None]:
        """Subscribe to ``runner`` (a jobs.runner.JobRunner); returns the unsubscribe call."""
        unsubscribe: Callable[[], None] = runner.subscribe(
            on_progress=self._on_progress, on_finished=self._on_finished
        )
        return unsubscribe

    def _on_progress(self, job_id: str, progress: object) -> None:
        try:
            self.progress.emit(job_id, progress)
        except RuntimeError:
            pass

    def _on_finished(self, job_id: str, result: object, error: object, cancelled: bool) -> None:
        try:
            self.finished.emit(job_id, result, error, cancelled)
        except RuntimeError:
            pass


@dataclass
class JobRow:
    job_id: str
    title: str
    state: str = "Queued"
    fraction: float | None = None
    message: str = ""
    eta_s: float | None = None
    started: float = field(default_factory=time.monotonic)
    error: AppError | None = None
    outcome: RestoreOutcome | None = None  # a restore's, when it ended
    detail: RestoreProgress | None = None  # a restore's stages per database, while it runs
    summary: RestoreSummary | None = None  # a finished restore's result (for the result view)

    @property
    def active(self) -> bool:
        return self.state in ("Queued", "Running")

    @property
    def failed(self) -> bool:
        return self.state in ("Failed", "Partly failed")


def _eta_words(row: JobRow) -> str:
    """The time left: "estimating…" while a measurable job has no rate yet."""
    measurable = row.detail is not None or row.fraction is not None
    return eta_words(row.eta_s, running=row.active and measurable)


def cancel_words(row: JobRow) -> str:
    """What a cancel stops and what it leaves, for the confirmation."""
    created = row.detail.created if row.detail is not None else ()
    if row.detail is None:
        return "The job stops at its next step."
    if not created:
        return "The restore stops at its next step. It has not created anything yet."
    items = "\n".join(f"• {c}" for c in created)
    return (
        "The restore stops at its next step. So far it has created:\n"
        f"{items}\n\nCancelling keeps them for now; once it has stopped you can choose which of "
        "them to delete. Nothing else is touched."
    )


def database_lines(detail: RestoreProgress) -> list[str]:
    """One line per database: name, stage, what of it is done."""
    lines = []
    for db in detail.databases:
        done = db.done_words()
        lines.append(f"{db.name}: {db.stage.value}" + (f", {done}" if done else ""))
    return lines


class JobsModel(QAbstractTableModel):
    """Rows for this app's jobs. Columns: Job, State, Progress, ETA, (cancel)."""

    HEADERS = ("Job", "State", "Progress", "Time left", "")
    PROGRESS_COLUMN = 2
    CANCEL_COLUMN = 4

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[JobRow] = []

    def rows(self) -> list[JobRow]:
        return list(self._rows)

    def row_of(self, job_id: str) -> int:
        for i, row in enumerate(self._rows):
            if row.job_id == job_id:
                return i
        return -1

    def add_job(self, job_id: str, title: str) -> None:
        if self.row_of(job_id) >= 0:
            return
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
        self._rows.append(JobRow(job_id, title))
        self.endInsertRows()

    def update_progress(self, job_id: str, progress: Any) -> None:
        i = self.row_of(job_id)
        if i < 0:
            self.add_job(job_id, job_id[:8])
            i = self.row_of(job_id)
        row = self._rows[i]
        fraction = getattr(progress, "fraction", None)
        detail = getattr(progress, "detail", None)
        if not isinstance(detail, RestoreProgress):
            detail = None
        if row.detail is not None or detail is not None:
            # A restore's one bar never goes backwards, whatever stage reports next.
            fraction = max(row.fraction or 0.0, fraction or 0.0)
        self._rows[i] = replace(
            row,
            state="Running",
            fraction=fraction,
            message=str(getattr(progress, "message", "") or ""),
            eta_s=getattr(progress, "eta_s", None),
            detail=detail or row.detail,
        )
        self._emit_row(i)

    def finish(
        self, job_id: str, error: AppError | None, *, cancelled: bool, result: object = None
    ) -> None:
        """End a row; its text says how the job ended (never the last progress line)."""
        i = self.row_of(job_id)
        if i < 0:
            return
        row = self._rows[i]
        outcome = outcome_of(error)
        if outcome is None and isinstance(getattr(result, "outcome", None), RestoreOutcome):
            outcome = result.outcome  # type: ignore[attr-defined]
        if cancelled:
            state, message = "Cancelled", "Cancelled"
        elif outcome is not None:
            state = "Finished" if outcome.ok else outcome.state_word
            message = outcome.headline
            if not outcome.ok and outcome.reason:
                message = f"{outcome.headline}: {outcome.reason}"
        elif error is not None:
            state, message = "Failed", f"Failed: {error.summary}"
        else:
            state, message = "Finished", row.message or "Finished"
        fraction = 1.0 if state == "Finished" else row.fraction
        self._rows[i] = replace(
            row,
            state=state,
            error=error,
            fraction=fraction,
            eta_s=None,
            message=message,
            outcome=outcome,
            summary=result if isinstance(result, RestoreSummary) else None,
        )
        self._emit_row(i)

    def _emit_row(self, i: int) -> None:
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(self.HEADERS) - 1))

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section] if 0 <= section < len(self.HEADERS) else None
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        try:
            if not index.isValid() or index.row() >= len(self._rows):
                return None
            row = self._rows[index.row()]
            col = index.column()
            if role == Qt.ItemDataRole.DisplayRole:
                action = "Cancel" if row.active else ("Details…" if row.failed else "")
                return (
                    row.title,
                    row.state,
                    row.message,
                    _eta_words(row),
                    action,
                )[col]
            if role == Qt.ItemDataRole.UserRole:
                return row
            if role == Qt.ItemDataRole.ToolTipRole and row.error is not None:
                return f"{row.error.report()}\n\nDouble-click for the details and what to do."
            if role == Qt.ItemDataRole.ToolTipRole and row.detail is not None and row.active:
                lines = database_lines(row.detail)
                return "\n".join([*lines, "", "Click the bar for the progress per database."])
            if role == Qt.ItemDataRole.ForegroundRole and col in (1, self.CANCEL_COLUMN):
                return QColor(
                    {
                        "Failed": "#c0392b",
                        "Partly failed": "#c0392b",
                        "Finished": "#2e8b57",
                        "Cancelled": "#808080",
                    }.get(row.state, "#2f7fc1")
                )
        except Exception:
            log.exception("JobsModel.data failed")
        return None


class ProgressDelegate(QStyledItemDelegate):
    """Draws a progress bar from the row's fraction (busy bar while indeterminate)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        row = index.data(Qt.ItemDataRole.UserRole)
        if not isinstance(row, JobRow):
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = QRect(option.rect.adjusted(2, 3, -2, -3))
        bar.minimum = 0
        bar.maximum = 1000
        bar.progress = int((row.fraction or 0.0) * 1000)
        text = row.message or (
            f"{(row.fraction or 0) * 100:.0f} %" if row.fraction is not None else ""
        )
        # One line, cut with "…" (the whole text is in the tooltip and the details).
        bar.text = option.fontMetrics.elidedText(
            text, Qt.TextElideMode.ElideRight, max(bar.rect.width() - 12, 0)
        )
        bar.textVisible = True
        if row.failed:  # the reason is the text; the bar turns red
            bar.palette = QPalette(option.palette)
            bar.palette.setColor(QPalette.ColorRole.Highlight, QColor("#c0392b"))
            bar.palette.setColor(QPalette.ColorRole.Text, QColor("#c0392b"))
            bar.progress = bar.maximum
        style = QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class AzureJobsModel(QAbstractTableModel):
    """Azure Backup jobs across vaults.

    Columns: Operation, Server, Status, Started, Duration, Vault.
    """

    HEADERS = ("Operation", "Server", "Status", "Started", "Duration", "Vault")
    STATUS_COLUMN = 2

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: list[BackupJob] = []

    def set_jobs(self, jobs: list[BackupJob]) -> None:
        self.beginResetModel()  # a flat table replaced as a whole; the tree never does this
        self._jobs = sorted(
            jobs, key=lambda j: j.start or datetime.min.replace(tzinfo=UTC), reverse=True
        )
        self.endResetModel()

    def job(self, row: int) -> BackupJob | None:
        return self._jobs[row] if 0 <= row < len(self._jobs) else None

    def jobs(self) -> list[BackupJob]:
        return list(self._jobs)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section] if 0 <= section < len(self.HEADERS) else None
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        try:
            job = self.job(index.row()) if index.isValid() else None
            if job is None:
                return None
            return self._data(job, index.column(), role)
        except Exception:
            log.exception("AzureJobsModel.data failed")
            return None

    def _data(self, job: BackupJob, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            started = job.start.astimezone().strftime("%Y-%m-%d %H:%M") if job.start else ""
            vault = job.id.parent.name if job.id.parent is not None else ""
            status = "In progress" if job.in_progress else job.status
            return (
                operation_words(job.operation),
                job.datasource_name,
                status,
                started,
                "" if job.in_progress else duration_words(job.duration),
                vault,
            )[column]
        if role == Qt.ItemDataRole.UserRole:
            return job
        if role == Qt.ItemDataRole.ForegroundRole and column == self.STATUS_COLUMN:
            status = job.status.lower()
            if "fail" in status:
                return QColor("#c0392b")
            if status == "completed":
                return QColor("#2e8b57")
            if job.in_progress:
                return QColor("#2f7fc1")
        if role == Qt.ItemDataRole.ToolTipRole and job.error_codes:
            return "\n".join(f"{c}: {m}" for c, m in job.error_codes)
        return None


class AzureJobsFilter(QSortFilterProxyModel):
    """Filter Azure jobs by status word and age."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.status = ""  # "" = any, else "failed" | "inprogress" | "completed"
        self.max_age: timedelta | None = None
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def set_filter(self, *, status: str, max_age: timedelta | None) -> None:
        self.beginFilterChange()
        self.status = status
        self.max_age = max_age
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        model = self.sourceModel()
        job = model.job(source_row) if isinstance(model, AzureJobsModel) else None
        if job is None:
            return False
        status = job.status.lower()
        if self.status == "inprogress" and not job.in_progress:
            return False
        if self.status and self.status != "inprogress" and self.status not in status:
            return False
        return not (
            self.max_age is not None
            and job.start is not None
            and self.now() - job.start > self.max_age
        )


class HintTableView(QTableView):
    """A table that says something useful (``hint``) while it has no rows."""

    def __init__(self, hint: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._hint = hint

    def hint(self) -> str:
        return self._hint

    def set_hint(self, hint: str) -> None:
        self._hint = hint
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is not None and model.rowCount() > 0:
            return
        painter = QPainter(self.viewport())
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        rect = self.viewport().rect().adjusted(16, 12, -16, -12)
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        painter.drawText(rect, int(flags), self._hint)
        painter.end()


_LOCAL_HINT = (
    "No jobs from this app yet. Backups, restores and downloads you start appear here, "
    "with their progress and a Cancel button."
)
_AZURE_HINT = "No Azure Backup jobs match these filters."


class JobsPanel(QWidget):
    """Two tabs: this app's jobs (cancel button) and Azure Backup jobs (filterable).

    Azure jobs are read from every vault of the subscriptions the tree has listed, through
    the task bridge. While any of them is in progress the list refreshes itself every
    ``auto_refresh_ms``; the timer stops once none is.

    Signals:
        job_selected(object): a BackupJob chosen in the Azure tab.
        job_updated(object): a BackupJob read again by a refresh (details pane follows it).
        azure_jobs_loaded(object): an AzureJobsResult is now shown.
        job_failed(str, object): one of this app's jobs failed: job id, AppError.
        job_action(str, object): an action asked from a job's details: action name
            ("resume-restore" | "retry-restore"), JobRequest.
    """

    job_selected = Signal(object)
    job_updated = Signal(object)
    azure_jobs_loaded = Signal(object)
    job_failed = Signal(str, object)
    job_action = Signal(str, object)
    restore_succeeded = Signal(str)  # job id; its row holds the RestoreSummary
    show_resource = Signal(str)  # ARM id to select in the tree

    def __init__(
        self,
        *,
        tasks: TaskManager,
        inventory: InventoryPort,
        subscriptions: Callable[[], list[str]],
        cancel_job: Callable[[str], None] | None = None,
        read_secret: Callable[[str], str | None] | None = None,
        auto_refresh_ms: int = AUTO_REFRESH_MS,
        now: Callable[[], datetime] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._inventory = inventory
        self._subscriptions = subscriptions
        self._cancel_job = cancel_job
        self._read_secret = read_secret
        self._now = now or (lambda: datetime.now(UTC))
        self._fetching = False
        self._loaded_once = False
        self._closed = False
        self.model = JobsModel(self)
        self.azure_model = AzureJobsModel(self)
        self.azure_filter = AzureJobsFilter(self)
        self.azure_filter.now = self._now
        self.azure_filter.setSourceModel(self.azure_model)
        self.auto_timer = QTimer(self)
        self.auto_timer.setSingleShot(True)
        self.auto_timer.setInterval(auto_refresh_ms)
        self.auto_timer.timeout.connect(self._on_auto_timer_timeout)

        self._local = HintTableView(_LOCAL_HINT)
        self._local.setModel(self.model)
        self._local.setItemDelegateForColumn(
            JobsModel.PROGRESS_COLUMN, ProgressDelegate(self._local)
        )
        self._local.clicked.connect(self._on_local_clicked)
        self._local.doubleClicked.connect(self._on_local_double_clicked)
        self.details_dialog: JobDetailsDialog | None = None
        self.progress_dialog: JobProgressDialog | None = None
        self.result_dialog: RestoreResultDialog | None = None
        self.cleanup_dialog: CleanupOfferDialog | None = None
        self.cancel_dialog: QMessageBox | None = None
        self._style_table(self._local)
        header = self._local.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self._local.setColumnWidth(1, 90)
        self._local.setColumnWidth(JobsModel.PROGRESS_COLUMN, 320)
        self._local.setColumnWidth(3, 110)
        self._local.setColumnWidth(JobsModel.CANCEL_COLUMN, 70)

        self._azure = HintTableView("Open this tab to list Azure Backup jobs.")
        self._azure.setModel(self.azure_filter)
        self._style_table(self._azure)
        for column, width in enumerate((150, 200, 100, 130, 100, 160)):
            self._azure.setColumnWidth(column, width)
        self._azure.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self._azure.clicked.connect(self._on_azure_clicked)
        self._status = QComboBox()
        for label, value in (
            ("Any status", ""),
            ("In progress", "inprogress"),
            ("Failed", "failed"),
            ("Completed", "completed"),
        ):
            self._status.addItem(label, value)
        self._age = QComboBox()
        for label, days in (
            ("Last 24 hours", 1),
            ("Last 7 days", 7),
            ("Last 30 days", 30),
            ("Any time", 0),
        ):
            self._age.addItem(label, days)
        self._age.setCurrentIndex(1)
        self._status.currentIndexChanged.connect(self._apply_filter)
        self._age.currentIndexChanged.connect(self._apply_filter)
        self._refresh = QPushButton("Refresh")
        self._refresh.clicked.connect(self.refresh_azure_jobs)
        self._azure_note = QLabel("")
        self._azure_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar = QHBoxLayout()
        bar.setSpacing(8)
        for w in (QLabel("Status:"), self._status, QLabel("Started:"), self._age):
            bar.addWidget(w)
        bar.addSpacing(12)
        bar.addWidget(self._azure_note, 1)
        bar.addWidget(self._refresh)
        azure_box = QWidget()
        azure_layout = QVBoxLayout(azure_box)
        azure_layout.setContentsMargins(4, 4, 4, 4)
        azure_layout.addLayout(bar)
        azure_layout.addWidget(self._azure, 1)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._local, "This app")
        self.azure_tab_index = self.tabs.addTab(azure_box, "Azure Backup jobs")
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self._apply_filter()

    @staticmethod
    def _style_table(view: QTableView) -> None:
        view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        view.setAlternatingRowColors(True)
        view.verticalHeader().setVisible(False)
        view.setShowGrid(False)
        view.setWordWrap(False)
        view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)

    # -- runner --------------------------------------------------------------------------------
    def connect_bridge(
        self, bridge: RunnerBridge, titles: Callable[[str], str] | None = None
    ) -> None:
        """Show jobs reported by ``bridge``; ``titles(job_id)`` names a job on first sight."""

        def on_progress(job_id: str, progress: object) -> None:
            if self.model.row_of(job_id) < 0:
                self.model.add_job(job_id, titles(job_id) if titles else job_id[:8])
            self.model.update_progress(job_id, progress)
            self._refresh_progress_dialog(job_id)

        def on_finished(job_id: str, result: object, error: object, cancelled: bool) -> None:
            if self.model.row_of(job_id) < 0:
                self.model.add_job(job_id, titles(job_id) if titles else job_id[:8])
            failure = error if isinstance(error, AppError) else None
            self.model.finish(job_id, failure, cancelled=cancelled, result=result)
            if failure is not None and not cancelled:
                self.show_job(job_id)
                self.job_failed.emit(job_id, failure)
            elif cancelled and self._created(job_id):
                self.show_job(job_id)
                self.offer_cleanup(job_id)
            elif isinstance(result, RestoreSummary) and result.outcome.ok and not cancelled:
                self.show_job(job_id)
                self.restore_succeeded.emit(job_id)
            if self._loaded_once:  # a backup or restore we started shows up in Azure's list
                self.refresh_azure_jobs()

        bridge.progress.connect(on_progress)
        bridge.finished.connect(on_finished)

    def _on_local_clicked(self, index: QModelIndex) -> None:
        row = index.data(Qt.ItemDataRole.UserRole)
        if index.column() == JobsModel.PROGRESS_COLUMN and isinstance(row, JobRow):
            if row.active and row.detail is not None:
                self.open_progress(row.job_id)
            return
        if index.column() != JobsModel.CANCEL_COLUMN:
            return
        if isinstance(row, JobRow) and row.active and self._cancel_job is not None:
            self.ask_cancel(row.job_id)
        elif isinstance(row, JobRow) and row.failed:
            self.open_details(row.job_id)

    def _on_local_double_clicked(self, index: QModelIndex) -> None:
        row = index.data(Qt.ItemDataRole.UserRole)
        if isinstance(row, JobRow) and not row.active:
            self.open_details(row.job_id)
        elif isinstance(row, JobRow) and row.detail is not None:
            self.open_progress(row.job_id)

    def ask_cancel(self, job_id: str) -> QMessageBox | None:
        """Ask before cancelling, saying what the job has made so far (non-blocking)."""
        i = self.model.row_of(job_id)
        if i < 0 or self._cancel_job is None:
            return None
        row = self.model.rows()[i]
        if self.cancel_dialog is not None:
            self.cancel_dialog.close()
        box = QMessageBox(self)
        box.setObjectName("cancelConfirm")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Cancel this job?")
        box.setText(f"Cancel {row.title}?")
        box.setInformativeText(cancel_words(row))
        stop = box.addButton("Cancel the job", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Keep it running", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(QMessageBox.StandardButton.NoButton)

        def on_done(_result: int) -> None:
            if box.clickedButton() is stop and self._cancel_job is not None:
                log.info("Cancel of job %s confirmed", job_id)
                self._cancel_job(job_id)

        box.finished.connect(on_done)
        box.destroyed.connect(self._on_cancel_dialog_destroyed)
        self.cancel_dialog = box
        box.open()
        return box

    def _on_cancel_dialog_destroyed(self, _obj: object = None) -> None:
        self.cancel_dialog = None

    def open_progress(self, job_id: str) -> JobProgressDialog | None:
        """Show a running restore's progress per database (non-modal; one at a time)."""
        i = self.model.row_of(job_id)
        if i < 0 or self.model.rows()[i].detail is None:
            return None
        if self.progress_dialog is not None:
            self.progress_dialog.close()
        dialog = JobProgressDialog(job_id, self.model.rows()[i].title, parent=self)
        dialog.destroyed.connect(self._on_progress_destroyed)
        self.progress_dialog = dialog
        self._refresh_progress_dialog(job_id)
        dialog.show()
        return dialog

    def _on_progress_destroyed(self, _obj: object = None) -> None:
        self.progress_dialog = None

    def _refresh_progress_dialog(self, job_id: str) -> None:
        dialog = self.progress_dialog
        i = self.model.row_of(job_id)
        if dialog is None or dialog.job_id != job_id or i < 0:
            return
        row = self.model.rows()[i]
        if row.detail is not None:
            dialog.show_progress(row.detail, fraction=row.fraction or 0.0, eta=_eta_words(row))

    def show_job(self, job_id: str) -> None:
        """Bring this app's tab to the front with ``job_id``'s row selected."""
        self.tabs.setCurrentWidget(self._local)
        i = self.model.row_of(job_id)
        if i >= 0:
            self._local.selectRow(i)

    def open_result(self, job_id: str) -> RestoreResultDialog | None:
        """Show a succeeded restore's result (non-modal; one at a time)."""
        i = self.model.row_of(job_id)
        summary = self.model.rows()[i].summary if i >= 0 else None
        if summary is None:
            return None
        if self.result_dialog is not None:
            self.result_dialog.close()
        dialog = RestoreResultDialog(
            job_id, self.model.rows()[i].title, summary, tasks=self._tasks,
            read_secret=self._read_secret, parent=self,
        )  # fmt: skip
        dialog.show_server_requested.connect(self.show_resource)
        dialog.destroyed.connect(self._on_result_destroyed)
        self.result_dialog = dialog
        dialog.show()
        return dialog

    def _created(self, job_id: str) -> tuple[Created, ...]:
        i = self.model.row_of(job_id)
        detail = self.model.rows()[i].detail if i >= 0 else None
        return detail.created if detail is not None else ()

    def offer_cleanup(self, job_id: str) -> CleanupOfferDialog | None:
        """After a cancelled restore: offer to delete what it created (non-modal)."""
        created = self._created(job_id)
        if not created:
            return None
        if self.cleanup_dialog is not None:
            self.cleanup_dialog.close()
        title = self.model.rows()[self.model.row_of(job_id)].title
        dialog = CleanupOfferDialog(job_id, title, created, parent=self)
        dialog.delete_requested.connect(self._on_cleanup_delete_requested)
        dialog.destroyed.connect(self._on_cleanup_destroyed)
        self.cleanup_dialog = dialog
        dialog.show()
        return dialog

    def _on_cleanup_delete_requested(self, job_id: str, items: object) -> None:
        chosen = (
            tuple(i for i in items if isinstance(i, Created)) if isinstance(items, tuple) else ()
        )
        log.info("Clean-up after %s confirmed: %s", job_id, ", ".join(i.words for i in chosen))
        self.job_action.emit("clean-up-restore", JobRequest(job_id, items=chosen))

    def _on_cleanup_destroyed(self, _obj: object = None) -> None:
        self.cleanup_dialog = None

    def close_dialogs(self) -> None:
        """Close the progress, details, result and cancel dialogs (the window is closing);
        Azure job lists that arrive later start no refresh timer."""
        self._closed = True
        self.auto_timer.stop()
        dialogs = (self.progress_dialog, self.details_dialog, self.result_dialog,
                   self.cancel_dialog, self.cleanup_dialog)  # fmt: skip
        for dialog in dialogs:
            if dialog is not None:
                dialog.close()

    def _on_result_destroyed(self, _obj: object = None) -> None:
        self.result_dialog = None

    def open_details(self, job_id: str) -> QDialog | None:
        """Show the details of ``job_id`` (non-modal; one at a time): a restore's result view
        when it succeeded, else what happened, why and what to do."""
        i = self.model.row_of(job_id)
        if i < 0:
            return None
        row = self.model.rows()[i]
        if row.summary is not None and row.summary.outcome.ok:
            return self.open_result(job_id)
        if self.details_dialog is not None:
            self.details_dialog.close()
        dialog = JobDetailsDialog(
            row.job_id, row.title, state=row.state, message=row.message, error=row.error,
            created=self._created(row.job_id), parent=self,
        )  # fmt: skip
        dialog.cleanup_requested.connect(self.offer_cleanup)
        dialog.resume_requested.connect(self._on_details_resume_requested)
        dialog.retry_requested.connect(self._on_details_retry_requested)
        dialog.destroyed.connect(self._on_details_destroyed)
        self.details_dialog = dialog
        dialog.show()
        return dialog

    def _on_details_destroyed(self, _obj: object = None) -> None:
        self.details_dialog = None

    def _on_details_resume_requested(self, job_id: str) -> None:
        self.job_action.emit("resume-restore", JobRequest(job_id))

    def _on_details_retry_requested(self, job_id: str, read_access: str) -> None:
        self.job_action.emit("retry-restore", JobRequest(job_id, read_access))

    # -- Azure jobs ------------------------------------------------------------------------------
    @property
    def auto_refreshing(self) -> bool:
        """True while a refresh is scheduled because some Azure job is in progress."""
        return self.auto_timer.isActive()

    def show_azure_tab(self) -> None:
        self.tabs.setCurrentIndex(self.azure_tab_index)

    def note(self) -> str:
        return self._azure_note.text()

    def refresh_azure_jobs(self) -> None:
        """List the jobs of every vault, off the GUI thread (one listing at a time)."""
        if self._fetching:
            return
        subs = list(self._subscriptions())
        if not subs:
            self._azure_note.setText("No subscriptions listed yet.")
            self._azure.set_hint(
                "Jobs appear once the resource tree has listed your subscriptions."
            )
            return
        inv = self._inventory

        def fetch() -> AzureJobsResult:
            jobs: list[BackupJob] = []
            unreadable: list[str] = []
            first: AppError | None = None
            vaults = 0
            for sub in subs:
                try:
                    found = [v for page in inv.iter_vaults(sub) for v in page]
                except AppError as err:
                    first = first or err
                    unreadable.append(f"Vaults of subscription {sub}: {err.summary}")
                    continue
                for vault in found:
                    vaults += 1
                    try:
                        jobs.extend(inv.list_jobs(vault.id))
                    except AppError as err:
                        first = first or err
                        unreadable.append(f"Jobs of vault {vault.name}: {err.summary}")
            if first is not None and not jobs and not vaults:
                raise first
            return AzureJobsResult(jobs, vaults, tuple(unreadable))

        self._fetching = True
        self._loaded_once = True
        self._azure_note.setText("Loading jobs…")
        self._tasks.task(fetch).keyed(("azure-jobs",)).on_success(self._on_jobs).on_failure(
            self._on_jobs_failed
        ).in_lane("arm-read").start()

    def _on_jobs(self, result: AzureJobsResult) -> None:
        self._fetching = False
        selected = self._selected_job()
        self.azure_model.set_jobs(result.jobs)
        self._apply_filter()
        self._azure.set_hint(_AZURE_HINT if result.vaults else "No backup vaults found.")
        if selected is not None:
            self._reselect(selected)
        running = sum(1 for j in result.jobs if j.in_progress)
        parts = [
            f"{len(result.jobs)} jobs in {result.vaults} vaults",
            f"updated {self._now().astimezone():%H:%M:%S}",
        ]
        if running and not self._closed:
            seconds = self.auto_timer.interval() / 1000
            parts.append(f"{running} in progress: refreshing every {seconds:g} s")
            self.auto_timer.start()
        else:
            self.auto_timer.stop()
        if result.unreadable:
            parts.append(f"{len(result.unreadable)} could not be read")
        self._azure_note.setText(" · ".join(parts))
        self._azure_note.setToolTip("\n".join(result.unreadable))
        self.azure_jobs_loaded.emit(result)

    def _on_jobs_failed(self, error: AppError) -> None:
        self._fetching = False
        self.auto_timer.stop()
        self._azure_note.setText(f"Could not list jobs: {error.summary}")
        self._azure_note.setToolTip(error.report())

    def _on_auto_timer_timeout(self) -> None:
        self.refresh_azure_jobs()

    def _on_tabs_current_changed(self, index: int) -> None:
        if index == self.azure_tab_index and not self._loaded_once:
            self.refresh_azure_jobs()

    def _selected_job(self) -> str | None:
        job = self._azure.currentIndex().data(Qt.ItemDataRole.UserRole)
        return str(job.id) if isinstance(job, BackupJob) else None

    def _reselect(self, job_id: str) -> None:
        for row in range(self.azure_filter.rowCount()):
            index = self.azure_filter.index(row, 0)
            job = index.data(Qt.ItemDataRole.UserRole)
            if isinstance(job, BackupJob) and str(job.id) == job_id:
                self._azure.setCurrentIndex(index)
                self.job_updated.emit(job)
                return

    def _apply_filter(self) -> None:
        days = int(self._age.currentData() or 0)
        self.azure_filter.set_filter(
            status=str(self._status.currentData() or ""),
            max_age=timedelta(days=days) if days else None,
        )

    def _on_azure_clicked(self, index: QModelIndex) -> None:
        job = index.data(Qt.ItemDataRole.UserRole)
        if isinstance(job, BackupJob):
            self.job_selected.emit(job)
