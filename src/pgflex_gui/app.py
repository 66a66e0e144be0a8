"""Composition root: parse arguments, build every collaborator, hand them to the MainWindow.

Other modules are imported lazily and guarded, so the window still opens (showing a clear
message on the tree) while a piece is missing or fails to start.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QSettings, QTimer, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ports import InventoryPort

__all__ = ["DeferredInventory", "build_parser", "run"]

log = logging.getLogger(__name__)

ORGANIZATION = "pgflex-gui"
APPLICATION = "pgflex-gui"
RESOURCES = Path(__file__).parent / "resources"
SMOKE_MS = 1500
SCREENSHOT_TIMEOUT_S = 180.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pgflex-gui", description=__doc__)
    parser.add_argument("--sandbox", action="store_true", help="use the local sandbox")
    parser.add_argument("--smoke", action="store_true", help="open, process events, exit 0")
    parser.add_argument("--arm-endpoint", metavar="URL", help="ARM endpoint override")
    parser.add_argument("--ca-bundle", metavar="FILE", help="PEM bundle for a private CA")
    parser.add_argument("--cloud", metavar="NAME", help="AzureCloud, AzureUSGovernment, …")
    parser.add_argument("--seed", metavar="NAME", default="default", help="sandbox seed data")
    parser.add_argument("--screenshot", metavar="PATH", help="save a PNG of the window, quit")
    return parser


# -- the inventory while the real one is starting -----------------------------------------
class DeferredInventory:
    """Delegates to an inventory that is still being built (sandbox start, sign-in).

    Calls block on worker threads (never on the GUI thread) until ``future`` resolves.
    """

    def __init__(self, future: Future[InventoryPort], *, timeout_s: float = 180.0) -> None:
        self._future = future
        self._timeout = timeout_s

    def _target(self) -> InventoryPort:
        try:
            return self._future.result(timeout=self._timeout)
        except AppError:
            raise
        except Exception as exc:
            raise AppError(
                Fault.APP, "The inventory could not be started.", details=repr(exc)
            ) from exc

    def resolved(self) -> InventoryPort | None:
        """The inventory once it is ready, else None (never blocks)."""
        if not self._future.done() or self._future.exception() is not None:
            return None
        return self._future.result()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return getattr(self._target(), name)(*args, **kwargs)

        return call


def session_services(inventory: Any) -> Any:
    """The services of the session the window shows: they travel with its inventory, so a
    sign-in that is cancelled or still running never swaps them under the DBA."""
    target = getattr(inventory, "target", inventory)
    if isinstance(target, DeferredInventory):
        target = target.resolved()
    return target.services if isinstance(target, SubscriptionFilteredInventory) else None


class SubscriptionFilteredInventory:
    """Lists only the subscriptions in the user's filter (Settings); an empty filter shows all.

    The filter is read on every call, so a change in Settings applies at the next refresh.
    """

    def __init__(self, inner: InventoryPort, wanted: Callable[[], Sequence[str]]) -> None:
        self._inner = inner
        self._wanted = wanted
        self.services: Any = None  # the session's write-side services (ui.workflows)

    def list_subscriptions(self, tenant_id: str) -> list[Any]:
        subs = self._inner.list_subscriptions(tenant_id)
        wanted = {s.lower() for s in self._wanted()}
        return [s for s in subs if s.subscription_id.lower() in wanted] if wanted else subs

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)


# -- the pieces ------------------------------------------------------------------------------
@dataclass
class Composition:
    """Everything built for one run; ``close()`` undoes it in reverse order."""

    cloud: str = ""
    account: str = ""
    inventory: InventoryPort | None = None
    runner: Any = None
    sandbox: Any = None
    log_setup: Any = None
    keystore: Any = None
    subscription_filter: Callable[[], Sequence[str]] = tuple
    pg_tool_paths: Callable[[], Mapping[str, str]] = dict  # Settings: folder per major
    tasks: Any = None  # ui.tasks.TaskManager
    journals: Any = None  # jobs.journal.JournalStore
    resumed_restores: bool = False
    audit: Any = None  # logs.AuditLog
    about: dict[str, str] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Stop work before what it uses: tasks, then jobs, then clients, sandbox and logs."""
        steps: list[Callable[[], None]] = []
        if self.tasks is not None:
            # Not waited for: an interactive sign-in cannot be interrupted; results are dropped.
            steps.append(lambda: self.tasks.shutdown(wait=False))
        if self.runner is not None:
            steps.append(lambda: self.runner.shutdown(cancel_running=True, wait=True))
        steps.extend(reversed(self.closers))  # factories, sandbox, excepthooks, logging
        for step in steps:
            try:
                step()
            except Exception:
                log.exception("Shutdown step failed")


