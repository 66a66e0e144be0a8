"""The restore-as-server wizard (vaulted backup v2): point → target, rule by rule → Restore.

Three pages over a :class:`~pgflex_gui.ui.wizards.restore_server.flow.ServerRestoreFlow`.
Listings (the vault, the recovery points, the servers in the vault's region, the target's
checks) run as keyed tasks; the checks are ``jobs.restore_as_server.check_target``, the same
pre-flight the job runs again before it sends anything. Restore (Finish) hands the plan to
``start_restore`` (the restore lane) and closes; the vault's role on the target, when ticked,
is assigned by the job, after its own checks, never by the wizard.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
    QWizard,
)

from pgflex_gui.domain.backup_kind import kind_words
from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BackupInstance, FlexServer, RecoveryPoint, Vault
from pgflex_gui.domain.ports import InventoryPort
from pgflex_gui.domain.restore_as_server import CheckStatus, TargetCheck
from pgflex_gui.domain.server_restore_plan import ServerRestorePlan
from pgflex_gui.jobs.restore_as_server import ServerRestoreArm, check_target, source_facts
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.wizards.common import FlowPage, inline_label
from pgflex_gui.ui.wizards.restore_server.flow import (
    ROLE_NAME,
    InvalidPlan,
    ServerRestoreFlow,
    ServerStep,
    target_needs,
)

__all__ = ["ServerRestoreServices", "ServerRestoreWizard", "open_server_restore_wizard"]

log = logging.getLogger(__name__)


def checks_html(checks: Iterable[TargetCheck]) -> str:
    """The target's rules as a table: rule, result, what was found, what to do."""
    rows = []
    for c in checks:
        colour = _COLOURS[c.status]
        rows.append(
            f"<tr><td><b>{escape(c.title, quote=False)}</b></td>"
            f"<td style='color:{colour}'>{_STATUS[c.status]}</td>"
            f"<td>{escape(c.message, quote=False)}</td>"
            f"<td><i>{escape(c.remedy, quote=False)}</i></td></tr>"
        )
    if not rows:
        return ""
    head = "<tr><th align=left>Rule</th><th align=left>Result</th><th align=left>Found</th>"
    head += "<th align=left>What to do</th></tr>"
    return f"<table cellspacing=0 cellpadding=3 width='100%'>{head}{''.join(rows)}</table>"


_COLOURS = {
    CheckStatus.PASS: "#1b6e20",
    CheckStatus.FAIL: "#b00020",
    CheckStatus.UNKNOWN: "#9a6700",
}
_STATUS = {
    CheckStatus.PASS: "✔ passes",
    CheckStatus.FAIL: "✖ fails",
    CheckStatus.UNKNOWN: "⚠ unknown",
}


@dataclass(frozen=True)
class ServerRestoreServices:
    """What the wizard reads through: the inventory (points, servers) and the pre-flight port."""

    inventory: InventoryPort
    arm: ServerRestoreArm
    tasks: TaskManager


# -- work on worker threads ---------------------------------------------------------------------


def candidate_servers(inventory: InventoryPort, vault: Vault) -> list[FlexServer]:
    """Every server of the vault's tenant (a target may be in another subscription of it)."""
    subscriptions: list[str] = []
    for tenant in inventory.list_tenants():
        if vault.tenant_id and tenant.tenant_id.lower() != vault.tenant_id.lower():
            continue
        subscriptions += [s.subscription_id for s in inventory.list_subscriptions(tenant.tenant_id)]
    if vault.id.subscription_id.lower() not in {s.lower() for s in subscriptions}:
        subscriptions.append(vault.id.subscription_id)
    servers: list[FlexServer] = []
    for sub in subscriptions:
        for page in inventory.iter_servers(sub):
            servers.extend(page)
    return servers


def checks_for(
    arm: ServerRestoreArm, vault_id: ResourceId, source_id: str, target_id: ResourceId
) -> list[TargetCheck]:
    """The target's rules on fresh facts: the vault (its identity), the source, the target."""
    vault = arm.get_vault(vault_id)
    _source, facts = source_facts(arm, ResourceId.parse(source_id))
    return check_target(arm, target_id, facts, vault)


# -- pages --------------------------------------------------------------------------------------


