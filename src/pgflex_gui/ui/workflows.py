"""The tree's workflow actions: Configure backup…, Backup now and Restore….

Each handler receives the tree node the DBA acted on, takes the services of the current
session (they change on sign-in and sign-out, so they are asked for, never cached) and opens
the matching wizard, or submits a job to the runner. No business rule lives here: the wizards'
flows and the jobs hold them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import QInputDialog, QWidget

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BackupInstance, FlexServer
from pgflex_gui.ui.tree.nodes import NodeKind, ResourceNode
from pgflex_gui.ui.tree.view import NodeAction

log = logging.getLogger(__name__)

__all__ = ["WorkflowActions", "WorkflowServices"]


@dataclass(frozen=True)
class WorkflowServices:
    """What the wizards and jobs need from one signed-in session."""

    inventory: Any  # domain.ports.InventoryPort
    protection: Any  # azure.protection.ProtectionService
    restore: Any  # azure.restore.RestoreService
    storage: Any  # azure.storage.StorageService
    start_restore: Callable[[Any], str]  # RestorePlanFile -> job id
    keystore: Any = None


NOT_SIGNED_IN = AppError(
    Fault.USER,
    "You are not signed in yet.",
    remedy="Wait for the sign-in to finish, or use File > Sign in….",
)


def servers_of(node: ResourceNode | None) -> list[FlexServer]:
    """The server a node stands for, or every loaded server under a servers group."""
    if node is None:
        return []
    if isinstance(node.ref, FlexServer):
        return [node.ref]
    if node.kind is NodeKind.SERVERS_GROUP:
        return [c.ref for c in node.children if isinstance(c.ref, FlexServer)]
    return []


def instance_of(node: ResourceNode | None) -> ResourceId | None:
    """The backup instance a server or instance node is protected by, when known."""
    if node is None:
        return None
    if isinstance(node.ref, BackupInstance):
        return node.ref.id
    protection = node.protection
    if protection is not None and protection.instance_id:
        try:
            return ResourceId.parse(protection.instance_id)
        except ValueError:
            return None
    return None


class WorkflowActions:
    """Handlers for the tree's workflow actions, keyed as ``MainWindow(handlers=…)`` expects."""

    def __init__(
        self,
        *,
        services: Callable[[], WorkflowServices | None],
        runner: Any,
        tasks: Any,
        parent: Callable[[], QWidget | None],
    ) -> None:
        self._services = services
        self._runner = runner
        self._tasks = tasks
        self._parent = parent
        self._open: list[QWidget] = []  # keep non-modal wizards alive

    def handlers(self) -> dict[str, Callable[[Any], None]]:
        return {
            NodeAction.CONFIGURE_BACKUP.value: self.configure_backup,
            NodeAction.BACKUP_NOW.value: self.backup_now,
            NodeAction.RESTORE.value: self.restore,
        }

    def _require(self) -> WorkflowServices:
        services = self._services()
        if services is None:
            raise NOT_SIGNED_IN
        return services

    def _keep(self, widget: QWidget) -> None:
        self._open = [w for w in self._open if w.isVisible()]
        self._open.append(widget)

    def configure_backup(self, node: ResourceNode | None) -> None:
        """Open the policy and protection wizard for the node's server(s)."""
        from pgflex_gui.ui.wizards.policy.wizard import open_policy_wizard

        servers = servers_of(node)
        if not servers:
            raise AppError(
                Fault.USER,
                "Choose a flexible server (or a servers group) to configure backup for.",
            )
        services = self._require()
        wizard = open_policy_wizard(
            self._parent(),
            servers,
            inventory=services.inventory,
            protection=services.protection,
            runner=self._runner,
            tasks=self._tasks,
        )
        self._keep(wizard)

    def backup_now(self, node: ResourceNode | None) -> None:
        """Ask for the retention rule, then run an ad-hoc backup as a job."""
        from pgflex_gui.domain.retention import RetentionKind
        from pgflex_gui.jobs.protect import AdhocBackupJob, ServicePort

        instance = instance_of(node)
        if instance is None:
            raise AppError(
                Fault.USER,
                "This server is not protected yet, so there is nothing to back up now.",
                remedy="Use Configure backup… first.",
            )
        services = self._require()
        kinds = [k.value for k in RetentionKind]
        choice, ok = QInputDialog.getItem(
            self._parent(), "Backup now", "Keep this recovery point as:", kinds, 0, False
        )
        if not ok:
            return
        job = AdhocBackupJob(
            ServicePort(services.protection, services.inventory),
            instance,
            retention=RetentionKind(choice),
        )
        self._runner.submit(job, "arm-write")

    def restore(self, node: ResourceNode | None) -> None:
        """Open the restore wizard, pre-set to the node's server or backup instance."""
        from pgflex_gui.ui.wizards.restore.wizard import open_restore_wizard

        services = self._require()
        wizard = open_restore_wizard(
            self._parent(),
            source=node,
            inventory=services.inventory,
            storage=services.storage,
            start_restore=services.start_restore,
            tasks=self._tasks,
            secondary_points=services.restore.list_secondary_recovery_points,
            roles=services.protection,
            keystore=services.keystore,
        )
        self._keep(wizard)
