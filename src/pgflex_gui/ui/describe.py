"""Qt-free: the field/value rows the details pane shows for each kind of node."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from pgflex_gui.domain.backup_kind import kind_explanation, kind_words
from pgflex_gui.domain.error_codes import describe_azure_error
from pgflex_gui.domain.models import (
    BackupInstance,
    BackupJob,
    FlexServer,
    PolicyInfo,
    ProtectionState,
    RecoveryPoint,
    Subscription,
    Tenant,
    Vault,
)
from pgflex_gui.domain.policy import describe_policy
from pgflex_gui.ui.status import (
    RECOMMENDED_MAX_GB,
    age_words,
    overdue_words,
    server_words,
    size_words,
)
from pgflex_gui.ui.tree.nodes import ResourceNode, point_kind_of_node

log = logging.getLogger(__name__)

__all__ = [
    "Rows",
    "describe",
    "describe_job",
    "duration_words",
    "job_error_rows",
    "local_words",
    "operation_words",
    "policy_words",
    "redundancy_words",
    "state_words",
    "utc_words",
    "when_words",
]

Rows = list[tuple[str, str]]


def when_words(when: datetime | None) -> str:
    """``2025-06-01 14:00 (local) · 2025-06-01 12:00 UTC``."""
    if when is None:
        return "—"
    local = when.astimezone()
    utc = f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if local.utcoffset() == timedelta(0):
        return utc  # this computer runs on UTC: say it once
    return f"{local:%Y-%m-%d %H:%M %Z} · {utc}"


def local_words(when: datetime | None) -> str:
    """``2025-06-01 14:00:05 CEST (UTC+02:00)``: the time on this computer's clock."""
    if when is None:
        return "—"
    local = when.astimezone()
    offset = local.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else ""
    name = local.tzname() or ""
    zone = f"{name} ({offset})" if name and name != "UTC" and offset else name or offset
    return f"{local:%Y-%m-%d %H:%M:%S} {zone}".strip()


def utc_words(when: datetime | None) -> str:
    """``2025-06-01 12:00:05 UTC``."""
    if when is None:
        return "—"
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


_OPERATIONS = {
    "OnDemandBackup": "On-demand backup",
    "ScheduledBackup": "Scheduled backup",
    "AdhocBackup": "On-demand backup",
    "Restore": "Restore",
}
_DURATION = re.compile(r"P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?")


def operation_words(operation: str) -> str:
    """``OnDemandBackup`` → ``On-demand backup``; unknown names as they are."""
    return _OPERATIONS.get(operation, operation)


def duration_words(duration: str) -> str:
    """``PT1H2M3.5S`` → ``1 h 2 min``; anything unparsable is shown as is."""
    match = _DURATION.fullmatch(duration or "")
    if not duration or match is None:
        return duration or ""
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = int(days * 86400 + hours * 3600 + minutes * 60 + seconds)
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min {total % 60} s"
    return f"{total // 3600} h {total % 3600 // 60} min"


def policy_words(policy: PolicyInfo) -> str:
    """The schedule and retention in words, or the raw intervals when the helper is missing."""
    try:
        return str(describe_policy(policy))
    except Exception:
        log.debug("Policy %s not described in words", policy.name, exc_info=True)
    intervals = ", ".join(policy.repeating_intervals) or "no schedule"
    kept = ", ".join(f"{r.name}: {r.duration}" for r in policy.retention) or "no retention"
    return f"{intervals}; {kept}"


_STATES = {
    ProtectionState.INVALID: "Invalid",
    ProtectionState.NOT_PROTECTED: "Not protected",
    ProtectionState.CONFIGURING_PROTECTION: "Configuring protection…",
    ProtectionState.PROTECTION_CONFIGURED: "Protected",
    ProtectionState.BACKUP_SCHEDULES_SUSPENDED: "Backups suspended",
    ProtectionState.RETENTION_SCHEDULES_SUSPENDED: "Retention suspended",
    ProtectionState.PROTECTION_STOPPED: "Protection stopped (recovery points kept)",
    ProtectionState.PROTECTION_ERROR: "Protection error",
    ProtectionState.CONFIGURING_PROTECTION_FAILED: "Configuring protection failed",
    ProtectionState.SOFT_DELETING: "Being deleted (soft delete)",
    ProtectionState.SOFT_DELETED: "Deleted (soft delete: recoverable for a while)",
    ProtectionState.UPDATING_PROTECTION: "Updating protection…",
}
_REDUNDANCY_WORDS = {
    "LocallyRedundant": "Locally redundant (LRS)",
    "ZoneRedundant": "Zone-redundant (ZRS)",
    "GeoRedundant": "Geo-redundant (GRS)",
}


def state_words(state: ProtectionState | str) -> str:
    """``ProtectionConfigured`` → ``Protected``: Azure's protection states in words."""
    try:
        member = state if isinstance(state, ProtectionState) else ProtectionState(str(state))
    except ValueError:
        return str(state)
    return _STATES.get(member, member.value)


def redundancy_words(redundancy: str) -> str:
    """``GeoRedundant`` → ``Geo-redundant (GRS)``."""
    return _REDUNDANCY_WORDS.get(redundancy, redundancy or "—")


def _yes(value: bool) -> str:
    return "Yes" if value else "No"


