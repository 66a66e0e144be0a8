"""Manage an existing backup instance from the tree: change policy, stop, resume, delete.

Each action is one small journaled job (Qt-free). The long-running call's continuation token
goes into the journal the moment it is started, the poller is waited on with
``wait(timeout=1)`` and a cancel check, and a job re-run with the same journal resumes the
operation instead of starting it again. The service (``azure.protection.ProtectionService``)
audits every write.

The confirmation texts the tree shows before a destructive action are built here too, so the
rules (immutability, soft delete) are unit-tested without Qt.

The module also holds the pre-flight's "which databases will not be in the backup" query: how
to reach a server (:func:`server_endpoint`) and the listing itself (:func:`list_databases`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BackupInstance, FlexServer, Vault
from pgflex_gui.jobs.job import JobContext, Progress
from pgflex_gui.postgres.psql import ConnParams, query
from pgflex_gui.postgres.tools import PgTool, ToolKind, discover

__all__ = [
    "SANDBOX_PORT_TAG",
    "ChangePolicyJob",
    "Confirmation",
    "DeleteInstanceJob",
    "ManagePort",
    "ManageResult",
    "ResumeProtectionJob",
    "StopMode",
    "StopProtectionJob",
    "delete_confirmation",
    "list_databases",
    "server_endpoint",
    "stop_confirmation",
]

log = logging.getLogger(__name__)

SANDBOX_PORT_TAG = "sandbox-port"  # the loopback sandbox serves each server on its own port


class ManagePort(Protocol):
    """What the manage jobs need from ``azure.protection.ProtectionService`` (blocking)."""

    def begin_stop_protection(
        self, instance_id: ResourceId, *, continuation_token: str | None = None
    ) -> Any: ...

    def begin_resume_protection(
        self, instance_id: ResourceId, *, continuation_token: str | None = None
    ) -> Any: ...

    def begin_delete_instance(
        self, instance_id: ResourceId, *, continuation_token: str | None = None
    ) -> Any: ...

    def begin_change_policy(
        self,
        instance_id: ResourceId,
        policy_id: ResourceId | str,
        *,
        continuation_token: str | None = None,
    ) -> Any: ...

    def get_backup_instance(self, instance_id: ResourceId) -> BackupInstance: ...


class StopMode(StrEnum):
    """How protection stops."""

    RETAIN_DATA = "retain"  # stopProtection: keep the recovery points
    DELETE_DATA = "delete"  # delete the backup instance and its recovery points


@dataclass(frozen=True)
class ManageResult:
    """What a manage job did; ``instance`` is None once the instance was deleted."""

    instance_id: ResourceId
    message: str
    instance: BackupInstance | None = None


class _InstanceLroJob:
    """Start one long-running call on an instance, journal its token, wait, then re-read."""

    kind = "manage"
    _deletes = False

    def __init__(self, service: ManagePort, instance_id: ResourceId, *, label: str = "") -> None:
        self._svc = service
        self.instance_id = instance_id
        self.label = label or instance_id.name
        self.title = f"{self._verb()}: {self.label}"

    # -- to override -------------------------------------------------------------------------
    def _verb(self) -> str:
        raise NotImplementedError

    def _start(self, continuation_token: str | None) -> Any:
        raise NotImplementedError

    def _done_message(self) -> str:
        raise NotImplementedError

    # -- run ---------------------------------------------------------------------------------
    def run(self, ctx: JobContext) -> ManageResult:
        """Start (or resume) the operation, wait for it, and report the instance's new state."""
        ctx.check_cancelled()
        saved = ctx.journal.get("lro")
        token = saved if isinstance(saved, str) and saved else None
        ctx.report(Progress(0, 2, f"{self._verb()}: {self.label}"))
        lro = self._start(token)
        if token is None:
            ctx.journal.checkpoint("lro", lro.continuation_token())
        else:
            log.info("Resuming %s of %s", self.kind, self.instance_id)
        while not lro.wait(timeout=1.0):
            ctx.check_cancelled()
        lro.result(timeout=0)
        ctx.journal.checkpoint("finished", True)
        ctx.report(Progress(1, 2, "Reading the backup instance"))
        instance = None if self._deletes else self._svc.get_backup_instance(self.instance_id)
        message = self._done_message()
        ctx.report(Progress(2, 2, message))
        return ManageResult(self.instance_id, message, instance)


