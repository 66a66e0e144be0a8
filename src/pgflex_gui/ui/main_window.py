"""The main window: composes the browser tree, details, coverage, jobs and log panels."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QByteArray, QModelIndex, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QIcon,
    QKeySequence,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QSplitter,
    QStyle,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.ports import InventoryPort
from pgflex_gui.ui.about import AboutDialog, default_about_info
from pgflex_gui.ui.dialogs.doctor import DoctorDialog
from pgflex_gui.ui.errors import ErrorPresenter, ErrorToast
from pgflex_gui.ui.icons import Icons
from pgflex_gui.ui.notify import DesktopNotifier
from pgflex_gui.ui.panels.coverage import CoveragePanel
from pgflex_gui.ui.panels.details import DetailsPanel
from pgflex_gui.ui.panels.jobs import JobsPanel, RunnerBridge
from pgflex_gui.ui.panels.log import LogPanel
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.tree.keeper import TreeStateKeeper
from pgflex_gui.ui.tree.model import ResourceTreeModel
from pgflex_gui.ui.tree.nodes import Loaded, NodeKind, ResourceNode
from pgflex_gui.ui.tree.view import (
    NodeAction,
    QuickFilter,
    ResourceFilterProxyModel,
    ResourceTreeView,
)

__all__ = ["ActionHandler", "MainWindow", "portal_url"]

log = logging.getLogger(__name__)

ActionHandler = Callable[[Any], None]  # a ResourceNode, None, or a JobRequest
_AUTO_EXPAND = (NodeKind.TENANT, NodeKind.SUBSCRIPTION, NodeKind.SERVERS_GROUP)
_TREE_WIDTHS = (280, 235, 95, 100, 90, 80)
_CENTRE_MIN_WIDTH = 460  # details rows and the coverage chart's labels fit (1024×700)
_TREE_SHARE = 0.5  # the tree dock gives back width it took on a larger window …
_BOTTOM_SHARE = 0.26  # … and the jobs dock height
_ACTION_NAMES = {
    NodeAction.CONFIGURE_BACKUP.value: "Configure backup",
    NodeAction.BACKUP_NOW.value: "Backup now",
    NodeAction.RESTORE.value: "Restore",
    NodeAction.CHANGE_POLICY.value: "Change policy",
    NodeAction.STOP_PROTECTION.value: "Stop protection",
    NodeAction.RESUME_PROTECTION.value: "Resume protection",
    NodeAction.DELETE_INSTANCE.value: "Delete backup instance",
    "settings": "Settings",
    "sign-in": "Sign in",
    "sign-out": "Sign out",
}


def portal_url(node: ResourceNode, base: str = "https://portal.azure.com") -> str | None:
    """The Azure portal page of the node's resource, if it has one."""
    ref = node.ref
    rid = getattr(ref, "id", None)
    if rid is None and hasattr(ref, "subscription_id"):
        rid = f"/subscriptions/{ref.subscription_id}"
    if rid is None:
        return None
    tenant = node.ancestor(NodeKind.TENANT)
    tenant_id = getattr(tenant.ref, "tenant_id", "") if tenant else ""
    prefix = f"{base}/#@{tenant_id}" if tenant_id else f"{base}/#"
    return f"{prefix}/resource{rid}"


COVERAGE_EVERY_MS = 250  # the coverage chart's redraws while the tree fills, at most


