"""Small builders for domain values used across the domain tests."""

from __future__ import annotations

from typing import Any

from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import (
    BackupInstance,
    BlobContainer,
    FlexServer,
    ProtectionState,
    StorageAccount,
    Vault,
)

SUB_A = "11111111-1111-1111-1111-111111111111"
SUB_B = "22222222-2222-2222-2222-222222222222"
TENANT = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"
OTHER_TENANT = "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb"


def server(name: str = "pg1", **kw: Any) -> FlexServer:
    sub = kw.pop("sub", SUB_A)
    rg = kw.pop("rg", "rg-db")
    rid = ResourceId.build(sub, rg, "Microsoft.DBforPostgreSQL", "flexibleServers", name)
    defaults: dict[str, Any] = {
        "location": "westeurope",
        "version": "16",
        "state": "Ready",
        "tenant_id": TENANT,
    }
    defaults.update(kw)
    return FlexServer(id=rid, **defaults)


def vault(name: str = "vault1", **kw: Any) -> Vault:
    sub = kw.pop("sub", SUB_A)
    rg = kw.pop("rg", "rg-backup")
    rid = ResourceId.build(sub, rg, "Microsoft.DataProtection", "backupVaults", name)
    defaults: dict[str, Any] = {"location": "westeurope", "tenant_id": TENANT, "principal_id": "p1"}
    defaults.update(kw)
    return Vault(id=rid, **defaults)


def account(name: str = "acct1", **kw: Any) -> StorageAccount:
    sub = kw.pop("sub", SUB_A)
    rid = ResourceId.build(sub, "rg-st", "Microsoft.Storage", "storageAccounts", name)
    defaults: dict[str, Any] = {
        "location": "westeurope",
        "blob_endpoint": f"https://{name}.blob.core.windows.net/",
        "allow_cross_tenant_replication": True,
    }
    defaults.update(kw)
    return StorageAccount(id=rid, **defaults)


def container(acct: StorageAccount, name: str = "restore") -> BlobContainer:
    return BlobContainer(acct.id, name, f"{acct.blob_endpoint.rstrip('/')}/{name}")


def instance(
    srv: FlexServer, v: Vault, state: ProtectionState = ProtectionState.PROTECTION_CONFIGURED
) -> BackupInstance:
    return BackupInstance(
        id=v.id.child("backupInstances", f"{srv.name}-x"),
        datasource_id=srv.id,
        policy_id=None,
        protection_state=state,
    )
