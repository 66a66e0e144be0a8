"""Restore-time server parameters against the full sandbox: tuned, then always put back.

The engine sets Microsoft's pg_restore parameters through ARM on a server it creates (or one
the plan allows), journals the original values first, and puts every one back after a
success, a failed restore, a cancel, and, on rerun, after ``kill -9``. Checked through ARM and
on the real cluster (``SHOW``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pgflex_gui.domain.errors import Cancelled
from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JournalStore
from pgflex_gui.jobs.restore import RestoreResult
from pgflex_gui.jobs.restore_plan_file import RestorePlanFile, save_plan
from pgflex_gui.jobs.restore_wiring import build_engine_for
from pgflex_gui.restore_cli import _sandbox_factory
from pgflex_gui.sandbox.arm.seed import IDS
from tests.e2e.test_restore_e2e import _keystore, _plan

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
# What a new sandbox server has (as on a flexible server with 128 GiB and 8 GiB), by SHOW.
ORIGINAL_SHOW = {
    "max_wal_size": "12GB",
    "checkpoint_timeout": "10min",
    "maintenance_work_mem": "211MB",
    "work_mem": "4MB",
    "autovacuum": "on",
    "wal_compression": "off",
    "max_parallel_maintenance_workers": "2",
}
ORIGINAL_ARM = {
    "max_wal_size": "12288",
    "checkpoint_timeout": "600",
    "maintenance_work_mem": "216064",
    "work_mem": "4096",
    "autovacuum": "on",
    "wal_compression": "off",
    "max_parallel_maintenance_workers": "2",
}


CHANGED = {k: v for k, v in ORIGINAL_ARM.items() if k != "max_parallel_maintenance_workers"}


@pytest.fixture(scope="module", autouse=True)
def _keyring_probe_first() -> None:
    """The keyring probe starts multiprocessing's resource tracker once per session: before
    the per-test leak check, not during the first test."""
    _keystore()


def _one_db(sandbox: Any, make_client: Any, tmp: Path, server: str) -> RestorePlanFile:
    plan = _plan(sandbox, make_client, tmp, server, f"tune-{server[-6:]}", databases=("sales",))
    return plan.with_changes(source_counts={"sales": plan.source_counts["sales"]})


def _show(sandbox: Any, server: str) -> dict[str, str]:
    key = sandbox.world.server_key(IDS.server_id(server))
    return {n: sandbox.dataplane.get_configuration(key, n) for n in ORIGINAL_SHOW}


def _arm(make_client: Any, server: str) -> dict[str, str]:
    from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient

    pg = make_client(PostgreSQLManagementClient)
    return {
        n: str(pg.configurations.get(IDS.RG_PG, server, n).properties.value) for n in ORIGINAL_ARM
    }


def _engine_run(sandbox: Any, plan: RestorePlanFile, journal_dir: Path, job: str,
                token: CancelToken | None = None) -> RestoreResult:  # fmt: skip
    factory, credential, ca = _sandbox_factory(sandbox.workdir)
    engine = build_engine_for(
        plan, factory=factory, credential=credential, secrets=_keystore(), connection_verify=ca,
        poll_s=0.2,
    )  # fmt: skip
    journal = JournalStore(journal_dir).open_or_create(job_id=job, kind="restore", title=job)
    return engine.run(JobContext(token=token or CancelToken(), journal=journal))


def _assert_put_back(sandbox: Any, make_client: Any, server: str) -> None:
    assert _show(sandbox, server) == ORIGINAL_SHOW
    assert _arm(make_client, server) == ORIGINAL_ARM


def test_tuned_for_the_load_then_put_back_after_success_and_after_a_failure(
    sandbox: Any, make_client: Any, tmp_path: Path
) -> None:
    server = "pg-tuned-ok"
    plan = _one_db(sandbox, make_client, tmp_path, server)
    res = _engine_run(sandbox, plan, tmp_path / "j1", "ok")
    assert res.ok, (res.notes, [(d.name, d.status, d.message) for d in res.databases])
    tuned = {c.name: c.tuned for c in res.tuning}
    assert tuned["autovacuum"] == "off"
    assert tuned["max_wal_size"] == "65536"
    assert tuned["checkpoint_timeout"] == "3600"
    # All but max_parallel_maintenance_workers: at 2 vCores its tuned value is its default.
    assert {c.name: c.original for c in res.tuning} == CHANGED
    assert res.tuning_reverted
    assert any(n.startswith("Server parameters for the restore") for n in res.notes)
    assert any(n.startswith("Server parameters put back") for n in res.notes)
    assert any(b.label == "VACUUM ANALYZE sales" and b.status == "ok" for b in res.timeline)
    _assert_put_back(sandbox, make_client, server)
    # Failure: the same server as an existing target the user lets the app tune; sales holds
    # data now, so it is refused, and the parameters still go back.
    target = dataclasses.replace(plan.target, mode="existing", tuning="on")
    again = plan.with_changes(source=None, target=target)
    res2 = _engine_run(sandbox, again, tmp_path / "j2", "fail")
    assert not res2.ok
    assert res2.databases[0].status == "refused"
    assert res2.tuning
    assert res2.tuning_reverted
    _assert_put_back(sandbox, make_client, server)
    # Not allowed: an existing server is never tuned without the user's say-so.
    untouched = again.with_changes(target=dataclasses.replace(target, tuning="auto"))
    res3 = _engine_run(sandbox, untouched, tmp_path / "j3", "no")
    assert res3.tuning == []


def test_parameters_are_put_back_after_a_cancel(sandbox: Any, make_client: Any, tmp_path: Path) -> None:  # fmt: skip
    server = "pg-tuned-cancel"
    plan = _one_db(sandbox, make_client, tmp_path, server)
    token = CancelToken()
    journal = tmp_path / "j" / "cancel.json"
    outcome: list[BaseException | RestoreResult] = []

    def run() -> None:
        try:
            outcome.append(_engine_run(sandbox, plan, tmp_path / "j", "cancel", token))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and worker.is_alive():
        try:
            tuning = json.loads(journal.read_text())["checkpoints"].get("tuning") or {}
        except (OSError, ValueError, KeyError):
            tuning = {}
        if len(tuning.get("applied") or ()) == len(CHANGED):
            break
        time.sleep(0.1)
    assert worker.is_alive(), outcome
    assert _show(sandbox, server)["autovacuum"] == "off"  # tuned while the restore runs
    token.cancel()
    worker.join(300)
    assert not worker.is_alive()
    assert isinstance(outcome[0], Cancelled), outcome
    _assert_put_back(sandbox, make_client, server)


def test_parameters_are_put_back_by_the_rerun_after_kill_minus_nine(
    sandbox: Any, make_client: Any, tmp_path: Path
) -> None:
    server = "pg-tuned-kill"
    plan = _one_db(sandbox, make_client, tmp_path, server)
    save_plan(plan, tmp_path / "plan.json")
    journal_dir = tmp_path / "journal"
    argv = [sys.executable, "-m", "pgflex_gui.restore_cli", "--plan", str(tmp_path / "plan.json"),
            "--sandbox", str(sandbox.workdir), "--journal-dir", str(journal_dir), "--quiet",
            "--job-id", "tunekill"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with (tmp_path / "child.log").open("w") as log:
        child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and child.poll() is None:
            try:
                cps = json.loads((journal_dir / "tunekill.json").read_text())["checkpoints"]
            except (OSError, ValueError, KeyError):
                cps = {}
            if len((cps.get("tuning") or {}).get("applied") or ()) == len(CHANGED):
                break
            time.sleep(0.1)
        assert child.poll() is None, (tmp_path / "child.log").read_text()[-3000:]
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert _show(sandbox, server)["autovacuum"] == "off"  # left tuned by the killed run
    rerun = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    _assert_put_back(sandbox, make_client, server)
    report = json.loads((journal_dir / "tunekill-report" / "report.json").read_text())
    assert any("Server parameters put back" in n for n in report["notes"])
