"""Configure protection for flexible servers in one journaled job (the wizard's commit step).

``ProtectJob`` carries out a :class:`ProtectionPlan`, in this order:

1. create the vault (only when the plan has a ``VaultDraft``);
2. create the policy (only when the plan has a ``PolicyDraft``);
3. grant the vault identity the missing roles (only when the plan says so);
4. per server: ``validateForBackup``, retried with backoff while
   ``UserErrorMissingRequiredPermissions`` (role assignments take minutes to propagate), for
   at most ``RetryPolicy.total_s``;
5. per server: create the backup instance ``<server>-<guid>`` and follow it until
   ``ProtectionConfigured``.

Undo on failure (the decision the issue asks for):

* a backup instance this job created that never reached ``ProtectionConfigured`` is deleted;
* a policy this job created that no backup instance of this job uses is deleted
  ("no partial policy left behind");
* role assignments it granted are **kept**: they are harmless, needed on the next attempt,
  and removing them could race with other vaults that rely on the same assignment;
* a vault it created is **kept** and named in the error: it may carry irreversible settings
  (locked immutability, AlwaysOn soft delete) that the DBA chose on purpose, it is free while
  empty, and the next attempt can pick it.

Every write goes through the ``ProtectionPort``, which audits it. Nothing here imports Qt.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import (
    BackupInstance,
    FlexServer,
    PolicyInfo,
    ProtectionState,
    RoleAssignment,
    Vault,
)
from pgflex_gui.domain.policy import BACKUP_RULE_NAME, PolicyDraft, build_policy_body
from pgflex_gui.domain.preflight import (
    GrantScope,
    RoleRequirement,
    backup_instance_name,
    grant_scope,
    missing_roles,
    required_roles,
)
from pgflex_gui.domain.retention import RetentionKind
from pgflex_gui.domain.v2_rules import V2PolicyDraft, v2_eligibility_issues
from pgflex_gui.domain.vault_rules import VaultDraft, build_vault_body
from pgflex_gui.jobs.job import JobContext, Progress

__all__ = [
    "PERMISSION_CODES",
    "AdhocBackupJob",
    "ProtectJob",
    "ProtectResult",
    "ProtectionPlan",
    "ProtectionPort",
    "RetryPolicy",
    "ServerTarget",
    "ServicePort",
    "V2ProtectionPort",
    "backup_instance_body",
]

log = logging.getLogger(__name__)

BackupType = Literal["v1", "v2"]
"""v1: vaulted backup (logical, restore as files); v2: physical, restore as server (preview)."""

DATAPROTECTION = "Microsoft.DataProtection"
PERMISSION_CODES = frozenset(
    {"usererrormissingrequiredpermissions", "authorizationfailed", "usererrormsimissingpermissions"}
)
_NOT_FOUND_CODES = frozenset(
    {"resourcenotfound", "notfound", "usererrorresourcenotfound", "backupinstancenotfound"}
)
_FAILED_STATES = {
    ProtectionState.CONFIGURING_PROTECTION_FAILED,
    ProtectionState.PROTECTION_ERROR,
    ProtectionState.INVALID,
}


class ProtectionPort(Protocol):
    """The writes (and two reads) ``ProtectJob`` needs; ``azure.protection`` provides them.

    Every method blocks (worker thread only) and raises ``AppError``. Writes are audited by
    the implementation.
    """

    def create_vault(self, vault_id: ResourceId, body: Mapping[str, Any]) -> Vault: ...

    def create_policy(
        self, vault_id: ResourceId, name: str, body: Mapping[str, Any]
    ) -> PolicyInfo: ...

    def delete_policy(self, policy_id: ResourceId) -> None: ...

    def list_role_assignments(self, principal_id: str, scope: str) -> list[RoleAssignment]: ...

    def create_role_assignment(
        self, scope: str, role_guid: str, principal_id: str
    ) -> RoleAssignment: ...

    def validate_for_backup(
        self, vault_id: ResourceId, backup_instance: Mapping[str, Any]
    ) -> None: ...

    def create_backup_instance(
        self, vault_id: ResourceId, name: str, body: Mapping[str, Any]
    ) -> BackupInstance: ...

    def get_backup_instance(self, instance_id: ResourceId) -> BackupInstance: ...

    def delete_backup_instance(self, instance_id: ResourceId) -> None: ...

    def adhoc_backup(
        self, instance_id: ResourceId, *, rule_name: str, retention_tag: str
    ) -> str: ...


class V2ProtectionPort(Protocol):
    """The v2 (physical) calls ``ProtectJob`` needs; ``azure.vaulted_v2`` provides them.

    Every method blocks (worker thread only) and raises ``AppError``.
    """

    def create_v2_policy(
        self, vault_id: ResourceId, draft: V2PolicyDraft, reference_date: date
    ) -> PolicyInfo: ...

    def validate_for_backup_v2(
        self, vault_id: ResourceId, backup_instance: Mapping[str, Any], server: FlexServer
    ) -> None: ...

    def create_backup_instance_v2(
        self, vault_id: ResourceId, name: str, body: Mapping[str, Any], server: FlexServer
    ) -> BackupInstance: ...


@dataclass(frozen=True)
class ServerTarget:
    """One server to protect and the backup instance name chosen for it."""

    server: FlexServer
    instance_name: str

    @classmethod
    def new(cls, server: FlexServer, guid: str | None = None) -> ServerTarget:
        """A target named ``<server>-<guid>`` (a fresh guid unless given)."""
        return cls(server, backup_instance_name(server.name, guid or str(uuid.uuid4())))


@dataclass(frozen=True)
class ProtectionPlan:
    """Everything the commit step will do, decided by the wizard before anything is written.

    Exactly one of ``vault`` (existing) and ``vault_draft`` (create) is set; ``vault_id`` is
    the id in both cases. Likewise ``policy_id`` always names the policy, and ``policy_draft``
    is set only when the job creates it.
    """

    vault_id: ResourceId
    policy_id: ResourceId
    targets: tuple[ServerTarget, ...]
    vault: Vault | None = None
    vault_draft: VaultDraft | None = None
    policy_draft: PolicyDraft | None = None
    grant: GrantScope | None = None  # None: do not grant (an administrator will)
    reference_date: date | None = None  # first backup on or after it (policy body)
    backup_type: BackupType = "v1"
    v2_policy_draft: V2PolicyDraft | None = None  # only with backup_type "v2"

    @property
    def is_v2(self) -> bool:
        """True for vaulted backup v2 (physical, preview)."""
        return self.backup_type == "v2"

    @property
    def creates_vault(self) -> bool:
        """True when the job creates the vault."""
        return self.vault_draft is not None

    @property
    def creates_policy(self) -> bool:
        """True when the job creates the policy."""
        return self.v2_policy_draft is not None if self.is_v2 else self.policy_draft is not None

    def steps(self) -> list[str]:
        """The plan in words, one line per write (shown on the summary page)."""
        out: list[str] = []
        if self.vault_draft is not None:
            out.append(
                f"Create vault {self.vault_id.name} in {self.vault_draft.location} "
                f"(resource group {self.vault_id.resource_group})"
            )
        if self.creates_policy:
            what = "v2 policy" if self.is_v2 else "policy"
            out.append(f"Create {what} {self.policy_id.name} in vault {self.vault_id.name}")
        if self.grant is not None:
            out.append(f"Grant the vault identity missing roles (scope: {self.grant.value})")
        how = " with vaulted backup v2 (physical)" if self.is_v2 else ""
        for t in self.targets:
            out.append(
                f"Validate and protect {t.server.name}{how} as backup instance {t.instance_name}"
            )
        return out


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for validation while roles propagate, and for following the new instance."""

    initial_s: float = 10.0
    factor: float = 2.0
    max_s: float = 60.0
    total_s: float = 15 * 60.0  # give up waiting for permissions after this long
    follow_interval_s: float = 5.0
    follow_total_s: float = 10 * 60.0

    max_attempts: int = 200  # bounds the loop even with zero delays (tests)

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based), capped at ``max_s``."""
        return float(min(self.initial_s * self.factor ** max(0, attempt - 1), self.max_s))


@dataclass(frozen=True)
class ProtectResult:
    """What the job did."""

    vault_id: ResourceId
    policy_id: ResourceId
    instances: tuple[BackupInstance, ...]
    granted: tuple[RoleAssignment, ...] = ()
    created_vault: bool = False
    created_policy: bool = False
    notes: tuple[str, ...] = field(default=())


def backup_instance_body(
    server: FlexServer, policy_id: ResourceId, instance_name: str
) -> dict[str, Any]:
    """The ``BackupInstance`` object (unwrapped) for validate and PUT (azure-facts §3).

    The system-assigned identity is used (no ``identityDetails``).
    """
    source = {
        "objectType": "Datasource",
        "resourceID": str(server.id),
        "resourceName": server.name,
        "resourceType": "Microsoft.DBforPostgreSQL/flexibleServers",
        "datasourceType": "Microsoft.DBforPostgreSQL/flexibleServers",
        "resourceLocation": server.location,
        "resourceUri": "",
    }
    return {
        "objectType": "BackupInstance",
        "friendlyName": server.name,
        "dataSourceInfo": source,
        "dataSourceSetInfo": {**source, "objectType": "DatasourceSet"},
        "policyInfo": {"policyId": str(policy_id)},
    }


def _is_permission_error(exc: AppError) -> bool:
    code = (exc.azure_code or "").lower()
    return code in PERMISSION_CODES or (not code and exc.fault is Fault.PERMISSION)


class ProtectJob:
    """Carry out a :class:`ProtectionPlan` (see module docstring).

    Args:
        plan: what to do.
        protection: the service (audited writes).
        retry: backoff settings; tests pass tiny values.
        clock: monotonic clock for the deadlines (tests inject a fake).
    """

    kind = "protect"

    def __init__(
        self,
        plan: ProtectionPlan,
        protection: ProtectionPort,
        *,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        v2: V2ProtectionPort | None = None,
    ) -> None:
        self.plan = plan
        self._svc = protection
        self._v2 = v2 if v2 is not None else _v2_port_of(protection)
        self._retry = retry or RetryPolicy()
        self._clock = clock
        names = ", ".join(t.server.name for t in plan.targets)
        self.title = f"Configure backup of {names} in vault {plan.vault_id.name}"
        self._total = 2 + len(plan.targets) * 2 + 1

    # -- run ---------------------------------------------------------------------------------
    def run(self, ctx: JobContext) -> ProtectResult:
        """Do the plan; undo partial work on failure, then re-raise."""
        created_policy = False
        created_vault = False
        configured: list[BackupInstance] = []
        granted: list[RoleAssignment] = []
        pending: list[ResourceId] = []
        attach = getattr(self._svc, "attach", None)
        if attach is not None:
            attach(ctx)
        self._refuse_v2()  # before anything is sent
        try:
            vault = self._ensure_vault(ctx)
            created_vault = self.plan.creates_vault
            created_policy = self._ensure_policy(ctx)
            granted = self._grant(ctx, vault)
            for index, target in enumerate(self.plan.targets):
                self._validate(ctx, target, index)
                ctx.check_cancelled()
                instance = self._create_instance(ctx, target, index, pending)
                configured.append(instance)
                pending.remove(instance.id)
                ctx.journal.checkpoint("configured", [str(i.id) for i in configured])
        except BaseException as exc:
            undone = self._undo(
                ctx, pending, created_policy=created_policy, keep_policy=bool(configured)
            )
            notes = list(undone)
            if created_vault:
                notes.append(
                    f"The new vault {self.plan.vault_id.name} was kept; pick it when you try again."
                )
            if isinstance(exc, AppError) and notes:
                raise AppError(
                    fault=exc.fault,
                    summary=exc.summary,
                    remedy=" ".join([exc.remedy, *notes]).strip(),
                    retryable=exc.retryable,
                    azure_code=exc.azure_code,
                    request_id=exc.request_id,
                    details=exc.details,
                ) from exc
            raise
        ctx.report(Progress(self._total, self._total, "Protection configured"))
        return ProtectResult(
            vault_id=self.plan.vault_id,
            policy_id=self.plan.policy_id,
            instances=tuple(configured),
            granted=tuple(granted),
            created_vault=created_vault,
            created_policy=created_policy,
        )

    # -- steps -------------------------------------------------------------------------------
    def _step(self, ctx: JobContext, done: float, message: str) -> None:
        ctx.check_cancelled()
        ctx.report(Progress(done, self._total, message))

    def _ensure_vault(self, ctx: JobContext) -> Vault:
        plan = self.plan
        if plan.vault_draft is None:
            assert plan.vault is not None, "a plan has an existing vault or a vault draft"
            return plan.vault
        if ctx.journal.get("vault_created"):
            log.info("Vault %s was created by an earlier run", plan.vault_id)
        self._step(ctx, 0, f"Creating vault {plan.vault_id.name}")
        server = plan.targets[0].server if plan.targets else None
        vault = self._svc.create_vault(plan.vault_id, build_vault_body(plan.vault_draft, server))
        ctx.journal.checkpoint("vault_created", str(vault.id))
        return vault

    def _v2_port(self) -> V2ProtectionPort:
        if self._v2 is None:
            raise AppError(
                fault=Fault.APP,
                summary="This build cannot send vaulted backup v2 calls.",
                remedy="Protect the servers with v1 (logical) backup.",
            )
        return self._v2

    def _refuse_v2(self) -> None:
        """Raise ``AppError`` (fault USER) when the v2 rules refuse a server; sends nothing."""
        if not self.plan.is_v2:
            return
        self._v2_port()
        blocking = [
            issue
            for t in self.plan.targets
            for issue in v2_eligibility_issues(t.server, self.plan.vault)
            if issue.blocks
        ]
        if blocking:
            raise AppError(
                fault=Fault.USER,
                summary=f"Can't protect with vaulted backup v2: {blocking[0].message}",
                remedy=" ".join(i.remedy for i in blocking if i.remedy),
                details="\n".join(str(i) for i in blocking),
            )

    def _ensure_policy(self, ctx: JobContext) -> bool:
        plan = self.plan
        if plan.is_v2:
            if plan.v2_policy_draft is None:
                return False
            self._step(ctx, 1, f"Creating v2 policy {plan.policy_id.name}")
            reference = plan.reference_date or datetime.now(UTC).date()
            self._v2_port().create_v2_policy(plan.vault_id, plan.v2_policy_draft, reference)
            ctx.journal.checkpoint("policy_created", str(plan.policy_id))
            return True
        if plan.policy_draft is None:
            return False
        self._step(ctx, 1, f"Creating policy {plan.policy_id.name}")
        body = build_policy_body(plan.policy_draft, plan.reference_date or datetime.now(UTC).date())
        self._svc.create_policy(plan.vault_id, plan.policy_id.name, body)
        ctx.journal.checkpoint("policy_created", str(plan.policy_id))
        return True

    def _grant(self, ctx: JobContext, vault: Vault) -> list[RoleAssignment]:
        if self.plan.grant is None:
            return []
        if not vault.principal_id:
            raise AppError(
                fault=Fault.AZURE,
                summary=f"Vault {vault.name} has no system-assigned identity.",
                remedy="Turn on the vault's system-assigned managed identity and try again.",
            )
        self._step(ctx, 2, "Checking the vault identity's roles")
        made: list[RoleAssignment] = []
        for target in self.plan.targets:
            needed = required_roles(target.server, vault)
            have: list[RoleAssignment] = []
            for req in needed:
                have += self._svc.list_role_assignments(vault.principal_id, req.scope)
            for req in missing_roles(needed, [*have, *made], vault.principal_id):
                made.append(self._assign(ctx, req, vault))
        ctx.journal.checkpoint("granted", [a.id for a in made])
        return made

    def _assign(self, ctx: JobContext, req: RoleRequirement, vault: Vault) -> RoleAssignment:
        assert self.plan.grant is not None
        scope = grant_scope(req, self.plan.grant)
        self._step(ctx, 2, f"Granting {req.role_name} on {ResourceId.parse(scope).name}")
        return self._svc.create_role_assignment(scope, req.role_guid, vault.principal_id)

    def _validate(self, ctx: JobContext, target: ServerTarget, index: int) -> None:
        body = backup_instance_body(target.server, self.plan.policy_id, target.instance_name)
        done = 3 + index * 2
        deadline = self._clock() + self._retry.total_s
        attempt = 0
        while True:
            attempt += 1
            self._step(ctx, done, f"Validating {target.server.name} (attempt {attempt})")
            try:
                if self.plan.is_v2:
                    self._v2_port().validate_for_backup_v2(self.plan.vault_id, body, target.server)
                else:
                    self._svc.validate_for_backup(self.plan.vault_id, body)
            except AppError as exc:
                out_of_time = self._clock() >= deadline or attempt >= self._retry.max_attempts
                if not _is_permission_error(exc) or out_of_time:
                    raise
                wait = min(self._retry.delay(attempt), max(0.0, deadline - self._clock()))
                log.info(
                    "Validation of %s: permissions not there yet (%s); retrying in %.0f s",
                    target.server.name,
                    exc.azure_code,
                    wait,
                )
                ctx.report(
                    Progress(
                        done,
                        self._total,
                        f"Waiting for role assignments to take effect; retrying in {wait:.0f} s",
                    )
                )
                if ctx.token.wait(wait):
                    ctx.check_cancelled()
                continue
            return

    def _create_instance(
        self, ctx: JobContext, target: ServerTarget, index: int, pending: list[ResourceId]
    ) -> BackupInstance:
        done = 4 + index * 2
        self._step(ctx, done, f"Protecting {target.server.name}")
        body = backup_instance_body(target.server, self.plan.policy_id, target.instance_name)
        instance_id = self.plan.vault_id.child("backupInstances", target.instance_name)
        pending.append(instance_id)
        ctx.journal.checkpoint("pending_instance", str(instance_id))
        if self.plan.is_v2:
            instance = self._v2_port().create_backup_instance_v2(
                self.plan.vault_id, target.instance_name, {"properties": body}, target.server
            )
        else:
            instance = self._svc.create_backup_instance(
                self.plan.vault_id, target.instance_name, {"properties": body}
            )
        deadline = self._clock() + self._retry.follow_total_s
        while instance.protection_state is not ProtectionState.PROTECTION_CONFIGURED:
            if instance.protection_state in _FAILED_STATES:
                raise AppError(
                    fault=Fault.AZURE,
                    summary=f"Azure could not configure protection of {target.server.name} "
                    f"({instance.protection_state.value}).",
                    remedy=instance.error_message or "See the error code and try again.",
                    azure_code=instance.error_code,
                )
            if self._clock() >= deadline:
                raise AppError(
                    fault=Fault.NETWORK,
                    summary=f"Protection of {target.server.name} is still "
                    f"{instance.protection_state.value} after "
                    f"{self._retry.follow_total_s:.0f} s.",
                    remedy="Check the backup instance in the vault later.",
                    retryable=True,
                )
            ctx.report(
                Progress(
                    done,
                    self._total,
                    f"{target.server.name}: {instance.protection_state.value}",
                )
            )
            if ctx.token.wait(self._retry.follow_interval_s):
                ctx.check_cancelled()
            instance = self._svc.get_backup_instance(instance_id)
        return instance

    # -- undo --------------------------------------------------------------------------------
    def _undo(
        self,
        ctx: JobContext,
        pending: list[ResourceId],
        *,
        created_policy: bool,
        keep_policy: bool,
    ) -> list[str]:
        """Best effort: delete what this run created and nothing else uses.

        Returns sentences for the error's remedy (what was removed, what is left over).
        """
        notes: list[str] = []
        instance_left = False
        for instance_id in pending:
            try:
                self._svc.delete_backup_instance(instance_id)
                ctx.journal.checkpoint("undone_instance", str(instance_id))
            except AppError as exc:
                if (exc.azure_code or "").lower() in _NOT_FOUND_CODES:
                    continue  # never created
                instance_left = True
                log.warning("Could not delete backup instance %s: %s", instance_id, exc.summary)
                notes.append(f"Backup instance {instance_id.name} could not be removed.")
        if created_policy and not keep_policy and not instance_left:
            name = self.plan.policy_id.name
            try:
                self._svc.delete_policy(self.plan.policy_id)
                ctx.journal.checkpoint("undone_policy", str(self.plan.policy_id))
                notes.append(f"The new policy {name} was removed again; nothing was left behind.")
            except AppError as exc:
                log.warning("Could not delete policy %s: %s", self.plan.policy_id, exc.summary)
                notes.append(f"The unused policy {name} could not be removed; delete it later.")
        return notes


def _v2_port_of(protection: object) -> V2ProtectionPort | None:
    """``protection`` itself when it also speaks v2 (``ServicePort`` built with ``v2=``)."""
    if getattr(protection, "supports_v2", False):
        return protection  # type: ignore[return-value]
    return None


class AdhocBackupJob:
    """ "Backup now" for a protected instance, keeping the point under ``retention``."""

    kind = "adhoc-backup"

    def __init__(
        self,
        protection: ProtectionPort,
        instance_id: ResourceId,
        *,
        retention: RetentionKind = RetentionKind.DEFAULT,
        label: str = "",
    ) -> None:
        self._svc = protection
        self.instance_id = instance_id
        self.retention = retention
        # the server's name when known: instance names end in a GUID nobody reads
        self.title = f"Backup now: {label or instance_id.name} (kept as {retention.label})"

    def run(self, ctx: JobContext) -> str:
        """Trigger the backup; returns the Azure job id."""
        attach = getattr(self._svc, "attach", None)
        if attach is not None:
            attach(ctx)
        ctx.check_cancelled()
        ctx.report(Progress(0, 1, "Starting the backup"))
        job_id = self._svc.adhoc_backup(
            self.instance_id, rule_name=BACKUP_RULE_NAME, retention_tag=self.retention.value
        )
        ctx.journal.checkpoint("azure_job", job_id)
        ctx.report(Progress(1, 1, "Backup started"))
        return job_id


class ServicePort:
    """Adapt ``azure.protection.ProtectionService`` (LRO handles) to :class:`ProtectionPort`.

    Long-running calls are waited on with ``wait(timeout=1)`` and a cancel check; each
    continuation token goes into the job journal at once. Backup instances are read back
    through the inventory. Bind it to the running job with :meth:`attach` (ProtectJob does).
    """

    def __init__(self, service: Any, inventory: Any, *, v2: Any = None) -> None:
        self._svc = service
        self._inventory = inventory
        self._v2 = v2  # azure.vaulted_v2.VaultedV2Service, or None (v1 only)
        self._ctx: JobContext | None = None

    @property
    def supports_v2(self) -> bool:
        """True when built with the v2 service (then it is also a :class:`V2ProtectionPort`)."""
        return self._v2 is not None

    def attach(self, ctx: JobContext) -> None:
        """Use ``ctx`` for cancel checks and journaling continuation tokens."""
        self._ctx = ctx

    def _token(self, key: str) -> str | None:
        """A continuation token journaled by an earlier run of this job, if any."""
        if self._ctx is None:
            return None
        token = self._ctx.journal.get(f"lro.{key}")
        return token if isinstance(token, str) and token else None

    def _wait(self, key: str, lro: Any) -> Any:
        if self._ctx is not None:
            self._ctx.journal.checkpoint(f"lro.{key}", lro.continuation_token())
        while not lro.wait(timeout=1.0):
            if self._ctx is not None:
                self._ctx.check_cancelled()
        return lro.result(timeout=0)

    def create_vault(self, vault_id: ResourceId, body: Mapping[str, Any]) -> Vault:
        """Create the vault from the full draft body (immutability, CSR, soft delete, …)."""
        token = self._token("create_vault")
        lro = self._svc.begin_create_vault(vault_id, body=body, continuation_token=token)
        return self._wait("create_vault", lro)  # type: ignore[no-any-return]

    def create_policy(self, vault_id: ResourceId, name: str, body: Mapping[str, Any]) -> PolicyInfo:
        return self._svc.create_policy(vault_id, name, body)  # type: ignore[no-any-return]

    def delete_policy(self, policy_id: ResourceId) -> None:
        self._svc.delete_policy(policy_id)

    def list_role_assignments(self, principal_id: str, scope: str) -> list[RoleAssignment]:
        return self._svc.list_role_assignments(principal_id, scope)  # type: ignore[no-any-return]

    def create_role_assignment(
        self, scope: str, role_guid: str, principal_id: str
    ) -> RoleAssignment:
        return self._svc.create_role_assignment(  # type: ignore[no-any-return]
            scope=scope, role=role_guid, principal_id=principal_id
        )

    def validate_for_backup(self, vault_id: ResourceId, backup_instance: Mapping[str, Any]) -> None:
        self._wait("validate", self._svc.begin_validate_for_backup(vault_id, backup_instance))

    def create_backup_instance(
        self, vault_id: ResourceId, name: str, body: Mapping[str, Any]
    ) -> BackupInstance:
        lro = self._svc.begin_create_backup_instance(vault_id, name, body)
        return self._wait(f"create_instance.{name}", lro)  # type: ignore[no-any-return]

    def get_backup_instance(self, instance_id: ResourceId) -> BackupInstance:
        return self._svc.get_backup_instance(instance_id)  # type: ignore[no-any-return]

    # -- v2 (V2ProtectionPort) ----------------------------------------------------------------
    def create_v2_policy(
        self, vault_id: ResourceId, draft: V2PolicyDraft, reference_date: date
    ) -> PolicyInfo:
        return self._v2.create_policy(vault_id, draft, reference_date)  # type: ignore[no-any-return]

    def validate_for_backup_v2(
        self, vault_id: ResourceId, backup_instance: Mapping[str, Any], server: FlexServer
    ) -> None:
        # Not resumed from the journal: each attempt of the retry loop is a new validation.
        self._wait(
            "validate_v2",
            self._v2.begin_validate_for_backup(vault_id, backup_instance, server=server),
        )

    def create_backup_instance_v2(
        self, vault_id: ResourceId, name: str, body: Mapping[str, Any], server: FlexServer
    ) -> BackupInstance:
        key = f"create_instance_v2.{name}"
        lro = self._v2.begin_configure_protection(
            vault_id, name, body, server=server, continuation_token=self._token(key)
        )
        return self._wait(key, lro)  # type: ignore[no-any-return]

    def can_assign_roles(self, scope: str) -> bool:
        """Whether the signed-in principal may write role assignments at ``scope``."""
        return bool(self._svc.can_assign_roles(scope))

    def delete_backup_instance(self, instance_id: ResourceId) -> None:
        self._wait("delete_instance", self._svc.begin_delete_instance(instance_id))

    def adhoc_backup(self, instance_id: ResourceId, *, rule_name: str, retention_tag: str) -> str:
        lro = self._svc.begin_adhoc_backup(
            instance_id, rule_name=rule_name, retention_tag=retention_tag
        )
        return str(self._wait("adhoc", lro))
