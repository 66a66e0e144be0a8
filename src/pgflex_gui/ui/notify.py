"""Desktop notifications for jobs that end while the app is not in front.

A ``QSystemTrayIcon`` message where the desktop has a tray; everywhere the window also asks
for attention (``QApplication.alert``: the taskbar entry flashes, the dock icon bounces).
Without a tray (offscreen, some Wayland desktops) only the alert is given, with no warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QStyle, QSystemTrayIcon, QWidget

__all__ = ["DesktopNotifier"]

log = logging.getLogger(__name__)
MESSAGE_MS = 15000


class DesktopNotifier(QObject):
    """Tell the DBA about a finished job when the app is not the active one.

    Signals:
        notified(str, str): title, text of a notification that was given.
    """

    notified = Signal(str, str)

    def __init__(
        self,
        window: QWidget,
        *,
        is_active: Callable[[], bool] | None = None,
        tray_available: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._is_active = is_active or self._app_is_active
        self._tray_available = tray_available or QSystemTrayIcon.isSystemTrayAvailable
        self._tray: QSystemTrayIcon | None = None

    def _app_is_active(self) -> bool:
        state = QGuiApplication.applicationState()
        return state == Qt.ApplicationState.ApplicationActive and self._window.isActiveWindow()

    @property
    def tray(self) -> QSystemTrayIcon | None:
        """The tray icon, once one was needed and the desktop has a tray."""
        return self._tray

    def notify(self, title: str, text: str, *, failure: bool = True) -> bool:
        """Notify unless the app is in front; returns whether a notification was given."""
        if self._is_active():
            return False
        if self._tray is None and self._tray_available():
            icon = self._window.windowIcon()
            if icon.isNull():
                icon = self._window.style().standardIcon(QStyle.StandardPixmap.SP_ComputerIcon)
            self._tray = QSystemTrayIcon(QIcon(icon), self)
            self._tray.setToolTip("pgflex-gui")
            self._tray.messageClicked.connect(self._on_tray_message_clicked)
            self._tray.show()
        if self._tray is not None:
            kind = (
                QSystemTrayIcon.MessageIcon.Critical
                if failure
                else QSystemTrayIcon.MessageIcon.Information
            )
            self._tray.showMessage(title, text, kind, MESSAGE_MS)
        QApplication.alert(self._window, 0)
        log.info("Notified: %s: %s", title, text)
        self.notified.emit(title, text)
        return True

    def close(self) -> None:
        """Remove the tray icon (at quit)."""
        if self._tray is not None:
            self._tray.hide()
            self._tray.deleteLater()
            self._tray = None

    def _on_tray_message_clicked(self) -> None:
        self._window.showNormal()
        self._window.raise_()
        self._window.activateWindow()
