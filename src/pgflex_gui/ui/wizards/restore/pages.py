"""The restore wizard's pages. They bind widgets to the RestoreFlow and nothing more.

Listings (recovery points, storage accounts, containers, role assignments, servers, free
space) run as keyed tasks; their results feed the flow, and the flow's change notification
refreshes the widgets. No slot calls Azure, keyring or the file system directly.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from pgflex_gui.domain.backup_kind import kind_words
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.issues import Issue, Severity
from pgflex_gui.domain.models import BlobContainer, RecoveryPoint, StorageAccount, Subscription
from pgflex_gui.domain.preflight import STORAGE_BLOB_DATA_CONTRIBUTOR_ROLE
from pgflex_gui.domain.regions import REGION_PAIRS, normalize_region
from pgflex_gui.domain.restore_options import CONTENT_CHOICES, RestoreOptions, parse_object_lines
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.wizards.restore.calendar import RecoveryPointCalendar
from pgflex_gui.ui.wizards.restore.flow import (
    Fix,
    IncidentSource,
    ReadAccess,
    RestoreFlow,
    Step,
    describe_time,
)
from pgflex_gui.ui.wizards.restore.objects import ObjectPickerDialog

__all__ = [
    "ContainerPage",
    "IssueList",
    "RestoreServices",
    "ServerPage",
    "SourcePage",
    "SummaryPage",
]

log = logging.getLogger(__name__)

# Glyphs every bundled font has (DejaVu lacks U+26D4).
_ICONS = {Severity.ERROR: "✖", Severity.WARNING: "⚠", Severity.INFO: "ℹ"}
_STATE_WORDS = {"ready": "running", "stopped": "stopped", "starting": "starting"}
_FIX_LABELS = {
    Fix.CROSS_TENANT: "Enable cross-tenant replication",
    Fix.GRANT_ROLE: "Grant Storage Blob Data Contributor to the vault",
    Fix.CREATE_CONTAINER: "Create the container",
}


@dataclass(frozen=True)
class RestoreServices:
    """The collaborators the pages use (all calls run in tasks, never on the GUI thread).

    ``secondary_points``: ``RestoreService.list_secondary_recovery_points`` or None.
    ``roles``: an object with ``list_role_assignments(principal_id, scope)`` and
    ``create_role_assignment(*, scope, role, principal_id)`` (``ProtectionService``), or None.
    ``keystore``: an object with ``set(key, value)`` for a pasted SAS, or None (no SAS option).
    ``free_space``: path → free bytes (default ``shutil.disk_usage``).
    """

    inventory: Any
    storage: Any
    tasks: TaskManager
    secondary_points: Callable[..., list[RecoveryPoint]] | None = None
    roles: Any = None
    keystore: Any = None
    free_space: Callable[[str], int] | None = None
    # Opens the restore-as-server wizard for a v2 point (RestoreSource); None: not offered
    restore_as_server: Callable[[Any], None] | None = None


def _free_bytes(path: str) -> int:
    """Free bytes where ``path`` will be: its nearest existing folder (the download makes it)."""
    folder = Path(path).expanduser().absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


class IssueList(QLabel):
    """Inline issues of one page (rich text, one line each)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("issues")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)

    def show_issues(self, issues: Iterable[Issue]) -> None:
        lines = [f"{_ICONS[i.severity]} {i}" for i in issues]
        self.setText("\n".join(lines))
        self.setVisible(bool(lines))


class _FlowPage(QWizardPage):
    """Common binding: completeness and inline issues follow the flow."""

    step: Step

    def __init__(self, flow: RestoreFlow, services: RestoreServices) -> None:
        super().__init__()
        self.flow = flow
        self.services = services
        self.issue_list = IssueList()
        self._refreshing = False
        flow.subscribe(self._on_flow_changed)

    def _on_flow_changed(self) -> None:
        self._refreshing = True
        try:
            self.refresh()
        finally:
            self._refreshing = False
        self.issue_list.show_issues(self.flow.issues(self.step))
        self.completeChanged.emit()

    def refresh(self) -> None:
        """Bring widgets in line with the flow (override)."""

    def isComplete(self) -> bool:
        return self.flow.can_advance(self.step)

    def validatePage(self) -> bool:
        return self.flow.can_advance(self.step)

    def nextId(self) -> int:
        steps = self.flow.steps()
        if self.step not in steps:
            return -1
        index = steps.index(self.step)
        return int(steps[index + 1]) if index + 1 < len(steps) else -1


# -- 1. source ----------------------------------------------------------------------------------


