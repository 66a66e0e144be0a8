"""Termination signals (SIGINT, SIGTERM, SIGHUP) turned into an orderly shutdown.

A logout, a shutdown, ``timeout`` or ``kill`` sends SIGTERM or SIGHUP; Ctrl+C sends SIGINT.
Python's default for the first two is to die on the spot, which leaves child processes
(Azurite, PostgreSQL, ``pg_restore``) running and journals unflushed. Each entry point
(``pgflex-gui``, ``pgflex sandbox serve``, ``pgflex restore``) installs a handler for all
three with :func:`on_termination` and shuts down the way it would on a normal exit.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["TERMINATION_SIGNALS", "on_termination", "signal_name", "stop_descendants"]

TERMINATION_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def signal_name(signum: int) -> str:
    """``SIGTERM`` for 15, and so on."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


@contextlib.contextmanager
def on_termination(callback: Callable[[int], None]) -> Iterator[None]:
    """Call ``callback(signum)`` on each termination signal inside the block (main thread).

    The previous handlers are put back on the way out. The callback runs between Python
    bytecodes of the main thread: it should only set a flag or cancel a token.
    """
    previous: dict[int, Any] = {}

    def handler(signum: int, _frame: object) -> None:
        callback(signum)

    for signum in TERMINATION_SIGNALS:
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def stop_descendants(grace_s: float = 3.0) -> list[int]:
    """Terminate (then kill) every process this one started that is still running.

    The last step of a cancelled ``pgflex restore``: its tools are stopped by the engine, but
    a helper a tool forked (``pg_restore -j`` workers) or one started as the cancel landed
    must not outlive the command either. Returns the pids it had to stop.
    """
    import psutil

    try:
        alive = [p for p in psutil.Process().children(recursive=True) if p.is_running()]
        alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    except psutil.Error:
        return []
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _gone, left = psutil.wait_procs(alive, timeout=grace_s)
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(left, timeout=grace_s)
    return [p.pid for p in alive]
