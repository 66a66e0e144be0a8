"""Each way a restore ends shows the same outcome in report.json, report.html and the runner.

The engine runs with the hand-written fakes of ``test_restore_engine``; the runner is the
real ``JobRunner`` (inline), the report the real writer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pgflex_gui.domain.errors import AppError, Cancelled, Fault
from pgflex_gui.domain.restore_outcome import OutcomeKind, RestoreFailed, Stage
from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JournalState
from pgflex_gui.jobs.report import write_report
from pgflex_gui.jobs.restore import ArmJob, RestoreEngine, RestoreJob, RestoreResult
from pgflex_gui.jobs.runner import JobRunner
from tests.unit.test_restore_engine import make_plan
from tests.unit.test_restore_engine import world as world


class DeniedListing:
    """A container that answers 403 the way the storage adapter reports it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def list_blobs(self, prefix: str = "") -> Any:
        raise AppError(
            Fault.PERMISSION,
            "Access to the container was refused: Invalid token audience.",
            "Use another read method.",
            azure_code="AuthenticationFailed",
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _engine(world: dict[str, Any], tmp_path: Path, **plan_kw: Any) -> RestoreEngine:
    return RestoreEngine(
        make_plan(tmp_path, **plan_kw),
        arm=world["arm"],
        downloader=world["dl"],
        pg=world["pg"],
        secrets=world["secrets"],
        poll_s=0.01,
    )


def _run(world: dict[str, Any], engine: RestoreEngine, token: CancelToken | None = None) -> Any:
    journal = world["store"].open_or_create(job_id="j", kind="restore", title="t")
    return engine.run(JobContext(token=token or CancelToken(), journal=journal))


def _reports(result: RestoreResult, tmp_path: Path) -> tuple[dict[str, Any], str]:
    paths = write_report(result, tmp_path / "rep", title="t")
    return json.loads(paths["json"].read_text()), paths["html"].read_text()


def _runner_error(engine: RestoreEngine) -> tuple[JobRunner, Any]:
    runner = JobRunner()
    seen: list[Any] = []
    runner.subscribe(on_finished=lambda _id, _res, err, cancelled: seen.append((err, cancelled)))
    try:
        runner.run_inline(RestoreJob(engine))
    except (AppError, Cancelled):
        pass
    finally:
        runner.shutdown()
    return runner, seen[0]


def test_success(world: dict[str, Any], tmp_path: Path) -> None:
    engine = _engine(world, tmp_path)
    result = _run(world, engine)
    data, page = _reports(result, tmp_path)
    assert data["ok"] is True
    assert data["outcome"]["kind"] == "succeeded"
    assert data["outcome"]["exit_code"] == 0
    assert 'data-outcome="succeeded"' in page
    assert "Succeeded: 3 databases restored" in page


def test_failed_at_the_download_is_never_reported_as_success(world: dict[str, Any], tmp_path: Path) -> None:  # fmt: skip
    world["dl"] = DeniedListing(world["dl"])
    engine = _engine(world, tmp_path)
    with pytest.raises(AppError):
        _run(world, engine)
    outcome = engine.result.outcome
    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.stage is Stage.DOWNLOAD
    assert outcome.exit_code == 2
    data, page = _reports(engine.result, tmp_path)
    assert data["ok"] is False
    assert data["outcome"]["stage"] == "download"
    assert "Invalid token audience" in data["outcome"]["reason"]
    assert "Succeeded" not in page
    assert "Failed at the download" in page
    assert "Invalid token audience" in page
    assert "No database was restored." in page
    # The job the GUI runs fails with the same outcome.
    engine2 = _engine(world, tmp_path / "again")
    _, (err, cancelled) = _runner_error(engine2)
    assert not cancelled
    assert isinstance(err, RestoreFailed)
    assert err.outcome.headline == "Failed at the download"
    assert err.azure_code == "AuthenticationFailed"


def test_failed_azure_job_is_failed_at_the_azure_stage(world: dict[str, Any], tmp_path: Path) -> None:  # fmt: skip
    world["arm"].get_job = lambda _plan, _job: ArmJob("Failed", 0, "UserErrorRestoreFailed")
    engine = _engine(world, tmp_path)
    with pytest.raises(AppError):
        _run(world, engine)
    assert engine.result.outcome.stage is Stage.AZURE
    data, _page = _reports(engine.result, tmp_path)
    assert data["outcome"]["headline"] == "Failed at the Azure restore job"


def test_partly_failed_names_the_databases(world: dict[str, Any], tmp_path: Path) -> None:
    world["pg"].fail = {"a"}
    engine = _engine(world, tmp_path)
    result = _run(world, engine)
    outcome = result.outcome
    assert outcome.kind is OutcomeKind.PARTLY_FAILED
    assert outcome.failed == ("a",)
    assert outcome.stage is Stage.RESTORE
    assert outcome.exit_code == 1
    data, page = _reports(result, tmp_path)
    assert data["ok"] is False
    assert data["outcome"]["failed"] == ["a"]
    assert "Partly failed: 1 of 3 databases not restored (a)" in page
    engine2 = _engine(world, tmp_path / "again")
    world["pg"].dbs.clear()
    world["arm"].exists = False
    _, (err, _cancelled) = _runner_error(engine2)
    assert isinstance(err, RestoreFailed)
    assert err.outcome.kind is OutcomeKind.PARTLY_FAILED


def test_cancelled(world: dict[str, Any], tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    engine = _engine(world, tmp_path)
    with pytest.raises(Cancelled):
        _run(world, engine, token)
    assert engine.result.outcome.kind is OutcomeKind.CANCELLED
    assert engine.result.outcome.exit_code == 130
    data, page = _reports(engine.result, tmp_path)
    assert data["ok"] is False
    assert data["outcome"]["kind"] == "cancelled"
    assert 'data-outcome="cancelled"' in page


def test_runner_journals_a_failed_restore_as_failed(world: dict[str, Any], tmp_path: Path) -> None:  # fmt: skip
    world["pg"].fail = {"a", "b", "c"}
    engine = _engine(world, tmp_path)
    runner = JobRunner(journals=world["store"])
    try:
        handle = runner.submit(RestoreJob(engine), "restore", job_id="gui-job")
        handle.future.result(timeout=30)
    finally:
        runner.shutdown()
    assert isinstance(handle.error, RestoreFailed)
    assert handle.error.outcome.kind is OutcomeKind.FAILED
    assert handle.error.outcome.stage is Stage.RESTORE
    assert world["store"].open("gui-job").state is JournalState.FAILED
