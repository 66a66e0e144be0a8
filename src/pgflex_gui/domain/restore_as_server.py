"""Vaulted backup v2: the restore-as-server target pre-flight and the restore request body.

Pure and Qt-free. A v2 recovery point restores only onto a flexible server that exists
already (doc ``azure-v2-and-resource-graph.md`` §1.6, AD-V2RST/AD-V2SM); Azure validates the
target before the restore starts. :func:`target_checks` runs the same rules on what the app
knows, one :class:`TargetCheck` per rule, each PASS, FAIL or UNKNOWN with a fix or an
explanation:

===================  ==========================================================================
exists               the target server exists (Backup never creates it)
empty                no user database on it. UNCONFIRMED how Azure judges "empty": we count
                     databases other than the built-in ones (``preflight.EXCLUDED_DATABASE_NAMES``)
tier                 not Burstable
version              same PostgreSQL major version as the source at backup time
disk size            same size. Smaller fails; larger is UNCONFIRMED (the support matrix says
                     "same", the restore page only says smaller fails), so larger is UNKNOWN,
                     i.e. a warning, never a refusal
disk type            same type (Premium_LRS ↔ Premium_LRS, PremiumV2_LRS ↔ PremiumV2_LRS)
high availability    HA not configured on the target
replication          the target is not a replica and has no (geo) replica
region               the target is in the vault's region
role                 the vault identity holds "PostgreSQL Flexible Server Long Term Retention
                     Backup Role" on the target (or a parent scope)
===================  ==========================================================================

A fact the caller does not know (``None``, or an empty field) gives UNKNOWN, never PASS.
AD-V2OV also names "SKU tier and network configuration" among what is validated; what
network rules exactly is UNCONFIRMED and not checked here.

The request body (:func:`build_restore_as_server_request`) is INFERRED (doc §1.6): the generic
``RestoreTargetInfo`` whose ``datasourceInfo`` names the **target** server. UNCONFIRMED: the
exact ``datasourceSetInfo``/``sourceResourceId`` values and whether ``identityDetails`` is
required; we send all three (system-assigned identity unless a UAMI is given).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.issues import Issue, error, warning
from pgflex_gui.domain.models import PG_FLEX_DATASOURCE_TYPE, FlexServer, RoleAssignment, Vault
from pgflex_gui.domain.preflight import (
    EXCLUDED_DATABASE_NAMES,
    LTR_BACKUP_ROLE,
    RoleRequirement,
    missing_roles,
)
from pgflex_gui.domain.regions import normalize_region

__all__ = [
    "CheckStatus",
    "SourceFacts",
    "TargetCheck",
    "TargetFacts",
    "build_restore_as_server_request",
    "checks_as_issues",
    "target_checks",
    "target_role_requirement",
    "user_databases",
]

_PRIMARY_ROLES = frozenset({"primary", "none"})
_DISK_WORDS = {"premium_lrs": "Premium SSD", "premiumv2_lrs": "Premium SSD v2"}


class CheckStatus(StrEnum):
    """The outcome of one target rule."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class TargetCheck:
    """One rule applied to the target.

    Attributes:
        key: stable id (``"exists"``, ``"empty"``, ``"tier"``, ``"version"``,
            ``"disk_size"``, ``"disk_type"``, ``"ha"``, ``"replication"``, ``"region"``,
            ``"role"``).
        title: the rule in a few words.
        status: PASS, FAIL or UNKNOWN.
        message: what was found.
        remedy: what to do (FAIL), or why it could not be told (UNKNOWN); may be empty.
    """

    key: str
    title: str
    status: CheckStatus
    message: str
    remedy: str = ""

    @property
    def blocks(self) -> bool:
        """True when the restore must not be sent."""
        return self.status is CheckStatus.FAIL


@dataclass(frozen=True)
class SourceFacts:
    """What the recovery point's source server was at backup time (None: not known).

    The source may be deleted by now; its current resource, if any, is the best evidence
    (RP metadata is null for v1; for v2 the support matrix says it carries the PG version,
    field UNCONFIRMED).
    """

    server_id: ResourceId
    major_version: str | None = None
    storage_gb: int | None = None
    storage_type: str | None = None

    @classmethod
    def of(cls, server: FlexServer) -> SourceFacts:
        """Facts from the source server's resource (empty fields become None)."""
        return cls(
            server.id,
            server.version or None,
            server.storage_gb or None,
            server.storage_type or None,
        )


