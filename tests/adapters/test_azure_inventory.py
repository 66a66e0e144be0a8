"""AzureInventory and ClientFactory against the sandbox ARM service (real SDKs, paging)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from pgflex_gui.azure.clients import USER_AGENT, ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BackupInstance, ProtectionState, Vault
from pgflex_gui.domain.ports import InventoryPort
from pgflex_gui.domain.protection import instance_rank
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import Sandbox
from tests.adapters.azure_helpers import sandbox_factory

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def factory(sandbox_arm: Sandbox) -> Iterator[ClientFactory]:
    f = sandbox_factory(sandbox_arm)
    yield f
    f.close()


@pytest.fixture(scope="module")
def inventory(factory: ClientFactory) -> AzureInventory:
    return AzureInventory(factory)


def test_client_factory_gives_clients_whose_base_url_is_the_configured_endpoint(
    sandbox_arm: Sandbox, factory: ClientFactory
) -> None:
    sub = IDS.SUB
    clients = [
        factory.postgres(sub),
        factory.dataprotection(sub),
        factory.storage(sub),
        factory.resources(sub),
        factory.authorization(sub),
        factory.subscriptions(),
    ]
    for client in clients:
        base = getattr(client._config, "base_url", None) or client._client._base_url
        assert base == sandbox_arm.arm_endpoint
        assert client._config.credential_scopes == ["https://management.azure.com/.default"]
        assert client._config.user_agent_policy.user_agent.startswith(USER_AGENT)
    # and real calls go there: only the sandbox knows these ids
    assert IDS.RG_PG in [rg.name for rg in factory.resources(sub).resource_groups.list()]
    assert list(factory.postgres(sub).servers.list_by_subscription())
    assert list(factory.dataprotection(sub).backup_vaults.get_in_subscription())
    assert list(factory.storage(sub).storage_accounts.list())
    assert list(factory.authorization(sub).role_assignments.list_for_subscription()) is not None
    assert IDS.SUB in [s.subscription_id for s in factory.subscriptions().subscriptions.list()]
    assert factory.postgres(sub) is factory.postgres(sub)


def test_implements_the_port(inventory: AzureInventory) -> None:
    port: InventoryPort = inventory
    assert port is inventory


def test_tenants_and_subscriptions(inventory: AzureInventory) -> None:
    tenants = {t.tenant_id: t for t in inventory.list_tenants()}
    assert IDS.TENANT in tenants
    assert tenants[IDS.TENANT].display_name == "Contoso"
    subs = inventory.list_subscriptions(IDS.TENANT)
    ids = {s.subscription_id for s in subs}
    assert {IDS.SUB, IDS.SUB_READER} <= ids
    assert IDS.SUB2 not in ids
    assert all(s.tenant_id == IDS.TENANT for s in subs)


def test_locations_have_pairs(inventory: AzureInventory) -> None:
    regions = {r.name: r for r in inventory.list_locations(IDS.SUB)}
    assert "northeurope" in regions["westeurope"].paired


def test_servers_arrive_page_by_page(inventory: AzureInventory) -> None:
    inventory.list_subscriptions(IDS.TENANT)  # learns the tenant of each subscription
    pages = list(inventory.iter_servers(IDS.SUB))
    assert len(pages) >= 2  # page size 2 in sandbox_arm
    servers = {s.name: s for page in pages for s in page}
    assert {"pg-src-weu", "pg-unprotected-weu", "pg-stopped-weu", "pg-orders-weu"} <= set(servers)
    src = servers["pg-src-weu"]
    assert src.version == "15"
    assert src.location == "westeurope"
    assert src.state == "Ready"
    assert src.tenant_id == IDS.TENANT
    assert servers["pg-stopped-weu"].state == "Stopped"


def test_vaults_policies_instances_and_index(inventory: AzureInventory) -> None:
    vaults = {v.name: v for page in inventory.iter_vaults(IDS.SUB) for v in page}
    assert {IDS.VAULT_LRS, IDS.VAULT_GRS} <= set(vaults)
    grs = vaults[IDS.VAULT_GRS]
    assert grs.redundancy == "GeoRedundant"
    assert grs.cross_region_restore is True
    assert grs.soft_delete == "AlwaysOn"
    assert grs.immutability == "Unlocked"
    assert grs.principal_id
    assert vaults[IDS.VAULT_LRS].redundancy == "LocallyRedundant"

    policies = inventory.list_policies(grs.id)
    assert [p.name for p in policies] == [IDS.POLICY]
    assert policies[0].is_pg_flex
    assert policies[0].repeating_intervals[0].endswith("/P1W")
    assert any(r.is_default for r in policies[0].retention)

    pairs = [(v, inventory.list_backup_instances(v.id)) for v in vaults.values()]
    index: dict[str, tuple[BackupInstance, Vault]] = {}
    for vault, instances in pairs:
        for bi in instances:
            key = str(bi.datasource_id).lower()
            best = index.get(key)
            if best is None or instance_rank(bi.protection_state) < instance_rank(
                best[0].protection_state
            ):
                index[key] = (bi, vault)
    src_key = IDS.server_id(IDS.SOURCE).lower()
    instance, vault = index[src_key]
    assert vault.name == IDS.VAULT_GRS
    assert instance.protection_state is ProtectionState.PROTECTION_CONFIGURED
    assert instance.policy_id is not None
    assert instance.policy_id.name == IDS.POLICY
    assert IDS.server_id("pg-orders-weu").lower() in index
    assert IDS.server_id("pg-unprotected-weu").lower() not in index


def test_recovery_points_and_date_filter(inventory: AzureInventory) -> None:
    bi_id = ResourceId.parse(IDS.vault_id(IDS.VAULT_GRS)).child(
        "backupInstances", f"{IDS.SOURCE}-bi"
    )
    points = inventory.list_recovery_points(bi_id)
    assert len(points) == 2
    assert points[0].time > points[1].time
    assert points[0].time.tzinfo is not None
    recent = inventory.list_recovery_points(
        bi_id, start=datetime.now(UTC) - timedelta(days=2), end=datetime.now(UTC)
    )
    assert [p.recovery_point_id for p in recent] == [points[0].recovery_point_id]


def test_jobs_list(inventory: AzureInventory) -> None:
    jobs = inventory.list_jobs(ResourceId.parse(IDS.vault_id(IDS.VAULT_GRS)))
    assert all(j.id.name for j in jobs)


def test_missing_vault_is_a_translated_not_found(inventory: AzureInventory) -> None:
    missing = ResourceId.parse(IDS.vault_id("bv-does-not-exist"))
    with pytest.raises(AppError) as caught:
        inventory.get_vault(missing)
    err = caught.value
    assert err.fault is Fault.USER
    assert err.azure_code
    assert err.request_id
    assert err.extra.get("status") == "404"
    assert err.extra.get("operation") == "read the backup vault"
