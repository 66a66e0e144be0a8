"""Storage accounts and containers for restore targets (control plane).

Restores as files need an account with ``allowCrossTenantReplication`` on, reachable from the
vault (public access, or selected networks with a resource-instance rule for the vault and
the trusted-services bypass), and a container (azure-facts §5).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from pgflex_gui.azure import convert
from pgflex_gui.azure.errors import azure_call
from pgflex_gui.azure.service import AuditedService
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BlobContainer, StorageAccount

__all__ = ["StorageService"]

log = logging.getLogger(__name__)


class StorageService(AuditedService):
    """Storage account and container reads and writes. Methods block and raise ``AppError``."""

    # -- accounts ----------------------------------------------------------------------------

    def iter_storage_accounts(
        self, subscription_ids: Iterable[str]
    ) -> Iterator[list[StorageAccount]]:
        """Storage accounts, one list per subscription page, across ``subscription_ids``."""
        for sub in subscription_ids:
            with azure_call("list storage accounts"):
                pages = self._factory.storage(sub).storage_accounts.list()
                for page in pages.by_page():
                    accounts = [convert.storage_account(a) for a in page]
                    yield [a for a in accounts if convert.has_id(a)]

    def list_storage_accounts(self, subscription_ids: Iterable[str]) -> list[StorageAccount]:
        """All storage accounts of the given subscriptions (e.g. every one of a tenant)."""
        out: list[StorageAccount] = []
        for page in self.iter_storage_accounts(subscription_ids):
            out.extend(page)
        return sorted(out, key=lambda a: (a.name.lower(), str(a.id).lower()))

    def get_storage_account(self, account_id: ResourceId) -> StorageAccount:
        """One storage account with its network rules."""
        with azure_call("read the storage account"):
            raw = self._factory.storage(account_id.subscription_id).storage_accounts.get_properties(
                account_id.resource_group, account_id.name
            )
        return convert.storage_account(raw)

    def update_account(
        self,
        account_id: ResourceId,
        *,
        allow_cross_tenant_replication: bool | None = None,
        public_network_access: str | None = None,
        default_action: str | None = None,
        bypass: str | None = None,
        add_resource_access_rule: tuple[str, str] | None = None,
    ) -> StorageAccount:
        """PATCH account properties; network rules are merged with the current ones.

        ``add_resource_access_rule`` is ``(tenant_id, resource_id)``, e.g. the backup vault, so
        the vault may reach an account limited to selected networks.
        """
        client: Any = self._factory.storage(account_id.subscription_id)
        props: dict[str, Any] = {}
        if allow_cross_tenant_replication is not None:
            props["allowCrossTenantReplication"] = allow_cross_tenant_replication
        if public_network_access is not None:
            props["publicNetworkAccess"] = public_network_access
        if default_action is not None or bypass is not None or add_resource_access_rule:
            with azure_call("read the storage account"):
                current = convert.as_dict(
                    client.storage_accounts.get_properties(
                        account_id.resource_group, account_id.name
                    )
                )
            acls = dict(convert.get(current, "properties", "networkAcls", default={}))
            acls.setdefault("defaultAction", "Allow")
            if default_action is not None:
                acls["defaultAction"] = default_action
            if bypass is not None:
                acls["bypass"] = bypass
            if add_resource_access_rule:
                tenant_id, resource_id = add_resource_access_rule
                rules = list(acls.get("resourceAccessRules") or [])
                if not any(
                    str(convert.get(r, "resourceId", default="")).lower() == resource_id.lower()
                    for r in rules
                ):
                    rules.append({"tenantId": tenant_id, "resourceId": resource_id})
                acls["resourceAccessRules"] = rules
            props["networkAcls"] = acls
        if not props:
            return self.get_storage_account(account_id)
        raw = self._write(
            "update the storage account",
            str(account_id),
            lambda: client.storage_accounts.update(
                account_id.resource_group, account_id.name, {"properties": props}
            ),
        )
        return convert.storage_account(raw)

    def list_keys(self, account_id: ResourceId) -> list[str]:
        """The account's access keys (secrets: never log them)."""
        with azure_call("list the storage account keys"):
            raw = self._factory.storage(account_id.subscription_id).storage_accounts.list_keys(
                account_id.resource_group, account_id.name
            )
        keys = convert.get(convert.as_dict(raw), "keys", default=[])
        return [str(k.get("value")) for k in keys if isinstance(k, dict) and k.get("value")]

    def make_read_sas(self, container_url: str, container_arm_id: str = "") -> str:
        """A read + list SAS for one container, valid 8 hours (secret: never log it).

        Signed with a user delegation key of the signed-in identity, else with the account
        key (``listKeys``, kept in memory); see ``azure.blob_access.make_read_sas``.
        """
        from pgflex_gui.azure.blob_access import ContainerRef, make_read_sas

        return make_read_sas(self._factory, ContainerRef(container_url, container_arm_id))

    # -- containers --------------------------------------------------------------------------

    def list_containers(self, account: StorageAccount) -> list[BlobContainer]:
        """Blob containers of an account."""
        client: Any = self._factory.storage(account.id.subscription_id)
        with azure_call("list blob containers"):
            raw = list(client.blob_containers.list(account.id.resource_group, account.name))
        containers = [convert.blob_container(r, account) for r in raw]
        return sorted((c for c in containers if c.name), key=lambda c: c.name)

    def create_container(self, account: StorageAccount, name: str) -> BlobContainer:
        """Create a private blob container."""
        client: Any = self._factory.storage(account.id.subscription_id)
        target = f"{account.id}/blobServices/default/containers/{name}"
        raw = self._write(
            "create the blob container",
            target,
            lambda: client.blob_containers.create(
                account.id.resource_group,
                account.name,
                name,
                {"properties": {"publicAccess": "None"}},
            ),
        )
        container = convert.blob_container(raw, account)
        return container if container.name else convert.blob_container({"name": name}, account)
