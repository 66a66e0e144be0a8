"""Sandbox features through the real SDK clients: databases, undelete, dropped connections,
cross-region restore and immutable vaults (NullDataPlane with a recording psql; fast)."""

from __future__ import annotations

import concurrent.futures
import itertools
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.dataprotection import DataProtectionMgmtClient
from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient

from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import NullDataPlane, Sandbox
from tests.sandbox_fixtures import client_factory, sandbox_credential

POLL = {"polling_interval": 0.05}
GRS = IDS.vault_id(IDS.VAULT_GRS)
SOURCE_BI = f"{GRS}/backupInstances/{IDS.SOURCE}-bi"


class PsqlDataPlane(NullDataPlane):
    """NullDataPlane plus LocalDataPlane's optional ``psql`` (records SQL, tracks databases)."""

    def __init__(self) -> None:
        super().__init__()
        self.sql: list[str] = []
        self.created: dict[str, list[str]] = {}

    def psql(self, key: str, sql: str, *, db: str = "postgres") -> str:
        self.sql.append(sql)
        names = self.created.setdefault(key, [])
        made = re.match(r'CREATE DATABASE "([^"]+)"', sql)
        dropped = re.match(r'DROP DATABASE IF EXISTS "([^"]+)"', sql)
        if made:
            names.append(made.group(1))
        elif dropped and dropped.group(1) in names:
            names.remove(dropped.group(1))
        return ""

    def list_databases(self, key: str) -> list[tuple[str, str]]:
        return super().list_databases(key) + [(n, "pgadmin") for n in self.created.get(key, [])]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sandbox = Sandbox.start(
        tmp_path_factory.mktemp("sandbox-more"),
        seed="minimal",
        dataplane=PsqlDataPlane(),
        retry_after=0,
    )
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def make(box: Sandbox) -> Any:
    return client_factory(box, sandbox_credential(box))


def test_database_create_and_delete_runs_psql_on_a_real_server(box: Sandbox, make: Any) -> None:
    pg = make(PostgreSQLManagementClient)
    body = {"properties": {"charset": "UTF8", "collation": "en_US.utf8"}}
    created = pg.databases.begin_create(IDS.RG_PG, IDS.SOURCE, "reports", body, **POLL).result()
    assert created.name == "reports"
    assert created.properties.charset == "UTF8"
    assert pg.databases.get(IDS.RG_PG, IDS.SOURCE, "reports").name == "reports"
    assert "reports" in {d.name for d in pg.databases.list_by_server(IDS.RG_PG, IDS.SOURCE)}
    dp = box.dataplane
    assert any(s.startswith('CREATE DATABASE "reports"') for s in dp.sql)
    pg.databases.begin_delete(IDS.RG_PG, IDS.SOURCE, "reports", **POLL).result()
    assert any(s.startswith('DROP DATABASE IF EXISTS "reports"') for s in dp.sql)
    assert "reports" not in {d.name for d in pg.databases.list_by_server(IDS.RG_PG, IDS.SOURCE)}
    with pytest.raises(HttpResponseError) as err:
        pg.databases.get(IDS.RG_PG, IDS.SOURCE, "reports")
    assert err.value.status_code == 404


def test_database_create_and_delete_on_a_metadata_server(box: Sandbox, make: Any) -> None:
    pg = make(PostgreSQLManagementClient)
    before = len(box.dataplane.sql)
    body = {"properties": {"charset": "UTF8", "collation": "C"}}
    pg.databases.begin_create(IDS.RG_PG, "pg-orders-weu", "archive", body, **POLL).result()
    got = pg.databases.get(IDS.RG_PG, "pg-orders-weu", "archive")
    assert got.properties.collation == "C"
    pg.databases.begin_delete(IDS.RG_PG, "pg-orders-weu", "archive", **POLL).result()
    names = {d.name for d in pg.databases.list_by_server(IDS.RG_PG, "pg-orders-weu")}
    assert "archive" not in names
    assert "orders" in names
    assert len(box.dataplane.sql) == before  # no cluster behind a metadata-only server
    with pytest.raises(HttpResponseError) as err:
        pg.databases.begin_delete(IDS.RG_PG, "pg-orders-weu", "postgres", **POLL).result()
    assert err.value.status_code == 400


