"""Starting the back ends: the sandbox or Azure, their services, restore jobs and resume.

Called by the composition root (``app.run``); each start runs off the GUI thread and hands
the window an inventory that is usable at once (``DeferredInventory``).
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from pgflex_gui.composition import Composition
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ports import InventoryPort

__all__ = [
    "PLAN_FILE_KEY",
    "DeferredInventory",
    "SubscriptionFilteredInventory",
    "build_services",
    "cloud_overrides",
    "connect",
    "job_runner",
    "probe_about",
    "resolve_cloud",
    "restore_job",
    "resume_interrupted_restores",
    "sandbox_workdir",
    "session_services",
    "start_azure",
    "start_sandbox",
]

log = logging.getLogger(__name__)


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

    def all_subscriptions(self) -> list[tuple[str, str, str]]:
        """Every subscription the sign-in sees, filter or not: (id, name, tenant name)."""
        out: list[tuple[str, str, str]] = []
        for tenant in self._inner.list_tenants():
            tenant_name = tenant.display_name or tenant.default_domain or tenant.tenant_id
            for sub in self._inner.list_subscriptions(tenant.tenant_id):
                out.append((sub.subscription_id, sub.display_name, tenant_name))
        return out

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)


def connect(
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
        from pgflex_gui.azure.inventory_fleet import FleetInventory

        comp.closers.append(factory.close)
        # Resource Graph first, ARM per subscription as the fallback; About says which.
        fleet = FleetInventory(
            AzureInventory(factory, credential_for_tenant=credential_for_tenant),
            on_source=lambda source: comp.about.__setitem__("inventory", source),
        )
        comp.closers.append(fleet.close)  # closers run in reverse: before the factory
        inventory = SubscriptionFilteredInventory(fleet, comp.subscription_filter)
        inventory.services = build_services(comp, factory, inventory, credential)
        return inventory

    return connect


def build_services(comp: Composition, factory: Any, inventory: Any, credential: Any) -> Any:
    """The write-side services of a session, sharing its factory, plus the restore starter."""
    from pgflex_gui.azure.protection import ProtectionService
    from pgflex_gui.azure.restore import RestoreService
    from pgflex_gui.azure.storage import StorageService
    from pgflex_gui.azure.vaulted_v2 import VaultedV2Service
    from pgflex_gui.jobs.restore_as_server import SdkServerRestoreArm
    from pgflex_gui.ui.workflows import WorkflowServices

    audit = comp.audit.record if comp.audit is not None else None

    def start_restore(plan: Any, job_id: str | None = None) -> str:
        # Called on the GUI thread: only submit. The keyring, the pg tool probes and the
        # engine are built inside the job, on the restore lane.
        job = restore_job(comp, factory, credential, plan)
        return str(comp.runner.submit(job, "restore", job_id=job_id).id)

    def start_cleanup(job_id: str, items: Sequence[Any]) -> str:
        # After a cancelled restore: delete exactly the chosen things it created.
        job = cleanup_job(comp, factory, credential, job_id, items)
        return str(comp.runner.submit(job, "arm-write").id)

    resume_interrupted_restores(comp, start_restore)
    return WorkflowServices(
        inventory=inventory,
        protection=ProtectionService(factory, audit),
        restore=RestoreService(factory, audit),
        storage=StorageService(factory, audit),
        start_restore=start_restore,
        start_cleanup=start_cleanup,
        keystore=comp.keystore.get() if comp.keystore is not None else None,
        vaulted_v2=VaultedV2Service(factory, audit),
        server_restore=SdkServerRestoreArm(factory, audit=audit),
    )


PLAN_FILE_KEY = "plan_file"  # a restore job's journal points at its plan (no secrets in it)


def files_engine(comp: Composition, factory: Any, credential: Any, plan: Any) -> Any:
    """The restore-as-files engine of this session (keyring, audit log, pg tool folders)."""
    from pgflex_gui.jobs.restore_wiring import build_engine_for

    return build_engine_for(
        plan,
        factory=factory,
        credential=credential,
        secrets=comp.keystore.get() if comp.keystore is not None else None,
        audit=comp.audit,
        pg_tool_paths=comp.pg_tool_paths(),
    )


def cleanup_job(
    comp: Composition, factory: Any, credential: Any, job_id: str, items: Sequence[Any]
) -> Any:
    """Delete what the cancelled restore ``job_id`` created (the chosen ``items``)."""
    from pgflex_gui.jobs.job import FunctionJob, JobContext
    from pgflex_gui.jobs.restore_plan_file import PlanError, load_plan

    handle = comp.runner.get(job_id) if comp.runner is not None else None
    plan_file = handle.journal.get(PLAN_FILE_KEY) if handle is not None else None
    if handle is None or not plan_file:
        raise AppError(
            Fault.USER,
            "This restore is not known to this session, so the app can't tell what it made.",
            "Delete what is left in the Azure portal, if you want it gone.",
        )
    try:
        plan = load_plan(plan_file)
    except (OSError, PlanError) as exc:
        raise AppError(Fault.USER, f"The restore's plan can't be read: {exc}") from exc

    def run(ctx: JobContext) -> Any:
        from pgflex_gui.jobs.cleanup import CleanupJob

        engine = files_engine(comp, factory, credential, plan)
        return CleanupJob(engine, items, handle.journal).run(ctx)

    return FunctionJob(
        run,
        title=f"Clean up after Restore into {plan.target.server_name}",
        kind="cleanup",
        touches=[plan.target.server_id] if plan.target.server_id else [],
    )


def restore_job(comp: Composition, factory: Any, credential: Any, plan: Any) -> Any:
    """A restore as a runner job: plan saved beside its journal, report written at the end.

    ``plan`` is a restore-as-files plan (``RestorePlanFile``) or a restore-as-server one
    (``ServerRestorePlan``, vaulted backup v2); both run on the restore lane, journal the
    same way and end in the same result view and report.
    """
    from pgflex_gui.domain.server_restore_plan import ServerRestorePlan
    from pgflex_gui.jobs.job import FunctionJob, JobContext
    from pgflex_gui.jobs.restore_wiring import plan_target_id, plan_target_name

    as_server = isinstance(plan, ServerRestorePlan)
    title = f"Restore {'as server ' if as_server else ''}into {plan_target_name(plan)}"

    def run(ctx: JobContext) -> Any:
        # Imported here, on the restore lane: importing the engine on the GUI thread (when
        # Restore is pressed) stalled the event loop (benchmarks/ui_stall.py found it).
        from pgflex_gui.jobs.report import write_report
        from pgflex_gui.jobs.restore import RunsRestore, run_restore
        from pgflex_gui.jobs.restore_plan_file import save_plan
        from pgflex_gui.jobs.restore_wiring import build_server_engine_for

        journal = ctx.journal
        path = getattr(journal, "path", None)
        folder = path.parent if path is not None else None
        if folder is not None:  # each run: a retry may read the files another way
            plan_path = folder / f"{journal.job_id}.plan.json"
            save_plan(plan, plan_path)
            journal.checkpoint(PLAN_FILE_KEY, str(plan_path))
        engine: RunsRestore
        if as_server:
            engine = build_server_engine_for(plan, factory=factory, audit=comp.audit)
        else:
            engine = files_engine(comp, factory, credential, plan)
        report: Mapping[str, Path] = {}
        try:
            result = run_restore(engine, ctx)  # raises RestoreFailed unless it succeeded
        finally:
            if folder is not None:
                report = write_report(
                    engine.result, folder / f"{journal.job_id}-report", title=title
                )
                log.info("Restore report: %s", report["html"])
        return result.summary(report)  # what the result view shows

    target_id = plan_target_id(plan)
    return FunctionJob(run, title=title, kind="restore", touches=[target_id] if target_id else [])


def resume_interrupted_restores(comp: Composition, start: Callable[..., str]) -> None:
    """Pick up restores the app was running when it quit or crashed (issue: journal at once).

    Both kinds: a restore as files resumes from its checkpoints, a restore as server follows
    the Azure job its journal names (it is never triggered twice).
    """
    store = comp.journals
    if store is None or comp.runner is None or comp.resumed_restores:
        return
    comp.resumed_restores = True
    from pgflex_gui.jobs.restore_wiring import load_any_plan

    for entry in store.list_unfinished():
        if entry.kind != "restore":
            continue
        plan_file = store.open(entry.job_id).get(PLAN_FILE_KEY)
        if not plan_file:
            continue
        try:
            plan = load_any_plan(plan_file)
        except (OSError, ValueError) as exc:
            log.warning("Interrupted restore %s cannot resume: %s", entry.job_id, exc)
            continue
        log.info("Resuming interrupted restore %s (%s)", entry.job_id, entry.title)
        start(plan, job_id=entry.job_id)


def sandbox_workdir() -> Path:
    configured = os.environ.get("PGFLEX_SANDBOX_DIR", "").strip()
    if configured:
        return Path(configured)
    from pgflex_gui import paths

    return paths.data_dir() / "sandbox"


def start_sandbox(comp: Composition, seed: str, session: Any, keystores: Any) -> InventoryPort:
    """Start the sandbox and an inventory over it, off the GUI thread."""
    future: Future[InventoryPort] = Future()

    def work() -> None:
        try:
            from pgflex_gui.azure.auth import SignInMethod, build_credential
            from pgflex_gui.domain.cloud import CloudConfig
            from pgflex_gui.keystore import sandbox_key
            from pgflex_gui.sandbox.runtime import Sandbox
            from pgflex_gui.ui.session import Session

            sandbox = Sandbox.start(sandbox_workdir(), seed=seed)
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
            inventory = connect(comp, tenant_of)(cloud, credential, credential_for_tenant)
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
            if type(exc).__name__ == "WorkdirBusy":  # another live process serves the folder
                log.error("The sandbox could not be started: %s", exc)
                future.set_exception(
                    AppError(
                        Fault.USER,
                        "The sandbox folder is already in use by another pgflex process.",
                        remedy=str(exc),
                        details=str(exc),
                    )
                )
                return
            log.exception("The sandbox could not be started")
            future.set_exception(exc)

    starter = threading.Thread(target=work, name="sandbox-start", daemon=True)
    # Started once the window is on screen: its imports (the Azure SDKs, the sandbox) would
    # otherwise compete for the GIL with building the window (benchmarks/startup.py).
    comp.after_show.append(starter.start)

    def stop() -> None:
        # A sandbox still starting (the app closed or was signalled early) is waited for and
        # stopped too: nothing it has started (Azurite, clusters) may outlive the app.
        if starter.ident is not None:
            starter.join(timeout=300)
        if comp.sandbox is not None:
            comp.sandbox.stop()

    comp.closers.append(stop)
    comp.cloud = "Sandbox"
    comp.account = f"sandbox ({seed})"
    return DeferredInventory(future)


def start_azure(
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

            cloud = resolve_cloud(args, settings)
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
            inventory = connect(comp)(cloud, credential, session.credential_for_tenant)
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


def job_runner(comp: Composition) -> Any:
    try:
        from pgflex_gui.jobs.runner import JobRunner
    except ImportError:
        return None
    from pgflex_gui.jobs.journal import JournalStore
    from pgflex_gui.paths import journal_dir

    # Journals on disk: continuation tokens and restore checkpoints survive a quit or crash.
    comp.journals = JournalStore(journal_dir())
    # The GUI's tasks and the jobs share one set of lanes: one arm-write worker for the app.
    from pgflex_gui.jobs.lanes import DEFAULT_LANES, Lanes

    shared = getattr(comp.tasks, "lanes", None)
    lanes = shared if isinstance(shared, Lanes) else DEFAULT_LANES
    comp.runner = JobRunner(journals=comp.journals, lanes=lanes)
    return comp.runner


def probe_about(comp: Composition) -> None:
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


def cloud_overrides(args: argparse.Namespace) -> dict[str, str | None]:
    return {"arm_endpoint": args.arm_endpoint, "authority_host": None, "ca_bundle": args.ca_bundle}


def resolve_cloud(args: argparse.Namespace, settings: Any) -> Any:
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