@dataclass(frozen=True)
class TargetFacts:
    """What the app knows about the chosen target beyond its resource.

    Attributes:
        server: the target's resource; None when it does not exist (or was not found).
        databases: ``(name, owner)`` pairs on the target; None when not read.
        has_replicas: True when the target has a read/geo replica; None when not known.
        assignments: role assignments that apply at the target (inherited ones included) of
            any principal; None when they could not be read.
    """

    server: FlexServer | None
    databases: Sequence[tuple[str, str]] | None = None
    has_replicas: bool | None = None
    assignments: Sequence[RoleAssignment] | None = None


def user_databases(databases: Iterable[tuple[str, str]]) -> list[str]:
    """Sorted names of the databases that make a target not empty (non built-in ones)."""
    return sorted(name for name, _owner in databases if name.lower() not in EXCLUDED_DATABASE_NAMES)


def target_role_requirement(target: FlexServer, vault: Vault) -> RoleRequirement:
    """The role the vault identity needs on the target server (doc §1.6)."""
    return RoleRequirement(
        *LTR_BACKUP_ROLE,
        scope=str(target.id),
        purpose=f"lets vault {vault.name} restore a v2 recovery point onto {target.name}",
    )


def _major(version: str | None) -> str | None:
    head = str(version or "").strip().split(".", 1)[0]
    return head if head.isdigit() else None


def _disk(kind: str) -> str:
    return _DISK_WORDS.get(kind.lower(), kind)


def _check(
    key: str, title: str, status: CheckStatus, message: str, remedy: str = ""
) -> TargetCheck:
    return TargetCheck(key, title, status, message, remedy)


def target_checks(source: SourceFacts, target: TargetFacts, vault: Vault) -> list[TargetCheck]:
    """Every target rule (see the module docstring), in a fixed order.

    Without a target server only the ``exists`` check is returned (FAIL).
    """
    P, F, U = CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.UNKNOWN
    srv = target.server
    if srv is None:
        return [
            _check(
                "exists",
                "Target server exists",
                F,
                "The target server does not exist. Azure Backup restores a v2 recovery point "
                "only onto a flexible server you have created first.",
                "Create a flexible server with the source's PostgreSQL version, disk size and "
                "disk type, in the vault's region, without high availability, then pick it.",
            )
        ]
    name = srv.name
    out = [_check("exists", "Target server exists", P, f"{name} exists.")]
    out.append(_empty_check(name, target.databases))
    tier = srv.sku_tier.strip()
    if not tier:
        out.append(
            _check(
                "tier",
                "Not Burstable",
                U,
                f"The pricing tier of {name} is unknown.",
                "Check it under Compute + storage; Burstable targets are refused.",
            )
        )
    elif tier.lower() == "burstable":
        out.append(
            _check(
                "tier",
                "Not Burstable",
                F,
                f"{name} is a Burstable server; Azure refuses it as a restore target.",
                "Scale it to General Purpose or Memory Optimized, or create another target.",
            )
        )
    else:
        out.append(_check("tier", "Not Burstable", P, f"{name} is {tier}."))
    out.append(_version_check(name, source, srv))
    out.append(_size_check(name, source, srv))
    out.append(_type_check(name, source, srv))
    ha = srv.ha_mode.strip()
    if ha and ha.lower() != "disabled":
        out.append(
            _check(
                "ha",
                "No high availability",
                F,
                f"{name} has high availability ({ha}); Azure refuses such a target.",
                "Turn high availability off on the target (you can turn it on after the restore).",
            )
        )
    elif ha:
        out.append(_check("ha", "No high availability", P, f"{name} has no high availability."))
    else:
        out.append(
            _check(
                "ha",
                "No high availability",
                U,
                f"Whether {name} has high availability is unknown.",
                "Check Settings > High availability; it must be off.",
            )
        )
    out.append(_replication_check(name, srv, target.has_replicas))
    target_region, vault_region = normalize_region(srv.location), normalize_region(vault.location)
    if not target_region or not vault_region:
        out.append(
            _check(
                "region",
                "Same region as the vault",
                U,
                "The region of the target or of the vault is unknown.",
                "The target must be in the vault's region.",
            )
        )
    elif target_region != vault_region:
        out.append(
            _check(
                "region",
                "Same region as the vault",
                F,
                f"{name} is in {target_region}, but vault {vault.name} is in {vault_region}.",
                f"Create the target in {vault_region}.",
            )
        )
    else:
        out.append(_check("region", "Same region as the vault", P, f"Both are in {vault_region}."))
    out.append(_role_check(srv, vault, target.assignments))
    return out


