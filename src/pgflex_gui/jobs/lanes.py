"""One registry of named worker lanes, shared by the GUI's tasks and the job runner.

A lane is a ``ThreadPoolExecutor`` with a fixed role and width. The GUI's short reads
(``ui/tasks.TaskManager``) and the long jobs (``jobs/runner.JobRunner``) take their lanes
from one :class:`Lanes`, so the one-worker ``arm-write`` lane really serializes every ARM
write of the app: a restore wizard's fix, a protect job and a stop-protection job never run
at once against the same vault.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType

__all__ = ["DEFAULT_LANES", "Lanes"]

# ARM reads are I/O bound (one connection per subscription client, 150+ ms away on a real
# network), so the read lane is wide; protection scans get a lane of their own so the first
# server rows never wait behind them (measured with ``python -m benchmarks.inventory``).
# Writes go one at a time; transfers two; restores one (each runs its own pg_restore -j).
DEFAULT_LANES: Mapping[str, int] = MappingProxyType(
    {
        "arm-read": 16,
        "arm-scan": 4,
        "arm-write": 1,
        "transfer": 2,
        "restore": 1,
        "sign-in": 1,
        "settings": 1,
    }
)


class Lanes:
    """Named executors, each built on first use with its table width.

    Args:
        sizes: lane name → worker count. A lane not in the table is a programming error
            (``KeyError``), so a typo cannot silently make a new, unserialized lane.
    """

    def __init__(self, sizes: Mapping[str, int] = DEFAULT_LANES) -> None:
        self._sizes = dict(sizes)
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._sizes)

    def size(self, name: str) -> int:
        return self._sizes[name]

    def executor(self, name: str) -> ThreadPoolExecutor:
        """The executor of lane ``name``.

        Raises:
            KeyError: unknown lane.
            RuntimeError: the lanes were shut down.
        """
        if name not in self._sizes:
            raise KeyError(f"unknown lane {name!r}; lanes are {', '.join(self._sizes)}")
        with self._lock:
            if self._closed:
                raise RuntimeError("the lanes are shut down")
            executor = self._executors.get(name)
            if executor is None:
                executor = ThreadPoolExecutor(
                    max_workers=self._sizes[name], thread_name_prefix=f"lane-{name}"
                )
                self._executors[name] = executor
            return executor

    @property
    def closed(self) -> bool:
        return self._closed

    def shutdown(self, *, wait: bool = True, cancel_futures: bool = True) -> None:
        """Stop every lane (idempotent); queued work is cancelled unless told otherwise."""
        with self._lock:
            self._closed = True
            executors = list(self._executors.values())
            self._executors.clear()
        for executor in executors:
            executor.shutdown(wait=wait, cancel_futures=cancel_futures)
