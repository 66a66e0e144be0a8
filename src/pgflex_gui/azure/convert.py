"""SDK models (or REST-shaped dicts) to frozen domain values.

The management SDKs in use return "hybrid" models that are also mappings over the REST JSON;
the authorization SDK returns msrest models. :func:`as_dict` turns either into the REST shape
(camelCase keys), and every converter reads that shape defensively: a missing or malformed
field gives the domain default, never an exception. An unparseable resource id gives
``ResourceId("")``; callers skip such rows (see :func:`has_id`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pgflex_gui.domain.backup_kind import instance_kind_of, recovery_point_evidence
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import (
    PG_FLEX_DATASOURCE_TYPE,
    BackupInstance,
    BackupJob,
    BlobContainer,
    FlexServer,
    JobSubTask,
    PolicyInfo,
    ProtectionState,
    RecoveryPoint,
    Region,
    RetentionRuleInfo,
    RoleAssignment,
    StorageAccount,
    Subscription,
    Tenant,
    Vault,
)
from pgflex_gui.domain.payload import get

__all__ = [
    "as_dict",
    "backup_instance",
    "blob_container",
    "flex_server",
    "get",
    "has_id",
    "instance_parts",
    "is_physical_region",
    "job",
    "job_id_from",
    "parse_datetime",
    "policy",
    "recovery_point",
    "region",
    "role_assignment",
    "storage_account",
    "subscription",
    "tenant",
    "vault",
]

log = logging.getLogger(__name__)

_EMPTY_ID = ResourceId("")
_FRACTION = re.compile(r"\.(\d+)")


def as_dict(obj: Any) -> dict[str, Any]:
    """The REST-shaped dict behind an SDK model, a mapping, or {} for anything else."""
    if obj is None:
        return {}
    try:
        if hasattr(obj, "as_dict") and isinstance(obj, Mapping):
            data = obj.as_dict()  # type: ignore[attr-defined]  # hybrid model: REST keys
        elif isinstance(obj, Mapping):
            data = dict(obj)
        elif hasattr(obj, "serialize"):
            data = obj.serialize(keep_readonly=True)  # msrest model
        else:
            return {}
    except Exception:
        log.debug("Could not convert %r to a dict", type(obj), exc_info=True)
        return {}
    return data if isinstance(data, dict) else {}


def _str(data: Any, *path: str, default: str = "") -> str:
    value = get(data, *path)
    if value is None:
        return default
    if hasattr(value, "value") and not isinstance(value, str):  # an enum
        value = value.value
    return str(value)


def _int(data: Any, *path: str, default: int = 0) -> int:
    value = get(data, *path)
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _bool(data: Any, *path: str, default: bool = False) -> bool:
    value = get(data, *path)
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.lower() in ("true", "enabled", "yes"):
            return True
        if value.lower() in ("false", "disabled", "no"):
            return False
    return default


def _list(data: Any, *path: str) -> list[Any]:
    value = get(data, *path)
    return list(value) if isinstance(value, list | tuple) else []


def _rid(text: Any) -> ResourceId:
    if not isinstance(text, str) or not text:
        return _EMPTY_ID
    try:
        return ResourceId.parse(text)
    except ValueError:
        return _EMPTY_ID


def has_id(value: Any) -> bool:
    """True when a converted value got a real resource id."""
    rid = getattr(value, "id", None)
    return isinstance(rid, ResourceId) and bool(rid.subscription_id)


def parse_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601 text (any fraction digits) or a datetime.

    The ``0001-01-01T00:00:00`` placeholder Azure sends for a time not yet known is None.
    """
    if isinstance(value, datetime):
        if value.year <= 1:
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year <= 1:
        # .NET's DateTime.MinValue: real operation statuses and backup jobs send
        # "0001-01-01T00:00:00Z" for "not yet" (recorded; tests/data/recordings).
        return None
    return parsed.astimezone(UTC)


def _canon(value: str, choices: tuple[str, ...], default: str) -> str:
    for choice in choices:
        if choice.lower() == value.lower():
            return choice
    return value or default


# -- identity and subscriptions ---------------------------------------------------------


def tenant(obj: Any) -> Tenant:
    """A ``TenantIdDescription``."""
    d = as_dict(obj)
    tid = _str(d, "tenantId") or _str(d, "id").rsplit("/", 1)[-1]
    domains = _list(d, "domains")
    return Tenant(
        tenant_id=tid,
        display_name=_str(d, "displayName"),
        default_domain=_str(d, "defaultDomain") or (str(domains[0]) if domains else ""),
    )


