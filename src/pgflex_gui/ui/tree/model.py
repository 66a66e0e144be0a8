"""The lazy resource tree model: tenants → subscriptions → servers and vaults → …

A thin adapter over Qt-free :class:`ResourceNode` objects (style C). Children load on
``fetchMore`` through keyed tasks; pages become rows as they arrive; a refresh removes one
node's rows and bumps its generation. Overrides never raise (style I.5).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QIcon

from pgflex_gui.domain.backup_kind import kind_words
from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import (
    BackupInstance,
    FlexServer,
    PolicyInfo,
    RecoveryPoint,
    Subscription,
    Tenant,
    Vault,
)
from pgflex_gui.domain.ports import InventoryPort
from pgflex_gui.ui.icons import Icons
from pgflex_gui.ui.status import (
    SIGN_IN_COLOUR,
    STALE_COLOUR,
    age_words,
    is_problem,
    is_stale,
    protection_from_state,
    protection_words,
    server_colour,
    server_words,
    size_words,
)
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.tree.nodes import (
    Failed,
    Loaded,
    Loading,
    NodeKind,
    NotLoaded,
    ProtectionStatus,
    ResourceNode,
    ServerProtection,
    point_kind_of_node,
)
from pgflex_gui.ui.tree.protection import ProtectionIndex

__all__ = ["Column", "ResourceTreeModel", "Roles"]

log = logging.getLogger(__name__)

# Protection scans (vaults and their instances) run in their own lane, so they never queue
# ahead of the server listings the DBA is waiting for (benchmarks/inventory.py measures it).
SCAN_LANE = "arm-scan"

AnyIndex = QModelIndex | QPersistentModelIndex
RECOVERY_POINT_WINDOW = timedelta(days=35)


def _same(ref: object, rid: ResourceId) -> bool:
    ident = getattr(ref, "id", None)
    return isinstance(ident, ResourceId) and ident.same_as(rid)


class Roles(IntEnum):
    NODE = Qt.ItemDataRole.UserRole + 1
    KIND = Qt.ItemDataRole.UserRole + 2
    SEARCH_TEXT = Qt.ItemDataRole.UserRole + 3
    PROTECTION = Qt.ItemDataRole.UserRole + 4
    PROBLEM = Qt.ItemDataRole.UserRole + 5
    UNPROTECTED = Qt.ItemDataRole.UserRole + 6
    LOAD_STATE = Qt.ItemDataRole.UserRole + 7


class Column(IntEnum):
    NAME = 0
    STATUS = 1
    REGION = 2
    VERSION = 3
    SIZE = 4
    LAST_BACKUP = 5


HEADERS = ("Name", "Status", "Region", "Version", "Size", "Last backup")

_REDUNDANCY = {
    "LocallyRedundant": "Locally redundant",
    "ZoneRedundant": "Zone-redundant",
    "GeoRedundant": "Geo-redundant",
}

_GROUP_LABELS = {
    NodeKind.SERVERS_GROUP: "Flexible servers",
    NodeKind.VAULTS_GROUP: "Backup vaults",
    NodeKind.POLICIES_GROUP: "Backup policies",
    NodeKind.INSTANCES_GROUP: "Backup instances",
}


class ResourceTreeModel(QAbstractItemModel):
    """Lazy tree of the resources the signed-in account can see.

    Signals:
        load_failed(object, object): a node (ResourceNode) failed to list its children
            (AppError).
        node_loaded(object): a node (ResourceNode) finished loading its children.
        protection_changed(): server protection statuses changed (coverage, filters).
    """

    load_failed = Signal(object, object)
    node_loaded = Signal(object)
    protection_changed = Signal()

    def __init__(
        self,
        inventory: InventoryPort,
        tasks: TaskManager,
        *,
        icons: Icons | None = None,
        now: Callable[[], datetime] | None = None,
        auto_load_servers: bool = False,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._inventory = inventory
        self._tasks = tasks
        self._icons = icons or Icons()
        self._now = now or (lambda: datetime.now(UTC))
        self._auto_load_servers = auto_load_servers
        self._root = ResourceNode(NodeKind.ROOT, label="root")
        self._protection = ProtectionIndex()

    # -- public API -------------------------------------------------------------------------
    @property
    def root(self) -> ResourceNode:
        return self._root

    def node(self, index: AnyIndex) -> ResourceNode:
        """The node behind ``index`` (the root for an invalid index)."""
        if index.isValid():
            node = index.internalPointer()
            if isinstance(node, ResourceNode):
                return node
        return self._root

    def index_of(self, node: ResourceNode, column: int = 0) -> QModelIndex:
        if node is self._root or node.parent is None:
            return QModelIndex()
        return self.createIndex(node.row(), column, node)

    def load_root(self) -> None:
        """Start listing tenants (the view may also trigger it through ``fetchMore``)."""
        self.fetchMore(QModelIndex())

    def retry(self, index: AnyIndex) -> None:
        """Forget a failed listing and run it again."""
        self.refresh(index)

    def refresh(self, index: AnyIndex) -> None:
        """Reload one container: remove its rows, bump its generation, list again."""
        node = self.node(index)
        if not node.is_container:
            node = node.parent or self._root
        self._clear(node)
        node.load_state = NotLoaded()
        self._changed(node)
        if node.kind in (NodeKind.SUBSCRIPTION, NodeKind.SERVERS_GROUP):
            sub = node.ancestor(NodeKind.SUBSCRIPTION)
            tenant = node.ancestor(NodeKind.TENANT)
            if sub is not None and tenant is not None:
                self._scan_subscription(tenant, sub)
        self.fetchMore(self.index_of(node))

    def refresh_targets(self, node: ResourceNode) -> ResourceNode:
        """The container :meth:`refresh` reloads for ``node`` (itself, or its parent)."""
        if node.is_container:
            return node
        return node.parent or self._root

    def find_resource(self, resource_id: str) -> ResourceNode | None:
        """The listed row showing ``resource_id`` (None when it is not listed)."""
        return next((n for n in self._root.walk() if n.matches(resource_id)), None)

    def containers_for(self, resource_id: str) -> list[ResourceNode]:
        """Loaded containers whose rows show ``resource_id`` or would list it if it is new.

        A vault (or anything inside it: a policy, a backup instance) reloads the vault's
        groups; a vault or server not in the tree yet reloads its subscription's group.
        Servers already shown need no reload: :meth:`rescan_protection` updates them.
        """
        try:
            rid = ResourceId.parse(resource_id)
        except ValueError:
            return []
        vault_id: ResourceId | None = None
        if rid.provider.lower() == "microsoft.dataprotection" and rid.types:
            vault_id = ResourceId.build(
                rid.subscription_id, rid.resource_group, rid.provider, rid.types[0], rid.names[0]
            )
        out: list[ResourceNode] = []
        walk = self._root.walk()
        if vault_id is not None:
            vaults = [n for n in walk if n.kind is NodeKind.VAULT and _same(n.ref, vault_id)]
            out += [v for v in vaults if not isinstance(v.load_state, NotLoaded)]
            if not vaults:
                out += self._groups(walk, NodeKind.VAULTS_GROUP, rid.subscription_id)
        elif (
            rid.types
            and rid.types[0].lower() == "flexibleservers"
            and not any(n.kind is NodeKind.SERVER and _same(n.ref, rid) for n in walk)
        ):
            out += self._groups(walk, NodeKind.SERVERS_GROUP, rid.subscription_id)
        return out

    @staticmethod
    def _groups(
        walk: list[ResourceNode], kind: NodeKind, subscription_id: str
    ) -> list[ResourceNode]:
        return [
            n
            for n in walk
            if n.kind is kind
            and isinstance(n.ref, Subscription)
            and n.ref.subscription_id.lower() == subscription_id.lower()
            and not isinstance(n.load_state, NotLoaded)
        ]

    def rescan_protection(self, subscription_id: str) -> None:
        """Read again which servers are protected, in every loaded subscription of the tenant
        that holds ``subscription_id`` (a server's vault may be in any of them)."""
        walk = self._root.walk()
        tenants = {
            id(t): t
            for n in walk
            if n.kind is NodeKind.SUBSCRIPTION
            and isinstance(n.ref, Subscription)
            and n.ref.subscription_id.lower() == subscription_id.lower()
            and (t := n.ancestor(NodeKind.TENANT)) is not None
        }
        for tenant in tenants.values():
            for sub in tenant.children:
                if sub.kind is NodeKind.SUBSCRIPTION:
                    self._scan_subscription(tenant, sub)

    def load_all_servers(self) -> None:
        """Fetch every subscription's servers group not loaded yet (for quick filters)."""
        for node in self._root.walk():
            if node.kind in (NodeKind.SUBSCRIPTION, NodeKind.SERVERS_GROUP) and isinstance(
                node.load_state, NotLoaded
            ):
                self.fetchMore(self.index_of(node))

    def servers(self) -> list[ResourceNode]:
        """Every loaded server node."""
        return [n for n in self._root.walk() if n.kind is NodeKind.SERVER]

    # -- Qt overrides ---------------------------------------------------------------------
    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        try:
            if column < 0 or column >= len(HEADERS) or row < 0:
                return QModelIndex()
            if parent.isValid() and parent.column() != 0:
                return QModelIndex()
            node = self.node(parent)
            if row >= len(node.children):
                return QModelIndex()
            return self.createIndex(row, column, node.children[row])
        except Exception:
            log.exception("index() failed")
            return QModelIndex()

    def parent(self, index: AnyIndex | None = None) -> Any:
        if index is None:
            return QObject.parent(self)
        try:
            if not index.isValid():
                return QModelIndex()
            node = self.node(index)
            up = node.parent
            if up is None or up is self._root:
                return QModelIndex()
            return self.createIndex(up.row(), 0, up)
        except Exception:
            log.exception("parent() failed")
            return QModelIndex()

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        try:
            if parent.isValid() and parent.column() != 0:
                return 0
            return len(self.node(parent).children)
        except Exception:
            log.exception("rowCount() failed")
            return 0

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return len(HEADERS)

    def hasChildren(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008
        try:
            if parent.isValid() and parent.column() != 0:
                return False
            node = self.node(parent)
            if node.children:
                return True
            return node.is_container and isinstance(node.load_state, NotLoaded | Loading)
        except Exception:
            log.exception("hasChildren() failed")
            return False

    def canFetchMore(self, parent: AnyIndex) -> bool:
        try:
            if parent.isValid() and parent.column() != 0:
                return False
            node = self.node(parent)
            return node.is_container and isinstance(node.load_state, NotLoaded)
        except Exception:
            log.exception("canFetchMore() failed")
            return False

    def fetchMore(self, parent: AnyIndex) -> None:
        try:
            if parent.isValid() and parent.column() != 0:
                return
            node = self.node(parent)
            if not node.is_container or not isinstance(node.load_state, NotLoaded):
                return  # style I.3: the tester calls this without asking canFetchMore
            node.load_state = Loading()
            self._changed(node)
            self._start_load(node)
        except Exception:
            log.exception("fetchMore() failed")

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(HEADERS)
        ):
            return HEADERS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        try:
            if not index.isValid():
                return None
            return self._data(self.node(index), index.column(), role)
        except Exception:
            log.exception("data() failed")
            return None

    # -- data -------------------------------------------------------------------------------
    def _data(self, node: ResourceNode, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(node, column)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(node, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(node)
        if role == Qt.ItemDataRole.ForegroundRole and column == Column.STATUS:
            return self._status_colour(node)
        if role == Qt.ItemDataRole.ForegroundRole and column == Column.LAST_BACKUP:
            p = node.protection
            stale = p is not None and p.status is ProtectionStatus.PROTECTED
            if stale and is_stale(p.last_backup, now=self._now()):  # type: ignore[union-attr]
                return QColor(STALE_COLOUR)
            return None
        if role == Roles.NODE:
            return node
        if role == Roles.KIND:
            return node.kind.value
        if role == Roles.SEARCH_TEXT:
            parts = [self._text(node, c) for c in (Column.NAME, Column.STATUS, Column.REGION)]
            return " ".join(parts).lower()
        if role == Roles.PROTECTION:
            return node.protection.status.value if node.protection else None
        if role == Roles.PROBLEM:
            return self._is_problem(node)
        if role == Roles.UNPROTECTED:
            return (
                node.protection is not None
                and node.protection.status is ProtectionStatus.NOT_PROTECTED
            )
        if role == Roles.LOAD_STATE:
            return type(node.load_state).__name__
        return None

    def _is_problem(self, node: ResourceNode) -> bool:
        if node.failed is not None:
            return True
        if node.kind is NodeKind.SERVER:
            return is_problem(node.protection, now=self._now())
        if isinstance(node.ref, BackupInstance):
            status = protection_from_state(node.ref.protection_state)
            return status in (ProtectionStatus.ERROR, ProtectionStatus.SUSPENDED)
        return False

    def _text(self, node: ResourceNode, column: int) -> str:
        ref = node.ref
        if column == Column.NAME:
            if node.kind in _GROUP_LABELS and isinstance(node.load_state, Loaded):
                return f"{node.label} ({len(node.children)})"
            return node.label
        if column == Column.STATUS:
            if node.sign_in_required:
                return "Sign-in required"
            if node.failed is not None:
                return f"Failed: {node.failed.summary}"
            if isinstance(node.load_state, Loading) and not node.children:
                return "Loading…"
            if node.kind is NodeKind.SERVER:
                return server_words(node.protection, now=self._now())
            if node.kind in _GROUP_LABELS:
                empty = isinstance(node.load_state, Loaded) and not node.children
                return "None found" if empty else ""
            if node.kind is NodeKind.BACKUP_INSTANCE and isinstance(ref, BackupInstance):
                words = protection_words(
                    ServerProtection(protection_from_state(ref.protection_state))
                )
                return f"{words} · {kind_words(ref.backup_kind)}"
            if node.kind is NodeKind.VAULT and isinstance(ref, Vault):
                return _REDUNDANCY.get(ref.redundancy, ref.redundancy)
            if isinstance(ref, RecoveryPoint):
                kind = kind_words(point_kind_of_node(node))
                return f"{ref.recovery_point_type}, {ref.state} · {kind}"
            if node.kind is NodeKind.SUBSCRIPTION and isinstance(ref, Subscription):
                return "" if ref.state == "Enabled" else ref.state
            return ""
        if column == Column.REGION:
            if node.kind in _GROUP_LABELS:
                return ""
            if isinstance(ref, FlexServer | Vault):
                return ref.location
            if isinstance(ref, BackupInstance):
                return ref.datasource_location
            if isinstance(ref, RecoveryPoint):
                return ref.region
            return ""
        if column == Column.VERSION:
            return f"PostgreSQL {ref.version}" if isinstance(ref, FlexServer) else ""
        if column == Column.SIZE:
            return size_words(ref.storage_gb) if isinstance(ref, FlexServer) else ""
        if column == Column.LAST_BACKUP:
            if node.kind is NodeKind.SERVER and node.protection is not None:
                return age_words(node.protection.last_backup, now=self._now())
            if isinstance(ref, RecoveryPoint):
                return age_words(ref.time, now=self._now())
        return ""

    def _decoration(self, node: ResourceNode, column: int) -> QIcon | None:
        if column == Column.NAME:
            if node.sign_in_required:
                return self._icons.sign_in()
            if node.failed is not None:
                return self._icons.warning()
            if isinstance(node.load_state, Loading) and not node.children:
                return self._icons.busy()
            return self._icons.for_kind(node.kind)
        if column == Column.STATUS and node.protection is not None:
            return self._icons.dot(server_colour(node.protection, now=self._now()))
        return None

    def _status_colour(self, node: ResourceNode) -> QColor | None:
        if node.sign_in_required:
            return QColor(SIGN_IN_COLOUR)
        if node.failed is not None:
            return QColor("#c0392b")
        if node.protection is not None:
            return QColor(server_colour(node.protection, now=self._now()))
        return None

    def _tooltip(self, node: ResourceNode) -> str | None:
        if node.sign_in_required and node.failed is not None:
            return (
                f"{node.failed.summary}\nThis tenant asks you to sign in to it "
                "(multi-factor or consent).\nSelect it and choose File > Sign in…; "
                "it reloads once you are signed in."
            )
        if node.failed is not None:
            err = node.failed
            text = err.summary
            if err.remedy:
                text += f"\n{err.remedy}"
            return text + "\nRight-click and choose Retry."
        if node.protection is not None and node.protection.detail:
            return node.protection.detail
        if isinstance(node.ref, FlexServer | Vault):
            return str(node.ref.id)
        return None

    # -- loading ----------------------------------------------------------------------------
    def _start_load(self, node: ResourceNode) -> None:
        kind = node.kind
        inv = self._inventory
        if kind in (NodeKind.SUBSCRIPTION, NodeKind.VAULT):
            # Fixed groups, but still delivered through the task bridge: inserting rows
            # synchronously inside fetchMore nests inserts when fetchMore runs from a slot.
            self._load(node, list, self._group_nodes)
            return
        ref = node.ref
        if kind is NodeKind.ROOT:
            self._load(node, inv.list_tenants, self._tenant_nodes)
        elif kind is NodeKind.TENANT and isinstance(ref, Tenant):
            self._load(
                node, lambda: inv.list_subscriptions(ref.tenant_id), self._subscription_nodes
            )
        elif kind is NodeKind.SERVERS_GROUP and isinstance(ref, Subscription):
            self._load(
                node, lambda: inv.iter_servers(ref.subscription_id), self._server_nodes, paged=True
            )
        elif kind is NodeKind.VAULTS_GROUP and isinstance(ref, Subscription):
            self._load(
                node, lambda: inv.iter_vaults(ref.subscription_id), self._vault_nodes, paged=True
            )
        elif kind is NodeKind.POLICIES_GROUP and isinstance(ref, Vault):
            self._load(node, lambda: inv.list_policies(ref.id), self._policy_nodes)
        elif kind is NodeKind.INSTANCES_GROUP and isinstance(ref, Vault):
            self._load(node, lambda: inv.list_backup_instances(ref.id), self._instance_nodes)
        elif kind is NodeKind.BACKUP_INSTANCE and isinstance(ref, BackupInstance):
            self._load(node, lambda: inv.list_recovery_points(ref.id), self._point_nodes)
        else:
            self._finish(node)

    def _load(
        self,
        node: ResourceNode,
        fn: Callable[[], Any],
        make: Callable[[ResourceNode, list[Any]], list[ResourceNode]],
        *,
        paged: bool = False,
    ) -> None:
        key = ("node", node.uid)
        generation = node.generation

        def current() -> bool:
            return node.generation == generation and self._attached(node)

        def on_items(items: list[Any]) -> None:
            if current():
                self._append(node, make(node, list(items)))

        def on_success(result: Any) -> None:
            if not current():
                return
            if not paged:
                on_items(result or [])
            self._finish(node)

        def on_failure(error: AppError) -> None:
            if not current():
                return
            node.load_state = Failed(error)
            self._changed(node)
            log.warning("Listing %s failed: %s", node.label, error.summary)
            self.load_failed.emit(node, error)

        task = self._tasks.task(fn).keyed(key).on_success(on_success).on_failure(on_failure)
        if paged:
            task.on_item(on_items)
        task.in_lane("arm-read").start()

    def _finish(self, node: ResourceNode) -> None:
        node.load_state = Loaded()
        self._changed(node)
        self.node_loaded.emit(node)

    def _group_nodes(self, parent: ResourceNode, _items: list[Any]) -> list[ResourceNode]:
        kinds = (
            (NodeKind.SERVERS_GROUP, NodeKind.VAULTS_GROUP)
            if parent.kind is NodeKind.SUBSCRIPTION
            else (NodeKind.POLICIES_GROUP, NodeKind.INSTANCES_GROUP)
        )
        nodes = [ResourceNode(k, parent.ref, _GROUP_LABELS[k]) for k in kinds]
        if self._auto_load_servers and parent.kind is NodeKind.SUBSCRIPTION:
            self._defer_auto_load(nodes[:1])
        return nodes

    def _tenant_nodes(self, _parent: ResourceNode, tenants: list[Tenant]) -> list[ResourceNode]:
        nodes = [
            ResourceNode(NodeKind.TENANT, t, t.display_name or t.default_domain or t.tenant_id)
            for t in tenants
        ]
        if self._auto_load_servers:
            self._defer_auto_load(nodes)
        return nodes

    def _subscription_nodes(
        self, parent: ResourceNode, subs: list[Subscription]
    ) -> list[ResourceNode]:
        nodes = [
            ResourceNode(NodeKind.SUBSCRIPTION, s, s.display_name or s.subscription_id)
            for s in subs
        ]
        for sub_node in nodes:
            sub_node.parent = parent  # so the scan can find its tenant before insertion
            self._scan_subscription(parent, sub_node)
        if self._auto_load_servers:
            self._defer_auto_load(nodes)
        return nodes

    def _defer_auto_load(self, nodes: list[ResourceNode]) -> None:
        def go() -> None:
            for n in nodes:
                if self._attached(n):
                    self.fetchMore(self.index_of(n))

        QTimer.singleShot(0, self, go)

    def _server_nodes(self, parent: ResourceNode, servers: list[FlexServer]) -> list[ResourceNode]:
        tenant = parent.ancestor(NodeKind.TENANT)
        tenant_id = tenant.ref.tenant_id if tenant and isinstance(tenant.ref, Tenant) else ""
        return [
            ResourceNode(
                NodeKind.SERVER, s, s.name, protection=self._protection.lookup(s, tenant_id)
            )
            for s in servers
        ]

    def _vault_nodes(self, _parent: ResourceNode, vaults: list[Vault]) -> list[ResourceNode]:
        return [ResourceNode(NodeKind.VAULT, v, v.name) for v in vaults]

    def _policy_nodes(
        self, _parent: ResourceNode, policies: list[PolicyInfo]
    ) -> list[ResourceNode]:
        return [ResourceNode(NodeKind.POLICY, p, p.name) for p in policies if p.is_pg_flex]

    def _instance_nodes(
        self, _parent: ResourceNode, instances: list[BackupInstance]
    ) -> list[ResourceNode]:
        return [
            ResourceNode(NodeKind.BACKUP_INSTANCE, b, b.friendly_name or b.datasource_id.name)
            for b in instances
        ]

    def _point_nodes(
        self, _parent: ResourceNode, points: list[RecoveryPoint]
    ) -> list[ResourceNode]:
        ordered = sorted(points, key=lambda p: p.time, reverse=True)
        return [
            ResourceNode(NodeKind.RECOVERY_POINT, p, p.time.astimezone().strftime("%Y-%m-%d %H:%M"))
            for p in ordered
        ]

    # -- protection scan --------------------------------------------------------------------
    def _scan_subscription(self, tenant: ResourceNode, sub_node: ResourceNode) -> None:
        if not isinstance(tenant.ref, Tenant) or not isinstance(sub_node.ref, Subscription):
            return
        tenant_id = tenant.ref.tenant_id
        sub_id = sub_node.ref.subscription_id
        key = ("scan", tenant_id, sub_id.lower())
        self._tasks.invalidate(key)
        self._protection.begin(tenant_id, sub_id)
        inv = self._inventory
        state = {"left": 0, "failed": False}

        def vaults() -> list[Vault]:
            return [v for page in inv.iter_vaults(sub_id) for v in page]

        def scan_vault(vault: Vault) -> list[tuple[BackupInstance, datetime | None]]:
            out: list[tuple[BackupInstance, datetime | None]] = []
            since = self._now() - RECOVERY_POINT_WINDOW
            for bi in inv.list_backup_instances(vault.id):
                points = inv.list_recovery_points(bi.id, start=since)
                out.append((bi, max((p.time for p in points), default=None)))
            return out

        def done_one(*, failed: bool) -> None:
            state["left"] -= 1
            state["failed"] = state["failed"] or failed
            if state["left"] <= 0:
                self._protection.finish(tenant_id, sub_id, failed=bool(state["failed"]))
                self._update_protection(tenant_id)

        def on_vaults(found: list[Vault]) -> None:
            if not found:
                self._protection.finish(tenant_id, sub_id, failed=False)
                self._update_protection(tenant_id)
                return
            state["left"] = len(found)
            for vault in found:

                def on_instances(pairs: list[Any], vault: Vault = vault) -> None:
                    for bi, last in pairs:
                        self._protection.add(vault, bi, last)
                    done_one(failed=False)

                def on_vault_failed(error: AppError, vault: Vault = vault) -> None:
                    log.warning("Reading vault %s failed: %s", vault.name, error.summary)
                    done_one(failed=True)

                self._tasks.task(scan_vault, vault).keyed(key).on_success(on_instances).on_failure(
                    on_vault_failed
                ).in_lane(SCAN_LANE).start()

        def on_vaults_failed(error: AppError) -> None:
            log.warning("Listing vaults of %s failed: %s", sub_id, error.summary)
            self._protection.finish(tenant_id, sub_id, failed=True)
            self._update_protection(tenant_id)

        self._tasks.task(vaults).keyed(key).on_success(on_vaults).on_failure(
            on_vaults_failed
        ).in_lane(SCAN_LANE).start()

    def _update_protection(self, _tenant_id: str) -> None:
        """Show what changed in the protection index: only the servers it names, or every
        server of a tenant whose scan phase changed (a fleet has 20,000 rows), with one
        ``dataChanged`` per servers group."""
        tenants, keys = self._protection.take_changes()
        if not tenants and not keys:
            return
        subs_with_keys = {k.split("/")[2] for k in keys if k.count("/") > 2}
        changed = False
        for tenant in self._root.children:
            if not isinstance(tenant.ref, Tenant):
                continue
            tenant_id = tenant.ref.tenant_id
            every = tenant_id in tenants
            for sub in tenant.children:
                if not isinstance(sub.ref, Subscription):
                    continue
                if not every and sub.ref.subscription_id.lower() not in subs_with_keys:
                    continue
                for group in sub.children:
                    if group.kind is NodeKind.SERVERS_GROUP and self._update_group(
                        group, tenant_id, None if every else keys
                    ):
                        changed = True
        if changed:
            self.protection_changed.emit()

    def _update_group(self, group: ResourceNode, tenant_id: str, keys: set[str] | None) -> bool:
        """Look the group's servers (those in ``keys``; None: all) up again; True if any
        changed."""
        rows: list[int] = []
        for row, node in enumerate(group.children):
            ref = node.ref
            if node.kind is not NodeKind.SERVER or not isinstance(ref, FlexServer):
                continue
            if keys is not None and str(ref.id).lower() not in keys:
                continue
            new = self._protection.lookup(ref, tenant_id)
            if new != node.protection:
                node.protection = new
                rows.append(row)
        if rows and self._attached(group):
            first, last = group.children[rows[0]], group.children[rows[-1]]
            self.dataChanged.emit(
                self.createIndex(rows[0], 0, first),
                self.createIndex(rows[-1], len(HEADERS) - 1, last),
            )
        return bool(rows)

    # -- row bookkeeping --------------------------------------------------------------------
    def _attached(self, node: ResourceNode) -> bool:
        current: ResourceNode | None = node
        while current is not None:
            if current is self._root:
                return True
            up = current.parent
            if up is None or not any(c is current for c in up.children):
                return False
            current = up
        return False

    def _append(self, parent: ResourceNode, nodes: list[ResourceNode]) -> None:
        if not nodes:
            return
        first = len(parent.children)
        self.beginInsertRows(self.index_of(parent), first, first + len(nodes) - 1)
        for n in nodes:
            parent.add(n)
        self.endInsertRows()
        if parent.kind is NodeKind.SERVERS_GROUP:
            self.protection_changed.emit()

    def _clear(self, node: ResourceNode) -> None:
        node.generation += 1
        self._tasks.invalidate(("node", node.uid))
        if node.children:
            self.beginRemoveRows(self.index_of(node), 0, len(node.children) - 1)
            for child in node.children:
                child.generation += 1
            node.children = []
            self.endRemoveRows()

    def _changed(self, node: ResourceNode) -> None:
        if node is self._root or not self._attached(node):
            return
        row = node.row()
        self.dataChanged.emit(
            self.createIndex(row, 0, node), self.createIndex(row, len(HEADERS) - 1, node)
        )