class ChangePolicyJob(_InstanceLroJob):
    """Point a backup instance at another policy of its vault (only new points change)."""

    kind = "change-policy"

    def __init__(
        self,
        service: ManagePort,
        instance_id: ResourceId,
        policy_id: ResourceId,
        *,
        label: str = "",
    ) -> None:
        vault = instance_id.parent
        if vault is None or policy_id.parent is None or not policy_id.parent.same_as(vault):
            raise AppError(
                Fault.USER,
                f"Policy {policy_id.name} is not in the vault of {instance_id.name}.",
                remedy="Pick a policy of the same vault.",
            )
        self.policy_id = policy_id
        super().__init__(service, instance_id, label=label)

    def _verb(self) -> str:
        return f"Change policy to {self.policy_id.name}"

    def _start(self, continuation_token: str | None) -> Any:
        return self._svc.begin_change_policy(
            self.instance_id, self.policy_id, continuation_token=continuation_token
        )

    def _done_message(self) -> str:
        return (
            f"{self.label} now uses policy {self.policy_id.name}; "
            "existing recovery points keep their retention."
        )


class StopProtectionJob(_InstanceLroJob):
    """Stop protection, keeping the recovery points (or deleting them: see ``mode``)."""

    kind = "stop-protection"

    def __init__(
        self,
        service: ManagePort,
        instance_id: ResourceId,
        *,
        mode: StopMode = StopMode.RETAIN_DATA,
        label: str = "",
    ) -> None:
        self.mode = mode
        self._deletes = mode is StopMode.DELETE_DATA
        super().__init__(service, instance_id, label=label)

    def _verb(self) -> str:
        if self.mode is StopMode.DELETE_DATA:
            return "Stop protection and delete data"
        return "Stop protection (retain data)"

    def _start(self, continuation_token: str | None) -> Any:
        if self.mode is StopMode.DELETE_DATA:
            return self._svc.begin_delete_instance(
                self.instance_id, continuation_token=continuation_token
            )
        return self._svc.begin_stop_protection(
            self.instance_id, continuation_token=continuation_token
        )

    def _done_message(self) -> str:
        if self.mode is StopMode.DELETE_DATA:
            return f"Protection of {self.label} stopped and its backup instance deleted."
        return f"Protection of {self.label} stopped; its recovery points were kept."


class DeleteInstanceJob(StopProtectionJob):
    """Delete the backup instance (the same call as "stop protection and delete data")."""

    kind = "delete-instance"

    def __init__(self, service: ManagePort, instance_id: ResourceId, *, label: str = "") -> None:
        super().__init__(service, instance_id, mode=StopMode.DELETE_DATA, label=label)

    def _verb(self) -> str:
        return "Delete backup instance"


class ResumeProtectionJob(_InstanceLroJob):
    """Resume protection of a stopped instance (scheduled backups start again)."""

    kind = "resume-protection"

    def _verb(self) -> str:
        return "Resume protection"

    def _start(self, continuation_token: str | None) -> Any:
        return self._svc.begin_resume_protection(
            self.instance_id, continuation_token=continuation_token
        )

    def _done_message(self) -> str:
        return f"Protection of {self.label} resumed."


# -- confirmations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Confirmation:
    """What a destructive-action dialog says.

    ``allowed`` is False when Azure would refuse the action (the dialog then only explains);
    ``irreversible`` is the sentence about what can't be undone.
    """

    title: str
    text: str
    irreversible: str
    confirm_label: str
    allowed: bool = True


def _soft_delete_sentence(vault: Vault) -> str:
    if vault.soft_delete in ("On", "AlwaysOn"):
        always = " (always on for this vault)" if vault.soft_delete == "AlwaysOn" else ""
        return (
            f"Soft delete is on{always}: vault {vault.name} keeps the deleted instance and its "
            f"recovery points for {vault.soft_delete_days} days, during which it can be "
            "undeleted. After that they are gone for good."
        )
    return (
        f"Soft delete is off for vault {vault.name}: the recovery points are deleted at once "
        "and can never be recovered."
    )