def _empty_check(name: str, databases: Sequence[tuple[str, str]] | None) -> TargetCheck:
    title = "Target is empty"
    if databases is None:
        return _check(
            "empty",
            title,
            CheckStatus.UNKNOWN,
            f"The databases on {name} could not be listed.",
            "Azure requires an empty target (how it judges 'empty' is not documented); make "
            "sure it holds no database of yours.",
        )
    found = user_databases(databases)
    if found:
        return _check(
            "empty",
            title,
            CheckStatus.FAIL,
            f"{name} is not empty: it holds {', '.join(found)}.",
            "Restore onto a new, empty server, or drop those databases first.",
        )
    return _check(
        "empty",
        title,
        CheckStatus.PASS,
        f"{name} holds only built-in databases (how Azure judges 'empty' is not documented).",
    )


def _version_check(name: str, source: SourceFacts, srv: FlexServer) -> TargetCheck:
    title = "Same PostgreSQL major version"
    want, have = _major(source.major_version), _major(srv.version)
    if want is None or have is None:
        return _check(
            "version",
            title,
            CheckStatus.UNKNOWN,
            "The PostgreSQL version of the source or of the target is unknown.",
            "The target must run the source's major version; lower and higher both fail.",
        )
    if want != have:
        return _check(
            "version",
            title,
            CheckStatus.FAIL,
            f"{name} runs PostgreSQL {have}; the backup was taken on PostgreSQL {want}.",
            f"Create the target with PostgreSQL {want} (a v2 restore does not upgrade).",
        )
    return _check("version", title, CheckStatus.PASS, f"Both run PostgreSQL {want}.")


def _size_check(name: str, source: SourceFacts, srv: FlexServer) -> TargetCheck:
    title = "Same disk size"
    want, have = source.storage_gb, srv.storage_gb
    if not want or not have:
        return _check(
            "disk_size",
            title,
            CheckStatus.UNKNOWN,
            "The disk size of the source or of the target is unknown.",
            "The target needs the source's disk size.",
        )
    if have < want:
        return _check(
            "disk_size",
            title,
            CheckStatus.FAIL,
            f"{name} has {have} GB of storage, less than the source's {want} GB. Azure refuses "
            "a smaller disk even if the recovery point needs less space.",
            f"Grow the target's storage to {want} GB.",
        )
    if have > want:
        return _check(
            "disk_size",
            title,
            CheckStatus.UNKNOWN,
            f"{name} has {have} GB of storage, more than the source's {want} GB. Whether Azure "
            "accepts a larger disk is not documented (the support matrix says 'same size').",
            f"To be safe, use a target with exactly {want} GB; Azure's validation decides.",
        )
    return _check("disk_size", title, CheckStatus.PASS, f"Both have {want} GB.")


def _type_check(name: str, source: SourceFacts, srv: FlexServer) -> TargetCheck:
    title = "Same disk type"
    want, have = (source.storage_type or "").strip(), srv.storage_type.strip()
    if not want or not have:
        return _check(
            "disk_type",
            title,
            CheckStatus.UNKNOWN,
            "The disk type of the source or of the target is unknown.",
            "Premium SSD restores only to Premium SSD, Premium SSD v2 only to Premium SSD v2.",
        )
    if want.lower() != have.lower():
        return _check(
            "disk_type",
            title,
            CheckStatus.FAIL,
            f"{name} uses {_disk(have)}; the backup was taken from {_disk(want)}.",
            f"Create the target with {_disk(want)}.",
        )
    return _check("disk_type", title, CheckStatus.PASS, f"Both use {_disk(want)}.")