def _setup_logging(comp: Composition) -> Any:
    try:
        from pgflex_gui.logs import setup_logging
    except ImportError:
        logging.basicConfig(level=logging.INFO)
        return None
    try:
        comp.log_setup = setup_logging()
        comp.closers.append(comp.log_setup.close)
        from pgflex_gui.logs import AuditLog

        comp.audit = AuditLog()
    except Exception:
        logging.basicConfig(level=logging.INFO)
        log.exception("File logging could not be set up")
    return comp.log_setup


def _qt_message_handler(mode: Any, _context: Any, message: str) -> None:
    """Route Qt's own messages into logging (qutebrowser's qtlog)."""
    name = getattr(mode, "name", str(mode))
    level = {
        "QtDebugMsg": logging.DEBUG,
        "QtInfoMsg": logging.INFO,
        "QtWarningMsg": logging.WARNING,
    }.get(name, logging.ERROR)
    logging.getLogger("qt").log(level, "%s", message)


class SettingsHolder:
    """The current ``Settings``: read on any thread, replaced when a dialog or sign-in saves."""

    def __init__(self, settings: Any, path: Path | None = None) -> None:
        self.settings = settings
        self._path = path
        self._lock = threading.Lock()

    def get(self) -> Any:
        return self.settings

    def save(self, settings: Any) -> Path:
        """Write ``settings`` (call on a worker: atomic write with fsync) and keep them."""
        from pgflex_gui.settings import save_settings

        with self._lock:
            saved = save_settings(settings, self._path)
            self.settings = settings
        return saved


def _load_settings() -> Any:
    """The saved settings (command-line overrides are applied when resolving the cloud)."""
    try:
        from pgflex_gui.settings import Settings, load_settings
    except ImportError:
        log.exception("Settings are not available")
        return None
    try:
        return load_settings()
    except Exception:
        log.exception("Settings could not be loaded; using defaults")
        return Settings()


def _overrides(args: argparse.Namespace) -> dict[str, str | None]:
    return {"arm_endpoint": args.arm_endpoint, "authority_host": None, "ca_bundle": args.ca_bundle}


def _resolve_cloud(args: argparse.Namespace, settings: Any) -> Any:
    """Command line > PGFLEX_ARM_ENDPOINT / PGFLEX_CA_BUNDLE > settings > the cloud's defaults."""
    from pgflex_gui.domain.cloud import resolve_cloud

    saved = {
        k: v
        for k in ("arm_endpoint", "authority_host", "ca_bundle")
        if (v := getattr(settings, k, None))
    }
    try:
        return resolve_cloud(
            args.cloud or getattr(settings, "cloud", None),
            arm_endpoint=args.arm_endpoint,
            ca_bundle=args.ca_bundle,
            env=os.environ,
            saved=saved,
        )
    except ValueError as exc:
        raise AppError(
            Fault.USER,
            f"The cloud settings are not usable: {exc}.",
            remedy="Fix the cloud in Tools > Settings…, or the --cloud/--arm-endpoint options.",
        ) from exc


def _connect(
    comp: Composition, tenant_of_subscription: dict[str, str] | None = None
) -> Callable[..., InventoryPort]:
    """``(cloud, credential, credential_for_tenant) -> AzureInventory`` over a new factory."""

    def connect(
        cloud: Any, credential: Any, credential_for_tenant: Callable[[str], Any] | None = None
    ) -> InventoryPort:
        from pgflex_gui.azure.clients import ClientFactory
        from pgflex_gui.azure.inventory import AzureInventory

        factory = ClientFactory(cloud, credential, credential_for_tenant=credential_for_tenant)
        if tenant_of_subscription:
            factory.register_subscriptions(tenant_of_subscription.items())
        comp.closers.append(factory.close)
        inventory = SubscriptionFilteredInventory(
            AzureInventory(factory, credential_for_tenant=credential_for_tenant),
            comp.subscription_filter,
        )
        inventory.services = _services(comp, factory, inventory, credential)
        return inventory

    return connect


