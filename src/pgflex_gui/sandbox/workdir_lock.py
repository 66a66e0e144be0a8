"""One live sandbox per folder: an advisory lock on ``<workdir>/sandbox.lock``.

The process that runs a sandbox (the GUI in-process, or ``pgflex sandbox serve``) holds an
exclusive ``flock`` on the file for as long as the sandbox runs, and writes its pid in it.
The kernel drops the lock when that process dies, however it dies, so a lock that can be
taken means nobody is serving the folder: whatever a dead owner left running (Azurite, a
cluster) is stale and is cleaned up by the next start. A lock that cannot be taken means a
live sandbox: a second one on the same data would corrupt it, and is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the sandbox is POSIX only
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "WorkdirBusy", "WorkdirLock", "holder_pid"]

LOCK_NAME = "sandbox.lock"


class WorkdirBusy(RuntimeError):
    """The folder is in use by a live sandbox (``pid`` when it could be read)."""

    def __init__(self, workdir: Path, pid: int | None) -> None:
        who = f"process {pid}" if pid else "another process"
        super().__init__(
            f"The sandbox folder {workdir} is in use by {who} (pgflex-gui or "
            "'pgflex sandbox serve'). Close that one first ('pgflex sandbox down' stops a "
            "background sandbox), or give this one another folder with PGFLEX_SANDBOX_DIR."
        )
        self.workdir = workdir
        self.pid = pid


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return int(os.read(fd, 32).decode().strip() or "0") or None
    except (OSError, ValueError):
        return None


class WorkdirLock:
    """The lock of one workdir; :meth:`acquire` or :class:`WorkdirBusy`, :meth:`release`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.path = self.workdir / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock without waiting and record this process's pid in it."""
        if self._fd is not None:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # close-on-exec: not inherited
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                raise WorkdirBusy(self.workdir, pid) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (idempotent); the file stays, empty."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing drops the flock


def holder_pid(workdir: Path) -> int | None:
    """The pid of the live process serving ``workdir``, or None when nobody does."""
    path = Path(workdir) / LOCK_NAME
    if fcntl is None or not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
