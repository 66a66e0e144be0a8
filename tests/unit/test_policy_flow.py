"""PolicyFlow: the Configure-backup wizard's rules per step, without Qt."""

from __future__ import annotations

import sys
from datetime import date, time
from typing import Any

import pytest

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.issues import has_errors
from pgflex_gui.domain.models import (
    BackupInstance,
    FlexServer,
    PolicyInfo,
    ProtectionState,
    RetentionRuleInfo,
    RoleAssignment,
    Vault,
)
from pgflex_gui.domain.preflight import LTR_BACKUP_ROLE, READER_ROLE, GrantScope
from pgflex_gui.domain.retention import RetentionKind
from pgflex_gui.ui.wizards.policy.flow import Choice, InvalidPlan, PolicyFlow, Step

SUB = "aaaaaaaa-0000-0000-0000-000000000001"
SUB2 = "bbbbbbbb-0000-0000-0000-000000000002"
TENANT = "11111111-1111-1111-1111-111111111111"
GUID = "857d23b1-0000-4000-8000-000000000001"
TODAY = date(2025, 6, 2)
DP = "Microsoft.DataProtection"


def server(name: str = "pg1", **kw: Any) -> FlexServer:
    values: dict[str, Any] = {
        "location": "westeurope",
        "version": "16",
        "state": "Ready",
        "tenant_id": TENANT,
    }
    values.update(kw)
    return FlexServer(
        id=ResourceId.build(SUB, "rg-db", "Microsoft.DBforPostgreSQL", "flexibleServers", name),
        **values,
    )


def vault(name: str, location: str = "westeurope", sub: str = SUB, **kw: Any) -> Vault:
    values: dict[str, Any] = {"tenant_id": TENANT, "principal_id": f"p-{name}"}
    values.update(kw)
    return Vault(
        id=ResourceId.build(sub, "rg-bk", DP, "backupVaults", name), location=location, **values
    )


V1 = vault("v1")
V_FAR = vault("v-far", "eastus")
V_OTHER_SUB = vault("v-sub2", sub=SUB2)
V_OTHER_TENANT = vault("v-tenant", tenant_id="22222222-0000-0000-0000-000000000000")


def policy(
    name: str, intervals: tuple[str, ...] = ("R/2025-06-08T02:00:00+00:00/P1W",)
) -> PolicyInfo:
    return PolicyInfo(
        id=V1.id.child("backupPolicies", name),
        repeating_intervals=intervals,
        retention=(
            RetentionRuleInfo("Default", "P3M", is_default=True),
            RetentionRuleInfo("Monthly", "P1Y", criteria="FirstOfMonth"),
        ),
    )


def assignment(role: tuple[str, str], scope: str, principal: str = "p-v1") -> RoleAssignment:
    return RoleAssignment(
        id=f"{scope}/ra/{role[0]}",
        scope=scope,
        role_definition_id=f"/providers/Microsoft.Authorization/roleDefinitions/{role[0]}",
        principal_id=principal,
    )


def all_roles(s: FlexServer, principal: str = "p-v1") -> list[RoleAssignment]:
    return [
        assignment(LTR_BACKUP_ROLE, str(s.id), principal),
        assignment(READER_ROLE, s.id.resource_group_id, principal),
    ]


def make(*servers: FlexServer) -> PolicyFlow:
    return PolicyFlow(servers or (server(),), today=TODAY, guid=lambda _s: GUID)


def ready_flow(*servers: FlexServer) -> PolicyFlow:
    flow = make(*servers)
    flow.set_vaults([V1, V_FAR])
    flow.set_policies(V1.id, [policy("weekly")])
    flow.set_protecting_instances([])
    flow.set_assignments("p-v1", [a for s in flow.servers for a in all_roles(s)])
    return flow


# -- vault step --------------------------------------------------------------------------------


def test_needs_a_server() -> None:
    with pytest.raises(ValueError):
        PolicyFlow([], today=TODAY)


def test_vault_step_waits_for_listing() -> None:
    flow = make()
    assert not flow.ready(Step.VAULT)
    assert not flow.can_advance(Step.VAULT)


