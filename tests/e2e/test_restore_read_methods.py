"""``pgflex restore`` with each read method, and a failed download's outcome, on the sandbox.

The default read method (the Entra sign-in) restores end to end: the Storage token has the
audience ``https://storage.azure.com`` and Azurite accepts it. A download that is refused
ends as "Failed at the download" in the report, the journal and the exit code (2).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from pgflex_gui.jobs.journal import JournalState, JournalStore
from pgflex_gui.jobs.restore_plan_file import ContainerSpec, RestorePlanFile, TargetSpec, save_plan
from pgflex_gui.restore_cli import main
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.pgdata import SEED_DATABASES
from tests.e2e.test_restore_e2e import _container, _keystore, _plan, _target_counts

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(1500)]


def _argv(sandbox: Any, tmp: Path, plan: RestorePlanFile) -> list[str]:
    save_plan(plan, tmp / "plan.json")
    return ["--plan", str(tmp / "plan.json"), "--sandbox", str(sandbox.workdir),
            "--journal-dir", str(tmp / "journal"), "--quiet", "--job-id", "rm"]  # fmt: skip


def _report(tmp: Path) -> dict[str, Any]:
    return dict(json.loads(next((tmp / "journal").glob("*-report/report.json")).read_text()))


@pytest.mark.parametrize("method", ["entra", "account-key"])
def test_restore_reads_the_files_with_each_method(sandbox: Any, make_client: Any, tmp_path: Path, method: str) -> None:  # fmt: skip
    server = f"pg-restored-{method}"
    plan = _plan(sandbox, make_client, tmp_path, server, f"rm-{method}")
    container = dataclasses.replace(plan.container, sas_entry="", read_access=method)
    plan = plan.with_changes(container=container)
    assert main(_argv(sandbox, tmp_path, plan)) == 0
    report = _report(tmp_path)
    assert report["ok"] is True
    assert report["outcome"]["kind"] == "succeeded"
    assert {d["name"] for d in report["databases"]} == set(SEED_DATABASES)
    source_key = sandbox.world.server_key(IDS.server_id(IDS.SOURCE))
    for db in SEED_DATABASES:
        assert _target_counts(sandbox, server, db) == dict(
            sandbox.dataplane.table_counts(source_key, db)
        ), db
    # The account key never reached the journal, the plan or the report.
    key = sandbox.dataplane.storage_endpoint(IDS.STORAGE).key
    for path in tmp_path.rglob("*.json"):
        assert key not in path.read_text(), path


def test_a_refused_download_is_failed_at_the_download(sandbox: Any, tmp_path: Path) -> None:
    url, _arm_id = _container(sandbox)
    secrets = _keystore()
    secrets.set("sas:e2e:refused", "sv=2020-10-02&sr=c&sp=rl&se=2020-01-01T00:00:00Z&sig=AAAA")
    plan = RestorePlanFile(
        container=ContainerSpec(
            url=url, prefix="nothing", read_access="sas", sas_entry="sas:e2e:refused"
        ),
        target=TargetSpec(mode="existing", host="127.0.0.1", port=1, admin_login="x"),
        download_dir=str(tmp_path / "download"),
    )
    assert main(_argv(sandbox, tmp_path, plan)) == 2
    report = _report(tmp_path)
    assert report["ok"] is False
    assert report["outcome"]["kind"] == "failed"
    assert report["outcome"]["stage"] == "download"
    assert report["outcome"]["exit_code"] == 2
    html = next((tmp_path / "journal").glob("*-report/report.html")).read_text()
    assert "Failed at the download" in html
    assert "Succeeded" not in html
    assert JournalStore(tmp_path / "journal").open("rm").state is JournalState.FAILED
