"""ProtectJob against a hand-written fake ProtectionService: order, retries, undo."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, time
from typing import Any

import pytest

from pgflex_gui.domain.errors import AppError, Cancelled, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import (
    BackupInstance,
    FlexServer,
    PolicyInfo,
    ProtectionState,
    RoleAssignment,
    Vault,
)
from pgflex_gui.domain.policy import PolicyDraft
from pgflex_gui.domain.preflight import LTR_BACKUP_ROLE, READER_ROLE, GrantScope
from pgflex_gui.domain.retention import RetentionKind
from pgflex_gui.domain.schedule import WeeklySchedule
from pgflex_gui.domain.vault_rules import VaultDraft
from pgflex_gui.jobs.job import CancelToken, JobContext, Progress
from pgflex_gui.jobs.journal import JobJournal
from pgflex_gui.jobs.protect import (
    AdhocBackupJob,
    ProtectionPlan,
    ProtectJob,
    RetryPolicy,
    ServerTarget,
    backup_instance_body,
)

SUB = "aaaaaaaa-0000-0000-0000-000000000001"
TENANT = "11111111-1111-1111-1111-111111111111"
GUID = "857d23b1-0000-4000-8000-000000000001"
FAST = RetryPolicy(initial_s=0, factor=2, max_s=0, total_s=1, follow_interval_s=0, follow_total_s=5)


def server(name: str = "pg1", **kw: Any) -> FlexServer:
    return FlexServer(
        id=ResourceId.build(SUB, "rg-db", "Microsoft.DBforPostgreSQL", "flexibleServers", name),
        location="westeurope",
        version="16",
        state="Ready",
        tenant_id=TENANT,
        **kw,
    )


VAULT = Vault(
    id=ResourceId.build(SUB, "rg-bk", "Microsoft.DataProtection", "backupVaults", "v1"),
    location="westeurope",
    tenant_id=TENANT,
    principal_id="p-1",
)
DRAFT = PolicyDraft(name="weekly", schedule=WeeklySchedule(6, time(2, 0), "UTC"))


class FakeProtection:
    """A ProtectionPort that records calls and plays a script of failures."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.assignments: list[RoleAssignment] = []
        self.policies: dict[str, Mapping[str, Any]] = {}
        self.instances: dict[str, BackupInstance] = {}
        self.validate_failures: list[AppError] = []
        self.create_instance_error: AppError | None = None
        self.states: list[ProtectionState] = [ProtectionState.PROTECTION_CONFIGURED]

    def create_vault(self, vault_id: ResourceId, body: Mapping[str, Any]) -> Vault:
        self.calls.append(("create_vault", str(vault_id)))
        return Vault(id=vault_id, location=body["location"], principal_id="p-new")

    def create_policy(self, vault_id: ResourceId, name: str, body: Mapping[str, Any]) -> PolicyInfo:
        self.calls.append(("create_policy", name))
        self.policies[name] = body
        return PolicyInfo(id=vault_id.child("backupPolicies", name))

    def delete_policy(self, policy_id: ResourceId) -> None:
        self.calls.append(("delete_policy", policy_id.name))
        self.policies.pop(policy_id.name, None)

    def list_role_assignments(self, principal_id: str, scope: str) -> list[RoleAssignment]:
        self.calls.append(("list_roles", scope))
        return [a for a in self.assignments if a.principal_id == principal_id]

    def create_role_assignment(
        self, scope: str, role_guid: str, principal_id: str
    ) -> RoleAssignment:
        self.calls.append(("grant", f"{role_guid}@{scope}"))
        ra = RoleAssignment(
            id=f"{scope}/providers/Microsoft.Authorization/roleAssignments/{len(self.assignments)}",
            scope=scope,
            role_definition_id=f"/providers/Microsoft.Authorization/roleDefinitions/{role_guid}",
            principal_id=principal_id,
        )
        self.assignments.append(ra)
        return ra

    def validate_for_backup(self, vault_id: ResourceId, backup_instance: Mapping[str, Any]) -> None:
        self.calls.append(("validate", backup_instance["dataSourceInfo"]["resourceName"]))
        if self.validate_failures:
            raise self.validate_failures.pop(0)

    def create_backup_instance(
        self, vault_id: ResourceId, name: str, body: Mapping[str, Any]
    ) -> BackupInstance:
        self.calls.append(("create_instance", name))
        if self.create_instance_error is not None:
            raise self.create_instance_error
        bi = self._bi(vault_id.child("backupInstances", name), body, self.states[0])
        self.instances[name] = bi
        return bi

    def _bi(
        self, bid: ResourceId, body: Mapping[str, Any], state: ProtectionState
    ) -> BackupInstance:
        props = body["properties"]
        return BackupInstance(
            id=bid,
            datasource_id=ResourceId.parse(props["dataSourceInfo"]["resourceID"]),
            policy_id=ResourceId.parse(props["policyInfo"]["policyId"]),
            protection_state=state,
            error_code="UserErrorX"
            if state is ProtectionState.CONFIGURING_PROTECTION_FAILED
            else None,
        )

    def get_backup_instance(self, instance_id: ResourceId) -> BackupInstance:
        self.calls.append(("get_instance", instance_id.name))
        if len(self.states) > 1:
            self.states.pop(0)
        old = self.instances[instance_id.name]
        failed = self.states[0] is ProtectionState.CONFIGURING_PROTECTION_FAILED
        bi = replace(
            old, protection_state=self.states[0], error_code="UserErrorX" if failed else None
        )
        self.instances[instance_id.name] = bi
        return bi

    def delete_backup_instance(self, instance_id: ResourceId) -> None:
        self.calls.append(("delete_instance", instance_id.name))
        self.instances.pop(instance_id.name, None)

    def adhoc_backup(self, instance_id: ResourceId, *, rule_name: str, retention_tag: str) -> str:
        self.calls.append(("adhoc", f"{instance_id.name}:{rule_name}:{retention_tag}"))
        return "job-1"