def _replication_check(name: str, srv: FlexServer, has_replicas: bool | None) -> TargetCheck:
    title = "Not a replica, no replica"
    role = srv.replication_role.strip()
    if role and role.lower() not in _PRIMARY_ROLES:
        return _check(
            "replication",
            title,
            CheckStatus.FAIL,
            f"{name} is a replica ({role}); Azure refuses a replica as a restore target.",
            "Pick a standalone primary server.",
        )
    if has_replicas:
        return _check(
            "replication",
            title,
            CheckStatus.FAIL,
            f"{name} has a read or geo replica; Azure refuses such a target.",
            "Delete its replicas, or pick another server.",
        )
    if not role or has_replicas is None:
        return _check(
            "replication",
            title,
            CheckStatus.UNKNOWN,
            f"Whether {name} is or has a replica is not known.",
            "The target must be a standalone server: not a replica, without replicas.",
        )
    return _check("replication", title, CheckStatus.PASS, f"{name} is a standalone server.")


def _role_check(
    srv: FlexServer, vault: Vault, assignments: Sequence[RoleAssignment] | None
) -> TargetCheck:
    title = "Vault identity's role on the target"
    role_name = LTR_BACKUP_ROLE[1]
    if assignments is None or not vault.principal_id:
        return _check(
            "role",
            title,
            CheckStatus.UNKNOWN,
            f"The role assignments on {srv.name} (or the vault's identity) could not be read.",
            f"Vault {vault.name}'s identity needs '{role_name}' on {srv.name}.",
        )
    req = target_role_requirement(srv, vault)
    if missing_roles([req], assignments, vault.principal_id):
        return _check(
            "role",
            title,
            CheckStatus.FAIL,
            f"Vault {vault.name}'s identity does not have '{role_name}' on {srv.name}.",
            f"Assign '{role_name}' on {srv.name} to the vault's managed identity.",
        )
    return _check(
        "role", title, CheckStatus.PASS, f"Vault {vault.name}'s identity has '{role_name}'."
    )


def checks_as_issues(checks: Iterable[TargetCheck]) -> list[Issue]:
    """FAIL → error, UNKNOWN → warning (PASS says nothing), field ``target.<key>``."""
    found: list[Issue] = []
    for c in checks:
        if c.status is CheckStatus.FAIL:
            found.append(error(f"target.{c.key}", c.message, c.remedy))
        elif c.status is CheckStatus.UNKNOWN:
            found.append(warning(f"target.{c.key}", c.message, c.remedy))
    return found


def _datasource(server: FlexServer, object_type: str) -> dict[str, Any]:
    return {
        "objectType": object_type,
        "resourceID": str(server.id),
        "resourceName": server.name,
        "resourceType": PG_FLEX_DATASOURCE_TYPE,
        "datasourceType": PG_FLEX_DATASOURCE_TYPE,
        "resourceLocation": normalize_region(server.location),
        "resourceUri": str(server.id),
    }


def build_restore_as_server_request(
    *,
    recovery_point_id: str,
    source_server_id: ResourceId,
    target: FlexServer,
    vault: Vault,
    user_assigned_identity_id: str = "",
) -> dict[str, Any]:
    """``AzureBackupRecoveryPointBasedRestoreRequest`` with a ``RestoreTargetInfo`` (§1.6).

    INFERRED body; see the module docstring for what is UNCONFIRMED. The same object goes to
    ``validateRestore`` (wrapped in ``restoreRequestObject``) and to ``restore``.

    Raises:
        ValueError: without a recovery point id.
    """
    if not recovery_point_id.strip():
        raise ValueError("a restore needs a recovery point id")
    identity: dict[str, Any] = (
        {
            "useSystemAssignedIdentity": False,
            "userAssignedIdentityArmUrl": user_assigned_identity_id,
        }
        if user_assigned_identity_id
        else {"useSystemAssignedIdentity": True}
    )
    return {
        "objectType": "AzureBackupRecoveryPointBasedRestoreRequest",
        "recoveryPointId": recovery_point_id,
        "sourceDataStoreType": "VaultStore",
        "sourceResourceId": str(source_server_id),
        "restoreTargetInfo": {
            "objectType": "RestoreTargetInfo",
            "recoveryOption": "FailIfExists",
            "restoreLocation": normalize_region(vault.location),
            "datasourceInfo": _datasource(target, "Datasource"),
            "datasourceSetInfo": _datasource(target, "DatasourceSet"),
        },
        "identityDetails": identity,
    }
