"""Resource Graph through the real azure-mgmt-resourcegraph SDK against the sandbox.

Paging with $skipToken (1,000 rows a page), the 429 quota with Retry-After and the
x-ms-user-quota-* headers, Azure's InvalidQuery for queries the sandbox does not know, the
v1/v2 kind read from instance rows, and the fleet inventory's fallback to ARM when Resource
Graph is denied or absent. A module-scoped sandbox of its own (faults and quota changes
never reach other modules).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from azure.identity import ClientSecretCredential

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.inventory_fleet import RESOURCE_GRAPH, FleetInventory
from pgflex_gui.azure.resource_graph import (
    PAGE_ROWS,
    ResourceGraphReader,
    ResourceGraphUnavailable,
    parse_hhmmss,
)
from pgflex_gui.sandbox.arm.nulldp import NullDataPlane
from pgflex_gui.sandbox.arm.routes_rg import QuotaWindow
from pgflex_gui.sandbox.arm.seed import IDS, seed_inventory
from pgflex_gui.sandbox.runtime import Sandbox
from tests.adapters.azure_helpers import sandbox_factory
from tests.sandbox_fixtures import sandbox_credential

FLEET = 2300  # three pages of servers
FLEET_SUBS = 3


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = Sandbox.start(
        tmp_path_factory.mktemp("sandbox-rg"),
        seed="minimal",
        dataplane=NullDataPlane(),
        page_size=50,
        retry_after=0,
    )
    seed_inventory(sb.world, servers=FLEET, subscriptions=FLEET_SUBS)
    yield sb
    sb.stop()


@pytest.fixture
def factory(box: Sandbox) -> Iterator[ClientFactory]:
    box.faults.clear()
    box.service.rg_quota = QuotaWindow()  # type: ignore[attr-defined]
    box.service.rg_enabled = True  # type: ignore[attr-defined]
    f = sandbox_factory(box)
    yield f
    f.close()
    box.faults.clear()


def _subs(inv: AzureInventory) -> list[str]:
    return [
        s.subscription_id for t in inv.list_tenants() for s in inv.list_subscriptions(t.tenant_id)
    ]


def _arm_servers(inv: AzureInventory, subs: list[str]) -> set[str]:
    return {str(s.id).lower() for sub in subs for page in inv.iter_servers(sub) for s in page}


def test_servers_page_with_skip_token_and_match_arm(factory: ClientFactory) -> None:
    inv = AzureInventory(factory)
    subs = [s.subscription_id for s in inv.list_subscriptions(IDS.TENANT)]
    reader = ResourceGraphReader(factory)
    pages = list(reader.servers(subs))
    reader.close()
    rows = [s for p in pages for s in p]
    assert len(pages) >= 3
    assert all(len(p) <= PAGE_ROWS for p in pages)
    assert max(len(p) for p in pages) == PAGE_ROWS
    ids = [str(s.id).lower() for s in rows]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert set(ids) == _arm_servers(inv, subs)
    src = next(s for s in rows if s.name == IDS.SOURCE)
    assert src.version == "15"
    assert src.location == "westeurope"
    assert src.storage_gb > 0
    assert reader.queries == len(pages)


def test_scopes_only_readable_subscriptions(factory: ClientFactory, box: Sandbox) -> None:
    reader = ResourceGraphReader(factory)
    # Tenant 2's subscription is not readable with tenant 1's token: ARG leaves it out.
    rows = [s for p in reader.servers([IDS.SUB, IDS.SUB2]) for s in p]
    reader.close()
    assert rows
    assert {s.id.subscription_id.lower() for s in rows} == {IDS.SUB}


def test_unknown_query_is_invalid_query(factory: ClientFactory) -> None:
    reader = ResourceGraphReader(factory)
    with pytest.raises(ResourceGraphUnavailable) as caught:
        list(reader.pages("resources | project id, name | take 5"))
    reader.close()
    assert "InvalidQuery" in caught.value.report() or caught.value.azure_code == "InvalidQuery"


def test_throttled_queries_wait_for_retry_after(factory: ClientFactory, box: Sandbox) -> None:
    box.service.rg_quota = QuotaWindow(quota=2, window_s=1.0)  # type: ignore[attr-defined]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    reader = ResourceGraphReader(factory, sleep=sleep)
    subs = [f"00000000-0000-4000-8000-{i:012d}" for i in range(FLEET_SUBS)]
    start = time.monotonic()
    rows = [s for p in reader.servers(subs) for s in p]
    elapsed = time.monotonic() - start
    reader.close()
    assert len(rows) == FLEET
    # Three pages at two queries a second: the third waited for the window (quota headers
    # said 0 remaining, or a 429 with Retry-After did).
    assert waits
    assert all(0 < w <= 60 for w in waits)
    assert elapsed >= 0.5


def test_429_retry_after_from_a_fault(factory: ClientFactory, box: Sandbox) -> None:
    rule = box.faults.add(r"ResourceGraph", status=429, retry_after=1, times=2, code="RateLimiting")
    waits: list[float] = []
    reader = ResourceGraphReader(factory, sleep=waits.append)
    rows = [s for p in reader.servers([IDS.SUB]) for s in p]
    reader.close()
    assert rows
    assert waits == [1.0, 1.0]
    assert reader.throttled == 2
    assert box.faults.remove(rule)


def test_instance_rows_carry_protection_and_kind(factory: ClientFactory, box: Sandbox) -> None:
    bi_id = f"{IDS.vault_id(IDS.VAULT_LRS)}/backupInstances/pg-orders-weu-bi"
    bi = box.state.get(bi_id)
    assert bi is not None
    with box.state.lock:
        bi["properties"]["policyInfo"]["policyParameters"] = {
            "backupDatasourceParametersList": [
                {
                    "objectType": "PostgreSqlFlexibleServerBackupDatasourceParameters",
                    "backupSolutionType": "PhysicalBackup",
                }
            ]
        }
    try:
        reader = ResourceGraphReader(factory)
        rows = reader.instances([IDS.SUB])
        vaults = reader.vaults([IDS.SUB])
        reader.close()
    finally:
        with box.state.lock:
            bi["properties"]["policyInfo"]["policyParameters"] = None
    kinds = {r.instance.name: r.kind for r in rows}
    assert kinds == {f"{IDS.SOURCE}-bi": "v1", "pg-orders-weu-bi": "v2"}
    assert all(r.instance.protection_state.value == "ProtectionConfigured" for r in rows)
    assert {v.name for v in vaults} == {IDS.VAULT_LRS, IDS.VAULT_GRS}


def _fleet(factory: ClientFactory, box: Sandbox) -> tuple[FleetInventory, list[str]]:
    creds: dict[str, ClientSecretCredential] = {}

    def for_tenant(tenant: str) -> ClientSecretCredential:
        return creds.setdefault(tenant, sandbox_credential(box, tenant))

    sources: list[str] = []
    fleet = FleetInventory(
        AzureInventory(factory, credential_for_tenant=for_tenant), on_source=sources.append
    )
    return fleet, sources


def test_fleet_inventory_uses_resource_graph(factory: ClientFactory, box: Sandbox) -> None:
    fleet, sources = _fleet(factory, box)
    before = box.service.rg_queries  # type: ignore[attr-defined]
    subs = [
        s.subscription_id
        for t in fleet.list_tenants()
        for s in fleet.list_subscriptions(t.tenant_id)
    ]
    got = {str(s.id).lower() for sub in subs for page in fleet.iter_servers(sub) for s in page}
    vaults = [v for page in fleet.iter_vaults(IDS.SUB) for v in page]
    instances = fleet.list_backup_instances(vaults[0].id)
    fleet.close()
    assert got == _arm_servers(AzureInventory(factory), subs)
    assert fleet.source == RESOURCE_GRAPH
    assert RESOURCE_GRAPH in sources
    assert box.service.rg_queries > before  # type: ignore[attr-defined]
    assert instances
    assert fleet.kind_of(instances[0].id) == "v1"


def test_a_refresh_lists_live_through_arm(factory: ClientFactory, box: Sandbox) -> None:
    """The snapshot fills the tree once; F5 or a finished restore must show what is new."""
    fleet, _sources = _fleet(factory, box)
    for t in fleet.list_tenants():
        fleet.list_subscriptions(t.tenant_id)
    first = {s.name for page in fleet.iter_servers(IDS.SUB) for s in page}
    new_id = box.world.add_server(IDS.SUB, IDS.RG_PG, "pg-after-snapshot", location="westeurope")
    again = {s.name for page in fleet.iter_servers(IDS.SUB) for s in page}
    fleet.close()
    box.state.delete(str(new_id))
    assert "pg-after-snapshot" not in first
    assert again == first | {"pg-after-snapshot"}  # live: the snapshot did not have it


@pytest.mark.parametrize("how", ["denied", "unregistered"])
def test_fleet_inventory_falls_back_to_arm(factory: ClientFactory, box: Sandbox, how: str) -> None:
    if how == "denied":
        box.faults.add(r"ResourceGraph", status=403, code="AuthorizationFailed")
    else:
        box.service.rg_enabled = False  # type: ignore[attr-defined]
    fleet, sources = _fleet(factory, box)
    subs = [
        s.subscription_id
        for t in fleet.list_tenants()
        for s in fleet.list_subscriptions(t.tenant_id)
    ]
    got = {str(s.id).lower() for sub in subs for page in fleet.iter_servers(sub) for s in page}
    vaults = [v for page in fleet.iter_vaults(IDS.SUB) for v in page]
    fleet.close()
    assert got == _arm_servers(AzureInventory(factory), subs)
    assert {v.name for v in vaults} == {IDS.VAULT_LRS, IDS.VAULT_GRS}
    assert fleet.source.startswith("ARM per subscription")
    code = "AuthorizationFailed" if how == "denied" else "NoRegisteredProviderFound"
    assert code in fleet.source
    assert sources[-1] == fleet.source


def test_parse_hhmmss() -> None:
    assert parse_hhmmss("00:00:05") == 5
    assert parse_hhmmss("01:02:03") == 3723
    assert parse_hhmmss("") is None
    assert parse_hhmmss("x") is None
