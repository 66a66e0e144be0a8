"""Service protocols the UI and jobs depend on; azure/ implements them, tests fake them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

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

__all__ = ["InventoryPort"]


class InventoryPort(Protocol):
    """Read-only listings. Methods block (call them off the GUI thread) and raise AppError.

    Listing methods that Azure pages yield one list per page, so rows can appear as pages
    arrive.
    """

    def list_tenants(self) -> list[Tenant]: ...

    def list_subscriptions(self, tenant_id: str) -> list[Subscription]: ...

    def list_locations(self, subscription_id: str) -> list[Region]: ...

    def iter_servers(self, subscription_id: str) -> Iterator[list[FlexServer]]: ...

    def iter_vaults(self, subscription_id: str) -> Iterator[list[Vault]]: ...

    def list_policies(self, vault_id: ResourceId) -> list[PolicyInfo]: ...

    def list_backup_instances(self, vault_id: ResourceId) -> list[BackupInstance]: ...

    def list_recovery_points(
        self,
        backup_instance_id: ResourceId,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[RecoveryPoint]: ...

    def list_jobs(self, vault_id: ResourceId) -> list[BackupJob]: ...
