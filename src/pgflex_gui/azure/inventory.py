"""Read-only listings of tenants, subscriptions, servers, vaults and their contents.

:class:`AzureInventory` implements :class:`pgflex_gui.domain.ports.InventoryPort`. Methods
block (call them from a worker lane) and raise ``AppError``. Paged listings yield one list of
domain values per service page, so the tree can show rows as pages arrive.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from azure.core.credentials import TokenCredential

from pgflex_gui.azure import convert
from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.errors import azure_call
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import (
    BackupInstance,
    BackupJob,
    FlexServer,
    PolicyInfo,
    RecoveryPoint,
    Region,
    Subscription,
    Tenant,
    Vault,
)

__all__ = ["AzureInventory", "recovery_point_filter"]

log = logging.getLogger(__name__)


def recovery_point_filter(start: datetime | None, end: datetime | None) -> str | None:
    """The ``$filter`` the CLI builds: ``startDate eq '...' and endDate eq '...'`` (UTC)."""

    def fmt(value: datetime) -> str:
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S")

    parts = []
    if start is not None:
        parts.append(f"startDate eq '{fmt(start)}'")
    if end is not None:
        parts.append(f"endDate eq '{fmt(end)}'")
    return " and ".join(parts) or None


def _vault_parts(vault_id: ResourceId) -> tuple[str, str, str]:
    return vault_id.subscription_id, vault_id.resource_group, vault_id.name


class AzureInventory:
    """Azure listings as domain values (implements ``InventoryPort``).

    ``credential_for_tenant`` returns a credential whose tokens are issued by a given tenant;
    listing a tenant's subscriptions needs one. Without it the factory's credential is used.
    """

    def __init__(
        self,
        factory: ClientFactory,
        *,
        credential_for_tenant: Callable[[str], TokenCredential] | None = None,
    ) -> None:
        self._factory = factory
        if credential_for_tenant is not None and factory.credential_for_tenant is None:
            # One routing rule for every client the factory builds, listings and writes alike.
            factory.credential_for_tenant = credential_for_tenant
        self._credential_for_tenant = factory.credential_for_tenant
        self._lock = threading.Lock()
        self._tenant_of_subscription: dict[str, str] = {}

    # -- tenants and subscriptions ---------------------------------------------------------

    def list_tenants(self) -> list[Tenant]:
        """Tenants the signed-in identity belongs to."""
        with azure_call("list tenants"):
            client = self._factory.subscriptions()
            tenants = [convert.tenant(t) for t in client.tenants.list()]
        return [t for t in tenants if t.tenant_id]

    def list_subscriptions(self, tenant_id: str) -> list[Subscription]:
        """Subscriptions of ``tenant_id`` visible to the signed-in identity."""
        credential = self._credential_for_tenant(tenant_id) if self._credential_for_tenant else None
        with azure_call("list subscriptions"):
            client = self._factory.subscriptions(credential)
            subs = [convert.subscription(s, tenant_id) for s in client.subscriptions.list()]
        mine = [
            s
            for s in subs
            if s.subscription_id and (not s.tenant_id or s.tenant_id.lower() == tenant_id.lower())
        ]
        with self._lock:
            for s in mine:
                self._tenant_of_subscription[s.subscription_id.lower()] = s.tenant_id or tenant_id
        self._factory.register_subscriptions(
            (s.subscription_id, s.tenant_id or tenant_id) for s in mine
        )
        return sorted(mine, key=lambda s: s.display_name.lower())

    def list_locations(self, subscription_id: str) -> list[Region]:
        """Physical regions of a subscription with their pairs."""
        with azure_call("list regions"):
            client = self._factory.subscriptions()
            raw = list(client.subscriptions.list_locations(subscription_id))
        return [convert.region(r) for r in raw if convert.is_physical_region(r)]

    # -- servers and vaults ----------------------------------------------------------------

    def iter_servers(self, subscription_id: str) -> Iterator[list[FlexServer]]:
        """Flexible servers of a subscription, one list per page."""
        with self._lock:
            tenant = self._tenant_of_subscription.get(subscription_id.lower(), "")
        with azure_call("list PostgreSQL flexible servers"):
            pages = self._factory.postgres(subscription_id).servers.list_by_subscription()
            for page in pages.by_page():
                servers = [convert.flex_server(s, tenant) for s in page]
                yield [s for s in servers if convert.has_id(s)]

    def iter_vaults(self, subscription_id: str) -> Iterator[list[Vault]]:
        """Backup vaults of a subscription, one list per page."""
        with azure_call("list backup vaults"):
            client = self._factory.dataprotection(subscription_id)
            pages = client.backup_vaults.get_in_subscription()
            for page in pages.by_page():
                vaults = [convert.vault(v) for v in page]
                yield [v for v in vaults if convert.has_id(v)]

    def get_vault(self, vault_id: ResourceId) -> Vault:
        """One backup vault (with its identity's principal id)."""
        sub, rg, name = _vault_parts(vault_id)
        with azure_call("read the backup vault"):
            return convert.vault(self._factory.dataprotection(sub).backup_vaults.get(rg, name))

    def get_server(self, server_id: ResourceId) -> FlexServer:
        """One flexible server."""
        with self._lock:
            tenant = self._tenant_of_subscription.get(server_id.subscription_id.lower(), "")
        with azure_call("read the PostgreSQL server"):
            raw = self._factory.postgres(server_id.subscription_id).servers.get(
                server_id.resource_group, server_id.name
            )
        return convert.flex_server(raw, tenant)

    # -- vault contents --------------------------------------------------------------------

    def list_policies(self, vault_id: ResourceId) -> list[PolicyInfo]:
        """Backup policies of a vault (all datasource types; see ``PolicyInfo.is_pg_flex``)."""
        sub, rg, name = _vault_parts(vault_id)
        with azure_call("list backup policies"):
            raw = list(self._factory.dataprotection(sub).backup_policies.list(rg, name))
        return [p for p in (convert.policy(r) for r in raw) if convert.has_id(p)]

    def list_backup_instances(self, vault_id: ResourceId) -> list[BackupInstance]:
        """Backup instances of a vault."""
        sub, rg, name = _vault_parts(vault_id)
        with azure_call("list backup instances"):
            raw = list(self._factory.dataprotection(sub).backup_instances.list(rg, name))
        return [b for b in (convert.backup_instance(r) for r in raw) if convert.has_id(b)]

    def get_backup_instance(self, instance_id: ResourceId) -> BackupInstance:
        """One backup instance."""
        sub, rg, vault, name = convert.instance_parts(instance_id)
        with azure_call("read the backup instance"):
            raw = self._factory.dataprotection(sub).backup_instances.get(rg, vault, name)
        return convert.backup_instance(raw)

    def list_recovery_points(
        self,
        backup_instance_id: ResourceId,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[RecoveryPoint]:
        """Recovery points of an instance, newest first, optionally within [start, end]."""
        sub, rg, vault, name = convert.instance_parts(backup_instance_id)
        flt = recovery_point_filter(start, end)
        with azure_call("list recovery points"):
            ops = self._factory.dataprotection(sub).recovery_points
            raw = list(ops.list(rg, vault, name, filter=flt) if flt else ops.list(rg, vault, name))
        points = [p for p in (convert.recovery_point(r) for r in raw) if p.recovery_point_id]
        return sorted(points, key=lambda p: p.time, reverse=True)

    def list_jobs(self, vault_id: ResourceId) -> list[BackupJob]:
        """Backup and restore jobs of a vault, newest first."""
        sub, rg, name = _vault_parts(vault_id)
        with azure_call("list backup jobs"):
            raw = list(self._factory.dataprotection(sub).jobs.list(rg, name))
        jobs = [j for j in (convert.job(r) for r in raw) if convert.has_id(j)]
        epoch = datetime.fromtimestamp(0, UTC)
        return sorted(jobs, key=lambda j: j.start or epoch, reverse=True)
