"""AzureInventory through the real SDK: nextLink paging over many servers, 429 Retry-After.

A module-scoped sandbox of its own (seed ``empty`` plus metadata-only servers), so adding
servers and fault rules never disturbs the shared ``sandbox_arm`` world.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
from azure.identity import ClientSecretCredential

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.domain.cloud import resolve_cloud
from pgflex_gui.domain.errors import AppError
from pgflex_gui.sandbox.arm.nulldp import NullDataPlane
from pgflex_gui.sandbox.arm.seed import IDS, seed_inventory
from pgflex_gui.sandbox.runtime import Sandbox
from tests.sandbox_fixtures import sandbox_credential

SERVERS = 120
SUBSCRIPTIONS = 2
PAGE_SIZE = 7
SUB0 = "00000000-0000-4000-8000-000000000000"
SUB1 = "00000000-0000-4000-8000-000000000001"
LIST_SERVERS = r"^GET /subscriptions/[^/]+/providers/Microsoft\.DBforPostgreSQL/flexibleServers$"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sandbox = Sandbox.start(
        tmp_path_factory.mktemp("sandbox-inventory"),
        seed="empty",
        dataplane=NullDataPlane(),
        page_size=PAGE_SIZE,
        retry_after=0,
    )
    seed_inventory(sandbox.world, servers=SERVERS, subscriptions=SUBSCRIPTIONS)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def credential(box: Sandbox) -> ClientSecretCredential:
    return sandbox_credential(box)


@pytest.fixture
def inventory(box: Sandbox, credential: ClientSecretCredential) -> Iterator[AzureInventory]:
    info = box.info
    cloud = resolve_cloud(
        "AzureCloud",
        arm_endpoint=info.arm_endpoint,
        authority_host=info.authority,
        ca_bundle=info.ca_bundle,
        env={},
    )
    factory = ClientFactory(cloud, credential)
    yield AzureInventory(factory)
    factory.close()
    box.faults.clear()


def server_names(box: Sandbox, subscription_id: str) -> set[str]:
    """Names of the servers the sandbox state holds for one subscription."""
    prefix = f"/subscriptions/{subscription_id}/".lower()
    return {
        str(r["name"])
        for r in box.state.resources.values()
        if str(r.get("type", "")).lower() == "microsoft.dbforpostgresql/flexibleservers"
        and str(r["id"]).lower().startswith(prefix)
    }


def test_servers_page_through_next_links(box: Sandbox, inventory: AzureInventory) -> None:
    subs = inventory.list_subscriptions(IDS.TENANT)
    assert {SUB0, SUB1} <= {s.subscription_id for s in subs}
    per_sub = SERVERS // SUBSCRIPTIONS
    for sub in (SUB0, SUB1):
        pages = list(inventory.iter_servers(sub))
        assert len(pages) == math.ceil(per_sub / PAGE_SIZE)
        assert all(0 < len(page) <= PAGE_SIZE for page in pages)
        servers = [s for page in pages for s in page]
        names = [s.name for s in servers]
        assert len(names) == len(set(names)) == per_sub
        assert set(names) == server_names(box, sub)
        assert {s.id.subscription_id for s in servers} == {sub}
        assert {s.tenant_id for s in servers} == {IDS.TENANT}  # learnt from list_subscriptions


def test_a_429_with_retry_after_is_retried(box: Sandbox, inventory: AzureInventory) -> None:
    rule = box.faults.add(LIST_SERVERS, status=429, retry_after=1, times=1)
    start = time.monotonic()
    servers = [s for page in inventory.iter_servers(SUB0) for s in page]
    elapsed = time.monotonic() - start
    assert {s.name for s in servers} == server_names(box, SUB0)
    assert next(r for r in box.faults.list() if r.id == rule).hits == 1
    assert elapsed >= 1.0  # Retry-After was honoured, not ignored


def test_a_429_on_a_next_link_page_is_retried(box: Sandbox, inventory: AzureInventory) -> None:
    pages = inventory.iter_servers(SUB1)
    first = next(pages)  # the first page is in; throttle the nextLink requests that follow
    rule = box.faults.add(LIST_SERVERS, status=429, retry_after=0, times=2)
    rest = [s for page in pages for s in page]
    assert {s.name for s in [*first, *rest]} == server_names(box, SUB1)
    assert next(r for r in box.faults.list() if r.id == rule).hits == 2


def test_throttling_beyond_the_retry_budget_is_a_retryable_app_error(
    box: Sandbox, inventory: AzureInventory
) -> None:
    box.faults.add(LIST_SERVERS, status=429, retry_after=0)
    with pytest.raises(AppError) as caught:
        list(inventory.iter_servers(SUB0))
    assert caught.value.retryable
    assert caught.value.azure_code == "TooManyRequests"
