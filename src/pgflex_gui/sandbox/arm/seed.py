"""Seeded worlds: ``empty``, ``minimal``, ``default`` and ``inventory``.

Fixed ids so tests and docs can name things. The real source server ``pg-src-weu`` is the only
server with a cluster; its newest recovery point is a real ``DataPlane.backup``; older points
reuse that backup's files (``alias_of``) to keep seeding fast.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

from pgflex_gui.sandbox.arm import roles
from pgflex_gui.sandbox.arm.world import World

__all__ = ["IDS", "seed", "seed_inventory"]

log = logging.getLogger(__name__)


class IDS:
    """Well-known ids of the seeded world."""

    TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    TENANT2 = "b7a1c2d3-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    SUB = "0b1f6471-1bf0-4dda-aec3-111122223333"  # Contoso Production (Owner)
    SUB_READER = "5e6f7a8b-9c0d-4e1f-a2b3-444455556666"  # Contoso Shared (Reader only)
    SUB2 = "c3d4e5f6-a7b8-4c9d-8e0f-777788889999"  # Fabrikam (tenant 2, Owner)
    RG_PG = "rg-pg-weu"
    RG_BACKUP = "rg-backup-weu"
    RG_STORAGE = "rg-storage"
    SOURCE = "pg-src-weu"
    VAULT_LRS = "bv-weu-lrs"
    VAULT_GRS = "bv-weu-grs"
    POLICY = "weekly-sun-3m"
    STORAGE = "stpgrestoreweu"
    STORAGE_NO_XTR = "stnoxtenantweu"
    STORAGE_OTHER_SUB = "stsharedweu"
    STORAGE_PAIRED = "stpairedneu"
    CONTAINER = "restores"
    ADMIN_PASSWORD = "Sandbox-Pass-1"

    @classmethod
    def server_id(cls, name: str, *, rg: str = RG_PG, sub: str = SUB) -> str:
        """ARM id of a seeded server."""
        return (
            f"/subscriptions/{sub}/resourceGroups/{rg}/providers/"
            f"Microsoft.DBforPostgreSQL/flexibleServers/{name}"
        )

    @classmethod
    def vault_id(cls, name: str = VAULT_LRS) -> str:
        """ARM id of a seeded vault."""
        return (
            f"/subscriptions/{cls.SUB}/resourceGroups/{cls.RG_BACKUP}/providers/"
            f"Microsoft.DataProtection/backupVaults/{name}"
        )


def _base(world: World) -> None:
    world.add_tenant("Contoso", tenant_id=IDS.TENANT)
    world.add_tenant("Fabrikam", tenant_id=IDS.TENANT2)
    world.add_subscription(IDS.TENANT, "Contoso Production", subscription_id=IDS.SUB)
    world.add_subscription(
        IDS.TENANT, "Contoso Shared", subscription_id=IDS.SUB_READER, app_role="Reader"
    )
    world.add_subscription(IDS.TENANT2, "Fabrikam Dev", subscription_id=IDS.SUB2)


def _protect_world(world: World, *, real_source: bool, points: int, extra: bool) -> None:
    """Servers, vaults, policy, protection, points and storage shared by minimal/default."""
    s = IDS.SUB
    world.add_resource_group(s, IDS.RG_PG, "westeurope")
    world.add_resource_group(s, IDS.RG_BACKUP, "westeurope")
    world.add_resource_group(s, IDS.RG_STORAGE, "westeurope")
    source = world.add_server(
        s,
        IDS.RG_PG,
        IDS.SOURCE,
        location="westeurope",
        version="15",
        real=real_source,
        admin_password=IDS.ADMIN_PASSWORD,
        databases=["appdb", "sales"],
    )
    if real_source:
        seeder = getattr(world.dataplane, "seed_source_databases", None)
        if seeder is not None:
            # Scale 1 (about 1.5 GB of cluster) unless PGFLEX_SANDBOX_SCALE says otherwise
            # (0: a few MB, for tests of the sandbox's life cycle rather than its data).
            seeder(world.server_key(source), int(os.environ.get("PGFLEX_SANDBOX_SCALE", "1")))
    world.add_server(s, IDS.RG_PG, "pg-unprotected-weu", location="westeurope", version="16")
    world.add_server(
        s, IDS.RG_PG, "pg-stopped-weu", location="westeurope", version="16", state="Stopped"
    )
    lrs = world.add_vault(s, IDS.RG_BACKUP, IDS.VAULT_LRS, location="westeurope")
    grs = world.add_vault(
        s,
        IDS.RG_BACKUP,
        IDS.VAULT_GRS,
        location="westeurope",
        redundancy="GeoRedundant",
        crr=True,
        soft_delete="AlwaysOn",
        immutability="Unlocked",
    )
    pol_lrs = world.add_policy(lrs, IDS.POLICY)
    pol_grs = world.add_policy(grs, IDS.POLICY)
    bi = world.add_backup_instance(grs, source, pol_grs, name=f"{IDS.SOURCE}-bi")
    now = datetime.now(UTC).replace(microsecond=0)
    newest = world.add_recovery_point(bi, now - timedelta(hours=1), real=real_source)
    for week in range(1, points):
        world.add_recovery_point(bi, now - timedelta(weeks=week), reuse_from=newest)
    protected2 = world.add_server(
        s, IDS.RG_PG, "pg-orders-weu", location="westeurope", version="16", databases=["orders"]
    )
    bi2 = world.add_backup_instance(lrs, protected2, pol_lrs, name="pg-orders-weu-bi")
    for week in range(points):
        world.add_recovery_point(bi2, now - timedelta(weeks=week, hours=2))
    acc = world.add_storage_account(s, IDS.RG_STORAGE, IDS.STORAGE, location="westeurope")
    world.add_container(acc, IDS.CONTAINER)
    for vault in (lrs, grs):
        world.add_role_assignment(acc, world.vault_principal(vault), roles.BLOB_DATA_CONTRIBUTOR)
    world.add_storage_account(
        s, IDS.RG_STORAGE, IDS.STORAGE_NO_XTR, location="westeurope", cross_tenant=False
    )
    paired = world.add_storage_account(
        s, IDS.RG_STORAGE, IDS.STORAGE_PAIRED, location="northeurope"
    )
    world.add_container(paired, IDS.CONTAINER)
    world.add_role_assignment(paired, world.vault_principal(grs), roles.BLOB_DATA_CONTRIBUTOR)
    world.add_resource_group(IDS.SUB_READER, "rg-shared", "westeurope")
    world.add_server(IDS.SUB_READER, "rg-shared", "pg-shared-weu", location="westeurope")
    other = world.add_storage_account(
        IDS.SUB_READER, "rg-shared", IDS.STORAGE_OTHER_SUB, location="westeurope"
    )
    world.add_container(other, IDS.CONTAINER)
    world.add_resource_group(IDS.SUB2, "rg-fabrikam", "northeurope")
    world.add_server(IDS.SUB2, "rg-fabrikam", "pg-fabrikam-neu", location="northeurope")
    if not extra:
        return
    world.add_resource_group(s, "rg-pg-neu", "northeurope")
    world.add_resource_group(s, "rg-pg-eus", "eastus")
    world.add_server(s, "rg-pg-neu", "pg-app-neu", location="northeurope", version="17")
    world.add_server(
        s,
        "rg-pg-neu",
        "pg-cmk-neu",
        location="northeurope",
        version="16",
        encryption="AzureKeyVault",
    )
    world.add_server(
        s, "rg-pg-neu", "pg-private-neu", location="northeurope", version="16", public_access=False
    )
    world.add_server(
        s,
        "rg-pg-eus",
        "pg-large-eus",
        location="eastus",
        version="16",
        size_gb=8192,
        sku="Standard_E16ds_v5",
    )
    world.add_server(
        s, "rg-pg-eus", "pg-ha-eus", location="eastus", version="18", ha="ZoneRedundant"
    )
    world.add_resource_group(s, "rg-backup-neu", "northeurope")
    vneu = world.add_vault(
        s, "rg-backup-neu", "bv-neu-lrs", location="northeurope", soft_delete="Off"
    )
    pneu = world.add_policy(vneu, "weekly-wed-1y", weekday="Wednesday", hour=2, retention="P1Y")
    bicmk = world.add_backup_instance(vneu, IDS.server_id("pg-cmk-neu", rg="rg-pg-neu"), pneu)
    for week in range(points):
        world.add_recovery_point(bicmk, now - timedelta(weeks=week, hours=5))
    _v2_world(world, lrs, now, points)


V2_MARKER = {
    "backupDatasourceParametersList": [
        {
            "objectType": "PostgreSqlFlexibleServerBackupDatasourceParameters",
            "backupSolutionType": "PhysicalBackup",
        }
    ]
}


def _v2_world(world: World, vault: str, now: datetime, points: int) -> None:
    """A vaulted backup v2 instance (metadata only) beside the v1 ones, and an empty target.

    Its points carry no v1/v2 marker, as in Azure (none is documented), so the app shows them
    as "unknown" and restores them only as a server.
    """
    s = IDS.SUB
    ledger = world.add_server(
        s, IDS.RG_PG, "pg-ledger-weu", location="westeurope", version="16", databases=["ledger"]
    )
    world.add_server(s, IDS.RG_PG, "pg-ledger-restore-weu", location="westeurope", version="16")
    policy = world.add_policy(vault, "weekly-v2-sat", weekday="Saturday", hour=1)
    bi = world.add_backup_instance(vault, ledger, policy, name="pg-ledger-weu-bi")
    stored = world.state.get(bi)
    assert stored is not None
    stored["properties"]["policyInfo"]["policyParameters"] = V2_MARKER
    world.state.put(stored)
    for week in range(points):
        rp = world.add_recovery_point(bi, now - timedelta(weeks=week, hours=3))
        point = world.state.get(f"{bi}/recoveryPoints/{rp}")
        assert point is not None
        point["_sandbox"].update(v2=True, metadata_only=True, server=ledger)
        world.state.put(point)


def seed(world: World, name: str) -> None:
    """Fill an empty world with the named seed."""
    with world.state.batch():
        if name == "empty":
            _base(world)
        elif name == "minimal":
            _base(world)
            _protect_world(world, real_source=True, points=2, extra=False)
        elif name == "default":
            _base(world)
            _protect_world(world, real_source=True, points=6, extra=True)
        elif name == "inventory":
            _base(world)
            seed_inventory(world)
        else:
            raise ValueError(f"unknown seed {name!r}")


_REGIONS = [
    "westeurope",
    "northeurope",
    "eastus",
    "westus",
    "uksouth",
    "ukwest",
    "francecentral",
    "germanywestcentral",
    "swedencentral",
    "japaneast",
]


def seed_inventory(world: World, servers: int = 2000, subscriptions: int = 20) -> None:
    """Metadata-only servers spread over ``subscriptions`` subscriptions of the first tenant."""
    tenant = next(iter(world.state.data["tenants"]))
    per_sub = max(1, servers // subscriptions)
    made = 0
    with world.state.batch():
        for i in range(subscriptions):
            sub = world.add_subscription(
                tenant, f"Inventory {i:02d}", subscription_id=f"00000000-0000-4000-8000-{i:012d}"
            )
            for g in range(5):
                world.add_resource_group(sub, f"rg-inv-{g}", _REGIONS[(i + g) % len(_REGIONS)])
            for n in range(per_sub if i < subscriptions - 1 else servers - made):
                g = n % 5
                region = _REGIONS[(i + g) % len(_REGIONS)]
                world.add_server(
                    sub,
                    f"rg-inv-{g}",
                    f"pg-inv-{i:02d}-{n:04d}",
                    location=region,
                    version=("14", "15", "16", "17")[n % 4],
                    state="Stopped" if n % 17 == 0 else "Ready",
                )
                made += 1
