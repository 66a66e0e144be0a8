"""The thread bridge: short reads run on lane executors, results come back on the GUI thread.

Usage (anki style)::

    tasks.task(inventory.list_tenants).keyed(("root", uid)).on_success(show).on_failure(
        warn
    ).in_lane("arm-read").start()

Every task may carry a key. :meth:`TaskManager.invalidate` bumps the key's generation, and a
result whose generation is no longer current is dropped (style H.3, I.4). A function that
returns an iterator, started with :meth:`Task.on_item`, delivers each item as it arrives,
which is how pages of a listing become rows one page at a time.
"""

from __future__ import annotations

import itertools
import logging
import threading
import traceback
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from pgflex_gui.domain.errors import AppError, Cancelled, Fault
from pgflex_gui.jobs.lanes import DEFAULT_LANES, Lanes
from pgflex_gui.logs import redact

__all__ = ["DEFAULT_LANES", "Task", "TaskManager", "as_app_error"]

log = logging.getLogger(__name__)


def as_app_error(exc: BaseException) -> AppError:
    """An AppError as is; anything else is a bug in the app, told plainly with the traceback."""
    if isinstance(exc, AppError):
        return exc
    # Shown in the Details box and copied to the clipboard: redacted like the log file.
    details = redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return AppError(
        fault=Fault.APP,
        summary="Something went wrong inside pgflex-gui.",
        remedy="Try again; if it keeps happening, copy the details into a bug report.",
        details=details,
    )


@dataclass(frozen=True)
class _Message:
    task_id: int
    kind: str  # "item" | "ok" | "err" | "cancelled"
    payload: Any = None


class Task:
    """One call to run off the GUI thread. Build it, then :meth:`start` it once."""

    def __init__(self, manager: TaskManager, fn: Callable[..., Any], *args: Any, **kwargs: Any):
        self._manager = manager
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.lane = "arm-read"
        self.key: Hashable | None = None
        self.generation = 0
        self.success_cb: Callable[[Any], None] | None = None
        self.failure_cb: Callable[[AppError], None] | None = None
        self.item_cb: Callable[[Any], None] | None = None

    def on_success(self, cb: Callable[[Any], None]) -> Task:
        self.success_cb = cb
        return self

    def on_failure(self, cb: Callable[[AppError], None]) -> Task:
        self.failure_cb = cb
        return self

    def on_item(self, cb: Callable[[Any], None]) -> Task:
        """Iterate the function's result in the worker and deliver each item on its own."""
        self.item_cb = cb
        return self

    def in_lane(self, lane: str) -> Task:
        self.lane = lane
        return self

    def keyed(self, key: Hashable) -> Task:
        """Tag the results with ``key`` and its current generation; stale results are dropped."""
        self.key = key
        return self

    def start(self) -> Future[None] | None:
        """Submit to the lane; None when run inline (tests) or after shutdown."""
        return self._manager.submit(self)


class TaskManager(QObject):
    """Runs :class:`Task` objects on named lanes and delivers their results on the GUI thread.

    Create it on the GUI thread. ``inline=True`` runs each task at once in the caller's thread
    (picard's ``FakeThreadPool``), for tests that want a synchronous loader.

    ``lanes``: the app's shared :class:`~pgflex_gui.jobs.lanes.Lanes` (the job runner uses
    the same, so ``arm-write`` serializes tasks and jobs alike); or a table of lane sizes, or
    None for the default table, for lanes of its own that :meth:`shutdown` stops.

    Signals:
        delivered(object): internal bridge carrying a ``_Message`` from a worker.
        idle(): emitted when the last pending task has delivered its result.
    """

    delivered = Signal(object)
    idle = Signal()

    def __init__(
        self,
        *,
        lanes: Lanes | Mapping[str, int] | None = None,
        inline: bool = False,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._owns_lanes = not isinstance(lanes, Lanes)
        self.lanes = lanes if isinstance(lanes, Lanes) else Lanes(lanes or DEFAULT_LANES)
        self._futures: set[Future[None]] = set()
        self._inline = inline
        self._ids = itertools.count(1)
        self._live: dict[int, Task] = {}
        self._generations: dict[Hashable, int] = {}
        self._closing = threading.Event()
        self.delivered.connect(self._on_self_delivered)

    # -- building -------------------------------------------------------------------------
    def task(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
        """A new task calling ``fn(*args, **kwargs)``."""
        return Task(self, fn, *args, **kwargs)

    def generation(self, key: Hashable) -> int:
        return self._generations.get(key, 0)

    def invalidate(self, key: Hashable) -> None:
        """Make every result still on its way for ``key`` stale."""
        self._generations[key] = self._generations.get(key, 0) + 1

    @property
    def pending(self) -> int:
        return len(self._live)

    # -- running --------------------------------------------------------------------------
    def submit(self, task: Task) -> Future[None] | None:
        if self._closing.is_set():
            return None
        task_id = next(self._ids)
        if task.key is not None:
            task.generation = self.generation(task.key)
        self._live[task_id] = task
        if self._inline:
            self._run(task_id, task, self._on_self_delivered)
            return None
        try:
            future = self.lanes.executor(task.lane).submit(self._run, task_id, task, self._emit)
        except RuntimeError:  # the shared lanes were shut down first (quitting)
            self._live.pop(task_id, None)
            return None
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        return future

    def _emit(self, message: _Message) -> None:
        if self._closing.is_set():
            return
        try:
            self.delivered.emit(message)
        except RuntimeError:  # the bridge is gone (quitting)
            pass

    def _run(self, task_id: int, task: Task, emit: Callable[[_Message], None]) -> None:
        try:
            result = task.fn(*task.args, **task.kwargs)
            if task.item_cb is not None and isinstance(result, Iterable):
                for item in result:
                    if self._closing.is_set():
                        return
                    emit(_Message(task_id, "item", item))
                result = None
            emit(_Message(task_id, "ok", result))
        except Cancelled:
            emit(_Message(task_id, "cancelled"))
        except Exception as exc:
            if not isinstance(exc, AppError):
                log.exception("Task %s failed unexpectedly", getattr(task.fn, "__name__", task.fn))
            emit(_Message(task_id, "err", as_app_error(exc)))

    def _on_self_delivered(self, message: _Message) -> None:
        final = message.kind != "item"
        task = self._live.pop(message.task_id, None) if final else self._live.get(message.task_id)
        if task is None:
            return
        try:
            if task.key is not None and task.generation != self.generation(task.key):
                log.debug("Dropped a stale result for %r", task.key)
                return
            if message.kind == "item" and task.item_cb is not None:
                task.item_cb(message.payload)
            elif message.kind == "ok" and task.success_cb is not None:
                task.success_cb(message.payload)
            elif message.kind == "err":
                if task.failure_cb is not None:
                    task.failure_cb(message.payload)
                else:
                    log.warning("Unhandled task failure: %s", message.payload.summary)
        except Exception:
            log.exception("A task callback failed")
        finally:
            if final and not self._live:
                self.idle.emit()

    def shutdown(self, *, wait: bool = True) -> None:
        """Cancel queued work, drop pending results, and (by default) wait for the workers."""
        self._closing.set()
        self._live.clear()
        if self._owns_lanes:
            self.lanes.shutdown(wait=wait, cancel_futures=True)
            return
        futures = list(self._futures)  # shared lanes: stop only this manager's work
        for future in futures:
            future.cancel()
        if wait:
            wait_for(futures)
