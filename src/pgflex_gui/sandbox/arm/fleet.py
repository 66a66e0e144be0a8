"""A fleet-sized metadata world: thousands of servers in hundreds of subscriptions, no clusters.

For ``benchmarks.inventory``'s fleet scenario (#16.8) and tests: one tenant (the seeded
world's first tenant id) with ``subscriptions`` subscriptions, ``servers`` flexible servers
spread evenly over them (metadata only: no PostgreSQL cluster, as with the ``inventory``
seed), and every ``vault_every``-th subscription holding a Backup vault with a policy and
``protected_per_vault`` of that subscription's servers protected by it (one recovery point
each), so the protection scans have something to find.

:func:`prepare_fleet_workdir` writes the seeded ``state.json`` into a sandbox folder before
the sandbox starts; :meth:`Sandbox.start` then resumes it as it resumes any folder, so no
seed name is needed in :mod:`seed`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pgflex_gui.sandbox.arm.nulldp import NullDataPlane
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.arm.state import State
from pgflex_gui.sandbox.arm.world import World

__all__ = ["FLEET_REGIONS", "fleet_subscription_id", "prepare_fleet_workdir", "seed_fleet"]

FLEET_REGIONS = (
    "westeurope",
    "northeurope",
    "eastus",
    "westus",
    "uksouth",
    "francecentral",
    "germanywestcentral",
    "swedencentral",
)
_GROUPS = 4


def fleet_subscription_id(index: int) -> str:
    """The id of fleet subscription ``index`` (ordered as the subscriptions are numbered)."""
    return f"00000000-0000-4000-9000-{index:012d}"


def seed_fleet(
    world: World,
    *,
    servers: int = 20_000,
    subscriptions: int = 200,
    vault_every: int = 10,
    protected_per_vault: int = 5,
) -> dict[str, int]:
    """Seed the fleet into an empty ``world``; return what was made (counts by kind).

    ``vault_every`` 0 seeds no vaults. Servers are numbered per subscription
    (``pg-fleet-<sub>-<n>``) in four resource groups; every 17th is Stopped.
    """
    if subscriptions < 1 or servers < 0:
        raise ValueError("a fleet needs at least one subscription and no negative servers")
    made = {"subscriptions": 0, "servers": 0, "vaults": 0, "instances": 0, "points": 0}
    now = datetime.now(UTC).replace(microsecond=0)
    per_sub, extra = divmod(servers, subscriptions)
    with world.state.batch():
        tenant = world.add_tenant("Contoso", tenant_id=IDS.TENANT)
        for i in range(subscriptions):
            sub = world.add_subscription(
                tenant, f"Fleet {i:03d}", subscription_id=fleet_subscription_id(i)
            )
            made["subscriptions"] += 1
            for g in range(_GROUPS):
                region = FLEET_REGIONS[(i + g) % len(FLEET_REGIONS)]
                world.add_resource_group(sub, f"rg-fleet-{g}", region)
            ids: list[str] = []
            for n in range(per_sub + (1 if i < extra else 0)):
                g = n % _GROUPS
                ids.append(
                    world.add_server(
                        sub,
                        f"rg-fleet-{g}",
                        f"pg-fleet-{i:03d}-{n:04d}",
                        location=FLEET_REGIONS[(i + g) % len(FLEET_REGIONS)],
                        version=("14", "15", "16", "17")[n % 4],
                        state="Stopped" if n % 17 == 0 else "Ready",
                    )
                )
                made["servers"] += 1
            if not vault_every or i % vault_every or not ids:
                continue
            world.add_resource_group(sub, "rg-fleet-backup", FLEET_REGIONS[i % len(FLEET_REGIONS)])
            vault = world.add_vault(
                sub, "rg-fleet-backup", f"bv-fleet-{i:03d}", location=FLEET_REGIONS[i % 8]
            )
            policy = world.add_policy(vault, "weekly-sun-3m")
            made["vaults"] += 1
            for server_id in ids[:protected_per_vault]:
                bi = world.add_backup_instance(vault, server_id, policy, grant_roles=False)
                world.add_recovery_point(bi, now - timedelta(hours=6))
                made["instances"] += 1
                made["points"] += 1
    return made


def prepare_fleet_workdir(workdir: Path, **fleet: int) -> dict[str, int]:
    """Write a fleet-seeded ``state.json`` into a new sandbox folder (see :func:`seed_fleet`).

    Refuses a folder that already holds a sandbox state: never reseed someone's sandbox.
    Start it afterwards with ``Sandbox.start(workdir, dataplane=NullDataPlane(), ...)``.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "state.json"
    if path.exists():
        raise FileExistsError(f"{path} exists: the fleet is seeded only into a new folder")
    state = State(path)
    world = World(state, NullDataPlane())
    with state.batch():
        _ = world.client_id
        made = seed_fleet(world, **fleet)
    return made