class MainWindow(QMainWindow):
    """The app's one window. Everything it uses comes in through the constructor.

    ``job_resources(job_id)`` names the ARM ids a finished job changed; the tree refreshes
    the rows showing them (``follows_jobs``: workflows then leave the refreshing to it).
    """

    follows_jobs = True

    def __init__(
        self,
        *,
        inventory: InventoryPort,
        tasks: TaskManager,
        settings: QSettings,
        about_info: Callable[[], dict[str, str]] = default_about_info,
        cloud: str = "",
        account: str = "",
        handlers: Mapping[str, ActionHandler] | None = None,
        runner_bridge: RunnerBridge | None = None,
        job_titles: Callable[[str], str] | None = None,
        job_resources: Callable[[str], list[str]] | None = None,
        doctor: Callable[[], dict[str, Any]] | None = None,
        cancel_job: Callable[[str], None] | None = None,
        read_secret: Callable[[str], str | None] | None = None,
        activity_source: Callable[..., object] | None = None,
        open_url: Callable[[str], object] | None = None,
        portal_base: str = "https://portal.azure.com",
        now: Callable[[], datetime] | None = None,
        window_icon: QIcon | None = None,
    ) -> None:
        super().__init__()
        self.setObjectName("MainWindow")
        self.setWindowTitle("pgflex-gui — Azure Backup for PostgreSQL flexible servers")
        if window_icon is not None:
            self.setWindowIcon(window_icon)
        self.resize(1400, 900)
        self._tasks = tasks
        self._settings = settings
        self._about_info = about_info
        self._handlers = dict(handlers or {})
        self._open_url = open_url or (lambda url: QDesktopServices.openUrl(QUrl(url)))
        self._portal_base = portal_base
        self._about: AboutDialog | None = None
        self._job_resources = job_resources
        self._doctor = doctor
        self._doctor_dialog: DoctorDialog | None = None
        self._hits_pending = False
        self._reveal_pending = ""  # an ARM id to select once its row is listed
        self._closed = False  # closeEvent ran: late model updates start no timer
        now = now or (lambda: datetime.now(UTC))

        # Tree (left dock)
        self.model = ResourceTreeModel(
            inventory, tasks, icons=Icons(), now=now, auto_load_servers=True, parent=self
        )
        self.proxy = ResourceFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.tree = ResourceTreeView()
        self.tree.setModel(self.proxy)
        self.keeper = TreeStateKeeper(self.tree, self.proxy, self.model, self)
        self.tree.setIndentation(16)  # deep rows (recovery points) keep their time visible
        for column, width in enumerate(_TREE_WIDTHS):  # names and "backup overdue" fit
            self.tree.setColumnWidth(column, width)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name, region or status…")
        self.search.setClearButtonEnabled(True)
        self.quick_buttons: dict[QuickFilter, QToolButton] = {}
        self._quick_group = QButtonGroup(self)
        filters = QHBoxLayout()
        for quick, text in (
            (QuickFilter.ALL, "All"),
            (QuickFilter.UNPROTECTED, "Unprotected"),
            (QuickFilter.PROBLEMS, "Problems"),
        ):
            button = QToolButton()
            button.setText(text)
            button.setCheckable(True)
            button.setAutoRaise(True)
            self._quick_group.addButton(button)
            self.quick_buttons[quick] = button
            filters.addWidget(button)
        self.quick_buttons[QuickFilter.ALL].setChecked(True)
        filters.addStretch(1)
        browser = QWidget()
        browser_layout = QVBoxLayout(browser)
        browser_layout.setContentsMargins(4, 4, 4, 4)
        browser_layout.addWidget(self.search)
        browser_layout.addLayout(filters)
        self.tree_note = QLabel()
        self.tree_note.setWordWrap(True)
        self.tree_note.setContentsMargins(4, 8, 4, 8)
        browser_layout.addWidget(self.tree_note)
        browser_layout.addWidget(self.tree, 1)
        self.tree_dock = self._dock(
            "Resources", "ResourcesDock", browser, Qt.DockWidgetArea.LeftDockWidgetArea
        )

        # Centre: details above coverage, and the non-modal error toast
        self.details = DetailsPanel(now=now)
        self.coverage = CoveragePanel(self.model.servers, now=now)
        # The chart is redrawn at most every COVERAGE_EVERY_MS while the tree fills (a fleet's
        # 200 subscriptions each report their servers and their scan), and at once when idle.
        self._coverage_timer = QTimer(self)
        self._coverage_timer.setSingleShot(True)
        self._coverage_timer.setInterval(COVERAGE_EVERY_MS)
        self._coverage_timer.timeout.connect(self._refresh_coverage)
        self._coverage_at = 0.0
        self.toast = ErrorToast()
        self.presenter = ErrorPresenter(self.toast, self)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.details)
        splitter.addWidget(self.coverage)
        splitter.setSizes([420, 300])
        splitter.setStretchFactor(0, 3)  # on a short screen the details keep the larger part
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        self.details.setMinimumHeight(8 * self.fontMetrics().lineSpacing())
        centre = QWidget()
        centre.setMinimumWidth(_CENTRE_MIN_WIDTH)  # a small window narrows the tree, not this
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addWidget(splitter, 1)
        centre_layout.addWidget(self.toast)
        self.setCentralWidget(centre)

        # Bottom dock: Jobs / Log / Activity
        subs = self._subscription_ids
        self.jobs = JobsPanel(
            tasks=tasks, inventory=inventory, subscriptions=subs, cancel_job=cancel_job,
            read_secret=read_secret, now=now,
        )  # fmt: skip
        if runner_bridge is not None:
            self.jobs.connect_bridge(runner_bridge, job_titles)
            # the tree follows what the app did: protect, stop, resume, restore (#14.9)
            runner_bridge.finished.connect(self._on_bridge_finished)
        self.notifier = DesktopNotifier(self)
        self.log_panel = LogPanel(default_level=logging.INFO)
        self.log_panel.attach(logging.getLogger())
        self.activity = LogPanel(default_level=logging.INFO)
        if activity_source is not None:
            self.activity.subscribe_to(activity_source)
        else:
            self.activity.attach(logging.getLogger("pgflex_gui.activity"))
        self.bottom_tabs = QTabWidget()
        self.bottom_tabs.setDocumentMode(True)
        self.bottom_tabs.addTab(self.jobs, "Jobs")
        self.bottom_tabs.addTab(self.log_panel, "Log")
        self.bottom_tabs.addTab(self.activity, "Activity")
        self.bottom_dock = self._dock(
            "Jobs and log", "BottomDock", self.bottom_tabs, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.resizeDocks([self.tree_dock], [sum(_TREE_WIDTHS) + 30], Qt.Orientation.Horizontal)
        self.resizeDocks([self.bottom_dock], [230], Qt.Orientation.Vertical)

        self._build_menus()
        self.account_label = QLabel()
        self.statusBar().addPermanentWidget(self.account_label)
        self.set_identity(cloud=cloud, account=account)
        self._connect_signals()
        self._restore_state()

    # -- building -----------------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    def _action(
        self,
        text: str,
        slot: Callable[[], object],
        *,
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        icon: QStyle.StandardPixmap | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.triggered.connect(lambda _=False: slot())
        return action

    def _build_menus(self) -> None:
        sp = QStyle.StandardPixmap
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self._action("Sign in…", lambda: self._dispatch("sign-in", None)))
        file_menu.addAction(self._action("Sign out", lambda: self._dispatch("sign-out", None)))
        file_menu.addSeparator()
        file_menu.addAction(
            self._action("Quit", self.close, shortcut=QKeySequence.StandardKey.Quit)
        )
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.tree_dock.toggleViewAction())
        view_menu.addAction(self.bottom_dock.toggleViewAction())
        view_menu.addSeparator()
        self.refresh_action = self._action(
            "Refresh", self.refresh_current, shortcut=QKeySequence("F5"), icon=sp.SP_BrowserReload
        )
        view_menu.addAction(self.refresh_action)
        tools = bar.addMenu("&Tools")
        tools.addAction(
            self._action(
                "Configure backup…",
                lambda: self._dispatch(NodeAction.CONFIGURE_BACKUP.value, self.tree.current_node()),
            )
        )
        tools.addAction(
            self._action(
                "Restore…",
                lambda: self._dispatch(NodeAction.RESTORE.value, self.tree.current_node()),
            )
        )
        tools.addSeparator()
        tools.addAction(self._action("Settings…", lambda: self._dispatch("settings", None)))
        help_menu = bar.addMenu("&Help")
        self.doctor_action = self._action("Check this machine…", self.show_doctor)
        self.doctor_action.setEnabled(self._doctor is not None)
        help_menu.addAction(self.doctor_action)
        help_menu.addAction(
            self._action("About pgflex-gui", self.show_about, icon=sp.SP_MessageBoxInformation)
        )

    def _connect_signals(self) -> None:
        self.search.textChanged.connect(self._on_search_text_changed)
        self.proxy.rowsInserted.connect(self._on_proxy_rows_inserted)
        self._quick_group.buttonClicked.connect(self._on_quick_clicked)
        self.tree.node_selected.connect(self._on_tree_node_selected)
        self.tree.action_requested.connect(self._on_tree_action_requested)
        self.model.rowsInserted.connect(self._on_model_rows_inserted)
        self.model.protection_changed.connect(self._on_protection_changed)
        self._tasks.idle.connect(self._flush_coverage)
        self.model.dataChanged.connect(self._on_model_data_changed)
        self.model.load_failed.connect(self._on_model_load_failed)
        self.jobs.job_selected.connect(self.details.show_job)
        self.jobs.job_updated.connect(self.details.update_job)
        self.jobs.job_failed.connect(self._on_jobs_job_failed)
        self.jobs.job_action.connect(self._on_jobs_job_action)
        self.jobs.restore_succeeded.connect(self._on_jobs_restore_succeeded)
        self.jobs.show_resource.connect(self.reveal_resource)
        self.model.rowsInserted.connect(self._on_model_rows_inserted_reveal)
        for signal in (self.model.node_loaded, self.model.load_failed, self.model.rowsInserted):
            signal.connect(self._update_tree_note)

    # -- public -------------------------------------------------------------------------------
    def start(self) -> None:
        """Begin loading the tree (call once the window is shown)."""
        self.model.load_root()
        self._update_tree_note()

    def set_identity(self, *, cloud: str, account: str) -> None:
        parts = [
            f"Cloud: {cloud}" if cloud else "",
            f"Account: {account}" if account else "Not signed in",
        ]
        self.account_label.setText("   ".join(p for p in parts if p))

    def refresh_current(self) -> None:
        """F5: refresh the current node (the whole tree when none is current)."""
        node = self.tree.current_node()
        self.refresh_node(node if node is not None else self.model.root)

    def refresh_node(self, target: ResourceNode | str) -> None:
        """Reload a node and its children, keeping what is expanded and selected.

        ``target`` is a tree node (a leaf reloads its parent's rows; a server also re-reads
        which servers of its tenant are protected) or an ARM id (:meth:`refresh_resources`).
        """
        if isinstance(target, str):
            self.refresh_resources([target])
            return
        container = self.model.refresh_targets(target)
        self.keeper.capture(container)
        self.model.refresh(self.model.index_of(container))
        sub = target.ancestor(NodeKind.SUBSCRIPTION)
        if target.kind is NodeKind.SERVER and sub is not None:
            self.model.rescan_protection(getattr(sub.ref, "subscription_id", ""))

    def refresh_resources(self, resource_ids: Iterable[str]) -> None:
        """Refresh the rows that show these resources (or would list them if they are new)."""
        ids = [i for i in resource_ids if i]
        containers: list[ResourceNode] = []
        for rid in ids:
            for node in self.model.containers_for(rid):
                if all(node is not c for c in containers):
                    containers.append(node)
        for node in containers:
            self.keeper.capture(node)
            self.model.refresh(self.model.index_of(node))
        subscriptions = {rid.split("/")[2].lower() for rid in ids if rid.count("/") >= 2}
        for sub in sorted(subscriptions):
            self.model.rescan_protection(sub)

    def show_about(self) -> AboutDialog:
        if self._about is None:
            self._about = AboutDialog(self._about_info, self)
        self._about.show()
        self._about.raise_()
        return self._about

    def show_doctor(self) -> DoctorDialog | None:
        """Help > Check this machine…: ``pgflex doctor``'s checks, run in the background."""
        if self._doctor is None:
            return None
        if self._doctor_dialog is None:
            self._doctor_dialog = DoctorDialog(self._doctor, self._tasks, self)
        self._doctor_dialog.show()
        self._doctor_dialog.raise_()
        self._doctor_dialog.run()
        return self._doctor_dialog

    def _subscription_ids(self) -> list[str]:
        return [
            n.ref.subscription_id
            for n in self.model.root.walk()
            if n.kind is NodeKind.SUBSCRIPTION and hasattr(n.ref, "subscription_id")
        ]

    # -- slots --------------------------------------------------------------------------------
    def _update_tree_note(self, *_args: object) -> None:
        """Say what the tree is doing while it has no rows (starting, failed, empty)."""
        root = self.model.root
        text = ""
        if root.failed is not None:
            text = f"Could not list tenants: {root.failed.summary} {root.failed.remedy}"
        elif not root.children:
            text = (
                "No tenants are visible to this account. Sign in with File > Sign in…"
                if isinstance(root.load_state, Loaded)
                else "Signing in and listing tenants…"
            )
        elif self.proxy.filtering and self.proxy.rowCount() == 0:
            text = self.proxy.empty_words(self.search.text())
        self.tree_note.setText(text.strip())
        self.tree_note.setVisible(bool(text))

    def _on_search_text_changed(self, text: str) -> None:
        self.proxy.set_search(text)
        self._show_hits()

    def _on_proxy_rows_inserted(self, *_args: object) -> None:
        if self.proxy.filtering and not self._hits_pending:
            self._hits_pending = True  # rows come in pages: expand once they settle
            QTimer.singleShot(0, self, self._show_hits)

    def _show_hits(self) -> None:
        """Expand the rows leading to search hits; say so when nothing matches."""
        self._hits_pending = False
        if self.proxy.filtering:
            self._expand_shown(QModelIndex())
        self._update_tree_note()

    def _expand_shown(self, parent: QModelIndex) -> None:
        for row in range(self.proxy.rowCount(parent)):
            index = self.proxy.index(row, 0, parent)
            if self.proxy.rowCount(index) > 0:
                self.tree.expand(index)
                self._expand_shown(index)

    def _on_quick_clicked(self, button: QToolButton) -> None:
        quick = next((q for q, b in self.quick_buttons.items() if b is button), QuickFilter.ALL)
        if quick is not QuickFilter.ALL:
            self.model.load_all_servers()
        self.proxy.set_quick_filter(quick)
        self._show_hits()

    def _on_tree_node_selected(self, node: ResourceNode | None) -> None:
        self.details.show_node(node)

    def _on_model_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        current = self.tree.current_node()
        if current is None:
            return
        # one range for many rows (the protection scan updates a servers group at once)
        if self.model.node(top_left) is current or (
            current.parent is not None
            and current.parent is self.model.node(top_left).parent
            and top_left.row() <= current.row() <= bottom_right.row()
        ):
            self.details.show_node(current)

    def _on_protection_changed(self) -> None:
        if self._closed:
            return  # late results after close: nothing to draw, no timer to leave running
        if self._coverage_timer.isActive():
            return  # a redraw is due shortly and will count this change too
        if time.monotonic() - self._coverage_at >= COVERAGE_EVERY_MS / 1000:
            self._refresh_coverage()
        else:
            self._coverage_timer.start()

    def _refresh_coverage(self) -> None:
        self._coverage_timer.stop()
        self._coverage_at = time.monotonic()
        self.coverage.refresh()

    def _flush_coverage(self) -> None:
        if self._coverage_timer.isActive():
            self._refresh_coverage()

    def _on_model_load_failed(self, node: ResourceNode, error: object) -> None:
        what = "tenants" if node is self.model.root else node.label
        self.statusBar().showMessage(
            f"Could not list {what}: {getattr(error, 'summary', error)}", 8000
        )

    def _on_model_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        nodes = [self.model.node(self.model.index(r, 0, parent)) for r in range(first, last + 1)]
        wanted = [n for n in nodes if n.kind in _AUTO_EXPAND]
        if wanted:
            QTimer.singleShot(0, self, lambda: self._expand(wanted))

    def _expand(self, nodes: list[ResourceNode]) -> None:
        for node in nodes:
            index = self.proxy.mapFromSource(self.model.index_of(node))
            if index.isValid():
                self.tree.expand(index)

    def _on_bridge_finished(
        self, job_id: str, _result: object, _error: object, _cancelled: bool
    ) -> None:
        # also after a failure or cancel: the job may have created part of its work
        if self._job_resources is not None:
            self.refresh_resources(self._job_resources(job_id))

    def _on_tree_action_requested(self, action: str, node: ResourceNode) -> None:
        if action == NodeAction.REFRESH.value:
            self.refresh_node(node)
        elif action == NodeAction.RETRY.value:
            self.model.retry(self.model.index_of(node))
        elif action == NodeAction.OPEN_PORTAL.value:
            url = portal_url(node, self._portal_base)
            if url:
                self._open_url(url)
        else:
            self._dispatch(action, node)

    def _on_jobs_job_failed(self, job_id: str, error: object) -> None:
        """A job failed: the Jobs tab comes up, and the desktop is told if we're not in front."""
        self.bottom_dock.show()
        self.bottom_tabs.setCurrentWidget(self.jobs)
        i = self.jobs.model.row_of(job_id)
        row = self.jobs.model.rows()[i] if i >= 0 else None
        title = row.title if row is not None else "A job"
        text = row.message if row is not None else getattr(error, "summary", "")
        self.notifier.notify(f"{title}: {row.state if row else 'Failed'}", text)

    def _on_jobs_restore_succeeded(self, job_id: str) -> None:
        """A restore succeeded: its result view opens, the new server is selected."""
        dialog = self.jobs.open_result(job_id)
        if dialog is None:
            return
        self.notifier.notify(dialog.windowTitle(), dialog.summary.outcome.headline, failure=False)
        if dialog.summary.target_server_id:
            self.reveal_resource(dialog.summary.target_server_id)

    def reveal_resource(self, resource_id: str) -> None:
        """Select the row showing ``resource_id``, now or as soon as it is listed."""
        node = self.model.find_resource(resource_id)
        if node is None:
            self._reveal_pending = resource_id
            for group in self.model.containers_for(resource_id):
                self.tree.expand(self.proxy.mapFromSource(self.model.index_of(group)))
            return
        self._reveal_pending = ""
        index = self.proxy.mapFromSource(self.model.index_of(node))
        if index.isValid():
            self.tree.setCurrentIndex(index)
            self.tree.scrollTo(index)

    def _on_model_rows_inserted_reveal(self, parent: QModelIndex, first: int, last: int) -> None:
        if not self._reveal_pending:
            return
        rid = self._reveal_pending
        nodes = [self.model.node(self.model.index(r, 0, parent)) for r in range(first, last + 1)]
        if any(node.matches(rid) for node in nodes):
            # The refresh that listed it also means to select the old current row again when
            # its page comes back (a later page when names sort after it): this one wins.
            self.keeper.drop_selection()
            # the proxy maps the new rows once this insertion is over
            QTimer.singleShot(0, self, lambda: self.reveal_resource(rid))

    def _on_jobs_job_action(self, action: str, request: object) -> None:
        self._dispatch(action, request)

    def _dispatch(self, action: str, node: ResourceNode | object | None) -> None:
        handler = self._handlers.get(action)
        if handler is None:
            name = _ACTION_NAMES.get(action, action)
            self.presenter.show_notice(f"{name} is coming soon in this build.")
            return
        try:
            handler(node)
        except AppError as err:  # expected: told to the user, no traceback in the log
            log.info("Action %s refused: %s", action, err.summary)
            self.presenter.show_error(err)
        except Exception as exc:
            log.exception("Action %s failed", action)
            self.presenter.show_error(exc)

    # -- state --------------------------------------------------------------------------------
    def _restore_state(self) -> None:
        geometry = self._settings.value("main/geometry")
        state = self._settings.value("main/state")
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray | bytes):
            self.restoreState(state)

    def save_state(self) -> None:
        self._settings.setValue("main/geometry", self.saveGeometry())
        self._settings.setValue("main/state", self.saveState())
        self._settings.sync()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        old = event.oldSize()
        self._fit_docks(old.width() if old.isValid() else 0, old.height() if old.isValid() else 0)

    def _fit_docks(self, old_width: int = 0, old_height: int = 0) -> None:
        """Docks keep their share of the window as it shrinks or grows.

        Qt keeps a dock's pixels: shrunk to 1024x700 and back, the tree stayed 320 px wide
        in a 1400 px window, its status column cut off. Scale each dock with the window,
        within its maximum share.
        """
        tree_max = max(320, int(self.width() * _TREE_SHARE))
        if self.tree_dock.isVisible():
            width = self.tree_dock.width()
            if old_width > 0 and self.width() > old_width:
                width = int(width * self.width() / old_width)
            width = min(width, tree_max)
            if width != self.tree_dock.width():
                self.resizeDocks([self.tree_dock], [width], Qt.Orientation.Horizontal)
        bottom_max = max(160, int(self.height() * _BOTTOM_SHARE))
        if self.bottom_dock.isVisible():
            height = self.bottom_dock.height()
            if old_height > 0 and self.height() > old_height:
                height = int(height * self.height() / old_height)
            height = min(height, bottom_max)
            if height != self.bottom_dock.height():
                self.resizeDocks([self.bottom_dock], [height], Qt.Orientation.Vertical)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._closed = True
        self._coverage_timer.stop()
        self.save_state()
        self.jobs.close_dialogs()
        self.log_panel.detach()
        self.activity.detach()
        self.notifier.close()
        self.presenter.close()
        super().closeEvent(event)
