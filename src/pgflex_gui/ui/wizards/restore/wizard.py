"""The restore wizard: four pages over a RestoreFlow, committing one restore job.

Commit (Finish, labelled "Restore"): the chosen fixes run and a pasted SAS goes to the
keystore in one ``arm-write`` task; then ``start_restore(plan)`` queues the job and the wizard
closes. A failure stays inline on the summary page and the wizard stays open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QWidget, QWizard

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.models import BackupInstance, FlexServer, RecoveryPoint, Vault
from pgflex_gui.jobs.restore_plan_file import RestorePlanFile
from pgflex_gui.settings import load_settings
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.wizards.restore.flow import InvalidPlan, RestoreFlow, RestoreSource, Step
from pgflex_gui.ui.wizards.restore.pages import (
    ContainerPage,
    RestoreServices,
    ServerPage,
    SourcePage,
    SummaryPage,
    fix_work,
)

__all__ = ["RestoreWizard", "open_restore_wizard", "source_from_node"]

log = logging.getLogger(__name__)


class RestoreWizard(QWizard):
    """Restore a backup as files, then into a PostgreSQL server.

    Signals:
        committed(str): the job id ``start_restore`` returned.
    """

    committed = Signal(str)

    def __init__(
        self,
        flow: RestoreFlow,
        services: RestoreServices,
        start_restore: Callable[[RestorePlanFile], str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("RestoreWizard")
        # Non-modal and parented to the window: delete it on close, or every wizard opened
        # stays alive until the window goes.
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle(
            f"Restore {flow.source.label}" if flow.source.selected else "Restore from files"
        )
        self.resize(960, 680)  # room for the recovery-point list and the inline issues
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.flow = flow
        self.services = services
        self._start_restore = start_restore
        self.job_id: str | None = None
        self._committing = False
        self.source_page = SourcePage(flow, services)
        self.container_page = ContainerPage(flow, services)
        self.server_page = ServerPage(flow, services)
        self.summary_page = SummaryPage(flow, services)
        for step, page in (
            (Step.SOURCE, self.source_page),
            (Step.CONTAINER, self.container_page),
            (Step.SERVER, self.server_page),
            (Step.SUMMARY, self.summary_page),
        ):
            self.setPage(int(step), page)
        self.setStartId(int(Step.SOURCE))
        self.setButtonText(QWizard.WizardButton.FinishButton, "Restore")
        self.finished.connect(self._on_self_finished)

    def _on_self_finished(self, _result: int) -> None:
        """Closing (then deleted): listings still on their way must not reach the pages."""
        self.flow.clear_listeners()

    def accept(self) -> None:
        """Commit: run fixes and keystore writes off the GUI thread, then start the job."""
        if self.job_id is not None:
            super().accept()
            return
        if self._committing:
            return
        try:
            plan = self.flow.plan()
        except InvalidPlan as exc:
            self.summary_page.commit_state.setText(str(exc))
            return
        fixes = [] if self.flow.incident_mode else self.flow.commit_fixes()
        sas = (
            self.source_page.sas_text()
            if self.flow.incident_mode
            else self.container_page.sas_text()
        )
        entry = plan.container.sas_entry
        if not fixes and not (sas and entry):
            self._start(plan)
            return
        keystore = self.services.keystore
        apply_fixes = fix_work(self.flow, self.services, fixes)

        def prepare() -> None:
            apply_fixes()
            if sas and entry:
                if keystore is None:
                    raise AppError(fault=Fault.USER, summary="No keyring is available for the SAS.")
                keystore.set(entry, sas)

        self._committing = True
        self.button(QWizard.WizardButton.FinishButton).setEnabled(False)
        self.summary_page.commit_state.setText("Preparing the restore…")
        self.services.tasks.task(prepare).keyed(("restore-commit", id(self))).on_success(
            lambda _r: self._start(plan)
        ).on_failure(self._on_prepare_failed).in_lane("arm-write").start()

    def _on_prepare_failed(self, exc: AppError) -> None:
        self._committing = False
        self.button(QWizard.WizardButton.FinishButton).setEnabled(True)
        self.summary_page.commit_state.setText(str(exc))

    def _start(self, plan: RestorePlanFile) -> None:
        self._committing = False
        try:
            self.job_id = self._start_restore(plan)
        except AppError as exc:
            self._on_prepare_failed(exc)
            return
        log.info("Restore job %s started for %s", self.job_id, self.flow.source.label)
        self.committed.emit(self.job_id)
        super().accept()

    def reject(self) -> None:
        self.services.tasks.invalidate(("restore-commit", id(self)))
        super().reject()


def source_from_node(node: Any) -> RestoreSource:
    """Best-effort RestoreSource from a tree node (server, backup instance or recovery point),
    without I/O.

    Walks up to the vault node for a backup instance (and to the instance for a recovery
    point, which becomes the wizard's preselected point); for a server, looks through the
    tree's vault nodes for the instance named in its protection status.
    """
    if isinstance(node, RestoreSource):
        return node
    ref = getattr(node, "ref", None)
    if isinstance(ref, RecoveryPoint):
        instance = _ancestor_ref(node, BackupInstance)
        if not isinstance(instance, BackupInstance):
            return RestoreSource()
        vault = _ancestor_ref(node, Vault)
        server = _find_ref(_root(node), FlexServer, str(instance.datasource_id))
        return RestoreSource(vault, instance, server, recovery_point=ref)
    if isinstance(ref, BackupInstance):
        vault = _ancestor_ref(node, Vault)
        server = _find_ref(_root(node), FlexServer, str(ref.datasource_id))
        return RestoreSource(vault, ref, server)
    if isinstance(ref, FlexServer):
        protection = getattr(node, "protection", None)
        # The protection scan keeps the vault and instance it found, loaded in the tree or not.
        instance = getattr(protection, "instance", None)
        vault = getattr(protection, "vault", None)
        instance_id = getattr(protection, "instance_id", "") if protection else ""
        if instance is None and instance_id:
            instance = _find_ref(_root(node), BackupInstance, instance_id)
        if vault is None and isinstance(instance, BackupInstance):
            vault = _find_ref(_root(node), Vault, str(instance.vault_id))
        return RestoreSource(vault, instance, ref)
    return RestoreSource()


def _root(node: Any) -> Any:
    while getattr(node, "parent", None) is not None:
        node = node.parent
    return node


def _ancestor_ref(node: Any, kind: type) -> Any:
    while node is not None:
        if isinstance(getattr(node, "ref", None), kind):
            return node.ref
        node = getattr(node, "parent", None)
    return None


def _find_ref(root: Any, kind: type, rid: str) -> Any:
    stack = [root]
    while stack:
        node = stack.pop()
        ref = getattr(node, "ref", None)
        if isinstance(ref, kind) and str(getattr(ref, "id", "")).lower() == rid.lower():
            return ref
        stack.extend(getattr(node, "children", ()))
    return None


def open_restore_wizard(
    parent: QWidget | None,
    *,
    source: Any,
    inventory: Any,
    storage: Any,
    start_restore: Callable[[RestorePlanFile], str],
    tasks: TaskManager,
    secondary_points: Callable[..., Any] | None = None,
    roles: Any = None,
    keystore: Any = None,
    free_space: Callable[[str], int] | None = None,
    download_dir: str | None = None,
    restore_as_server: Callable[[RestoreSource], None] | None = None,
) -> RestoreWizard:
    """Build and show (non-modal) the restore wizard; returns it.

    ``source`` is a :class:`RestoreSource` or a tree node (server or backup instance).
    ``start_restore(plan) -> job id`` queues the restore job (e.g. on the JobRunner).
    ``download_dir`` starts the download folder; None: the one Settings has (or its default).
    ``restore_as_server(source)`` opens the restore-as-server wizard for a v2 point.
    """
    flow = RestoreFlow(source_from_node(source))
    if download_dir is None:
        download_dir = str(load_settings().effective_download_dir())
    if download_dir and not flow.draft.download_dir:
        flow.update(download_dir=download_dir)
    services = RestoreServices(
        inventory=inventory,
        storage=storage,
        tasks=tasks,
        secondary_points=secondary_points,
        roles=roles,
        keystore=keystore,
        free_space=free_space,
        restore_as_server=restore_as_server,
    )
    wizard = RestoreWizard(flow, services, start_restore, parent)
    wizard.setModal(False)
    wizard.show()
    return wizard
