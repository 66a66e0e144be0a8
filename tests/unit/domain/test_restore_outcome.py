"""RestoreOutcome: the one value the report, the job row and the exit code read."""

from __future__ import annotations

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.restore_outcome import (
    DatabaseOutcome,
    OutcomeKind,
    RestoreFailed,
    Stage,
    StageError,
    restore_outcome,
)

OK = DatabaseOutcome("sales", ok=True, status="restored")
BAD = DatabaseOutcome("hr", ok=False, status="failed", stage=Stage.RESTORE, message="boom")


def test_all_restored_is_success_with_exit_0() -> None:
    out = restore_outcome([OK, DatabaseOutcome("hr", ok=True, status="restored")])
    assert out.kind is OutcomeKind.SUCCEEDED
    assert out.ok
    assert out.exit_code == 0
    assert out.headline == "Succeeded: 2 databases restored and verified"
    assert out.to_json()["kind"] == "succeeded"


def test_some_failed_is_partly_failed_naming_them() -> None:
    out = restore_outcome([OK, BAD])
    assert out.kind is OutcomeKind.PARTLY_FAILED
    assert not out.ok
    assert out.failed == ("hr",)
    assert out.restored == ("sales",)
    assert out.stage is Stage.RESTORE
    assert out.exit_code == 1
    assert "hr" in out.headline
    assert "1 of 2" in out.headline
    assert "hr: boom" in out.reason


def test_every_database_failed_is_failed_at_their_stage() -> None:
    dl = DatabaseOutcome("a", ok=False, status="failed", stage=Stage.DOWNLOAD, message="403")
    out = restore_outcome([dl, DatabaseOutcome("b", ok=False, status="skipped")])
    assert out.kind is OutcomeKind.FAILED
    assert out.stage is Stage.DOWNLOAD
    assert out.headline == "Failed at the download"
    assert out.exit_code == 1  # the run went on; databases failed
    assert not out.stopped


def test_an_error_that_stopped_the_run_wins_over_databases() -> None:
    err = StageError(Stage.DOWNLOAD, "Invalid token audience.", "Pick another read method.")
    out = restore_outcome([], error=err)
    assert out.kind is OutcomeKind.FAILED
    assert out.stopped
    assert out.exit_code == 2
    assert out.headline == "Failed at the download"
    assert out.reason == "Invalid token audience."
    assert out.remedy == "Pick another read method."


def test_cancelled_wins_and_exits_130() -> None:
    out = restore_outcome([OK, BAD], cancelled=True, error=StageError(Stage.AZURE, "x"))
    assert out.kind is OutcomeKind.CANCELLED
    assert out.exit_code == 130
    assert out.headline == "Cancelled; restored before that: sales"


def test_no_databases_and_no_error_is_not_a_success() -> None:
    out = restore_outcome([])
    assert out.kind is OutcomeKind.FAILED
    assert not out.ok


def test_every_stage_has_words() -> None:
    for stage in Stage:
        assert restore_outcome([], error=StageError(stage, "x")).headline.startswith("Failed at")


def test_restore_failed_carries_the_outcome_and_the_cause() -> None:
    cause = AppError(Fault.PERMISSION, "Denied.", azure_code="AuthenticationFailed", details="d")
    out = restore_outcome([], error=StageError(Stage.DOWNLOAD, "Denied."))
    err = RestoreFailed.of(out, cause)
    assert err.outcome is out
    assert err.fault is Fault.PERMISSION
    assert err.azure_code == "AuthenticationFailed"
    assert err.summary == "Failed at the download: Denied."
    assert isinstance(err, AppError)
