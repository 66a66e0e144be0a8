"""Pages of the Configure-backup wizard. They only bind widgets to the PolicyFlow.

``isComplete()`` asks the flow, ``completeChanged`` follows it (the flow notifies after each
change), and issues are shown inline next to the field they concern.
"""

from __future__ import annotations

import html
import json
import zoneinfo
from collections.abc import Callable, Iterable
from datetime import time

from PySide6.QtCore import Qt, QTime, Signal
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.issues import Issue, Severity
from pgflex_gui.domain.policy import PolicyDraft
from pgflex_gui.domain.preflight import GrantScope
from pgflex_gui.domain.retention import RetentionKind, parse_duration
from pgflex_gui.domain.schedule import WEEKDAY_NAMES, WeeklySchedule
from pgflex_gui.domain.v2_rules import DailySchedule, V2PolicyDraft
from pgflex_gui.ui.wizards.policy.flow import BACKUP_TYPE_LABELS, Choice, PolicyFlow, Step

__all__ = [
    "PermissionsPage",
    "PolicyPage",
    "PreflightPage",
    "SummaryPage",
    "VaultPage",
    "issues_html",
]

_COLOURS = {Severity.ERROR: "#b00020", Severity.WARNING: "#9a6700", Severity.INFO: "#555555"}
_POLICY_SUBTITLES = {
    "v1": "One full backup a week, kept according to the retention rules.",
    "v2": "A physical backup of the whole server, daily or weekly, kept according to the "
    "retention rules (preview; restores as a new server).",
}
_DAILY_CALENDAR_NOTE = (
    "One recovery point a day, each kept by the rule it is tagged with (the first of a "
    "week, month or year) or else for the default duration."
)
_UNITS = (("days", "D"), ("weeks", "W"), ("months", "M"), ("years", "Y"))


def issues_html(issues: Iterable[Issue]) -> str:
    """Issues as small coloured lines (error, warning, info) for an inline label."""
    lines = []
    for issue in issues:
        colour = _COLOURS[issue.severity]
        text = html.escape(issue.message)
        if issue.remedy:
            text += f" <i>{html.escape(issue.remedy)}</i>"
        lines.append(f"<span style='color:{colour}'>{text}</span>")
    return "<br>".join(lines)


def _inline_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