class PointPage(FlowPage):
    """The v2 recovery point to restore."""

    step = ServerStep.POINT

    def __init__(self, flow: ServerRestoreFlow) -> None:
        super().__init__(flow)
        self.flow: ServerRestoreFlow = flow
        self.setTitle("Recovery point")
        self.setSubTitle(
            "A vaulted backup v2 point is a physical copy of the whole server; Azure Backup "
            "restores it onto an empty flexible server."
        )
        self.points = QListWidget()
        self.points.setObjectName("points")
        self.points.currentItemChanged.connect(self._on_pick)
        layout = QVBoxLayout(self)
        layout.addWidget(self.points, 1)
        layout.addWidget(self.general)

    def refresh(self) -> None:
        flow = self.flow
        self.points.blockSignals(True)
        try:
            self.points.clear()
            for point in flow.points or ():
                kind = flow.kind_of(point)
                text = f"{point.time:%Y-%m-%d %H:%M} UTC · {kind_words(kind)}"
                if point.retention_tag:
                    text += f" · {point.retention_tag}"
                if kind == "v1":
                    text += " · restores as files (use Restore…)"
                item = QListWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, point.recovery_point_id)
                self.points.addItem(item)
                if (
                    flow.point is not None
                    and point.recovery_point_id == flow.point.recovery_point_id
                ):
                    self.points.setCurrentItem(item)
        finally:
            self.points.blockSignals(False)

    def _on_pick(self, item: QListWidgetItem | None, _old: QListWidgetItem | None) -> None:
        if item is not None:
            self.flow.choose_point(str(item.data(Qt.ItemDataRole.UserRole)))


class TargetPage(FlowPage):
    """The server to restore onto, and every target rule with its result and its fix."""

    step = ServerStep.TARGET

    def __init__(self, flow: ServerRestoreFlow, recheck: Callable[[], None]) -> None:
        super().__init__(flow)
        self.flow: ServerRestoreFlow = flow
        self.setTitle("Target server")
        self.setSubTitle(
            "Azure Backup never creates the target: pick an empty flexible server. Each rule "
            "Azure validates is checked here first."
        )
        self.targets = QComboBox()
        self.targets.setObjectName("targets")
        self.targets.currentIndexChanged.connect(self._on_pick)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("refresh")
        self.refresh_button.clicked.connect(recheck)
        row = QHBoxLayout()
        row.addWidget(QLabel("Restore onto:"))
        row.addWidget(self.targets, 1)
        row.addWidget(self.refresh_button)
        self.needs = QLabel()
        self.needs.setObjectName("needs")
        self.needs.setWordWrap(True)
        self.checks = QLabel()
        self.checks.setObjectName("checks")
        self.checks.setTextFormat(Qt.TextFormat.RichText)
        self.checks.setWordWrap(True)
        self.checks.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.StyledPanel)
        scroll.setWidget(self.checks)
        self.grant = QCheckBox(f"Assign '{ROLE_NAME}' on the target to the vault's identity")
        self.grant.setObjectName("grant_role")
        self.grant.toggled.connect(flow.set_grant_role)
        self.role_issues = inline_label()
        self.bind_issues("target.role", self.role_issues)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.needs)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.grant)
        layout.addWidget(self.role_issues)
        layout.addWidget(self.general)

    def refresh(self) -> None:
        flow = self.flow
        self.targets.blockSignals(True)
        try:
            self.targets.clear()
            self.targets.addItem("— pick a server —", "")
            for choice in flow.targets or ():
                self.targets.addItem(choice.label, str(choice.server.id))
            index = 0
            if flow.target is not None:
                found = self.targets.findData(str(flow.target.id))
                index = max(found, 0)
            self.targets.setCurrentIndex(index)
        finally:
            self.targets.blockSignals(False)
        needs = target_needs(flow.source, flow.vault)
        if flow.other_region:
            region = flow.vault.location if flow.vault is not None else "the vault's region"
            needs += (
                f" {flow.other_region} server(s) outside {region} are not offered: a restore "
                "as server lands in the vault's region."
            )
        self.needs.setText(needs)
        self.checks.setText(checks_html(flow.checks or ()))
        self.grant.setVisible(flow.role_fixable)
        self.grant.blockSignals(True)
        self.grant.setChecked(flow.grant_role)
        self.grant.blockSignals(False)

    def _on_pick(self, index: int) -> None:
        server_id = self.targets.itemData(index) or ""
        self.flow.choose_target(str(server_id))


class SummaryPage(FlowPage):
    """What Restore will do, in order."""

    step = ServerStep.SUMMARY

    def __init__(self, flow: ServerRestoreFlow) -> None:
        super().__init__(flow)
        self.flow: ServerRestoreFlow = flow
        self.setTitle("Summary")
        self.setSubTitle("Restore starts a job; follow it in the Jobs panel.")
        self.lines = QLabel()
        self.lines.setObjectName("summary")
        self.lines.setWordWrap(True)
        self.commit_state = QLabel()
        self.commit_state.setObjectName("commit_state")
        self.commit_state.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.lines)
        layout.addStretch(1)
        layout.addWidget(self.general)
        layout.addWidget(self.commit_state)

    def refresh(self) -> None:
        self.lines.setText(
            "\n\n".join(f"{i}. {t}" for i, t in enumerate(self.flow.summary_lines(), 1))
        )


# -- the wizard ---------------------------------------------------------------------------------