def perm_error() -> AppError:
    return AppError(
        fault=Fault.PERMISSION,
        summary="missing",
        azure_code="UserErrorMissingRequiredPermissions",
    )


def ctx(token: CancelToken | None = None) -> tuple[JobContext, list[Progress]]:
    seen: list[Progress] = []
    return (
        JobContext(
            token=token or CancelToken(), journal=JobJournal.in_memory(), report=seen.append
        ),
        seen,
    )


def plan(**kw: Any) -> ProtectionPlan:
    servers = kw.pop("servers", [server()])
    values: dict[str, Any] = {
        "vault_id": VAULT.id,
        "policy_id": VAULT.id.child("backupPolicies", "weekly"),
        "targets": tuple(ServerTarget.new(s, GUID) for s in servers),
        "vault": VAULT,
        "policy_draft": DRAFT,
        "grant": GrantScope.RESOURCE,
        "reference_date": date(2025, 6, 2),
    }
    values.update(kw)
    return ProtectionPlan(**values)


def names(fake: FakeProtection) -> list[str]:
    return [c[0] for c in fake.calls]


def test_happy_path_order_and_result() -> None:
    fake = FakeProtection()
    c, seen = ctx()
    result = ProtectJob(plan(), fake, retry=FAST).run(c)
    assert names(fake) == [
        "create_policy",
        "list_roles",
        "list_roles",
        "grant",
        "grant",
        "validate",
        "create_instance",
    ]
    assert result.created_policy
    assert [i.name for i in result.instances] == [f"pg1-{GUID}"]
    assert len(result.granted) == 2
    assert seen[-1].message == "Protection configured"
    body = fake.policies["weekly"]
    assert body["properties"]["datasourceTypes"] == ["Microsoft.DBforPostgreSQL/flexibleServers"]


def test_grant_scope_widened_and_existing_roles_not_regranted() -> None:
    fake = FakeProtection()
    fake.assignments.append(
        RoleAssignment(
            id="x",
            scope=f"/subscriptions/{SUB}",
            role_definition_id=f"/x/roleDefinitions/{READER_ROLE[0]}",
            principal_id="p-1",
        )
    )
    c, _ = ctx()
    ProtectJob(plan(grant=GrantScope.RESOURCE_GROUP), fake, retry=FAST).run(c)
    grants = [c[1] for c in fake.calls if c[0] == "grant"]
    assert grants == [f"{LTR_BACKUP_ROLE[0]}@/subscriptions/{SUB}/resourceGroups/rg-db"]


def test_no_grant_when_plan_says_admin_will() -> None:
    fake = FakeProtection()
    c, _ = ctx()
    ProtectJob(plan(grant=None), fake, retry=FAST).run(c)
    assert "grant" not in names(fake)
    assert "list_roles" not in names(fake)


def test_validation_retried_while_permissions_propagate() -> None:
    fake = FakeProtection()
    fake.validate_failures = [perm_error(), perm_error()]
    retry = RetryPolicy(initial_s=0, max_s=0, total_s=10, follow_interval_s=0)
    c, seen = ctx()
    ProtectJob(plan(), fake, retry=retry).run(c)
    assert names(fake).count("validate") == 3
    assert any("role assignments to take effect" in p.message for p in seen)


