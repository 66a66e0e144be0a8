"""How far a restore is, per database and overall, and how long is left (pure).

A restore runs through stages (the Azure restore job, the download, the target server,
``pg_restore``, the checks); each database moves through them at its own pace. The overall
fraction weights each database by its file size and each stage by its usual share of the work,
and never goes backwards. The time left comes from the work remaining and the rate measured
over a recent window; until there is a rate it is None ("estimating…"), never "0 s".
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum, StrEnum

__all__ = [
    "OUTPUT_LINES",
    "Created",
    "CreatedKind",
    "DbProgress",
    "DbStage",
    "ProgressTracker",
    "RestoreProgress",
    "eta_words",
]

AZURE_SHARE = 0.05  # the Azure restore job: measured in job states, not bytes
DOWNLOAD_SHARE = 0.35  # of a database's share
RESTORE_SHARE = 0.55
VERIFY_SHARE = 0.10
MIN_WINDOW_S = 2.0  # no estimate before the rate was measured this long
WINDOW_S = 30.0
OUTPUT_LINES = 500


class DbStage(Enum):
    """Where one database is."""

    WAITING = "Waiting"
    DOWNLOAD = "Download"
    SERVER = "Waiting for the server"
    RESTORE = "Restore"
    VERIFY = "Verify"
    DONE = "Done"
    FAILED = "Failed"
    SKIPPED = "Skipped"

    @property
    def finished(self) -> bool:
        """True once nothing more happens to this database."""
        return self in (DbStage.DONE, DbStage.FAILED, DbStage.SKIPPED)


@dataclass(frozen=True)
class DbProgress:
    """One database: its stage and what of it is done."""

    name: str
    size: int = 0
    stage: DbStage = DbStage.WAITING
    bytes_done: int = 0
    objects_done: int = 0
    objects_total: int = 0
    command: str = ""  # the pg_restore command line (no secret is ever on it)
    output: tuple[str, ...] = ()  # its latest output lines (at most OUTPUT_LINES)

    @property
    def fraction(self) -> float:
        """This database's work done, 0..1, across download, restore and checks."""
        if self.stage.finished:
            return 1.0
        download = 1.0 if self.stage is not DbStage.DOWNLOAD else _ratio(self.bytes_done, self.size)
        if self.stage is DbStage.WAITING:
            download = 0.0
        restore = 0.0
        if self.stage is DbStage.RESTORE:
            restore = _ratio(self.objects_done, self.objects_total)
        elif self.stage is DbStage.VERIFY:
            restore = 1.0
        return DOWNLOAD_SHARE * download + RESTORE_SHARE * restore

    def done_words(self) -> str:
        """What is done in this stage, in words ("12.5 MB of 40.0 MB", "120 of 340 objects")."""
        if self.stage is DbStage.DOWNLOAD:
            return f"{_mb(self.bytes_done)} of {_mb(self.size)}"
        if self.stage is DbStage.RESTORE:
            total = f" of {self.objects_total}" if self.objects_total else ""
            return f"{self.objects_done}{total} objects"
        if self.stage is DbStage.DONE and self.objects_total:
            return f"{self.objects_total} objects"
        return ""


class CreatedKind(StrEnum):
    """What a restore can make (and a clean-up after a cancel can delete)."""

    SERVER = "server"  # a new flexible server (and its generated admin password)
    FILE = "file"  # a downloaded file
    DATABASE = "database"  # a database made on an existing server


@dataclass(frozen=True)
class Created:
    """One thing this restore made: what, its name, and the words that say so."""

    kind: CreatedKind
    name: str  # server name, file path, or database name
    words: str
    server: str = ""  # for a database: the server it is on

    def __str__(self) -> str:
        return self.words


@dataclass(frozen=True)
class RestoreProgress:
    """A snapshot of a whole restore, for the jobs row and the progress table."""

    stage: str  # the restore's current stage in words
    databases: tuple[DbProgress, ...] = ()
    fraction: float = 0.0  # overall, 0..1, never less than an earlier snapshot's
    eta_s: float | None = None  # None: no measured rate yet ("estimating…")
    created: tuple[Created, ...] = ()  # what this restore made so far (for a cancel)

    def database(self, name: str) -> DbProgress | None:
        """The database called ``name``, if the restore has it."""
        return next((d for d in self.databases if d.name == name), None)


