"""Keeps the tree's expansion and selection across a refresh.

A refresh removes a container's rows and lists them again as new nodes (style C), so the
view forgets which of them were expanded and which was selected. :class:`TreeStateKeeper`
notes those rows by :attr:`ResourceNode.key` before the refresh and, as rows with the same
keys come back, expands them again (which lists their children, and so on down) and selects
the one that was current.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    QTimer,
)

from pgflex_gui.ui.tree.model import ResourceTreeModel
from pgflex_gui.ui.tree.nodes import ResourceNode
from pgflex_gui.ui.tree.view import ResourceTreeView

__all__ = ["TreeStateKeeper"]

AnyIndex = QModelIndex | QPersistentModelIndex


class TreeStateKeeper(QObject):
    """Re-expands and re-selects rows that a refresh replaced."""

    def __init__(
        self,
        view: ResourceTreeView,
        proxy: QSortFilterProxyModel,
        model: ResourceTreeModel,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._view = view
        self._proxy = proxy
        self._model = model
        self._expanded: set[str] = set()
        self._selected: str | None = None
        model.rowsInserted.connect(self._on_model_rows_inserted)

    @property
    def pending(self) -> bool:
        """True while some remembered row has not come back yet."""
        return bool(self._expanded) or self._selected is not None

    def capture(self, container: ResourceNode) -> None:
        """Remember which rows below ``container`` are expanded, and the current one."""
        for node in container.walk()[1:]:
            if node.is_container and self._view.isExpanded(self._view_index(node)):
                self._expanded.add(node.key)
        current = self._view.current_node()
        if current is not None and current is not container and _below(current, container):
            self._selected = current.key

    def drop_selection(self) -> None:
        """Forget the row to select again: something else is to be selected (a new server)."""
        self._selected = None

    def _view_index(self, node: ResourceNode) -> QModelIndex:
        return self._proxy.mapFromSource(self._model.index_of(node))

    def _on_model_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if not self.pending:
            return
        nodes = [self._model.node(self._model.index(r, 0, parent)) for r in range(first, last + 1)]
        wanted = [n for n in nodes if n.key in self._expanded or n.key == self._selected]
        if wanted:
            # the proxy maps the new rows once this insertion is over
            QTimer.singleShot(0, self, lambda: self._apply(wanted))

    def _apply(self, nodes: list[ResourceNode]) -> None:
        for node in nodes:
            index = self._view_index(node)
            if not index.isValid():
                continue
            if node.key in self._expanded:
                self._expanded.discard(node.key)
                self._view.expand(index)
            if node.key == self._selected:
                self._selected = None
                self._view.setCurrentIndex(index)
                self._view.scrollTo(index)


def _below(node: ResourceNode, container: ResourceNode) -> bool:
    up = node.parent
    while up is not None:
        if up is container:
            return True
        up = up.parent
    return False
