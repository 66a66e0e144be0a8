"""The settings dialog: cloud and endpoints, PostgreSQL tools, downloads, restore jobs,
subscription filter, and a line telling where secrets are kept.

Saving runs on a worker (an atomic write with fsync) through the Task bridge; problems show
inline. Nothing here touches secrets: the keystore line only describes the backend.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
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
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from pgflex_gui.domain.cloud import CUSTOM
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.settings import Settings
from pgflex_gui.ui.dialogs.sign_in import CLOUD_NAMES, https_url_issue
from pgflex_gui.ui.tasks import TaskManager

__all__ = ["PG_MAJORS", "SettingsDialog", "parse_subscriptions", "settings_issues"]

log = logging.getLogger(__name__)

PG_MAJORS = ("13", "14", "15", "16", "17", "18")
MAX_RESTORE_JOBS = 64


def parse_subscriptions(text: str) -> tuple[str, ...]:
    """Subscription ids from text separated by newlines, commas or spaces (no duplicates)."""
    seen: dict[str, None] = {}
    for item in re.split(r"[\s,;]+", text):
        if item:
            seen.setdefault(item.strip(), None)
    return tuple(seen)


def settings_issues(settings: Settings) -> list[str]:
    """What keeps ``settings`` from being saved, in plain words."""
    issues: list[str] = []
    if settings.cloud == CUSTOM:
        issue = https_url_issue(settings.arm_endpoint, "ARM endpoint", required=True)
        if issue:
            issues.append(issue)
    issue = https_url_issue(settings.authority_host, "authority host", required=False)
    if issue and settings.cloud == CUSTOM:
        issues.append(issue)
    if settings.ca_bundle and not Path(settings.ca_bundle).is_file():
        issues.append("The CA bundle file does not exist.")
    for major, folder in sorted(settings.pg_tool_paths.items()):
        if folder and not Path(folder).is_dir():
            issues.append(f"The PostgreSQL {major} tools folder does not exist.")
    if not 1 <= settings.restore_jobs <= MAX_RESTORE_JOBS:
        issues.append(f"Parallel restore jobs must be from 1 to {MAX_RESTORE_JOBS}.")
    return issues


def _opt(text: str) -> str | None:
    value = text.strip()
    return value or None


class SettingsDialog(QDialog):
    """Edit and save :class:`~pgflex_gui.settings.Settings`.

    Args:
        settings: the values to start from.
        tasks: the Task bridge (saving and the keyring description run on workers).
        save: writes a ``Settings`` (``settings.save_settings`` bound to its path).
        keyring_info: describes the keyring backend and whether secrets are session-only;
            it may block (the keystore probe), so it runs on a worker. None: not shown.

    Signals:
        saved(object): the ``Settings`` that were written.
    """

    saved = Signal(object)

    def __init__(
        self,
        settings: Settings,
        *,
        tasks: TaskManager,
        save: Callable[[Settings], Any],
        keyring_info: Callable[[], str] | None = None,
        running_on: str = "",
        subscriptions: Callable[[], list[tuple[str, str, str]]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("SettingsDialog")
        self.setWindowTitle("Settings")
        self.setMinimumWidth(600)
        self._settings = settings
        self._tasks = tasks
        self._list_subscriptions = subscriptions
        self._save = save
        self._saving = False

        # Cloud
        self.cloud = QComboBox()
        self.cloud.addItems(list(CLOUD_NAMES))
        if settings.cloud in CLOUD_NAMES:
            self.cloud.setCurrentText(settings.cloud)
        self.arm_endpoint = QLineEdit(settings.arm_endpoint or "")
        self.arm_endpoint.setPlaceholderText("https://management.example.com")
        self.authority_host = QLineEdit(settings.authority_host or "")
        self.authority_host.setPlaceholderText("https://login.example.com (optional)")
        self.ca_bundle = QLineEdit(settings.ca_bundle or "")
        self.ca_bundle.setPlaceholderText("PEM file of a private CA (optional)")
        cloud_box = QGroupBox("Cloud")
        cloud_form = QFormLayout(cloud_box)
        # the cloud this session runs on, when it is not the configured one (the sandbox)
        sandbox = running_on.lower() == "sandbox"
        self.running_on = QLabel(
            "Sandbox (local): this session runs on the local sandbox. The cloud below is "
            "used when you sign in to Azure."
            if sandbox
            else running_on
        )
        self.running_on.setObjectName("RunningOn")
        self.running_on.setWordWrap(True)
        cloud_form.addRow("Running on", self.running_on)
        cloud_form.setRowVisible(
            self.running_on, bool(running_on) and (sandbox or running_on != settings.cloud)
        )
        cloud_form.addRow("Cloud", self.cloud)
        cloud_form.addRow("ARM endpoint", self.arm_endpoint)
        cloud_form.addRow("Authority host", self.authority_host)
        cloud_form.addRow("CA bundle", self._browse_row(self.ca_bundle, folder=False))
        self._cloud_form = cloud_form

        # PostgreSQL tools per major
        self.pg_paths: dict[str, QLineEdit] = {}
        majors = list(PG_MAJORS) + sorted(k for k in settings.pg_tool_paths if k not in PG_MAJORS)
        tools_box = QGroupBox("PostgreSQL client tools (bin folder per major version)")
        tools_form = QFormLayout(tools_box)
        for major in majors:
            edit = QLineEdit(settings.pg_tool_paths.get(major, ""))
            edit.setPlaceholderText("found automatically")
            self.pg_paths[major] = edit
            label = f"PostgreSQL {major}" if major.isdigit() else major
            tools_form.addRow(label, self._browse_row(edit, folder=True))

        # Downloads, restore, subscriptions
        self.download_dir = QLineEdit(settings.download_dir or "")
        self.download_dir.setPlaceholderText(str(Settings().effective_download_dir()))
        self.restore_jobs = QSpinBox()
        self.restore_jobs.setRange(1, MAX_RESTORE_JOBS)
        self.restore_jobs.setValue(min(max(settings.restore_jobs, 1), MAX_RESTORE_JOBS))
        # The filter by name: tick subscriptions (listed on a worker); the ids below follow
        # the ticks and stay editable for subscriptions not listed now.
        self.subscription_list = QListWidget()
        self.subscription_list.setObjectName("subscriptionList")
        self.subscription_list.setMaximumHeight(110)
        self.subscription_list.setVisible(False)
        self.subscription_note = QLabel(
            "Listing your subscriptions…"
            if subscriptions
            else "Sign in to pick subscriptions by name."
        )
        self.subscription_note.setObjectName("subscriptionNote")
        self.subscription_note.setWordWrap(True)
        self.subscriptions = QPlainTextEdit("\n".join(settings.subscription_filter))
        self.subscriptions.setPlaceholderText("…or subscription ids, one per line (empty: all)")
        self.subscriptions.setMaximumHeight(60)
        other_box = QGroupBox("Restores and browsing")
        other_form = QFormLayout(other_box)
        other_form.addRow("Download folder", self._browse_row(self.download_dir, folder=True))
        other_form.addRow("Parallel restore jobs", self.restore_jobs)
        other_form.addRow("Show subscriptions", self.subscription_list)
        other_form.addRow("", self.subscription_note)
        other_form.addRow("Subscription ids", self.subscriptions)

        self.keyring_label = QLabel("Keyring: checking…" if keyring_info else "")
        self.keyring_label.setObjectName("KeyringLine")
        self.keyring_label.setWordWrap(True)
        self.issues_label = QLabel()
        self.issues_label.setObjectName("Issues")
        self.issues_label.setWordWrap(True)
        self.issues_label.setStyleSheet("color: #b07d00;")
        self.error_label = QLabel()
        self.error_label.setObjectName("SaveError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setVisible(False)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)

        layout = QVBoxLayout(self)
        layout.addWidget(cloud_box)
        layout.addWidget(tools_box)
        layout.addWidget(other_box)
        layout.addWidget(self.keyring_label)
        layout.addWidget(self.issues_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

        self._connect_signals()
        self._on_cloud_changed()
        if keyring_info is not None:
            self._tasks.task(keyring_info).on_success(self._on_keyring_described).on_failure(
                self._on_keyring_failed
            ).in_lane("arm-read").start()

    # -- building ---------------------------------------------------------------------------
    def _browse_row(self, edit: QLineEdit, *, folder: bool) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        button = QPushButton("Browse…")
        button.clicked.connect(lambda: self._browse(edit, folder=folder))
        row.addWidget(button)
        return box

    def _browse(self, edit: QLineEdit, *, folder: bool) -> None:
        if folder:
            path = QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text())
        else:
            path, _filter = QFileDialog.getOpenFileName(
                self, "Choose a file", edit.text(), "PEM files (*.pem *.crt);;All files (*)"
            )
        if path:
            edit.setText(path)

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        self.cloud.currentTextChanged.connect(self._on_cloud_changed)
        for edit in (
            self.arm_endpoint,
            self.authority_host,
            self.ca_bundle,
            self.download_dir,
            *self.pg_paths.values(),
        ):
            edit.textChanged.connect(self._on_field_changed)
        self.subscriptions.textChanged.connect(self._on_field_changed)
        self.subscriptions.textChanged.connect(self._sync_ticks)
        self.subscription_list.itemChanged.connect(self._on_subscription_item_changed)
        self.restore_jobs.valueChanged.connect(self._on_field_changed)
        self._ticking = False
        if self._list_subscriptions is not None:
            self._tasks.task(self._list_subscriptions).in_lane("arm-read").on_success(
                self._on_subscriptions_listed
            ).on_failure(self._on_subscriptions_failed).start()

    # -- subscriptions by name --------------------------------------------------------------
    def _on_subscriptions_listed(self, found: object) -> None:
        rows = (
            [r for r in found if isinstance(r, tuple) and len(r) == 3]
            if isinstance(found, list)
            else []
        )
        if not rows:
            self.subscription_note.setText("No subscriptions listed: type their ids below.")
            return
        self._ticking = True
        for sub_id, name, tenant in sorted(rows, key=lambda r: (r[2].lower(), r[1].lower())):
            item = QListWidgetItem(f"{name} ({tenant})")
            item.setToolTip(sub_id)
            item.setData(Qt.ItemDataRole.UserRole, sub_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.subscription_list.addItem(item)
        self._ticking = False
        self.subscription_list.setVisible(True)
        self.subscription_note.setText("None ticked: all subscriptions are shown.")
        self._sync_ticks()

    def _on_subscriptions_failed(self, error: AppError) -> None:
        self.subscription_note.setText(f"Subscriptions not listed ({error.summary}); type ids.")

    def _on_subscription_item_changed(self, _item: QListWidgetItem) -> None:
        if self._ticking:
            return
        listed = {self._item_id(i) for i in range(self.subscription_list.count())}
        typed = [s for s in parse_subscriptions(self.subscriptions.toPlainText())
                 if s.lower() not in listed]  # fmt: skip
        ticked = [
            self._item_id(i, keep_case=True)
            for i in range(self.subscription_list.count())
            if self.subscription_list.item(i).checkState() == Qt.CheckState.Checked
        ]
        self._ticking = True
        self.subscriptions.setPlainText("\n".join([*ticked, *typed]))
        self._ticking = False

    def _item_id(self, row: int, *, keep_case: bool = False) -> str:
        value = str(self.subscription_list.item(row).data(Qt.ItemDataRole.UserRole) or "")
        return value if keep_case else value.lower()

    def _sync_ticks(self) -> None:
        if self._ticking:
            return
        wanted = {s.lower() for s in parse_subscriptions(self.subscriptions.toPlainText())}
        self._ticking = True
        for row in range(self.subscription_list.count()):
            item = self.subscription_list.item(row)
            on = self._item_id(row) in wanted
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self._ticking = False

    # -- values -----------------------------------------------------------------------------
    def value(self) -> Settings:
        """The settings as edited (not saved)."""
        custom = self.cloud.currentText() == CUSTOM
        return self._settings.replace(
            cloud=self.cloud.currentText(),
            arm_endpoint=_opt(self.arm_endpoint.text()) if custom else self._settings.arm_endpoint,
            authority_host=_opt(self.authority_host.text())
            if custom
            else self._settings.authority_host,
            ca_bundle=_opt(self.ca_bundle.text()),
            pg_tool_paths={
                major: edit.text().strip()
                for major, edit in self.pg_paths.items()
                if edit.text().strip()
            },
            download_dir=_opt(self.download_dir.text()),
            restore_jobs=self.restore_jobs.value(),
            subscription_filter=parse_subscriptions(self.subscriptions.toPlainText()),
        )

    def issues(self) -> list[str]:
        return settings_issues(self.value())

    # -- slots ------------------------------------------------------------------------------
    def _on_cloud_changed(self, _cloud: str = "") -> None:
        custom = self.cloud.currentText() == CUSTOM
        for widget in (self.arm_endpoint, self.authority_host):
            widget.setVisible(custom)
            label = self._cloud_form.labelForField(widget)
            if label is not None:
                label.setVisible(custom)
        self._on_field_changed()

    def _on_field_changed(self, *_args: object) -> None:
        issues = self.issues()
        self.issues_label.setText("\n".join(issues))
        self.issues_label.setVisible(bool(issues))
        self.save_button.setEnabled(not issues and not self._saving)

    def _on_keyring_described(self, text: str) -> None:
        self.keyring_label.setText(str(text))

    def _on_keyring_failed(self, error: AppError) -> None:
        self.keyring_label.setText(f"Keyring: not usable ({error.summary})")

    def _on_buttons_accepted(self) -> None:
        settings = self.value()
        if self._saving or settings_issues(settings):
            return
        self._saving = True
        self.save_button.setEnabled(False)
        self.error_label.setVisible(False)
        self._tasks.task(self._save_work, settings).on_success(
            lambda _path: self._on_save_done(settings)
        ).on_failure(self._on_save_failed).in_lane("settings").start()

    def _save_work(self, settings: Settings) -> Any:
        """On a worker: write the file; a refused or failed write becomes a USER AppError."""
        try:
            return self._save(settings)
        except (OSError, ValueError) as exc:
            raise AppError(
                Fault.USER,
                "The settings could not be saved.",
                remedy="Check that the settings folder is writable.",
                details=f"{type(exc).__name__}: {exc}",
            ) from exc

    def _on_save_done(self, settings: Settings) -> None:
        self._saving = False
        self._settings = settings
        log.info("settings saved")
        self.saved.emit(settings)
        self.accept()

    def _on_save_failed(self, error: AppError) -> None:
        self._saving = False
        self.error_label.setText(
            f"{error.summary} {error.remedy}".strip()
            + (f"\n{error.details.splitlines()[-1]}" if error.details else "")
        )
        self.error_label.setVisible(True)
        self._on_field_changed()