def test_wrong_region_and_tenant_not_offered_with_reasons() -> None:
    flow = make()
    flow.set_vaults([V_FAR, V1, V_OTHER_SUB, V_OTHER_TENANT])
    ok, rejected = flow.eligible()
    assert [v.name for v in ok] == ["v1", "v-sub2"]
    reasons = {v.name: r for v, r in rejected}
    assert set(reasons) == {"v-far", "v-tenant"}
    assert "eastus" in reasons["v-far"][0]
    assert "tenant" in reasons["v-tenant"][0]
    # the first eligible vault is preselected
    assert flow.selected_vault() == V1
    assert flow.can_advance(Step.VAULT)


def test_other_subscription_allowed_with_info() -> None:
    flow = make()
    flow.set_vaults([V_OTHER_SUB])
    assert flow.can_advance(Step.VAULT)
    assert any("another subscription" in i.message for i in flow.issues(Step.VAULT))


def test_no_eligible_vault_blocks_and_suggests_new() -> None:
    flow = make()
    flow.set_vaults([V_FAR])
    issues = flow.issues(Step.VAULT)
    assert has_errors(issues)
    assert "Create a new vault" in issues[0].remedy


def test_vault_listing_failure_is_an_issue() -> None:
    flow = make()
    flow.set_vaults_failed(AppError(fault=Fault.NETWORK, summary="offline", remedy="Retry."))
    assert any(i.message == "offline" for i in flow.issues(Step.VAULT))


def test_servers_in_two_regions_refused() -> None:
    flow = make(server("pg1"), server("pg2", location="eastus"))
    flow.set_vaults([V1, V_FAR])
    assert flow.eligible()[0] == []
    assert any(i.field == "servers" for i in flow.issues(Step.VAULT))
    assert not flow.can_advance(Step.VAULT)


def test_several_servers_share_vault_requirements_and_plan() -> None:
    s1, s2 = server("pg1"), server("pg2")
    flow = ready_flow(s1, s2)
    reqs = flow.requirements()
    # LTR per server, Reader once for the shared resource group
    assert len(reqs) == 3
    p = flow.plan()
    assert [t.instance_name for t in p.targets] == [f"pg1-{GUID}", f"pg2-{GUID}"]


def test_new_vault_draft_rules() -> None:
    flow = make()
    flow.set_vaults([V1])
    flow.use_new_vault(name="1bad")
    fields = {i.field for i in flow.issues(Step.VAULT) if i.blocks}
    assert "name" in fields
    flow.use_new_vault(name="v-new", redundancy="LRS", cross_region_restore=True)
    assert "cross_region_restore" in {i.field for i in flow.issues(Step.VAULT) if i.blocks}
    flow.use_new_vault(redundancy="GRS")
    assert flow.can_advance(Step.VAULT)
    assert flow.vault_id() == ResourceId.build(SUB, "rg-db", DP, "backupVaults", "v-new")
    assert flow.vault.draft.location == "westeurope"


def test_new_vault_name_clash_blocks() -> None:
    flow = make()
    flow.set_vaults([V1])
    flow.set_vault_location(subscription_id=SUB, resource_group="rg-bk")
    flow.use_new_vault(name="V1")
    assert any("already exists" in i.message for i in flow.issues(Step.VAULT))


def test_new_vault_needs_resource_group() -> None:
    flow = make()
    flow.use_new_vault(name="vnew")
    flow.set_vault_location(subscription_id=SUB, resource_group=" ")
    assert "resource_group" in {i.field for i in flow.issues(Step.VAULT) if i.blocks}