def subscription(obj: Any, tenant_id: str = "") -> Subscription:
    """A ``Subscription``; ``tenant_id`` fills in when the payload lacks it."""
    d = as_dict(obj)
    sid = _str(d, "subscriptionId") or _str(d, "id").rsplit("/", 1)[-1]
    return Subscription(
        subscription_id=sid,
        display_name=_str(d, "displayName") or sid,
        tenant_id=_str(d, "tenantId") or tenant_id,
        state=_str(d, "state", default="Enabled"),
    )


def region(obj: Any) -> Region:
    """A ``Location`` with its paired regions from ``metadata.pairedRegion``."""
    d = as_dict(obj)
    paired = tuple(
        _str(p, "name").lower() for p in _list(d, "metadata", "pairedRegion") if _str(p, "name")
    )
    return Region(
        name=_str(d, "name").lower(),
        display_name=_str(d, "displayName") or _str(d, "regionalDisplayName"),
        paired=paired,
    )


def is_physical_region(obj: Any) -> bool:
    """False for ``regionType: Logical`` locations (e.g. "global", "unitedstates")."""
    return _str(as_dict(obj), "metadata", "regionType", default="Physical").lower() != "logical"


# -- PostgreSQL flexible servers --------------------------------------------------------


def flex_server(obj: Any, tenant_id: str = "") -> FlexServer:
    """A ``Server`` (fields under ``properties`` since SDK 3.0)."""
    d = as_dict(obj)
    p = get(d, "properties", default={})
    version = _str(p, "version").split(".", 1)[0]
    tags = get(d, "tags", default={})
    tag_pairs = (
        tuple(sorted((str(k), str(v)) for k, v in tags.items()))
        if isinstance(tags, Mapping)
        else ()
    )
    return FlexServer(
        id=_rid(get(d, "id")),
        location=_str(d, "location").replace(" ", "").lower(),
        version=version,
        state=_str(p, "state"),
        tenant_id=tenant_id,
        sku_name=_str(d, "sku", "name"),
        sku_tier=_str(d, "sku", "tier"),
        storage_gb=_int(p, "storage", "storageSizeGB"),
        public_network_access=_str(p, "network", "publicNetworkAccess", default="Enabled").lower()
        != "disabled",
        encryption=_str(p, "dataEncryption", "type", default="SystemManaged"),
        fqdn=_str(p, "fullyQualifiedDomainName"),
        administrator_login=_str(p, "administratorLogin"),
        ha_mode=_str(p, "highAvailability", "mode", default="Disabled"),
        tags=tag_pairs,
        storage_type=_str(p, "storage", "type"),
        replication_role=_str(p, "replicationRole"),
    )


# -- backup vaults, policies, instances ---------------------------------------------------


def vault(obj: Any) -> Vault:
    """A ``BackupVaultResource``."""
    d = as_dict(obj)
    p = get(d, "properties", default={})
    redundancy = "LocallyRedundant"
    for setting in _list(p, "storageSettings"):
        if _str(setting, "datastoreType", default="VaultStore").lower() == "vaultstore":
            redundancy = _str(setting, "type", default=redundancy)
            break
    soft = _str(p, "securitySettings", "softDeleteSettings", "state", default="On")
    return Vault(
        id=_rid(get(d, "id")),
        location=_str(d, "location").replace(" ", "").lower(),
        tenant_id=_str(d, "identity", "tenantId"),
        principal_id=_str(d, "identity", "principalId"),
        redundancy=_canon(
            redundancy, ("LocallyRedundant", "GeoRedundant", "ZoneRedundant"), "LocallyRedundant"
        ),
        cross_region_restore=_str(
            p, "featureSettings", "crossRegionRestoreSettings", "state"
        ).lower()
        == "enabled",
        cross_subscription_restore=_canon(
            _str(p, "featureSettings", "crossSubscriptionRestoreSettings", "state"),
            ("Enabled", "Disabled", "PermanentlyDisabled"),
            "Enabled",
        ),
        soft_delete=_canon(soft, ("Off", "On", "AlwaysOn"), "On"),
        soft_delete_days=_int(
            p, "securitySettings", "softDeleteSettings", "retentionDurationInDays", default=14
        ),
        immutability=_canon(
            _str(p, "securitySettings", "immutabilitySettings", "state"),
            ("Disabled", "Unlocked", "Locked"),
            "Disabled",
        ),
        provisioning_state=_str(p, "provisioningState", default="Succeeded"),
    )


