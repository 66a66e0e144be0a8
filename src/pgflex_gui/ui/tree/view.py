"""The browser tree: a filter proxy (search + quick filters) and a view with context menus."""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtWidgets import QHeaderView, QMenu, QTreeView, QWidget

from pgflex_gui.domain.models import BackupInstance, FlexServer, ProtectionState
from pgflex_gui.ui.tree.model import Column, ResourceTreeModel, Roles
from pgflex_gui.ui.tree.nodes import NodeKind, ProtectionStatus, ResourceNode

__all__ = ["NodeAction", "QuickFilter", "ResourceFilterProxyModel", "ResourceTreeView"]

AnyIndex = QModelIndex | QPersistentModelIndex


class QuickFilter(StrEnum):
    ALL = "all"
    UNPROTECTED = "unprotected"
    PROBLEMS = "problems"


class NodeAction(StrEnum):
    CONFIGURE_BACKUP = "configure-backup"
    BACKUP_NOW = "backup-now"
    RESTORE = "restore"
    CHANGE_POLICY = "change-policy"
    STOP_PROTECTION = "stop-protection"
    RESUME_PROTECTION = "resume-protection"
    DELETE_INSTANCE = "delete-instance"
    REFRESH = "refresh"
    RETRY = "retry"
    OPEN_PORTAL = "open-portal"


