"""What a finished restore leaves for the result view: per database, the report, the server.

Built by the restore engine from its result (``RestoreResult.summary``) once the report is
written, so the result view, the report and the job row read the same outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from pgflex_gui.domain.connection import ServerConnection
from pgflex_gui.domain.restore_outcome import RestoreOutcome

__all__ = ["DatabaseSummary", "RestoreSummary", "duration_words"]


@dataclass(frozen=True)
class DatabaseSummary:
    """One database as the result view lists it."""

    name: str
    ok: bool
    status: str  # restored | failed | refused | skipped | pending
    tables: int = 0
    rows: int = 0
    seconds: float = 0.0
    owners: str = ""  # "kept" | "no-owner" | ""
    resumed: bool = False  # restored by an earlier run of the same job
    message: str = ""

    @property
    def owners_words(self) -> str:
        return {"kept": "original owners", "no-owner": "owned by the admin"}.get(
            self.owners, "owned by the admin" if not self.owners else self.owners
        )


@dataclass(frozen=True)
class RestoreSummary:
    """A finished restore, for the result view."""

    outcome: RestoreOutcome
    databases: tuple[DatabaseSummary, ...] = ()
    connection: ServerConnection | None = None
    notes: tuple[str, ...] = ()
    elapsed_s: float = 0.0
    report_html: str = ""  # paths ("" when no report was written)
    report_json: str = ""

    @property
    def target_server_id(self) -> str:
        return self.connection.server_id if self.connection is not None else ""

    @property
    def total_rows(self) -> int:
        return sum(d.rows for d in self.databases)


def duration_words(seconds: float) -> str:
    """ "under a second", "12 s", "3 min 5 s", "2 h 4 min"."""
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 1 else "under a second"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