def test_validation_gives_up_after_deadline_and_undoes_policy() -> None:
    fake = FakeProtection()
    fake.validate_failures = [perm_error()] * 50
    now = [0.0]

    def clock() -> float:
        now[0] += 100.0
        return now[0]

    c, _ = ctx()
    with pytest.raises(AppError) as info:
        ProtectJob(plan(), fake, retry=RetryPolicy(initial_s=0, total_s=250), clock=clock).run(c)
    assert info.value.azure_code == "UserErrorMissingRequiredPermissions"
    assert fake.policies == {}
    assert names(fake)[-1] == "delete_policy"
    assert "create_instance" not in names(fake)


def test_other_validation_error_is_not_retried() -> None:
    fake = FakeProtection()
    fake.validate_failures = [
        AppError(
            fault=Fault.AZURE, summary="dup", azure_code="UserErrorDppDatasourceAlreadyProtected"
        )
    ]
    c, _ = ctx()
    with pytest.raises(AppError):
        ProtectJob(plan(), fake, retry=FAST).run(c)
    assert names(fake).count("validate") == 1
    assert "delete_policy" in names(fake)


def test_retry_delays_back_off_and_are_capped() -> None:
    r = RetryPolicy(initial_s=10, factor=2, max_s=60, total_s=200)
    assert [r.delay(n) for n in range(1, 6)] == [10, 20, 40, 60, 60]


def test_failed_instance_deleted_and_created_policy_removed() -> None:
    fake = FakeProtection()
    fake.states = [
        ProtectionState.CONFIGURING_PROTECTION,
        ProtectionState.CONFIGURING_PROTECTION_FAILED,
    ]
    c, _ = ctx()
    with pytest.raises(AppError) as info:
        ProtectJob(plan(), fake, retry=FAST).run(c)
    assert info.value.azure_code == "UserErrorX"
    assert fake.instances == {}
    assert fake.policies == {}
    assert names(fake)[-2:] == ["delete_instance", "delete_policy"]


def test_existing_policy_never_deleted() -> None:
    fake = FakeProtection()
    fake.create_instance_error = AppError(fault=Fault.AZURE, summary="boom")
    c, _ = ctx()
    with pytest.raises(AppError):
        ProtectJob(plan(policy_draft=None), fake, retry=FAST).run(c)
    assert "delete_policy" not in names(fake)
    assert "create_policy" not in names(fake)


def test_policy_kept_when_an_earlier_server_uses_it() -> None:
    fake = FakeProtection()
    fake.validate_failures = []
    servers = [server("pg1"), server("pg2")]
    job = ProtectJob(plan(servers=servers), fake, retry=FAST)
    orig = fake.validate_for_backup

    def validate(vault_id: ResourceId, bi: Mapping[str, Any]) -> None:
        orig(vault_id, bi)
        if bi["dataSourceInfo"]["resourceName"] == "pg2":
            raise AppError(fault=Fault.AZURE, summary="pg2 broken")

    fake.validate_for_backup = validate  # type: ignore[method-assign]
    c, _ = ctx()
    with pytest.raises(AppError, match="pg2 broken"):
        job.run(c)
    assert "weekly" in fake.policies
    assert list(fake.instances) == [f"pg1-{GUID}"]


def test_new_vault_created_first_and_kept_on_failure() -> None:
    fake = FakeProtection()
    fake.create_instance_error = AppError(fault=Fault.AZURE, summary="boom", remedy="Retry.")
    vdraft = VaultDraft(name="v-new", location="westeurope")
    vid = ResourceId.build(SUB, "rg-db", "Microsoft.DataProtection", "backupVaults", "v-new")
    p = plan(
        vault=None,
        vault_draft=vdraft,
        vault_id=vid,
        policy_id=vid.child("backupPolicies", "weekly"),
    )
    c, _ = ctx()
    with pytest.raises(AppError) as info:
        ProtectJob(p, fake, retry=FAST).run(c)
    assert names(fake)[0] == "create_vault"
    assert "v-new was kept" in info.value.remedy
    grants = [c[1] for c in fake.calls if c[0] == "grant"]
    assert len(grants) == 2
    assert all(a.principal_id == "p-new" for a in fake.assignments)


def test_cancel_during_retry_undoes_policy() -> None:
    fake = FakeProtection()
    token = CancelToken()
    fake.validate_failures = [perm_error()] * 3
    orig = fake.validate_for_backup

    def validate(vault_id: ResourceId, bi: Mapping[str, Any]) -> None:
        token.cancel()
        orig(vault_id, bi)

    fake.validate_for_backup = validate  # type: ignore[method-assign]
    c, _ = ctx(token)
    with pytest.raises(Cancelled):
        ProtectJob(plan(), fake, retry=RetryPolicy(initial_s=0, total_s=10)).run(c)
    assert fake.policies == {}


