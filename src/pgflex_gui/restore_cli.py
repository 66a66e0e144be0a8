"""``pgflex restore --plan FILE``: run a restore plan headless (the wizard runs the same engine).

Exit codes: 0 every database restored and verified; 1 some database failed or a check
differs; 2 the plan or the environment is wrong (AppError, bad plan); 130 cancelled (Ctrl+C).

The journal lives in ``--journal-dir`` (default: the app's journal folder) under
``--job-id`` (default: derived from the plan), so rerunning the same command after a crash
or ``kill -9`` resumes. The report (HTML + JSON) is written next to the journal.

``--sandbox DIR`` points every Azure call at a running sandbox (``sandbox.json`` +
``client_secret`` in DIR) and keeps secrets in ``DIR/cli-secrets.json`` (0600), since the
throw-away sandbox passwords must survive a killed child process in tests. Real runs use
the system keyring through ``keystore.Keystore``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pgflex_gui.domain.errors import AppError, Cancelled
from pgflex_gui.jobs.job import CancelToken, JobContext, Progress
from pgflex_gui.jobs.journal import JournalState, JournalStore
from pgflex_gui.jobs.report import write_report
from pgflex_gui.jobs.restore import LocalFolder, RestoreEngine, RestoreResult, plan_digest
from pgflex_gui.jobs.restore_adapters import LocalPgRunner, SdkRestoreArm
from pgflex_gui.jobs.restore_plan_file import PlanError, RestorePlanFile, load_plan

__all__ = ["FileSecrets", "build_parser", "main"]

log = logging.getLogger(__name__)
ARM_SCOPE = "https://management.azure.com/.default"


class FileSecrets:
    """A 0600 JSON file of secrets, for the sandbox only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        return dict(json.loads(self.path.read_text()))

    def get(self, key: str) -> str | None:
        return self._load().get(key)

    def set(self, key: str, value: str) -> None:
        data = self._load()
        data[key] = value
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)


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


def _sandbox_client_factory(box_dir: Path) -> Any:
    from azure.identity import ClientSecretCredential

    info = json.loads((box_dir / "sandbox.json").read_text())
    secret = (box_dir / "client_secret").read_text().strip()
    tenant = info["tenants"][0]["tenant_id"]
    cred = ClientSecretCredential(
        tenant,
        info["client_id"],
        secret,
        authority=info["authority"],
        disable_instance_discovery=True,
        connection_verify=info["ca_bundle"],
    )

    def make(cls: type, subscription_id: str, **kw: Any) -> Any:
        opts: dict[str, Any] = {
            "base_url": info["arm_endpoint"],
            "connection_verify": info["ca_bundle"],
            "credential_scopes": [ARM_SCOPE],
            "retry_backoff_factor": 0.05,
        }
        opts.update(kw)
        return cls(cred, subscription_id, **opts)

    return make, cred, info


def _default_client_factory() -> Any:
    from azure.identity import DefaultAzureCredential

    cred = DefaultAzureCredential()

    def make(cls: type, subscription_id: str, **kw: Any) -> Any:
        return cls(cred, subscription_id, **kw)

    return make, cred, None


def _downloader(plan: RestorePlanFile, secrets: Any, cred: Any, info: Any) -> Any:
    from pgflex_gui.azure.blobs import BlobDownloader

    c = plan.container
    if c.local_dir:
        return LocalFolder(Path(c.local_dir))
    verify: str | bool = info["ca_bundle"] if info else True
    credential: Any = cred
    if c.sas_entry:
        credential = secrets.get(c.sas_entry)
        if not credential:
            raise AppError("user", f"No SAS stored under {c.sas_entry!r}.")  # type: ignore[arg-type]
    return BlobDownloader.from_url(c.url, credential, connection_verify=verify)


def build_engine(plan: RestorePlanFile, *, sandbox: Path | None, secrets: Any = None) -> Any:
    """The engine with real adapters (sandbox or Azure)."""
    if sandbox is not None:
        make, cred, info = _sandbox_client_factory(sandbox)
        secrets = secrets or FileSecrets(sandbox / "cli-secrets.json")
        poll = 0.2
    else:
        make, cred, info = _default_client_factory()
        if secrets is None:
            from pgflex_gui.keystore import Keystore

            secrets = Keystore()
        poll = 2.0
    needs_arm = plan.source is not None or bool(plan.target.server_id)
    arm = SdkRestoreArm(make, polling_interval=poll) if needs_arm else None
    return RestoreEngine(
        plan,
        arm=arm,
        downloader=_downloader(plan, secrets, cred, info),
        pg=LocalPgRunner(),
        secrets=secrets,
        audit=_audit,
        poll_s=poll,
    )


def _audit(action: str, target: str, details: Any) -> None:
    logging.getLogger("pgflex_gui.audit").info("%s %s %s", action, target, dict(details))


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
        plan = load_plan(args.plan)
    except (PlanError, OSError) as exc:
        print(f"pgflex restore: {exc}", file=sys.stderr)
        return 2
    if args.journal_dir is None:
        from pgflex_gui.paths import journal_dir

        args.journal_dir = journal_dir()
    store = JournalStore(args.journal_dir)
    job_id = args.job_id or f"restore-{plan_digest(plan)}"
    journal = store.open_or_create(job_id=job_id, kind="restore", title=f"restore {args.plan}")
    token = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: token.cancel())
    ctx = JobContext(token=token, journal=journal, report=None if args.quiet else _print_progress)
    code = 0
    engine = None
    try:
        engine = build_engine(plan, sandbox=args.sandbox)
        result = engine.run(ctx)
        code = 0 if result.ok else 1
        journal.set_state(JournalState.FINISHED if result.ok else JournalState.FAILED)
    except Cancelled:
        journal.set_state(JournalState.CANCELLED)
        print("pgflex restore: cancelled; rerun the same command to resume.", file=sys.stderr)
        code = 130
    except AppError as exc:
        journal.set_state(JournalState.FAILED, note=exc.summary)
        print(f"pgflex restore: {exc.report()}", file=sys.stderr)
        code = 2
    finally:
        signal.signal(signal.SIGINT, previous)
    if engine is not None:
        report_dir = args.report_dir or (args.journal_dir / f"{job_id}-report")
        paths = write_report(engine.result, report_dir, title=f"Restore {args.plan.name}")
        _summary(engine.result)
        print(f"report: {paths['html']}")
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
