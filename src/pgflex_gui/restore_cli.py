"""``pgflex restore --plan FILE``: run a restore plan headless (the wizard runs the same engine).

A plan whose ``kind`` is ``restore-as-server`` restores a vaulted backup v2 recovery point
onto an existing empty server (``jobs.restore_as_server``); any other plan restores as files.

Exit codes come from the run's ``RestoreOutcome`` (as do the report and the GUI's job row):
0 every database restored and verified; 1 some or all databases failed or a check differs;
2 the run stopped at a stage (the plan, the Azure job, the download, ...) or the plan file is
wrong; 130 cancelled (Ctrl+C).

The journal lives in ``--journal-dir`` (default: the app's journal folder) under
``--job-id`` (default: derived from the plan), so rerunning the same command after a crash
or ``kill -9`` resumes. The report (HTML + JSON) is written next to the journal.

``--sandbox DIR`` points every Azure call at a running sandbox (``sandbox.json`` +
``client_secret`` in DIR). Every SDK client comes from ``azure.clients.ClientFactory``;
secrets (SAS, target admin password) live only in the OS keyring (``keystore.Keystore``),
which is also how a rerun after ``kill -9`` finds the target's password again.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pgflex_gui.domain.errors import AppError, Cancelled
from pgflex_gui.domain.server_restore_plan import ServerRestorePlan
from pgflex_gui.jobs.job import CancelToken, JobContext, Progress
from pgflex_gui.jobs.journal import JournalState, JournalStore
from pgflex_gui.jobs.report import write_report
from pgflex_gui.jobs.restore import RestoreEngine, RestoreResult, plan_digest
from pgflex_gui.jobs.restore_as_server import ServerRestoreEngine
from pgflex_gui.jobs.restore_as_server import plan_digest as server_plan_digest
from pgflex_gui.jobs.restore_plan_file import PlanError, RestorePlanFile
from pgflex_gui.jobs.restore_wiring import (
    AnyPlan,
    build_engine_for,
    build_server_engine_for,
    load_any_plan,
)
from pgflex_gui.termination import on_termination, stop_descendants

__all__ = ["build_engine", "build_engine_for", "build_parser", "build_server_engine", "main"]

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The ``restore`` options (the main CLI may pass its sub-parser)."""
    p = parser or argparse.ArgumentParser(prog="pgflex restore", description=__doc__)
    p.add_argument("--plan", required=True, type=Path, help="restore plan (JSON, no secrets)")
    p.add_argument("--journal-dir", type=Path, help="journal folder (default: app data)")
    p.add_argument("--job-id", help="journal id (default: from the plan); reuse to resume")
    p.add_argument("--sandbox", type=Path, help="run against the sandbox in this folder")
    p.add_argument("--report-dir", type=Path, help="where report.html/json go")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def sandbox_session(box_dir: Path) -> tuple[Any, Any, str]:
    """Signed in to a running sandbox (``sandbox.json`` + its ``client_secret``): a
    ClientFactory for its first tenant, ``for_tenant(tenant_id)`` giving one credential per
    tenant, and the CA bundle. Used by ``pgflex restore`` and ``pgflex inventory``."""
    from azure.identity import ClientSecretCredential

    from pgflex_gui.azure.clients import ClientFactory
    from pgflex_gui.domain.cloud import CUSTOM, CloudConfig

    info = json.loads((box_dir / "sandbox.json").read_text())
    # The sandbox's own identity store (0600, local throw-away credential), read, never copied.
    secret = (box_dir / "client_secret").read_text().strip()
    cloud = CloudConfig(
        name=CUSTOM,
        arm_endpoint=info["arm_endpoint"],
        authority_host=info["authority"],
        credential_scope=info["arm_endpoint"].rstrip("/") + "/.default",
        ca_bundle=info["ca_bundle"],
    )
    creds: dict[str, Any] = {}

    def for_tenant(tenant_id: str) -> Any:
        key = tenant_id.lower()
        if key not in creds:
            creds[key] = ClientSecretCredential(
                tenant_id,
                info["client_id"],
                secret,
                authority=info["authority"],
                disable_instance_discovery=True,
                connection_verify=info["ca_bundle"],
            )
        return creds[key]

    first = for_tenant(info["tenants"][0]["tenant_id"])
    factory = ClientFactory(cloud, first, credential_for_tenant=for_tenant)
    return factory, for_tenant, info["ca_bundle"]


def _sandbox_factory(box_dir: Path) -> tuple[Any, Any, str]:
    """A ClientFactory over a running sandbox, its first tenant's credential and CA bundle."""
    factory, for_tenant, ca = sandbox_session(box_dir)
    info = json.loads((box_dir / "sandbox.json").read_text())
    return factory, for_tenant(info["tenants"][0]["tenant_id"]), ca