def test_soft_deleted_instance_is_listed_and_undeleted(box: Sandbox, make: Any) -> None:
    dp = make(DataProtectionMgmtClient)
    vault, name = IDS.VAULT_LRS, "pg-orders-weu-bi"
    points = {p.name for p in dp.recovery_points.list(IDS.RG_BACKUP, vault, name)}
    assert points
    dp.backup_instances.begin_delete(IDS.RG_BACKUP, vault, name, **POLL).result()
    assert name not in {b.name for b in dp.backup_instances.list(IDS.RG_BACKUP, vault)}
    deleted = list(dp.deleted_backup_instances.list(IDS.RG_BACKUP, vault))
    assert [d.name for d in deleted] == [name]
    one = dp.deleted_backup_instances.get(IDS.RG_BACKUP, vault, name)
    assert one.properties.protection_status.status == "SoftDeleted"
    assert (
        one.properties.deletion_info.scheduled_purge_time
        > one.properties.deletion_info.deletion_time
    )
    dp.deleted_backup_instances.begin_undelete(IDS.RG_BACKUP, vault, name, **POLL).result()
    back = dp.backup_instances.get(IDS.RG_BACKUP, vault, name)
    assert back.properties.current_protection_state == "ProtectionStopped"
    assert {p.name for p in dp.recovery_points.list(IDS.RG_BACKUP, vault, name)} == points
    assert list(dp.deleted_backup_instances.list(IDS.RG_BACKUP, vault)) == []
    dp.backup_instances.begin_resume_protection(IDS.RG_BACKUP, vault, name, **POLL).result()
    back = dp.backup_instances.get(IDS.RG_BACKUP, vault, name)
    assert back.properties.current_protection_state == "ProtectionConfigured"


def test_a_dropped_connection_is_retried_by_the_sdk(box: Sandbox, make: Any) -> None:
    pg = make(PostgreSQLManagementClient)
    rule = box.faults.add(r"^GET .*/flexibleServers/pg-stopped-weu$", drop=True, times=1)
    try:
        server = pg.servers.get(IDS.RG_PG, "pg-stopped-weu")
        hits = [r.hits for r in box.faults.list() if r.id == rule]
    finally:
        box.faults.remove(rule)
    assert hits == [1]  # the first attempt was dropped ...
    assert server.properties.state == "Stopped"  # ... and the SDK's retry got the answer


def test_cross_region_restore_and_fetching_its_jobs(box: Sandbox, make: Any) -> None:
    dp = make(DataProtectionMgmtClient)
    rp = next(iter(dp.recovery_points.list(IDS.RG_BACKUP, IDS.VAULT_GRS, f"{IDS.SOURCE}-bi")))
    secondary = dp.fetch_secondary_recovery_points.list(
        IDS.RG_BACKUP,
        "northeurope",
        {"sourceBackupInstanceId": SOURCE_BI, "sourceRegion": "westeurope"},
    )
    assert rp.name in {p.name for p in secondary}
    account = box.state.get(
        f"/subscriptions/{IDS.SUB}/resourceGroups/{IDS.RG_STORAGE}/providers/"
        f"Microsoft.Storage/storageAccounts/{IDS.STORAGE_PAIRED}"
    )
    url = account["properties"]["primaryEndpoints"]["blob"].rstrip("/") + f"/{IDS.CONTAINER}"
    body = {
        "restoreRequestObject": {
            "objectType": "AzureBackupRecoveryPointBasedRestoreRequest",
            "recoveryPointId": rp.name,
            "sourceDataStoreType": "VaultStore",
            "restoreTargetInfo": {
                "objectType": "RestoreFilesTargetInfo",
                "recoveryOption": "FailIfExists",
                "restoreLocation": "northeurope",
                "targetDetails": {
                    "url": url,
                    "filePrefix": "dummyprefix",
                    "restoreTargetLocationType": "AzureBlobs",
                },
            },
        },
        "crossRegionRestoreDetails": {
            "sourceBackupInstanceId": SOURCE_BI,
            "sourceRegion": "westeurope",
        },
    }
    dp.backup_instances.begin_validate_cross_region_restore(
        IDS.RG_BACKUP, "northeurope", body, **POLL
    ).result()
    result = dp.backup_instances.begin_trigger_cross_region_restore(
        IDS.RG_BACKUP, "northeurope", body, **POLL
    ).result()
    job_id = str(result.job_id)
    box.wait_idle()
    job = dp.fetch_cross_region_restore_job.get(
        IDS.RG_BACKUP,
        "northeurope",
        {
            "sourceRegion": "westeurope",
            "sourceBackupVaultId": GRS,
            "jobId": job_id.rsplit("/", 1)[-1],
        },
    )
    assert job.properties.operation_category == "Restore"
    assert job.properties.status == "Completed"
    jobs = dp.fetch_cross_region_restore_jobs.list(
        IDS.RG_BACKUP, "northeurope", {"sourceRegion": "westeurope", "sourceBackupVaultId": GRS}
    )
    assert job.id in {j.id for j in jobs}
    with pytest.raises(HttpResponseError) as err:  # westeurope is not northeurope's secondary
        dp.backup_instances.begin_trigger_cross_region_restore(
            IDS.RG_BACKUP, "westus", body, **POLL
        ).result()
    assert err.value.error.code == "UserErrorInvalidSecondaryRegion"