class SourcePage(_FlowPage):
    """The backup and its recovery point (list and calendar), or "I already have the files"."""

    step = Step.SOURCE

    def __init__(self, flow: RestoreFlow, services: RestoreServices) -> None:
        super().__init__(flow, services)
        self.setTitle("What to restore")
        self.setSubTitle(
            f"Backup of {flow.source.label}"
            if flow.source.selected
            else "No backup is selected: restore from files you already have."
        )
        vault = flow.source.vault
        self.source_label = QLabel(
            f"{flow.source.label}"
            + (f" — vault {vault.name} ({normalize_region(vault.location)})" if vault else "")
        )
        self.source_label.setVisible(flow.source.selected)
        self.secondary = QCheckBox("Secondary region (Cross Region Restore)")
        self.secondary.setObjectName("secondary")
        self.secondary.setVisible(flow.cross_region_offered)
        self.points = QListWidget()
        self.points.setObjectName("points")
        self.calendar = RecoveryPointCalendar()
        self.points_state = QLabel("Loading recovery points…")
        self.as_server = QPushButton("Restore as a server…")
        self.as_server.setObjectName("asServer")
        self.as_server.setToolTip("A v2 (physical) point restores onto an empty flexible server.")
        self.as_server.setVisible(False)
        self.as_server.clicked.connect(self._on_as_server_clicked)

        self.incident = QCheckBox("I already have the files (skip Azure Backup)")
        self.incident.setObjectName("incident")
        self.incident_box = QGroupBox("Files")
        self.incident_url_radio = QRadioButton("Container URL")
        self.incident_folder_radio = QRadioButton("Local folder")
        self.incident_url_radio.setChecked(True)
        self.incident_url = QLineEdit()
        self.incident_url.setObjectName("incidentUrl")
        self.incident_url.setPlaceholderText("https://account.blob.core.windows.net/container")
        self.incident_sas = QLineEdit()
        self.incident_sas.setObjectName("incidentSas")
        self.incident_sas.setEchoMode(QLineEdit.EchoMode.Password)
        self.incident_sas.setPlaceholderText("SAS token (kept in the keyring)")
        self.incident_sas.setEnabled(services.keystore is not None)
        self.incident_folder = QLineEdit()
        self.incident_folder.setObjectName("incidentFolder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        box = QFormLayout(self.incident_box)
        box.addRow(self.incident_url_radio, self.incident_url)
        box.addRow("SAS", self.incident_sas)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.incident_folder)
        folder_row.addWidget(browse)
        box.addRow(self.incident_folder_radio, folder_row)
        self.incident_box.setVisible(False)

        lists = QHBoxLayout()
        lists.addWidget(self.points, 1)
        lists.addWidget(self.calendar)
        layout = QVBoxLayout(self)
        layout.addWidget(self.source_label)
        layout.addWidget(self.secondary)
        layout.addWidget(self.points_state)
        layout.addLayout(lists)
        layout.addWidget(self.incident)
        layout.addWidget(self.incident_box)
        layout.addWidget(self.issue_list)
        layout.addWidget(self.as_server, 0, Qt.AlignmentFlag.AlignLeft)

        self.secondary.toggled.connect(self._on_secondary_toggled)
        self.points.currentItemChanged.connect(self._on_points_current_changed)
        self.calendar.day_chosen.connect(self._on_calendar_day_chosen)
        self.incident.toggled.connect(self._on_incident_changed)
        self.incident_url_radio.toggled.connect(self._on_incident_changed)
        self.incident_url.textChanged.connect(self._on_incident_changed)
        self.incident_folder.textChanged.connect(self._on_incident_changed)
        self.incident_sas.textChanged.connect(self._on_incident_sas_changed)
        self._loaded: set[bool] = set()

    def initializePage(self) -> None:
        self._load(secondary=self.flow.draft.secondary)
        self._on_flow_changed()

    def _load(self, *, secondary: bool) -> None:
        instance, vault = self.flow.source.instance, self.flow.source.vault
        if instance is None or vault is None or secondary in self._loaded:
            return
        self._loaded.add(secondary)
        tasks = self.services.tasks
        key = ("restore-points", str(instance.id), secondary)
        if secondary:
            fetch = self.services.secondary_points
            if fetch is None:
                self.flow.set_points_failed(
                    AppError(Fault.APP, "This build cannot list secondary-region recovery points.")
                )
                return
            task = tasks.task(
                fetch,
                instance.id,
                source_region=normalize_region(vault.location),
                secondary_region=self.flow.restore_region(),
            )
        else:
            task = tasks.task(self.services.inventory.list_recovery_points, instance.id)
        self.points_state.setText("Loading recovery points…")
        task.keyed(key).on_success(
            lambda points: self.flow.set_points(points, secondary=secondary)
        ).on_failure(self.flow.set_points_failed).in_lane("arm-read").start()

    def refresh(self) -> None:
        flow = self.flow
        d = flow.draft
        self.secondary.setChecked(d.secondary)
        visible = flow.visible_points()
        if flow.source.instance is None:
            self.points_state.setText("No backup to list recovery points of.")
        elif flow.points_error is not None:
            self.points_state.setText(flow.points_error.summary)
        else:
            self.points_state.setText(
                f"{len(visible)} recovery point(s); times in local time and UTC."
            )
        self.points.clear()
        instance = flow.source.instance
        mixed = instance is not None and instance.backup_kind != "v1"
        for p in visible:
            label = describe_time(p.time)
            if mixed:  # a v2 (or migrated) instance: say which points restore as files
                label = f"{label} · {kind_words(flow.point_kind(p))}"
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, p.recovery_point_id)
            item.setToolTip(p.recovery_point_id)
            self.points.addItem(item)
            if d.recovery_point is not None and p.recovery_point_id == (
                d.recovery_point.recovery_point_id
            ):
                self.points.setCurrentItem(item)
        self.calendar.set_days(flow.point_days(), flow.point_day_kinds())
        if d.recovery_point is not None:
            self.calendar.select_day(d.recovery_point.time.astimezone().date())
        in_incident = flow.incident_mode
        self.incident.setChecked(in_incident)
        self.incident_box.setVisible(in_incident)
        for widget in (self.points, self.calendar, self.secondary):
            widget.setEnabled(not in_incident)
        has_backup = flow.source.instance is not None  # nothing to list: leave the room
        self.points.setVisible(has_backup)
        self.calendar.setVisible(has_backup)
        self.secondary.setVisible(has_backup and flow.cross_region_offered)
        point = d.recovery_point
        self.as_server.setVisible(
            self.services.restore_as_server is not None
            and point is not None
            and not in_incident
            and flow.point_kind(point) != "v1"  # v2, or unknown on a v2/migrated instance
        )

    def _on_as_server_clicked(self) -> None:
        """Hand the v2 point to the restore-as-server wizard; this one closes."""
        opener = self.services.restore_as_server
        point = self.flow.draft.recovery_point
        if opener is None or point is None:
            return
        src = self.flow.source
        opener(dataclasses.replace(src, recovery_point=point))
        wizard = self.wizard()
        if wizard is not None:
            wizard.reject()

    def _on_secondary_toggled(self, on: bool) -> None:
        if self._refreshing:
            return
        self.flow.set_secondary(on)
        self._load(secondary=self.flow.draft.secondary)

    def _on_points_current_changed(self, item: QListWidgetItem | None, _prev: object) -> None:
        if self._refreshing or item is None:
            return
        self.flow.choose_point(item.data(Qt.ItemDataRole.UserRole))

    def _on_calendar_day_chosen(self, day: date) -> None:
        on_day = self.flow.points_on(day)
        if on_day:
            self.flow.choose_point(on_day[0].recovery_point_id)

    def _on_incident_changed(self, *_args: object) -> None:
        if self._refreshing:
            return
        if not self.incident.isChecked():
            self.flow.set_incident(IncidentSource.NONE)
            return
        kind = (
            IncidentSource.CONTAINER
            if self.incident_url_radio.isChecked()
            else IncidentSource.FOLDER
        )
        self.flow.set_incident(
            kind, url=self.incident_url.text(), folder=self.incident_folder.text()
        )

    def _on_incident_sas_changed(self, text: str) -> None:
        self.flow.update(sas_supplied=bool(text.strip()))

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder holding the restored files")
        if folder:
            self.incident_folder.setText(folder)

    def sas_text(self) -> str:
        """The pasted SAS (incident mode), for the keystore at commit; never in the flow."""
        return self.incident_sas.text().strip().lstrip("?")


