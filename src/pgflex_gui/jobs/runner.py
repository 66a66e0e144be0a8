"""Run jobs on fixed lanes of worker threads, Qt-free.

Why ``concurrent.futures`` executors and not ``QThreadPool``/``QThread``:

* **Qt-free, testable jobs.** ``jobs/`` must not import PySide6 (import-linter enforces it),
  so jobs and this runner run under plain pytest, and ``run_inline`` runs a job on the
  calling thread (picard's ``FakeThreadPool``, napari's ``force_sync``).
* **Fixed lanes with fixed roles** (anki, picard): ``arm-read`` (16 workers), ``arm-write``
  (1, so mutations are serialised and the audit trail stays ordered), ``transfer`` (2) and
  ``restore`` (1). One executor per lane bounds each kind of work independently; a long
  download never starves tree expansion.
* **Futures**: every submission returns a ``Future`` for tests and composition, and
  ``shutdown`` cancels queued work and waits for running work at quit.
* No ``QThread`` subclasses or ``moveToThread`` (style guide B).

Listeners (``on_progress``, ``on_finished``) are called **on the worker thread**. The UI layer
(``ui/tasks.py``) bridges them to Qt signals on a QObject living on the GUI thread; a Signal
emitted from a ``concurrent.futures`` worker is delivered *queued* on the GUI thread (verified
on PySide6 6.12, style guide I.1 and recipes). Listeners must be quick and must not raise;
an exception in one is logged and swallowed.

Two calls touch the caller's thread: ``submit`` creates the job's journal file (one small
atomic write), and ``JobHandle.cancel`` on a job that never started reports ``on_finished``
right there (the bridge queues it like any other emission).

Progress is throttled to about 10 Hz per job; the last report is always delivered before
``on_finished``. Exceptions become ``AppError``: an ``AppError`` passes through, ``Cancelled``
means cancelled (not an error), anything else becomes ``AppError(Fault.APP, "Unexpected
error in <title>", details=<traceback>)``.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pgflex_gui.domain.errors import AppError, Cancelled, Fault
from pgflex_gui.jobs.job import CancelToken, Job, JobContext, Progress
from pgflex_gui.jobs.journal import JobJournal, JournalState, JournalStore
from pgflex_gui.jobs.lanes import DEFAULT_LANES, Lanes

__all__ = [
    "DEFAULT_LANES",
    "FinishedListener",
    "JobHandle",
    "JobRunner",
    "JobState",
    "ProgressListener",
]

log = logging.getLogger(__name__)


ProgressListener = Callable[[str, Progress], None]
FinishedListener = Callable[[str, Any, AppError | None, bool], None]


class JobState(StrEnum):
    """A job's life cycle as the runner sees it."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class JobHandle:
    """What ``submit`` returns: the id, the future, the state and a way to cancel."""

    id: str
    job: Job
    lane: str
    token: CancelToken
    journal: JobJournal
    future: Future[Any] = field(default_factory=Future)
    state: JobState = JobState.QUEUED
    error: AppError | None = None
    _finish_once: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _finished: bool = field(default=False, repr=False)
    _runner: JobRunner | None = field(default=None, repr=False)

    def cancel(self) -> None:
        """Ask the job to stop; a job still queued is dropped without running."""
        self.token.cancel()
        if self.future.cancel() and self._runner is not None:
            # Never started: the worker wrapper will not run, so report it here.
            self._runner._finish(self, None, None, cancelled=True)

    @property
    def done(self) -> bool:
        """True once finished, failed or cancelled."""
        return self.state in {JobState.FINISHED, JobState.FAILED, JobState.CANCELLED}


