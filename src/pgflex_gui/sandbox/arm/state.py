"""Sandbox state: one JSON document in the workdir, guarded by a re-entrant lock."""

from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["State", "norm", "public"]

Json = dict[str, Any]


def norm(resource_id: str) -> str:
    """Case-insensitive key for an ARM id (ARM ids compare case-insensitively)."""
    return "/" + resource_id.strip("/").lower()


def public(resource: Json) -> Json:
    """A copy of a stored resource without the sandbox's private ``_`` keys."""
    return {k: copy.deepcopy(v) for k, v in resource.items() if not k.startswith("_")}


class State:
    """All ARM-visible things, keyed by normalised ARM id, saved to ``path`` on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.data: Json = {
            "tenants": {},
            "subscriptions": {},
            "apps": {},
            "principals": {},
            "resources": {},
            "operations": {},
            "settings": {},
        }
        if path.exists():
            loaded = json.loads(path.read_text(encoding="utf-8"))
            self.data.update(loaded)
        self._dirty = False
        self._batch = 0

    # -- persistence -------------------------------------------------------------------
    def save(self) -> None:
        """Write the state atomically (0600: it holds the app secret)."""
        with self.lock:
            if self._batch:
                self._dirty = True
                return
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.data, fh)
            tmp.replace(self.path)
            self._dirty = False

    def batch(self) -> _Batch:
        """Context manager that defers saving until the outermost batch ends."""
        return _Batch(self)

    # -- resources ---------------------------------------------------------------------
    @property
    def resources(self) -> dict[str, Json]:
        """The resource table (normalised id -> resource JSON)."""
        return self.data["resources"]  # type: ignore[no-any-return]

    def get(self, resource_id: str) -> Json | None:
        """The stored resource (live object; hold the lock to mutate) or None."""
        return self.resources.get(norm(resource_id))

    def put(self, resource: Json) -> Json:
        """Insert or replace a resource by its ``id``."""
        with self.lock:
            self.resources[norm(resource["id"])] = resource
            self.save()
        return resource

    def delete(self, resource_id: str) -> Json | None:
        """Remove a resource and everything below it; return it."""
        key = norm(resource_id)
        with self.lock:
            found = self.resources.pop(key, None)
            for child in [k for k in self.resources if k.startswith(key + "/")]:
                del self.resources[child]
            self.save()
        return found

    def children(self, parent_id: str, rtype: str) -> list[Json]:
        """Resources of full type ``rtype`` whose id starts under ``parent_id`` (any depth)."""
        prefix = norm(parent_id) + "/" if parent_id.strip("/") else "/"
        rtype = rtype.lower()
        with self.lock:
            return [
                r
                for k, r in self.resources.items()
                if k.startswith(prefix) and str(r.get("type", "")).lower() == rtype
            ]


class _Batch:
    def __init__(self, state: State) -> None:
        self.state = state

    def __enter__(self) -> State:
        self.state.lock.acquire()
        self.state._batch += 1
        return self.state

    def __exit__(self, *exc: object) -> None:
        self.state._batch -= 1
        if not self.state._batch and self.state._dirty:
            self.state.save()
        self.state.lock.release()