# -- 2. container -------------------------------------------------------------------------------


class ContainerPage(_FlowPage):
    """Target storage account and container, pre-flight issues, fixes, and how to read it."""

    step = Step.CONTAINER

    def __init__(self, flow: RestoreFlow, services: RestoreServices) -> None:
        super().__init__(flow, services)
        self.setTitle("Where Azure Backup writes the files")
        self.region_label = QLabel()
        self.accounts = QComboBox()
        self.accounts.setObjectName("accounts")
        self.excluded = QLabel()
        self.excluded.setObjectName("excluded")
        self.excluded.setWordWrap(True)
        self.containers = QComboBox()
        self.containers.setObjectName("containers")
        self.containers.setEditable(True)
        self.containers.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.prefix = QLineEdit()
        self.prefix.setObjectName("prefix")
        self.prefix.setPlaceholderText("only list blobs under this prefix (optional)")
        self.fix_box = QGroupBox("Fixes (run when you press Restore, or now)")
        self.fix_layout = QVBoxLayout(self.fix_box)
        self.fix_buttons: dict[Fix, QPushButton] = {}
        self.fix_now: dict[Fix, QPushButton] = {}
        for fix in Fix:
            row = QHBoxLayout()
            at_commit = QPushButton(_FIX_LABELS[fix])
            at_commit.setCheckable(True)
            at_commit.setObjectName(f"fix-{fix.value}")
            at_commit.toggled.connect(lambda on, f=fix: self._on_fix_toggled(f, on))
            now = QPushButton("Do it now")
            now.setObjectName(f"fixnow-{fix.value}")
            now.clicked.connect(lambda _=False, f=fix: self._on_fix_now_clicked(f))
            row.addWidget(at_commit, 1)
            row.addWidget(now)
            self.fix_layout.addLayout(row)
            self.fix_buttons[fix] = at_commit
            self.fix_now[fix] = now
        self.template = QPushButton("Copy role template (ARM JSON)")
        self.template.setObjectName("copyTemplate")
        self.template.clicked.connect(self._on_template_clicked)
        self.fix_layout.addWidget(self.template)
        self.fix_state = QLabel()
        self.fix_layout.addWidget(self.fix_state)

        self.read_group = QButtonGroup(self)
        self.read_buttons: dict[ReadAccess, QRadioButton] = {}
        read_box = QGroupBox("How this app reads the container")
        read_layout = QVBoxLayout(read_box)
        for access, text in (
            (ReadAccess.ENTRA, "My Entra sign-in (Storage Blob Data Reader or more)"),
            (ReadAccess.ACCOUNT_KEY, "The account key (listKeys; kept in memory, never stored)"),
            (
                ReadAccess.APP_SAS,
                "A read-only SAS this app makes for the download (valid 8 hours, nothing to paste)",
            ),
            (ReadAccess.SAS, "A SAS I paste (kept in the keyring)"),
        ):
            button = QRadioButton(text)
            button.setObjectName(f"read-{access.value}")
            self.read_group.addButton(button)
            self.read_buttons[access] = button
            read_layout.addWidget(button)
            refusal = flow.read_access_refusal(access, keyring=services.keystore is not None)
            button.setEnabled(not refusal)  # offer only the ways that work here
            button.setToolTip(refusal)
        self.sas = QLineEdit()
        self.sas.setObjectName("sas")
        self.sas.setEchoMode(QLineEdit.EchoMode.Password)
        self.make_sas = QPushButton("Make one for me (read + list, 8 hours)")
        self.make_sas.setObjectName("makeSas")
        self.make_sas.setToolTip(
            "The app signs a SAS for this container with your user delegation key (or the "
            "account key); it goes to the keyring like a pasted one."
        )
        self.make_sas.clicked.connect(self._on_make_sas_clicked)
        self.sas_state = QLabel()
        sas_row = QHBoxLayout()
        sas_row.addWidget(self.sas, 1)
        sas_row.addWidget(self.make_sas)
        read_layout.addLayout(sas_row)
        read_layout.addWidget(self.sas_state)

        form = QFormLayout()
        form.addRow("Storage account", self.accounts)
        form.addRow("", self.excluded)
        form.addRow("Container", self.containers)
        form.addRow("Prefix", self.prefix)
        layout = QVBoxLayout(self)
        layout.addWidget(self.region_label)
        layout.addLayout(form)
        layout.addWidget(self.fix_box)
        layout.addWidget(read_box)
        layout.addWidget(self.issue_list)

        self.accounts.currentIndexChanged.connect(self._on_accounts_changed)
        self.containers.currentTextChanged.connect(self._on_containers_text_changed)
        self.prefix.textChanged.connect(self._on_prefix_changed)
        self.read_group.buttonToggled.connect(self._on_read_toggled)
        self.sas.textChanged.connect(self._on_sas_changed)
        self._accounts_loaded = False

    def initializePage(self) -> None:
        if not self._accounts_loaded:
            self._accounts_loaded = True
            self._load_accounts()
        self._on_flow_changed()

    def _load_accounts(self) -> None:
        vault = self.flow.source.vault
        if vault is None:
            return
        inventory, storage = self.services.inventory, self.services.storage
        tenant = vault.tenant_id

        def fetch() -> list[StorageAccount]:
            subs = inventory.list_subscriptions(tenant) if tenant else []
            ids = [s.subscription_id for s in subs] or [vault.id.subscription_id]
            accounts: list[StorageAccount] = storage.list_storage_accounts(ids)
            return accounts

        self.services.tasks.task(fetch).keyed(("restore-accounts", str(vault.id))).on_success(
            self.flow.set_accounts
        ).on_failure(self.flow.set_accounts_failed).in_lane("arm-read").start()

    def _load_account_details(self, account: StorageAccount) -> None:
        tasks = self.services.tasks
        tasks.task(self.services.storage.list_containers, account).keyed(
            ("restore-containers", str(account.id))
        ).on_success(lambda found: self.flow.set_containers(account.id, found)).on_failure(
            self._on_detail_failed
        ).in_lane("arm-read").start()
        roles, vault = self.services.roles, self.flow.source.vault
        if roles is not None and vault is not None and vault.principal_id:
            tasks.task(roles.list_role_assignments, vault.principal_id, str(account.id)).keyed(
                ("restore-roles", str(account.id))
            ).on_success(lambda found: self.flow.set_assignments(account.id, found)).on_failure(
                self._on_detail_failed
            ).in_lane("arm-read").start()

    def _on_detail_failed(self, exc: AppError) -> None:
        self.fix_state.setText(str(exc))

    def refresh(self) -> None:
        flow = self.flow
        region = flow.restore_region()
        self.region_label.setText(
            f"The vault restores to {region}: only storage accounts there are offered."
            if region
            else ""
        )
        offered = flow.offered_accounts()
        wanted = flow.draft.account_id
        self.accounts.clear()
        self.accounts.addItem("— choose —" if flow.accounts_loaded else "Loading…", None)
        for option in offered:
            a = option.account
            self.accounts.addItem(f"{a.name} ({normalize_region(a.location)})", str(a.id))
            if wanted is not None and a.id.same_as(wanted):
                self.accounts.setCurrentIndex(self.accounts.count() - 1)
        excluded = flow.excluded_accounts()
        self.excluded.setText(
            "\n".join(f"Not offered: {o.account.name} — {o.reason}" for o in excluded)
        )
        self.excluded.setVisible(bool(excluded))
        names = [c.name for c in flow.account_containers()]
        current = flow.draft.container
        self.containers.clear()
        self.containers.addItems(names)
        self.containers.setEditText(current)
        offered_fixes = set(flow.offered_fixes())
        for fix, button in self.fix_buttons.items():
            button.setVisible(fix in offered_fixes)
            button.setChecked(fix in flow.draft.fixes)
            self.fix_now[fix].setVisible(fix in offered_fixes and self._can_fix_now(fix))
        self.template.setVisible(Fix.GRANT_ROLE in offered_fixes)
        self.fix_box.setVisible(bool(offered_fixes))
        keyring = self.services.keystore is not None
        for access, radio in self.read_buttons.items():
            refusal = flow.read_access_refusal(access, keyring=keyring)
            radio.setEnabled(not refusal)  # offer only the ways that work for this account
            radio.setToolTip(refusal)
        self.read_buttons[flow.draft.read_access].setChecked(True)
        self.sas.setVisible(flow.draft.read_access is ReadAccess.SAS)
        can_make = hasattr(self.services.storage, "make_read_sas") and bool(flow.container_url())
        self.make_sas.setVisible(flow.draft.read_access is ReadAccess.SAS and can_make)
        self.sas_state.setVisible(flow.draft.read_access is ReadAccess.SAS)

    def _can_fix_now(self, fix: Fix) -> bool:
        if fix is Fix.GRANT_ROLE:
            return self.services.roles is not None
        return self.services.storage is not None

    def _on_accounts_changed(self, index: int) -> None:
        if self._refreshing:
            return
        value = self.accounts.itemData(index)
        account_id = ResourceId.parse(value) if value else None
        self.flow.choose_account(account_id)
        account = self.flow.selected_account()
        if account is not None:
            self._load_account_details(account)

    def _on_containers_text_changed(self, text: str) -> None:
        if self._refreshing:
            return
        names = {c.name for c in self.flow.account_containers()}
        name = text.strip()
        self.flow.choose_container(name, new=bool(name) and name not in names)

    def _on_prefix_changed(self, text: str) -> None:
        self.flow.update(prefix=text.strip())

    def _on_read_toggled(self, button: QRadioButton, checked: bool) -> None:
        if self._refreshing or not checked:
            return
        for access, candidate in self.read_buttons.items():
            if candidate is button:
                self.flow.update(read_access=access)

    def _on_sas_changed(self, text: str) -> None:
        self.flow.update(sas_supplied=bool(text.strip()))

    def _on_make_sas_clicked(self) -> None:
        account, url = self.flow.selected_account(), self.flow.container_url()
        if account is None or not url:
            return
        arm_id = BlobContainer(account.id, self.flow.draft.container, url).arm_id
        storage = self.services.storage
        self.make_sas.setEnabled(False)
        self.sas_state.setText("Making a read-only SAS…")

        def done(sas: str) -> None:
            self.make_sas.setEnabled(True)
            self.sas.setText(sas)
            self.sas_state.setText("A read + list SAS, valid 8 hours, is ready (not shown).")

        def failed(exc: AppError) -> None:
            self.make_sas.setEnabled(True)
            self.sas_state.setText(str(exc))

        self.services.tasks.task(lambda: storage.make_read_sas(url, arm_id)).keyed(
            ("make-sas", id(self))
        ).on_success(done).on_failure(failed).in_lane("arm-read").start()

    def _on_fix_toggled(self, fix: Fix, on: bool) -> None:
        if not self._refreshing:
            self.flow.toggle_fix(fix, on)

    def _on_fix_now_clicked(self, fix: Fix) -> None:
        work = fix_work(self.flow, self.services, [fix])
        self.fix_state.setText(f"{_FIX_LABELS[fix]}…")
        self.fix_now[fix].setEnabled(False)

        def done(_result: object) -> None:
            self.fix_now[fix].setEnabled(True)
            self.fix_state.setText(f"{_FIX_LABELS[fix]}: done.")
            self._accounts_loaded = True
            self._load_accounts()
            account = self.flow.selected_account()
            if account is not None:
                self._load_account_details(account)

        def failed(exc: AppError) -> None:
            self.fix_now[fix].setEnabled(True)
            self.fix_state.setText(str(exc))

        self.services.tasks.task(work).on_success(done).on_failure(failed).in_lane(
            "arm-write"
        ).start()

    def _on_template_clicked(self) -> None:
        text = json.dumps(self.flow.role_template(), indent=2)
        QApplication.clipboard().setText(text)
        self.fix_state.setText("Role template copied to the clipboard.")

    def sas_text(self) -> str:
        """The pasted SAS, for the keystore at commit; never in the flow or plan."""
        if self.flow.draft.read_access is not ReadAccess.SAS:
            return ""
        return self.sas.text().strip().lstrip("?")


