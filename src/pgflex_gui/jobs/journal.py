"""A crash-safe job journal: one JSON file per job, rewritten atomically on every checkpoint.

Each write goes to ``<id>.json.tmp``, is flushed and fsynced, then ``os.replace``d over
``<id>.json`` (and the directory is fsynced where the OS allows it), so after a crash the
file holds either the previous or the next checkpoint, never half of one.

**The journal never stores secrets.** It is a plain file in the user's data folder. Keys
named like ``password``/``passwd``/``secret``/``sas``/``token``/``credential`` are refused,
and so is any string value that carries a SAS signature (``sig=``). Store the *name* of a
keystore entry instead. ``continuation_token`` (an ARM poller's resume state, which holds no
credential) is the one allowed exception, as the style guide asks to journal it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = [
    "JobJournal",
    "JournalEntry",
    "JournalSecretError",
    "JournalState",
    "JournalStore",
]

log = logging.getLogger(__name__)

_SECRET_WORDS = frozenset({"password", "passwd", "pwd", "secret", "sas", "token", "credential"})
_ALLOWED_KEYS = frozenset({"continuation_token"})
_SAS_VALUE = re.compile(r"(?:^|[?&])sig=", re.IGNORECASE)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class JournalState(StrEnum):
    """Where a job stands, as recorded in its journal file."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JournalSecretError(ValueError):
    """Raised when a caller tries to journal something that looks like a secret (a bug)."""


def _key_is_secret(key: str) -> bool:
    if key.lower() in _ALLOWED_KEYS:
        return False
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).lower()
    words = re.split(r"[^a-z0-9]+", spaced)
    return any(w in _SECRET_WORDS for w in words) or "password" in spaced


def _guard(key: str, value: Any, path: str = "") -> None:
    where = f"{path}{key}"
    if key and _key_is_secret(key):
        raise JournalSecretError(f"refusing to journal a secret-like key: {where!r}")
    if isinstance(value, str) and _SAS_VALUE.search(value):
        raise JournalSecretError(f"refusing to journal a SAS-signed value under {where!r}")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _guard(str(k), v, f"{where}.")
    elif isinstance(value, list | tuple):
        for item in value:
            _guard("", item, f"{where}[]")


@dataclass(frozen=True)
class JournalEntry:
    """A summary of one journal file, for listing unfinished work at start-up."""

    job_id: str
    kind: str
    title: str
    state: JournalState
    updated: float
    path: Path


class JobJournal:
    """The checkpoints of one job. Thread-safe: range workers may checkpoint concurrently.

    With ``path=None`` it lives in memory only (inline runs and tests).
    """

    def __init__(
        self,
        *,
        job_id: str,
        kind: str = "",
        title: str = "",
        path: Path | None = None,
        _data: dict[str, Any] | None = None,
    ) -> None:
        self.job_id = job_id
        self.path = path
        self._lock = threading.Lock()
        now = time.time()
        self._data: dict[str, Any] = _data or {
            "job_id": job_id,
            "kind": kind,
            "title": title,
            "state": JournalState.RUNNING.value,
            "created": now,
            "updated": now,
            "checkpoints": {},
        }
        if _data is None:
            self._flush()

    @classmethod
    def in_memory(cls, *, kind: str = "", title: str = "") -> JobJournal:
        """A journal that never touches disk."""
        return cls(job_id=uuid.uuid4().hex, kind=kind, title=title, path=None)

    @property
    def kind(self) -> str:
        """The job kind recorded at creation."""
        return str(self._data.get("kind", ""))

    @property
    def title(self) -> str:
        """The job title recorded at creation."""
        return str(self._data.get("title", ""))

    @property
    def state(self) -> JournalState:
        """The recorded state."""
        return JournalState(self._data["state"])

    def set_state(self, state: JournalState, *, note: str = "") -> None:
        """Record a state change (and an optional one-line note, e.g. an error summary)."""
        with self._lock:
            self._data["state"] = JournalState(state).value
            if note:
                self._data["note"] = note
            self._flush()

    def checkpoint(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable ``value`` under ``key`` and write the file atomically.

        Raises:
            JournalSecretError: the key or value looks like a secret.
            TypeError: the value is not JSON-serialisable.
        """
        self.update({key: value})

    def update(self, values: Mapping[str, Any]) -> None:
        """Store several checkpoints in one atomic write."""
        for key, value in values.items():
            _guard(key, value)
        json.dumps(dict(values))  # fail before mutating if not serialisable
        with self._lock:
            self._data["checkpoints"].update(values)
            self._flush()

    def get(self, key: str, default: Any = None) -> Any:
        """The last value checkpointed under ``key``, or ``default``."""
        with self._lock:
            return self._data["checkpoints"].get(key, default)

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of all checkpoints."""
        with self._lock:
            return json.loads(json.dumps(self._data["checkpoints"]))  # type: ignore[no-any-return]

    def delete(self) -> None:
        """Remove the file (after the user dismisses a finished job)."""
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def _flush(self) -> None:
        # Caller holds the lock (or is the constructor).
        self._data["updated"] = time.time()
        if self.path is None:
            return
        _atomic_write_json(self.path, self._data)


def _atomic_write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    payload = json.dumps(data, indent=1, sort_keys=True).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
    if hasattr(os, "O_DIRECTORY"):
        try:
            dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)


class JournalStore:
    """The journal folder: creates, reopens and lists job journals."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def create(self, *, kind: str, title: str, job_id: str | None = None) -> JobJournal:
        """Start a fresh journal file (state running)."""
        job_id = job_id or uuid.uuid4().hex
        return JobJournal(job_id=job_id, kind=kind, title=title, path=self._path(job_id))

    def open(self, job_id: str) -> JobJournal:
        """Reopen an existing journal, e.g. to resume a job after a crash.

        Raises:
            FileNotFoundError: no journal with that id.
        """
        path = self._path(job_id)
        data = json.loads(path.read_text(encoding="utf-8"))
        return JobJournal(job_id=job_id, path=path, _data=data)

    def open_or_create(self, *, job_id: str, kind: str, title: str) -> JobJournal:
        """Reopen ``job_id`` if its file exists, else create it."""
        try:
            journal = self.open(job_id)
        except FileNotFoundError:
            return self.create(kind=kind, title=title, job_id=job_id)
        journal.set_state(JournalState.RUNNING)
        return journal

    def entries(self) -> list[JournalEntry]:
        """Every readable journal, newest first. Unreadable files are logged and skipped."""
        out: list[JournalEntry] = []
        for path in self.directory.glob("*.json"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                out.append(
                    JournalEntry(
                        job_id=str(data["job_id"]),
                        kind=str(data.get("kind", "")),
                        title=str(data.get("title", "")),
                        state=JournalState(data["state"]),
                        updated=float(data.get("updated", 0.0)),
                        path=path,
                    )
                )
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("Skipping unreadable job journal %s", path.name)
        out.sort(key=lambda e: e.updated, reverse=True)
        return out

    def list_unfinished(self) -> list[JournalEntry]:
        """Jobs whose journal still says running: the app stopped or crashed under them."""
        return [e for e in self.entries() if e.state is JournalState.RUNNING]

    def _path(self, job_id: str) -> Path:
        if not _SAFE_ID.match(job_id):
            raise ValueError(f"bad job id {job_id!r}")
        return self.directory / f"{job_id}.json"
