"""convert: REST-shaped payloads (as in azure-facts) and SDK models to domain values."""

from __future__ import annotations

from datetime import UTC, datetime

from azure.mgmt.dataprotection import models as dp

from pgflex_gui.azure import convert
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import ProtectionState

SUB = "/subscriptions/s1"
VAULT = f"{SUB}/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1"
SERVER = f"{SUB}/resourceGroups/rgpg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1"


def test_everything_tolerates_empty_input() -> None:
    for fn in (
        convert.tenant,
        convert.subscription,
        convert.region,
        convert.flex_server,
        convert.vault,
        convert.policy,
        convert.backup_instance,
        convert.recovery_point,
        convert.job,
        convert.storage_account,
        convert.role_assignment,
    ):
        value = fn({})
        assert value is not None
        assert not convert.has_id(value)
    assert convert.as_dict(object()) == {}
    assert convert.as_dict(None) == {}


def test_flex_server_fields_under_properties() -> None:
    server = convert.flex_server(
        {
            "id": SERVER,
            "location": "West Europe",
            "sku": {"name": "Standard_D2ds_v5", "tier": "GeneralPurpose"},
            "tags": {"env": "prod"},
            "properties": {
                "version": "16",
                "state": "Ready",
                "fullyQualifiedDomainName": "pg1.postgres.database.azure.com",
                "administratorLogin": "pgadmin",
                "storage": {"storageSizeGB": 128},
                "network": {"publicNetworkAccess": "Disabled"},
                "dataEncryption": {"type": "AzureKeyVault"},
                "highAvailability": {"mode": "ZoneRedundant"},
            },
        },
        "t1",
    )
    assert server.id == ResourceId.parse(SERVER)
    assert server.location == "westeurope"
    assert (server.version, server.state, server.storage_gb) == ("16", "Ready", 128)
    assert server.public_network_access is False
    assert server.encryption == "AzureKeyVault"
    assert server.ha_mode == "ZoneRedundant"
    assert server.tags == (("env", "prod"),)
    assert server.tenant_id == "t1"


def test_vault_from_rec_shape() -> None:
    vault = convert.vault(
        {
            "id": VAULT,
            "location": "westeurope",
            "identity": {"type": "SystemAssigned", "principalId": "p1", "tenantId": "t1"},
            "properties": {
                "provisioningState": "Succeeded",
                "storageSettings": [{"datastoreType": "VaultStore", "type": "GeoRedundant"}],
                "securitySettings": {
                    "softDeleteSettings": {"state": "OFF", "retentionDurationInDays": 14},
                    "immutabilitySettings": {"state": "Locked"},
                },
                "featureSettings": {
                    "crossRegionRestoreSettings": {"state": "Enabled"},
                    "crossSubscriptionRestoreSettings": {"state": "PermanentlyDisabled"},
                },
            },
        }
    )
    assert vault.principal_id == "p1"
    assert vault.redundancy == "GeoRedundant"
    assert vault.soft_delete == "Off"
    assert vault.immutability == "Locked"
    assert vault.cross_region_restore is True
    assert vault.cross_subscription_restore == "PermanentlyDisabled"


def test_policy_default_template() -> None:
    body = {
        "id": f"{VAULT}/backupPolicies/OssFlexiblePolicy1",
        "properties": {
            "objectType": "BackupPolicy",
            "datasourceTypes": ["Microsoft.DBforPostgreSQL/flexibleServers"],
            "policyRules": [
                {
                    "name": "BackupWeekly",
                    "objectType": "AzureBackupRule",
                    "trigger": {
                        "objectType": "ScheduleBasedTriggerContext",
                        "schedule": {
                            "repeatingTimeIntervals": ["R/2021-08-15T06:30:00+00:00/P1W"],
                            "timeZone": "UTC",
                        },
                        "taggingCriteria": [
                            {
                                "isDefault": True,
                                "taggingPriority": 99,
                                "tagInfo": {"tagName": "Default"},
                            },
                            {
                                "isDefault": False,
                                "taggingPriority": 15,
                                "tagInfo": {"tagName": "Monthly"},
                                "criteria": [
                                    {
                                        "objectType": "ScheduleBasedBackupCriteria",
                                        "absoluteCriteria": ["FirstOfMonth"],
                                    }
                                ],
                            },
                        ],
                    },
                },
                {
                    "name": "Default",
                    "objectType": "AzureRetentionRule",
                    "isDefault": True,
                    "lifecycles": [
                        {"deleteAfter": {"objectType": "AbsoluteDeleteOption", "duration": "P3M"}}
                    ],
                },
                {
                    "name": "Monthly",
                    "objectType": "AzureRetentionRule",
                    "isDefault": False,
                    "lifecycles": [{"deleteAfter": {"duration": "P1Y"}}],
                },
            ],
        },
    }
    policy = convert.policy(body)
    assert policy.name == "OssFlexiblePolicy1"
    assert policy.is_pg_flex
    assert policy.repeating_intervals == ("R/2021-08-15T06:30:00+00:00/P1W",)
    rules = {r.name: r for r in policy.retention}
    assert rules["Default"].is_default
    assert rules["Default"].duration == "P3M"
    assert rules["Monthly"].criteria == "FirstOfMonth"


