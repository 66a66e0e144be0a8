"""How a restore ended, as one value every view reads.

The report (HTML and JSON), the GUI job row and ``pgflex restore``'s exit code all derive
from :class:`RestoreOutcome`, which :func:`restore_outcome` computes from what the engine
recorded: each database's status and the stage it failed at, whether the run was cancelled,
and the error (with the stage) that stopped the run, if one did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pgflex_gui.domain.errors import AppError, Fault

__all__ = [
    "DatabaseOutcome",
    "OutcomeKind",
    "RestoreFailed",
    "RestoreOutcome",
    "Stage",
    "StageError",
    "restore_outcome",
]


class OutcomeKind(StrEnum):
    """The four ways a restore ends."""

    SUCCEEDED = "succeeded"
    PARTLY_FAILED = "partly-failed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Stage(StrEnum):
    """The stages of a restore, in order."""

    PLAN = "plan"
    AZURE = "azure"
    DOWNLOAD = "download"
    SERVER = "server"
    ROLES = "roles"
    RESTORE = "restore"
    VERIFY = "verify"

    @property
    def words(self) -> str:
        """The stage as the end of "Failed at …"."""
        return _STAGE_WORDS[self]


_STAGE_WORDS = {
    Stage.PLAN: "the plan",
    Stage.AZURE: "the Azure restore job",
    Stage.DOWNLOAD: "the download",
    Stage.SERVER: "the target server",
    Stage.ROLES: "the roles",
    Stage.RESTORE: "pg_restore",
    Stage.VERIFY: "the checks",
}


@dataclass(frozen=True)
class DatabaseOutcome:
    """One database as the outcome sees it."""

    name: str
    ok: bool
    status: str = ""  # the engine's status word: restored | failed | refused | skipped | …
    stage: Stage | None = None  # where it failed (None when ok or never started)
    message: str = ""


@dataclass(frozen=True)
class StageError:
    """The error that stopped the whole run, and the stage it stopped at."""

    stage: Stage
    summary: str
    remedy: str = ""
    azure_code: str = ""


@dataclass(frozen=True)
class RestoreOutcome:
    """The end of a restore: kind, stage, which databases, the reason and the fix."""

    kind: OutcomeKind
    stage: Stage | None = None
    restored: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    reason: str = ""
    remedy: str = ""
    stopped: bool = False  # an error stopped the run (not just some databases failing)
    azure_code: str = ""

    @property
    def ok(self) -> bool:
        """True only when every database was restored and verified."""
        return self.kind is OutcomeKind.SUCCEEDED

    @property
    def state_word(self) -> str:
        """One word or two for a status column."""
        return {
            OutcomeKind.SUCCEEDED: "Succeeded",
            OutcomeKind.PARTLY_FAILED: "Partly failed",
            OutcomeKind.FAILED: "Failed",
            OutcomeKind.CANCELLED: "Cancelled",
        }[self.kind]

    @property
    def headline(self) -> str:
        """The first line a DBA reads, e.g. "Failed at the download"."""
        if self.kind is OutcomeKind.SUCCEEDED:
            n = len(self.restored)
            return f"Succeeded: {n} database{'s' if n != 1 else ''} restored and verified"
        if self.kind is OutcomeKind.CANCELLED:
            done = f"; restored before that: {', '.join(self.restored)}" if self.restored else ""
            return f"Cancelled{done}"
        if self.kind is OutcomeKind.PARTLY_FAILED:
            total = len(self.restored) + len(self.failed)
            return (
                f"Partly failed: {len(self.failed)} of {total} databases not restored "
                f"({', '.join(self.failed)})"
            )
        where = f" at {self.stage.words}" if self.stage is not None else ""
        return f"Failed{where}"

    @property
    def exit_code(self) -> int:
        """``pgflex restore``'s exit code: 0, 1 (databases failed), 2 (stopped), 130."""
        if self.kind is OutcomeKind.SUCCEEDED:
            return 0
        if self.kind is OutcomeKind.CANCELLED:
            return 130
        if self.kind is OutcomeKind.FAILED and self.stopped:
            return 2
        return 1

    def to_json(self) -> dict[str, object]:
        """A JSON-able form (for report.json)."""
        return {
            "kind": self.kind.value,
            "state": self.state_word,
            "headline": self.headline,
            "stage": self.stage.value if self.stage is not None else None,
            "restored": list(self.restored),
            "failed": list(self.failed),
            "reason": self.reason,
            "remedy": self.remedy,
            "exit_code": self.exit_code,
        }


