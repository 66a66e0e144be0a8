"""What one run of the app is made of (``Composition``) and its settings holder."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgflex_gui.domain.ports import InventoryPort

__all__ = ["Composition", "SettingsHolder"]

log = logging.getLogger(__name__)


@dataclass
class Composition:
    """Everything built for one run; ``close()`` undoes it in reverse order."""

    cloud: str = ""
    account: str = ""
    inventory: InventoryPort | None = None
    runner: Any = None
    sandbox: Any = None
    log_setup: Any = None
    keystore: Any = None
    subscription_filter: Callable[[], Sequence[str]] = tuple
    pg_tool_paths: Callable[[], Mapping[str, str]] = dict  # Settings: folder per major
    tasks: Any = None  # ui.tasks.TaskManager
    journals: Any = None  # jobs.journal.JournalStore
    resumed_restores: bool = False
    audit: Any = None  # logs.AuditLog
    about: dict[str, str] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)
    after_show: list[Callable[[], None]] = field(default_factory=list)  # once the window is up

    def run_after_show(self) -> None:
        """Start what waits for the window to be on screen (called once, on the GUI thread)."""
        steps, self.after_show = self.after_show, []
        for step in steps:
            try:
                step()
            except Exception:
                log.exception("A start-up step failed")

    def close(self) -> None:
        """Stop work before what it uses: tasks, then jobs, then clients, sandbox and logs."""
        steps: list[Callable[[], None]] = []
        if self.tasks is not None:
            # Not waited for: an interactive sign-in cannot be interrupted; results are dropped.
            steps.append(lambda: self.tasks.shutdown(wait=False))
        if self.runner is not None:
            steps.append(lambda: self.runner.shutdown(cancel_running=True, wait=True))
        steps.extend(reversed(self.closers))  # factories, sandbox, excepthooks, logging
        for step in steps:
            try:
                step()
            except Exception:
                log.exception("Shutdown step failed")


class SettingsHolder:
    """The current ``Settings``: read on any thread, replaced when a dialog or sign-in saves."""

    def __init__(self, settings: Any, path: Path | None = None) -> None:
        self.settings = settings
        self._path = path
        self._lock = threading.Lock()

    def get(self) -> Any:
        return self.settings

    def save(self, settings: Any) -> Path:
        """Write ``settings`` (call on a worker: atomic write with fsync) and keep them."""
        from pgflex_gui.settings import save_settings

        with self._lock:
            saved = save_settings(settings, self._path)
            self.settings = settings
        return saved