def _locked_sentence(vault: Vault) -> str:
    return (
        f"Vault {vault.name} is immutable and locked: recovery points can't be deleted before "
        "they expire, so Azure refuses to delete this instance's data. Stop protection and "
        "retain data instead; the points are removed when they expire."
    )


def _unlocked_note(vault: Vault) -> str:
    if vault.immutability != "Unlocked":
        return ""
    return (
        f" Vault {vault.name} has immutability turned on (unlocked): if Azure refuses to delete "
        "unexpired recovery points, turn immutability off on the vault first."
    )


def stop_confirmation(server_name: str, vault: Vault, mode: StopMode) -> Confirmation:
    """The confirmation for stopping protection of ``server_name`` in ``vault``."""
    where = f"server {server_name} in vault {vault.name}"
    if mode is StopMode.RETAIN_DATA:
        return Confirmation(
            title="Stop protection",
            text=(
                f"Stop protection of {where} and keep its recovery points. No new backups "
                "are taken; the existing points can still be restored."
            ),
            irreversible=(
                "Nothing is deleted. Resume protection later to take backups again; the kept "
                "recovery points still count towards the vault's storage."
            ),
            confirm_label="Stop protection",
        )
    if vault.immutability == "Locked":
        return Confirmation(
            title="Stop protection and delete data",
            text=f"Stop protection of {where} and delete its recovery points.",
            irreversible=_locked_sentence(vault),
            confirm_label="Delete data",
            allowed=False,
        )
    return Confirmation(
        title="Stop protection and delete data",
        text=(
            f"Stop protection of {where} and delete its backup instance with all its "
            "recovery points." + _unlocked_note(vault)
        ),
        irreversible=_soft_delete_sentence(vault),
        confirm_label="Stop and delete data",
    )


def delete_confirmation(server_name: str, vault: Vault) -> Confirmation:
    """The confirmation for deleting the backup instance of ``server_name`` in ``vault``."""
    base = stop_confirmation(server_name, vault, StopMode.DELETE_DATA)
    return Confirmation(
        title="Delete backup instance",
        text=(
            f"Delete the backup instance of server {server_name} in vault {vault.name}, with "
            "all its recovery points. Protection stops." + _unlocked_note(vault)
        ),
        irreversible=base.irreversible,
        confirm_label="Delete backup instance",
        allowed=base.allowed,
    )


# -- pre-flight: the server's databases -----------------------------------------------------

_DATABASES_SQL = (
    "select d.datname, pg_catalog.pg_get_userbyid(d.datdba) from pg_catalog.pg_database d "
    "order by 1"
)


def server_endpoint(server: FlexServer) -> tuple[str, int, str | None]:
    """``(host, port, sslmode)`` for ``server``: its FQDN on 5432 with TLS required.

    The loopback sandbox tags each server with ``sandbox-port``; then the host is 127.0.0.1
    (unless the FQDN is already a loopback address) and TLS is left to libpq's default.
    """
    tags = dict(server.tags)
    port = tags.get(SANDBOX_PORT_TAG, "")
    if port.isdigit():
        host = server.fqdn if server.fqdn in ("127.0.0.1", "localhost", "::1") else "127.0.0.1"
        return host, int(port), None
    return server.fqdn, 5432, "require"


def _find_psql() -> PgTool:
    tools = discover(kinds=[ToolKind.PSQL])
    if not tools:
        raise AppError(
            Fault.USER,
            "psql was not found, so the databases can't be listed.",
            remedy="Install the PostgreSQL client tools, or set their folder in Settings.",
        )
    return tools[0]


def list_databases(
    conn: ConnParams,
    *,
    password: str | None,
    psql: PgTool | None = None,
    find_psql: Callable[[], PgTool] = _find_psql,
) -> list[tuple[str, str]]:
    """``(name, owner)`` of every database of the server (worker thread; runs psql).

    The password goes only into the psql child's environment (see ``postgres.process``).
    """
    tool = psql or find_psql()
    rows = query(tool, conn, _DATABASES_SQL, password=password, timeout=30.0)
    return [(row[0], row[1]) for row in rows if len(row) >= 2]