class ResourceFilterProxyModel(QSortFilterProxyModel):
    """Search on name, region and status; quick filters for unprotected and problem rows.

    Recursive filtering keeps the ancestors of every matching row visible.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(True)
        self.setAutoAcceptChildRows(False)
        self._terms: list[str] = []
        self._quick = QuickFilter.ALL

    @property
    def quick(self) -> QuickFilter:
        return self._quick

    @property
    def filtering(self) -> bool:
        """True while a search or a quick filter hides rows."""
        return bool(self._terms) or self._quick is not QuickFilter.ALL

    def empty_words(self, search: str) -> str:
        """What to say when the filter leaves no row ("No server matches “x”.")."""
        if self._terms:
            return f"No server matches “{search.strip()}”."
        if self._quick is QuickFilter.UNPROTECTED:
            return "Every server listed so far is protected."
        if self._quick is QuickFilter.PROBLEMS:
            return "No server has a problem."
        return ""

    def set_search(self, text: str) -> None:
        self.beginFilterChange()
        self._terms = text.lower().split()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_quick_filter(self, quick: QuickFilter) -> None:
        self.beginFilterChange()
        self._quick = quick
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        try:
            if not self._terms and self._quick is QuickFilter.ALL:
                return True
            model = self.sourceModel()
            index = model.index(source_row, 0, source_parent)
            if not index.isValid():
                return False
            if self._quick is QuickFilter.UNPROTECTED and not index.data(Roles.UNPROTECTED):
                return False
            if self._quick is QuickFilter.PROBLEMS and not index.data(Roles.PROBLEM):
                return False
            if self._terms:
                text = str(index.data(Roles.SEARCH_TEXT) or "")
                return all(term in text for term in self._terms)
            return True
        except Exception:  # noqa: BLE001 - a filter must never raise into Qt
            return True


_STOPPED = frozenset(
    {
        ProtectionState.PROTECTION_STOPPED,
        ProtectionState.BACKUP_SCHEDULES_SUSPENDED,
        ProtectionState.RETENTION_SCHEDULES_SUSPENDED,
    }
)


def _manage_items(node: ResourceNode) -> list[tuple[NodeAction, str]]:
    """Change policy, stop or resume, delete: for a protected server or a backup instance."""
    if isinstance(node.ref, BackupInstance):
        stopped = node.ref.protection_state in _STOPPED
    elif node.protection is not None and node.protection.instance_id:
        stopped = node.protection.status is ProtectionStatus.SUSPENDED
    else:
        return []
    items = [(NodeAction.CHANGE_POLICY, "Change policy…")]
    if stopped:
        items.append((NodeAction.RESUME_PROTECTION, "Resume protection"))
    else:
        items.append((NodeAction.STOP_PROTECTION, "Stop protection…"))
    items.append((NodeAction.DELETE_INSTANCE, "Delete backup instance…"))
    return items


class ResourceTreeView(QTreeView):
    """Tree of resources with a context menu.

    Signals:
        node_selected(object): the current ResourceNode, or None.
        action_requested(str, object): a NodeAction value and the ResourceNode.
    """

    node_selected = Signal(object)
    action_requested = Signal(str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_self_context_menu)
        self.setSelectionMode(QTreeView.SelectionMode.SingleSelection)
        self.setAnimated(False)
        self.setSortingEnabled(False)

    def setModel(self, model: QSortFilterProxyModel | ResourceTreeModel | None) -> None:  # type: ignore[override]
        super().setModel(model)
        if model is None:
            return
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(Column.NAME, QHeaderView.ResizeMode.Interactive)
        self.setColumnWidth(Column.NAME, 215)
        self.setColumnWidth(Column.STATUS, 205)
        self.setColumnWidth(Column.REGION, 95)
        self.setColumnWidth(Column.VERSION, 105)
        self.setColumnWidth(Column.SIZE, 105)
        self.setColumnWidth(Column.LAST_BACKUP, 85)
        self.selectionModel().currentChanged.connect(self._on_selection_current_changed)

    def node_at(self, index: AnyIndex) -> ResourceNode | None:
        node = index.data(Roles.NODE) if index.isValid() else None
        return node if isinstance(node, ResourceNode) else None

    def current_node(self) -> ResourceNode | None:
        return self.node_at(self.currentIndex())

    def actions_for(self, node: ResourceNode) -> list[tuple[NodeAction, str]]:
        """The context-menu entries for ``node`` (without the separators)."""
        items: list[tuple[NodeAction, str]] = []
        if node.failed is not None:
            items.append((NodeAction.RETRY, "Retry"))
        if node.kind is NodeKind.SERVER:
            items += [
                (NodeAction.CONFIGURE_BACKUP, "Configure backup…"),
                (NodeAction.BACKUP_NOW, "Backup now"),
                (NodeAction.RESTORE, "Restore…"),
            ]
            items += _manage_items(node)
        elif node.kind is NodeKind.BACKUP_INSTANCE:
            items += [(NodeAction.BACKUP_NOW, "Backup now"), (NodeAction.RESTORE, "Restore…")]
            items += _manage_items(node)
        elif node.kind is NodeKind.RECOVERY_POINT:
            items.append((NodeAction.RESTORE, "Restore…"))
        elif node.kind is NodeKind.VAULT:
            items.append((NodeAction.CONFIGURE_BACKUP, "Configure backup…"))
        items.append((NodeAction.REFRESH, "Refresh"))
        if node.kind not in (
            NodeKind.SERVERS_GROUP,
            NodeKind.VAULTS_GROUP,
            NodeKind.POLICIES_GROUP,
            NodeKind.INSTANCES_GROUP,
            NodeKind.TENANT,
        ):
            items.append((NodeAction.OPEN_PORTAL, "Open in Azure portal"))
        return items

    def why_not(self, action: NodeAction, node: ResourceNode) -> str:
        """Why ``action`` can't run on ``node`` now ("" when it can): the entry is disabled
        and says so in its tooltip and the status bar, instead of refusing after a click."""
        p = node.protection
        if node.kind is NodeKind.SERVER and isinstance(node.ref, FlexServer):
            status = p.status if p is not None else ProtectionStatus.UNKNOWN
            if action is NodeAction.CONFIGURE_BACKUP:
                if status is ProtectionStatus.UNKNOWN:
                    return "Still checking whether this server is protected."
                if p is not None and p.instance_id:
                    return f"Already protected by vault {p.vault_name}."
                if node.ref.state.lower() != "ready":
                    return f"The server is {node.ref.state}; start it first."
            if action in (NodeAction.BACKUP_NOW, NodeAction.RESTORE) and not (
                p is not None and p.instance_id
            ):
                if status is ProtectionStatus.UNKNOWN:
                    return "Still checking whether this server is protected."
                return "This server is not protected, so it has no backups."
            if action is NodeAction.BACKUP_NOW and status is ProtectionStatus.SUSPENDED:
                return "Protection is stopped; resume it first."
        if (
            action is NodeAction.BACKUP_NOW
            and isinstance(node.ref, BackupInstance)
            and node.ref.protection_state in _STOPPED
        ):
            return "Protection is stopped; resume it first."
        return ""

    def _on_self_context_menu(self, pos: QPoint) -> None:
        node = self.node_at(self.indexAt(pos))
        if node is None:
            return
        self.context_menu(node).popup(self.viewport().mapToGlobal(pos))

    def context_menu(self, node: ResourceNode) -> QMenu:
        """The node's menu: entries that can't run now are disabled with the reason."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        for action, text in self.actions_for(node):
            if action is NodeAction.REFRESH and not menu.isEmpty():
                menu.addSeparator()
            entry = menu.addAction(text)
            reason = self.why_not(action, node)
            if reason:
                entry.setEnabled(False)
                entry.setToolTip(reason)
                entry.setStatusTip(reason)
            entry.triggered.connect(
                lambda _=False, a=action, n=node: self.action_requested.emit(a.value, n)
            )
        return menu

    def _on_selection_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.node_selected.emit(self.node_at(current))