def _services(comp: Composition, factory: Any, inventory: Any, credential: Any) -> Any:
    """The write-side services of a session, sharing its factory, plus the restore starter."""
    from pgflex_gui.azure.protection import ProtectionService
    from pgflex_gui.azure.restore import RestoreService
    from pgflex_gui.azure.storage import StorageService
    from pgflex_gui.ui.workflows import WorkflowServices

    audit = comp.audit.record if comp.audit is not None else None

    def start_restore(plan: Any, job_id: str | None = None) -> str:
        # Called on the GUI thread: only submit. The keyring, the pg tool probes and the
        # engine are built inside the job, on the restore lane.
        job = _restore_job(comp, factory, credential, plan)
        return str(comp.runner.submit(job, "restore", job_id=job_id).id)

    _resume_interrupted_restores(comp, start_restore)
    return WorkflowServices(
        inventory=inventory,
        protection=ProtectionService(factory, audit),
        restore=RestoreService(factory, audit),
        storage=StorageService(factory, audit),
        start_restore=start_restore,
        keystore=comp.keystore.get() if comp.keystore is not None else None,
    )


PLAN_FILE_KEY = "plan_file"  # a restore job's journal points at its plan (no secrets in it)


def _restore_job(comp: Composition, factory: Any, credential: Any, plan: Any) -> Any:
    """A restore as a runner job: plan saved beside its journal, report written at the end."""
    from pgflex_gui.jobs.job import FunctionJob, JobContext
    from pgflex_gui.jobs.report import write_report
    from pgflex_gui.jobs.restore_plan_file import save_plan
    from pgflex_gui.restore_cli import build_engine_for

    def run(ctx: JobContext) -> Any:
        journal = ctx.journal
        path = getattr(journal, "path", None)
        folder = path.parent if path is not None else None
        if folder is not None and journal.get(PLAN_FILE_KEY) is None:
            plan_path = folder / f"{journal.job_id}.plan.json"
            save_plan(plan, plan_path)
            journal.checkpoint(PLAN_FILE_KEY, str(plan_path))
        engine = build_engine_for(
            plan,
            factory=factory,
            credential=credential,
            secrets=comp.keystore.get() if comp.keystore is not None else None,
            audit=comp.audit,
            pg_tool_paths=comp.pg_tool_paths(),
        )
        try:
            return engine.run(ctx)
        finally:
            if folder is not None:
                report = write_report(
                    engine.result,
                    folder / f"{journal.job_id}-report",
                    title=f"Restore into {plan.target.server_name}",
                )
                log.info("Restore report: %s", report["html"])

    return FunctionJob(run, title=f"Restore into {plan.target.server_name}", kind="restore")


def _resume_interrupted_restores(comp: Composition, start: Callable[..., str]) -> None:
    """Pick up restores the app was running when it quit or crashed (issue: journal at once)."""
    store = comp.journals
    if store is None or comp.runner is None or comp.resumed_restores:
        return
    comp.resumed_restores = True
    from pgflex_gui.jobs.restore_plan_file import load_plan

    for entry in store.list_unfinished():
        if entry.kind != "restore":
            continue
        plan_file = store.open(entry.job_id).get(PLAN_FILE_KEY)
        if not plan_file:
            continue
        try:
            plan = load_plan(plan_file)
        except (OSError, ValueError) as exc:
            log.warning("Interrupted restore %s cannot resume: %s", entry.job_id, exc)
            continue
        log.info("Resuming interrupted restore %s (%s)", entry.job_id, entry.title)
        start(plan, job_id=entry.job_id)


def _sandbox_workdir() -> Path:
    configured = os.environ.get("PGFLEX_SANDBOX_DIR", "").strip()
    if configured:
        return Path(configured)
    from pgflex_gui import paths

    return paths.data_dir() / "sandbox"


