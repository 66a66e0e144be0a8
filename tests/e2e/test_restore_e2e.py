"""Restore end to end against the full sandbox: ARM stand-in, Azurite and real PostgreSQL.

Protected source server → restore-as-files (validate + trigger + job) → verified download →
new target server (created, firewall, extension allow-list fixed) → pg_restore per database
→ same tables and row counts as the source. Also: a non-empty target is refused, and a
``pgflex_gui.restore_cli`` child killed with SIGKILL mid-way resumes on rerun; Cross Region
Restore from a secondary recovery point into the paired region; Cross Subscription Restore
into another subscription of the tenant, and its refusal when the vault disables it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.dataprotection import DataProtectionMgmtClient
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from pgflex_gui.azure.restore import RestoreService
from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JournalStore
from pgflex_gui.jobs.restore import RestoreResult
from pgflex_gui.jobs.restore_plan_file import (
    ContainerSpec,
    RestorePlanFile,
    SourceSpec,
    TargetSpec,
    save_plan,
)
from pgflex_gui.jobs.restore_wiring import build_engine_for
from pgflex_gui.keystore import Keystore
from pgflex_gui.restore_cli import _sandbox_factory, main
from pgflex_gui.sandbox.arm import roles
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.pgdata import SEED_DATABASES

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(1500)]

BI_NAME = f"{IDS.SOURCE}-bi"
BI_ID = f"{IDS.vault_id(IDS.VAULT_GRS)}/backupInstances/{BI_NAME}"
ROOT = Path(__file__).resolve().parents[2]


def _container(sandbox: Any) -> tuple[str, str]:
    acct = sandbox.state.get(
        f"/subscriptions/{IDS.SUB}/resourceGroups/{IDS.RG_STORAGE}/providers/"
        f"Microsoft.Storage/storageAccounts/{IDS.STORAGE}"
    )
    url = acct["properties"]["primaryEndpoints"]["blob"].rstrip("/") + f"/{IDS.CONTAINER}"
    return url, f"{acct['id']}/blobServices/default/containers/{IDS.CONTAINER}"


@functools.cache
def _keystore() -> Keystore:
    """The real OS keyring: the CLI child process (and its rerun after kill -9) reads it too."""
    store = Keystore()
    assert not store.session_only, f"a secure keyring is needed: {store.reason}"
    return store


def _store_sas(sandbox: Any, secrets: Keystore, account: str = IDS.STORAGE) -> str:
    ep = sandbox.dataplane.storage_endpoint(account)
    sas = generate_container_sas(
        account,
        IDS.CONTAINER,
        account_key=ep.key,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=2),
    )
    secrets.set(f"sas:e2e:{account}", sas)
    return f"sas:e2e:{account}"


def _recovery_point(make_client: Any) -> str:
    dp = make_client(DataProtectionMgmtClient)
    points = list(dp.recovery_points.list(IDS.RG_BACKUP, IDS.VAULT_GRS, BI_NAME))
    assert points
    points.sort(key=lambda p: p.properties.recovery_point_time, reverse=True)
    return str(points[0].name)


def _plan(sandbox: Any, make_client: Any, tmp: Path, server: str, prefix: str, **kw: Any) -> RestorePlanFile:  # fmt: skip
    url, arm_id = _container(sandbox)
    secrets = _keystore()
    source_key = sandbox.world.server_key(IDS.server_id(IDS.SOURCE))
    counts = sandbox.dataplane.seeded_counts(source_key)
    target = TargetSpec(
        mode=kw.pop("mode", "new"),
        server_id=IDS.server_id(server),
        location="westeurope",
        version="15",
        sku_name="Standard_D2ds_v5",
        firewall_ip="127.0.0.1",
        admin_login="pgadmin",
        vcores=2,
    )
    return RestorePlanFile(
        container=ContainerSpec(
            url=url,
            arm_id=arm_id,
            prefix=prefix,
            file_prefix=prefix,
            sas_entry=_store_sas(sandbox, secrets),
        ),
        target=target,
        source=SourceSpec(BI_ID, _recovery_point(make_client), "westeurope"),
        download_dir=str(tmp / "download"),
        source_counts={db: counts[db] for db in SEED_DATABASES if db in counts},
        **kw,
    )


def _target_counts(sandbox: Any, server: str, db: str) -> dict[str, int]:
    key = sandbox.world.server_key(IDS.server_id(server))
    return dict(sandbox.dataplane.table_counts(key, db))


def test_restore_end_to_end_then_refuse_non_empty_target(sandbox: Any, make_client: Any, tmp_path: Path) -> None:  # fmt: skip
    plan = _plan(sandbox, make_client, tmp_path, "pg-restored-e2e", "e2e")
    save_plan(plan, tmp_path / "plan.json")
    argv = ["--plan", str(tmp_path / "plan.json"), "--sandbox", str(sandbox.workdir),
            "--journal-dir", str(tmp_path / "journal"), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    report = json.loads(next((tmp_path / "journal").glob("*-report/report.json")).read_text())
    assert report["ok"]
    assert {d["name"] for d in report["databases"]} == set(SEED_DATABASES)
    assert report["azure_job_id"]
    assert {"azure", "download", "restore", "verify"} <= set(report["stage_seconds"])
    source_key = sandbox.world.server_key(IDS.server_id(IDS.SOURCE))
    for db in SEED_DATABASES:
        assert _target_counts(sandbox, "pg-restored-e2e", db) == dict(
            sandbox.dataplane.table_counts(source_key, db)
        ), db
    # The missing extension allow-list was fixed before the restore.
    key = sandbox.world.server_key(IDS.server_id("pg-restored-e2e"))
    allowed = sandbox.dataplane.get_configuration(key, "azure.extensions")
    assert "pgcrypto" in allowed
    # Incident mode (files already in the container, no Azure restore) into the now non-empty
    # server, with a fresh journal: refused, and nothing touched.
    existing = dataclasses.replace(plan.target, mode="existing")
    again = plan.with_changes(source=None, target=existing, databases=("sales",))
    save_plan(again, tmp_path / "again.json")
    before = _target_counts(sandbox, "pg-restored-e2e", "sales")
    argv2 = ["--plan", str(tmp_path / "again.json"), "--sandbox", str(sandbox.workdir),
             "--journal-dir", str(tmp_path / "journal2"), "--quiet"]  # fmt: skip
    assert main(argv2) == 1
    rep2 = json.loads(next((tmp_path / "journal2").glob("*-report/report.json")).read_text())
    assert rep2["databases"][0]["status"] == "refused"
    assert _target_counts(sandbox, "pg-restored-e2e", "sales") == before


def test_kill_minus_nine_then_resume(sandbox: Any, make_client: Any, tmp_path: Path) -> None:
    plan = _plan(sandbox, make_client, tmp_path, "pg-restored-kill", "kill")
    save_plan(plan, tmp_path / "plan.json")
    journal_dir = tmp_path / "journal"
    argv = [sys.executable, "-m", "pgflex_gui.restore_cli", "--plan", str(tmp_path / "plan.json"),
            "--sandbox", str(sandbox.workdir), "--journal-dir", str(journal_dir), "--quiet",
            "--job-id", "killme"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    log = (tmp_path / "child.log").open("w")
    child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    journal = journal_dir / "killme.json"
    deadline = time.monotonic() + 900
    restored: list[str] = []
    while time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.3)
        try:
            cps = json.loads(journal.read_text())["checkpoints"]
        except (OSError, ValueError, KeyError):
            continue
        restored = [k for k, v in cps.items() if k.startswith("db:") and v.get("status") == "restored"]  # fmt: skip
        if restored:
            break
    assert child.poll() is None, (tmp_path / "child.log").read_text()[-3000:]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert 0 < len(restored) < len(SEED_DATABASES)
    rerun = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    report = json.loads((journal_dir / "killme-report" / "report.json").read_text())
    by = {d["name"]: d for d in report["databases"]}
    for name in restored:
        assert by[name.removeprefix("db:")]["resumed"]
    source_key = sandbox.world.server_key(IDS.server_id(IDS.SOURCE))
    for db in SEED_DATABASES:
        assert _target_counts(sandbox, "pg-restored-kill", db) == dict(
            sandbox.dataplane.table_counts(source_key, db)
        ), db


# -- cross-region and cross-subscription restore (in process, one database, small) ----------


def _account_container(sandbox: Any, sub: str, rg: str, account: str) -> tuple[str, str]:
    acct = sandbox.state.get(
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/"
        f"{account}"
    )
    url = acct["properties"]["primaryEndpoints"]["blob"].rstrip("/") + f"/{IDS.CONTAINER}"
    return url, f"{acct['id']}/blobServices/default/containers/{IDS.CONTAINER}"


def _one_db_plan(sandbox: Any, tmp: Path, server: str, source: SourceSpec, container: ContainerSpec) -> RestorePlanFile:  # fmt: skip
    counts = sandbox.dataplane.seeded_counts(sandbox.world.server_key(IDS.server_id(IDS.SOURCE)))
    return RestorePlanFile(
        container=container,
        target=TargetSpec(
            mode="new",
            server_id=IDS.server_id(server),
            location=source.vault_location,
            version="15",
            firewall_ip="127.0.0.1",
            vcores=2,
        ),
        source=source,
        databases=("sales",),
        download_dir=str(tmp / "download"),
        source_counts={"sales": counts["sales"]},
    )


def _run_engine(sandbox: Any, plan: RestorePlanFile, tmp: Path) -> RestoreResult:
    factory, credential, ca = _sandbox_factory(sandbox.workdir)
    engine = build_engine_for(
        plan, factory=factory, credential=credential, secrets=_keystore(), connection_verify=ca,
        poll_s=0.2,
    )  # fmt: skip
    journal = JournalStore(tmp / "journal").open_or_create(job_id="x", kind="restore", title="x")
    return engine.run(JobContext(token=CancelToken(), journal=journal))


def _assert_sales_restored(sandbox: Any, result: RestoreResult, server: str) -> None:
    assert result.ok, [(d.name, d.status, d.message) for d in result.databases]
    source_key = sandbox.world.server_key(IDS.server_id(IDS.SOURCE))
    assert _target_counts(sandbox, server, "sales") == dict(
        sandbox.dataplane.table_counts(source_key, "sales")
    )


def test_cross_region_restore_from_a_secondary_point(sandbox: Any, tmp_path: Path) -> None:
    factory, _credential, _ca = _sandbox_factory(sandbox.workdir)
    points = RestoreService(factory).list_secondary_recovery_points(
        ResourceId.parse(BI_ID), source_region="westeurope", secondary_region="northeurope"
    )
    assert points
    url, arm_id = _account_container(sandbox, IDS.SUB, IDS.RG_STORAGE, IDS.STORAGE_PAIRED)
    source = SourceSpec(
        BI_ID,
        points[0].recovery_point_id,
        vault_location="northeurope",
        cross_region=True,
        source_region="westeurope",
    )
    container = ContainerSpec(
        url=url,
        arm_id=arm_id,
        file_prefix="crr",
        prefix="crr",
        sas_entry=_store_sas(sandbox, _keystore(), IDS.STORAGE_PAIRED),
    )
    plan = _one_db_plan(sandbox, tmp_path, "pg-restored-crr", source, container)
    result = _run_engine(sandbox, plan, tmp_path)
    _assert_sales_restored(sandbox, result, "pg-restored-crr")
    job = sandbox.state.get(result.azure_job_id)
    assert job["properties"].get("isCrossRegionRestore") is True
    assert job["properties"]["extendedInfo"]["recoveryDestination"] == url


def _other_sub_container(sandbox: Any) -> ContainerSpec:
    url, arm_id = _account_container(sandbox, IDS.SUB_READER, "rg-shared", IDS.STORAGE_OTHER_SUB)
    return ContainerSpec(
        url=url,
        arm_id=arm_id,
        file_prefix="csr",
        prefix="csr",
        sas_entry=_store_sas(sandbox, _keystore(), IDS.STORAGE_OTHER_SUB),
    )


def _set_csr(make_client: Any, state: str) -> None:
    dp = make_client(DataProtectionMgmtClient)
    body = {"properties": {"featureSettings": {"crossSubscriptionRestoreSettings": {"state": state}}}}  # fmt: skip
    dp.backup_vaults.begin_update(IDS.RG_BACKUP, IDS.VAULT_GRS, body, polling_interval=0.1).result()


def test_cross_subscription_restore(sandbox: Any, make_client: Any, tmp_path: Path) -> None:
    container = _other_sub_container(sandbox)
    # The vault's identity may write into the other subscription's account (set up by its
    # owner; the app itself is only Reader there).
    account_id = container.arm_id.split("/blobServices/")[0]
    vault_principal = sandbox.world.vault_principal(IDS.vault_id(IDS.VAULT_GRS))
    sandbox.world.add_role_assignment(account_id, vault_principal, roles.BLOB_DATA_CONTRIBUTOR)
    source = SourceSpec(BI_ID, _recovery_point(make_client), "westeurope")
    plan = _one_db_plan(sandbox, tmp_path, "pg-restored-csr", source, container)
    result = _run_engine(sandbox, plan, tmp_path)
    _assert_sales_restored(sandbox, result, "pg-restored-csr")
    job = sandbox.state.get(result.azure_job_id)
    assert job["properties"]["extendedInfo"]["recoveryDestination"] == container.url


def test_cross_subscription_restore_refused_when_the_vault_disables_it(sandbox: Any, make_client: Any, tmp_path: Path) -> None:  # fmt: skip
    container = _other_sub_container(sandbox)
    source = SourceSpec(BI_ID, _recovery_point(make_client), "westeurope")
    plan = _one_db_plan(sandbox, tmp_path, "pg-restored-csr-off", source, container)
    _set_csr(make_client, "Disabled")
    try:
        with pytest.raises(AppError) as caught:
            _run_engine(sandbox, plan, tmp_path)
    finally:
        _set_csr(make_client, "Enabled")
    err = caught.value
    assert err.summary == (
        f"Vault {IDS.VAULT_GRS} does not allow restores into another subscription "
        "(Cross Subscription Restore is disabled)."
    )
    assert "enable Cross Subscription Restore" in err.remedy
    assert err.azure_code == "UserErrorCrossSubscriptionRestoreNotEnabled"
    # Nothing was started: no server, no files.
    assert sandbox.state.get(IDS.server_id("pg-restored-csr-off")) is None