class _FlowPage(QWizardPage):
    """Common binding: completeness from the flow, inline issues by field prefix."""

    step: Step

    def __init__(self, flow: PolicyFlow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.flow = flow
        self.general = _inline_label()
        self.general.setObjectName("issues")
        self._field_labels: dict[str, QLabel] = {}
        flow.subscribe(self._on_flow_changed)

    def _bind_issues(self, prefix: str, label: QLabel) -> None:
        self._field_labels[prefix] = label

    def _on_flow_changed(self) -> None:
        self.refresh()
        self.completeChanged.emit()

    def refresh(self) -> None:
        """Show the flow's current issues inline (subclasses refresh their data, then call)."""
        issues = self.flow.issues(self.step)
        placed: dict[str, list[Issue]] = {p: [] for p in self._field_labels}
        rest: list[Issue] = []
        for issue in issues:
            owner = next(
                (p for p in sorted(placed, key=len, reverse=True) if issue.field.startswith(p)),
                None,
            )
            (placed[owner] if owner is not None else rest).append(issue)
        # several prefixes may share one label: gather per label, or the last prefix would
        # overwrite (and hide) what an earlier one placed there
        per_label: dict[int, tuple[QLabel, list[Issue]]] = {}
        for prefix, label in self._field_labels.items():
            per_label.setdefault(id(label), (label, []))[1].extend(placed[prefix])
        for label, found in per_label.values():
            label.setText(issues_html(found))
            label.setVisible(bool(found))
        if not self.flow.ready(self.step):
            rest.insert(0, Issue(Severity.INFO, "", "Loading…"))
        self.general.setText(issues_html(rest))

    def isComplete(self) -> bool:
        return self.flow.can_advance(self.step)

    def validatePage(self) -> bool:
        return self.flow.can_advance(self.step)

    def initializePage(self) -> None:
        self.refresh()


class VaultPage(_FlowPage):
    """Pick an eligible vault, or describe a new one (irreversible choices confirmed)."""

    step = Step.VAULT

    def __init__(self, flow: PolicyFlow, parent: QWidget | None = None) -> None:
        super().__init__(flow, parent)
        self.setTitle("Backup vault")
        servers = ", ".join(s.name for s in flow.servers)
        self.setSubTitle(
            f"The vault must be in the region and tenant of {servers} "
            f"({flow.servers[0].location}); another subscription is fine."
        )
        self.use_existing = QRadioButton("Use an existing vault")
        self.create_new = QRadioButton("Create a new vault")
        group = QButtonGroup(self)
        group.addButton(self.use_existing)
        group.addButton(self.create_new)
        self.use_existing.setChecked(True)
        self.vault_combo = QComboBox()
        self.vault_combo.setObjectName("vault_combo")
        self.excluded = QLabel()
        self.excluded.setObjectName("excluded")
        self.excluded.setWordWrap(True)

        self.new_box = QGroupBox("New vault")
        form = QFormLayout(self.new_box)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("vault_name")
        self.rg_edit = QLineEdit(flow.vault.resource_group)
        self.sub_edit = QLineEdit(flow.vault.subscription_id)
        self.redundancy = QComboBox()
        for text, value in (
            ("Locally redundant (LRS)", "LocallyRedundant"),
            ("Zone redundant (ZRS)", "ZoneRedundant"),
            ("Geo redundant (GRS)", "GeoRedundant"),
        ):
            self.redundancy.addItem(text, value)
        self.crr = QCheckBox("Cross Region Restore (needs GRS)")
        self.soft_delete = QComboBox()
        self.soft_delete.addItems(["On", "Off", "AlwaysOn"])
        self.soft_days = QSpinBox()
        self.soft_days.setRange(1, 365)
        self.soft_days.setValue(14)
        self.immutability = QComboBox()
        self.immutability.addItems(["Disabled", "Unlocked", "Locked"])
        self.csr = QComboBox()
        self.csr.addItems(["Enabled", "Disabled", "PermanentlyDisabled"])
        self.confirm = QCheckBox("I understand that the choices above can never be undone")
        self.confirm.setObjectName("confirm_irreversible")
        labels = {
            k: _inline_label()
            for k in (
                "name",
                "resource_group",
                "redundancy",
                "cross_region_restore",
                "soft_delete",
                "immutability",
                "cross_subscription_restore",
                "confirm_irreversible",
            )
        }
        form.addRow("Name", self.name_edit)
        form.addRow("", labels["name"])
        form.addRow("Subscription", self.sub_edit)
        form.addRow("Resource group", self.rg_edit)
        form.addRow("", labels["resource_group"])
        form.addRow("Region", QLabel(flow.vault.draft.location))
        form.addRow("Storage redundancy", self.redundancy)
        form.addRow("", self.crr)
        form.addRow("", labels["cross_region_restore"])
        form.addRow("Soft delete", self.soft_delete)
        form.addRow("Soft-delete days", self.soft_days)
        form.addRow("", labels["soft_delete"])
        form.addRow("Immutability", self.immutability)
        form.addRow("", labels["immutability"])
        form.addRow("Cross-subscription restore", self.csr)
        form.addRow("", labels["cross_subscription_restore"])
        form.addRow("", self.confirm)
        form.addRow("", labels["confirm_irreversible"])
        for prefix, label in labels.items():
            self._bind_issues(prefix, label)
        self._bind_issues("location", labels["name"])

        layout = QVBoxLayout(self)
        layout.addWidget(self.use_existing)
        layout.addWidget(self.vault_combo)
        layout.addWidget(self.excluded)
        layout.addWidget(self.create_new)
        layout.addWidget(self.new_box)
        layout.addWidget(self.general)

        self.use_existing.toggled.connect(self._on_mode_toggled)
        self.vault_combo.currentIndexChanged.connect(self._on_vault_combo_changed)
        for edit in (self.name_edit,):
            edit.textEdited.connect(self._on_draft_edited)
        for edit in (self.rg_edit, self.sub_edit):
            edit.textEdited.connect(self._on_location_edited)
        for combo in (self.redundancy, self.soft_delete, self.immutability, self.csr):
            combo.currentIndexChanged.connect(self._on_draft_edited)
        self.crr.toggled.connect(self._on_draft_edited)
        self.soft_days.valueChanged.connect(self._on_draft_edited)
        self.confirm.toggled.connect(self.flow.confirm_irreversible)
        self._filling = False
        self.refresh()

    def refresh(self) -> None:
        self._filling = True
        try:
            ok, rejected = self.flow.eligible()
            wanted = self.flow.vault.existing_id
            self.vault_combo.clear()
            for vault in ok:
                sub = vault.id.subscription_id[:8]
                self.vault_combo.addItem(
                    f"{vault.name}  ({vault.id.resource_group}, subscription {sub}…)", vault.id
                )
                if wanted is not None and vault.id.same_as(wanted):
                    self.vault_combo.setCurrentIndex(self.vault_combo.count() - 1)
            self.excluded.setText(
                "Not offered: " + "; ".join(f"{v.name}: {' '.join(r)}" for v, r in rejected)
                if rejected
                else ""
            )
            self.excluded.setVisible(bool(rejected))
            is_new = self.flow.vault.mode is Choice.NEW
            self.create_new.setChecked(is_new)
            self.use_existing.setChecked(not is_new)
            self.vault_combo.setEnabled(not is_new)
            self.new_box.setEnabled(is_new)
            self.confirm.setVisible(bool(self.flow.irreversible_warnings()))
            self.confirm.setChecked(self.flow.vault.irreversible_confirmed)
        finally:
            self._filling = False
        super().refresh()

    def _on_mode_toggled(self, existing: bool) -> None:
        if self._filling:
            return
        if existing:
            self.flow.choose_existing_vault(self.vault_combo.currentData())
        else:
            self._on_draft_edited()

    def _on_vault_combo_changed(self, _index: int) -> None:
        if not self._filling and self.use_existing.isChecked():
            self.flow.choose_existing_vault(self.vault_combo.currentData())

    def _on_location_edited(self, _text: str = "") -> None:
        self.flow.set_vault_location(
            subscription_id=self.sub_edit.text(), resource_group=self.rg_edit.text()
        )

    def _on_draft_edited(self, *_args: object) -> None:
        if self._filling:
            return
        self.flow.use_new_vault(
            name=self.name_edit.text().strip(),
            redundancy=self.redundancy.currentData(),
            cross_region_restore=self.crr.isChecked(),
            soft_delete=self.soft_delete.currentText(),
            soft_delete_days=self.soft_days.value(),
            immutability=self.immutability.currentText(),
            cross_subscription_restore=self.csr.currentText(),
        )


class _RetentionRow(QWidget):
    """A duration: number + unit, optionally switched on by a checkbox."""

    edited = Signal()

    def __init__(self, kind: RetentionKind, optional: bool) -> None:
        super().__init__()
        self.kind = kind
        self.enabled = QCheckBox(f"Keep the {kind.label} copy for" if optional else "")
        self.enabled.setChecked(not optional)
        self.enabled.setVisible(optional)
        self.amount = QSpinBox()
        self.amount.setRange(1, 3650)
        self.unit = QComboBox()
        for text, code in _UNITS:
            self.unit.addItem(text, code)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.enabled)
        row.addWidget(self.amount)
        row.addWidget(self.unit)
        row.addStretch(1)
        self.set_duration(kind.suggested_duration)  # a valid start, never "1 day"
        self.enabled.setChecked(not optional)
        self.enabled.toggled.connect(self.edited)
        self.amount.valueChanged.connect(self.edited)
        self.unit.currentIndexChanged.connect(self.edited)

    def set_duration(self, text: str | None) -> None:
        self.blockSignals(True)
        try:
            self.enabled.setChecked(text is not None)
            if text is None:
                return
            dur = parse_duration(text)
            for value, code in (
                (dur.years, "Y"),
                (dur.months, "M"),
                (dur.weeks, "W"),
                (dur.days, "D"),
            ):
                if value:
                    self.amount.setValue(value)
                    self.unit.setCurrentIndex(self.unit.findData(code))
                    break
        finally:
            self.blockSignals(False)

    def duration(self) -> str | None:
        if not self.enabled.isChecked():
            return None
        return f"P{self.amount.value()}{self.unit.currentData()}"