def _start_sandbox(comp: Composition, seed: str, session: Any, keystores: Any) -> InventoryPort:
    """Start the sandbox and an inventory over it, off the GUI thread."""
    future: Future[InventoryPort] = Future()

    def work() -> None:
        try:
            from pgflex_gui.azure.auth import SignInMethod, build_credential
            from pgflex_gui.domain.cloud import CloudConfig
            from pgflex_gui.keystore import sandbox_key
            from pgflex_gui.sandbox.runtime import Sandbox
            from pgflex_gui.ui.session import Session

            sandbox = Sandbox.start(_sandbox_workdir(), seed=seed)
            comp.sandbox = sandbox
            info = sandbox.info
            keystore = keystores.get()
            keystore.set(sandbox_key(info.client_id), info.client_secret)
            cloud = CloudConfig(
                name="Sandbox",  # a custom cloud, named for the status bar
                arm_endpoint=info.arm_endpoint,
                authority_host=info.authority,
                credential_scope=info.arm_endpoint.rstrip("/") + "/.default",
                ca_bundle=info.ca_bundle,
            )
            credentials: dict[str, Any] = {}
            lock = threading.Lock()

            def credential_for_tenant(tenant_id: str) -> Any:
                with lock:
                    if tenant_id not in credentials:
                        credentials[tenant_id] = build_credential(
                            SignInMethod.SANDBOX,
                            info.authority,
                            tenant_id=tenant_id,
                            client_id=info.client_id,
                            keystore=keystore,
                            ca_bundle=info.ca_bundle,
                        )
                    return credentials[tenant_id]

            first_tenant = info.tenants[0].tenant_id if info.tenants else "organizations"
            credential = credential_for_tenant(first_tenant)
            tenant_of = {sub: t.tenant_id for t in info.tenants for sub in t.subscriptions}
            inventory = _connect(comp, tenant_of)(cloud, credential, credential_for_tenant)
            session.adopt(
                Session(
                    cloud=cloud,
                    credential=credential,
                    account=f"sandbox ({seed})",
                    method=SignInMethod.SANDBOX.value,
                    tenant_id=first_tenant,
                    client_id=info.client_id,
                    inventory=inventory,
                )
            )
            future.set_result(inventory)
        except ImportError as exc:
            log.exception("The sandbox could not be imported")
            future.set_exception(
                AppError(
                    Fault.APP,
                    "The sandbox is not available in this build.",
                    remedy="Sign in to Azure with File > Sign in…",
                    details=repr(exc),
                )
            )
        except Exception as exc:
            log.exception("The sandbox could not be started")
            future.set_exception(exc)

    threading.Thread(target=work, name="sandbox-start", daemon=True).start()

    def stop() -> None:
        if comp.sandbox is not None:
            comp.sandbox.stop()

    comp.closers.append(stop)
    comp.cloud = "Sandbox"
    comp.account = f"sandbox ({seed})"
    return DeferredInventory(future)


def _start_azure(
    comp: Composition, args: argparse.Namespace, settings: Any, session: Any, keystores: Any
) -> InventoryPort:
    """Silent sign-in with the saved method (the keystore probe blocks: done on a thread)."""
    future: Future[InventoryPort] = Future()

    def work() -> None:
        try:
            from pgflex_gui.azure.auth import (
                SignInMethod,
                build_credential,
                load_authentication_record,
            )
            from pgflex_gui.ui.session import Session

            cloud = _resolve_cloud(args, settings)
            method = SignInMethod(settings.sign_in_method)
            credential = build_credential(
                method,
                cloud.authority_host,
                tenant_id=settings.tenant_id,
                client_id=settings.client_id,
                keystore=keystores.get(),
                ca_bundle=cloud.ca_bundle,
            )
            record = load_authentication_record() if method.interactive else None
            account = (
                getattr(record, "username", None)
                or (settings.client_id if not method.interactive else None)
                or method.label
            )
            inventory = _connect(comp)(cloud, credential, session.credential_for_tenant)
            session.adopt(
                Session(
                    cloud=cloud,
                    credential=credential,
                    account=str(account),
                    method=method.value,
                    tenant_id=settings.tenant_id,
                    client_id=settings.client_id,
                    inventory=inventory,
                )
            )
            future.set_result(inventory)
        except AppError as err:
            future.set_exception(err)
        except Exception as exc:
            log.exception("Azure inventory could not be built")
            future.set_exception(
                AppError(
                    Fault.APP,
                    "Azure access is not available in this build.",
                    remedy="Use --sandbox, or update pgflex-gui.",
                    details=repr(exc),
                )
            )

    threading.Thread(target=work, name="azure-sign-in", daemon=True).start()
    comp.cloud = args.cloud or getattr(settings, "cloud", "")
    comp.account = "signing in…"
    return DeferredInventory(future)


