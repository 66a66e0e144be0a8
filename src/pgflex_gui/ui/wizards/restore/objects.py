"""Pick schemas and tables from an archive's table of contents (as pgAdmin's restore does).

Offered when the files are in a local folder: the archive of the chosen database is read
with ``pg_restore --list`` on a worker, and its schemas and tables are shown as a tree of
tick boxes. A schema ticked whole is restored whole (``-n``); otherwise its ticked tables
(``-n schema -t table``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pgflex_gui.domain.blob_layout import classify_layout
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.ui.tasks import TaskManager

__all__ = ["ObjectPickerDialog", "archive_databases", "archive_objects"]

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")


def _layout(folder: str) -> dict[str, tuple[str, ...]]:
    root = Path(folder)
    names = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    return classify_layout(names).databases


def archive_databases(folder: str) -> list[str]:
    """The databases whose files are in ``folder``, by name."""
    return sorted(_layout(folder))


def archive_objects(folder: str, database: str) -> dict[str, list[str]]:
    """Schema -> tables of ``database``'s archive in ``folder`` (runs pg_restore --list)."""
    from pgflex_gui.jobs.restore_adapters import LocalPgRunner

    root = Path(folder)
    blobs = _layout(folder).get(database)
    if not blobs:
        raise AppError(Fault.USER, f"No file for database {database} in {folder}.")
    path = root / blobs[0]
    if path.name == "toc.dat":
        path = path.parent  # a directory dump is read as its folder
    runner = LocalPgRunner()
    if not runner.classify(path).kind.is_archive:
        raise AppError(
            Fault.USER,
            f"{path.name} is a plain SQL file: it has no table of contents to choose from.",
            "Type the schemas and tables, or restore the whole database.",
        )
    objects: dict[str, list[str]] = {}
    for entry in runner.toc(path).entries:
        if entry.desc == "SCHEMA" and entry.name not in SYSTEM_SCHEMAS:
            objects.setdefault(entry.name, [])
        elif entry.desc == "TABLE" and entry.schema not in SYSTEM_SCHEMAS:
            objects.setdefault(entry.schema, []).append(entry.name)
    return {schema: sorted(tables) for schema, tables in sorted(objects.items())}


class ObjectPickerDialog(QDialog):
    """Tick schemas and tables of one database's archive (non-modal; ``accepted`` when OK)."""

    def __init__(
        self,
        folder: str,
        *,
        tasks: TaskManager,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("objectPicker")
        self.setWindowTitle("Choose schemas and tables")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumSize(460, 420)
        self._folder = folder
        self._tasks = tasks
        self.database = QComboBox()
        self.database.setObjectName("database")
        self.database.setPlaceholderText("Listing the folder…")
        self.status = QLabel()
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setObjectName("objects")
        self.tree.setHeaderLabels(["Schema / table"])
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Database"))
        layout.addWidget(self.database)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.database.currentTextChanged.connect(self._load)
        tasks.task(archive_databases, folder).in_lane("settings").on_success(
            self._on_databases
        ).on_failure(self._on_failed).start()

    def _on_databases(self, names: object) -> None:
        found = [str(n) for n in names] if isinstance(names, list) else []
        if not found:
            self.status.setText("No database files in this folder.")
        self.database.addItems(found)

    def _load(self, database: str) -> None:
        self.tree.clear()
        self.ok.setEnabled(False)
        if not database:
            return
        self.status.setText(f"Reading the table of contents of {database}…")
        self._tasks.task(archive_objects, self._folder, database).in_lane("settings").keyed(
            ("archive-objects", id(self))
        ).on_success(self._on_objects).on_failure(self._on_failed).start()

    def _on_objects(self, objects: object) -> None:
        if not isinstance(objects, dict):
            return
        for schema, tables in objects.items():
            parent = QTreeWidgetItem([str(schema)])
            parent.setFlags(
                parent.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsAutoTristate
            )
            parent.setCheckState(0, Qt.CheckState.Unchecked)
            for table in tables:
                child = QTreeWidgetItem([str(table)])
                child.setFlags(child.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                child.setCheckState(0, Qt.CheckState.Unchecked)
                parent.addChild(child)
            self.tree.addTopLevelItem(parent)
        self.tree.expandAll()
        self.status.setText("Tick what to restore; a schema ticked whole is restored whole.")
        self.ok.setEnabled(True)

    def _on_failed(self, error: AppError) -> None:
        self.status.setText(error.summary)

    def chosen(self) -> tuple[str, ...]:
        """``schema`` for a schema ticked whole, else ``schema.table`` for each ticked table."""
        out: list[str] = []
        for i in range(self.tree.topLevelItemCount()):
            schema = self.tree.topLevelItem(i)
            if schema is None:
                continue
            state = schema.checkState(0)
            if state == Qt.CheckState.Checked:
                out.append(schema.text(0))
            elif state == Qt.CheckState.PartiallyChecked:
                for j in range(schema.childCount()):
                    table = schema.child(j)
                    if table is not None and table.checkState(0) == Qt.CheckState.Checked:
                        out.append(f"{schema.text(0)}.{table.text(0)}")
        return tuple(out)