def test_locked_immutability_blocks_delete_with_data_before_expiry(box: Sandbox, make: Any) -> None:
    world = box.world
    vault = world.add_vault(
        IDS.SUB, IDS.RG_BACKUP, "bv-locked", location="westeurope", immutability="Locked"
    )
    policy = world.add_policy(vault, "weekly-7d", retention="P7D")
    now = datetime.now(UTC)
    fresh = world.add_backup_instance(
        vault, IDS.server_id("pg-unprotected-weu"), policy, name="fresh-bi"
    )
    world.add_recovery_point(fresh, now - timedelta(days=1))
    old = world.add_backup_instance(vault, IDS.server_id("pg-stopped-weu"), policy, name="old-bi")
    world.add_recovery_point(old, now - timedelta(days=30))
    dp = make(DataProtectionMgmtClient)
    with pytest.raises(HttpResponseError) as err:
        dp.backup_instances.begin_delete(IDS.RG_BACKUP, "bv-locked", "fresh-bi", **POLL).result()
    assert err.value.error.code == "UserErrorImmutableVaultOperationNotAllowed"
    assert dp.backup_instances.get(IDS.RG_BACKUP, "bv-locked", "fresh-bi").name == "fresh-bi"
    dp.backup_instances.begin_stop_protection(
        IDS.RG_BACKUP, "bv-locked", "fresh-bi", **POLL
    ).result()  # stop protection and retain data stays allowed
    dp.backup_instances.begin_delete(IDS.RG_BACKUP, "bv-locked", "old-bi", **POLL).result()
    with pytest.raises(HttpResponseError) as err:
        dp.backup_vaults.begin_update(
            IDS.RG_BACKUP,
            "bv-locked",
            {"properties": {"securitySettings": {"immutabilitySettings": {"state": "Unlocked"}}}},
            **POLL,
        ).result()
    assert err.value.error.code == "UserErrorImmutabilityLocked"


def test_concurrent_backups_of_one_instance_are_refused_not_raced(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Eight ad-hoc backups sent at once: never two at a time on one instance (no race)."""
    slow = NullDataPlane()
    slow.backup_delay = 1.0  # long enough for the eight requests to meet a running job
    sandbox = Sandbox.start(
        tmp_path_factory.mktemp("sandbox-race"),
        seed="minimal",
        dataplane=slow,
        retry_after=0,
    )
    try:
        client = client_factory(sandbox, sandbox_credential(sandbox))(DataProtectionMgmtClient)
        # The seeded source server is a "real" one: its backups go through the data plane.
        bi = client.backup_instances.get(IDS.RG_BACKUP, IDS.VAULT_GRS, f"{IDS.SOURCE}-bi")
        body = {
            "backupRuleOptions": {
                "ruleName": "BackupWeekly",
                "triggerOption": {"retentionTagOverride": "Default"},
            }
        }
        barrier = threading.Barrier(8)

        def trigger(_: int) -> str:
            barrier.wait()
            try:
                client.backup_instances.begin_adhoc_backup(
                    IDS.RG_BACKUP, IDS.VAULT_GRS, bi.name, body, polling_interval=0.05
                ).result()
            except HttpResponseError as exc:
                return str(exc.error.code if exc.error else exc)
            return "started"

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(trigger, range(8)))
        sandbox.wait_idle()
        jobs = [
            j.properties
            for j in client.jobs.list(IDS.RG_BACKUP, IDS.VAULT_GRS)
            if j.properties.operation_category == "Backup"
            and (j.properties.data_source_id or "").lower()
            == bi.properties.data_source_info.resource_id.lower()
        ]
    finally:
        sandbox.stop()
    assert set(outcomes) <= {"started", "UserErrorMaxConcurrentOperationLimitReached"}, outcomes
    assert "UserErrorMaxConcurrentOperationLimitReached" in outcomes
    # The invariant: one operation at a time per instance. A request that lands after a job
    # ended may start the next one (slow machines spread the requests), but never overlap.
    spans = sorted((j.start_time, j.end_time) for j in jobs)
    assert len(spans) == outcomes.count("started")
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, spans