class SessionActions:
    """The File > Sign in…/Sign out and Tools > Settings… handlers, and what follows them.

    ``window`` is attached after the MainWindow is built (the handlers go into its constructor).
    """

    def __init__(
        self,
        *,
        session: Any,
        holder: SettingsHolder,
        tasks: Any,
        keystores: Any,
        inventory: Any,
        memory: QSettings,
    ) -> None:
        self.session = session
        self.holder = holder
        self.tasks = tasks
        self.keystores = keystores
        self.inventory = inventory
        self.memory = memory
        self.window: Any = None
        self.dialog: Any = None

    def handlers(self) -> dict[str, Callable[[Any], None]]:
        return {
            "sign-in": self.sign_in,
            "sign_in": self.sign_in,
            "sign-out": self.sign_out,
            "sign_out": self.sign_out,
            "settings": self.settings,
        }

    def attach(self, window: Any) -> None:
        self.window = window
        self.session.identity_changed.connect(self._on_session_identity_changed)
        self.session.signed_in.connect(self._on_session_signed_in)
        self.session.signed_out.connect(self._on_session_signed_out)
        self.session.tenant_signed_in.connect(self._on_session_tenant_signed_in)

    def _tenant_needing_sign_in(self, node: Any) -> str | None:
        """The tenant of ``node`` (or the selection) when listing it failed on sign-in."""
        from pgflex_gui.ui.tree.nodes import Failed, NodeKind

        if node is None and self.window is not None:
            node = self.window.tree.current_node()
        tenant = node.ancestor(NodeKind.TENANT) if node is not None else None
        if tenant is None or not isinstance(tenant.load_state, Failed):
            return None
        if tenant.load_state.error.fault is not Fault.PERMISSION:
            return None
        return getattr(tenant.ref, "tenant_id", None) or None

    def sign_in(self, node: Any) -> None:
        from pgflex_gui.ui.dialogs.sign_in import SignInDialog

        tenant = self._tenant_needing_sign_in(node)
        dialog = SignInDialog(
            self.session,
            settings=self.holder.get(),
            memory=self.memory,
            tenant_id=tenant,
            tenant_only=tenant is not None,
            parent=self.window,
        )
        self._show(dialog)

    def sign_out(self, _node: Any) -> None:
        self.session.sign_out()

    def settings(self, _node: Any) -> None:
        from pgflex_gui.ui.dialogs.settings_dialog import SettingsDialog

        dialog = SettingsDialog(
            self.holder.get(),
            tasks=self.tasks,
            save=self.holder.save,
            keyring_info=self.keystores.describe,
            parent=self.window,
        )
        dialog.saved.connect(self._on_settings_saved)
        self._show(dialog)

    def _show(self, dialog: Any) -> None:
        from PySide6.QtCore import Qt

        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.open()

    def _refresh_root(self) -> None:
        from PySide6.QtCore import QModelIndex

        if self.window is not None:
            self.window.model.refresh(QModelIndex())

    def _on_session_identity_changed(self, cloud: str, account: str) -> None:
        if self.window is not None:
            self.window.set_identity(cloud=cloud, account=account)

    def _on_session_signed_in(self, session: Any) -> None:
        self.inventory.switch(session.inventory)
        self._refresh_root()

    def _on_session_signed_out(self) -> None:
        self.inventory.switch(None)
        self._refresh_root()

    def _on_session_tenant_signed_in(self, tenant_id: str) -> None:
        from pgflex_gui.ui.tree.nodes import NodeKind

        if self.window is None:
            return
        model = self.window.model
        for node in model.root.walk():
            if node.kind is NodeKind.TENANT and (
                getattr(node.ref, "tenant_id", "").lower() == tenant_id.lower()
            ):
                model.refresh(model.index_of(node))

    def _on_settings_saved(self, _settings: Any) -> None:
        if self.window is not None:
            self.window.presenter.show_notice(
                "Settings saved. Cloud changes apply at the next sign-in."
            )
            self._refresh_root()  # the subscription filter applies at once