def fix_work(
    flow: RestoreFlow, services: RestoreServices, fixes: Iterable[Fix]
) -> Callable[[], None]:
    """A blocking callable (run it in a task) applying ``fixes`` to the chosen account."""
    account = flow.selected_account()
    vault = flow.source.vault
    container = flow.draft.container
    chosen = list(fixes)
    storage, roles = services.storage, services.roles

    def run() -> None:
        if account is None:
            return
        for fix in chosen:
            if fix is Fix.CROSS_TENANT:
                storage.update_account(account.id, allow_cross_tenant_replication=True)
            elif fix is Fix.CREATE_CONTAINER and container:
                storage.create_container(account, container)
            elif fix is Fix.GRANT_ROLE and roles is not None and vault is not None:
                roles.create_role_assignment(
                    scope=str(account.id),
                    role=STORAGE_BLOB_DATA_CONTRIBUTOR_ROLE[0],
                    principal_id=vault.principal_id,
                )

    return run


# -- 3. server ----------------------------------------------------------------------------------


class ServerPage(_FlowPage):
    """The target server (new or existing), databases, roles, jobs and the download folder."""

    step = Step.SERVER

    def __init__(self, flow: RestoreFlow, services: RestoreServices) -> None:
        super().__init__(flow, services)
        self.setTitle("Where the databases go")
        self.new_radio = QRadioButton("Create a new server")
        self.new_radio.setObjectName("newServer")
        self.existing_radio = QRadioButton("Restore into an existing server")
        self.existing_radio.setObjectName("existingServer")
        self.name = QLineEdit()
        self.name.setObjectName("serverName")
        self.subscription = QComboBox()
        self.subscription.setObjectName("subscription")
        self.resource_group = QLineEdit()
        self.resource_group.setObjectName("resourceGroup")
        self.resource_group.setPlaceholderText("an existing resource group, e.g. rg-pg-restore")
        self.region = QComboBox()
        self.region.setObjectName("region")
        self.version = QComboBox()
        self.version.setObjectName("version")
        self.sku = QLineEdit()
        self.storage_gb = QSpinBox()
        self.storage_gb.setRange(32, 32768)
        self.storage_gb.setSuffix(" GB")
        self.admin = QLineEdit()
        self.password_note = QLabel(
            "A strong admin password is generated when the server is created and kept in "
            "your keyring (never in the plan or settings)."
        )
        self.password_note.setWordWrap(True)
        self.existing = QComboBox()
        self.existing.setObjectName("existing")
        self.existing_note = QLabel()
        self.existing_note.setObjectName("existingNote")
        self.existing_note.setWordWrap(True)
        source = flow.source.server
        self.allow_source = QCheckBox(
            f"Also offer the source server {source.name} (restore next to its live databases)"
            if source is not None
            else ""
        )
        self.allow_source.setObjectName("allowSource")
        self.allow_source.setVisible(source is not None)
        self.databases = QListWidget()
        self.databases.setObjectName("databases")
        self.databases_note = QLabel("All databases found in the restored files.")
        self.roles = QCheckBox("Restore roles (Roles.sql)")
        self.roles.setObjectName("roles")
        self.roles_note = QLabel("Azure's roles file has no passwords: set new ones afterwards.")
        self.jobs = QSpinBox()
        self.jobs.setObjectName("jobs")
        self.jobs.setRange(0, 64)
        self.jobs.setSpecialValueText("automatic (target vCores)")
        self.stop_first = QCheckBox("Stop on the first failed database")
        self.stop_first.setObjectName("stopFirst")
        self.download = QLineEdit()
        self.download.setObjectName("download")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        self.free = QLabel()
        self.free.setObjectName("free")

        new_box = QGroupBox()
        new_form = QFormLayout(new_box)
        new_form.addRow("Name", self.name)
        new_form.addRow("Subscription", self.subscription)
        new_form.addRow("Resource group", self.resource_group)
        new_form.addRow("Region", self.region)
        new_form.addRow("PostgreSQL version", self.version)
        new_form.addRow("SKU", self.sku)
        new_form.addRow("Storage", self.storage_gb)
        new_form.addRow("Admin login", self.admin)
        new_form.addRow(self.password_note)
        self.new_box = new_box
        download_row = QHBoxLayout()
        download_row.addWidget(self.download, 1)
        download_row.addWidget(browse)
        form = QFormLayout()
        self._form = form
        form.addRow("Databases", self.databases)
        form.addRow("Databases", self.databases_note)
        form.addRow(self.roles, self.roles_note)
        form.addRow("Parallel jobs", self.jobs)
        form.addRow(self.stop_first)
        form.addRow("Download folder", download_row)
        form.addRow("", self.free)
        layout = QVBoxLayout(self)
        layout.addWidget(self.new_radio)
        layout.addWidget(new_box)
        layout.addWidget(self.existing_radio)
        layout.addWidget(self.existing)
        layout.addWidget(self.allow_source)
        layout.addWidget(self.existing_note)
        layout.addLayout(form)
        layout.addWidget(self.issue_list)

        self.new_radio.toggled.connect(self._on_mode_toggled)
        self.name.textChanged.connect(lambda t: self._set(server_name=t.strip().lower()))
        self.resource_group.textChanged.connect(
            lambda t: self._set(server_resource_group=t.strip())
        )
        self.subscription.currentIndexChanged.connect(self._on_subscription_changed)
        self.region.currentIndexChanged.connect(
            lambda i: self._set(location=self.region.itemData(i) or "")
        )
        self.allow_source.toggled.connect(self._on_allow_source_toggled)
        self.version.currentIndexChanged.connect(
            lambda i: self._set(version=self.version.itemData(i) or "")
        )
        self.sku.textChanged.connect(lambda t: self._set(sku_name=t.strip()))
        self.storage_gb.valueChanged.connect(lambda v: self._set(storage_gb=v))
        self.admin.textChanged.connect(lambda t: self._set(admin_login=t.strip()))
        self.existing.currentIndexChanged.connect(self._on_existing_changed)
        self.databases.itemChanged.connect(self._on_databases_changed)
        self.roles.toggled.connect(lambda on: self._set(roles=on))
        self.jobs.valueChanged.connect(lambda v: self._set(jobs=v))
        self.stop_first.toggled.connect(lambda on: self._set(stop_on_first_failure=on))
        self.download.textChanged.connect(self._on_download_changed)
        self._loaded = False

    def _set(self, **changes: Any) -> None:
        if not self._refreshing:
            self.flow.update(**changes)

    def initializePage(self) -> None:
        if not self._loaded:
            self._loaded = True
            self._load()
        self._on_flow_changed()
        if self.flow.draft.download_dir:
            self._measure(self.flow.draft.download_dir)

    def _load(self) -> None:
        inventory = self.services.inventory
        vault, server = self.flow.source.vault, self.flow.source.server
        tenant = (vault.tenant_id if vault else "") or (server.tenant_id if server else "")
        source = server or vault
        fallback = source.id.subscription_id if source is not None else ""

        def fetch_subscriptions() -> list[Subscription]:
            # Nothing selected: every tenant the sign-in sees, not just the source's.
            tenants = [tenant] if tenant else [t.tenant_id for t in inventory.list_tenants()]
            found: list[Subscription] = []
            for tenant_id in tenants:
                found.extend(inventory.list_subscriptions(tenant_id))
            if not found and fallback:
                found.append(Subscription(fallback, fallback, tenant))
            return found

        def listed(subs: list[Subscription]) -> None:
            self.flow.set_subscriptions(subs)
            self._load_servers([s.subscription_id for s in subs] or [fallback])
            self._load_regions(self.flow.draft.server_subscription)

        def failed(exc: AppError) -> None:
            self.existing_note.setText(str(exc))
            if fallback:
                listed([])

        tasks = self.services.tasks
        tasks.task(fetch_subscriptions).keyed(("restore-subscriptions", id(self))).on_success(
            listed
        ).on_failure(failed).in_lane("arm-read").start()
        list_dbs = getattr(inventory, "list_databases", None)
        if server is not None and list_dbs is not None:
            tasks.task(list_dbs, server.id).keyed(("restore-dbs", str(server.id))).on_success(
                self.flow.set_known_databases
            ).on_failure(lambda _exc: None).in_lane("arm-read").start()

    def _load_servers(self, subscription_ids: list[str]) -> None:
        inventory = self.services.inventory
        wanted = [s for s in subscription_ids if s]

        def fetch() -> Iterable[list[Any]]:
            for sub in wanted:
                yield from inventory.iter_servers(sub)

        self.services.tasks.task(fetch).keyed(("restore-servers", id(self))).on_item(
            self.flow.set_servers
        ).on_failure(lambda exc: self.existing_note.setText(str(exc))).in_lane("arm-read").start()

    def _load_regions(self, subscription_id: str) -> None:
        if not subscription_id or subscription_id.lower() in self.flow.regions:
            return
        inventory = self.services.inventory

        def fetch() -> list[str]:
            return [r.name for r in inventory.list_locations(subscription_id)]

        self.services.tasks.task(fetch).keyed(("restore-regions", subscription_id)).on_success(
            lambda names: self.flow.set_regions(subscription_id, names)
        ).on_failure(
            # The static table still lets the DBA pick; ARM refuses a region it lacks.
            lambda _exc: self.flow.set_regions(subscription_id, REGION_PAIRS)
        ).in_lane("arm-read").start()

    def refresh(self) -> None:
        flow, d = self.flow, self.flow.draft
        new = d.target_mode != "existing"
        self.new_radio.setChecked(new)
        self.existing_radio.setChecked(not new)
        self.new_box.setEnabled(new)
        self.existing.setEnabled(not new)
        _set_text(self.name, d.server_name)
        self.subscription.clear()
        if not flow.subscriptions:  # never a bare GUID on screen while the names load
            self.subscription.addItem("Loading subscriptions…", d.server_subscription)
        else:
            self.subscription.addItem("— choose —", "")
        subs = list(flow.subscriptions)
        if (
            subs
            and d.server_subscription
            and not any(s.subscription_id.lower() == d.server_subscription.lower() for s in subs)
        ):
            subs.append(Subscription(d.server_subscription, d.server_subscription, ""))
        for sub in subs:
            self.subscription.addItem(sub.display_name or sub.subscription_id, sub.subscription_id)
            self.subscription.setItemData(
                self.subscription.count() - 1, sub.subscription_id, Qt.ItemDataRole.ToolTipRole
            )
            if sub.subscription_id.lower() == d.server_subscription.lower():
                self.subscription.setCurrentIndex(self.subscription.count() - 1)
        _set_text(self.resource_group, d.server_resource_group)
        self.region.clear()
        self.region.addItem("— choose —", "")
        for name in flow.region_choices():
            self.region.addItem(name, name)
            if name == d.location:
                self.region.setCurrentIndex(self.region.count() - 1)
        self.version.clear()
        self.version.addItem("— choose —", "")
        for version in flow.allowed_versions():
            self.version.addItem(version, version)
            if version == d.version:
                self.version.setCurrentIndex(self.version.count() - 1)
        _set_text(self.sku, d.sku_name)
        self.storage_gb.setValue(d.storage_gb)
        _set_text(self.admin, d.admin_login)
        self.existing.clear()
        self.existing.addItem("— choose —", None)
        items = self.existing.model()
        assert isinstance(items, QStandardItemModel)
        refused: list[str] = []
        for server, refusal in flow.existing_choices():
            state = _STATE_WORDS.get(server.state.lower(), server.state.lower() or "unknown")
            self.existing.addItem(
                f"{server.name} — {normalize_region(server.location)}, {state}, "
                f"PostgreSQL {server.version}",
                str(server.id),
            )
            row = self.existing.count() - 1
            if refusal:
                entry = items.item(row)
                entry.setEnabled(False)  # shown, with the reason, but never chosen
                entry.setToolTip(refusal)
                refused.append(f"Not offered: {refusal}")
            if d.existing_server_id is not None and server.id.same_as(d.existing_server_id):
                self.existing.setCurrentIndex(row)
        self.existing_note.setText("\n".join(refused))
        self.existing_note.setVisible(bool(refused) and not new)
        self.allow_source.setChecked(d.allow_source_target)
        self.allow_source.setEnabled(not new)
        self.databases.clear()
        for name in flow.known_databases:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = not d.databases or name in d.databases
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.databases.addItem(item)
        listed = bool(flow.known_databases)
        self._form.setRowVisible(self.databases, listed)
        note_label = self._form.labelForField(self.databases_note)
        if isinstance(note_label, QLabel):
            note_label.setText("" if listed else "Databases")
        self.roles.setChecked(d.roles)
        self.roles_note.setVisible(d.roles)
        self.jobs.setValue(d.jobs)
        self.stop_first.setChecked(d.stop_on_first_failure)
        _set_text(self.download, d.download_dir)
        if flow.free_bytes is not None and flow.free_path == d.download_dir:
            self.free.setText(f"{flow.free_bytes / 1024**3:.1f} GiB free")

    def _on_mode_toggled(self, new: bool) -> None:
        self._set(target_mode="new" if new else "existing")

    def _on_subscription_changed(self, index: int) -> None:
        if self._refreshing:
            return
        sub = self.subscription.itemData(index) or ""
        self.flow.update(server_subscription=sub)
        self._load_regions(sub)

    def _on_allow_source_toggled(self, on: bool) -> None:
        if not self._refreshing:
            self.flow.set_allow_source_target(on)

    def _on_existing_changed(self, index: int) -> None:
        value = self.existing.itemData(index)
        self._set(existing_server_id=ResourceId.parse(value) if value else None)

    def _on_databases_changed(self, _item: QListWidgetItem) -> None:
        if self._refreshing:
            return
        items = [self.databases.item(i) for i in range(self.databases.count())]
        chosen = tuple(i.text() for i in items if i.checkState() == Qt.CheckState.Checked)
        self.flow.update(databases=() if len(chosen) == len(items) else chosen)

    def _on_download_changed(self, text: str) -> None:
        if self._refreshing:
            return
        self.flow.update(download_dir=text.strip())
        self.free.setText("")
        if text.strip():
            self._measure(text.strip())

    def _measure(self, path: str) -> None:
        measure = self.services.free_space or _free_bytes
        self.services.tasks.task(measure, path).keyed(("restore-free",)).on_success(
            lambda free: self.flow.set_free_space(path, free)
        ).on_failure(lambda _exc: self.flow.set_free_space(path, None)).in_lane("arm-read").start()

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Download folder")
        if folder:
            self.download.setText(folder)


