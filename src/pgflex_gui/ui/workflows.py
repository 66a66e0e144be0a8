"""The tree's workflow actions: Configure backup…, Backup now, Restore…, and managing a
protected server: Change policy…, Stop protection…, Resume protection, Delete backup instance….

Each handler receives the tree node the DBA acted on, takes the services of the current
session (they change on sign-in and sign-out, so they are asked for, never cached) and opens
the matching wizard, or submits a job to the runner. No business rule lives here: the wizards'
flows and the jobs hold them (the confirmation texts too: ``jobs.manage``). Reads needed before
a dialog (the vault's settings, its policies) run as tasks; after a manage job finishes, the
node's parent is refreshed in the tree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtWidgets import QInputDialog, QWidget

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BackupInstance, FlexServer, PolicyInfo, Vault
from pgflex_gui.domain.server_restore_plan import ServerRestorePlan
from pgflex_gui.jobs.manage import (
    ChangePolicyJob,
    Confirmation,
    DeleteInstanceJob,
    ResumeProtectionJob,
    StopMode,
    StopProtectionJob,
    delete_confirmation,
    stop_confirmation,
)
from pgflex_gui.jobs.restore_as_server import ServerRestoreArm
from pgflex_gui.jobs.restore_plan_file import RestorePlanFile
from pgflex_gui.jobs.restore_wiring import load_any_plan
from pgflex_gui.ui.dialogs.confirm import confirm, confirm_choice
from pgflex_gui.ui.panels.jobs import RunnerBridge
from pgflex_gui.ui.tree.nodes import NodeKind, ResourceNode
from pgflex_gui.ui.tree.view import NodeAction

log = logging.getLogger(__name__)

__all__ = ["WorkflowActions", "WorkflowServices", "bridge_runner"]


@dataclass(frozen=True)
class WorkflowServices:
    """What the wizards and jobs need from one signed-in session."""

    inventory: Any  # domain.ports.InventoryPort
    protection: Any  # azure.protection.ProtectionService
    restore: Any  # azure.restore.RestoreService
    storage: Any  # azure.storage.StorageService
    start_restore: Callable[..., str]  # (RestorePlanFile, job_id=None) -> job id
    keystore: Any = None
    # (cancelled restore's job id, chosen Created items) -> the clean-up job's id
    start_cleanup: Callable[[str, Any], str] | None = None
    vaulted_v2: Any = None  # azure.vaulted_v2.VaultedV2Service (policy wizard's v2 protect)
    # The restore-as-server wizard's pre-flight reads (jobs.restore_as_server.SdkServerRestoreArm)
    server_restore: ServerRestoreArm | None = None


PLAN_FILE_KEY = "plan_file"  # = backends.PLAN_FILE_KEY: a restore's journal names its plan
RESUME_RESTORE = "resume-restore"
RETRY_RESTORE = "retry-restore"
CLEAN_UP_RESTORE = "clean-up-restore"


def bridge_runner(runner: Any, bridge: RunnerBridge) -> Callable[[], None]:
    """Subscribe ``bridge`` to a jobs.runner.JobRunner; returns the unsubscribe callable.

    Call it when the bridge's owner closes: the runner outlives every window and wizard, and
    would otherwise keep each bridge (and what it is connected to) alive for good.
    """

    return bridge.attach(runner)


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


def server_label(node: ResourceNode | None) -> str:
    """The server's name for dialogs: the server node's, or the instance's data source."""
    if node is None:
        return ""
    if isinstance(node.ref, FlexServer):
        return node.ref.name
    if isinstance(node.ref, BackupInstance):
        return node.ref.friendly_name or node.ref.datasource_id.name
    return node.label


def find_vault(inventory: Any, vault_id: ResourceId) -> Vault:
    """The vault's settings (soft delete, immutability) for the confirmation (worker thread)."""
    get_vault = getattr(inventory, "get_vault", None)
    if get_vault is not None:
        return get_vault(vault_id)  # type: ignore[no-any-return]
    for page in inventory.iter_vaults(vault_id.subscription_id):
        for vault in page:
            if vault.id.same_as(vault_id):
                return vault  # type: ignore[no-any-return]
    raise AppError(Fault.AZURE, f"Vault {vault_id.name} was not found.", remedy="Refresh the tree.")