def test_follow_until_configured() -> None:
    fake = FakeProtection()
    fake.states = [
        ProtectionState.CONFIGURING_PROTECTION,
        ProtectionState.CONFIGURING_PROTECTION,
        ProtectionState.PROTECTION_CONFIGURED,
    ]
    c, _ = ctx()
    result = ProtectJob(plan(), fake, retry=FAST).run(c)
    assert names(fake).count("get_instance") == 2
    assert result.instances[0].protection_state is ProtectionState.PROTECTION_CONFIGURED


def test_backup_instance_body_shape() -> None:
    s = server()
    pid = VAULT.id.child("backupPolicies", "weekly")
    body = backup_instance_body(s, pid, f"pg1-{GUID}")
    assert body["objectType"] == "BackupInstance"
    assert body["dataSourceInfo"]["resourceID"] == str(s.id)
    assert body["dataSourceSetInfo"]["objectType"] == "DatasourceSet"
    assert body["policyInfo"]["policyId"] == str(pid)
    assert "identityDetails" not in body


def test_plan_steps_in_words() -> None:
    lines = plan().steps()
    assert lines[0].startswith("Create policy weekly")
    assert "Grant" in lines[1]
    assert f"pg1-{GUID}" in lines[2]


def test_adhoc_backup_job() -> None:
    fake = FakeProtection()
    c, _ = ctx()
    bid = VAULT.id.child("backupInstances", "bi")
    job = AdhocBackupJob(fake, bid, retention=RetentionKind.MONTHLY)
    assert job.run(c) == "job-1"
    assert fake.calls == [("adhoc", "bi:BackupWeekly:Monthly")]


def test_undo_names_the_removed_policy_in_the_remedy() -> None:
    fake = FakeProtection()
    fake.create_instance_error = AppError(
        fault=Fault.AZURE, summary="Azure said no.", azure_code="UserErrorSomething"
    )
    c, _ = ctx()
    with pytest.raises(AppError) as info:
        ProtectJob(plan(), fake, retry=FAST).run(c)
    assert info.value.summary == "Azure said no."
    assert "policy weekly was removed" in info.value.remedy
    assert fake.policies == {}
    assert c.journal.get("undone_policy") == str(VAULT.id.child("backupPolicies", "weekly"))


def test_policy_kept_when_the_instance_could_not_be_removed() -> None:
    fake = FakeProtection()
    fake.states = [ProtectionState.CONFIGURING_PROTECTION_FAILED]

    def refuse(instance_id: ResourceId) -> None:
        raise AppError(fault=Fault.AZURE, summary="busy", azure_code="UserErrorBusy")

    fake.delete_backup_instance = refuse  # type: ignore[method-assign]
    c, _ = ctx()
    with pytest.raises(AppError) as info:
        ProtectJob(plan(), fake, retry=FAST).run(c)
    assert "delete_policy" not in names(fake)
    assert "could not be removed" in info.value.remedy


class _DoneLro:
    def __init__(self, value: Any) -> None:
        self.value = value

    def continuation_token(self) -> str:
        return "tok-1"

    def wait(self, timeout: float = 1.0) -> bool:
        return True

    def result(self, timeout: float | None = None) -> Any:
        return self.value


class _VaultService:
    def __init__(self) -> None:
        self.bodies: list[Mapping[str, Any]] = []
        self.tokens: list[str | None] = []

    def begin_create_vault(
        self, vault_id: ResourceId, *, body: Mapping[str, Any], continuation_token: str | None
    ) -> _DoneLro:
        self.bodies.append(body)
        self.tokens.append(continuation_token)
        return _DoneLro(Vault(id=vault_id, location=body["location"], principal_id="p"))


def test_service_port_creates_vault_with_immutability_and_csr() -> None:
    from pgflex_gui.domain.vault_rules import build_vault_body
    from pgflex_gui.jobs.protect import ServicePort

    svc = _VaultService()
    port = ServicePort(svc, inventory=None)
    c, _ = ctx()
    port.attach(c)
    draft = VaultDraft(
        name="bv-new",
        location="westeurope",
        immutability="Locked",
        cross_subscription_restore="PermanentlyDisabled",
    )
    vault = port.create_vault(VAULT.id, build_vault_body(draft))
    assert vault.id == VAULT.id
    props = svc.bodies[0]["properties"]
    assert props["securitySettings"]["immutabilitySettings"]["state"] == "Locked"
    assert props["featureSettings"]["crossSubscriptionRestoreSettings"]["state"] == (
        "PermanentlyDisabled"
    )
    assert c.journal.get("lro.create_vault") == "tok-1"
    port.create_vault(VAULT.id, build_vault_body(draft))  # a re-run resumes the LRO
    assert svc.tokens == [None, "tok-1"]