class _Throttle:
    """Per-job rate limiter that remembers the newest undelivered report."""

    def __init__(self, interval_s: float, clock: Callable[[], float]) -> None:
        self._interval = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last_emit = float("-inf")
        self._pending: Progress | None = None

    def offer(self, progress: Progress) -> Progress | None:
        """Return the progress to deliver now, or None (kept as pending)."""
        with self._lock:
            now = self._clock()
            complete = progress.total is not None and progress.done >= progress.total
            if complete or now - self._last_emit >= self._interval:
                self._last_emit = now
                self._pending = None
                return progress
            self._pending = progress
            return None

    def flush(self) -> Progress | None:
        """The newest undelivered report, if any (called once at the end)."""
        with self._lock:
            pending, self._pending = self._pending, None
            return pending


class JobRunner:
    """Named lanes of ``ThreadPoolExecutor``s that run ``Job``s and report on listeners.

    Args:
        journals: where job journals are written; None keeps them in memory.
        lanes: the app's shared :class:`~pgflex_gui.jobs.lanes.Lanes` (the GUI's task manager
            uses the same, so ``arm-write`` serializes jobs and tasks alike), or a table of
            lane sizes (default ``DEFAULT_LANES``) for lanes of its own.
        progress_interval_s: minimum seconds between progress reports per job (0.1 = 10 Hz).
        clock: monotonic clock (tests inject a fake).
    """

    def __init__(
        self,
        *,
        journals: JournalStore | None = None,
        lanes: Lanes | Mapping[str, int] = DEFAULT_LANES,
        progress_interval_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._journals = journals
        self._interval = progress_interval_s
        self._clock = clock
        self._owns_lanes = not isinstance(lanes, Lanes)
        self._lanes = lanes if isinstance(lanes, Lanes) else Lanes(lanes)
        self._lock = threading.Lock()
        self._handles: dict[str, JobHandle] = {}
        self._progress_listeners: list[ProgressListener] = []
        self._finished_listeners: list[FinishedListener] = []
        self._closed = False

    # -- listeners ---------------------------------------------------------------------------

    def subscribe(
        self,
        *,
        on_progress: ProgressListener | None = None,
        on_finished: FinishedListener | None = None,
    ) -> Callable[[], None]:
        """Add listeners; they are called on worker threads (bridge them to the GUI thread).

        Returns:
            A callable that removes these listeners again (idempotent). Call it when the
            subscriber goes away, or the runner keeps it (and whatever it holds) alive.
        """
        with self._lock:
            if on_progress is not None:
                self._progress_listeners.append(on_progress)
            if on_finished is not None:
                self._finished_listeners.append(on_finished)

        def unsubscribe() -> None:
            with self._lock:
                if on_progress is not None and on_progress in self._progress_listeners:
                    self._progress_listeners.remove(on_progress)
                if on_finished is not None and on_finished in self._finished_listeners:
                    self._finished_listeners.remove(on_finished)

        return unsubscribe

    # -- submitting --------------------------------------------------------------------------

    @property
    def lanes(self) -> tuple[str, ...]:
        """The lane names."""
        return self._lanes.names

    def handles(self) -> list[JobHandle]:
        """Every job submitted and not yet forgotten."""
        with self._lock:
            return list(self._handles.values())

    def get(self, job_id: str) -> JobHandle | None:
        """The handle of ``job_id``, if known."""
        with self._lock:
            return self._handles.get(job_id)

    def submit(self, job: Job, lane: str, *, job_id: str | None = None) -> JobHandle:
        """Queue ``job`` on ``lane``. Pass the ``job_id`` of an unfinished journal to resume.

        Raises:
            KeyError: unknown lane.
            RuntimeError: the runner was shut down.
        """
        if self._closed:
            raise RuntimeError("JobRunner is shut down")
        executor = self._lanes.executor(lane)  # KeyError: unknown lane
        handle = self._new_handle(job, lane, job_id)
        with self._lock:
            if self._closed:
                raise RuntimeError("JobRunner is shut down")
            self._handles[handle.id] = handle
            handle.future = executor.submit(self._run, handle)
        return handle

    def run_inline(self, job: Job, *, job_id: str | None = None) -> Any:
        """Run ``job`` on the calling thread (tests). Listeners are notified as usual.

        Returns the job's result; raises the normalised ``AppError``, or ``Cancelled``.
        """
        handle = self._new_handle(job, "inline", job_id)
        with self._lock:
            self._handles[handle.id] = handle
        result = self._run(handle)
        if handle.state is JobState.CANCELLED:
            raise Cancelled()
        if handle.error is not None:
            raise handle.error
        return result

    def shutdown(self, *, cancel_running: bool = True, wait: bool = True) -> None:
        """Stop accepting jobs; cancel queued (and, by default, running) jobs; wait for them."""
        with self._lock:
            self._closed = True
            handles = list(self._handles.values())
        if cancel_running:
            for handle in handles:
                if not handle.done:
                    handle.cancel()
        if self._owns_lanes:
            self._lanes.shutdown(wait=wait, cancel_futures=cancel_running)
            return
        futures = [h.future for h in handles if h.future is not None]
        if cancel_running:
            for future in futures:
                future.cancel()
        if wait:
            wait_for(futures)

    # -- internals ---------------------------------------------------------------------------

    def _new_handle(self, job: Job, lane: str, job_id: str | None) -> JobHandle:
        job_id = job_id or uuid.uuid4().hex
        if self._journals is not None:
            journal = self._journals.open_or_create(job_id=job_id, kind=job.kind, title=job.title)
        else:
            journal = JobJournal(job_id=job_id, kind=job.kind, title=job.title, path=None)
        return JobHandle(
            id=job_id, job=job, lane=lane, token=CancelToken(), journal=journal, _runner=self
        )

    def _run(self, handle: JobHandle) -> Any:
        throttle = _Throttle(self._interval, self._clock)

        def report(progress: Progress) -> None:
            out = throttle.offer(progress)
            if out is not None:
                self._emit_progress(handle.id, out)

        ctx = JobContext(
            token=handle.token,
            journal=handle.journal,
            report=report,
            log=logging.getLogger(f"pgflex_gui.jobs.{handle.job.kind or 'job'}"),
        )
        handle.state = JobState.RUNNING
        result: Any = None
        error: AppError | None = None
        cancelled = False
        try:
            handle.token.check()
            result = handle.job.run(ctx)
        except Cancelled:
            cancelled = True
        except AppError as exc:
            error = exc
        except Exception as exc:
            log.exception("Unexpected error in job %r", handle.job.title)
            error = AppError(
                fault=Fault.APP,
                summary=f"Unexpected error in {handle.job.title}",
                remedy="This is a bug in pgflex-gui; please report it with the details.",
                details="".join(traceback.format_exception(exc)),
            )
        last = throttle.flush()
        if last is not None:
            self._emit_progress(handle.id, last)
        self._finish(handle, result, error, cancelled=cancelled)
        return result

    def _finish(
        self, handle: JobHandle, result: Any, error: AppError | None, *, cancelled: bool
    ) -> None:
        with handle._finish_once:
            if handle._finished:
                return
            handle._finished = True
        handle.error = error
        if cancelled:
            handle.state = JobState.CANCELLED
            jstate, note = JournalState.CANCELLED, ""
        elif error is not None:
            handle.state = JobState.FAILED
            jstate, note = JournalState.FAILED, error.summary
        else:
            handle.state = JobState.FINISHED
            jstate, note = JournalState.FINISHED, ""
        try:
            handle.journal.set_state(jstate, note=note)
        except OSError:
            log.warning("Could not record the end of job %s in its journal", handle.id)
        with self._lock:
            listeners = list(self._finished_listeners)
        for listener in listeners:
            try:
                listener(handle.id, None if error or cancelled else result, error, cancelled)
            except Exception:
                log.exception("on_finished listener failed for job %s", handle.id)

    def _emit_progress(self, job_id: str, progress: Progress) -> None:
        with self._lock:
            listeners = list(self._progress_listeners)
        for listener in listeners:
            try:
                listener(job_id, progress)
            except Exception:
                log.exception("on_progress listener failed for job %s", job_id)
