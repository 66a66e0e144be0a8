"""Qt-free: the field/value rows the details pane shows for each kind of node."""

from __future__ import annotations

from datetime import UTC, datetime

from pgflex_gui.domain.models import (
    BackupInstance,
    BackupJob,
    FlexServer,
    PolicyInfo,
    RecoveryPoint,
    Subscription,
    Tenant,
    Vault,
)
from pgflex_gui.ui.status import RECOMMENDED_MAX_GB, age_words, protection_words, size_words
from pgflex_gui.ui.tree.nodes import ResourceNode

__all__ = ["Rows", "describe", "describe_job", "policy_words", "when_words"]

Rows = list[tuple[str, str]]


def when_words(when: datetime | None) -> str:
    """``2025-06-01 14:00 (local) · 2025-06-01 12:00 UTC``."""
    if when is None:
        return "—"
    local = when.astimezone()
    return f"{local:%Y-%m-%d %H:%M %Z} · {when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def policy_words(policy: PolicyInfo) -> str:
    """The schedule and retention in words, or the raw intervals when the helper is missing."""
    try:
        from pgflex_gui.domain.policy import describe_policy
    except ImportError:
        describe_policy = None
    if describe_policy is not None:
        try:
            return str(describe_policy(policy))
        except Exception:  # noqa: BLE001 - fall back to the raw listing
            pass
    intervals = ", ".join(policy.repeating_intervals) or "no schedule"
    kept = ", ".join(f"{r.name}: {r.duration}" for r in policy.retention) or "no retention"
    return f"{intervals}; {kept}"


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
            ("Server", str(ref.datasource_id)),
            ("Protection", ref.protection_state.value),
            ("Policy", ref.policy_id.name if ref.policy_id else "—"),
            ("Error", ref.error_message or "—"),
            ("Vault", ref.vault_id.name),
        ]
    if isinstance(ref, RecoveryPoint):
        return "Recovery point", [
            ("Time", when_words(ref.time)),
            ("Type", ref.recovery_point_type),
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
        ("Protection", protection_words(p) or "—"),
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
        rows.insert(1, ("Problem", p.detail))
    return rows


def _storage_words(storage_gb: int) -> str:
    text = size_words(storage_gb) or "—"
    if storage_gb > RECOMMENDED_MAX_GB:
        text = text.replace("(> 4 TB)", "— above the 4 TB recommended for Azure Backup")
    return text


def _vault_rows(v: Vault) -> Rows:
    return [
        ("Region", v.location),
        ("Storage redundancy", v.redundancy),
        ("Cross-region restore", _yes(v.cross_region_restore)),
        ("Cross-subscription restore", v.cross_subscription_restore),
        ("Soft delete", f"{v.soft_delete} ({v.soft_delete_days} days)"),
        ("Immutability", v.immutability),
        ("Identity", f"System-assigned ({v.principal_id})" if v.principal_id else "None"),
        ("Provisioning", v.provisioning_state),
        ("Resource id", str(v.id)),
    ]


def describe_job(job: BackupJob) -> tuple[str, Rows]:
    """Rows for an Azure Backup job."""
    rows: Rows = [
        ("Operation", job.operation),
        ("Status", job.status),
        ("Server", job.datasource_name or "—"),
        ("Started", when_words(job.start)),
        ("Ended", when_words(job.end)),
        ("Duration", job.duration or "—"),
        ("Policy", job.policy_name or "—"),
    ]
    for code, message in job.error_codes:
        rows.append(("Error", f"{code}: {message}"))
    return f"{job.operation} job {job.job_id}", rows