class PolicyPage(_FlowPage):
    """Pick a PG-flex policy of the vault, or create one (one weekday, time, zone, retention)."""

    step = Step.POLICY

    def __init__(self, flow: PolicyFlow, parent: QWidget | None = None) -> None:
        super().__init__(flow, parent)
        self.setTitle("Backup policy")
        self.setSubTitle(_POLICY_SUBTITLES["v1"])
        self.backup_type = QComboBox()
        self.backup_type.setObjectName("backup_type")
        for value, label in BACKUP_TYPE_LABELS.items():
            self.backup_type.addItem(label, value)
        self.backup_type.setToolTip(
            "v1 copies each database with pg_dump and restores as files. v2 (preview) copies "
            "the server's disks and restores as a new server; it needs PostgreSQL 15 or later, "
            "General Purpose or Memory Optimized, and a primary server."
        )
        self.use_existing = QRadioButton("Use an existing policy")
        self.create_new = QRadioButton("Create a new policy")
        group = QButtonGroup(self)
        group.addButton(self.use_existing)
        group.addButton(self.create_new)
        self.policy_combo = QComboBox()
        self.policy_combo.setObjectName("policy_combo")
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.start_from = QPushButton("Start from this policy…")
        self.start_from.setToolTip(
            "Policies can't be changed in place: this copies it into a new policy with a new "
            "name, which the servers will use."
        )
        self.new_box = QGroupBox("New policy")
        form = QFormLayout(self.new_box)
        self.name_edit = QLineEdit(flow.policy.draft.name)
        self.name_edit.setObjectName("policy_name")
        self.frequency = QComboBox()
        self.frequency.setObjectName("frequency")
        self.frequency.addItem("Daily", True)
        self.frequency.addItem("Weekly", False)
        self.weekday = QComboBox()
        self.weekday.setObjectName("weekday")
        self.weekday.addItems(list(WEEKDAY_NAMES))
        self.time_edit = QTimeEdit()
        self.time_edit.setDisplayFormat("HH:mm")
        self.zone = QComboBox()
        self.zone.setEditable(True)
        self.zone.setObjectName("time_zone")
        self.zone.addItems(["UTC", *sorted(z for z in zoneinfo.available_timezones() if "/" in z)])
        self.dst = QLabel()
        self.dst.setObjectName("dst_note")
        self.dst.setWordWrap(True)
        self.rows = {
            RetentionKind.DEFAULT: _RetentionRow(RetentionKind.DEFAULT, optional=False),
            RetentionKind.WEEKLY: _RetentionRow(RetentionKind.WEEKLY, optional=True),
            RetentionKind.MONTHLY: _RetentionRow(RetentionKind.MONTHLY, optional=True),
            RetentionKind.YEARLY: _RetentionRow(RetentionKind.YEARLY, optional=True),
        }
        name_issues, sched_issues, ret_issues = _inline_label(), _inline_label(), _inline_label()
        self._bind_issues("name", name_issues)
        self._bind_issues("schedule", sched_issues)
        self._bind_issues("retention", ret_issues)
        form.addRow("Name", self.name_edit)
        form.addRow("", name_issues)
        when = QHBoxLayout()  # one row: "Sunday at 02:00 in UTC" leaves room for the calendar
        when.addWidget(self.frequency)
        when.addWidget(self.weekday)
        when.addWidget(QLabel("at"))
        when.addWidget(self.time_edit)
        when.addWidget(QLabel("in"))
        when.addWidget(self.zone, 1)
        form.addRow("Backup every", when)
        form.addRow("", self.dst)
        form.addRow("", sched_issues)
        form.addRow("Keep every backup for", self.rows[RetentionKind.DEFAULT])
        for kind in (RetentionKind.WEEKLY, RetentionKind.MONTHLY, RetentionKind.YEARLY):
            form.addRow("", self.rows[kind])
        form.addRow("", ret_issues)
        # one row per month and tag ("December 2026 | 13, 20, 27 | Every backup, 3 months |
        # 13 Mar – 27 Mar 2027"), columns filling the width, at least six rows high
        self.calendar = QTableWidget(0, 4)
        self.calendar.setObjectName("calendar")
        self.calendar.setHorizontalHeaderLabels(["Month", "Backups on", "Kept as", "Until"])
        self.calendar.verticalHeader().setVisible(False)
        self.calendar.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.calendar.setWordWrap(False)
        cal_header = self.calendar.horizontalHeader()
        for col in range(4):
            cal_header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
        row_h = self.calendar.verticalHeader().defaultSectionSize()
        self.calendar.setMinimumHeight(cal_header.sizeHint().height() + 6 * row_h + 4)

        layout = QVBoxLayout(self)
        kind_row = QHBoxLayout()
        kind_row.addWidget(QLabel("Backup type"))
        kind_row.addWidget(self.backup_type, 1)
        layout.addLayout(kind_row)
        top = QHBoxLayout()
        top.addWidget(self.policy_combo, 1)
        top.addWidget(self.start_from)
        layout.addWidget(self.use_existing)
        layout.addLayout(top)
        layout.addWidget(self.description)
        layout.addWidget(self.create_new)
        layout.addWidget(self.new_box)
        self.calendar_label = QLabel("Recovery points of the next 12 months:")
        layout.addWidget(self.calendar_label)
        layout.addWidget(self.calendar, 1)
        layout.addStretch(0)
        layout.addWidget(self.general)

        self._filling = False
        self.load_draft()
        self.use_existing.toggled.connect(self._on_mode_toggled)
        self.policy_combo.currentIndexChanged.connect(self._on_policy_combo_changed)
        self.start_from.clicked.connect(self._on_start_from_clicked)
        self.backup_type.currentIndexChanged.connect(self._on_backup_type_changed)
        self.frequency.currentIndexChanged.connect(self._on_schedule_edited)
        self.name_edit.textEdited.connect(self._on_schedule_edited)
        self.weekday.currentIndexChanged.connect(self._on_schedule_edited)
        self.time_edit.timeChanged.connect(self._on_schedule_edited)
        self.zone.currentTextChanged.connect(self._on_schedule_edited)
        for row in self.rows.values():
            row.edited.connect(self._on_retention_edited)

    def load_draft(self) -> None:
        """Put the flow's policy draft into the widgets (after "Start from this policy")."""
        self._filling = True
        try:
            draft: PolicyDraft | V2PolicyDraft = (
                self.flow.v2_draft if self.flow.is_v2 else self.flow.policy.draft
            )
            self.name_edit.setText(draft.name)
            schedule = draft.schedule
            self.frequency.setCurrentIndex(0 if isinstance(schedule, DailySchedule) else 1)
            if isinstance(schedule, WeeklySchedule):
                self.weekday.setCurrentIndex(schedule.weekday)
            t = schedule.time
            self.time_edit.setTime(QTime(t.hour, t.minute))
            self.zone.setCurrentText(schedule.time_zone)
            by_kind = {r.kind: r.duration for r in draft.rules}
            for kind, row in self.rows.items():
                row.set_duration(by_kind.get(kind))
        finally:
            self._filling = False

    def refresh(self) -> None:
        self._filling = True
        try:
            is_v2 = self.flow.is_v2
            self.backup_type.setCurrentIndex(self.backup_type.findData(self.flow.backup_type))
            self.setSubTitle(_POLICY_SUBTITLES[self.flow.backup_type])
            self.frequency.setVisible(is_v2)
            self.weekday.setVisible(not is_v2 or not self.flow.v2_draft.is_daily)
            wanted = self.flow.policy.existing_id
            self.policy_combo.clear()
            for policy in self.flow.policies or ():
                self.policy_combo.addItem(policy.name, policy.id)
                if wanted is not None and policy.id.same_as(wanted):
                    self.policy_combo.setCurrentIndex(self.policy_combo.count() - 1)
            has_existing = bool(self.flow.policies)
            is_new = self.flow.policy.mode is Choice.NEW
            self.use_existing.setEnabled(has_existing)
            self.use_existing.setChecked(not is_new)
            self.create_new.setChecked(is_new)
            self.policy_combo.setEnabled(not is_new)
            self.start_from.setEnabled(self.flow.selected_policy() is not None)
            self.new_box.setEnabled(is_new)
            self.new_box.setVisible(is_new)  # a disabled form only took the calendar's room
            self.description.setText(self.flow.policy_description())
            self.dst.setText(self.flow.dst_note() if is_new else "")
            self.dst.setVisible(bool(self.dst.text()))
            months = self.flow.calendar_by_month()
            daily = is_v2 and is_new and self.flow.v2_draft.is_daily
            self.calendar_label.setText(
                _DAILY_CALENDAR_NOTE if daily else "Recovery points of the next 12 months:"
            )
            self.calendar.setVisible(not daily)
            self.calendar.setRowCount(len(months))
            for row, month in enumerate(months):
                for col, text in enumerate((month.month, month.days, month.kept_as, month.until)):
                    item = QTableWidgetItem(text)
                    item.setToolTip(text)
                    self.calendar.setItem(row, col, item)
        finally:
            self._filling = False
        super().refresh()

    def _on_mode_toggled(self, existing: bool) -> None:
        if self._filling:
            return
        if existing:
            self.flow.choose_existing_policy(self.policy_combo.currentData())
        else:
            self.flow.use_new_policy()

    def _on_policy_combo_changed(self, _index: int) -> None:
        if not self._filling and self.use_existing.isChecked():
            self.flow.choose_existing_policy(self.policy_combo.currentData())

    def _on_start_from_clicked(self) -> None:
        policy = self.flow.selected_policy()
        if policy is not None:
            self.flow.start_from_policy(policy.id)
            self.load_draft()

    def _on_backup_type_changed(self, _index: int) -> None:
        if self._filling:
            return
        self.flow.set_backup_type(self.backup_type.currentData())
        self.load_draft()

    def _on_schedule_edited(self, *_args: object) -> None:
        if self._filling:
            return
        qt = self.time_edit.time()
        if self.flow.is_v2:
            self.flow.update_v2_policy(
                name=self.name_edit.text(),
                daily=bool(self.frequency.currentData()),
                weekday=self.weekday.currentIndex(),
                at=time(qt.hour(), qt.minute()),
                time_zone=self.zone.currentText().strip(),
            )
            return
        self.flow.update_policy(
            name=self.name_edit.text(),
            weekday=self.weekday.currentIndex(),
            at=time(qt.hour(), qt.minute()),
            time_zone=self.zone.currentText().strip(),
        )

    def _on_retention_edited(self) -> None:
        if self._filling:
            return
        self.flow.use_new_policy()
        for kind, row in self.rows.items():
            self.flow.set_retention(kind, row.duration())


