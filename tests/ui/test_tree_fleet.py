"""The real tree model filled from Resource Graph (FleetInventory) against a sandbox of its own.

With every ARM server listing failing, the servers still arrive (from Resource Graph) and the
protection statuses are right; expanding a backup instance still lists its recovery points
live through ARM. With Resource Graph denied, the same tree fills through ARM and the
inventory says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.inventory_fleet import RESOURCE_GRAPH, FleetInventory
from pgflex_gui.domain.cloud import resolve_cloud
from pgflex_gui.domain.models import BackupInstance, FlexServer, Subscription
from pgflex_gui.sandbox.arm.nulldp import NullDataPlane
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import Sandbox
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.tree.model import ResourceTreeModel
from pgflex_gui.ui.tree.nodes import Failed, Loaded, NodeKind, ProtectionStatus, ResourceNode
from tests.sandbox_fixtures import sandbox_credential

SERVERS_PATH = r"^GET /subscriptions/[^/]+/providers/Microsoft\.DBforPostgreSQL/flexibleServers$"
SUBS = (IDS.SUB, IDS.SUB_READER, IDS.SUB2)
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = Sandbox.start(
        tmp_path_factory.mktemp("sandbox-tree-rg"),
        seed="minimal",
        dataplane=NullDataPlane(),
        retry_after=0,
    )
    yield sb
    sb.stop()


@pytest.fixture
def fleet(box: Sandbox) -> Iterator[FleetInventory]:
    box.faults.clear()
    info = box.info
    cloud = resolve_cloud(
        "AzureCloud",
        arm_endpoint=info.arm_endpoint,
        authority_host=info.authority,
        ca_bundle=info.ca_bundle,
        env={},
    )
    creds: dict[str, Any] = {}

    def for_tenant(tenant_id: str) -> Any:
        return creds.setdefault(tenant_id.lower(), sandbox_credential(box, tenant_id))

    factory = ClientFactory(cloud, for_tenant(IDS.TENANT))
    inv = FleetInventory(AzureInventory(factory, credential_for_tenant=for_tenant))
    yield inv
    inv.close()
    factory.close()
    box.faults.clear()


def _group(model: ResourceTreeModel, kind: NodeKind, sub: str) -> ResourceNode | None:
    for node in model.root.walk():
        ref = node.ref
        if (
            node.kind is kind
            and isinstance(ref, Subscription)
            and ref.subscription_id.lower() == sub.lower()
        ):
            return node
    return None


def _settled(model: ResourceTreeModel, tasks: TaskManager) -> bool:
    groups = [_group(model, NodeKind.SERVERS_GROUP, s) for s in SUBS]
    return (
        all(g is not None and isinstance(g.load_state, Loaded | Failed) for g in groups)
        and tasks.pending == 0
    )


def _servers(model: ResourceTreeModel) -> dict[str, ResourceNode]:
    return {n.ref.name: n for n in model.servers() if isinstance(n.ref, FlexServer)}


def test_tree_fills_from_resource_graph_and_expands_live(
    qtbot: Any, qtmodeltester: Any, tasks: TaskManager, box: Sandbox, fleet: FleetInventory
) -> None:
    box.faults.add(SERVERS_PATH, status=500, code="InternalServerError")  # ARM listing broken
    model = ResourceTreeModel(fleet, tasks, auto_load_servers=True)
    model.load_root()
    qtbot.waitUntil(lambda: _settled(model, tasks), timeout=TIMEOUT_MS)
    failed = [n.label for n in model.root.walk() if isinstance(n.load_state, Failed)]
    assert failed == []
    shown = _servers(model)
    # Tenant 1's servers (tenant 2 lists with its own token, through its own snapshot).
    assert {IDS.SOURCE, "pg-unprotected-weu", "pg-stopped-weu", "pg-orders-weu"} <= set(shown)
    assert "pg-fabrikam-neu" in shown
    assert "pg-shared-weu" in shown
    assert fleet.source == RESOURCE_GRAPH
    src = shown[IDS.SOURCE].protection
    assert src is not None
    assert src.status is ProtectionStatus.PROTECTED
    assert src.vault_name == IDS.VAULT_GRS
    assert src.last_backup is not None
    unprotected = shown["pg-unprotected-weu"].protection
    assert unprotected is not None
    assert unprotected.status is ProtectionStatus.NOT_PROTECTED

    # Live detail: the vault's instances group, then an instance's recovery points (ARM).
    vaults = _group(model, NodeKind.VAULTS_GROUP, IDS.SUB)
    assert vaults is not None
    model.fetchMore(model.index_of(vaults))
    qtbot.waitUntil(lambda: isinstance(vaults.load_state, Loaded), timeout=TIMEOUT_MS)
    grs = next(v for v in vaults.children if v.label == IDS.VAULT_GRS)
    model.fetchMore(model.index_of(grs))
    qtbot.waitUntil(lambda: isinstance(grs.load_state, Loaded), timeout=TIMEOUT_MS)
    instances = next(c for c in grs.children if c.kind is NodeKind.INSTANCES_GROUP)
    model.fetchMore(model.index_of(instances))
    qtbot.waitUntil(lambda: isinstance(instances.load_state, Loaded), timeout=TIMEOUT_MS)
    bi = instances.children[0]
    assert isinstance(bi.ref, BackupInstance)
    model.fetchMore(model.index_of(bi))
    qtbot.waitUntil(lambda: isinstance(bi.load_state, Loaded), timeout=TIMEOUT_MS)
    assert bi.children
    assert all(c.kind is NodeKind.RECOVERY_POINT for c in bi.children)
    qtmodeltester.check(model)
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=TIMEOUT_MS)
    model.deleteLater()


def test_tree_falls_back_to_arm_when_resource_graph_is_denied(
    qtbot: Any, tasks: TaskManager, box: Sandbox, fleet: FleetInventory
) -> None:
    box.faults.add(r"ResourceGraph", status=403, code="AuthorizationFailed")
    model = ResourceTreeModel(fleet, tasks, auto_load_servers=True)
    model.load_root()
    qtbot.waitUntil(lambda: _settled(model, tasks), timeout=TIMEOUT_MS)
    shown = _servers(model)
    assert {IDS.SOURCE, "pg-unprotected-weu", "pg-fabrikam-neu"} <= set(shown)
    assert fleet.source.startswith("ARM per subscription")
    assert "AuthorizationFailed" in (fleet.source)
    src = shown[IDS.SOURCE].protection
    assert src is not None
    assert src.status is ProtectionStatus.PROTECTED
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=TIMEOUT_MS)
    model.deleteLater()
