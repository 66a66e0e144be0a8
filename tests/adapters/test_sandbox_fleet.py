"""The fleet world (sandbox/arm/fleet.py, #16.8): seeded without clusters, resumed, listed.

A small fleet (1,250 servers in 5 subscriptions) seeded into a new folder with
``prepare_fleet_workdir``, then served by ``Sandbox.start`` over a NullDataPlane as the fleet
benchmark does; Resource Graph (two pages) and ARM per subscription see the same servers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.resource_graph import SERVERS_QUERY, ResourceGraphReader
from pgflex_gui.sandbox.arm.fleet import fleet_subscription_id, prepare_fleet_workdir, seed_fleet
from pgflex_gui.sandbox.arm.nulldp import NullDataPlane
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.arm.state import State
from pgflex_gui.sandbox.arm.world import World
from pgflex_gui.sandbox.runtime import Sandbox
from tests.adapters.azure_helpers import sandbox_factory

SERVERS = 1250
SUBS = 5


def test_seed_fleet_counts_and_shape(tmp_path: Path) -> None:
    state = State(tmp_path / "state.json")
    world = World(state, NullDataPlane())
    made = seed_fleet(world, servers=103, subscriptions=10, vault_every=5, protected_per_vault=2)
    assert made == {"subscriptions": 10, "servers": 103, "vaults": 2, "instances": 4, "points": 4}
    assert list(state.data["tenants"]) == [IDS.TENANT]
    subs = state.data["subscriptions"]
    assert sorted(subs) == [fleet_subscription_id(i) for i in range(10)]
    servers = [
        r
        for r in state.resources.values()
        if r["type"].lower() == "microsoft.dbforpostgresql/flexibleservers"
    ]
    assert len(servers) == 103
    # spread evenly: the first 3 subscriptions get the remainder
    per_sub = [sum(1 for s in servers if fleet_subscription_id(i) in s["id"]) for i in range(10)]
    assert per_sub == [11, 11, 11] + [10] * 7
    assert not any(s["_sandbox"].get("real") for s in servers)  # metadata only, no clusters
    assert any(s["properties"]["state"] == "Stopped" for s in servers)


def test_prepare_refuses_an_existing_sandbox(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{}")
    with pytest.raises(FileExistsError):
        prepare_fleet_workdir(tmp_path, servers=1, subscriptions=1)
    assert (tmp_path / "state.json").read_text() == "{}"


def test_prepare_writes_a_state_with_the_app_registration(tmp_path: Path) -> None:
    made = prepare_fleet_workdir(tmp_path / "box", servers=4, subscriptions=2, vault_every=0)
    assert made["servers"] == 4
    assert made["vaults"] == 0
    data = json.loads((tmp_path / "box" / "state.json").read_text())
    assert data["settings"]["client_id"] in data["apps"]
    assert len(data["subscriptions"]) == 2


@pytest.fixture(scope="module")
def fleet_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    workdir = tmp_path_factory.mktemp("sandbox-fleet")
    prepare_fleet_workdir(workdir, servers=SERVERS, subscriptions=SUBS, vault_every=2)
    box = Sandbox.start(workdir, dataplane=NullDataPlane(), page_size=100, retry_after=0)
    yield box
    box.stop()


def test_the_fleet_is_served_through_resource_graph_and_arm(fleet_box: Sandbox) -> None:
    factory = sandbox_factory(fleet_box)
    reader = ResourceGraphReader(factory)
    try:
        subs = [fleet_subscription_id(i) for i in range(SUBS)]
        pages = list(reader.servers(subs))
        assert [len(p) for p in pages] == [1000, 250]
        ids = [str(s.id).lower() for p in pages for s in p]
        assert ids == sorted(ids)
        assert len(set(ids)) == SERVERS
        vaults = reader.vaults(subs)
        assert len(vaults) == 3  # subscriptions 0, 2 and 4
        instances = reader.instances(subs)
        assert len(instances) == 15
        inventory = AzureInventory(factory)
        listed = [s for p in inventory.iter_servers(subs[1]) for s in p]
        assert len(listed) == SERVERS // SUBS
    finally:
        reader.close()
        factory.close()


def test_a_resource_graph_page_copies_only_its_own_rows(
    fleet_box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """routes_rg builds the rows of the page asked for, not of the whole answer (a fleet of
    20,000 servers took 1.5 s a page when every page copied every row)."""
    from pgflex_gui.sandbox.arm import routes_rg

    copied = {"n": 0}
    real_public = routes_rg.public

    def counting(resource: dict[str, object]) -> dict[str, object]:
        copied["n"] += 1
        return real_public(resource)

    monkeypatch.setattr(routes_rg, "public", counting)
    factory = sandbox_factory(fleet_box)
    reader = ResourceGraphReader(factory)
    try:
        pages = list(reader.pages(SERVERS_QUERY, [fleet_subscription_id(i) for i in range(SUBS)]))
    finally:
        reader.close()
        factory.close()
    assert [len(p) for p in pages] == [1000, 250]
    assert copied["n"] == SERVERS  # was 2 x SERVERS: each page copied all 1,250