def _job_runner(comp: Composition) -> Any:
    try:
        from pgflex_gui.jobs.runner import JobRunner
    except ImportError:
        return None
    from pgflex_gui.jobs.journal import JournalStore
    from pgflex_gui.paths import journal_dir

    # Journals on disk: continuation tokens and restore checkpoints survive a quit or crash.
    comp.journals = JournalStore(journal_dir())
    comp.runner = JobRunner(journals=comp.journals)
    return comp.runner


def _probe_about(comp: Composition) -> None:
    """Keyring backend and pg tools take subprocesses: probe them on a worker thread."""

    def work() -> None:
        try:
            ready = getattr(comp.keystore, "ready", None)
            backend = ready.backend_name if ready is not None else None
            if backend is None:
                import keyring

                backend = type(keyring.get_keyring()).__name__
            comp.about["keyring backend"] = str(backend)
        except Exception as exc:  # noqa: BLE001 - About shows why
            comp.about["keyring backend"] = f"unavailable ({exc})"
        try:
            from pgflex_gui.postgres.tools import discover

            tools = discover()
            comp.about["pg tools"] = (
                ", ".join(f"{t.kind.value} {t.version} ({t.path})" for t in tools) or "none found"
            )
        except Exception as exc:  # noqa: BLE001 - About shows why
            comp.about["pg tools"] = f"unavailable ({exc})"

    comp.about.update({"keyring backend": "checking…", "pg tools": "checking…"})
    threading.Thread(target=work, name="about-probe", daemon=True).start()


def _screenshot_when_loaded(
    window: Any, tasks: Any, path: str, *, timeout_s: float = SCREENSHOT_TIMEOUT_S
) -> None:
    """Wait for the tree, open a vault's instances, select a protected server, grab, quit.

    Polls the model's load states (never blocks the GUI thread); after ``timeout_s`` the
    window is grabbed as it is.
    """
    from PySide6.QtCore import QElapsedTimer

    from pgflex_gui.ui.tree.nodes import Loading, NodeKind, NotLoaded, ProtectionStatus

    model, proxy, tree = window.model, window.proxy, window.tree
    clock = QElapsedTimer()
    clock.start()
    timer = QTimer(window)
    timer.setInterval(250)
    steps = ["tree", "vault", "instances", "points", "settle", "grab"]

    def busy() -> bool:
        nodes = model.root.walk()
        return (
            tasks.pending > 0
            or isinstance(model.root.load_state, NotLoaded | Loading)
            or any(isinstance(n.load_state, Loading) for n in nodes)
            or any(
                n.protection is not None and n.protection.status is ProtectionStatus.UNKNOWN
                for n in nodes
            )
        )

    def expand(node: Any) -> None:
        tree.expand(proxy.mapFromSource(model.index_of(node)))

    def showcase_server() -> Any:
        servers = [n for n in model.servers() if n.protection is not None]
        ranked = sorted(
            servers, key=lambda n: n.protection.status is not ProtectionStatus.PROTECTED
        )
        return ranked[0] if ranked else None

    def vault_of(server: Any) -> Any:
        name = server.protection.vault_name if server is not None else ""
        vaults = [n for n in model.root.walk() if n.kind is NodeKind.VAULT]
        return next((v for v in vaults if v.label == name), vaults[0] if vaults else None)

    def tick() -> None:
        timed_out = clock.elapsed() > timeout_s * 1000
        if timed_out:
            log.warning("Screenshot: still loading after %.0f s; grabbing as is", timeout_s)
            steps[:] = ["grab"]
        elif busy():
            return
        step = steps.pop(0)
        server = showcase_server()
        if step == "tree":
            for group in (n for n in model.root.walk() if n.kind is NodeKind.VAULTS_GROUP):
                if server is None or group.ancestor(NodeKind.SUBSCRIPTION) is server.ancestor(
                    NodeKind.SUBSCRIPTION
                ):
                    expand(group)
        elif step == "vault" and (vault := vault_of(server)) is not None:
            expand(vault)
        elif step == "instances" and (vault := vault_of(server)) is not None:
            for child in vault.children:
                if child.kind is NodeKind.INSTANCES_GROUP:
                    expand(child)
        elif step == "points" and (vault := vault_of(server)) is not None:
            for instance in vault.walk():
                if instance.kind is NodeKind.BACKUP_INSTANCE:
                    expand(instance)
                    break
        elif step == "settle":
            if server is not None:
                tree.setCurrentIndex(proxy.mapFromSource(model.index_of(server)))
                tree.scrollToTop()
            window.jobs.show_azure_tab()
        elif step == "grab":
            timer.stop()
            window.grab().save(path)
            log.info("Screenshot saved to %s after %.1f s", path, clock.elapsed() / 1000)
            window.close()

    timer.timeout.connect(tick)
    timer.start()


