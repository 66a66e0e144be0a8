"""The lazy resource tree: model tester, statuses, failures, refresh and filters."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QModelIndex, Qt

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.models import Subscription, Tenant
from pgflex_gui.ui.describe import describe
from pgflex_gui.ui.status import STALE_COLOUR, protection_colour, server_colour
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.tree.model import Column, ResourceTreeModel, Roles
from pgflex_gui.ui.tree.nodes import (
    Failed,
    Loaded,
    NodeKind,
    ProtectionStatus,
    ResourceNode,
    needs_sign_in,
)
from pgflex_gui.ui.tree.view import QuickFilter, ResourceFilterProxyModel
from tests.ui.fakes import SUB_BAD, TENANT, FakeInventory, permission_error


def fetch_all(model: ResourceTreeModel, parent: QModelIndex | None = None) -> None:
    """Expand everything (synchronous loaders only)."""
    parent = parent or QModelIndex()
    if model.canFetchMore(parent):
        model.fetchMore(parent)
    for row in range(model.rowCount(parent)):
        fetch_all(model, model.index(row, 0, parent))


def server(model: ResourceTreeModel, name: str) -> ResourceNode:
    return next(n for n in model.servers() if n.label == name)


def text(model: ResourceTreeModel, node: ResourceNode, column: Column) -> str:
    return model.index_of(node, column).data(Qt.ItemDataRole.DisplayRole)


def test_model_tester_with_an_immediate_loader(qtmodeltester, inline_tasks, inventory, now):
    model = ResourceTreeModel(inventory, inline_tasks, now=now)
    qtmodeltester.check(model)
    fetch_all(model)
    qtmodeltester.check(model)
    kinds = {n.kind for n in model.root.walk()}
    assert NodeKind.RECOVERY_POINT in kinds
    assert NodeKind.POLICY in kinds


def test_model_tester_with_a_threaded_loader(qtbot, qtmodeltester, tasks, now):
    inventory = FakeInventory(delay=0.02, page_size=1)
    model = ResourceTreeModel(inventory, tasks, now=now, auto_load_servers=True)
    qtmodeltester.check(model)  # the tester stays attached and checks every signal below
    model.load_root()
    qtbot.waitUntil(lambda: len(model.servers()) == 6, timeout=10_000)
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)
    # expand the vault subtree too, as pages arrive on worker threads
    for node in model.root.walk():
        if node.kind is NodeKind.VAULTS_GROUP:
            model.fetchMore(model.index_of(node))
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)
    qtmodeltester.check(model)
    assert any(n.kind is NodeKind.VAULT for n in model.root.walk())


def test_statuses_shown_match_the_fake_data(inline_tasks, inventory, now):
    model = ResourceTreeModel(inventory, inline_tasks, now=now)
    fetch_all(model)
    assert server(model, "pg-orders").protection.status is ProtectionStatus.PROTECTED
    assert text(model, server(model, "pg-orders"), Column.STATUS) == "Protected (vault-weu)"
    assert text(model, server(model, "pg-orders"), Column.LAST_BACKUP) == "1 d ago"
    assert text(model, server(model, "pg-legacy"), Column.STATUS) == "Not protected"
    assert text(model, server(model, "pg-dev"), Column.STATUS) == "Not protected"
    broken = server(model, "pg-broken")
    assert text(model, broken, Column.STATUS) == "Protection error (vault-weu)"
    assert "UserErrorMSIMissingPermissions" in model.index_of(broken).data(
        Qt.ItemDataRole.ToolTipRole
    )
    billing = server(model, "pg-billing")
    assert text(model, billing, Column.SIZE) == "6 TB (> 4 TB)"
    assert text(model, billing, Column.REGION) == "northeurope"
    assert text(model, billing, Column.VERSION) == "PostgreSQL 15"
    assert model.index_of(server(model, "pg-stale")).data(Roles.PROBLEM) is True
    assert model.index_of(server(model, "pg-orders")).data(Roles.PROBLEM) is False


def test_unknown_until_the_vaults_are_read(qtbot, tasks, now):
    inventory = FakeInventory(delay=5.0)
    model = ResourceTreeModel(inventory, tasks, now=now, auto_load_servers=True)
    inventory.release()  # everything but listing order runs at once from here
    inventory.delay = 0
    model.load_root()
    qtbot.waitUntil(lambda: len(model.servers()) == 6, timeout=10_000)
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)
    assert server(model, "pg-legacy").protection.status is ProtectionStatus.NOT_PROTECTED


def test_a_failing_subscription_shows_an_error_node_while_others_load(qtbot, tasks, now):
    inventory = FakeInventory(delay=0.01, fail={SUB_BAD: permission_error()})
    inventory.subscriptions[TENANT].append(Subscription(SUB_BAD, "Restricted", TENANT))
    model = ResourceTreeModel(inventory, tasks, now=now, auto_load_servers=True)
    with qtbot.waitSignal(model.load_failed, timeout=10_000) as blocker:
        model.load_root()
    failed_node, _error = blocker.args
    assert failed_node.kind is NodeKind.SERVERS_GROUP
    assert failed_node.ancestor(NodeKind.SUBSCRIPTION).label == "Restricted"
    qtbot.waitUntil(lambda: len(model.servers()) == 6, timeout=10_000)
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)
    assert isinstance(failed_node.load_state, Failed)
    index = model.index_of(failed_node)
    assert (
        model.data(index.siblingAtColumn(Column.STATUS))
        == "Failed: You cannot read this subscription."
    )
    assert "Retry" in index.data(Qt.ItemDataRole.ToolTipRole)
    assert index.data(Roles.PROBLEM) is True
    # the vault scan of the restricted subscription failed too: no server is called unprotected
    assert server(model, "pg-legacy").protection.status is ProtectionStatus.UNREADABLE
    assert server(model, "pg-orders").protection.status is ProtectionStatus.PROTECTED
    # Retry once access is granted
    inventory.fail.clear()
    model.retry(index)
    qtbot.waitUntil(lambda: isinstance(failed_node.load_state, Loaded), timeout=10_000)


def test_refresh_removes_rows_and_drops_stale_results(qtbot, inline_tasks, inventory, now):
    model = ResourceTreeModel(inventory, inline_tasks, now=now)
    fetch_all(model)
    group = next(n for n in model.root.walk() if n.kind is NodeKind.SERVERS_GROUP)
    old_generation = group.generation
    with qtbot.waitSignals([model.rowsRemoved, model.rowsInserted], order="strict"):
        model.refresh(model.index_of(group))
    assert group.generation == old_generation + 1
    assert [n.label for n in group.children][:2] == ["pg-orders", "pg-billing"]


def test_fetch_more_is_guarded_by_state(inline_tasks, inventory, now):
    model = ResourceTreeModel(inventory, inline_tasks, now=now)
    model.fetchMore(QModelIndex())
    model.fetchMore(QModelIndex())  # the tester does this: must not load twice
    assert inventory.calls.count(("list_tenants", "")) == 1
    assert not model.canFetchMore(QModelIndex())


def test_overrides_never_raise_on_odd_indexes(inline_tasks, inventory, now):
    model = ResourceTreeModel(inventory, inline_tasks, now=now)
    assert not model.index(5, 0).isValid()
    assert not model.index(0, 99).isValid()
    assert model.rowCount(QModelIndex()) == 0
    assert model.data(QModelIndex()) is None


def test_filters(inline_tasks, inventory, now, qapp):
    model = ResourceTreeModel(inventory, inline_tasks, now=now)
    fetch_all(model)
    proxy = ResourceFilterProxyModel()
    proxy.setSourceModel(model)

    def visible_servers() -> set[str]:
        out: set[str] = set()

        def walk(parent: QModelIndex) -> None:
            for row in range(proxy.rowCount(parent)):
                index = proxy.index(row, 0, parent)
                if index.data(Roles.KIND) == NodeKind.SERVER.value:
                    out.add(index.data())
                walk(index)

        walk(QModelIndex())
        return out

    assert len(visible_servers()) == 6
    proxy.set_quick_filter(QuickFilter.UNPROTECTED)
    assert visible_servers() == {"pg-legacy", "pg-dev"}
    proxy.set_quick_filter(QuickFilter.PROBLEMS)
    assert visible_servers() == {"pg-broken", "pg-stale"}
    proxy.set_quick_filter(QuickFilter.ALL)
    proxy.set_search("northeurope")
    assert visible_servers() == {"pg-billing"}
    proxy.set_search("not protected")
    assert visible_servers() == {"pg-legacy", "pg-dev"}
    proxy.set_search("")
    assert len(visible_servers()) == 6


def test_task_results_are_keyed_and_stale_ones_dropped(qtbot, qapp):
    tasks = TaskManager()
    try:
        got: list[int] = []
        tasks.task(lambda: 1).keyed("k").on_success(got.append).start()
        tasks.invalidate("k")  # a refresh before the result arrived
        tasks.task(lambda: 2).keyed("k").on_success(got.append).start()
        qtbot.waitUntil(lambda: tasks.pending == 0, timeout=5000)
        assert got == [2]
    finally:
        tasks.shutdown()


def test_a_tenant_needing_sign_in_says_so(qtbot, tasks, now):
    other = "22222222-2222-2222-2222-222222222222"
    mfa = AppError(
        Fault.PERMISSION,
        "This tenant requires an interactive sign-in (for example multi-factor).",
        remedy="Sign in to this tenant interactively, then retry.",
        azure_code="AADSTS50076",
    )
    inventory = FakeInventory(fail={other: mfa})
    inventory.tenants.append(Tenant(other, "Fabrikam", "fabrikam.onmicrosoft.com"))
    model = ResourceTreeModel(inventory, tasks, now=now, auto_load_servers=True)
    with qtbot.waitSignal(model.load_failed, timeout=10_000) as blocker:
        model.load_root()
    tenant = blocker.args[0]
    assert tenant.kind is NodeKind.TENANT
    assert tenant.sign_in_required
    index = model.index_of(tenant)
    assert index.siblingAtColumn(Column.STATUS).data() == "Sign-in required"
    assert index.data(Qt.ItemDataRole.DecorationRole) is not None
    assert "File > Sign in" in index.data(Qt.ItemDataRole.ToolTipRole)
    qtbot.waitUntil(lambda: len(model.servers()) == 6, timeout=10_000)  # Contoso still loads


def test_sign_in_is_not_claimed_for_a_plain_permission_error():
    assert not needs_sign_in(permission_error())
    assert not needs_sign_in(None)
    assert needs_sign_in(AppError(Fault.PERMISSION, "x", azure_code="AADSTS65001"))
    assert needs_sign_in(AppError(Fault.PERMISSION, "Not accepted.", remedy="Sign in again."))
    assert not needs_sign_in(AppError(Fault.NETWORK, "interactive sign-in"))
    node = ResourceNode(NodeKind.SUBSCRIPTION, load_state=Failed(permission_error()))
    assert not node.sign_in_required


def test_a_stale_backup_is_amber_not_green(inline_tasks, inventory, now):
    model = ResourceTreeModel(inventory, inline_tasks, now=now)
    fetch_all(model)
    stale = server(model, "pg-stale")  # protected, last recovery point 12 days old
    fresh = server(model, "pg-orders")
    assert text(model, stale, Column.STATUS) == "Backup overdue (vault-weu)"
    colour = model.index_of(stale, Column.STATUS).data(Qt.ItemDataRole.ForegroundRole)
    assert colour.name() == STALE_COLOUR
    green = model.index_of(fresh, Column.STATUS).data(Qt.ItemDataRole.ForegroundRole)
    assert green.name() == protection_colour(ProtectionStatus.PROTECTED)
    assert server_colour(stale.protection, now=now()) != server_colour(fresh.protection, now=now())


def test_groups_and_instances_read_plainly(inline_tasks, inventory, now):
    model = ResourceTreeModel(inventory, inline_tasks, now=now)
    fetch_all(model)
    dev_vaults = next(
        n
        for n in model.root.walk()
        if n.kind is NodeKind.INSTANCES_GROUP and n.ref.name == "vault-dev"
    )
    assert text(model, dev_vaults, Column.STATUS) == "None found"
    assert text(model, dev_vaults, Column.REGION) == ""
    vault = next(n for n in model.root.walk() if n.kind is NodeKind.VAULT)
    assert text(model, vault, Column.STATUS) == "Geo-redundant"
    instance = next(n for n in model.root.walk() if n.kind is NodeKind.BACKUP_INSTANCE)
    assert text(model, instance, Column.STATUS) == "Protected · v1 (logical)"
    point = next(n for n in model.root.walk() if n.kind is NodeKind.RECOVERY_POINT)
    assert text(model, point, Column.STATUS).endswith("· v1 (logical)")  # a v1 instance's
    _title, rows = describe(point)
    assert dict(rows)["Backup type"].startswith("v1 (logical): ")
    # A v2 instance: its points are v2 only by their own evidence, else unknown (UNCONFIRMED).
    parent = point.parent
    while parent is not None and parent.kind is not NodeKind.BACKUP_INSTANCE:
        parent = parent.parent
    assert parent is not None
    parent.ref = dataclasses.replace(parent.ref, backup_kind="v2")
    assert text(model, parent, Column.STATUS) == "Protected · v2 (physical)"
    assert text(model, point, Column.STATUS).endswith("· unknown")
    point.ref = dataclasses.replace(point.ref, kind_evidence="v2")
    assert text(model, point, Column.STATUS).endswith("· v2 (physical)")
    assert dict(describe(parent)[1])["Backup type"].startswith("v2 (physical): ")
    assert text(model, point, Column.LAST_BACKUP).endswith("d ago")