def restore_outcome(
    databases: Sequence[DatabaseOutcome],
    *,
    cancelled: bool = False,
    error: StageError | None = None,
) -> RestoreOutcome:
    """The one outcome of a run.

    Rules: cancelled wins; an error that stopped the run makes it failed at that error's
    stage; otherwise every database restored is a success, none restored a failure at the
    first failed database's stage, and anything between is partly failed (naming those not
    restored).
    """
    restored = tuple(d.name for d in databases if d.ok)
    failed = tuple(d.name for d in databases if not d.ok)
    if cancelled:
        return RestoreOutcome(OutcomeKind.CANCELLED, restored=restored, failed=failed)
    if error is not None:
        return RestoreOutcome(
            OutcomeKind.FAILED,
            stage=error.stage,
            restored=restored,
            failed=failed,
            reason=error.summary,
            remedy=error.remedy,
            stopped=True,
            azure_code=error.azure_code,
        )
    if not databases:
        return RestoreOutcome(
            OutcomeKind.FAILED,
            stage=Stage.DOWNLOAD,
            reason="No database was found to restore.",
            remedy="Check the container and the databases chosen in the plan.",
            stopped=True,
        )
    if not failed:
        return RestoreOutcome(OutcomeKind.SUCCEEDED, restored=restored)
    failing = [d for d in databases if not d.ok]
    first = next((d for d in failing if d.stage is not None), failing[0])
    kind = OutcomeKind.PARTLY_FAILED if restored else OutcomeKind.FAILED
    messages = {d.message or d.status for d in failing}
    if len(messages) == 1 and len(failing) > 1:  # one cause (e.g. the server) for them all
        reason = f"{', '.join(d.name for d in failing)}: {messages.pop()}"
    else:
        reason = "; ".join(f"{d.name}: {d.message or d.status}" for d in failing)
    return RestoreOutcome(
        kind,
        stage=first.stage,
        restored=restored,
        failed=failed,
        reason=reason,
        remedy=_remedy_for(first.stage),
    )


def _remedy_for(stage: Stage | None) -> str:
    return {
        Stage.DOWNLOAD: "Fix access to the container (or pick another read method), then resume.",
        Stage.SERVER: "Fix the target server (see the reason), then resume.",
        Stage.RESTORE: (
            "Read the pg_restore errors in the report; fix the cause (extensions, roles, a "
            "database that already holds data) and resume: restored databases are not redone."
        ),
        Stage.VERIFY: "Compare the row counts in the report with the source before using it.",
    }.get(stage or Stage.PLAN, "See the report for each database, fix the cause and resume.")


@dataclass(eq=False)
class RestoreFailed(AppError):
    """A restore that did not succeed, raised to the job runner with its outcome."""

    outcome: RestoreOutcome = field(
        default_factory=lambda: RestoreOutcome(OutcomeKind.FAILED), compare=False
    )

    @classmethod
    def of(cls, outcome: RestoreOutcome, cause: AppError | None = None) -> RestoreFailed:
        """The error for ``outcome`` (keeping the cause's fault, code and details)."""
        return cls(
            fault=cause.fault if cause is not None else Fault.USER,
            summary=f"{outcome.headline}: {outcome.reason}" if outcome.reason else outcome.headline,
            remedy=outcome.remedy,
            retryable=True,
            azure_code=cause.azure_code if cause is not None else None,
            request_id=cause.request_id if cause is not None else None,
            details=cause.details if cause is not None else "",
            outcome=outcome,
        )
