"""The Configure-backup QWizard: wires pages, background listings and the commit job."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BackupInstance, FlexServer, RoleAssignment, Vault
from pgflex_gui.domain.ports import InventoryPort
from pgflex_gui.domain.preflight import GrantScope, grant_scope
from pgflex_gui.domain.regions import normalize_region
from pgflex_gui.domain.retention import RetentionKind
from pgflex_gui.jobs.manage import list_databases
from pgflex_gui.jobs.protect import (
    AdhocBackupJob,
    ProtectionPort,
    ProtectJob,
    ProtectResult,
    RetryPolicy,
    ServicePort,
)
from pgflex_gui.jobs.runner import JobRunner
from pgflex_gui.keystore import server_admin_key
from pgflex_gui.ui.dialogs.db_credentials import DbCredentials, DbCredentialsDialog
from pgflex_gui.ui.panels.jobs import RunnerBridge
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.wizards.policy.flow import Choice, PolicyFlow
from pgflex_gui.ui.wizards.policy.pages import (
    PermissionsPage,
    PolicyPage,
    PreflightPage,
    SummaryPage,
    VaultPage,
)
from pgflex_gui.ui.workflows import bridge_runner

__all__ = ["PolicyWizard", "WizardServices", "open_policy_wizard"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WizardServices:
    """What the wizard talks to: listings, and the protection port for roles and the job."""

    inventory: InventoryPort
    protection: ProtectionPort
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    keystore: Any = None  # keystore.Keystore: only when the DBA ticks "remember"
    list_databases: Callable[..., list[tuple[str, str]]] = list_databases


class DonePage(QWizardPage):
    """Progress of the commit job, its outcome, then "Backup now"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Configuring protection")
        self.status = QLabel("Starting…")
        self.status.setObjectName("job_status")
        self.status.setWordWrap(True)
        self.retention = QComboBox()
        self.backup_now = QPushButton("Backup now")
        self.backup_now.setObjectName("backup_now")
        row = QHBoxLayout()
        row.addWidget(QLabel("Keep the on-demand backup as:"))
        row.addWidget(self.retention)
        row.addWidget(self.backup_now)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(row)
        layout.addStretch(1)
        self.set_backup_choices([])
        self._finished = False

    def set_backup_choices(self, kinds: list[RetentionKind]) -> None:
        self.retention.clear()
        for kind in kinds:
            self.retention.addItem(kind.value, kind.value)
        for w in (self.retention, self.backup_now):
            w.setEnabled(bool(kinds))

    def mark_finished(self) -> None:
        self._finished = True
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self._finished


