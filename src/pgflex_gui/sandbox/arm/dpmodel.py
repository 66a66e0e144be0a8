"""DataProtection JSON builders and policy validation (no HTTP here)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from pgflex_gui.sandbox.arm.http import ArmError

__all__ = [
    "BI",
    "DELETED_BI",
    "JOB",
    "POLICY",
    "RP",
    "VAULT",
    "duration_days",
    "expiry_time",
    "job_json",
    "rp_json",
    "validate_policy",
    "vault_json",
]

Json = dict[str, Any]
PG = "Microsoft.DBforPostgreSQL/flexibleServers"
VAULT = "Microsoft.DataProtection/backupVaults"
POLICY = f"{VAULT}/backupPolicies"
BI = f"{VAULT}/backupInstances"
DELETED_BI = f"{VAULT}/deletedBackupInstances"
RP = f"{BI}/recoveryPoints"
JOB = f"{VAULT}/backupJobs"


def vault_json(
    sub: str,
    rg: str,
    name: str,
    *,
    location: str,
    tenant_id: str,
    principal_id: str,
    redundancy: str = "LocallyRedundant",
    crr: bool = False,
    csr: str = "Enabled",
    soft_delete: str = "On",
    soft_delete_days: int = 14,
    immutability: str = "Disabled",
    tags: dict[str, str] | None = None,
) -> Json:
    """ARM JSON of a Backup vault with a system-assigned identity."""
    return {
        "id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{VAULT}/{name}",
        "name": name,
        "type": VAULT,
        "location": location,
        "tags": tags or {},
        "identity": {"type": "SystemAssigned", "principalId": principal_id, "tenantId": tenant_id},
        "properties": {
            "provisioningState": "Succeeded",
            "resourceMoveState": "Unknown",
            "storageSettings": [{"datastoreType": "VaultStore", "type": redundancy}],
            "isVaultProtectedByResourceGuard": False,
            "featureSettings": {
                "crossRegionRestoreSettings": {"state": "Enabled" if crr else "Disabled"},
                "crossSubscriptionRestoreSettings": {"state": csr},
            },
            "securitySettings": {
                "softDeleteSettings": {
                    "state": soft_delete,
                    "retentionDurationInDays": soft_delete_days,
                },
                "immutabilitySettings": {"state": immutability},
            },
            "secureScore": "Minimum",
            "bcdrSecurityLevel": "Good" if crr else "Fair",
            "replicatedRegions": [],
            "monitoringSettings": {
                "azureMonitorAlertSettings": {"alertsForAllJobFailures": "Enabled"}
            },
        },
    }


def expiry_time(policy: Json | None, when: str, tag: str = "Default") -> str | None:
    """When a point taken at ``when`` with retention ``tag`` expires under ``policy``."""
    if not policy:
        return None
    rules = [
        r
        for r in policy.get("properties", {}).get("policyRules", [])
        if r.get("objectType") == "AzureRetentionRule"
    ]
    chosen = [r for r in rules if str(r.get("name", "")).lower() == tag.lower()] or [
        r for r in rules if r.get("isDefault")
    ]
    for rule in chosen:
        for life in rule.get("lifecycles") or []:
            days = duration_days(str(life.get("deleteAfter", {}).get("duration", "")))
            if days is not None:
                start = datetime.fromisoformat(when.replace("Z", "+00:00")[:26] + "+00:00")
                return (start + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return None


def rp_json(
    bi_id: str,
    rp_id: str,
    when: str,
    *,
    policy_name: str,
    tag: str = "Default",
    expiry: str | None = None,
) -> Json:
    """ARM JSON of a discrete recovery point (metaData null, as for real PG flex points)."""
    return {
        "id": f"{bi_id}/recoveryPoints/{rp_id}",
        "name": rp_id,
        "type": RP,
        "properties": {
            "objectType": "AzureBackupDiscreteRecoveryPoint",
            "recoveryPointId": rp_id,
            "recoveryPointTime": when,
            "recoveryPointType": "Full",
            "friendlyName": rp_id,
            "recoveryPointDataStoresDetails": [
                {
                    "id": rp_id,
                    "type": "VaultStore",
                    "creationTime": when,
                    "expiryTime": expiry,
                    "metaData": None,
                    "visible": True,
                    "state": "COMMITTED",
                    "rehydrationExpiryTime": None,
                    "rehydrationStatus": None,
                }
            ],
            "retentionTagName": tag,
            "retentionTagVersion": "638400000000000000",
            "policyName": policy_name,
            "policyVersion": None,
            "expiryTime": expiry,
            "recoveryPointState": "Completed",
        },
    }


def job_json(
    vault: Json,
    job_id: str,
    *,
    operation: str,
    category: str,
    bi: Json | None,
    server: Json | None,
    start: str,
) -> Json:
    """ARM JSON of a backup job (status ``Started``)."""
    parts = vault["id"].split("/")
    props = bi["properties"] if bi else {}
    ds = props.get("dataSourceInfo", {})
    ds_parts = str(ds.get("resourceID", "")).split("/")
    return {
        "id": f"{vault['id']}/backupJobs/{job_id}",
        "name": job_id,
        "type": JOB,
        "properties": {
            "activityID": job_id,
            "backupInstanceFriendlyName": props.get("friendlyName", ""),
            "backupInstanceId": bi["id"] if bi else "",
            "dataSourceId": ds.get("resourceID", ""),
            "dataSourceLocation": ds.get("resourceLocation", server["location"] if server else ""),
            "dataSourceName": ds.get("resourceName", ""),
            "dataSourceSetName": ds.get("resourceName", ""),
            "dataSourceType": PG,
            "duration": "PT0S",
            "startTime": start,
            "endTime": None,
            "errorDetails": None,
            "extendedInfo": {"additionalDetails": {}, "subTasks": []},
            "isUserTriggered": True,
            "operation": operation,
            "operationCategory": category,
            "policyId": props.get("policyInfo", {}).get("policyId", ""),
            "policyName": str(props.get("policyInfo", {}).get("policyId", "")).rsplit("/", 1)[-1],
            "progressEnabled": True,
            "progressUrl": None,
            "restoreType": "RecoveryPointBased" if category == "Restore" else None,
            "sourceResourceGroup": ds_parts[4] if len(ds_parts) > 4 else "",
            "sourceSubscriptionID": ds_parts[2] if len(ds_parts) > 2 else "",
            "status": "Started",
            "subscriptionId": parts[2],
            "supportedActions": [""],
            "vaultName": vault["name"],
            "sourceDataStoreName": "VaultStore",
            "destinationDataStoreName": "VaultStore",
        },
    }


_DUR = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?")


def duration_days(text: str) -> int | None:
    """Days in an ISO 8601 date duration (Y=365, M=30, W=7); None when unparseable."""
    m = _DUR.fullmatch(text or "")
    if not m or not any(m.groups()):
        return None
    y, mo, w, d = (int(g or 0) for g in m.groups())
    return y * 365 + mo * 30 + w * 7 + d


def _bad(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def validate_policy(body: Json) -> None:
    """Reject what the service rejects for a PG flex policy (Azure-shaped 400 errors)."""
    props = body.get("properties") or {}
    if props.get("objectType") != "BackupPolicy":
        raise _bad("UserErrorInvalidPolicyObjectType", "objectType must be 'BackupPolicy'.")
    if [str(t).lower() for t in props.get("datasourceTypes") or []] != [PG.lower()]:
        raise _bad(
            "UserErrorDatasourceTypeNotSupported",
            f"datasourceTypes must be ['{PG}'] for this policy.",
        )
    rules = props.get("policyRules") or []
    backup = [r for r in rules if r.get("objectType") == "AzureBackupRule"]
    retention = [r for r in rules if r.get("objectType") == "AzureRetentionRule"]
    if len(backup) != 1 or not any(r.get("isDefault") for r in retention):
        raise _bad(
            "UserErrorInvalidPolicyRules",
            "A policy needs exactly one AzureBackupRule and a default AzureRetentionRule.",
        )
    rule = backup[0]
    if rule.get("dataStore", {}).get("dataStoreType") != "VaultStore":
        raise _bad(
            "UserErrorDataStoreTypeNotSupported",
            "Only the VaultStore data store is supported for this datasource type.",
        )
    trigger = rule.get("trigger") or {}
    intervals = trigger.get("schedule", {}).get("repeatingTimeIntervals") or []
    if not intervals:
        raise _bad("UserErrorInvalidSchedule", "The backup schedule has no repeating interval.")
    for interval in intervals:
        m = re.fullmatch(
            r"R/(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))/(P\w+)", str(interval)
        )
        if not m:
            raise _bad(
                "UserErrorInvalidSchedule",
                f"'{interval}' is not an ISO 8601 repeating interval with a start time.",
            )
        if m.group(2) != "P1W":
            raise _bad(
                "UserErrorUnsupportedBackupFrequency",
                f"Backup frequency '{m.group(2)}' is not supported for {PG}; only weekly "
                "(P1W) backups are supported.",
            )
    tags = {
        str(c.get("tagInfo", {}).get("tagName", "")).lower()
        for c in trigger.get("taggingCriteria") or []
    }
    for ret in retention:
        name = str(ret.get("name", ""))
        if not ret.get("isDefault") and name.lower() not in tags:
            raise _bad(
                "UserErrorMissingTaggingCriteria",
                f"Retention rule '{name}' has no tagging criteria with the same name in the "
                "backup rule.",
            )
        for life in ret.get("lifecycles") or []:
            if life.get("sourceDataStore", {}).get("dataStoreType") != "VaultStore" or life.get(
                "targetDataStoreCopySettings"
            ):
                raise _bad(
                    "UserErrorArchiveStoreNotSupported",
                    f"Retention rule '{name}': only VaultStore retention is supported; "
                    "ArchiveStore tiering is not supported for this datasource type.",
                )
            duration = str(life.get("deleteAfter", {}).get("duration", ""))
            days = duration_days(duration)
            if days is None or days < 7 or days > 3650:
                raise _bad(
                    "UserErrorInvalidRetentionDuration",
                    f"Retention duration '{duration}' in rule '{name}' is outside the supported "
                    "range P7D..P10Y.",
                )