@pytest.mark.parametrize(
    "change",
    [
        {"soft_delete": "AlwaysOn"},
        {"immutability": "Locked"},
        {"cross_subscription_restore": "PermanentlyDisabled"},
    ],
)
def test_irreversible_choice_needs_confirmation(change: dict[str, str]) -> None:
    flow = make()
    flow.use_new_vault(name="vnew", **change)
    assert flow.irreversible_warnings()
    assert not flow.can_advance(Step.VAULT)
    flow.confirm_irreversible(True)
    assert flow.can_advance(Step.VAULT)
    # changing an irreversible choice again withdraws the confirmation
    flow.use_new_vault(immutability="Locked", soft_delete="AlwaysOn")
    assert not flow.vault.irreversible_confirmed or change == {
        "immutability": "Locked",
        "soft_delete": "AlwaysOn",
    }


def test_reversible_choices_need_no_confirmation() -> None:
    flow = make()
    flow.use_new_vault(name="vnew", soft_delete="On", immutability="Unlocked")
    assert flow.irreversible_warnings() == []
    assert flow.can_advance(Step.VAULT)


def test_new_vault_switches_policy_to_new() -> None:
    flow = make()
    flow.set_vaults([V1])
    flow.set_policies(V1.id, [policy("weekly")])
    flow.use_new_vault(name="vnew")
    assert flow.policy.mode is Choice.NEW
    assert flow.ready(Step.POLICY)


# -- policy step -------------------------------------------------------------------------------


def test_existing_policy_chosen_and_described() -> None:
    flow = make()
    flow.set_vaults([V1])
    assert not flow.ready(Step.POLICY)
    flow.set_policies(V1.id, [policy("weekly")])
    assert flow.selected_policy() is not None
    assert flow.policy_description().startswith("Weekly on Sunday at 02:00")
    assert flow.can_advance(Step.POLICY)
    assert len(flow.calendar()) == 52


def test_stale_policy_listing_dropped() -> None:
    flow = make()
    flow.set_vaults([V1, V_OTHER_SUB])
    flow.choose_existing_vault(V_OTHER_SUB.id)
    flow.set_policies(V1.id, [policy("weekly")])
    assert flow.policies is None


def test_existing_policy_with_two_days_refused() -> None:
    flow = make()
    flow.set_vaults([V1])
    two = policy(
        "twice",
        ("R/2025-06-08T02:00:00+00:00/P1W", "R/2025-06-04T02:00:00+00:00/P1W"),
    )
    flow.set_policies(V1.id, [two])
    assert not flow.can_advance(Step.POLICY)


def test_vault_without_policies_defaults_to_new() -> None:
    flow = make()
    flow.set_vaults([V1])
    flow.set_policies(V1.id, [])
    assert flow.policy.mode is Choice.NEW
    assert flow.can_advance(Step.POLICY)


def test_new_policy_dst_note_live() -> None:
    flow = make()
    flow.set_vaults([V1])
    flow.set_policies(V1.id, [])
    flow.update_policy(weekday=6, at=time(2, 30), time_zone="UTC")
    assert flow.dst_note() == ""
    flow.update_policy(time_zone="Europe/Berlin")
    assert "daylight saving" in flow.dst_note()


def test_bad_time_zone_explained() -> None:
    flow = make()
    flow.set_vaults([V1])
    flow.set_policies(V1.id, [])
    flow.update_policy(time_zone="Mars/Olympus")
    assert "schedule.time_zone" in {i.field for i in flow.issues(Step.POLICY) if i.blocks}
    assert flow.dst_note() == ""
    assert flow.calendar() == []


@pytest.mark.parametrize("duration", ["P6D", "P11Y", "PT1H", "junk"])
def test_invalid_retention_blocks(duration: str) -> None:
    flow = make()
    flow.set_vaults([V1])
    flow.set_policies(V1.id, [])
    flow.set_retention(RetentionKind.MONTHLY, duration)
    issues = [i for i in flow.issues(Step.POLICY) if i.blocks]
    assert [i.field for i in issues] == ["retention.Monthly"]
    assert not flow.can_advance(Step.POLICY)
    assert flow.calendar() == []