def run(argv: Sequence[str] | None = None) -> int:
    """Build and run the app; returns the exit code."""
    args = build_parser().parse_args(argv)
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([APPLICATION])
    app.setWindowIcon(QIcon(str(RESOURCES / "pgflex-gui.svg")))
    comp = Composition()
    _setup_logging(comp)
    qInstallMessageHandler(_qt_message_handler)

    # Imported here so a broken UI module still lets us log why.
    from pgflex_gui.ui.about import default_about_info
    from pgflex_gui.ui.errors import install_excepthooks
    from pgflex_gui.ui.main_window import MainWindow
    from pgflex_gui.ui.panels.jobs import RunnerBridge
    from pgflex_gui.ui.session import KeystoreProvider, SessionController, SwitchableInventory
    from pgflex_gui.ui.tasks import TaskManager

    holder = SettingsHolder(_load_settings())
    comp.subscription_filter = lambda: getattr(holder.get(), "subscription_filter", ())
    comp.pg_tool_paths = lambda: dict(getattr(holder.get(), "pg_tool_paths", {}) or {})
    settings = holder.get()
    tasks = TaskManager()
    comp.tasks = tasks
    keystores = KeystoreProvider()
    comp.keystore = keystores
    session = SessionController(
        tasks=tasks,
        keystores=keystores,
        connect=_connect(comp),
        load_settings=holder.get,
        save_settings=holder.save,
        overrides=_overrides(args),
    )
    signed_in = settings is not None and getattr(settings, "sign_in_method", None)
    if args.sandbox or (not signed_in and not args.smoke and not args.screenshot):
        start_inventory: InventoryPort | None = _start_sandbox(comp, args.seed, session, keystores)
    elif signed_in:
        start_inventory = _start_azure(comp, args, settings, session, keystores)
    else:
        start_inventory = None  # "Not signed in" until File > Sign in…
    inventory = SwitchableInventory(start_inventory)
    runner = _job_runner(comp)
    bridge = RunnerBridge()
    if runner is not None:
        comp.closers.append(bridge.attach(runner))
    _probe_about(comp)

    def job_title(job_id: str) -> str:
        handle = runner.get(job_id) if runner is not None else None
        return getattr(getattr(handle, "job", None), "title", job_id[:8])

    def cancel_job(job_id: str) -> None:
        handle = runner.get(job_id) if runner is not None else None
        if handle is not None:
            handle.cancel()

    activity = getattr(getattr(comp.log_setup, "activity", None), "subscribe", None)
    qsettings = QSettings()
    from pgflex_gui.ui.workflows import WorkflowActions

    workflows = WorkflowActions(
        services=lambda: session_services(inventory),
        runner=runner,
        tasks=tasks,
        parent=lambda: window,
    )
    comp.closers.append(workflows.close)  # open wizards closed, runner listeners dropped
    actions = SessionActions(
        session=session,
        holder=holder,
        tasks=tasks,
        keystores=keystores,
        inventory=inventory,
        memory=qsettings,
    )
    window = MainWindow(
        inventory=inventory,
        tasks=tasks,
        settings=qsettings,
        about_info=lambda: {**default_about_info(), **comp.about},
        cloud=comp.cloud or getattr(settings, "cloud", ""),
        account=comp.account,
        handlers={**actions.handlers(), **workflows.handlers()},
        runner_bridge=bridge,
        job_titles=job_title,
        cancel_job=cancel_job,
        activity_source=activity,
        window_icon=QIcon(str(RESOURCES / "pgflex-gui.svg")),
    )
    actions.attach(window)
    restore_hooks = install_excepthooks(window.presenter)
    comp.closers.append(restore_hooks)
    window.show()
    window.start()
    if args.smoke:
        QTimer.singleShot(SMOKE_MS, window.close)
    if args.screenshot:
        _screenshot_when_loaded(window, tasks, args.screenshot)
    try:
        code = app.exec()
    finally:
        comp.close()
    log.info("pgflex-gui exited with %s", code)
    return int(code)
