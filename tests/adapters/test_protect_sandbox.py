"""ProtectJob through ServicePort(ProtectionService) against a private sandbox ARM."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.protection import ProtectionService
from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import ProtectionState
from pgflex_gui.domain.policy import PolicyDraft
from pgflex_gui.domain.preflight import GrantScope
from pgflex_gui.domain.schedule import WeeklySchedule
from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JobJournal
from pgflex_gui.jobs.protect import (
    ProtectionPlan,
    ProtectJob,
    RetryPolicy,
    ServerTarget,
    ServicePort,
)
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import Sandbox

pytestmark = pytest.mark.sandbox


def test_roles_granted_then_validated_and_configured(factory: ClientFactory) -> None:
    audit: list[dict[str, Any]] = []
    inventory = AzureInventory(factory)
    service = ProtectionService(factory, lambda **kw: audit.append(kw))
    vault_id = ResourceId.parse(IDS.vault_id(IDS.VAULT_LRS))
    vault = inventory.get_vault(vault_id)
    server = inventory.get_server(ResourceId.parse(IDS.server_id("pg-unprotected-weu")))
    draft = PolicyDraft(name="pgflex-job-test", schedule=WeeklySchedule(6, time(2, 0), "UTC"))
    plan = ProtectionPlan(
        vault_id=vault_id,
        policy_id=vault_id.child("backupPolicies", draft.name),
        targets=(ServerTarget.new(server),),
        vault=vault,
        policy_draft=draft,
        grant=GrantScope.RESOURCE,
        reference_date=date(2025, 6, 2),
    )
    ctx = JobContext(token=CancelToken(), journal=JobJournal.in_memory())
    retry = RetryPolicy(initial_s=0.2, max_s=0.5, total_s=30, follow_interval_s=0.2)
    result = ProtectJob(plan, ServicePort(service, inventory), retry=retry).run(ctx)
    assert result.instances[0].protection_state is ProtectionState.PROTECTION_CONFIGURED
    assert result.created_policy
    assert audit, "every write is audited"


def _policy_names(inventory: AzureInventory, vault_id: ResourceId) -> set[str]:
    return {p.name for p in inventory.list_policies(vault_id)}


def _plan_for(
    inventory: AzureInventory, vault_id: ResourceId, server_name: str, policy: str
) -> ProtectionPlan:
    server = inventory.get_server(ResourceId.parse(IDS.server_id(server_name)))
    draft = PolicyDraft(name=policy, schedule=WeeklySchedule(6, time(2, 0), "UTC"))
    return ProtectionPlan(
        vault_id=vault_id,
        policy_id=vault_id.child("backupPolicies", draft.name),
        targets=(ServerTarget.new(server),),
        vault=inventory.get_vault(vault_id),
        policy_draft=draft,
        grant=GrantScope.RESOURCE,
        reference_date=date(2025, 6, 2),
    )


def test_already_protected_server_leaves_no_policy_behind(factory: ClientFactory) -> None:
    audit: list[dict[str, Any]] = []
    inventory = AzureInventory(factory)
    service = ProtectionService(factory, lambda **kw: audit.append(kw))
    vault_id = ResourceId.parse(IDS.vault_id(IDS.VAULT_LRS))
    # pg-src-weu is protected in the GRS vault: Azure refuses it after the policy exists
    plan = _plan_for(inventory, vault_id, IDS.SOURCE, "pgflex-undo-dup")
    ctx = JobContext(token=CancelToken(), journal=JobJournal.in_memory())
    retry = RetryPolicy(initial_s=0.1, max_s=0.2, total_s=10, follow_interval_s=0.1)
    with pytest.raises(AppError) as info:
        ProtectJob(plan, ServicePort(service, inventory), retry=retry).run(ctx)
    assert info.value.azure_code == "UserErrorDppDatasourceAlreadyProtected"
    assert "already protected" in info.value.summary.lower() + info.value.remedy.lower()
    assert "policy pgflex-undo-dup was removed" in info.value.remedy
    assert "pgflex-undo-dup" not in _policy_names(inventory, vault_id)
    whats = [(a["what"], a["result"]) for a in audit]
    assert ("create the backup policy", "succeeded") in whats
    assert ("delete the backup policy", "succeeded") in whats


def test_injected_instance_failure_undoes_the_policy(box: Sandbox, factory: ClientFactory) -> None:
    box.world.add_server(IDS.SUB, IDS.RG_PG, "pg-undo-fault-weu", location="westeurope")
    inventory = AzureInventory(factory)
    service = ProtectionService(factory)
    vault_id = ResourceId.parse(IDS.vault_id(IDS.VAULT_LRS))
    plan = _plan_for(inventory, vault_id, "pg-undo-fault-weu", "pgflex-undo-fault")
    rule = box.faults.add(
        r"PUT .*/backupInstances/pg-undo-fault-weu-", status=400, code="UserErrorInjected", times=1
    )
    try:
        ctx = JobContext(token=CancelToken(), journal=JobJournal.in_memory())
        retry = RetryPolicy(initial_s=0.1, max_s=0.2, total_s=10, follow_interval_s=0.1)
        with pytest.raises(AppError) as info:
            ProtectJob(plan, ServicePort(service, inventory), retry=retry).run(ctx)
    finally:
        box.faults.remove(rule)
    assert info.value.azure_code == "UserErrorInjected"
    assert "nothing was left behind" in info.value.remedy
    assert "pgflex-undo-fault" not in _policy_names(inventory, vault_id)
    assert ctx.journal.get("undone_policy") == str(plan.policy_id)
    assert not [
        bi
        for bi in inventory.list_backup_instances(vault_id)
        if bi.datasource_id.name == "pg-undo-fault-weu"
    ]


def test_get_backup_instance_and_delete_policy(factory: ClientFactory) -> None:
    service = ProtectionService(factory)
    instance_id = ResourceId.parse(IDS.vault_id(IDS.VAULT_GRS)).child(
        "backupInstances", f"{IDS.SOURCE}-bi"
    )
    bi = service.get_backup_instance(instance_id)
    assert bi.datasource_id.name == IDS.SOURCE
    assert bi.policy_id is not None
    with pytest.raises(AppError) as info:
        service.delete_policy(bi.policy_id)  # in use: Azure refuses
    assert info.value.azure_code == "UserErrorPolicyInUse"