def _azure_factory() -> tuple[Any, Any, str | bool]:
    """A ClientFactory for the cloud in settings/env, with the Azure CLI or environment login."""
    from azure.identity import DefaultAzureCredential

    from pgflex_gui.azure.clients import ClientFactory
    from pgflex_gui.domain.cloud import resolve_cloud
    from pgflex_gui.settings import load_settings

    settings = load_settings()
    cloud = resolve_cloud(
        settings.cloud,
        arm_endpoint=settings.arm_endpoint,
        authority_host=settings.authority_host,
        ca_bundle=settings.ca_bundle,
        env=os.environ,
    )
    credential = DefaultAzureCredential(authority=cloud.authority_host)
    return ClientFactory(cloud, credential), credential, cloud.ca_bundle or True


def build_engine(plan: RestorePlanFile, *, sandbox: Path | None, secrets: Any = None) -> Any:
    """The engine with real adapters (sandbox or Azure); secrets in the OS keyring."""
    from pgflex_gui.keystore import Keystore
    from pgflex_gui.logs import AuditLog
    from pgflex_gui.settings import load_settings

    factory, credential, verify = _sandbox_factory(sandbox) if sandbox else _azure_factory()
    return build_engine_for(
        plan,
        factory=factory,
        credential=credential,
        secrets=secrets or Keystore(),
        audit=AuditLog(),
        connection_verify=verify,
        pg_tool_paths=load_settings().pg_tool_paths,
    )


def build_server_engine(plan: ServerRestorePlan, *, sandbox: Path | None) -> ServerRestoreEngine:
    """The restore-as-server (v2) engine with the real Azure layer (sandbox or Azure)."""
    from pgflex_gui.logs import AuditLog

    factory, _credential, _verify = _sandbox_factory(sandbox) if sandbox else _azure_factory()
    return build_server_engine_for(plan, factory=factory, audit=AuditLog())


def _print_progress(p: Progress) -> None:
    pct = f"{100 * p.fraction:5.1f}%" if p.fraction is not None else "  ... "
    print(f"[{pct}] {p.message}", flush=True)


def _summary(result: RestoreResult) -> None:
    for d in result.databases:
        rows = sum(d.row_counts.values())
        print(f"  {d.name:<20} {d.status:<9} rows={rows} {d.message}")
    for note in result.notes:
        print(f"  note: {note}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pgflex restore``; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        plan: AnyPlan = load_any_plan(args.plan)
    except (PlanError, OSError, ValueError) as exc:
        print(f"pgflex restore: {exc}", file=sys.stderr)
        return 2
    if args.journal_dir is None:
        from pgflex_gui.paths import journal_dir

        args.journal_dir = journal_dir()
    store = JournalStore(args.journal_dir)
    digest = server_plan_digest(plan) if isinstance(plan, ServerRestorePlan) else plan_digest(plan)
    job_id = args.job_id or f"restore-{digest}"
    journal = store.open_or_create(job_id=job_id, kind="restore", title=f"restore {args.plan}")
    token = CancelToken()
    stop_on_signal = on_termination(lambda _signum: token.cancel())
    stop_on_signal.__enter__()  # SIGINT, SIGTERM, SIGHUP: cancel, flush the journal, stop children
    ctx = JobContext(token=token, journal=journal, report=None if args.quiet else _print_progress)
    code = 0
    engine: RestoreEngine | ServerRestoreEngine | None = None
    try:
        engine = (
            build_server_engine(plan, sandbox=args.sandbox)
            if isinstance(plan, ServerRestorePlan)
            else build_engine(plan, sandbox=args.sandbox)
        )
        result = engine.run(ctx)
        outcome = result.outcome  # the one source for the exit code, journal and report
        code = outcome.exit_code
        journal.set_state(
            JournalState.FINISHED if outcome.ok else JournalState.FAILED,
            note="" if outcome.ok else outcome.headline,
        )
        if not outcome.ok:
            print(f"pgflex restore: {outcome.headline}. {outcome.remedy}", file=sys.stderr)
    except Cancelled:
        journal.set_state(JournalState.CANCELLED)
        stopped = stop_descendants()  # nothing it started may outlive a cancelled restore
        if stopped:
            logging.getLogger(__name__).warning("Stopped leftover child processes: %s", stopped)
        print("pgflex restore: cancelled; rerun the same command to resume.", file=sys.stderr)
        code = 130
    except AppError as exc:
        outcome = engine.result.outcome if engine is not None else None
        journal.set_state(
            JournalState.FAILED, note=outcome.headline if outcome is not None else exc.summary
        )
        where = f"{outcome.headline}: " if outcome is not None else ""
        print(f"pgflex restore: {where}{exc.report()}", file=sys.stderr)
        code = outcome.exit_code if outcome is not None else 2
    finally:
        stop_on_signal.__exit__(None, None, None)
    if engine is not None:
        report_dir = args.report_dir or (args.journal_dir / f"{job_id}-report")
        paths = write_report(engine.result, report_dir, title=f"Restore {args.plan.name}")
        _summary(engine.result)
        print(f"report: {paths['html']}")
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
