"""The error presenter: plain language first, Details and Copy, never modal.

Problems go to the node, the job row, or — for everything else — this toast at the bottom
of the main window. ``install_excepthooks`` routes uncaught exceptions here too.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QEnterEvent, QGuiApplication, QHideEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.ui.tasks import as_app_error

__all__ = ["ERROR_MS", "NOTICE_MS", "ErrorPresenter", "ErrorToast", "install_excepthooks"]

log = logging.getLogger(__name__)

NOTICE_MS = 6_000  # a note goes after a few seconds …
ERROR_MS = 12_000  # … an error a bit later (its Details stay in the Log tab)

_FAULT_WORDS = {
    Fault.USER: "Check the input",
    Fault.PERMISSION: "Permission needed",
    Fault.AZURE: "Azure reported a problem",
    Fault.NETWORK: "Network problem",
    Fault.APP: "Problem in pgflex-gui",
}


class ErrorToast(QFrame):
    """A dismissible panel: summary, remedy, expandable details and a Copy button.

    Signals:
        dismissed(bool): the user closed the toast; True when it was showing an error.
        hovered(bool): the pointer entered (True) or left (False) the toast.
        hidden(): the toast went off screen (dismissed, timed out, or its window closed).
    """

    dismissed = Signal(bool)
    hovered = Signal(bool)
    hidden = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ErrorToast")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#ErrorToast { background: palette(base); border: 1px solid #c0392b;"
            " border-left: 5px solid #c0392b; border-radius: 4px; }"
        )
        style = QApplication.style()
        self._icon = QLabel()
        self._icon.setPixmap(
            style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(32, 32)
        )
        self._icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self._kind = QLabel()
        self._kind.setStyleSheet("color: #c0392b; font-weight: bold;")
        self._summary = QLabel()
        self._summary.setWordWrap(True)
        self._summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._remedy = QLabel()
        self._remedy.setWordWrap(True)
        self._details = QPlainTextEdit()
        self._details.setReadOnly(True)
        self._details.setVisible(False)
        self._details.setMaximumHeight(160)
        self._toggle = QPushButton("Details")
        self._toggle.setCheckable(True)
        self._toggle.toggled.connect(self._details.setVisible)
        self._copy = QPushButton("Copy")
        self._copy.clicked.connect(self.copy_report)
        close = QToolButton()
        close.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self._on_close_clicked)
        self._more = QLabel()

        text = QVBoxLayout()
        text.addWidget(self._kind)
        text.addWidget(self._summary)
        text.addWidget(self._remedy)
        buttons = QHBoxLayout()
        buttons.addWidget(self._toggle)
        buttons.addWidget(self._copy)
        buttons.addWidget(self._more)
        buttons.addStretch(1)
        text.addLayout(buttons)
        text.addWidget(self._details)
        top = QHBoxLayout(self)
        top.addWidget(self._icon)
        top.addLayout(text, 1)
        top.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._report = ""
        self._showing_error = False
        self.hide()

    def enterEvent(self, event: QEnterEvent) -> None:
        self.hovered.emit(True)
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self.hovered.emit(False)
        super().leaveEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self.hidden.emit()
        super().hideEvent(event)

    @property
    def reading(self) -> bool:
        """The user opened the details: the toast stays until they close it."""
        return self._toggle.isVisible() and self._toggle.isChecked()

    def _on_close_clicked(self) -> None:
        was_error = self._showing_error and self.isVisible()
        self._showing_error = False
        self.hide()
        self.dismissed.emit(was_error)

    def show_error(self, error: AppError, *, pending: int = 0) -> None:
        self._kind.setText(_FAULT_WORDS.get(error.fault, "Problem"))
        self._summary.setText(error.summary)
        self._remedy.setText(error.remedy)
        self._remedy.setVisible(bool(error.remedy))
        self._report = error.report()
        self._details.setPlainText(self._report)
        self._toggle.setChecked(False)
        self._toggle.setVisible(True)
        self._copy.setVisible(True)
        self._more.setText(f"{pending} earlier problem(s) in the Log tab" if pending else "")
        self._showing_error = True
        self.show()
        self.raise_()

    def show_notice(self, text: str) -> None:
        """An informational note (no details), e.g. a feature not available yet."""
        self._kind.setText("Note")
        self._summary.setText(text)
        self._remedy.setVisible(False)
        self._report = text
        self._toggle.setVisible(False)
        self._copy.setVisible(False)
        self._details.setVisible(False)
        self._more.setText("")
        self._showing_error = False
        self.show()
        self.raise_()

    def summary(self) -> str:
        return self._summary.text()

    def report(self) -> str:
        return self._report

    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self._report)


class ErrorPresenter(QObject):
    """Places problems in front of the user without a modal box.

    Thread-safe: :meth:`show_error` may be called from any thread (it hops via a signal).

    Signals:
        error_shown(object): an AppError was shown.
    """

    error_shown = Signal(object)
    _request = Signal(object)

    def __init__(self, toast: ErrorToast, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.toast = toast
        self._count = 0  # errors shown and not dismissed yet ("N earlier problem(s)")
        toast.dismissed.connect(self._on_toast_dismissed)
        # toasts go by themselves (errors stay longer); hovering or opening Details keeps them
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.timeout.connect(self._on_notice_timer_timeout)
        self._timeout_ms = NOTICE_MS
        toast.hovered.connect(self._on_toast_hovered)
        toast.hidden.connect(self._notice_timer.stop)
        self._request.connect(self._on_self_request)

    def show_error(self, error: AppError | BaseException) -> None:
        try:
            self._request.emit(error)
        except RuntimeError:
            pass

    def close(self) -> None:
        """Stop the notice timer (the window is closing)."""
        self._notice_timer.stop()

    def show_notice(self, text: str, *, timeout_ms: int = NOTICE_MS) -> None:
        self.toast.show_notice(text)
        self._timeout_ms = timeout_ms
        self._notice_timer.start(timeout_ms)

    def _on_toast_hovered(self, inside: bool) -> None:
        if inside:
            self._notice_timer.stop()
        elif self.toast.isVisible():
            self._notice_timer.start(self._timeout_ms)

    def _on_notice_timer_timeout(self) -> None:
        if self.toast.reading or self.toast.underMouse():
            return  # left on screen; leaving it restarts the countdown
        self.toast.hide()

    def _on_self_request(self, error: object) -> None:
        app_error = error if isinstance(error, AppError) else as_app_error(error)  # type: ignore[arg-type]
        self.toast.show_error(app_error, pending=self._count)
        self._timeout_ms = ERROR_MS
        self._notice_timer.start(ERROR_MS)
        self._count += 1
        self.error_shown.emit(app_error)

    def _on_toast_dismissed(self, was_error: bool) -> None:
        if was_error:
            self._count = max(0, self._count - 1)


def install_excepthooks(presenter: ErrorPresenter) -> Callable[[], None]:
    """Route uncaught exceptions (GUI and worker threads) to the log and the presenter.

    Returns a function restoring the previous hooks.
    """
    old_sys = sys.excepthook
    old_thread = threading.excepthook

    def report(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            old_sys(exc_type, exc, tb)
            return
        log.critical("Uncaught exception", exc_info=(exc_type, exc, tb))
        presenter.show_error(
            exc if isinstance(exc, AppError) else as_app_error(exc.with_traceback(tb))
        )

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            report(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = report
    threading.excepthook = thread_hook

    def restore() -> None:
        sys.excepthook = old_sys
        threading.excepthook = old_thread

    return restore
