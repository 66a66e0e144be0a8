"""Icons for tree nodes and statuses: QStyle standard icons plus painted status dots."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

from pgflex_gui.ui.tree.nodes import NodeKind

__all__ = ["Icons"]

SP = QStyle.StandardPixmap

_KIND_ICONS = {
    NodeKind.TENANT: SP.SP_DirHomeIcon,
    NodeKind.SUBSCRIPTION: SP.SP_DirIcon,
    NodeKind.SERVERS_GROUP: SP.SP_DirOpenIcon,
    NodeKind.VAULTS_GROUP: SP.SP_DirOpenIcon,
    NodeKind.SERVER: SP.SP_DriveNetIcon,
    NodeKind.VAULT: SP.SP_DriveHDIcon,
    NodeKind.POLICIES_GROUP: SP.SP_FileDialogDetailedView,
    NodeKind.INSTANCES_GROUP: SP.SP_FileDialogListView,
    NodeKind.POLICY: SP.SP_FileDialogInfoView,
    NodeKind.BACKUP_INSTANCE: SP.SP_DialogSaveButton,
    NodeKind.RECOVERY_POINT: SP.SP_FileIcon,
}


class Icons:
    """A small cache of icons; create it once the QApplication exists."""

    def __init__(self) -> None:
        self._cache: dict[object, QIcon] = {}

    def standard(self, pixmap: QStyle.StandardPixmap) -> QIcon:
        icon = self._cache.get(pixmap)
        if icon is None:
            style = QApplication.style()
            icon = style.standardIcon(pixmap) if style is not None else QIcon()
            self._cache[pixmap] = icon
        return icon

    def for_kind(self, kind: NodeKind) -> QIcon | None:
        pixmap = _KIND_ICONS.get(kind)
        return self.standard(pixmap) if pixmap is not None else None

    def warning(self) -> QIcon:
        return self.standard(SP.SP_MessageBoxWarning)

    def busy(self) -> QIcon:
        return self.standard(SP.SP_BrowserReload)

    def dot(self, colour: str) -> QIcon:
        """A filled circle in ``colour`` (status words are always shown next to it)."""
        key = ("dot", colour)
        icon = self._cache.get(key)
        if icon is None:
            pixmap = QPixmap(16, 16)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(colour))
            painter.drawEllipse(QRectF(3, 3, 10, 10))
            painter.end()
            icon = QIcon(pixmap)
            self._cache[key] = icon
        return icon

    def sign_in(self) -> QIcon:
        """A blue padlock: the tenant needs its own sign-in (MFA or consent)."""
        icon = self._cache.get("sign-in")
        if icon is None:
            pixmap = QPixmap(16, 16)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            colour = QColor("#2f7fc1")
            painter.setPen(QPen(colour, 1.8))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawArc(QRectF(4.5, 1.5, 7, 9), 0, 180 * 16)
            painter.drawLine(QPointF(4.5, 6), QPointF(4.5, 8))
            painter.drawLine(QPointF(11.5, 6), QPointF(11.5, 8))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(QRectF(2.5, 7, 11, 8), 1.5, 1.5)
            painter.setBrush(QColor("white"))
            painter.drawEllipse(QRectF(7, 9.5, 2, 2))
            painter.end()
            icon = QIcon(pixmap)
            self._cache["sign-in"] = icon
        return icon