def test_retention_rules_and_calendar() -> None:
    flow = make()
    flow.set_vaults([V1])
    flow.set_policies(V1.id, [])
    flow.set_retention(RetentionKind.MONTHLY, "P1Y")
    flow.set_retention(RetentionKind.YEARLY, "P10Y")
    tags = {e.tag for e in flow.calendar()}
    assert tags == {RetentionKind.DEFAULT, RetentionKind.MONTHLY, RetentionKind.YEARLY}
    flow.set_retention(RetentionKind.YEARLY, None)
    assert RetentionKind.YEARLY not in {r.kind for r in flow.policy.draft.rules}


def test_removing_default_retention_blocks() -> None:
    flow = make()
    flow.set_vaults([V1])
    flow.set_policies(V1.id, [])
    flow.set_retention(RetentionKind.DEFAULT, None)
    assert not flow.can_advance(Step.POLICY)


def test_new_policy_name_rules_and_clash() -> None:
    flow = make()
    flow.set_vaults([V1])
    flow.set_policies(V1.id, [policy("weekly")])
    flow.use_new_policy()
    flow.update_policy(name="x")
    assert not flow.can_advance(Step.POLICY)
    flow.update_policy(name="Weekly")
    assert any("can't be changed in place" in i.message for i in flow.issues(Step.POLICY))
    flow.update_policy(name="weekly-2")
    assert flow.can_advance(Step.POLICY)


def test_start_from_existing_policy_prefills_new_name() -> None:
    flow = make()
    flow.set_vaults([V1])
    flow.set_policies(V1.id, [policy("weekly"), policy("weekly-v2")])
    flow.start_from_policy(V1.id.child("backupPolicies", "weekly"))
    assert flow.policy.mode is Choice.NEW
    draft = flow.policy.draft
    assert draft.name == "weekly-v3"
    assert draft.schedule.weekday == 6
    assert draft.schedule.time == time(2, 0)
    assert {r.kind for r in draft.rules} == {RetentionKind.DEFAULT, RetentionKind.MONTHLY}
    assert flow.can_advance(Step.POLICY)
    p = ready_plan_with(flow)
    assert p.policy_draft == draft
    assert p.policy_id.name == "weekly-v3"


def ready_plan_with(flow: PolicyFlow) -> Any:
    flow.set_protecting_instances([])
    flow.set_assignments("p-v1", all_roles(flow.servers[0]))
    return flow.plan()


# -- pre-flight --------------------------------------------------------------------------------


def test_stopped_server_refused() -> None:
    flow = ready_flow(server(state="Stopped"))
    issues = flow.issues(Step.PREFLIGHT)
    assert issues[0].field == "server.state"
    assert "Start the server" in issues[0].remedy
    assert not flow.can_advance(Step.PREFLIGHT)
    with pytest.raises(InvalidPlan):
        flow.plan()


@pytest.mark.parametrize(
    ("state", "words"),
    [
        (ProtectionState.PROTECTION_CONFIGURED, "already protected"),
        (ProtectionState.SOFT_DELETED, "soft-deleted"),
    ],
)
def test_already_protected_refused(state: ProtectionState, words: str) -> None:
    s = server()
    flow = ready_flow(s)
    bi = BackupInstance(
        id=V_OTHER_SUB.id.child("backupInstances", "pg1-x"),
        datasource_id=s.id,
        policy_id=None,
        protection_state=state,
    )
    flow.set_protecting_instances([(bi, "v-sub2")])
    issues = [i for i in flow.issues(Step.PREFLIGHT) if i.blocks]
    assert words in issues[0].message
    assert "v-sub2" in issues[0].message


def test_preflight_waits_for_instances_and_reports_failure_as_warning() -> None:
    flow = make()
    assert not flow.ready(Step.PREFLIGHT)
    flow.set_instances_failed(AppError(fault=Fault.NETWORK, summary="offline"))
    assert not flow.ready(Step.PREFLIGHT)
    flow.set_protecting_instances([])
    assert flow.can_advance(Step.PREFLIGHT)


def test_preflight_warnings_do_not_block() -> None:
    s = server(storage_gb=8192, public_network_access=False, encryption="AzureKeyVault")
    flow = ready_flow(s)
    fields = {i.field for i in flow.issues(Step.PREFLIGHT)}
    assert {"server.size", "server.network", "server.encryption", "server.databases"} <= fields
    assert flow.can_advance(Step.PREFLIGHT)


