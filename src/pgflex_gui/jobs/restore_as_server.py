"""Restore as server (vaulted backup v2): target pre-flight → validate → trigger → follow → verify.

A v2 recovery point is a physical snapshot; Azure Backup restores it only onto an existing,
empty flexible server (doc ``azure-v2-and-resource-graph.md`` §1.6). :class:`ServerRestoreEngine`
runs a :class:`~pgflex_gui.domain.server_restore_plan.ServerRestorePlan` headless, through one
port (:class:`ServerRestoreArm`; :class:`SdkServerRestoreArm` is the real one):

1. **Pre-flight** (stage ``plan``): every documented target rule
   (``domain.restore_as_server.target_checks``) on fresh facts: the target exists and is
   empty, not Burstable, same major version, disk size and type as the source, no HA, no
   replica, the vault's region, the vault identity's role. A broken rule stops the run
   before anything is sent, with its fix; with ``grant_role`` a missing role is assigned
   first. A rule that can't be told is a note, and Azure's validation decides.
2. **Azure** (stage ``azure``): ``validateRestore``, then ``restore`` (its continuation token
   and job id journaled at once, so a rerun after ``kill -9`` follows the same job), then the
   job is followed to its end.
3. **Verify** (stage ``verify``): the target's databases are listed; each user database the
   source has (or had, when the source is gone: every one found) is a result row.

The result is the v1 engine's :class:`~pgflex_gui.jobs.restore.RestoreResult`, so the report,
the exit code and the result view are the same as for a restore as files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pgflex_gui.domain.errors import AppError, Cancelled, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import FlexServer, RoleAssignment, Vault
from pgflex_gui.domain.preflight import RoleRequirement
from pgflex_gui.domain.restore_as_server import (
    CheckStatus,
    SourceFacts,
    TargetCheck,
    TargetFacts,
    build_restore_as_server_request,
    target_checks,
    target_role_requirement,
    user_databases,
)
from pgflex_gui.domain.restore_outcome import Stage, StageError
from pgflex_gui.domain.server_restore_plan import ServerRestorePlan
from pgflex_gui.jobs.job import JobContext, Progress
from pgflex_gui.jobs.restore import ArmJob, DbResult, RestoreResult, StageTime
from pgflex_gui.jobs.restore_adapters import arm_job_of, wait_lro

__all__ = [
    "SdkServerRestoreArm",
    "ServerRestoreArm",
    "ServerRestoreEngine",
    "check_target",
    "plan_digest",
    "source_facts",
]

log = logging.getLogger(__name__)


class ServerRestoreArm(Protocol):
    """What the engine needs from Azure (every method raises AppError)."""

    def get_vault(self, vault_id: ResourceId) -> Vault: ...

    def get_server(self, server_id: ResourceId) -> FlexServer | None:
        """The server, or None when it does not exist."""

    def list_databases(self, server_id: ResourceId) -> list[tuple[str, str]]: ...

    def list_role_assignments(self, principal_id: str, scope: str) -> list[RoleAssignment]: ...

    def grant_role(self, requirement: RoleRequirement, principal_id: str) -> None: ...

    def validate(
        self, instance_id: ResourceId, request: Mapping[str, Any], *, check: Callable[[], None]
    ) -> None: ...

    def trigger(
        self,
        instance_id: ResourceId,
        request: Mapping[str, Any],
        *,
        resume: str | None,
        on_token: Callable[[str], None],
        check: Callable[[], None],
    ) -> str: ...

    def get_job(self, vault_id: ResourceId, job_id: str) -> ArmJob: ...


def plan_digest(plan: ServerRestorePlan) -> str:
    """A short, stable id of the plan (its journal belongs to this plan only)."""
    text = json.dumps(plan.to_json(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_target(
    arm: ServerRestoreArm, target_id: ResourceId, source: SourceFacts, vault: Vault
) -> list[TargetCheck]:
    """Every target rule on fresh facts read through ``arm`` (worker thread; AppError).

    The one pre-flight of a restore as server: the engine runs it before anything is sent,
    the wizard runs it to show each rule with its fix. A fact that can't be read (databases,
    role assignments) leaves its rule UNKNOWN, never PASS.
    """
    target = arm.get_server(target_id)
    databases: list[tuple[str, str]] | None = None
    assignments: list[RoleAssignment] | None = None
    if target is not None:
        try:
            databases = arm.list_databases(target_id)
        except AppError as exc:
            log.warning("Databases of %s not listed: %s", target_id.name, exc.summary)
        if vault.principal_id:
            try:
                assignments = arm.list_role_assignments(vault.principal_id, str(target_id))
            except AppError as exc:
                log.warning("Role assignments not read: %s", exc.summary)
    return target_checks(source, TargetFacts(target, databases, None, assignments), vault)


def source_facts(
    arm: ServerRestoreArm, source_id: ResourceId
) -> tuple[FlexServer | None, SourceFacts]:
    """The source server (None when deleted) and what it tells about the backup."""
    source = arm.get_server(source_id)
    return source, (SourceFacts.of(source) if source is not None else SourceFacts(source_id))


def _no_audit(action: str, target: str, details: Mapping[str, Any]) -> None:
    log.info("%s %s %s", action, target, dict(details))


class ServerRestoreEngine:
    """Run (or resume) one restore as server; see the module docstring."""

    def __init__(
        self,
        plan: ServerRestorePlan,
        arm: ServerRestoreArm,
        *,
        audit: Callable[[str, str, Mapping[str, Any]], None] = _no_audit,
        poll_s: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.plan = plan
        self.arm = arm
        self.audit = audit
        self.poll_s = poll_s
        self.clock = clock
        self._result = RestoreResult(target_server=plan.target_name)
        self._stage = Stage.PLAN

    @property
    def result(self) -> RestoreResult:
        return self._result

    def run(self, ctx: JobContext) -> RestoreResult:
        """Returns the result; raises Cancelled or AppError (the result says where)."""
        journal, res = ctx.journal, self._result
        digest = plan_digest(self.plan)
        old = journal.get("plan_digest")
        if old is not None and old != digest:
            err = AppError(
                Fault.USER,
                "This journal belongs to another restore plan.",
                "Start the plan with a fresh journal, or rerun the plan it was made for.",
            )
            res.error = StageError(Stage.PLAN, err.summary, err.remedy)
            raise err
        res.started = float(journal.get("started") or self.clock())
        if old is None:
            journal.update({"plan_digest": digest, "started": res.started})
        try:
            vault, source = self._preflight(ctx)
            self._stage = Stage.AZURE
            self._azure(ctx, vault, source)
            self._stage = Stage.VERIFY
            self._verify(ctx, source)
        except Cancelled:
            res.cancelled = True
            self._close_bars("cancelled")
            raise
        except AppError as exc:
            res.error = StageError(self._stage, exc.summary, exc.remedy, exc.azure_code or "")
            self._close_bars("failed")
            raise
        finally:
            res.finished = self.clock()
        return res

    # -- stages ------------------------------------------------------------------------------

    def _preflight(self, ctx: JobContext) -> tuple[Vault, FlexServer | None]:
        plan, arm = self.plan, self.arm
        bar = self._bar("server", "Target pre-flight")
        ctx.report(Progress(0, None, f"Checking {plan.target_name} against the target rules…"))
        vault = arm.get_vault(plan.vault_id)
        source, facts = source_facts(arm, ResourceId.parse(plan.source_server_id))
        if source is None:
            self._note(
                "The source server no longer exists: its version, disk size and type could "
                "not be compared; Azure's validation decides."
            )
        if ctx.journal.get("azure", {}).get("job_id"):
            # Resuming a restore Azure already runs: the target is not empty any more.
            self._end(bar, "skipped")
            return vault, source
        checks = self._checks(facts, vault)
        role = next((c for c in checks if c.key == "role"), None)
        others_block = any(c.blocks for c in checks if c.key != "role")
        # The role is granted only when it is all that stands in the way: a target refused
        # for another rule gets no write at all.
        if role is not None and role.blocks and plan.grant_role and not others_block:
            target = arm.get_server(plan.target_id)
            assert target is not None  # the role check runs only on an existing target
            requirement = target_role_requirement(target, vault)
            ctx.report(Progress(0, None, f"Assigning '{requirement.role_name}' to the vault…"))
            arm.grant_role(requirement, vault.principal_id)
            self.audit("grant-role", plan.target_server_id, {"role": requirement.role_name})
            self._note(
                f"Assigned '{requirement.role_name}' on {target.name} to vault {vault.name}."
            )
            checks = self._checks(facts, vault)
        ctx.check_cancelled()
        broken = [c for c in checks if c.blocks]
        for c in checks:
            if c.status is CheckStatus.UNKNOWN:
                self._note(f"{c.title}: {c.message} {c.remedy}".strip())
        if broken:
            self._end(bar, "failed")
            raise AppError(
                Fault.USER,
                f"{plan.target_name} can't take this restore: "
                + " ".join(c.message for c in broken),
                " ".join(c.remedy for c in broken if c.remedy) or "Pick another target server.",
            )
        self._end(bar, "ok")
        return vault, source

    def _checks(self, source: SourceFacts, vault: Vault) -> list[TargetCheck]:
        return check_target(self.arm, self.plan.target_id, source, vault)

    def _azure(self, ctx: JobContext, vault: Vault, source: FlexServer | None) -> None:
        plan, arm, journal = self.plan, self.arm, ctx.journal
        state = dict(journal.get("azure") or {})
        if state.get("done"):
            self._result.azure_job_id = str(state.get("job_id", ""))
            return
        bar = self._bar("azure", "Azure restore job")
        target = arm.get_server(plan.target_id)
        if target is None:
            raise AppError(Fault.USER, f"The target server {plan.target_name} does not exist.")
        request = build_restore_as_server_request(
            recovery_point_id=plan.recovery_point_id,
            source_server_id=ResourceId.parse(plan.source_server_id),
            target=target,
            vault=vault,
        )
        job_id = str(state.get("job_id", ""))
        if not job_id:
            resume = state.get("continuation_token")
            if not resume:
                ctx.report(Progress(0, None, "Validating the restore as a server…"))
                arm.validate(plan.instance_id, request, check=ctx.check_cancelled)
                self.audit(
                    "trigger-restore-as-server",
                    plan.backup_instance_id,
                    {"recovery_point": plan.recovery_point_id, "target": plan.target_server_id},
                )

            def on_token(token: str) -> None:
                state["continuation_token"] = token
                journal.checkpoint("azure", dict(state))

            ctx.report(Progress(0, None, "Starting the restore in Azure Backup…"))
            job_id = arm.trigger(
                plan.instance_id,
                request,
                resume=resume,
                on_token=on_token,
                check=ctx.check_cancelled,
            )
            state["job_id"] = job_id
            journal.checkpoint("azure", dict(state))
        self._result.azure_job_id = job_id
        while True:
            ctx.check_cancelled()
            job = arm.get_job(plan.vault_id, job_id)
            ctx.report(Progress(0, None, f"Azure restore job: {job.status}"))
            if job.finished:
                break
            if ctx.token.wait(self.poll_s):
                raise Cancelled()
        if not job.succeeded:
            self._end(bar, "failed")
            raise AppError(
                Fault.AZURE,
                f"The Azure Backup restore job ended as {job.status}.",
                "Open the job in the vault for details; fix the cause and run the plan again.",
                details=job.error,
            )
        self._end(bar, "ok")
        state["done"] = True
        journal.checkpoint("azure", state)

    def _verify(self, ctx: JobContext, source: FlexServer | None) -> None:
        plan, arm = self.plan, self.arm
        bar = self._bar("verify", f"Databases on {plan.target_name}")
        ctx.report(Progress(0, None, f"Listing the databases on {plan.target_name}…"))
        found = set(user_databases(arm.list_databases(plan.target_id)))
        expected = set(found)
        if source is not None:
            try:
                expected = set(user_databases(arm.list_databases(source.id)))
            except AppError as exc:
                self._note(f"The source's databases could not be listed: {exc.summary}")
        for name in sorted(expected | found):
            if name in found:
                self._result.databases.append(
                    DbResult(name, "restored", message="restored with the server (physical)")
                )
            else:
                self._result.databases.append(
                    DbResult(
                        name,
                        "failed",
                        stage=Stage.VERIFY.value,
                        message="on the source now, not on the restored server (created "
                        "after the recovery point?)",
                    )
                )
        self._note(
            "Row counts were not compared: a physical restore copies the whole server; "
            "connect to both servers to compare tables."
        )
        self._end(bar, "ok" if found else "failed")

    # -- timeline ----------------------------------------------------------------------------

    def _bar(self, lane: str, label: str) -> StageTime:
        bar = StageTime(lane, label, self.clock())
        self._result.timeline.append(bar)
        return bar

    def _end(self, bar: StageTime, status: str) -> None:
        bar.end, bar.status = self.clock(), status

    def _close_bars(self, status: str) -> None:
        for bar in self._result.timeline:
            if bar.end is None:
                self._end(bar, status)

    def _note(self, text: str) -> None:
        if text not in self._result.notes:
            self._result.notes.append(text)


class SdkServerRestoreArm:
    """The port over the app's Azure layer (one ``ClientFactory``; AppError only)."""

    def __init__(self, factory: Any, *, audit: Callable[..., None] | None = None) -> None:
        from pgflex_gui.azure.inventory import AzureInventory
        from pgflex_gui.azure.protection import ProtectionService
        from pgflex_gui.azure.restore import RestoreService
        from pgflex_gui.azure.vaulted_v2 import VaultedV2Service

        self.factory = factory
        self.inventory = AzureInventory(factory)
        self.protection = ProtectionService(factory, audit)
        self.restores = RestoreService(factory, audit)
        self.v2 = VaultedV2Service(factory, audit)

    def get_vault(self, vault_id: ResourceId) -> Vault:
        return self.inventory.get_vault(vault_id)

    def get_server(self, server_id: ResourceId) -> FlexServer | None:
        try:
            return self.inventory.get_server(server_id)
        except AppError as exc:
            if exc.azure_code and exc.azure_code.lower() in ("resourcenotfound", "notfound"):
                return None
            raise

    def list_databases(self, server_id: ResourceId) -> list[tuple[str, str]]:
        from pgflex_gui.azure.errors import azure_call

        client: Any = self.factory.postgres(server_id.subscription_id)
        with azure_call("list the server's databases"):
            rows = list(client.databases.list_by_server(server_id.resource_group, server_id.name))
        # ARM does not name owners; the built-in databases are told apart by name.
        return [(str(r.name), "") for r in rows]

    def list_role_assignments(self, principal_id: str, scope: str) -> list[RoleAssignment]:
        return self.protection.list_role_assignments(principal_id, scope)

    def grant_role(self, requirement: RoleRequirement, principal_id: str) -> None:
        self.protection.create_role_assignment(
            scope=requirement.scope, role=requirement.role_guid, principal_id=principal_id
        )

    def validate(
        self, instance_id: ResourceId, request: Mapping[str, Any], *, check: Callable[[], None]
    ) -> None:
        lro = self.v2.begin_validate_restore(instance_id, request)
        wait_lro(lro, check)
        lro.result()

    def trigger(
        self,
        instance_id: ResourceId,
        request: Mapping[str, Any],
        *,
        resume: str | None,
        on_token: Callable[[str], None],
        check: Callable[[], None],
    ) -> str:
        lro = self.v2.begin_restore_as_server(instance_id, request, continuation_token=resume)
        if not resume:
            on_token(lro.continuation_token())
        wait_lro(lro, check)
        job_id = str(lro.result() or "")
        if not job_id:
            raise AppError(
                Fault.AZURE,
                "Azure started the restore but did not say which job follows it.",
                "Open the vault's Backup jobs to follow it.",
            )
        return job_id

    def get_job(self, vault_id: ResourceId, job_id: str) -> ArmJob:
        from pgflex_gui.azure.restore import job_arm_id

        return arm_job_of(self.restores.get_job(job_arm_id(vault_id, job_id)))