def _ask_policy(parent: QWidget | None, names: list[str], current: str) -> str | None:
    choice, ok = QInputDialog.getItem(
        parent,
        "Change policy",
        f"Back up with this policy from now on (now: {current or 'unknown'}):",
        names,
        0,
        False,
    )
    return str(choice) if ok and choice else None


class WorkflowActions:
    """Handlers for the tree's workflow actions, keyed as ``MainWindow(handlers=…)`` expects.

    ``refresh(node)`` reloads a tree node after a manage job; ``show_error(exc)`` places a
    background failure. Both default to the parent window's ``model`` and ``presenter``. The
    dialogs (``ask_policy``, ``ask_stop``, ``ask_confirm``) are attributes so tests replace them.
    """

    def __init__(
        self,
        *,
        services: Callable[[], WorkflowServices | None],
        runner: Any,
        tasks: Any,
        parent: Callable[[], QWidget | None],
        refresh: Callable[[ResourceNode], None] | None = None,
        show_error: Callable[[AppError], None] | None = None,
    ) -> None:
        self._services = services
        self._runner = runner
        self._tasks = tasks
        self._parent = parent
        self._refresh = refresh
        self._show_error = show_error
        self._open: list[QWidget] = []  # keep non-modal wizards alive
        self._watched: dict[str, ResourceNode] = {}  # manage job id -> node to refresh
        self.ask_policy: Callable[[QWidget | None, list[str], str], str | None] = _ask_policy
        self.ask_stop: Callable[
            [QWidget | None, list[tuple[str, str, Confirmation]]], str | None
        ] = confirm_choice
        self.ask_confirm: Callable[[QWidget | None, Confirmation], bool] = confirm
        self._bridge: RunnerBridge | None = None
        self._unsubscribe: Callable[[], None] | None = None
        if hasattr(runner, "subscribe"):
            self._bridge = RunnerBridge()
            self._unsubscribe = bridge_runner(runner, self._bridge)
            self._bridge.finished.connect(self._on_bridge_finished)

    def close(self) -> None:
        """Stop listening to the runner and close the wizards still open (at quit)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for widget in list(self._open):
            widget.close()
        self._open.clear()

    def handlers(self) -> dict[str, Callable[[Any], None]]:
        return {
            NodeAction.CONFIGURE_BACKUP.value: self.configure_backup,
            NodeAction.BACKUP_NOW.value: self.backup_now,
            NodeAction.RESTORE.value: self.restore,
            NodeAction.CHANGE_POLICY.value: self.change_policy,
            NodeAction.STOP_PROTECTION.value: self.stop_protection,
            NodeAction.RESUME_PROTECTION.value: self.resume_protection,
            NodeAction.DELETE_INSTANCE.value: self.delete_instance,
            RESUME_RESTORE: self.resume_restore,
            RETRY_RESTORE: self.retry_restore,
            CLEAN_UP_RESTORE: self.clean_up_restore,
        }

    def resume_restore(self, request: Any) -> None:
        """Run a failed restore again from its journal (finished work is not redone)."""
        self._restart_restore(str(request.job_id), "")

    def retry_restore(self, request: Any) -> None:
        """Run a restore again, reading the files another way (``request.read_access``)."""
        self._restart_restore(str(request.job_id), str(request.read_access or ""))

    def clean_up_restore(self, request: Any) -> None:
        """Delete the chosen things a cancelled restore created (``request.items``)."""
        services = self._require()
        if services.start_cleanup is None:
            raise AppError(Fault.USER, "Cleaning up is not available in this session.")
        items = tuple(request.items)
        log.info("Cleaning up after restore %s: %d item(s)", request.job_id, len(items))
        services.start_cleanup(str(request.job_id), items)

    def _restart_restore(self, job_id: str, read_access: str) -> None:
        services = self._require()
        handle = self._runner.get(job_id) if hasattr(self._runner, "get") else None
        plan_file = handle.journal.get(PLAN_FILE_KEY) if handle is not None else None
        if not plan_file:
            raise AppError(
                Fault.USER,
                "This restore's plan is not known to this session.",
                "Start the restore again from the wizard, or run pgflex restore --plan.",
            )
        try:
            plan = load_any_plan(plan_file)
        except (OSError, ValueError) as exc:
            raise AppError(Fault.USER, f"The restore's plan can't be read: {exc}") from exc
        if read_access and isinstance(plan, ServerRestorePlan):
            raise AppError(
                Fault.USER,
                "A restore as server reads no files, so there is no read method to change.",
                "Resume it instead: it follows the Azure job it started.",
            )
        if read_access and isinstance(plan, RestorePlanFile):
            keep_sas = read_access == "sas"
            container = replace(
                plan.container,
                read_access=read_access,
                sas_entry=plan.container.sas_entry if keep_sas else "",
            )
            plan = plan.with_changes(container=container)
            problems = plan.problems()
            if problems:
                raise AppError(
                    Fault.USER,
                    f"This restore can't read its files that way: {'; '.join(problems)}.",
                    "Pick another read method.",
                )
        log.info("Restarting restore %s (read method: %s)", job_id, read_access or "as before")
        services.start_restore(plan, job_id=job_id)

    def _require(self) -> WorkflowServices:
        services = self._services()
        if services is None:
            raise NOT_SIGNED_IN
        return services

    def _keep(self, widget: QWidget) -> None:
        """Hold a non-modal wizard until Qt deletes it (the wizards delete themselves on close)."""
        self._open.append(widget)
        widget.destroyed.connect(lambda _obj=None, w=widget: self._forget(w))

    def _forget(self, widget: QWidget) -> None:
        self._open = [w for w in self._open if w is not widget]

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
            keystore=services.keystore,
            vaulted_v2=services.vaulted_v2,
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
            label=server_label(node),
        )
        self._runner.submit(job, "arm-write")

    def restore(self, node: ResourceNode | None) -> None:
        """Open the restore wizard for the node's server, backup instance or recovery point.

        A vaulted backup v2 instance restores as a server: it opens the restore-as-server
        wizard (unless the chosen point is known to be v1); everything else, and a v1 point,
        the restore-as-files wizard.
        """
        from pgflex_gui.domain.backup_kind import point_kind
        from pgflex_gui.ui.wizards.restore.wizard import source_from_node

        services = self._require()
        source = source_from_node(node)
        instance = source.instance
        if instance is not None and services.server_restore is not None:
            point = source.recovery_point
            as_files = point is not None and (
                point_kind(instance.backup_kind, point.kind_evidence or None) == "v1"
            )
            # A v2 instance's points rarely say their kind (UNCONFIRMED): the server wizard
            # lists them as unknown and Azure's validation decides; a v1 point goes to files.
            if instance.backup_kind == "v2" and not as_files:
                self.restore_as_server(source)
                return
        self.restore_as_files(source)

    def restore_as_files(self, source: Any) -> None:
        """The restore-as-files wizard, pre-set to ``source`` (a node or a RestoreSource)."""
        from pgflex_gui.ui.wizards.restore.wizard import open_restore_wizard

        services = self._require()
        wizard = open_restore_wizard(
            self._parent(),
            source=source,
            inventory=services.inventory,
            storage=services.storage,
            start_restore=services.start_restore,
            tasks=self._tasks,
            secondary_points=services.restore.list_secondary_recovery_points,
            roles=services.protection,
            keystore=services.keystore,
            restore_as_server=(
                self.restore_as_server if services.server_restore is not None else None
            ),
        )
        self._keep(wizard)

    def restore_as_server(self, source: Any) -> None:
        """The restore-as-server wizard (v2), pre-set to ``source`` (a node or RestoreSource)."""
        from pgflex_gui.ui.wizards.restore.wizard import source_from_node
        from pgflex_gui.ui.wizards.restore_server.wizard import (
            ServerRestoreServices,
            open_server_restore_wizard,
        )

        services = self._require()
        if services.server_restore is None:
            raise AppError(Fault.USER, "Restoring as a server is not available in this session.")
        picked = source_from_node(source)
        wizard = open_server_restore_wizard(
            self._parent(),
            vault=picked.vault,
            instance=picked.instance,
            source=picked.server,
            recovery_point=picked.recovery_point,
            services=ServerRestoreServices(
                inventory=services.inventory, arm=services.server_restore, tasks=self._tasks
            ),
            start_restore=services.start_restore,
        )
        self._keep(wizard)

    # -- manage a protected server ----------------------------------------------------------
    def _instance_or_fail(self, node: ResourceNode | None) -> ResourceId:
        instance = instance_of(node)
        if instance is None or instance.parent is None:
            raise AppError(
                Fault.USER,
                "This server is not protected, so there is no backup instance to manage.",
                remedy="Use Configure backup… first, or refresh the tree.",
            )
        return instance

    def _report(self, exc: AppError) -> None:
        if self._show_error is not None:
            self._show_error(exc)
            return
        presenter = getattr(self._parent(), "presenter", None)
        if presenter is not None:
            presenter.show_error(exc)
        else:
            log.warning("Workflow action failed: %s", exc.summary)

    def _submit(self, job: Any, node: ResourceNode | None) -> str:
        handle = self._runner.submit(job, "arm-write")
        if node is not None:
            self._watched[handle.id] = node
        return str(handle.id)

    def _on_bridge_finished(
        self, job_id: str, _result: object, _error: object, _cancelled: bool
    ) -> None:
        node = self._watched.pop(job_id, None)
        if node is None or getattr(self._parent(), "follows_jobs", False):
            return  # the main window refreshes what each job changed itself
        target = node.parent or node
        if self._refresh is not None:
            self._refresh(target)
            return
        model = getattr(self._parent(), "model", None)
        if model is not None and hasattr(model, "index_of"):
            model.refresh(model.index_of(target))

    def change_policy(self, node: ResourceNode | None) -> None:
        """List the vault's PG-flex policies, let the DBA pick one, then change it as a job."""
        instance = self._instance_or_fail(node)
        services = self._require()
        vault_id = instance.parent
        assert vault_id is not None
        current = ""
        if node is not None and isinstance(node.ref, BackupInstance) and node.ref.policy_id:
            current = node.ref.policy_id.name
        elif node is not None and node.protection is not None:
            current = node.protection.policy_name

        def chosen(policies: list[PolicyInfo]) -> None:
            others = [p for p in policies if p.is_pg_flex and p.name.lower() != current.lower()]
            if not others:
                self._report(
                    AppError(
                        Fault.USER,
                        f"Vault {vault_id.name} has no other PostgreSQL flexible server policy.",
                        remedy="Create one with Configure backup…, then change the policy.",
                    )
                )
                return
            name = self.ask_policy(self._parent(), [p.name for p in others], current)
            picked = next((p for p in others if p.name == name), None)
            if picked is None:
                return
            job = ChangePolicyJob(
                services.protection, instance, picked.id, label=server_label(node)
            )
            self._submit(job, node)

        self._tasks.task(services.inventory.list_policies, vault_id).keyed(
            ("change-policy", str(instance).lower())
        ).on_success(chosen).on_failure(self._report).start()

    def _with_vault(self, node: ResourceNode | None, then: Callable[[Vault], None]) -> ResourceId:
        instance = self._instance_or_fail(node)
        services = self._require()
        vault_id = instance.parent
        assert vault_id is not None
        self._tasks.task(find_vault, services.inventory, vault_id).keyed(
            ("manage-vault", str(instance).lower())
        ).on_success(then).on_failure(self._report).start()
        return instance

    def stop_protection(self, node: ResourceNode | None) -> None:
        """Confirm (retain data or delete data), then stop protection as a job."""
        services = self._require()
        label = server_label(node)
        instance = self._instance_or_fail(node)

        def ask(vault: Vault) -> None:
            choices = [
                (
                    StopMode.RETAIN_DATA.value,
                    "Retain data",
                    stop_confirmation(label, vault, StopMode.RETAIN_DATA),
                ),
                (
                    StopMode.DELETE_DATA.value,
                    "Delete data",
                    stop_confirmation(label, vault, StopMode.DELETE_DATA),
                ),
            ]
            key = self.ask_stop(self._parent(), choices)
            if key is None:
                return
            job = StopProtectionJob(services.protection, instance, mode=StopMode(key), label=label)
            self._submit(job, node)

        self._with_vault(node, ask)

    def resume_protection(self, node: ResourceNode | None) -> None:
        """Resume protection of a stopped instance as a job (nothing to confirm)."""
        instance = self._instance_or_fail(node)
        services = self._require()
        job = ResumeProtectionJob(services.protection, instance, label=server_label(node))
        self._submit(job, node)

    def delete_instance(self, node: ResourceNode | None) -> None:
        """Confirm (soft delete and immutability explained), then delete as a job."""
        services = self._require()
        label = server_label(node)
        instance = self._instance_or_fail(node)

        def ask(vault: Vault) -> None:
            if not self.ask_confirm(self._parent(), delete_confirmation(label, vault)):
                return
            self._submit(DeleteInstanceJob(services.protection, instance, label=label), node)

        self._with_vault(node, ask)