class PreflightPage(_FlowPage):
    """Per-server checks: Ready, not yet protected, size, CMK, network, excluded databases.

    Signals:
        databases_requested(object): the FlexServer whose databases the DBA wants listed.
    """

    step = Step.PREFLIGHT
    databases_requested = Signal(object)

    def __init__(self, flow: PolicyFlow, parent: QWidget | None = None) -> None:
        super().__init__(flow, parent)
        self.setTitle("Pre-flight checks")
        self.setSubTitle("What stops or affects the backup of each server.")
        self.report = QLabel()
        self.report.setObjectName("preflight_report")
        self.report.setWordWrap(True)
        self.db_server = QComboBox()
        self.db_server.setObjectName("db_server")
        for server in flow.servers:
            self.db_server.addItem(server.name, str(server.id))
        self.db_server.setVisible(len(flow.servers) > 1)
        self.list_databases = QPushButton("List databases not in the backup…")
        self.list_databases.setObjectName("list_databases")
        self.list_databases.setToolTip(
            "Sign in to the server with its admin login to see which databases Azure Backup "
            "skips (those owned by azuresu or azure_pg_admin, including postgres)."
        )
        db_row = QHBoxLayout()
        db_row.addWidget(self.db_server)
        db_row.addWidget(self.list_databases)
        db_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.report)
        layout.addLayout(db_row)
        layout.addWidget(self.general)
        layout.addStretch(1)
        self.list_databases.clicked.connect(self._on_list_databases_clicked)
        self.refresh()

    def _on_list_databases_clicked(self) -> None:
        index = max(0, self.db_server.currentIndex())
        self.databases_requested.emit(self.flow.servers[index])

    def refresh(self) -> None:
        parts = []
        for server, issues in self.flow.preflight():
            ok = not any(i.blocks for i in issues)
            mark = "✔" if ok else "✖"
            parts.append(f"<b>{mark} {html.escape(server.name)}</b><br>{issues_html(issues)}")
        self.report.setText("<br><br>".join(parts))
        super().refresh()
        # per-server findings are in the report; the general label keeps only the rest
        if self.flow.ready(self.step):
            extra = [
                i
                for i in self.flow.issues(self.step)
                if i.field in ("server.protection", "server.databases")
            ]
            shown = {i for _s, found in self.flow.preflight() for i in found}
            self.general.setText(issues_html(i for i in extra if i not in shown))