def _set_text(edit: QLineEdit, text: str) -> None:
    if edit.text() != text:
        edit.setText(text)


# -- 4. summary ---------------------------------------------------------------------------------


class SummaryPage(_FlowPage):
    """What will happen; pressing Restore starts one job."""

    step = Step.SUMMARY

    def __init__(self, flow: RestoreFlow, services: RestoreServices) -> None:
        super().__init__(flow, services)
        self.setTitle("Summary")
        self.setSubTitle("Nothing has changed in Azure yet. Restore starts one job.")
        self.rows = QLabel()
        self.rows.setObjectName("summary")
        self.rows.setTextFormat(Qt.TextFormat.PlainText)
        self.rows.setWordWrap(True)
        self.commit_state = QLabel()
        self.commit_state.setObjectName("commitState")
        self.commit_state.setWordWrap(True)
        # pgAdmin's restore options, folded away: the defaults restore everything.
        self.show_options = QPushButton("Restore options (as in pgAdmin)…")
        self.show_options.setObjectName("showOptions")
        self.show_options.setCheckable(True)
        self.options_box = QGroupBox()
        self.options_box.setObjectName("options")
        self.options_box.setVisible(False)
        self.content = QComboBox()
        self.content.setObjectName("content")
        for words, *_rest in CONTENT_CHOICES:
            self.content.addItem(words)
        self.no_owner = QCheckBox("No owner: objects belong to the admin (--no-owner)")
        self.no_owner.setObjectName("noOwner")
        self.no_privileges = QCheckBox("No privileges: skip GRANT/REVOKE (--no-privileges)")
        self.no_privileges.setObjectName("noPrivileges")
        self.single = QCheckBox("Single transaction per database: all or nothing (one job)")
        self.single.setObjectName("singleTransaction")
        self.objects = QPlainTextEdit()
        self.objects.setObjectName("objects")
        self.objects.setPlaceholderText(
            "Only some schemas or tables, one line per database, e.g.\n"
            "sales: public.orders, public.customers\nhr: payroll"
        )
        self.objects.setMaximumHeight(72)
        self.pick_objects = QPushButton("Choose from the archive…")
        self.pick_objects.setObjectName("pickObjects")
        self.pick_objects.setToolTip(
            "Read a database's table of contents and tick what to restore."
        )
        self.pick_objects.clicked.connect(self._on_pick_objects_clicked)
        self.picker: ObjectPickerDialog | None = None
        options_form = QFormLayout(self.options_box)
        options_form.addRow("What to restore", self.content)
        options_form.addRow(self.no_owner)
        options_form.addRow(self.no_privileges)
        options_form.addRow(self.single)
        options_form.addRow("Only", self.objects)
        options_form.addRow("", self.pick_objects)
        self.show_options.toggled.connect(self.options_box.setVisible)
        self.content.currentIndexChanged.connect(self._on_options_edited)
        for box in (self.no_owner, self.no_privileges, self.single):
            box.toggled.connect(self._on_options_edited)
        self.objects.textChanged.connect(self._on_options_edited)
        layout = QVBoxLayout(self)
        layout.addWidget(self.rows)
        layout.addWidget(self.show_options, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.options_box)
        layout.addWidget(self.issue_list)
        layout.addWidget(self.commit_state)
        self.setFinalPage(True)

    def _on_pick_objects_clicked(self) -> None:
        flow = self.flow
        picker = ObjectPickerDialog(flow.draft.incident_folder, tasks=self.services.tasks,
                                    parent=self)  # fmt: skip
        picker.accepted.connect(self._on_picker_accepted)
        picker.destroyed.connect(self._on_picker_destroyed)
        self.picker = picker
        picker.open()

    def _on_picker_accepted(self) -> None:
        picker = self.picker
        if picker is None:
            return
        db, chosen = picker.database.currentText(), picker.chosen()
        lines = [
            line
            for line in self.objects.toPlainText().splitlines()
            if line.strip() and line.partition(":")[0].strip() != db
        ]
        if chosen:
            lines.append(f"{db}: {', '.join(chosen)}")
        self.objects.setPlainText("\n".join(lines))

    def _on_picker_destroyed(self, _obj: object = None) -> None:
        self.picker = None

    def _on_options_edited(self, *_args: object) -> None:
        _words, data_only, schema_only, sections = CONTENT_CHOICES[
            max(0, self.content.currentIndex())
        ]
        error = ""
        try:
            objects = parse_object_lines(self.objects.toPlainText())
        except ValueError as exc:
            error, objects = str(exc), {}
        self.objects.setToolTip(error)
        options = RestoreOptions(
            sections=sections,
            data_only=data_only,
            schema_only=schema_only,
            no_owner=self.no_owner.isChecked(),
            no_privileges=self.no_privileges.isChecked(),
            single_transaction=self.single.isChecked(),
            objects=objects,
        )
        self.flow.update(options=options, options_error=error)

    def initializePage(self) -> None:
        readable = self.flow.reads_a_folder
        self.pick_objects.setEnabled(readable)
        if not readable:
            self.pick_objects.setToolTip(
                "Only when the files are in a local folder: archives in Azure have no table "
                "of contents to read before they are downloaded."
            )
        self._on_flow_changed()

    def refresh(self) -> None:
        self.rows.setText("\n".join(f"{k}: {v}" for k, v in self.flow.summary()))