class ServerRestoreWizard(QWizard):
    """Restore a vaulted backup v2 point as a server.

    Signals:
        committed(str): the job id ``start_restore`` returned.
    """

    committed = Signal(str)

    def __init__(
        self,
        flow: ServerRestoreFlow,
        services: ServerRestoreServices,
        start_restore: Callable[[ServerRestorePlan], str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ServerRestoreWizard")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle(f"Restore {flow.label} as a server")
        self.resize(960, 640)
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.flow = flow
        self.services = services
        self._start_restore = start_restore
        self.job_id: str | None = None
        self.point_page = PointPage(flow)
        self.target_page = TargetPage(flow, self.reload_targets)
        self.summary_page = SummaryPage(flow)
        for step, page in (
            (ServerStep.POINT, self.point_page),
            (ServerStep.TARGET, self.target_page),
            (ServerStep.SUMMARY, self.summary_page),
        ):
            self.setPage(int(step), page)
        self.setStartId(int(ServerStep.POINT))
        self.setButtonText(QWizard.WizardButton.FinishButton, "Restore")
        flow.subscribe(self._on_flow_changed)
        self._checked_for = ""
        self.finished.connect(lambda _r: flow.clear_listeners())
        self._load()

    # -- listings ----------------------------------------------------------------------------
    def _key(self, what: str) -> tuple[str, str, int]:
        return ("server-restore", what, id(self))

    def _load(self) -> None:
        flow, tasks = self.flow, self.services.tasks
        if flow.instance is None:
            flow.set_points([], "no backup instance is selected")
            return
        if flow.vault is None:
            tasks.task(self.services.arm.get_vault, flow.instance.vault_id).keyed(
                self._key("vault")
            ).on_success(self._on_vault).on_failure(
                lambda e: flow.set_points([], e.summary)
            ).start()
            return
        self._load_source()
        self._load_points()
        self.reload_targets()

    def _load_source(self) -> None:
        """The protected server's version and disk, for what a target must be (may be gone)."""
        flow = self.flow
        if flow.source is not None or flow.instance is None:
            return
        self.services.tasks.task(self.services.arm.get_server, flow.instance.datasource_id).keyed(
            self._key("source")
        ).on_success(flow.set_source).on_failure(
            lambda e: log.info("Source server not read: %s", e.summary)
        ).start()

    def _on_vault(self, vault: Vault) -> None:
        self.flow.vault = vault
        self._load_source()
        self._load_points()
        self.reload_targets()

    def _load_points(self) -> None:
        flow = self.flow
        assert flow.instance is not None
        self.services.tasks.task(
            self.services.inventory.list_recovery_points, flow.instance.id
        ).keyed(self._key("points")).on_success(flow.set_points).on_failure(
            lambda e: flow.set_points([], e.summary)
        ).start()

    def reload_targets(self) -> None:
        """List the candidate servers again, and check the chosen one again (Refresh)."""
        flow = self.flow
        if flow.vault is None:
            return
        self._checked_for = ""
        flow.checks = None
        self.services.tasks.task(candidate_servers, self.services.inventory, flow.vault).keyed(
            self._key("targets")
        ).on_success(flow.set_targets).on_failure(lambda e: flow.set_targets([], e.summary)).start()

    def _on_flow_changed(self) -> None:
        target, flow = self.flow.target, self.flow
        if target is None or flow.vault is None or flow.checks is not None:
            return
        wanted = str(target.id)
        if self._checked_for.lower() == wanted.lower():
            return
        self._checked_for = wanted

        def done(checks: list[TargetCheck]) -> None:
            flow.set_checks(wanted, checks)

        def failed(exc: AppError) -> None:
            flow.set_checks(wanted, [], exc.summary)

        self.services.tasks.task(
            checks_for, self.services.arm, flow.vault.id, flow.source_id, target.id
        ).keyed(self._key("checks")).on_success(done).on_failure(failed).start()

    # -- commit ------------------------------------------------------------------------------
    def accept(self) -> None:
        if self.job_id is not None:
            super().accept()
            return
        try:
            plan = self.flow.plan()
            self.job_id = self._start_restore(plan)
        except InvalidPlan as exc:
            self.summary_page.commit_state.setText(str(exc))
            return
        except AppError as exc:
            self.summary_page.commit_state.setText(str(exc))
            return
        log.info("Restore as server %s started onto %s", self.job_id, plan.target_name)
        self.committed.emit(self.job_id)
        super().accept()

    def reject(self) -> None:
        for what in ("vault", "source", "points", "targets", "checks"):
            self.services.tasks.invalidate(self._key(what))
        super().reject()


def open_server_restore_wizard(
    parent: QWidget | None,
    *,
    vault: Vault | None,
    instance: BackupInstance | None,
    source: FlexServer | None,
    recovery_point: RecoveryPoint | None,
    services: ServerRestoreServices,
    start_restore: Callable[[ServerRestorePlan], str],
) -> ServerRestoreWizard:
    """Build and show (non-modal) the restore-as-server wizard; returns it."""
    flow = ServerRestoreFlow(vault, instance, source, recovery_point)
    wizard = ServerRestoreWizard(flow, services, start_restore, parent)
    wizard.setModal(False)
    wizard.show()
    return wizard