def _criteria_text(criterion: Any) -> str:
    for key in ("absoluteCriteria", "daysOfTheWeek", "weeksOfTheMonth", "monthsOfYear"):
        values = _list(criterion, key)
        if values:
            return ",".join(str(v) for v in values)
    return ""


def policy(obj: Any) -> PolicyInfo:
    """A ``BaseBackupPolicyResource`` (``BackupPolicy`` rules: schedule and retention)."""
    d = as_dict(obj)
    p = get(d, "properties", default={})
    intervals: tuple[str, ...] = ()
    time_zone = "UTC"
    criteria_by_tag: dict[str, str] = {}
    retention: list[RetentionRuleInfo] = []
    rules = _list(p, "policyRules")
    for rule in rules:
        if _str(rule, "objectType") == "AzureBackupRule":
            schedule = get(rule, "trigger", "schedule", default={})
            intervals = tuple(str(x) for x in _list(schedule, "repeatingTimeIntervals"))
            time_zone = _str(schedule, "timeZone", default="UTC")
            for tag in _list(rule, "trigger", "taggingCriteria"):
                crit = _list(tag, "criteria")
                criteria_by_tag[_str(tag, "tagInfo", "tagName").lower()] = (
                    _criteria_text(crit[0]) if crit else ""
                )
    for rule in rules:
        if _str(rule, "objectType") != "AzureRetentionRule":
            continue
        name = _str(rule, "name")
        lifecycles = _list(rule, "lifecycles")
        duration = _str(lifecycles[0], "deleteAfter", "duration") if lifecycles else ""
        retention.append(
            RetentionRuleInfo(
                name=name,
                duration=duration,
                is_default=_bool(rule, "isDefault"),
                criteria=criteria_by_tag.get(name.lower(), ""),
            )
        )
    types = tuple(str(t) for t in _list(p, "datasourceTypes"))
    return PolicyInfo(
        id=_rid(get(d, "id")),
        datasource_types=types or (PG_FLEX_DATASOURCE_TYPE,),
        repeating_intervals=intervals,
        time_zone=time_zone,
        retention=tuple(retention),
    )


def backup_instance(obj: Any) -> BackupInstance:
    """A ``BackupInstanceResource``."""
    d = as_dict(obj)
    p = get(d, "properties", default={})
    ds = get(p, "dataSourceInfo", default={})
    policy_id = _str(p, "policyInfo", "policyId")
    error = get(p, "protectionStatus", "errorDetails") or get(p, "protectionErrorDetails")
    return BackupInstance(
        id=_rid(get(d, "id")),
        datasource_id=_rid(get(ds, "resourceID")),
        policy_id=_rid(policy_id) if policy_id else None,
        protection_state=ProtectionState.parse(_str(p, "currentProtectionState") or None),
        protection_status=_str(p, "protectionStatus", "status"),
        friendly_name=_str(p, "friendlyName"),
        datasource_location=_str(ds, "resourceLocation").replace(" ", "").lower(),
        error_code=_str(error, "code") or None,
        error_message=_str(error, "message") or None,
        provisioning_state=_str(p, "provisioningState", default="Succeeded"),
        backup_kind=instance_kind_of(d),
    )


def recovery_point(obj: Any, region_name: str = "") -> RecoveryPoint:
    """An ``AzureBackupRecoveryPointResource``; ``region_name`` marks secondary-region points."""
    d = as_dict(obj)
    p = get(d, "properties", default={})
    rp_id = _str(p, "recoveryPointId") or _str(d, "name")
    when = parse_datetime(get(p, "recoveryPointTime")) or datetime.fromtimestamp(0, UTC)
    return RecoveryPoint(
        id=_rid(get(d, "id")),
        recovery_point_id=rp_id,
        time=when,
        recovery_point_type=_str(p, "recoveryPointType", default="Full"),
        policy_name=_str(p, "policyName"),
        retention_tag=_str(p, "retentionTagName"),
        expiry=parse_datetime(get(p, "expiryTime")),
        state=_str(p, "recoveryPointState", default="Completed"),
        region=region_name,
        kind_evidence=recovery_point_evidence(d) or "",
    )


