"""A job's details: what happened, why, what to do, and the actions that fit.

Opened from the Jobs panel (double-click, or "Details…" on a failed row). A restore that did
not succeed shows its outcome (failed at which stage, which databases), the reason and the
fix, the technical report to copy, and the actions that fit: "Resume" (the journal keeps
what is done, so finished stages and databases are not redone) and, after a failure to read
the files, "Retry with another read method".
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.restore_outcome import OutcomeKind, RestoreFailed, RestoreOutcome, Stage
from pgflex_gui.domain.restore_progress import (
    OUTPUT_LINES,
    Created,
    CreatedKind,
    RestoreProgress,
)
from pgflex_gui.ui.wizards.restore.flow import ReadAccess

__all__ = ["CleanupOfferDialog", "JobDetailsDialog", "JobProgressDialog", "JobRequest"]


@dataclass(frozen=True)
class JobRequest:
    """An action on one of this app's jobs (payload of ``JobsPanel.job_action``)."""

    job_id: str
    read_access: str = ""  # "" = as before
    items: tuple[Created, ...] = ()  # clean-up: what to delete


class CleanupOfferDialog(QDialog):
    """After a cancelled restore: which of the things it created to delete (non-modal).

    Each item is a checkbox ("delete this when I press Delete"); nothing else is touched.

    Signals:
        delete_requested(str, object): job id, tuple of the chosen ``Created`` items.
    """

    delete_requested = Signal(str, object)

    def __init__(
        self, job_id: str, title: str, created: tuple[Created, ...], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self.setObjectName("cleanupOffer")
        self.setWindowTitle("Delete what the cancelled restore created?")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumWidth(560)
        intro = QLabel(
            f"{title} was cancelled. It had created the things below. Tick what to delete; "
            "the rest stays as it is, and nothing else is touched."
        )
        intro.setWordWrap(True)
        self.boxes: list[tuple[QCheckBox, Created]] = []
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        for item in created:
            box = QCheckBox(_delete_words(item))
            box.setChecked(True)
            box.setToolTip(item.words)
            box.toggled.connect(self._on_box_toggled)
            layout.addWidget(box)
            self.boxes.append((box, item))
        buttons = QDialogButtonBox()
        self.delete = buttons.addButton(
            "Delete selected", QDialogButtonBox.ButtonRole.DestructiveRole
        )
        self.delete.setObjectName("deleteSelected")
        self.delete.setAutoDefault(False)
        keep = buttons.addButton("Keep them", QDialogButtonBox.ButtonRole.RejectRole)
        keep.setDefault(True)
        self.delete.clicked.connect(self._on_delete_clicked)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def chosen(self) -> tuple[Created, ...]:
        return tuple(item for box, item in self.boxes if box.isChecked())

    def _on_box_toggled(self, _checked: bool) -> None:
        self.delete.setEnabled(bool(self.chosen()))

    def _on_delete_clicked(self) -> None:
        self.delete_requested.emit(self.job_id, self.chosen())
        self.accept()


def _delete_words(item: Created) -> str:
    if item.kind is CreatedKind.SERVER:
        return f"Delete server {item.name} (and the admin password this restore generated)"
    if item.kind is CreatedKind.DATABASE:
        return f"Drop database {item.name} on {item.server}"
    return f"Delete the downloaded file {item.name}"


def outcome_of(error: AppError | None) -> RestoreOutcome | None:
    """The restore outcome an error carries, if it is a restore's."""
    return error.outcome if isinstance(error, RestoreFailed) else None


class JobDetailsDialog(QDialog):
    """Non-modal details of one job.

    Signals:
        resume_requested(str): job id.
        retry_requested(str, str): job id, read method (``ReadAccess`` value).
    """

    resume_requested = Signal(str)
    retry_requested = Signal(str, str)
    cleanup_requested = Signal(str)

    def __init__(
        self,
        job_id: str,
        title: str,
        *,
        state: str,
        message: str,
        error: AppError | None,
        created: tuple[Created, ...] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self.setWindowTitle(f"Job details: {title}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumWidth(560)
        outcome = outcome_of(error)
        failed = error is not None
        self.headline = QLabel(outcome.headline if outcome is not None else (message or state))
        self.headline.setObjectName("headline")
        self.headline.setWordWrap(True)
        color = "#c0392b" if failed else "#2e8b57"
        self.headline.setStyleSheet(f"font-size: 14pt; font-weight: bold; color: {color};")
        self.reason = QLabel()
        self.reason.setObjectName("reason")
        self.remedy = QLabel()
        self.remedy.setObjectName("remedy")
        self.databases = QLabel()
        self.databases.setObjectName("databases")
        for label in (self.reason, self.remedy, self.databases):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        reason = (outcome.reason if outcome is not None else "") or (error.summary if error else "")
        remedy = (outcome.remedy if outcome is not None else "") or (error.remedy if error else "")
        self.reason.setText(f"<b>Why:</b> {_escape(reason)}" if reason else "")
        self.remedy.setText(f"<b>What to do:</b> {_escape(remedy)}" if remedy else "")
        if outcome is not None and (outcome.restored or outcome.failed):
            parts = []
            if outcome.restored:
                parts.append(f"Restored: {', '.join(outcome.restored)}")
            if outcome.failed:
                parts.append(f"Not restored: {', '.join(outcome.failed)}")
            self.databases.setText("<br>".join(_escape(p) for p in parts))
        self.report = QPlainTextEdit(error.report() if error is not None else message)
        self.report.setObjectName("report")
        self.report.setReadOnly(True)
        self.report.setMaximumHeight(160)

        self.resume = QPushButton("Resume")
        self.resume.setObjectName("resume")
        self.resume.setToolTip("Run it again from its journal: finished work is not redone.")
        self.read_method = QComboBox()
        self.read_method.setObjectName("readMethod")
        for access in ReadAccess:
            self.read_method.addItem(access.words, access.value)
        self.read_method.setCurrentIndex(self.read_method.findData(ReadAccess.ACCOUNT_KEY.value))
        self.retry = QPushButton("Retry with another read method")
        self.retry.setObjectName("retry")
        copy = QPushButton("Copy details")
        copy.clicked.connect(self._on_copy_clicked)
        resumable = outcome is not None and outcome.kind is not OutcomeKind.SUCCEEDED
        read_failed = outcome is not None and outcome.stage is Stage.DOWNLOAD
        self.resume.setVisible(resumable)
        self.read_method.setVisible(read_failed)
        self.retry.setVisible(read_failed)
        self.resume.clicked.connect(self._on_resume_clicked)
        self.retry.clicked.connect(self._on_retry_clicked)
        self.cleanup = QPushButton("Delete what it created…")
        self.cleanup.setObjectName("cleanup")
        self.cleanup.setVisible(state == "Cancelled" and bool(created))
        self.cleanup.clicked.connect(self._on_cleanup_clicked)

        actions = QHBoxLayout()
        actions.addWidget(self.resume)
        actions.addWidget(self.cleanup)
        actions.addStretch(1)
        actions.addWidget(self.read_method)
        actions.addWidget(self.retry)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.reason)
        layout.addWidget(self.remedy)
        layout.addWidget(self.databases)
        layout.addLayout(actions)
        layout.addWidget(self.report)
        layout.addWidget(buttons)

    def _on_copy_clicked(self) -> None:
        QApplication.clipboard().setText(self.report.toPlainText())

    def _on_resume_clicked(self) -> None:
        self.resume_requested.emit(self.job_id)
        self.accept()

    def _on_cleanup_clicked(self) -> None:
        self.cleanup_requested.emit(self.job_id)
        self.accept()

    def _on_retry_clicked(self) -> None:
        self.retry_requested.emit(self.job_id, str(self.read_method.currentData() or ""))
        self.accept()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class JobProgressDialog(QDialog):
    """Non-modal progress of a running restore: one overall bar, a row per database."""

    COLUMNS = ("Database", "Stage", "Done")

    def __init__(self, job_id: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self.setWindowTitle(f"Progress: {title}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumWidth(560)
        self.stage = QLabel("Starting…")
        self.stage.setObjectName("stage")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.eta = QLabel("estimating…")
        self.eta.setObjectName("eta")
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("databases")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(1, 170)
        self.table.setColumnWidth(2, 170)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._on_table_item_selection_changed)
        self.command = QLineEdit()
        self.command.setObjectName("command")
        self.command.setReadOnly(True)
        self.command.setPlaceholderText("Choose a database for its pg_restore command and output")
        self.output = QPlainTextEdit()
        self.output.setObjectName("output")
        self.output.setReadOnly(True)
        self.output.setMaximumBlockCount(OUTPUT_LINES)
        self.output.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self._detail: RestoreProgress | None = None
        self._shown: tuple[str, int, str] | None = None  # name, lines shown, last line
        top = QHBoxLayout()
        top.addWidget(self.bar, 1)
        top.addWidget(self.eta)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stage)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(QLabel("Command (the password goes through the environment, never here):"))
        layout.addWidget(self.command)
        layout.addWidget(self.output, 1)
        layout.addWidget(buttons)

    def selected(self) -> str:
        """The database whose command and output are shown ("" for none)."""
        row = self.table.currentRow()
        item = self.table.item(row, 0) if row >= 0 else None
        return item.text() if item is not None else ""

    def _on_table_item_selection_changed(self) -> None:
        self._shown = None
        self._show_output()

    def _show_output(self) -> None:
        db = self._detail.database(self.selected()) if self._detail is not None else None
        if db is None:
            return
        if self.command.text() != db.command:
            self.command.setText(db.command)
            self.command.setCursorPosition(0)
        last = db.output[-1] if db.output else ""
        if self._shown is not None and self._shown[0] == db.name:
            _name, count, shown_last = self._shown
            if count == len(db.output) and shown_last == last:
                return
            if count < len(db.output):  # only the new lines (the ring keeps OUTPUT_LINES)
                for line in db.output[count:]:
                    self.output.appendPlainText(line)
                self._shown = (db.name, len(db.output), last)
                return
        self.output.setPlainText("\n".join(db.output))
        self._shown = (db.name, len(db.output), last)

    def show_progress(self, detail: RestoreProgress, *, fraction: float, eta: str) -> None:
        """Show one snapshot (``fraction`` is the row's, which never goes backwards)."""
        self.stage.setText(detail.stage)
        self.bar.setValue(int(fraction * 1000))
        self.eta.setText(eta)
        self.table.setRowCount(len(detail.databases))
        for row, db in enumerate(detail.databases):
            for column, text in enumerate((db.name, db.stage.value, db.done_words())):
                item = self.table.item(row, column)
                if item is None:
                    self.table.setItem(row, column, QTableWidgetItem(text))
                elif item.text() != text:
                    item.setText(text)
        self._detail = detail
        self._show_output()

    def rows(self) -> list[tuple[str, str, str]]:
        """What the table shows, row by row."""
        out = []
        for row in range(self.table.rowCount()):
            cells = [self.table.item(row, c) for c in range(len(self.COLUMNS))]
            name, stage, done = (c.text() if c is not None else "" for c in cells)
            out.append((name, stage, done))
        return out
