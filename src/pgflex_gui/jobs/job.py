"""What a long operation is: ``Job``, the ``JobContext`` it runs in, ``Progress`` and cancel.

Jobs are plain Python classes with no Qt: ``run(ctx)`` does the work on a worker thread,
reports ``Progress`` through ``ctx.report``, calls ``ctx.check_cancelled()`` at chunk, poll and
line boundaries, and writes checkpoints to ``ctx.journal`` so that a crash can resume.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pgflex_gui.domain.errors import Cancelled

if TYPE_CHECKING:
    from pgflex_gui.jobs.journal import JobJournal

__all__ = ["CancelToken", "EtaEstimator", "Job", "JobContext", "Progress"]


@dataclass(frozen=True)
class Progress:
    """One progress report. ``total`` is None while the size is unknown (indeterminate)."""

    done: float
    total: float | None = None
    message: str = ""
    eta_s: float | None = None
    detail: Any = None  # a frozen snapshot with its own estimate (a restore's RestoreProgress)

    @property
    def fraction(self) -> float | None:
        """``done / total`` clamped to [0, 1], or None when indeterminate."""
        if not self.total or self.total <= 0:
            return None
        return max(0.0, min(1.0, self.done / self.total))


class CancelToken:
    """A thread-safe, one-way cancel flag. ``check()`` raises ``Cancelled`` once set."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop at its next boundary (idempotent)."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once ``cancel()`` was called."""
        return self._event.is_set()

    def check(self) -> None:
        """Raise ``Cancelled`` if cancelled; otherwise return at once."""
        if self._event.is_set():
            raise Cancelled()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking early on cancel; True if cancelled."""
        return self._event.wait(timeout)


class EtaEstimator:
    """Seconds remaining from an exponentially smoothed rate (units per second).

    ``update(done, total)`` folds in the rate since the previous sample, weighting the new
    sample by ``alpha``; samples closer than ``min_interval_s`` are merged so bursts of tiny
    updates do not make the rate jumpy.
    """

    def __init__(
        self,
        *,
        alpha: float = 0.3,
        min_interval_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._alpha = alpha
        self._min_interval = min_interval_s
        self._clock = clock
        self._last_t: float | None = None
        self._last_done = 0.0
        self._rate: float | None = None

    @property
    def rate(self) -> float | None:
        """The smoothed rate in units per second, or None before two samples."""
        return self._rate

    def update(self, done: float, total: float | None) -> float | None:
        """Record a sample and return the ETA in seconds (None if unknown)."""
        now = self._clock()
        if self._last_t is None:
            self._last_t, self._last_done = now, done
        else:
            dt = now - self._last_t
            if dt >= self._min_interval:
                inst = max(0.0, done - self._last_done) / dt
                self._rate = (
                    inst
                    if self._rate is None
                    else self._alpha * inst + (1 - self._alpha) * self._rate
                )
                self._last_t, self._last_done = now, done
        if total is None or self._rate is None or self._rate <= 0:
            return None
        return max(0.0, (total - done) / self._rate)


class JobContext:
    """What a running job may touch: progress, cancel, its journal and a logger.

    Args:
        token: the job's cancel flag.
        journal: the job's crash-safe checkpoint file.
        report: called with each ``Progress`` (the runner throttles it).
        log: a logger for the job (defaults to this module's).
    """

    def __init__(
        self,
        *,
        token: CancelToken,
        journal: JobJournal,
        report: Callable[[Progress], None] | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.token = token
        self.journal = journal
        self.log = log or logging.getLogger(__name__)
        self._report = report
        self._eta = EtaEstimator()

    def report(self, progress: Progress) -> None:
        """Publish progress; fills in ``eta_s`` from the smoothed rate when not given."""
        if progress.eta_s is None and progress.total is not None and progress.detail is None:
            eta = self._eta.update(progress.done, progress.total)
            progress = Progress(progress.done, progress.total, progress.message, eta)
        if self._report is not None:
            self._report(progress)

    def check_cancelled(self) -> None:
        """Raise ``Cancelled`` if the user cancelled this job."""
        self.token.check()

    @property
    def cancelled(self) -> bool:
        """True once the job was asked to stop."""
        return self.token.cancelled


@runtime_checkable
class Job(Protocol):
    """A long operation. ``run`` blocks on a worker thread and returns its result.

    ``run`` raises ``AppError`` for failures it understands, ``Cancelled`` when it stops on
    request; anything else is a bug that the runner reports as ``Fault.APP``.
    """

    kind: str  # stable identifier, e.g. "download", "restore", "protect"
    title: str  # shown on the Jobs panel row

    def run(self, ctx: JobContext) -> Any: ...


class FunctionJob:
    """Wrap a callable ``fn(ctx)`` as a Job (for short work and tests)."""

    def __init__(
        self,
        fn: Callable[[JobContext], Any],
        *,
        title: str,
        kind: str = "call",
        touches: Sequence[str] = (),
    ) -> None:
        self._fn = fn
        self.title = title
        self.kind = kind
        self.touches = tuple(touches)  # ARM ids it creates or changes (the tree follows them)

    def run(self, ctx: JobContext) -> Any:
        """Call the wrapped function."""
        return self._fn(ctx)
