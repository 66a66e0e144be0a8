"""Frozen values the Azure adapters return and the UI shows.

Adapters translate SDK models into these at the boundary; SDK objects never cross threads
or reach widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pgflex_gui.domain.ids import ResourceId

__all__ = [
    "PG_FLEX_DATASOURCE_TYPE",
    "BackupInstance",
    "BackupJob",
    "BlobContainer",
    "FlexServer",
    "JobSubTask",
    "PolicyInfo",
    "ProtectionState",
    "RecoveryPoint",
    "Region",
    "RetentionRuleInfo",
    "RoleAssignment",
    "StorageAccount",
    "Subscription",
    "Tenant",
    "Vault",
]

PG_FLEX_DATASOURCE_TYPE = "Microsoft.DBforPostgreSQL/flexibleServers"


class ProtectionState(StrEnum):
    """``currentProtectionState`` of a backup instance, plus NotProtected for bare servers."""

    INVALID = "Invalid"
    NOT_PROTECTED = "NotProtected"
    CONFIGURING_PROTECTION = "ConfiguringProtection"
    PROTECTION_CONFIGURED = "ProtectionConfigured"
    BACKUP_SCHEDULES_SUSPENDED = "BackupSchedulesSuspended"
    RETENTION_SCHEDULES_SUSPENDED = "RetentionSchedulesSuspended"
    PROTECTION_STOPPED = "ProtectionStopped"
    PROTECTION_ERROR = "ProtectionError"
    CONFIGURING_PROTECTION_FAILED = "ConfiguringProtectionFailed"
    SOFT_DELETING = "SoftDeleting"
    SOFT_DELETED = "SoftDeleted"
    UPDATING_PROTECTION = "UpdatingProtection"

    @classmethod
    def parse(cls, text: str | None) -> ProtectionState:
        """Map a service string (any case) to a state; unknown strings become INVALID."""
        if not text:
            return cls.NOT_PROTECTED
        for member in cls:
            if member.value.lower() == text.lower():
                return member
        return cls.INVALID


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    display_name: str = ""
    default_domain: str = ""


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    display_name: str
    tenant_id: str
    state: str = "Enabled"


@dataclass(frozen=True)
class Region:
    name: str  # programmatic, e.g. "westeurope"
    display_name: str = ""
    paired: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlexServer:
    id: ResourceId
    location: str
    version: str  # major, e.g. "15"
    state: str  # Ready | Stopped | ...
    tenant_id: str = ""
    sku_name: str = ""
    sku_tier: str = ""
    storage_gb: int = 0
    public_network_access: bool = True
    encryption: str = "SystemManaged"  # or AzureKeyVault (CMK)
    fqdn: str = ""
    administrator_login: str = ""
    ha_mode: str = "Disabled"
    tags: tuple[tuple[str, str], ...] = ()
    storage_type: str = ""  # properties.storage.type: Premium_LRS | PremiumV2_LRS ("" unknown)
    replication_role: str = ""  # properties.replicationRole: Primary | AsyncReplica | ...

    @property
    def name(self) -> str:
        return self.id.name


@dataclass(frozen=True)
class Vault:
    id: ResourceId
    location: str
    tenant_id: str = ""
    principal_id: str = ""  # system-assigned identity
    redundancy: str = "LocallyRedundant"  # LocallyRedundant | GeoRedundant | ZoneRedundant
    cross_region_restore: bool = False
    cross_subscription_restore: str = "Enabled"  # Enabled | Disabled | PermanentlyDisabled
    soft_delete: str = "On"  # Off | On | AlwaysOn
    soft_delete_days: int = 14
    immutability: str = "Disabled"  # Disabled | Unlocked | Locked
    provisioning_state: str = "Succeeded"

    @property
    def name(self) -> str:
        return self.id.name


@dataclass(frozen=True)
class RetentionRuleInfo:
    name: str  # Default | Weekly | Monthly | Yearly
    duration: str  # ISO 8601, e.g. P3M
    is_default: bool = False
    criteria: str = ""  # e.g. FirstOfMonth


@dataclass(frozen=True)
class PolicyInfo:
    id: ResourceId
    datasource_types: tuple[str, ...] = (PG_FLEX_DATASOURCE_TYPE,)
    repeating_intervals: tuple[str, ...] = ()
    time_zone: str = "UTC"
    retention: tuple[RetentionRuleInfo, ...] = ()

    @property
    def name(self) -> str:
        return self.id.name

    @property
    def is_pg_flex(self) -> bool:
        return any(t.lower() == PG_FLEX_DATASOURCE_TYPE.lower() for t in self.datasource_types)


@dataclass(frozen=True)
class BackupInstance:
    id: ResourceId
    datasource_id: ResourceId
    policy_id: ResourceId | None
    protection_state: ProtectionState
    protection_status: str = ""  # ProtectionConfigured | ProtectionError | ...
    friendly_name: str = ""
    datasource_location: str = ""
    error_code: str | None = None
    error_message: str | None = None
    provisioning_state: str = "Succeeded"
    # "v1" | "v2" | "unknown" (domain.backup_kind.instance_kind_of, the documented marker)
    backup_kind: str = "v1"

    @property
    def name(self) -> str:
        return self.id.name

    @property
    def vault_id(self) -> ResourceId:
        parent = self.id.parent
        assert parent is not None
        return parent


@dataclass(frozen=True)
class RecoveryPoint:
    id: ResourceId
    recovery_point_id: str
    time: datetime  # timezone-aware UTC
    recovery_point_type: str = "Full"
    policy_name: str = ""
    retention_tag: str = ""
    expiry: datetime | None = None
    state: str = "Completed"
    region: str = ""  # set for secondary-region (CRR) points
    # What the point's own JSON says ("v1" | "v2" | ""): domain.backup_kind.point_kind joins
    # it with the instance's kind; the field is UNCONFIRMED, so this is mostly "".
    kind_evidence: str = ""


@dataclass(frozen=True)
class JobSubTask:
    name: str
    status: str
    additional: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class BackupJob:
    id: ResourceId
    operation: str  # Backup | Restore | ...
    status: str  # Started | InProgress | Completed | Failed | ...
    start: datetime | None = None
    end: datetime | None = None
    duration: str = ""
    datasource_name: str = ""
    datasource_id: str = ""
    backup_instance_id: str = ""
    policy_name: str = ""
    error_codes: tuple[tuple[str, str], ...] = ()  # (code, message)
    subtasks: tuple[JobSubTask, ...] = ()
    recovery_point_id: str = ""
    restore_destination: str = ""
    data_transferred_bytes: int = 0

    @property
    def job_id(self) -> str:
        return self.id.name

    @property
    def in_progress(self) -> bool:
        """The fact sheet: treat anything but Started/InProgress as terminal."""
        return self.status.lower() in {"started", "inprogress"}


@dataclass(frozen=True)
class StorageAccount:
    id: ResourceId
    location: str
    blob_endpoint: str
    allow_cross_tenant_replication: bool = False
    public_network_access: str = "Enabled"  # Enabled | Disabled
    default_action: str = "Allow"  # networkAcls.defaultAction
    bypass: str = "AzureServices"
    resource_access_rule_ids: tuple[str, ...] = ()  # networkAcls.resourceAccessRules[].resourceId
    allow_shared_key_access: bool = True  # allowSharedKeyAccess (null means allowed)

    @property
    def name(self) -> str:
        return self.id.name


@dataclass(frozen=True)
class BlobContainer:
    account_id: ResourceId
    name: str
    url: str

    @property
    def arm_id(self) -> str:
        return f"{self.account_id}/blobServices/default/containers/{self.name}"


@dataclass(frozen=True)
class RoleAssignment:
    id: str
    scope: str
    role_definition_id: str  # full ARM id; the GUID is the last segment
    principal_id: str
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def role_guid(self) -> str:
        return self.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