class PolicyWizard(QWizard):
    """Configure backup for one or more servers (issue 6).

    Args:
        flow: the Qt-free flow holding the draft.
        services: inventory and protection port.
        tasks: runs the background listings.
        runner: runs the commit job on the ``arm-write`` lane.

    Signals:
        job_started(str): the id of the ProtectJob (or "Backup now" job) just submitted.
        job_finished(str, object, object, bool): job id, result, AppError or None, cancelled.
    """

    job_started = Signal(str)
    job_finished = Signal(str, object, object, bool)

    def __init__(
        self,
        flow: PolicyFlow,
        services: WizardServices,
        tasks: TaskManager,
        runner: JobRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("PolicyWizard")
        # Non-modal and parented to the window: delete it on close, or every wizard opened
        # stays alive (with its runner subscription) until the window goes.
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle("Configure backup")
        self.resize(960, 680)  # room for the recovery-point list and the inline issues
        self.flow = flow
        self._services = services
        self._tasks = tasks
        self._runner = runner
        self._job_id: str | None = None
        self._result: ProtectResult | None = None
        self._loaded_vault: ResourceId | None = None
        self._adhoc_ids: set[str] = set()
        self._kinds: list[RetentionKind] = [RetentionKind.DEFAULT]
        self._keys: set[Hashable] = set()  # task keys to invalidate when the wizard closes
        self._bridge = RunnerBridge(self)
        self._unsubscribe = bridge_runner(runner, self._bridge)
        self.finished.connect(self._on_self_finished)
        self._bridge.progress.connect(self._on_bridge_progress)
        self._bridge.finished.connect(self._on_bridge_finished)

        self.vault_page = VaultPage(flow)
        self.policy_page = PolicyPage(flow)
        self.preflight_page = PreflightPage(flow)
        self.permissions_page = PermissionsPage(flow)
        self.summary_page = SummaryPage(flow, self._commit)
        self.done_page = DonePage()
        for page in (
            self.vault_page,
            self.policy_page,
            self.preflight_page,
            self.permissions_page,
            self.summary_page,
            self.done_page,
        ):
            self.addPage(page)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Protect")
        self.permissions_page.revalidate_requested.connect(self._load_assignments)
        self.preflight_page.databases_requested.connect(self._on_databases_requested)
        # ask_credentials(server, on_given): calls on_given(credentials) only if the DBA gives them
        self.ask_credentials: Callable[[FlexServer, Callable[[DbCredentials], None]], None] = (
            self._ask_credentials
        )
        self.done_page.backup_now.clicked.connect(self._on_backup_now_clicked)
        flow.subscribe(self._on_flow_changed)
        self._load_vaults()
        self._load_caller_rights()

    # -- life cycle ---------------------------------------------------------------------------
    def _key(self, name: str, *parts: str) -> Hashable:
        key = (name, id(self), *parts)
        self._keys.add(key)
        return key

    def _on_self_finished(self, _result: int) -> None:
        """Closing: stop listening to the runner and drop listings still on their way."""
        self._unsubscribe()
        for key in self._keys:
            self._tasks.invalidate(key)

    # -- background listings ------------------------------------------------------------------
    def _load_vaults(self) -> None:
        inventory = self._services.inventory
        servers = self.flow.servers
        self._tasks.task(_all_vaults, inventory, servers).keyed(
            self._key("wizard-vaults")
        ).on_success(self._on_vaults_loaded).on_failure(self.flow.set_vaults_failed).start()

    def _on_vaults_loaded(self, vaults: list[Vault]) -> None:
        self.flow.set_vaults(vaults)
        region = normalize_region(self.flow.servers[0].location)
        in_region = [v for v in vaults if normalize_region(v.location) == region]
        self._tasks.task(
            _protecting_instances, self._services.inventory, in_region, self.flow.servers
        ).keyed(self._key("wizard-instances")).on_success(
            self.flow.set_protecting_instances
        ).on_failure(self._on_instances_failed).start()
        self._on_flow_changed()

    def _on_instances_failed(self, exc: AppError) -> None:
        self.flow.set_instances_failed(exc)
        # still let the DBA go on: Azure refuses a protected server at commit anyway
        self.flow.set_protecting_instances([])

    def _on_flow_changed(self) -> None:
        vault = self.flow.selected_vault()
        if self.flow.vault.mode is Choice.NEW or vault is None:
            self._loaded_vault = None
            return
        if self._loaded_vault is not None and self._loaded_vault.same_as(vault.id):
            return
        self._loaded_vault = vault.id
        key = self._key("wizard-policies")
        self._tasks.invalidate(key)
        vault_id = vault.id
        self._tasks.task(self._services.inventory.list_policies, vault_id).keyed(key).on_success(
            lambda policies: self.flow.set_policies(vault_id, policies)
        ).on_failure(lambda exc: self.flow.set_policies_failed(vault_id, exc)).start()
        self._load_assignments()

    def _load_assignments(self) -> None:
        vault = self.flow.selected_vault()
        if vault is None or not vault.principal_id:
            return
        key = self._key("wizard-roles")
        self._tasks.invalidate(key)
        principal = vault.principal_id
        scopes = [r.scope for r in self.flow.requirements()]
        protection = self._services.protection
        self._tasks.task(_assignments, protection, principal, scopes).keyed(key).on_success(
            lambda found: self.flow.set_assignments(principal, found)
        ).on_failure(lambda exc: self.flow.set_assignments_failed(principal, exc)).start()

    def _load_caller_rights(self) -> None:
        """Before offering "Grant": may the signed-in account assign roles at each scope?"""
        check = getattr(self._services.protection, "can_assign_roles", None)
        if check is None:
            return
        reqs = self.flow.requirements()
        self._tasks.task(_caller_rights, check, reqs).keyed(self._key("wizard-rights")).on_success(
            self.flow.set_caller_rights
        ).on_failure(self.flow.set_caller_rights_failed).start()

    # -- databases not in the backup ----------------------------------------------------------
    def _ask_credentials(
        self, server: FlexServer, on_given: Callable[[DbCredentials], None]
    ) -> None:
        """Window-modal, without a nested event loop: ``on_given`` runs only on OK."""
        dialog = DbCredentialsDialog(server, self, can_remember=self._services.keystore is not None)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def accepted() -> None:
            given = dialog.credentials()
            if given is not None:  # OK is enabled only when nothing is missing
                on_given(given)

        dialog.accepted.connect(accepted)
        dialog.open()

    def _on_databases_requested(self, server: FlexServer) -> None:
        self.ask_credentials(server, lambda creds: self._list_databases(server, creds))

    def _list_databases(self, server: FlexServer, creds: DbCredentials) -> None:
        server_id = server.id
        lister = self._services.list_databases
        self._tasks.task(lister, creds.conn, password=creds.password).keyed(
            self._key("wizard-databases", str(server_id).lower())
        ).on_success(lambda rows: self.flow.set_databases(server_id, rows)).on_failure(
            lambda exc: self.flow.set_databases_failed(server_id, exc)
        ).start()
        keystore = self._services.keystore
        if creds.remember and keystore is not None:
            key = server_admin_key(str(server_id))
            self._tasks.task(keystore.set, key, creds.password).on_failure(
                lambda exc: log.warning("Could not remember the password: %s", exc.summary)
            ).start()

    # -- commit -------------------------------------------------------------------------------
    def _commit(self) -> bool:
        if self._job_id is not None:
            return True
        plan = self.flow.plan()
        job = ProtectJob(plan, self._services.protection, retry=self._services.retry)
        draft = plan.v2_policy_draft or plan.policy_draft
        kinds = [r.kind for r in draft.rules] if draft is not None else []
        if not kinds:
            policy = self.flow.selected_policy()
            for rule in policy.retention if policy else ():
                try:
                    kinds.append(RetentionKind.parse(rule.name))
                except ValueError:
                    continue
        self._kinds = sorted(kinds, key=lambda k: -k.priority) or [RetentionKind.DEFAULT]
        handle = self._runner.submit(job, "arm-write")
        self._job_id = handle.id
        self.setOption(QWizard.WizardOption.DisabledBackButtonOnLastPage, True)
        self.job_started.emit(handle.id)
        return True

    def _on_bridge_progress(self, job_id: str, progress: Any) -> None:
        if job_id == self._job_id:
            self.done_page.status.setText(progress.message)

    def _on_bridge_finished(
        self, job_id: str, result: object, error: object, cancelled: bool
    ) -> None:
        if job_id != self._job_id:
            if job_id in self._adhoc_ids:
                text = "Backup started." if error is None else f"Backup failed: {error}"
                self.done_page.status.setText(text)
                self.job_finished.emit(job_id, result, error, cancelled)
            return
        if cancelled:
            self.done_page.status.setText("Cancelled. Partial work was undone.")
        elif isinstance(error, AppError):
            self.done_page.status.setText(f"Failed: {error}")
        elif isinstance(result, ProtectResult):
            self._result = result
            names = ", ".join(i.name for i in result.instances)
            self.done_page.status.setText(f"Protection configured: {names}.")
            self.done_page.set_backup_choices(self._kinds)
        self.done_page.mark_finished()
        self.job_finished.emit(job_id, result, error, cancelled)

    def _on_backup_now_clicked(self) -> None:
        if self._result is None:
            return
        kind = RetentionKind.parse(str(self.done_page.retention.currentData() or "Default"))
        for instance in self._result.instances:
            job = AdhocBackupJob(
                self._services.protection,
                instance.id,
                retention=kind,
                label=instance.friendly_name or instance.datasource_id.name,
            )
            handle = self._runner.submit(job, "arm-write")
            self._adhoc_ids.add(handle.id)
            self.job_started.emit(handle.id)
        self.done_page.backup_now.setEnabled(False)


def _all_vaults(inventory: InventoryPort, servers: tuple[FlexServer, ...]) -> list[Vault]:
    """Every vault in every subscription of the servers' tenant (worker thread)."""
    subs: list[str] = []
    for tenant in {s.tenant_id for s in servers if s.tenant_id}:
        subs += [s.subscription_id for s in inventory.list_subscriptions(tenant)]
    for server in servers:
        if server.id.subscription_id not in subs:
            subs.append(server.id.subscription_id)
    out: list[Vault] = []
    for sub in subs:
        for page in inventory.iter_vaults(sub):
            out += page
    return out


def _protecting_instances(
    inventory: InventoryPort, vaults: list[Vault], servers: tuple[FlexServer, ...]
) -> list[tuple[BackupInstance, str]]:
    """Backup instances of the servers in the vaults of their region (worker thread)."""
    out: list[tuple[BackupInstance, str]] = []
    for vault in vaults:
        for bi in inventory.list_backup_instances(vault.id):
            if any(bi.datasource_id.same_as(s.id) for s in servers):
                out.append((bi, vault.name))
    return out


def _assignments(
    protection: ProtectionPort, principal: str, scopes: list[str]
) -> list[RoleAssignment]:
    """Role assignments of ``principal`` at (or above) each scope (worker thread)."""
    found: list[RoleAssignment] = []
    for scope in scopes:
        found += protection.list_role_assignments(principal, scope)
    return found


def _caller_rights(check: Callable[[str], bool], requirements: list[Any]) -> dict[GrantScope, bool]:
    """Per grant scope: may the signed-in account assign every needed role (worker thread)?"""
    cache: dict[str, bool] = {}
    out: dict[GrantScope, bool] = {}
    for choice in GrantScope:
        ok = True
        for req in requirements:
            scope = grant_scope(req, choice)
            if scope.lower() not in cache:
                cache[scope.lower()] = bool(check(scope))
            ok = ok and cache[scope.lower()]
        out[choice] = ok
    return out


def open_policy_wizard(
    parent: QWidget | None,
    servers: list[FlexServer],
    *,
    inventory: InventoryPort,
    protection: Any,
    runner: JobRunner,
    audit: Callable[..., None] | None = None,
    tasks: TaskManager | None = None,
    today: Callable[[], Any] | None = None,
    keystore: Any = None,
    vaulted_v2: Any = None,
) -> PolicyWizard:
    """Build and show the wizard (non-modal); the main window's "Configure backup…" action.

    ``protection`` is an ``azure.protection.ProtectionService`` (wrapped in
    :class:`~pgflex_gui.jobs.protect.ServicePort`) or anything implementing ``ProtectionPort``.
    The service audits its own writes; ``audit`` is accepted for symmetry and unused here.
    ``vaulted_v2`` (an ``azure.vaulted_v2.VaultedV2Service``) lets the job protect with v2;
    without it the job refuses a v2 plan, saying so.
    """
    del audit
    port: ProtectionPort = (
        protection
        if hasattr(protection, "delete_backup_instance")
        else ServicePort(protection, inventory, v2=vaulted_v2)
    )
    day = today() if today is not None else datetime.now(UTC).date()
    flow = PolicyFlow(servers, today=day)
    own_tasks = tasks or TaskManager()
    services = WizardServices(inventory, port, keystore=keystore)
    wizard = PolicyWizard(flow, services, own_tasks, runner, parent)
    if tasks is None:
        own_tasks.setParent(wizard)
        wizard.finished.connect(lambda _r: own_tasks.shutdown(wait=False))
    wizard.show()
    return wizard