class ProgressTracker:
    """Folds stage and per-database events into ``RestoreProgress`` snapshots.

    Not thread-safe on its own: the caller serializes updates (the engine holds a lock).
    ``clock`` returns seconds (monotonic).
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._stage = "Starting"
        self._azure_done = False
        self._dbs: dict[str, DbProgress] = {}
        self._best = 0.0
        self._samples: deque[tuple[float, float]] = deque()
        self._created: list[Created] = []

    def stage(self, words: str, *, azure_done: bool | None = None) -> None:
        """The restore as a whole moved to ``words`` (e.g. "Downloading")."""
        self._stage = words
        if azure_done is not None:
            self._azure_done = self._azure_done or azure_done

    def created(self, thing: Created) -> None:
        """The restore made something (a server, a downloaded file, a database)."""
        if thing not in self._created:
            self._created.append(thing)

    def databases(self, sizes: dict[str, int]) -> None:
        """The databases the restore will handle, with their file sizes (bytes)."""
        self._azure_done = True
        for name, size in sizes.items():
            self._dbs.setdefault(name, DbProgress(name, size=max(0, int(size))))

    def update(self, name: str, **changes: object) -> None:
        """Change fields of one database (``stage``, ``bytes_done``, ``objects_done`` …)."""
        current = self._dbs.get(name) or DbProgress(name)
        self._dbs[name] = replace(current, **changes)  # type: ignore[arg-type]

    def output(self, name: str, line: str) -> None:
        """One more output line of ``name``'s restore (the oldest go past OUTPUT_LINES)."""
        current = self._dbs.get(name) or DbProgress(name)
        lines = (*current.output, line)[-OUTPUT_LINES:]
        self._dbs[name] = replace(current, output=lines)

    def work_fraction(self) -> float:
        """The work done now, 0..1 (may go down when a total grows; see ``snapshot``)."""
        if not self._dbs:
            return AZURE_SHARE if self._azure_done else 0.0
        weights = {n: max(d.size, 1) for n, d in self._dbs.items()}
        total = sum(weights.values())
        dbs = sum(d.fraction * weights[n] / total for n, d in self._dbs.items())
        return AZURE_SHARE + (1 - AZURE_SHARE) * dbs

    def snapshot(self) -> RestoreProgress:
        """The current state, with an overall fraction that never goes backwards."""
        now = self._clock()
        self._best = max(self._best, min(1.0, self.work_fraction()))
        self._samples.append((now, self._best))
        while len(self._samples) > 2 and now - self._samples[1][0] >= WINDOW_S:
            self._samples.popleft()
        return RestoreProgress(
            stage=self._stage,
            databases=tuple(self._dbs.values()),
            fraction=self._best,
            eta_s=self._eta(now),
            created=tuple(self._created),
        )

    def _eta(self, now: float) -> float | None:
        if self._best >= 1.0:
            return 0.0
        if not self._azure_done or not self._dbs:
            return None  # the Azure job's length can't be measured in bytes
        first_t, first_f = self._samples[0]
        elapsed, gained = now - first_t, self._best - first_f
        if elapsed < MIN_WINDOW_S or gained <= 0:
            return None
        rate = gained / elapsed
        return (1.0 - self._best) / rate


def eta_words(seconds: float | None, *, running: bool = True) -> str:
    """A time left in words: "estimating…" without a rate, never "0 s" before the end."""
    if seconds is None or math.isnan(seconds):
        return "estimating…" if running else ""
    if seconds < 1:
        return "almost done" if running else ""
    seconds = math.ceil(seconds)
    if seconds < 60:
        return f"{seconds} s left"
    if seconds < 3600:
        return f"{math.ceil(seconds / 60)} min left"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min left"


def _ratio(done: int, total: int) -> float:
    if total <= 0:
        return 0.0
    return max(0.0, min(1.0, done / total))


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