def describe(node: ResourceNode, *, now: datetime | None = None) -> tuple[str, Rows]:
    """A title and rows for ``node``; groups and unknown refs give just their label."""
    ref = node.ref
    if isinstance(ref, FlexServer):
        return f"Server {ref.name}", _server_rows(node, ref, now)
    if isinstance(ref, Vault) and node.kind.value == "vault":
        return f"Backup vault {ref.name}", _vault_rows(ref)
    if isinstance(ref, PolicyInfo):
        return f"Backup policy {ref.name}", [
            ("Schedule and retention", policy_words(ref)),
            ("Time zone", ref.time_zone),
            ("Data source", ", ".join(ref.datasource_types)),
            ("Resource id", str(ref.id)),
        ]
    if isinstance(ref, BackupInstance):
        return f"Backup instance {node.label}", [
            ("Server", ref.datasource_id.name),
            ("Protection", state_words(ref.protection_state)),
            ("Backup type", f"{kind_words(ref.backup_kind)}: {kind_explanation(ref.backup_kind)}"),
            ("Policy", ref.policy_id.name if ref.policy_id else "—"),
            ("Error", ref.error_message or "—"),
            ("Vault", ref.vault_id.name),
            ("Resource id", str(ref.id)),
        ]
    if isinstance(ref, RecoveryPoint):
        kind = point_kind_of_node(node)
        return "Recovery point", [
            ("Time (local)", local_words(ref.time)),
            ("Time (UTC)", utc_words(ref.time)),
            ("Type", ref.recovery_point_type),
            ("Backup type", f"{kind_words(kind)}: {kind_explanation(kind)}"),
            ("Policy", ref.policy_name or "—"),
            ("Expires", when_words(ref.expiry)),
            ("State", ref.state),
            ("Region", ref.region or "primary"),
            ("Id", ref.recovery_point_id),
        ]
    if isinstance(ref, Subscription) and node.kind.value == "subscription":
        return f"Subscription {ref.display_name}", [
            ("Id", ref.subscription_id),
            ("Tenant", ref.tenant_id),
            ("State", ref.state),
        ]
    if isinstance(ref, Tenant):
        return f"Tenant {node.label}", [
            ("Id", ref.tenant_id),
            ("Domain", ref.default_domain or "—"),
        ]
    return node.label, [("Items", str(len(node.children)))]


def _server_rows(node: ResourceNode, s: FlexServer, now: datetime | None) -> Rows:
    p = node.protection
    rows: Rows = [
        ("Protection", server_words(p, now=now) or "—"),
        ("Last backup", when_words(p.last_backup) if p and p.last_backup else "—"),
        ("Age of last backup", age_words(p.last_backup, now=now) if p else ""),
        ("PostgreSQL version", s.version),
        ("Region", s.location),
        ("SKU", f"{s.sku_name} ({s.sku_tier})" if s.sku_tier else s.sku_name or "—"),
        ("Storage", _storage_words(s.storage_gb)),
        ("Public network access", "Enabled" if s.public_network_access else "Disabled"),
        (
            "Encryption",
            "Customer-managed key" if s.encryption == "AzureKeyVault" else "Service-managed key",
        ),
        ("High availability", s.ha_mode),
        ("State", s.state),
        ("Host", s.fqdn or "—"),
        ("Resource id", str(s.id)),
    ]
    if p and p.detail and p.status.value in {"error", "suspended", "unreadable"}:
        rows.insert(1, ("Problem", state_words(p.detail)))
    overdue = overdue_words(p, now=now)
    if overdue:
        rows.insert(1, ("Backup overdue", overdue))
    return rows


def _storage_words(storage_gb: int) -> str:
    text = size_words(storage_gb) or "—"
    if storage_gb > RECOMMENDED_MAX_GB:
        text = text.replace("(> 4 TB)", "— above the 4 TB recommended for Azure Backup")
    return text


def _vault_rows(v: Vault) -> Rows:
    return [
        ("Region", v.location),
        ("Storage redundancy", redundancy_words(v.redundancy)),
        ("Cross-region restore", _yes(v.cross_region_restore)),
        ("Cross-subscription restore", v.cross_subscription_restore),
        ("Soft delete", f"{v.soft_delete} ({v.soft_delete_days} days)"),
        ("Immutability", v.immutability),
        ("Identity", f"System-assigned ({v.principal_id})" if v.principal_id else "None"),
        ("Provisioning", v.provisioning_state),
        ("Resource id", str(v.id)),
    ]


def describe_job(job: BackupJob) -> tuple[str, Rows]:
    """Rows for an Azure Backup job, each error code with its plain-language meaning."""
    vault = job.id.parent
    rows: Rows = [
        ("Operation", operation_words(job.operation)),
        ("Status", "In progress" if job.in_progress else job.status),
        *job_error_rows(job),
        ("Server", job.datasource_name or "—"),
        ("Vault", vault.name if vault is not None else "—"),
        ("Started", when_words(job.start)),
        ("Ended", when_words(job.end) if job.end else "—"),
        ("Duration", "—" if job.in_progress else duration_words(job.duration) or "—"),
        ("Policy", job.policy_name or "—"),
    ]
    if job.recovery_point_id:
        rows.append(("Recovery point", job.recovery_point_id))
    if job.restore_destination:
        rows.append(("Restore target", job.restore_destination))
    if job.data_transferred_bytes:
        rows.append(("Data transferred", f"{job.data_transferred_bytes / 2**20:,.1f} MiB"))
    for sub in job.subtasks:
        rows.append((f"Step: {sub.name}", sub.status))
    rows.append(("Job id", str(job.id)))
    return f"{operation_words(job.operation)} job {job.job_id}", rows


def job_error_rows(job: BackupJob) -> Rows:
    """For each error code: the code and message, what it means, and what to do."""
    rows: Rows = []
    for code, message in job.error_codes:
        meaning = describe_azure_error(code, message)
        rows.append(("Error", f"{code}: {message}" if message else code))
        rows.append(("What it means", meaning.summary))
        if meaning.remedy:
            rows.append(("What to do", meaning.remedy))
    return rows
