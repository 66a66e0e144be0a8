"""The Log and Activity panels: live log records with a level filter.

:class:`QtLogHandler` is a ``logging.Handler`` that re-emits each record as a Qt signal, so
records logged on worker threads reach the panel on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QTextCharFormat
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from pgflex_gui.logs import install_redaction

__all__ = ["LogPanel", "QtLogHandler"]

_FORMAT = logging.Formatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s", "%H:%M:%S")
_LEVELS = (
    ("Debug", logging.DEBUG),
    ("Info", logging.INFO),
    ("Warning", logging.WARNING),
    ("Error", logging.ERROR),
)
_COLOURS = {logging.WARNING: "#b07d00", logging.ERROR: "#c0392b", logging.CRITICAL: "#c0392b"}


class _Emitter(QObject):
    """Signals:
    record(object): a logging.LogRecord.
    """

    record = Signal(object)


class QtLogHandler(logging.Handler):
    """A logging handler whose records arrive on the GUI thread through ``emitter.record``."""

    def __init__(self, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.emitter = _Emitter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.emitter.record.emit(record)
        except RuntimeError:  # the emitter is gone at quit
            pass


class LogPanel(QWidget):
    """Shows log records (newest last) at or above the chosen level.

    Feed it either by :meth:`attach` (a logger gets a :class:`QtLogHandler`) or by a
    ``subscribe(callback)`` source such as ``logs.ActivityRing.subscribe``.
    """

    MAX_LINES = 5000

    def __init__(self, *, default_level: int = logging.INFO, parent: QWidget | None = None):
        super().__init__(parent)
        self._records: list[logging.LogRecord] = []
        self._handlers: list[tuple[logging.Logger, logging.Handler]] = []
        self._unsubscribe: list[Callable[[], None]] = []
        self._level = QComboBox()
        for name, level in _LEVELS:
            self._level.addItem(name, level)
        self._level.setCurrentIndex(max(0, [lv for _, lv in _LEVELS].index(default_level)))
        self._level.currentIndexChanged.connect(self._on_level_changed)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        self._text = QPlainTextEdit()
        self._text.setReadOnly(True)
        self._text.setMaximumBlockCount(self.MAX_LINES)
        self._text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Level:"))
        bar.addWidget(self._level)
        bar.addStretch(1)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self._text, 1)
        self._bridge = QtLogHandler()
        self._bridge.emitter.record.connect(self.add_record)

    # -- sources ------------------------------------------------------------------------------
    def attach(self, logger: logging.Logger) -> None:
        """Show records of ``logger`` (and its children)."""
        handler = QtLogHandler()
        install_redaction(handler)  # the panel shows what the log file would: redacted
        handler.emitter.record.connect(self.add_record)
        logger.addHandler(handler)
        self._handlers.append((logger, handler))

    def subscribe_to(
        self, subscribe: Callable[[Callable[[logging.LogRecord], None]], object]
    ) -> None:
        """Take records from a ``subscribe(callback)`` source (called on any thread)."""
        result = subscribe(self._bridge.emit)
        if callable(result):
            self._unsubscribe.append(result)

    def detach(self) -> None:
        """Remove every handler and subscription (at quit)."""
        for logger, handler in self._handlers:
            logger.removeHandler(handler)
        self._handlers.clear()
        for undo in self._unsubscribe:
            undo()
        self._unsubscribe.clear()

    # -- showing ------------------------------------------------------------------------------
    def level(self) -> int:
        return int(self._level.currentData())

    def set_level(self, level: int) -> None:
        index = self._level.findData(level)
        if index >= 0:
            self._level.setCurrentIndex(index)

    def text(self) -> str:
        return self._text.toPlainText()

    def add_record(self, record: logging.LogRecord) -> None:
        self._records.append(record)
        if len(self._records) > self.MAX_LINES:
            del self._records[: len(self._records) - self.MAX_LINES]
        if record.levelno >= self.level():
            self._append(record)

    def clear(self) -> None:
        self._records.clear()
        self._text.clear()

    def _on_level_changed(self, _index: int) -> None:
        self._text.clear()
        for record in self._records:
            if record.levelno >= self.level():
                self._append(record)

    def _append(self, record: logging.LogRecord) -> None:
        try:
            line = _FORMAT.format(record)
        except Exception:  # noqa: BLE001 - a bad record must not break the panel
            line = str(record.msg)
        fmt = QTextCharFormat()
        colour = _COLOURS.get(record.levelno)
        if colour:
            fmt.setForeground(QColor(colour))
        cursor = self._text.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        if not self._text.document().isEmpty():
            cursor.insertBlock()
        cursor.insertText(line, fmt)
        self._text.verticalScrollBar().setValue(self._text.verticalScrollBar().maximum())
