"""ServerRestoreEngine with a hand-written ARM port: the order of the calls, the refusal
before anything is sent, the role grant, and a rerun after a crash that follows the same job."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import FlexServer, RoleAssignment, Vault
from pgflex_gui.domain.preflight import LTR_BACKUP_ROLE, RoleRequirement
from pgflex_gui.domain.restore_outcome import Stage
from pgflex_gui.domain.server_restore_plan import ServerRestorePlan
from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JournalStore
from pgflex_gui.jobs.restore import ArmJob
from pgflex_gui.jobs.restore_as_server import ServerRestoreEngine

SUB = "aaaaaaaa-0000-0000-0000-000000000001"
TENANT = "11111111-1111-1111-1111-111111111111"


def _server(name: str, **kw: Any) -> FlexServer:
    base: dict[str, Any] = {
        "sku_name": "Standard_D2ds_v5",
        "sku_tier": "GeneralPurpose",
        "storage_gb": 128,
        "storage_type": "Premium_LRS",
        "ha_mode": "Disabled",
        "replication_role": "Primary",
    }
    base.update(kw)
    rid = ResourceId.build(SUB, "rg", "Microsoft.DBforPostgreSQL", "flexibleServers", name)
    return FlexServer(rid, "westeurope", "16", "Ready", TENANT, **base)


VAULT = Vault(
    ResourceId.build(SUB, "rg", "Microsoft.DataProtection", "backupVaults", "bv"),
    "westeurope",
    TENANT,
    principal_id="vault-principal",
)
SOURCE, TARGET = _server("pg-src"), _server("pg-tgt")


class FakeArm:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.databases: dict[str, list[tuple[str, str]]] = {
            str(SOURCE.id): [("postgres", ""), ("ledger", ""), ("audit", "")],
            str(TARGET.id): [("postgres", ""), ("azure_sys", "")],
        }
        self.has_role = False
        self.job_polls = 0
        self.source_exists = True

    def get_vault(self, vault_id: ResourceId) -> Vault:
        return VAULT

    def get_server(self, server_id: ResourceId) -> FlexServer | None:
        if server_id == SOURCE.id:
            return SOURCE if self.source_exists else None
        return TARGET if server_id == TARGET.id else None

    def list_databases(self, server_id: ResourceId) -> list[tuple[str, str]]:
        return list(self.databases[str(server_id)])

    def list_role_assignments(self, principal_id: str, scope: str) -> list[RoleAssignment]:
        if not self.has_role:
            return []
        guid = LTR_BACKUP_ROLE[0]
        definition = (
            f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
        )
        return [RoleAssignment(f"{scope}/ra", scope, definition, principal_id)]

    def grant_role(self, requirement: RoleRequirement, principal_id: str) -> None:
        self.calls.append("grant")
        self.has_role = True

    def validate(self, instance_id: ResourceId, request: Mapping[str, Any], *,
                 check: Callable[[], None]) -> None:  # fmt: skip
        assert request["restoreTargetInfo"]["datasourceInfo"]["resourceID"] == str(TARGET.id)
        assert request["sourceResourceId"] == str(SOURCE.id)
        self.calls.append("validate")

    def trigger(self, instance_id: ResourceId, request: Mapping[str, Any], *,
                resume: str | None, on_token: Callable[[str], None],
                check: Callable[[], None]) -> str:  # fmt: skip
        self.calls.append(f"trigger:{resume or ''}")
        if not resume:
            on_token("token-1")
        return "job-1"

    def get_job(self, vault_id: ResourceId, job_id: str) -> ArmJob:
        self.calls.append(f"job:{job_id}")
        self.job_polls += 1
        if self.job_polls == 1:
            return ArmJob("InProgress")
        # The restore copied the source onto the target.
        self.databases[str(TARGET.id)] = list(self.databases[str(SOURCE.id)])
        return ArmJob("Completed")


def _plan(*, grant: bool = True) -> ServerRestorePlan:
    return ServerRestorePlan(
        backup_instance_id=str(VAULT.id.child("backupInstances", "pg-src-bi")),
        recovery_point_id="rp1",
        target_server_id=str(TARGET.id),
        source_server_id=str(SOURCE.id),
        grant_role=grant,
    )


def _run(
    arm: FakeArm, plan: ServerRestorePlan, tmp_path: Path
) -> tuple[ServerRestoreEngine, Any, JobContext]:
    journal = JournalStore(tmp_path / "j").open_or_create(job_id="r1", kind="restore", title="t")
    engine = ServerRestoreEngine(plan, arm, poll_s=0.01)
    return engine, journal, JobContext(token=CancelToken(), journal=journal)


def test_checks_grant_validate_trigger_follow_verify(tmp_path: Path) -> None:
    arm = FakeArm()
    engine, _journal, ctx = _run(arm, _plan(), tmp_path)
    result = engine.run(ctx)
    assert arm.calls == ["grant", "validate", "trigger:", "job:job-1", "job:job-1"]
    assert result.ok
    assert [(d.name, d.status) for d in result.databases] == [
        ("audit", "restored"),
        ("ledger", "restored"),
    ]
    assert result.azure_job_id == "job-1"
    assert any("Assigned" in n for n in result.notes)


def test_a_missing_role_without_grant_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    arm = FakeArm()
    engine, _journal, ctx = _run(arm, _plan(grant=False), tmp_path)
    with pytest.raises(AppError, match="does not have"):
        engine.run(ctx)
    assert arm.calls == []
    assert engine.result.outcome.stage is Stage.PLAN
    assert not engine.result.ok


def test_a_rerun_after_a_crash_follows_the_journaled_job(tmp_path: Path) -> None:
    arm = FakeArm()
    engine, journal, ctx = _run(arm, _plan(), tmp_path)
    journal.checkpoint("azure", {"continuation_token": "token-1", "job_id": "job-1"})
    result = engine.run(ctx)
    assert result.ok
    # No second validate or trigger: the target is already being restored (not empty).
    assert arm.calls == ["job:job-1", "job:job-1"]


def test_a_gone_source_is_noted_and_azure_decides(tmp_path: Path) -> None:
    arm = FakeArm()
    arm.source_exists = False
    engine, _journal, ctx = _run(arm, _plan(), tmp_path)
    result = engine.run(ctx)
    assert result.ok
    assert any("no longer exists" in n for n in result.notes)
    assert [d.name for d in result.databases] == ["audit", "ledger"]  # found on the target


def test_a_rerun_after_a_crash_mid_trigger_resumes_its_operation(tmp_path: Path) -> None:
    arm = FakeArm()
    arm.has_role = True
    engine, journal, ctx = _run(arm, _plan(), tmp_path)
    journal.checkpoint("azure", {"continuation_token": "token-1"})  # killed before the job id
    assert engine.run(ctx).ok
    assert arm.calls == ["trigger:token-1", "job:job-1", "job:job-1"]  # no second validate


def test_a_target_broken_otherwise_gets_no_role_grant(tmp_path: Path) -> None:
    arm = FakeArm()
    arm.databases[str(TARGET.id)].append(("mine", "dba"))  # not empty
    engine, _journal, ctx = _run(arm, _plan(grant=True), tmp_path)
    with pytest.raises(AppError, match="not empty"):
        engine.run(ctx)
    assert arm.calls == []  # no grant, no validate, no trigger
