"""SIGINT, SIGTERM and SIGHUP while Qt's event loop runs: a Qt signal on the GUI thread.

Python runs its signal handlers only between bytecodes, and the GUI thread spends its life
inside Qt's C++ event loop, so a handler alone would wait for the next mouse move. The
wake-up fd (``signal.set_wakeup_fd``) writes each signal number into a socket pair that a
``QSocketNotifier`` watches: the loop wakes at once and :attr:`TerminationWatcher.terminated`
is emitted, so the app closes the way it does when the user quits (jobs cancelled and
journaled, sandbox children stopped).
"""

from __future__ import annotations

import logging
import signal
import socket
from contextlib import AbstractContextManager

from PySide6.QtCore import QObject, QSocketNotifier, Signal

from pgflex_gui.termination import on_termination, signal_name

__all__ = ["TerminationWatcher"]

log = logging.getLogger(__name__)


class TerminationWatcher(QObject):
    """Emits :attr:`terminated` (the signal number) on SIGINT, SIGTERM or SIGHUP.

    Create on the GUI (main) thread; :meth:`close` puts the previous handlers back.
    """

    terminated = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_wakeup)
        # The handler has nothing to do: the wake-up fd carries the number.
        self._handlers: AbstractContextManager[None] | None = on_termination(lambda _s: None)
        self._handlers.__enter__()
        self.received: list[int] = []

    def _on_wakeup(self) -> None:
        try:
            data = self._read.recv(64)
        except (BlockingIOError, OSError):
            return
        for signum in data:
            self.received.append(signum)
            log.warning("%s received: shutting down", signal_name(signum))
            self.terminated.emit(signum)

    def close(self) -> None:
        """Restore the previous handlers and wake-up fd (idempotent)."""
        if self._handlers is None:
            return
        self._handlers.__exit__(None, None, None)
        self._handlers = None
        signal.set_wakeup_fd(self._previous_fd)
        self._notifier.setEnabled(False)
        self._read.close()
        self._write.close()