def test_excluded_databases_listed_when_known() -> None:
    s = server()
    flow = ready_flow(s)
    flow.set_databases(s.id, [("postgres", "azuresu"), ("app", "dba")])
    msgs = [i.message for i in flow.issues(Step.PREFLIGHT)]
    assert any("postgres" in m and "Not in the backup" in m for m in msgs)


# -- permissions -------------------------------------------------------------------------------


def test_missing_roles_block_until_grant_or_revalidate() -> None:
    s = server()
    flow = ready_flow(s)
    flow.set_assignments("p-v1", [])
    assert len(flow.missing() or []) == 2
    assert not flow.can_advance(Step.PERMISSIONS)
    assert "az role assignment create" in flow.az_script()
    assert len(flow.arm_template()["resources"]) == 2
    flow.set_grant(GrantScope.RESOURCE_GROUP)
    assert flow.can_advance(Step.PERMISSIONS)
    assert flow.plan().grant is GrantScope.RESOURCE_GROUP
    # "Revalidate" after an admin granted them
    flow.set_grant(None)
    flow.set_assignments("p-v1", all_roles(s))
    assert flow.missing() == []
    assert flow.can_advance(Step.PERMISSIONS)
    assert flow.plan().grant is None


def test_inherited_assignment_counts() -> None:
    flow = ready_flow()
    flow.set_assignments(
        "p-v1",
        [
            assignment(LTR_BACKUP_ROLE, f"/subscriptions/{SUB}"),
            assignment(READER_ROLE, f"/subscriptions/{SUB}"),
        ],
    )
    assert flow.missing() == []


def test_assignments_for_another_principal_dropped() -> None:
    flow = ready_flow()
    flow.set_assignments("p-other", [])
    assert flow.missing() == []


def test_vault_without_identity_blocks() -> None:
    flow = make()
    flow.set_vaults([vault("v1", principal_id="")])
    assert any(i.field == "vault.identity" for i in flow.issues(Step.PERMISSIONS))


def test_new_vault_needs_grant_or_warns() -> None:
    flow = make()
    flow.use_new_vault(name="vnew")
    flow.set_protecting_instances([])
    issues = flow.issues(Step.PERMISSIONS)
    assert issues[0].field == "grant"
    assert not has_errors(issues)
    flow.set_grant(GrantScope.RESOURCE)
    p = flow.plan()
    assert p.creates_vault
    assert p.creates_policy
    assert p.grant is GrantScope.RESOURCE
    assert p.vault is None


# -- plan --------------------------------------------------------------------------------------


def test_happy_path_plan() -> None:
    flow = ready_flow()
    assert all(flow.can_advance(s) for s in Step)
    p = flow.plan()
    assert p.vault == V1
    assert p.policy_id == V1.id.child("backupPolicies", "weekly")
    assert p.policy_draft is None
    assert p.vault_draft is None
    assert p.grant is None
    assert p.reference_date == TODAY
    assert p.targets[0].instance_name == f"pg1-{GUID}"


def test_plan_refused_while_loading() -> None:
    flow = make()
    flow.set_vaults([V1])
    with pytest.raises(InvalidPlan):
        flow.plan()


def test_summary_collects_blocking_issues() -> None:
    flow = ready_flow(server(state="Stopped"))
    assert [i.field for i in flow.issues(Step.SUMMARY)] == ["server.state"]


def test_listeners_called_on_change() -> None:
    flow = make()
    calls: list[int] = []
    flow.subscribe(lambda: calls.append(1))
    flow.set_vaults([V1])
    flow.update_policy(name="abc")
    assert len(calls) >= 2


def test_flow_is_qt_free() -> None:
    assert "pgflex_gui.ui.wizards.policy.flow" in sys.modules
    import pgflex_gui.ui.wizards.policy.flow as flow_mod

    assert "PySide6" not in flow_mod.__dict__