def test_backup_instance_from_sdk_model() -> None:
    model = dp.BackupInstanceResource(
        {
            "id": f"{VAULT}/backupInstances/pg1-bi",
            "properties": {
                "friendlyName": "pg1",
                "dataSourceInfo": {"resourceID": SERVER, "resourceLocation": "westeurope"},
                "policyInfo": {"policyId": f"{VAULT}/backupPolicies/p"},
                "currentProtectionState": "ProtectionError",
                "protectionStatus": {
                    "status": "ProtectionError",
                    "errorDetails": {"code": "UserErrorMissingRequiredPermissions", "message": "m"},
                },
            },
        }
    )
    bi = convert.backup_instance(model)
    assert bi.protection_state is ProtectionState.PROTECTION_ERROR
    assert bi.datasource_id.same_as(SERVER)
    assert bi.vault_id.same_as(VAULT)
    assert bi.error_code == "UserErrorMissingRequiredPermissions"


def test_recovery_point_from_rec_with_seven_fraction_digits() -> None:
    rp = convert.recovery_point(
        {
            "id": f"{VAULT}/backupInstances/bi/recoveryPoints/64c1",
            "name": "64c1",
            "properties": {
                "objectType": "AzureBackupDiscreteRecoveryPoint",
                "recoveryPointId": "64c1",
                "recoveryPointTime": "2024-04-10T10:30:46.2303875Z",
                "recoveryPointType": "Full",
                "retentionTagName": "default",
                "policyName": "pgflexpolicy",
                "expiryTime": None,
                "recoveryPointState": "Completed",
            },
        },
        "northeurope",
    )
    assert rp.time == datetime(2024, 4, 10, 10, 30, 46, 230387, tzinfo=UTC)
    assert rp.expiry is None
    assert rp.region == "northeurope"
    assert rp.policy_name == "pgflexpolicy"


def test_restore_job_from_rec() -> None:
    job = convert.job(
        {
            "id": f"{VAULT}/backupJobs/j1",
            "properties": {
                "operation": "Restore",
                "operationCategory": "Restore",
                "status": "InProgress",
                "startTime": "2024-04-10T11:00:00Z",
                "duration": "PT2M5.65S",
                "errorDetails": None,
                "extendedInfo": {
                    "recoveryDestination": "https://acct.blob.core.windows.net/c",
                    "sourceRecoverPoint": {"recoveryPointID": "64c1"},
                    "additionalDetails": {"Restore File Prefix": "x"},
                    "subTasks": [
                        {
                            "taskId": 1,
                            "taskName": "Trigger Restore",
                            "taskStatus": "InProgress",
                            "additionalDetails": {"DataTransferredInBytes": "1024"},
                        }
                    ],
                },
            },
        }
    )
    assert job.job_id == "j1"
    assert job.in_progress
    assert job.recovery_point_id == "64c1"
    assert job.data_transferred_bytes == 1024
    assert job.subtasks[0].name == "Trigger Restore"
    assert job.start is not None
    assert job.end is None


def test_storage_account_and_container() -> None:
    acct = convert.storage_account(
        {
            "id": f"{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct",
            "location": "westeurope",
            "properties": {
                "primaryEndpoints": {"blob": "https://acct.blob.core.windows.net/"},
                "allowCrossTenantReplication": True,
                "networkAcls": {
                    "defaultAction": "Deny",
                    "bypass": "AzureServices",
                    "resourceAccessRules": [{"tenantId": "t", "resourceId": VAULT}],
                },
            },
        }
    )
    assert acct.allow_cross_tenant_replication
    assert acct.default_action == "Deny"
    assert acct.resource_access_rule_ids == (VAULT,)
    container = convert.blob_container({"name": "restores"}, acct)
    assert container.url == "https://acct.blob.core.windows.net/restores"
    assert container.arm_id.endswith("/blobServices/default/containers/restores")


def test_job_id_from_operation_result() -> None:
    vault = ResourceId.parse(VAULT)
    assert convert.job_id_from({"jobId": "abc"}, vault) == f"{VAULT}/backupJobs/abc"
    assert convert.job_id_from({"jobId": f"{VAULT}/backupJobs/x"}, vault).endswith("/x")
    assert convert.job_id_from({}, vault) == ""