def job(obj: Any) -> BackupJob:
    """An ``AzureBackupJobResource``."""
    d = as_dict(obj)
    p = get(d, "properties", default={})
    ext = get(p, "extendedInfo", default={})
    subtasks: list[JobSubTask] = []
    transferred = 0
    for task in _list(ext, "subTasks"):
        additional = get(task, "additionalDetails", default={})
        pairs = (
            tuple(sorted((str(k), str(v)) for k, v in additional.items()))
            if isinstance(additional, Mapping)
            else ()
        )
        transferred += _int(additional, "DataTransferredInBytes")
        subtasks.append(
            JobSubTask(
                name=_str(task, "taskName"), status=_str(task, "taskStatus"), additional=pairs
            )
        )
    errors = tuple((_str(e, "code"), _str(e, "message")) for e in _list(p, "errorDetails") if e)
    rp = _str(ext, "sourceRecoverPoint", "recoveryPointID") or _str(
        ext, "targetRecoverPoint", "recoveryPointID"
    )
    return BackupJob(
        id=_rid(get(d, "id")),
        operation=_str(p, "operation") or _str(p, "operationCategory"),
        status=_str(p, "status"),
        start=parse_datetime(get(p, "startTime")),
        end=parse_datetime(get(p, "endTime")),
        duration=_str(p, "duration"),
        datasource_name=_str(p, "dataSourceName"),
        datasource_id=_str(p, "dataSourceId"),
        backup_instance_id=_str(p, "backupInstanceId"),
        policy_name=_str(p, "policyName"),
        error_codes=errors,
        subtasks=tuple(subtasks),
        recovery_point_id=rp,
        restore_destination=_str(ext, "recoveryDestination"),
        data_transferred_bytes=transferred,
    )


# -- storage and roles ----------------------------------------------------------------


def storage_account(obj: Any) -> StorageAccount:
    """A ``StorageAccount``."""
    d = as_dict(obj)
    p = get(d, "properties", default={})
    acls = get(p, "networkAcls", default={})
    rules = tuple(
        _str(r, "resourceId") for r in _list(acls, "resourceAccessRules") if _str(r, "resourceId")
    )
    return StorageAccount(
        id=_rid(get(d, "id")),
        location=_str(d, "location").replace(" ", "").lower(),
        blob_endpoint=_str(p, "primaryEndpoints", "blob"),
        allow_cross_tenant_replication=_bool(p, "allowCrossTenantReplication"),
        public_network_access=_str(p, "publicNetworkAccess", default="Enabled"),
        default_action=_str(acls, "defaultAction", default="Allow"),
        bypass=_str(acls, "bypass", default="AzureServices"),
        resource_access_rule_ids=rules,
        allow_shared_key_access=_bool(p, "allowSharedKeyAccess", default=True),
    )


def blob_container(obj: Any, account: StorageAccount) -> BlobContainer:
    """A ``ListContainerItem`` / ``BlobContainer`` of ``account``."""
    d = as_dict(obj)
    name = _str(d, "name") or _str(d, "id").rsplit("/", 1)[-1]
    base = account.blob_endpoint.rstrip("/")
    return BlobContainer(account_id=account.id, name=name, url=f"{base}/{name}" if base else "")


def role_assignment(obj: Any) -> RoleAssignment:
    """A ``RoleAssignment`` (msrest or REST dict)."""
    d = as_dict(obj)
    p = get(d, "properties", default={})
    extra = {
        k: v
        for k, v in (
            ("principal_type", _str(p, "principalType")),
            ("name", _str(d, "name")),
        )
        if v
    }
    return RoleAssignment(
        id=_str(d, "id"),
        scope=_str(p, "scope"),
        role_definition_id=_str(p, "roleDefinitionId"),
        principal_id=_str(p, "principalId"),
        extra=extra,
    )


def instance_parts(instance_id: ResourceId) -> tuple[str, str, str, str]:
    """(subscription, resource group, vault, instance) of a backup instance id."""
    if len(instance_id.names) < 2:
        raise ValueError(f"not a backup instance id: {instance_id}")
    return (
        instance_id.subscription_id,
        instance_id.resource_group,
        instance_id.names[0],
        instance_id.names[1],
    )


def job_id_from(result: Any, vault_id: ResourceId) -> str:
    """The full ARM id of the job an operation started (``OperationJobExtendedInfo.jobId``)."""
    job_id = _str(as_dict(result), "jobId")
    if not job_id:
        return ""
    if job_id.startswith("/"):
        return job_id
    return str(vault_id.child("backupJobs", job_id))
