"""azure/vaulted_v2.py against the sandbox through the real SDK pipeline (#16.2-#16.4):
v2 policy, validate-for-backup and protection with the marker, restore as server onto an
existing empty server, errors through the one classifier, domain rules before sending."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

import pytest

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.protection import ProtectionService
from pgflex_gui.azure.restore import RestoreService
from pgflex_gui.azure.vaulted_v2 import VaultedV2Service, v2_instance_body
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import FlexServer
from pgflex_gui.domain.restore_as_server import (
    CheckStatus,
    SourceFacts,
    TargetFacts,
    build_restore_as_server_request,
    target_checks,
)
from pgflex_gui.domain.retention import RetentionKind, RetentionRule
from pgflex_gui.domain.v2_rules import DailySchedule, V2PolicyDraft
from pgflex_gui.sandbox.arm import roles
from pgflex_gui.sandbox.runtime import Sandbox
from tests.adapters.azure_helpers import sandbox_factory
from tests.e2e.test_sandbox_dp_v2 import World
from tests.sandbox_fixtures import reachable_by_server_user


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = Sandbox.start(
        reachable_by_server_user(Path(tmp_path_factory.mktemp("v2a"))),
        seed="empty",
        page_size=5,
        retry_after=0,
        ephemeral=True,
    )
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def world(box: Sandbox) -> World:
    return World(box)


@pytest.fixture(scope="module")
def factory(box: Sandbox) -> Iterator[ClientFactory]:
    f = sandbox_factory(box)
    yield f
    f.close()


@pytest.fixture(scope="module")
def audit() -> list[dict[str, str]]:
    return []


@pytest.fixture(scope="module")
def svc(factory: ClientFactory, audit: list[dict[str, str]]) -> VaultedV2Service:
    return VaultedV2Service(factory, audit=lambda **kw: audit.append(kw))


@pytest.fixture(scope="module")
def inv(factory: ClientFactory) -> AzureInventory:
    return AzureInventory(factory)


def server(inv: AzureInventory, rid: str) -> FlexServer:
    return inv.get_server(ResourceId.parse(rid))


DRAFT = V2PolicyDraft(
    "daily-v2",
    DailySchedule(clock(2, 0)),
    (RetentionRule(RetentionKind.DEFAULT, "P3M"), RetentionRule(RetentionKind.WEEKLY, "P6M")),
)


@pytest.fixture(scope="module")
def policy_id(svc: VaultedV2Service, world: World) -> ResourceId:
    info = svc.create_policy(ResourceId.parse(world.vault), DRAFT, datetime.now(UTC).date())
    assert info.repeating_intervals[0].endswith("/P1D")
    return info.id


def test_invalid_draft_is_refused_before_sending(
    svc: VaultedV2Service, world: World, audit: list[dict[str, str]]
) -> None:
    before = len(audit)
    bad = V2PolicyDraft(
        "p", DailySchedule(clock(2, 0)), (RetentionRule(RetentionKind.DEFAULT, "P1D"),)
    )
    with pytest.raises(AppError) as caught:
        svc.create_policy(ResourceId.parse(world.vault), bad, datetime.now(UTC).date())
    assert caught.value.fault is Fault.USER
    assert len(audit) == before  # nothing was sent


def test_ineligible_server_refused_by_the_domain_and_by_azure(
    svc: VaultedV2Service, world: World, inv: AzureInventory, policy_id: ResourceId
) -> None:
    vault_id = ResourceId.parse(world.vault)
    burst = server(inv, world.burstable)
    with pytest.raises(AppError) as local:
        svc.begin_validate_for_backup(vault_id, v2_instance_body(burst, policy_id), server=burst)
    assert local.value.fault is Fault.USER
    assert "Burstable" in local.value.summary
    assert local.value.azure_code is None  # refused before sending
    # Sent anyway (no server given): the service's answer goes through the classifier.
    with pytest.raises(AppError) as remote:
        svc.begin_validate_for_backup(vault_id, v2_instance_body(burst, policy_id)).result(30)
    assert remote.value.azure_code == "UserErrorBurstableTierNotSupported"
    old = server(inv, world.old)
    with pytest.raises(AppError) as too_old:
        svc.begin_validate_for_backup(vault_id, v2_instance_body(old, policy_id)).result(30)
    assert too_old.value.azure_code == "UserErrorPostgreSqlVersionNotSupported"


def wait_job(restore: RestoreService, job_id: str, timeout: float = 300) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = restore.get_job(job_id)
        if not job.in_progress and job.status not in ("", "Started"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def test_protect_then_restore_as_server(
    svc: VaultedV2Service,
    world: World,
    inv: AzureInventory,
    factory: ClientFactory,
    box: Sandbox,
    policy_id: ResourceId,
    audit: list[dict[str, str]],
) -> None:
    vault_id = ResourceId.parse(world.vault)
    source = server(inv, world.source)
    body = v2_instance_body(source, policy_id)
    svc.begin_validate_for_backup(vault_id, body, server=source).result(60)
    lro = svc.begin_configure_protection(vault_id, "pg-v2-src-bi", body, server=source)
    token = lro.continuation_token()
    bi = svc.begin_configure_protection(
        vault_id, "pg-v2-src-bi", {}, continuation_token=token
    ).result(60)
    lro.result(60)
    assert bi.backup_kind == "v2"
    assert svc.get_backup_instance(bi.id).backup_kind == "v2"
    assert any(a["what"] == "configure v2 protection" and a["result"] == "succeeded" for a in audit)

    job_id = (
        ProtectionService(factory).begin_adhoc_backup(bi.id, rule_name="BackupDaily").result(60)
    )
    restore = RestoreService(factory)
    assert wait_job(restore, job_id).status == "Completed"
    (point,) = inv.list_recovery_points(bi.id)

    vault = inv.get_vault(vault_id)
    target = server(inv, world.target)
    facts = SourceFacts.of(source)
    checks = target_checks(
        facts, TargetFacts(target, databases=[], has_replicas=False, assignments=[]), vault
    )
    assert [c.key for c in checks if c.status is CheckStatus.FAIL] == ["role"]
    request = build_restore_as_server_request(
        recovery_point_id=point.recovery_point_id,
        source_server_id=source.id,
        target=target,
        vault=vault,
    )
    with pytest.raises(AppError) as denied:
        svc.begin_validate_restore(bi.id, request).result(60)
    assert denied.value.azure_code == "UserErrorMissingRequiredPermissions"
    box.world.add_role_assignment(world.target, world.principal, roles.LTR_BACKUP)
    box.world.add_role_assignment(world.full, world.principal, roles.LTR_BACKUP)
    full = server(inv, world.full)
    busy = build_restore_as_server_request(
        recovery_point_id=point.recovery_point_id,
        source_server_id=source.id,
        target=full,
        vault=vault,
    )
    with pytest.raises(AppError) as not_empty:
        svc.begin_validate_restore(bi.id, busy).result(60)
    assert not_empty.value.azure_code == "UserErrorRestoreTargetServerNotEmpty"
    # The catalogue (domain/error_codes.py) does not know the v2 target codes (Azure's real
    # ones are UNCONFIRMED): the service's own message is what the DBA reads.
    assert "not empty" in not_empty.value.summary

    svc.begin_validate_restore(bi.id, request).result(60)
    restore_job = svc.begin_restore_as_server(bi.id, request).result(60)
    assert restore_job.startswith(f"{vault_id}/backupJobs/")
    job = wait_job(restore, restore_job)
    assert job.status == "Completed", job
    assert job.restore_destination == str(target.id)
    count = box.dataplane.psql(  # type: ignore[attr-defined]
        box.world.server_key(world.target), "SELECT count(*) FROM t;", db="v2data"
    )
    assert count.strip() == "1234"