def _scope_words(scope: str) -> str:
    """``"server pg1 (resource group rg-db)"`` for a role scope; the full id is the tooltip."""
    try:
        rid = ResourceId.parse(scope)
    except ValueError:
        return scope
    if rid.names:
        kind = {"flexibleservers": "server", "backupvaults": "vault"}.get(
            rid.types[-1].lower(), rid.types[-1]
        )
        return f"{kind} {rid.name} (resource group {rid.resource_group})"
    if rid.resource_group:
        return f"resource group {rid.resource_group}"
    return f"subscription {rid.subscription_id}"


class PermissionsPage(_FlowPage):
    """The vault identity's roles: what is missing, grant it, or export for an administrator.

    Signals:
        revalidate_requested(): the user pressed "Revalidate" (re-read role assignments).
    """

    step = Step.PERMISSIONS
    revalidate_requested = Signal()

    def __init__(self, flow: PolicyFlow, parent: QWidget | None = None) -> None:
        super().__init__(flow, parent)
        self.setTitle("Permissions of the vault")
        self.setSubTitle("The vault's managed identity needs roles on each server and its group.")
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("roles")
        self.table.setHorizontalHeaderLabels(["Role", "On", "Status"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.grant = QCheckBox(
            "Grant missing roles when I finish (needs the right to assign roles)"
        )
        self.grant.setObjectName("grant")
        self.scope = QComboBox()
        for text, scope in (
            ("on the resource", GrantScope.RESOURCE),
            ("on the resource group", GrantScope.RESOURCE_GROUP),
            ("on the subscription", GrantScope.SUBSCRIPTION),
        ):
            self.scope.addItem(text, scope)
        self.export_arm = QPushButton("Save ARM template…")
        self.copy_az = QPushButton("Copy az script")
        self.save_az = QPushButton("Save az script…")
        self.revalidate = QPushButton("Revalidate")
        self.revalidate.setObjectName("revalidate")
        roles_issues = _inline_label()
        self._bind_issues("roles", roles_issues)
        self._bind_issues("grant", roles_issues)
        grant_row = QHBoxLayout()
        grant_row.addWidget(self.grant)
        grant_row.addWidget(self.scope)
        grant_row.addStretch(1)
        buttons = QHBoxLayout()
        for b in (self.export_arm, self.copy_az, self.save_az, self.revalidate):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(grant_row)
        layout.addWidget(roles_issues)
        layout.addLayout(buttons)
        layout.addWidget(self.general)
        self.grant.toggled.connect(self._on_grant_changed)
        self.scope.currentIndexChanged.connect(self._on_grant_changed)
        self.export_arm.clicked.connect(self._on_export_arm_clicked)
        self.copy_az.clicked.connect(self._on_copy_az_clicked)
        self.save_az.clicked.connect(self._on_save_az_clicked)
        self.revalidate.clicked.connect(self.revalidate_requested)
        self.save_file: Callable[[str, str, str], str] = self._ask_file
        self.refresh()

    def refresh(self) -> None:
        missing = self.flow.missing()
        reqs = self.flow.requirements()
        self.table.setRowCount(len(reqs))
        for row, req in enumerate(reqs):
            if missing is None:
                status = "Checking…"
            elif req in missing:
                status = "Missing"
            else:
                status = "Assigned"
            for col, text in enumerate((req.role_name, _scope_words(req.scope), status)):
                item = QTableWidgetItem(text)
                item.setToolTip(req.scope if col == 1 else text)
                self.table.setItem(row, col, item)
        new_vault = self.flow.vault.mode is Choice.NEW
        chosen = GrantScope(str(self.scope.currentData()))
        offer = self.flow.can_offer_grant(chosen)
        self.grant.setEnabled(offer is not False or self.grant.isChecked())
        self.grant.setToolTip(
            "Your account can't assign roles at this scope; export the template or script "
            "for an administrator."
            if offer is False
            else ""
        )
        if offer is False and self.grant.isChecked() and self.flow.grant is None:
            self.grant.blockSignals(True)
            self.grant.setChecked(False)
            self.grant.blockSignals(False)
            self.grant.setEnabled(False)
        can_export = bool(missing) and not new_vault
        for b in (self.export_arm, self.copy_az, self.save_az):
            b.setEnabled(can_export)
        self.revalidate.setEnabled(not new_vault)
        super().refresh()

    def _on_grant_changed(self, *_args: object) -> None:
        chosen = GrantScope(str(self.scope.currentData()))
        self.flow.set_grant(chosen if self.grant.isChecked() else None)

    def _ask_file(self, caption: str, name: str, filt: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, caption, name, filt)
        return path

    def _on_export_arm_clicked(self) -> None:
        path = self.save_file("Save ARM template", "grant-backup-roles.json", "JSON (*.json)")
        if path:
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(self.flow.arm_template(), fh, indent=2)

    def _on_save_az_clicked(self) -> None:
        path = self.save_file("Save az script", "grant-backup-roles.sh", "Shell (*.sh)")
        if path:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(self.flow.az_script())

    def _on_copy_az_clicked(self) -> None:
        QApplication.clipboard().setText(self.flow.az_script())


class SummaryPage(_FlowPage):
    """What will be written, then the commit (nothing touched Azure before this)."""

    step = Step.SUMMARY

    def __init__(
        self, flow: PolicyFlow, commit: Callable[[], bool], parent: QWidget | None = None
    ) -> None:
        super().__init__(flow, parent)
        self.setTitle("Summary")
        self.setSubTitle("Nothing has been changed in Azure yet. Finish to apply these steps.")
        self.setCommitPage(True)
        self._commit = commit
        self.text = QLabel()
        self.text.setObjectName("summary")
        self.text.setWordWrap(True)
        self.progress = QLabel()
        self.progress.setObjectName("progress")
        self.progress.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(self.general)
        layout.addWidget(self.progress)
        layout.addStretch(1)

    def refresh(self) -> None:
        if self.flow.can_advance(self.step):
            steps = self.flow.plan().steps()
            self.text.setText(
                "<ol>" + "".join(f"<li>{html.escape(s)}</li>" for s in steps) + "</ol>"
            )
        else:
            self.text.setText("")
        super().refresh()

    def validatePage(self) -> bool:
        return self.flow.can_advance(self.step) and self._commit()
