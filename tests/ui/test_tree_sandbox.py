"""The resource tree over the real AzureInventory and SDK against the sandbox ARM.

``sandbox_arm`` is shared by the session (other tests may protect servers in it), so the
expected statuses are read from the sandbox state, and every fault rule added here is removed
again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.domain.cloud import resolve_cloud
from pgflex_gui.domain.models import FlexServer, Subscription
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import Sandbox
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.tree.model import Column, ResourceTreeModel
from pgflex_gui.ui.tree.nodes import Failed, Loaded, NodeKind, ProtectionStatus, ResourceNode
from tests.sandbox_fixtures import sandbox_credential

PG_TYPE = "microsoft.dbforpostgresql/flexibleservers"
BI_TYPE = "microsoft.dataprotection/backupvaults/backupinstances"
SERVERS_PATH = "/providers/Microsoft\\.DBforPostgreSQL/flexibleServers$"
VAULTS_PATH = "/providers/Microsoft\\.DataProtection/backupVaults$"
SUBS = (IDS.SUB, IDS.SUB_READER, IDS.SUB2)
LOAD_TIMEOUT_MS = 60_000


@pytest.fixture
def inventory(sandbox_arm: Sandbox) -> Iterator[AzureInventory]:
    """The real adapter, built as the app builds it, with a credential per tenant."""
    info = sandbox_arm.info
    cloud = resolve_cloud(
        "AzureCloud",
        arm_endpoint=info.arm_endpoint,
        authority_host=info.authority,
        ca_bundle=info.ca_bundle,
        env={},
    )
    creds: dict[str, Any] = {}

    def for_tenant(tenant_id: str) -> Any:
        if tenant_id.lower() not in creds:
            creds[tenant_id.lower()] = sandbox_credential(sandbox_arm, tenant_id)
        return creds[tenant_id.lower()]

    factory = ClientFactory(cloud, for_tenant(IDS.TENANT))
    yield AzureInventory(factory, credential_for_tenant=for_tenant)
    factory.close()


@pytest.fixture
def faults(sandbox_arm: Sandbox) -> Iterator[Callable[..., str]]:
    """``faults(pattern, **rule)`` adds a rule to the shared sandbox, removed after the test."""
    added: list[str] = []

    def add(pattern: str, **rule: Any) -> str:
        rule_id = sandbox_arm.faults.add(pattern, **rule)
        added.append(rule_id)
        return rule_id

    yield add
    for rule_id in added:
        sandbox_arm.faults.remove(rule_id)


@pytest.fixture
def model(inventory: AzureInventory, tasks: TaskManager) -> ResourceTreeModel:
    return ResourceTreeModel(inventory, tasks, auto_load_servers=True)


def servers_group(model: ResourceTreeModel, subscription_id: str) -> ResourceNode | None:
    for node in model.root.walk():
        ref = node.ref
        if (
            node.kind is NodeKind.SERVERS_GROUP
            and isinstance(ref, Subscription)
            and ref.subscription_id.lower() == subscription_id.lower()
        ):
            return node
    return None


def settled(model: ResourceTreeModel, tasks: TaskManager, subs: tuple[str, ...]) -> bool:
    """Every servers group of ``subs`` finished (loaded or failed) and no task is pending."""
    groups = [servers_group(model, s) for s in subs]
    return (
        all(g is not None and isinstance(g.load_state, Loaded | Failed) for g in groups)
        and tasks.pending == 0
    )


def load(qtbot: Any, model: ResourceTreeModel, tasks: TaskManager) -> None:
    model.load_root()
    qtbot.waitUntil(lambda: settled(model, tasks, SUBS), timeout=LOAD_TIMEOUT_MS)


def state_servers(box: Sandbox, subscription_id: str) -> dict[str, str]:
    """Server id (lower case) → name, for one subscription, from the sandbox state."""
    prefix = f"/subscriptions/{subscription_id}/".lower()
    return {
        str(r["id"]).lower(): str(r["name"])
        for r in box.state.resources.values()
        if str(r.get("type", "")).lower() == PG_TYPE and str(r["id"]).lower().startswith(prefix)
    }


def state_instances(box: Sandbox) -> dict[str, list[tuple[str, str]]]:
    """Server id (lower case) → [(vault name, protection state)] from the sandbox state."""
    out: dict[str, list[tuple[str, str]]] = {}
    for r in box.state.resources.values():
        if str(r.get("type", "")).lower() != BI_TYPE:
            continue
        props = r["properties"]
        vault = str(r["id"]).split("/backupInstances/")[0].rsplit("/", 1)[-1]
        server = str(props["dataSourceInfo"]["resourceID"]).lower()
        out.setdefault(server, []).append((vault, str(props.get("currentProtectionState"))))
    return out


def shown_servers(model: ResourceTreeModel, subscription_id: str) -> dict[str, ResourceNode]:
    group = servers_group(model, subscription_id)
    assert group is not None
    return {str(n.ref.id).lower(): n for n in group.children if isinstance(n.ref, FlexServer)}


def status_text(model: ResourceTreeModel, node: ResourceNode) -> str:
    return str(model.index_of(node, Column.STATUS).data(Qt.ItemDataRole.DisplayRole))


def test_statuses_match_the_sandbox_state(
    qtbot: Any,
    qtmodeltester: Any,
    model: ResourceTreeModel,
    tasks: TaskManager,
    sandbox_arm: Sandbox,
) -> None:
    load(qtbot, model, tasks)
    instances = state_instances(sandbox_arm)
    seen = {ProtectionStatus.PROTECTED: 0, ProtectionStatus.NOT_PROTECTED: 0}
    for sub in SUBS:
        expected = state_servers(sandbox_arm, sub)
        shown = shown_servers(model, sub)
        assert set(shown) == set(expected), sub
        for server_id, node in shown.items():
            assert node.label == expected[server_id]
            found = instances.get(server_id, [])
            words = status_text(model, node)
            if not found:
                assert node.protection is not None
                assert node.protection.status is ProtectionStatus.NOT_PROTECTED, node.label
                assert words == "Not protected"
                seen[ProtectionStatus.NOT_PROTECTED] += 1
            elif any(state == "ProtectionConfigured" for _, state in found):
                assert node.protection is not None
                assert node.protection.status is ProtectionStatus.PROTECTED, node.label
                vaults = {v for v, state in found if state == "ProtectionConfigured"}
                assert node.protection.vault_name in vaults
                assert words == f"Protected ({node.protection.vault_name})"
                seen[ProtectionStatus.PROTECTED] += 1
            else:  # another test left it configuring, suspended or soft-deleted
                assert node.protection is not None
                assert node.protection.status is not ProtectionStatus.UNKNOWN
    assert seen[ProtectionStatus.PROTECTED] >= 1  # the minimal seed protects pg-src-weu
    assert seen[ProtectionStatus.NOT_PROTECTED] >= 1  # … and not pg-stopped-weu
    src = shown_servers(model, IDS.SUB)[IDS.server_id(IDS.SOURCE).lower()]
    assert status_text(model, src) == f"Protected ({IDS.VAULT_GRS})"
    qtmodeltester.check(model)
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=LOAD_TIMEOUT_MS)


@pytest.mark.parametrize(
    ("status", "code"), [(403, "AuthorizationFailed"), (500, "InternalServerError")]
)
def test_a_failing_subscription_shows_an_error_node_while_the_rest_load(
    qtbot: Any,
    model: ResourceTreeModel,
    tasks: TaskManager,
    sandbox_arm: Sandbox,
    faults: Callable[..., str],
    status: int,
    code: str,
) -> None:
    faults(f"^GET /subscriptions/{IDS.SUB_READER}{SERVERS_PATH}", status=status, code=code)
    failures: list[tuple[ResourceNode, Any]] = []
    model.load_failed.connect(lambda node, error: failures.append((node, error)))
    load(qtbot, model, tasks)

    bad = servers_group(model, IDS.SUB_READER)
    assert bad is not None
    assert isinstance(bad.load_state, Failed)
    error = bad.load_state.error
    assert error.azure_code == code
    assert any(n is bad and e is error for n, e in failures)
    assert bad.children == []
    assert status_text(model, bad) == f"Failed: {error.summary}"
    tooltip = model.index_of(bad).data(Qt.ItemDataRole.ToolTipRole)
    assert error.summary in tooltip
    assert "Retry" in tooltip

    good = servers_group(model, IDS.SUB)
    assert good is not None
    assert isinstance(good.load_state, Loaded)
    assert not any(n is good for n, _ in failures)
    assert set(shown_servers(model, IDS.SUB)) == set(state_servers(sandbox_arm, IDS.SUB))


def test_a_429_storm_slows_the_tree_but_it_completes(
    qtbot: Any,
    model: ResourceTreeModel,
    tasks: TaskManager,
    sandbox_arm: Sandbox,
    faults: Callable[..., str],
) -> None:
    # The sandbox cloud is local: the factory's retry budget is 2 retries per request, so
    # at most 2 throttled answers per rule keep every request within it.
    servers_rule = faults(f"^GET /subscriptions/[^/]+{SERVERS_PATH}", status=429, retry_after=1, times=2)  # fmt: skip
    vaults_rule = faults(f"^GET /subscriptions/[^/]+{VAULTS_PATH}", status=429, retry_after=0, times=2)  # fmt: skip
    start = time.monotonic()
    load(qtbot, model, tasks)
    elapsed = time.monotonic() - start

    hits = {r.id: r.hits for r in sandbox_arm.faults.list()}
    assert hits[servers_rule] == 2
    assert hits[vaults_rule] == 2
    assert elapsed >= 1.0  # Retry-After: 1 was honoured
    for sub in SUBS:
        group = servers_group(model, sub)
        assert group is not None
        assert isinstance(group.load_state, Loaded), sub
        assert set(shown_servers(model, sub)) == set(state_servers(sandbox_arm, sub))
    statuses = {n.protection.status for n in model.servers() if n.protection is not None}
    assert ProtectionStatus.UNKNOWN not in statuses
    assert ProtectionStatus.UNREADABLE not in {
        n.protection.status
        for sub in SUBS
        for n in shown_servers(model, sub).values()
        if n.protection is not None
    }


def test_servers_of_a_second_tenant_load_with_that_tenants_token(
    qtbot: Any, model: ResourceTreeModel, tasks: TaskManager, sandbox_arm: Sandbox
) -> None:
    model.load_root()
    qtbot.waitUntil(lambda: settled(model, tasks, SUBS), timeout=LOAD_TIMEOUT_MS)
    group = servers_group(model, IDS.SUB2)
    assert group is not None
    assert isinstance(group.load_state, Loaded), getattr(group.load_state, "error", None)
    assert set(shown_servers(model, IDS.SUB2)) == set(state_servers(sandbox_arm, IDS.SUB2))
