"""The details pane: a form of facts about the selected node or job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFormLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from pgflex_gui.domain.models import BackupJob
from pgflex_gui.ui.describe import Rows, describe, describe_job
from pgflex_gui.ui.tree.nodes import ResourceNode

__all__ = ["DetailsPanel"]

_HINT = (
    "Pick something in the Resources tree: a server shows its protection and last backup, "
    "a vault its redundancy and identity, a recovery point its time in local time and UTC. "
    "Pick an Azure Backup job in Jobs to read what its errors mean. "
    "Right-click a server to configure backup or restore it."
)


class DetailsPanel(QWidget):
    """Shows :func:`describe` rows for one node; selectable text so ids can be copied."""

    def __init__(
        self, *, now: Callable[[], datetime] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._now = now or (lambda: datetime.now(UTC))
        self._title = QLabel()
        font = QFont(self._title.font())
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self._title.setFont(font)
        self._title.setWordWrap(True)
        self._hint = QLabel(_HINT)
        self._hint.setWordWrap(True)
        self._hint.setEnabled(False)  # muted
        self._job_id: str | None = None
        self._form_host = QWidget()
        self._form = QFormLayout(self._form_host)
        self._form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self._form.setHorizontalSpacing(16)
        self._form.setVerticalSpacing(8)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self._form_host)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(self._title)
        layout.addWidget(self._hint)
        layout.addWidget(scroll, 1)
        self.show_placeholder()

    def show_placeholder(self) -> None:
        self._set("Select a server, vault or recovery point", [])
        self._hint.show()

    def show_node(self, node: ResourceNode | None) -> None:
        if node is None:
            self.show_placeholder()
            return
        title, rows = describe(node, now=self._now())
        if node.failed is not None:
            rows = [("Problem", node.failed.summary), ("What to do", node.failed.remedy), *rows]
        self._set(title, rows)

    def show_job(self, job: BackupJob) -> None:
        self._set(*describe_job(job))
        self._job_id = str(job.id)

    def update_job(self, job: BackupJob) -> None:
        """Show ``job`` again if it is the job on display (an auto-refresh read it anew)."""
        if self._job_id == str(job.id):
            self.show_job(job)

    def rows(self) -> Rows:
        """What is shown, for tests."""
        out: Rows = []
        for i in range(self._form.rowCount()):
            label = self._form.itemAt(i, QFormLayout.ItemRole.LabelRole)
            field = self._form.itemAt(i, QFormLayout.ItemRole.FieldRole)
            if label and field and isinstance(label.widget(), QLabel):
                out.append((label.widget().text(), field.widget().text()))  # type: ignore[union-attr]
        return out

    def title(self) -> str:
        return self._title.text()

    def _set(self, title: str, rows: Rows) -> None:
        self._job_id = None
        self._hint.hide()
        self._title.setText(title)
        while self._form.rowCount():
            self._form.removeRow(0)
        for label, value in rows:
            field = QLabel(value or "—")
            field.setWordWrap(True)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            name = QLabel(label)
            name.setEnabled(False)  # a muted label colour from the palette
            self._form.addRow(name, field)
