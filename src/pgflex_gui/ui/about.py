"""The About dialog: versions of Qt, PySide6, the Azure SDKs, the keyring backend, pg tools."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

__all__ = ["AZURE_PACKAGES", "AboutDialog", "default_about_info"]

AZURE_PACKAGES = (
    "azure-core",
    "azure-identity",
    "azure-mgmt-dataprotection",
    "azure-mgmt-postgresqlflexibleservers",
    "azure-mgmt-storage",
    "azure-mgmt-resource",
    "azure-mgmt-resource-subscriptions",
    "azure-mgmt-authorization",
    "azure-storage-blob",
)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def default_about_info() -> dict[str, str]:
    """Versions only (quick, no I/O beyond package metadata); app.py adds keyring and tools."""
    info = {
        "pgflex-gui": _version("pgflex-gui"),
        "Qt": qVersion(),
        "PySide6": pyside_version,
    }
    for name in AZURE_PACKAGES:
        info[name] = _version(name)
    return info


class AboutDialog(QDialog):
    """Non-modal About box; ``about_info()`` supplies the name → version rows."""

    def __init__(self, about_info: Callable[[], dict[str, str]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About pgflex-gui")
        self.resize(560, 520)
        self._about_info = about_info
        self.info: dict[str, str] = {}
        intro = QLabel(
            "<h2>pgflex-gui</h2><p>Protect Azure Database for PostgreSQL flexible servers with "
            "Azure Backup, and restore them.</p>"
        )
        intro.setWordWrap(True)
        table = QTableWidget(0, 2)
        table.setHorizontalHeaderLabels(["Component", "Version"])
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setStretchLastSection(True)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        # long rows (the PostgreSQL tools found, with their folders) wrap instead of eliding
        table.setWordWrap(True)
        table.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.table = table
        self.refresh()
        copy = QPushButton("Copy")
        copy.clicked.connect(self.copy)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(table, 1)
        layout.addWidget(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)

    def refresh(self) -> None:
        """Re-read the rows: the keyring and pg tool probes finish after the window opens."""
        try:
            self.info = dict(self._about_info())
        except Exception as exc:  # noqa: BLE001 - About must open even if a probe fails
            self.info = {"error": str(exc)}
        self.table.setRowCount(len(self.info))
        for row, (name, version) in enumerate(self.info.items()):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            item = QTableWidgetItem(version)
            item.setToolTip(version)
            self.table.setItem(row, 1, item)
        self.table.resizeColumnToContents(0)
        self.table.resizeRowsToContents()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.table.resizeRowsToContents()  # the wrapped rows follow the new width

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()
        super().showEvent(event)

    def text(self) -> str:
        return "\n".join(f"{k}: {v}" for k, v in self.info.items())

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
