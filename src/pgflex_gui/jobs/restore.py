"""The restore engine: Azure restore-as-files → download → target server → roles → databases.

``RestoreEngine`` is Qt-free and talks to the world only through three ports, so unit tests
use hand-written fakes and the CLI, the wizard and the e2e tests use real adapters:

* :class:`RestoreArm`: validate/trigger the restore (LRO with a continuation token), follow
  the backup job, create/configure/restart the target server, add a firewall rule;
* :class:`Downloader`: list the container, check free space, download verified files
  (``azure.blobs.BlobDownloader`` fits as it is; :class:`LocalFolder` is incident mode);
* :class:`PgRunner`: classify files, read TOCs, create databases, run pg_restore/psql, count
  rows (:class:`LocalPgRunner` wraps ``postgres/``).

Every stage is journaled (``JobJournal``), so after ``kill -9`` a rerun resumes: the ARM
restore is followed from its journaled continuation token or job id, finished downloads are
verified files on disk, databases marked restored are not redone, and only databases the app
created itself are ever dropped. A database that exists and holds data is refused.

Pipeline: downloads run on one transfer thread (each ``BlobDownloader`` call is parallel by
ranges), largest database first; each database's restore is queued on the restore pool the
moment its file is verified, while later files are still downloading.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import shutil
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pgflex_gui.domain.blob_layout import BlobRole, classify_blob
from pgflex_gui.domain.connection import ServerConnection
from pgflex_gui.domain.errors import AppError, Cancelled, Fault
from pgflex_gui.domain.restore_outcome import (
    DatabaseOutcome,
    RestoreFailed,
    RestoreOutcome,
    Stage,
    StageError,
    restore_outcome,
)
from pgflex_gui.domain.restore_plan import build_restore_request, target_version_ok
from pgflex_gui.domain.restore_progress import Created, CreatedKind, DbStage, ProgressTracker
from pgflex_gui.domain.restore_summary import DatabaseSummary, RestoreSummary
from pgflex_gui.domain.restore_tuning import (
    TUNED_PARAMETERS,
    ParameterChange,
    memory_gib_for_sku,
    restore_tuning,
)
from pgflex_gui.domain.system_databases import (
    POSTGRES_DB,
    SystemDatabaseDecision,
    decide_database,
    user_object_count,
)
from pgflex_gui.jobs.job import JobContext, Progress
from pgflex_gui.jobs.restore_plan_file import RestorePlanFile, TargetSpec
from pgflex_gui.postgres.dumps import BUILTIN_EXTENSIONS, DumpKind, Toc, preload_libraries_for
from pgflex_gui.postgres.outcome import ProcessOutcome, outcome_error
from pgflex_gui.postgres.owners import OwnerGrants
from pgflex_gui.postgres.psql import ConnParams
from pgflex_gui.postgres.restore import ProgressEvent

__all__ = [
    "ArmJob",
    "AuditFn",
    "DbResult",
    "DirectoryDump",
    "Downloader",
    "FileInfo",
    "LocalFolder",
    "PgRunner",
    "PgTarget",
    "RemoteFile",
    "RestoreArm",
    "RestoreEngine",
    "RestoreJob",
    "RestoreResult",
    "RunsRestore",
    "SecretStore",
    "StageTime",
    "db_restore_jobs",
    "generate_password",
    "plan_digest",
    "run_restore",
]

log = logging.getLogger(__name__)

AuditFn = Callable[[str, str, Mapping[str, Any]], None]
"""``audit(action, target, details)``: called before every write the engine makes."""

_TERMINAL_OK = frozenset({"completed", "succeeded", "completedwithwarnings"})
_RUNNING = frozenset({"inprogress", "started", "notstarted", "queued", ""})


# --------------------------------------------------------------------------------- ports


@dataclass(frozen=True)
class ArmJob:
    """The backup job following a restore, as far as the engine cares."""

    status: str
    bytes_transferred: int = 0
    error: str = ""

    @property
    def finished(self) -> bool:
        return self.status.replace(" ", "").lower() not in _RUNNING

    @property
    def succeeded(self) -> bool:
        return self.status.replace(" ", "").lower() in _TERMINAL_OK


@dataclass(frozen=True)
class PgTarget:
    """Where to connect and with what password (never journaled, never logged)."""

    conn: ConnParams
    password: str | None = field(default=None, repr=False)


class SecretStore(Protocol):
    """``keystore.Keystore`` fits."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def delete(self, key: str) -> object: ...


class RestoreArm(Protocol):
    """Azure control-plane calls. Blocking calls take ``check`` (raises Cancelled)."""

    def validate_restore(
        self, plan: RestorePlanFile, request: Mapping[str, Any], *, check: Callable[[], None]
    ) -> None: ...

    def trigger_restore(
        self,
        plan: RestorePlanFile,
        request: Mapping[str, Any],
        *,
        resume: str | None,
        on_token: Callable[[str], None],
        check: Callable[[], None],
    ) -> str:
        """Start (or, with ``resume``, continue) the restore LRO; return the backup job id."""
        ...

    def get_job(self, plan: RestorePlanFile, job_id: str) -> ArmJob: ...

    def server_exists(self, target: TargetSpec) -> bool: ...

    def create_server(
        self,
        target: TargetSpec,
        *,
        password: str,
        resume: str | None,
        on_token: Callable[[str], None],
        check: Callable[[], None],
    ) -> None: ...

    def server_endpoint(self, target: TargetSpec) -> tuple[str, int, str]:
        """(host, port, sslmode) of a ready server."""
        ...

    def ensure_firewall_rule(
        self, target: TargetSpec, name: str, ip: str, *, check: Callable[[], None]
    ) -> None: ...

    def get_parameter(self, target: TargetSpec, name: str) -> str: ...

    def set_parameter(
        self, target: TargetSpec, name: str, value: str, *, check: Callable[[], None]
    ) -> None: ...

    def restart_server(self, target: TargetSpec, *, check: Callable[[], None]) -> None: ...

    def delete_server(self, target: TargetSpec, *, check: Callable[[], None]) -> None:
        """Delete the server (only ever one this restore created; gone already is fine)."""
        ...


@dataclass(frozen=True)
class RemoteFile:
    """A listed blob (``azure.blobs.RemoteBlob`` fits)."""

    name: str
    size: int
    etag: str = ""


class Downloader(Protocol):
    """``azure.blobs.BlobDownloader`` fits; so does :class:`LocalFolder`."""

    def list_blobs(self, prefix: str = "") -> Sequence[Any]: ...

    def check_free_space(self, blobs: Sequence[Any], dest_dir: Path) -> None: ...

    def download(
        self,
        blobs: Iterable[Any],
        dest_dir: Path,
        *,
        journal: Any = None,
        progress: Callable[[int, int], None] | None = None,
        check_cancelled: Callable[[], None] | None = None,
    ) -> Any:
        """Return an object with ``.files``: items with ``.name`` and ``.path`` (verified)."""
        ...


@dataclass(frozen=True)
class FileInfo:
    """A downloaded file judged by content."""

    kind: DumpKind
    dump_major: int | None = None


class PgRunner(Protocol):
    """PostgreSQL work on the target. Long calls take ``cancel`` (returns True to stop)."""

    def classify(self, path: Path) -> FileInfo: ...

    def toc(self, path: Path) -> Toc: ...

    def plain_extensions(self, path: Path) -> tuple[str, ...]:
        """The extensions a plain-SQL dump creates (it has no TOC)."""

    def server_major(self, target: PgTarget) -> int: ...

    def database_exists(self, target: PgTarget, name: str) -> bool: ...

    def database_is_empty(self, target: PgTarget, name: str) -> bool: ...

    def create_database(self, target: PgTarget, name: str) -> None: ...

    def drop_database(self, target: PgTarget, name: str) -> None: ...

    def create_schemas(self, target: PgTarget, name: str, schemas: Sequence[str]) -> None:
        """``CREATE SCHEMA IF NOT EXISTS`` each of ``schemas`` in database ``name``."""
        ...

    def restore(
        self,
        target: PgTarget,
        name: str,
        path: Path,
        info: FileInfo,
        *,
        jobs: int,
        keep_owners: bool,
        keep_privileges: bool,
        toc: Toc | None,
        on_progress: Callable[[ProgressEvent], None],
        cancel: Callable[[], bool],
        on_output: Callable[[str], None] | None = None,
        extra_args: Sequence[str] = (),
    ) -> ProcessOutcome:
        """Restore one database; ``on_output`` gets "$ <command line>" first, then each line.

        ``extra_args``: pg_restore flags from the plan's options (archives only)."""
        ...

    def prepare_owners(self, target: PgTarget, toc: Toc) -> OwnerGrants:
        """Grant the admin membership in the archive's owning roles where it can."""
        ...

    def owner_mismatches(self, target: PgTarget, name: str, toc: Toc) -> list[str]:
        """Restored objects whose owner differs from the archive's."""
        ...

    def revoke_memberships(self, target: PgTarget, roles: Sequence[str]) -> list[str]:
        """Take back memberships :meth:`prepare_owners` granted; the failures."""
        ...

    def vacuum_analyze(self, target: PgTarget, name: str) -> None:
        """``VACUUM (ANALYZE)`` database ``name`` (after a load with autovacuum off)."""
        ...

    def run_sql_file(
        self, target: PgTarget, path: Path, *, cancel: Callable[[], bool]
    ) -> ProcessOutcome: ...

    def sanitize_roles(self, raw: Path, cleaned: Path) -> tuple[int, bool]:
        """Write the cleaned roles file; (kept roles, file had passwords)."""
        ...

    def row_counts(
        self, target: PgTarget, name: str, tables: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], int]: ...


class LocalFolder:
    """Incident mode from a local folder: the "download" is a listing of existing files."""

    @dataclass(frozen=True)
    class _File:
        name: str
        path: Path
        size: int

    @dataclass(frozen=True)
    class _Result:
        files: tuple[Any, ...]

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def list_blobs(self, prefix: str = "") -> list[RemoteFile]:
        out = []
        for p in sorted(self.folder.rglob("*")):
            name = p.relative_to(self.folder).as_posix()
            if p.is_file() and name.startswith(prefix) and not name.endswith(".part"):
                out.append(RemoteFile(name, p.stat().st_size))
        return out

    def check_free_space(self, blobs: Sequence[Any], dest_dir: Path) -> None:
        return None

    def download(self, blobs: Iterable[Any], dest_dir: Path, **_: Any) -> Any:
        files = [
            self._File(b.name, self.folder / b.name, (self.folder / b.name).stat().st_size)
            for b in blobs
        ]
        return self._Result(tuple(files))


@dataclass(frozen=True)
class DirectoryDump:
    """The blobs of one directory-format dump (``pg_dump -Fd``): restored as one archive."""

    name: str  # the folder
    size: int
    members: tuple[Any, ...]

    @classmethod
    def of(cls, folder: str, members: Sequence[Any]) -> DirectoryDump:
        """Group listed blobs (toc.dat first)."""
        ordered = sorted(members, key=lambda b: (not _is_toc(b.name), b.name))
        return cls(folder, sum(int(b.size) for b in ordered), tuple(ordered))

    @property
    def has_toc(self) -> bool:
        """True when toc.dat is among the members."""
        return bool(self.members) and _is_toc(self.members[0].name)

    @property
    def toc(self) -> Any:
        """The toc.dat blob."""
        return self.members[0]


def _is_toc(name: str) -> bool:
    return name.rsplit("/", 1)[-1].lower() == "toc.dat"


def _members(blob: Any) -> list[Any]:
    """The blobs to download for one listed database (all members of a directory dump)."""
    return list(blob.members) if isinstance(blob, DirectoryDump) else [blob]


# -------------------------------------------------------------------------------- results


@dataclass
class StageTime:
    """One bar of the timeline chart."""

    lane: str  # "azure" | "server" | "download" | "restore" | "verify" | "roles"
    label: str
    start: float
    end: float | None = None
    status: str = "running"  # running | ok | failed | skipped | cancelled


@dataclass
class DbResult:
    """What happened to one database."""

    name: str
    status: str = "pending"  # pending | restored | failed | refused | skipped
    file: str = ""
    kind: str = ""
    size: int = 0
    exit_code: int | None = None
    objects_done: int = 0
    objects_total: int = 0
    error_lines: list[str] = field(default_factory=list)
    benign_errors: list[str] = field(default_factory=list)
    message: str = ""
    row_counts: dict[str, int] = field(default_factory=dict)
    count_mismatches: dict[str, list[int]] = field(default_factory=dict)
    missing_tables: list[str] = field(default_factory=list)
    owners: str = ""  # "kept" (verified) | "no-owner" (fallback) | "" (roles not restored)
    owner_mismatches: list[str] = field(default_factory=list)
    resumed: bool = False
    stage: str = ""  # the Stage it failed at ("" when ok or never started)
    seconds: float = 0.0  # its pg_restore and checks, start to end

    @property
    def ok(self) -> bool:
        return self.status == "restored" and not (
            self.count_mismatches or self.missing_tables or self.owner_mismatches
        )

    def outcome(self) -> DatabaseOutcome:
        """This database for :func:`restore_outcome`."""
        return DatabaseOutcome(
            self.name,
            self.ok,
            self.status,
            Stage(self.stage) if self.stage else None,
            self.message,
        )


@dataclass
class RestoreResult:
    """The whole run: per-database results, the timeline and notes."""

    databases: list[DbResult] = field(default_factory=list)
    timeline: list[StageTime] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    azure_job_id: str = ""
    target_server: str = ""
    started: float = 0.0
    finished: float = 0.0
    cancelled: bool = False
    error: StageError | None = None  # the error that stopped the run, with its stage
    # The server's own databases found in the files: what was done with each, and why.
    system_databases: list[SystemDatabaseDecision] = field(default_factory=list)
    postgres_user_objects: int | None = None  # user objects seen in a skipped postgres file
    # Server parameters changed for the restore (ARM), and whether they were all put back.
    tuning: list[ParameterChange] = field(default_factory=list)
    tuning_reverted: bool = False
    # How to reach the restored databases (no password; it names the keyring entry).
    connection: ServerConnection | None = None

    @property
    def outcome(self) -> RestoreOutcome:
        """How the run ended: the one source for the report, the job row and exit code."""
        return restore_outcome(
            [d.outcome() for d in self.databases], cancelled=self.cancelled, error=self.error
        )

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    def summary(self, report: Mapping[str, Path] | None = None) -> RestoreSummary:
        """The finished run for the result view (``report``: write_report's paths)."""
        paths = report or {}
        return RestoreSummary(
            outcome=self.outcome,
            databases=tuple(
                DatabaseSummary(
                    name=d.name,
                    ok=d.ok,
                    status=d.status,
                    tables=len(d.row_counts),
                    rows=sum(d.row_counts.values()),
                    seconds=d.seconds,
                    owners=d.owners,
                    resumed=d.resumed,
                    message=d.message,
                )
                for d in self.databases
            ),
            connection=self.connection,
            notes=tuple(self.notes),
            elapsed_s=max(0.0, self.finished - self.started),
            report_html=str(paths.get("html", "")),
            report_json=str(paths.get("json", "")),
        )


# --------------------------------------------------------------------------------- helpers


def db_restore_jobs(plan: RestorePlanFile, jobs_in_use: int) -> int:
    """``pg_restore -j`` for a database whose restore starts while ``jobs_in_use`` others run.

    The target's vCores are the budget: the first (largest) database gets them all, one that
    starts beside it gets what is left, and at least 1. Two databases with ``-j vCores`` each
    kept twice the server's cores busy (measured on 2 cores at 2 GB of dumps: no faster than
    one after another, ``benchmarks/restore.py``). A ``jobs`` set in the plan is taken as it
    is, but never above the vCores.
    """
    vcores = max(1, plan.target.vcores or 1)
    if plan.jobs:
        return max(1, min(plan.jobs, vcores))
    return max(1, vcores - jobs_in_use)


def generate_password(length: int = 24) -> str:
    """A password Azure accepts (upper, lower, digit, symbol); never stored outside keyring."""
    alphabet = string.ascii_letters + string.digits + "-_.!"
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in pw)
            and any(c.isupper() for c in pw)
            and any(c.isdigit() for c in pw)
            and any(c in "-_.!" for c in pw)
        ):
            return pw


def plan_digest(plan: RestorePlanFile, *, with_read_access: bool = False) -> str:
    """A short hash of the plan: a journal belongs to exactly one plan.

    How the files are read (``container.read_access``, ``sas_entry``) is left out: a retry
    with another read method is the same restore and resumes its journal. Journals written
    before that digest ``with_read_access``.
    """
    data = plan.to_json()
    left_out = ("read_access",) if with_read_access else ("read_access", "sas_entry")
    container = dict(data.get("container") or {})
    data["container"] = {k: v for k, v in container.items() if k not in left_out}
    for key in ("postgres_as", "revoke_owner_grants"):  # journals from before stay valid
        if not data.get(key):
            data.pop(key, None)
    raw = json.dumps(data, sort_keys=True).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def server_admin_entry(server_id: str) -> str:
    """The keyring entry of a server's admin password (= keystore.server_admin_key; jobs/
    may not import the top level)."""
    return f"server-admin:{server_id.lower()}"


def db_journal_key(name: str) -> str:
    """The journal key of one database's restore state (the clean-up resets it too)."""
    return f"db:{name}"


def _no_audit(action: str, target: str, details: Mapping[str, Any]) -> None:
    log.info("audit %s %s %s", action, target, dict(details))


# --------------------------------------------------------------------------------- engine


class RestoreEngine:
    """Run one restore plan to the end, resuming from its journal.

    Args:
        plan: the plan (no secrets).
        arm: Azure calls; None in incident mode against an existing server without ARM.
        downloader: the container (or a :class:`LocalFolder`).
        pg: PostgreSQL work.
        secrets: where the target admin password lives (``keystore.Keystore``).
        audit: called before each write with (action, target, details).
        poll_s: seconds between backup-job polls.
        clock: wall clock for the timeline (tests inject one).
    """

    def __init__(
        self,
        plan: RestorePlanFile,
        *,
        arm: RestoreArm | None,
        downloader: Downloader,
        pg: PgRunner,
        secrets: SecretStore,
        audit: AuditFn | None = None,
        poll_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.plan = plan
        self.arm = arm
        self.downloader = downloader
        self.pg = pg
        self.secrets = secrets
        self.audit = audit or _no_audit
        self.poll_s = poll_s
        self.clock = clock
        self._lock = threading.Lock()
        self._config_lock = threading.Lock()
        self._result = RestoreResult()
        self._ctx: JobContext | None = None
        self._target: PgTarget | None = None
        self._server_ready = threading.Event()
        self._server_error: BaseException | None = None
        self._progress: dict[str, float] = {}
        self._tracker = ProgressTracker(time.monotonic)  # under _lock
        self._stop_all = threading.Event()
        self._jobs_in_use = 0  # pg_restore workers running now (under _lock)
        self._owner_lock = threading.Lock()  # membership grants, one database at a time
        self._tuned = False  # restore-time server parameters are in force
        self._stage = Stage.PLAN  # the stage an error raised now would stop the run at
        self._renamed: dict[str, str] = {}  # target database -> the database in the files

    # -- public ----------------------------------------------------------------------------

    def run(self, ctx: JobContext) -> RestoreResult:
        """Run (or resume) the plan. Returns the result; raises Cancelled or AppError."""
        self._ctx = ctx
        journal = ctx.journal
        digest = plan_digest(self.plan)
        old = journal.get("plan_digest")
        res = self._result
        self._stage = Stage.PLAN
        if old is not None and old not in (digest, plan_digest(self.plan, with_read_access=True)):
            err = AppError(
                Fault.USER,
                "This journal belongs to another restore plan.",
                "Start the plan with a fresh journal, or rerun the plan it was made for.",
            )
            res.error = StageError(Stage.PLAN, err.summary, err.remedy)
            raise err
        res.started = float(journal.get("started") or self.clock())
        if old is None:
            journal.update({"plan_digest": digest, "started": res.started})
        res.timeline = [StageTime(**t) for t in journal.get("timeline", [])]
        res.notes = list(journal.get("notes", []))
        if not self.plan.options.default:
            self._note("Restore options: " + "; ".join(self.plan.options.words()) + ".")
        try:
            self._run_stages(ctx)
        except Cancelled:
            res.cancelled = True
            self._close_open_bars("cancelled")
            raise
        except AppError as exc:
            res.error = StageError(self._stage, exc.summary, exc.remedy, exc.azure_code or "")
            self._close_open_bars("failed")
            raise
        finally:
            res.finished = self.clock()
            self._save_timeline()
        return res

    @property
    def result(self) -> RestoreResult:
        """The result so far (complete after ``run`` returns or raises)."""
        return self._result

    # -- stages ----------------------------------------------------------------------------

    def _run_stages(self, ctx: JobContext) -> None:
        plan = self.plan
        if plan.source is not None:
            self._stage = Stage.AZURE
            self._stage_azure(ctx)
        self._stage = Stage.DOWNLOAD
        dest = Path(plan.download_dir or ".").expanduser()
        dest.mkdir(parents=True, exist_ok=True)
        listing = self._stage_list(ctx, dest)
        server_thread = threading.Thread(
            target=self._server_worker, name="pgflex-restore-server", daemon=True
        )
        server_thread.start()
        try:
            self._stage_databases(ctx, dest, listing)
        finally:
            self._stop_all.set()
            server_thread.join()
            self._revert_tuning(ctx)
        self._save_timeline()

    # 1. Azure restore-as-files ------------------------------------------------------------

    def _stage_azure(self, ctx: JobContext) -> None:
        assert self.plan.source is not None
        journal = ctx.journal
        state = dict(journal.get("azure") or {})
        if state.get("done"):
            self._result.azure_job_id = str(state.get("job_id", ""))
            return
        arm = self._need_arm("restore the backup as files")
        src, cont = self.plan.source, self.plan.container
        bar = self._bar("azure", "Azure restore job")
        request = build_restore_request(
            src.recovery_point_id,
            cont.url,
            cont.arm_id or None,
            src.vault_location,
            cont.file_prefix,
        )
        # For Cross Region Restore ``vault_location`` is the secondary region (the request's
        # restoreLocation); the adapter wraps the request for the secondary region's API.
        job_id = str(state.get("job_id", ""))
        if not job_id:
            resume = state.get("continuation_token")
            if not resume:
                ctx.report(Progress(0, None, "Validating the restore…"))
                arm.validate_restore(self.plan, request, check=ctx.check_cancelled)
                self.audit(
                    "trigger-restore",
                    src.backup_instance_id,
                    {"recovery_point": src.recovery_point_id, "container": cont.url},
                )

            def on_token(token: str) -> None:
                state["continuation_token"] = token
                journal.checkpoint("azure", dict(state))

            ctx.report(Progress(0, None, "Starting the restore in Azure Backup…"))
            job_id = arm.trigger_restore(
                self.plan, request, resume=resume, on_token=on_token, check=ctx.check_cancelled
            )
            state["job_id"] = job_id
            journal.checkpoint("azure", dict(state))
        self._result.azure_job_id = job_id
        while True:
            ctx.check_cancelled()
            job = arm.get_job(self.plan, job_id)
            ctx.report(
                Progress(0, None, f"Azure restore job: {job.status}, {job.bytes_transferred} B")
            )
            if job.finished:
                break
            if ctx.token.wait(self.poll_s):
                raise Cancelled()
        if not job.succeeded:
            self._end(bar, "failed")
            raise AppError(
                Fault.AZURE,
                f"The Azure Backup restore job ended as {job.status}.",
                "Open the job in the vault for details; fix the cause and run the plan again.",
                details=job.error,
            )
        self._end(bar, "ok")
        state["done"] = True
        journal.checkpoint("azure", state)

    # 2. list and classify -----------------------------------------------------------------

    def _stage_list(self, ctx: JobContext, dest: Path) -> dict[str, Any]:
        ctx.check_cancelled()
        blobs = list(self.downloader.list_blobs(self.plan.container.prefix))
        out: dict[str, Any] = {"databases": {}, "roles": []}
        folders: dict[str, list[Any]] = {}
        for blob in blobs:
            hint = classify_blob(blob.name)
            if hint.role is BlobRole.DATABASE and hint.directory is None:
                db = hint.database or Path(blob.name).stem
                out["databases"].setdefault(db, []).append(blob)
            elif hint.role is BlobRole.ROLES:
                out["roles"].append(blob)
            elif hint.role is BlobRole.DATABASE:
                folders.setdefault(hint.directory or "", []).append(blob)
        for folder, members in sorted(folders.items()):
            dump = DirectoryDump.of(folder, members)
            if not dump.has_toc:
                self._note(f"Folder {folder or '/'} has dump members but no toc.dat; skipped.")
                continue
            db = classify_blob(dump.toc.name).database or Path(folder).name or "postgres"
            out["databases"].setdefault(db, []).append(dump)
        wanted = set(self.plan.databases)
        if wanted:
            missing = sorted(wanted - set(out["databases"]))
            for name in missing:
                self._note(f"Database {name} is not in the restored files.")
            out["databases"] = {k: v for k, v in out["databases"].items() if k in wanted}
        out["databases"], out["postgres_probe"] = self._system_databases(out["databases"])
        for name, files in out["databases"].items():
            if len(files) > 1:
                self._note(f"Database {name} has {len(files)} files; using the largest.")
                files.sort(key=lambda b: b.size, reverse=True)
        needed = [b for v in out["databases"].values() for b in _members(v[0])]
        if self.plan.roles:
            needed += out["roles"][:1]
        self.downloader.check_free_space(needed, dest)
        if not out["databases"]:
            raise AppError(
                Fault.USER,
                "No database files were found in the container.",
                "Check the container and prefix; the listing had "
                f"{len(blobs)} blob(s): {', '.join(b.name for b in blobs[:8])}",
            )
        return out

    def _system_databases(self, found: dict[str, list[Any]]) -> tuple[dict[str, list[Any]], Any]:
        """Leave out the server's own databases; ``postgres`` only under a new name.

        Returns the databases to restore (keyed by the name they get on the target) and the
        largest ``postgres`` file when postgres is not restored (it is looked into later).
        """
        kept: dict[str, list[Any]] = {}
        probe: Any = None
        decisions = self._result.system_databases
        decisions.clear()
        for name, files in found.items():
            decision = decide_database(name, postgres_as=self.plan.postgres_as)
            if decision.renamed and decision.target in found:
                decision = SystemDatabaseDecision(
                    name, None, f"{decision.target} is also a database in the restored files"
                )
            if decision.skipped or decision.renamed:
                decisions.append(decision)
                self._note(decision.line)
            if decision.target is None:
                if name == POSTGRES_DB:
                    probe = max(files, key=lambda b: int(b.size))
                continue
            if decision.renamed:
                self._renamed[decision.target] = name
            kept[decision.target] = files
        return kept, probe

    def _probe_postgres(self, ctx: JobContext, dest: Path, blob: Any) -> None:
        """Look inside a postgres file that is not restored: does it hold user objects?"""
        count = ctx.journal.get("postgres_probe")
        if count is None:
            try:
                path = self._download_one(ctx, dest, blob, "postgres (look inside)", None, None)
                assert path is not None  # without a DbResult a failure raises
                info = self.pg.classify(path)
                toc = self.pg.toc(path) if info.kind.is_archive else None
            except AppError as exc:
                self._note(f"The postgres file could not be looked into: {exc.summary}")
                return
            entries = toc.entries if toc is not None else ()
            count = user_object_count((e.desc, e.schema, e.name) for e in entries)
            ctx.journal.checkpoint("postgres_probe", count)
        self._result.postgres_user_objects = int(count)
        if int(count) > 0:
            self._note(
                f"The postgres database in the files holds {count} user object(s). To get "
                "them back, run the plan again with postgres_as set (for example "
                "postgres_restored): they go into that new database, never into the "
                "target's own postgres."
            )

    # 3. target server ---------------------------------------------------------------------

    def _server_worker(self) -> None:
        try:
            self._prepare_server()
        except BaseException as exc:  # noqa: BLE001  (handed to the database workers)
            self._server_error = exc
        finally:
            self._server_ready.set()

    def _wait_server(self) -> PgTarget:
        ctx = self._ctx
        assert ctx is not None
        while not self._server_ready.wait(0.2):
            ctx.check_cancelled()
        if self._server_error is not None:
            raise self._server_error
        assert self._target is not None
        return self._target

    def _prepare_server(self) -> None:
        ctx = self._ctx
        assert ctx is not None
        t = self.plan.target
        journal = ctx.journal
        state = dict(journal.get("server") or {})
        entry = t.password_entry or (server_admin_entry(t.server_id) if t.server_id else "")
        if t.mode == "new" and not state.get("ready"):
            arm = self._need_arm("create the target server")
            bar = self._bar("server", f"Create server {t.server_name}")
            if not state.get("created_by_app"):
                if arm.server_exists(t):
                    self._end(bar, "failed")
                    raise AppError(
                        Fault.USER,
                        f"Server {t.server_name} already exists and was not created by this "
                        "restore.",
                        "Choose a new server name, or restore into it as an existing server.",
                    )
                self.secrets.set(entry, generate_password())  # before the server exists
                state["created_by_app"] = True
                journal.checkpoint("server", state)
            with self._lock:
                self._tracker.created(
                    Created(
                        CreatedKind.SERVER,
                        t.server_name,
                        f"Server {t.server_name} (new: this restore creates it)",
                    )
                )
            password = self.secrets.get(entry)
            if not password:
                raise AppError(
                    Fault.USER,
                    f"The admin password of {t.server_name} is missing from the keyring.",
                    "Reset the server's admin password in the portal and store it again.",
                )

            def on_token(token: str) -> None:
                state["continuation_token"] = token
                journal.checkpoint("server", dict(state))

            self.audit("create-server", t.server_id, {"version": t.version, "sku": t.sku_name})
            arm.create_server(
                t,
                password=password,
                resume=state.get("continuation_token"),
                on_token=on_token,
                check=ctx.check_cancelled,
            )
            if t.firewall_ip:
                self.audit("firewall-rule", t.server_id, {"ip": t.firewall_ip})
                arm.ensure_firewall_rule(
                    t, "pgflex-restore-client", t.firewall_ip, check=ctx.check_cancelled
                )
            state["ready"] = True
            journal.checkpoint("server", state)
            self._end(bar, "ok")
        password = self.secrets.get(entry) if entry else None
        if self.arm is not None and t.server_id:
            host, port, sslmode = self.arm.server_endpoint(t)
        else:
            host, port, sslmode = t.host, t.port, t.sslmode
        self._target = PgTarget(
            ConnParams(host, port, t.admin_login, "postgres", sslmode or None), password
        )
        self._result.target_server = t.server_name
        self._result.connection = ServerConnection(
            host=host,
            port=port,
            user=t.admin_login,
            sslmode=sslmode or "",
            server_name=t.server_name,
            server_id=t.server_id,
            password_entry=entry,
            password_generated=t.mode == "new" and bool(state.get("created_by_app")),
        )
        self._tune_server(ctx)

    # 3b. restore-time server parameters ---------------------------------------------------

    def _may_tune(self) -> bool:
        t = self.plan.target
        if self.arm is None or not t.server_id or t.tuning == "off":
            return False
        return t.mode == "new" or t.tuning == "on"

    def _tune_server(self, ctx: JobContext) -> None:
        """Apply Microsoft's pg_restore parameters (journaled first) to a server we may change."""
        if not self._may_tune():
            return
        assert self.arm is not None
        t = self.plan.target
        state = dict(ctx.journal.get("tuning") or {})
        if state.get("reverted"):
            return  # an earlier run finished and put everything back
        if "changes" in state:  # resumed: the journaled originals stay the originals
            changes = [ParameterChange(**c) for c in state["changes"]]
        else:
            current: dict[str, str] = {}
            for name in TUNED_PARAMETERS:
                try:
                    current[name] = self.arm.get_parameter(t, name)
                except AppError as exc:
                    log.info("restore: %s can't be read (%s); left as it is", name, exc.summary)
            changes = restore_tuning(
                current, vcores=t.vcores, memory_gib=memory_gib_for_sku(t.sku_name, t.vcores)
            )
            state = {"changes": [vars(c) for c in changes], "applied": [], "reverted": False}
            ctx.journal.checkpoint("tuning", state)  # the originals, before anything changes
        if not changes:
            return
        self._result.tuning = changes
        bar = self._bar("server", "Tune parameters for the restore")
        applied = list(state.get("applied") or [])
        try:
            for change in changes:
                self.audit("set-parameter", t.server_id, {change.name: change.tuned})
                self.arm.set_parameter(t, change.name, change.tuned, check=ctx.check_cancelled)
                if change.name not in applied:
                    applied.append(change.name)
                    state["applied"] = list(applied)
                    ctx.journal.checkpoint("tuning", dict(state))
        except AppError as exc:
            self._end(bar, "failed")
            self._note(f"Server parameters could not be tuned for the restore: {exc.summary}")
            self._tuned = bool(applied)
            return
        self._tuned = True
        self._end(bar, "ok")
        self._note(
            "Server parameters for the restore (put back afterwards): "
            + "; ".join(c.line for c in changes)
        )

    def _revert_tuning(self, ctx: JobContext) -> None:
        """Put back every journaled original value; runs after success, failure and cancel."""
        state = dict(ctx.journal.get("tuning") or {})
        if not state or state.get("reverted") or self.arm is None:
            return
        t = self.plan.target
        changes = [ParameterChange(**c) for c in state.get("changes") or ()]
        applied = set(state.get("applied") or ())
        # Also those not journaled as applied: a kill -9 may fall between the set and the note.
        todo = [c for c in changes if c.name in applied] + [
            c for c in changes if c.name not in applied
        ]
        bar = self._bar("server", "Put server parameters back")
        failed: list[str] = []
        for change in todo:
            try:
                self.audit("set-parameter", t.server_id, {change.name: change.original})
                self.arm.set_parameter(t, change.name, change.original, check=lambda: None)
            except AppError as exc:
                failed.append(f"{change.name} (still {change.tuned}): {exc.summary}")
        self._tuned = False
        self._result.tuning = changes
        if failed:
            self._end(bar, "failed")
            self._note(
                "Server parameters could not all be put back; rerun the plan or set them in "
                "the portal: " + "; ".join(failed)
            )
            return
        state["reverted"] = True
        ctx.journal.checkpoint("tuning", state)
        self._result.tuning_reverted = True
        self._end(bar, "ok")
        self._note(
            "Server parameters put back: "
            + "; ".join(f"{c.name} = {c.original or '(default)'}" for c in changes)
        )

    def _ensure_extensions(self, name: str, extensions: Iterable[str]) -> None:
        """Allow-list the dump's extensions (and preload libraries) before its restore."""
        t = self.plan.target
        wanted = sorted(set(extensions) - BUILTIN_EXTENSIONS)
        if not wanted:
            return
        if self.arm is None or not t.server_id:
            self._note(
                f"{name} needs extensions {', '.join(wanted)}; without ARM access they can't be "
                "allow-listed (azure.extensions) by the app."
            )
            return
        ctx = self._ctx
        assert ctx is not None
        with self._config_lock:
            current = [v.strip() for v in self.arm.get_parameter(t, "azure.extensions").split(",")]
            have = {v.lower() for v in current if v}
            missing = [e for e in wanted if e.lower() not in have]
            if missing:
                if not t.allow_configure and t.mode != "new":
                    self._note(f"{name} needs extensions not allow-listed: {', '.join(missing)}")
                    return
                value = ",".join([v for v in current if v] + missing)
                bar = self._bar("server", f"Allow {', '.join(missing)}")
                self.audit("set-parameter", t.server_id, {"azure.extensions": value})
                self.arm.set_parameter(t, "azure.extensions", value, check=ctx.check_cancelled)
                self._end(bar, "ok")
            libs = preload_libraries_for(wanted)
            if libs:
                cur = [
                    v.strip()
                    for v in self.arm.get_parameter(t, "shared_preload_libraries").split(",")
                ]
                need = [lib for lib in libs if lib not in cur]
                if need and (t.mode == "new" or t.allow_restart):
                    value = ",".join([v for v in cur if v] + need)
                    bar = self._bar("server", f"Preload {', '.join(need)} + restart")
                    self.audit("set-parameter", t.server_id, {"shared_preload_libraries": value})
                    self.arm.set_parameter(
                        t, "shared_preload_libraries", value, check=ctx.check_cancelled
                    )
                    self.audit("restart-server", t.server_id, {})
                    self.arm.restart_server(t, check=ctx.check_cancelled)
                    self._end(bar, "ok")
                elif need:
                    self._note(f"{name} needs shared_preload_libraries {', '.join(need)}.")

    # 4/5. roles and databases: the pipeline -----------------------------------------------

    def _stage_databases(self, ctx: JobContext, dest: Path, listing: dict[str, Any]) -> None:
        journal = ctx.journal
        dbs: dict[str, list[Any]] = listing["databases"]
        # Largest first: the longest restore starts earliest and the small ones fill the tail
        # (measured at 0.6 GB of dumps on 2 cores: 24.2 s vs 25.2 s smallest first).
        order = sorted(dbs, key=lambda n: (-dbs[n][0].size, n))
        results = {name: DbResult(name, size=int(dbs[name][0].size)) for name in order}
        with self._lock:
            self._tracker.databases({name: results[name].size for name in order})
            self._tracker.stage("Downloading and restoring", azure_done=True)
        self._result.databases = [results[n] for n in order]
        total_bytes = sum(dbs[n][0].size for n in order) or 1
        done_bytes: dict[str, int] = {}
        futures: list[Future[None]] = []
        roles_future: Future[None] | None = None
        workers = max(1, self.plan.parallel_restores)
        with ThreadPoolExecutor(workers, thread_name_prefix="pgflex-restore") as pool:
            try:
                if self.plan.roles and listing["roles"]:
                    blob = listing["roles"][0]
                    roles_path = self._download_one(ctx, dest, blob, "roles", None, None)
                    assert roles_path is not None  # a roles download failure raises
                    roles_future = pool.submit(self._restore_roles, roles_path)
                for name in order:
                    ctx.check_cancelled()
                    if self._stop_all.is_set():
                        results[name].status = "skipped"
                        results[name].message = "Not restored: an earlier database failed."
                        self._db_stage(name, DbStage.SKIPPED)
                        continue
                    db = results[name]
                    saved = dict(journal.get(db_journal_key(name)) or {})
                    if saved.get("status") == "restored":
                        self._restore_saved(db, saved)
                        self._db_stage(name, DbStage.DONE, objects_total=db.objects_total)
                        continue
                    blob = dbs[name][0]

                    def on_bytes(done: int, _total: int, _n: str = name) -> None:
                        done_bytes[_n] = done
                        with self._lock:
                            self._tracker.update(_n, stage=DbStage.DOWNLOAD, bytes_done=done)
                        self._overall(ctx, "download", sum(done_bytes.values()) / total_bytes)

                    self._db_stage(name, DbStage.DOWNLOAD)
                    path = self._download_one(ctx, dest, blob, name, on_bytes, db)
                    if path is None:
                        self._db_stage(name, DbStage.FAILED)
                        continue
                    with self._lock:
                        self._tracker.created(
                            Created(CreatedKind.FILE, str(path), f"Downloaded file {path}")
                        )
                    self._db_stage(name, DbStage.SERVER)
                    futures.append(pool.submit(self._restore_db, db, path, roles_future))
                if listing.get("postgres_probe") is not None:
                    self._probe_postgres(ctx, dest, listing["postgres_probe"])
                for fut in futures:
                    while True:
                        try:
                            fut.result(timeout=0.2)
                            break
                        except TimeoutError:
                            ctx.check_cancelled()
            except BaseException:
                self._stop_all.set()
                for fut in futures:
                    fut.cancel()
                raise
        if self.plan.revoke_owner_grants and not ctx.cancelled:
            self._revoke_owner_grants(ctx)
        if ctx.cancelled:
            raise Cancelled()

    def _download_one(
        self,
        ctx: JobContext,
        dest: Path,
        blob: Any,
        label: str,
        on_bytes: Callable[[int, int], None] | None,
        db: DbResult | None,
    ) -> Path | None:
        bar = self._bar("download", label)
        try:
            result = self.downloader.download(
                _members(blob),
                dest,
                journal=ctx.journal,
                progress=on_bytes,
                check_cancelled=ctx.check_cancelled,
            )
        except Cancelled:
            self._end(bar, "cancelled")
            raise
        except AppError as exc:
            self._end(bar, "failed")
            if db is None:
                raise
            db.status, db.message, db.stage = "failed", f"Download failed: {exc}", Stage.DOWNLOAD
            self._save_db(db)
            if self.plan.stop_on_first_failure:
                self._stop_all.set()
            return None
        self._end(bar, "ok")
        files = list(result.files)
        if isinstance(blob, DirectoryDump):  # the folder holding toc.dat is the archive
            return next(Path(f.path).parent for f in files if f.name == blob.toc.name)
        return Path(files[0].path)

    def _restore_roles(self, path: Path) -> None:
        ctx = self._ctx
        assert ctx is not None
        target = self._wait_server()
        if ctx.journal.get("roles") == "done":
            return
        bar = self._bar("roles", "Roles")
        cleaned = path.with_name(path.name + ".cleaned.sql")
        kept, had_passwords = self.pg.sanitize_roles(path, cleaned)
        if not had_passwords:
            self._note(
                "Roles were restored without passwords (the roles file has none): set new "
                "passwords before anyone logs in with them."
            )
        self.audit("create-roles", self.plan.target.server_name, {"roles": kept})
        outcome = self.pg.run_sql_file(target, cleaned, cancel=lambda: ctx.cancelled)
        if outcome.cancelled:
            raise Cancelled()
        if outcome.fatal_errors:
            self._note(f"Roles: {len(outcome.fatal_errors)} error(s): {outcome.fatal_errors[0]}")
        self._end(bar, "ok" if not outcome.fatal_errors else "failed")
        ctx.journal.checkpoint("roles", "done")

    def _restore_db(self, db: DbResult, path: Path, roles_future: Future[None] | None) -> None:
        ctx = self._ctx
        assert ctx is not None
        if self._stop_all.is_set() or ctx.cancelled:
            db.status = "skipped"
            return
        stage = Stage.SERVER
        try:
            target = self._wait_server()
            stage = Stage.ROLES
            if roles_future is not None:
                roles_future.result()
            stage = Stage.RESTORE
            self._db_stage(db.name, DbStage.RESTORE)
            self._restore_db_inner(ctx, db, path, target)
        except Cancelled:
            db.status, db.message = "failed", "Cancelled."
            raise
        except AppError as exc:
            db.stage = stage
            if db.status != "refused":
                db.status, db.message = "failed", str(exc)
            if self.plan.stop_on_first_failure:
                self._stop_all.set()
        self._db_stage(db.name, DbStage.DONE if db.ok else DbStage.FAILED)
        self._save_db(db)

    def _restore_db_inner(self, ctx: JobContext, db: DbResult, path: Path, tgt: PgTarget) -> None:
        name = db.name
        journal = ctx.journal
        saved = dict(journal.get(db_journal_key(name)) or {})
        db.file = path.name
        info = self.pg.classify(path)
        db.kind = str(info.kind)
        if not info.kind.is_archive and info.kind is not DumpKind.PLAIN_SQL:
            raise AppError(Fault.USER, f"{path.name} is not a database dump ({info.kind}).")
        toc = self.pg.toc(path) if info.kind.is_archive else None
        if info.dump_major is not None:
            major = self.pg.server_major(tgt)
            if not target_version_ok(info.dump_major, major):
                raise AppError(
                    Fault.USER,
                    f"{name} was dumped from PostgreSQL {info.dump_major}; the target runs "
                    f"{major}.",
                    "Restore into a server of the same or a newer major version.",
                )
        if toc is not None:
            self._ensure_extensions(name, toc.extensions)
        elif info.kind is DumpKind.PLAIN_SQL:  # no TOC: its CREATE EXTENSION lines
            self._ensure_extensions(name, self.pg.plain_extensions(path))
        # Refuse data the app did not create; redo only what it created itself.
        exists = self.pg.database_exists(tgt, name)
        created = bool(saved.get("created_by_app"))
        if exists and created and saved.get("status") in ("restoring", "failed"):
            db.resumed = True
            self.audit("drop-database", name, {"reason": "redo an interrupted restore"})
            self.pg.drop_database(tgt, name)
            exists = False
        if exists and not self.pg.database_is_empty(tgt, name):
            db.status = "refused"
            db.message = (
                f"Database {name} already exists on the target and holds data; it was not "
                "touched. Drop or rename it, or choose another target."
            )
            self._save_db(db)
            raise AppError(Fault.USER, db.message)
        if not exists:
            self.audit("create-database", name, {"server": self.plan.target.server_name})
            self.pg.create_database(tgt, name)
            created = True
            if self.plan.target.mode != "new":
                with self._lock:
                    server = self.plan.target.server_name
                    self._tracker.created(
                        Created(
                            CreatedKind.DATABASE,
                            name,
                            f"Database {name} on {server} (new, empty or partly restored)",
                            server=server,
                        )
                    )
        keep_owners = self.plan.roles
        if keep_owners and toc is not None:
            keep_owners = self._prepare_owners(ctx, db, tgt, toc)
        saved.update({"status": "restoring", "created_by_app": created, "file": path.name})
        journal.checkpoint(db_journal_key(name), saved)
        bar = self._bar("restore", name)
        with self._lock:
            jobs = db_restore_jobs(self.plan, self._jobs_in_use)
            self._jobs_in_use += jobs
        try:
            outcome = self._run_pg_restore(ctx, db, path, info, tgt, toc, jobs, keep_owners)
        finally:
            with self._lock:
                self._jobs_in_use -= jobs
        if outcome.cancelled:
            self._end(bar, "cancelled")
            raise Cancelled()
        db.exit_code = outcome.exit_code
        db.error_lines = list(outcome.fatal_errors)
        db.benign_errors = list(outcome.benign_errors)
        err = outcome_error(outcome)
        if err is not None:
            self._end(bar, "failed")
            saved["status"] = "failed"
            journal.checkpoint(db_journal_key(name), saved)
            raise err
        self._end(bar, "ok")
        if toc is not None:
            db.objects_total = db.objects_total or len(toc.entries)
        vbar = self._bar("verify", name)
        self._db_stage(name, DbStage.VERIFY, objects_done=db.objects_total)
        self._verify(db, tgt, toc)
        if self._tuned:  # autovacuum is off during the load: analyze what was loaded
            abar = self._bar("verify", f"VACUUM ANALYZE {name}")
            self.pg.vacuum_analyze(tgt, name)
            self._end(abar, "ok")
        if keep_owners and toc is not None:
            db.owner_mismatches = self.pg.owner_mismatches(tgt, name, toc)
            if db.owner_mismatches:
                self._note(
                    f"{name}: {len(db.owner_mismatches)} object(s) do not have their original "
                    f"owner, e.g. {db.owner_mismatches[0]}."
                )
        db.status = "restored"
        if not db.ok:
            db.stage = Stage.VERIFY
        self._end(vbar, "ok" if db.ok else "failed")
        db.seconds = round(max(0.0, (vbar.end or bar.start) - bar.start), 3)

    def _run_pg_restore(
        self,
        ctx: JobContext,
        db: DbResult,
        path: Path,
        info: FileInfo,
        tgt: PgTarget,
        toc: Toc | None,
        jobs: int,
        keep_owners: bool,
    ) -> ProcessOutcome:
        name = db.name
        last = [0.0]

        def on_progress(event: ProgressEvent) -> None:
            db.objects_done, db.objects_total = event.done, event.total
            with self._lock:
                self._tracker.update(
                    name, stage=DbStage.RESTORE, objects_done=event.done, objects_total=event.total
                )
            now = time.monotonic()
            if now - last[0] > 0.1:
                last[0] = now
                self._publish(ctx, f"{name}: {event.text}")

        options = self.plan.options
        schemas = options.schemas(self._renamed.get(name, name))
        if schemas and info.kind.is_archive:  # -n/-t restore the objects, not their schemas
            self.pg.create_schemas(tgt, name, schemas)
        self.audit("restore-database", name, {"file": path.name, "jobs": jobs})
        return self.pg.restore(
            tgt,
            name,
            path,
            info,
            jobs=1 if options.single_transaction else jobs,  # -1 and -j don't go together
            keep_owners=keep_owners and not options.no_owner,
            # grants need the roles, not the owners
            keep_privileges=self.plan.roles and not options.no_privileges,
            toc=toc,
            on_progress=on_progress,
            cancel=lambda: ctx.cancelled,
            on_output=lambda line: self._output(name, line),
            extra_args=options.pg_restore_args(self._renamed.get(name, name)),
        )

    def _output(self, name: str, line: str) -> None:
        """One line of a database's pg_restore (or psql) output, or its "$ command"."""
        with self._lock:
            if line.startswith("$ "):
                self._tracker.update(name, command=line[2:])
            else:
                self._tracker.output(name, line)

    def _prepare_owners(self, ctx: JobContext, db: DbResult, tgt: PgTarget, toc: Toc) -> bool:
        """Make the admin able to give ``db``'s objects their owners; False = ``--no-owner``."""
        admin = tgt.conn.user
        with self._owner_lock:
            self.audit("grant-memberships", self.plan.target.server_name, {"database": db.name})
            grants = self.pg.prepare_owners(tgt, toc)
            granted = sorted(set(ctx.journal.get("owner_grants") or ()) | set(grants.granted))
            ctx.journal.checkpoint("owner_grants", granted)
        if grants.granted:
            after = (
                "they are revoked when the restore ends"
                if self.plan.revoke_owner_grants
                else f"revoke them with REVOKE <role> FROM {admin} if they are not wanted"
            )
            self._note(
                f"{db.name}: the admin {admin} was made a member of {', '.join(grants.granted)} "
                f"so that objects keep their owners; {after}."
            )
        if grants.keep_owners:
            db.owners = "kept"
            return True
        db.owners = "no-owner"
        self._note(
            f"{db.name} was restored with --no-owner (its objects are owned by {admin}): "
            f"{grants.reason}. Grants were kept."
        )
        return False

    def _revoke_owner_grants(self, ctx: JobContext) -> None:
        roles = list(ctx.journal.get("owner_grants") or ())
        if not roles or self._target is None:
            return
        self.audit("revoke-memberships", self.plan.target.server_name, {"roles": roles})
        failed = self.pg.revoke_memberships(self._target, roles)
        ctx.journal.checkpoint(
            "owner_grants", [r for r in roles if any(f.startswith(f"{r}:") for f in failed)]
        )
        if failed:
            self._note(f"Memberships could not be revoked: {'; '.join(failed)}")
        else:
            self._note(
                f"The admin's memberships in {', '.join(roles)} were revoked after the restore."
            )

    def _verify(self, db: DbResult, tgt: PgTarget, toc: Toc | None) -> None:
        options, files_db = self.plan.options, self._renamed.get(db.name, db.name)
        tables = list(toc.tables) if toc is not None else []
        source = self.plan.source_counts.get(db.name) or self.plan.source_counts.get(
            self._renamed.get(db.name, ""), {}
        )
        if not options.default:  # only what the options restore is expected there
            tables = [(s, t) for s, t in tables if options.includes_table(files_db, s, t)]
            source = {
                k: n
                for k, n in source.items()
                if options.loads_data() and options.includes_table(files_db, *k.split(".", 1))
            }
        if not tables and source:
            tables = [tuple(k.split(".", 1)) for k in source]  # type: ignore[misc]
        counts = self.pg.row_counts(tgt, db.name, tables) if tables else {}
        db.row_counts = {f"{s}.{t}": n for (s, t), n in sorted(counts.items())}
        db.missing_tables = [f"{s}.{t}" for s, t in tables if (s, t) not in counts]
        for key, expected in source.items():
            got = db.row_counts.get(key)
            if got is None:
                if key not in db.missing_tables:
                    db.missing_tables.append(key)
            elif got != expected:
                db.count_mismatches[key] = [expected, got]

    def _restore_saved(self, db: DbResult, saved: Mapping[str, Any]) -> None:
        for key, value in dict(saved.get("result") or {}).items():
            if hasattr(db, key):
                setattr(db, key, value)
        db.status = "restored"
        db.resumed = True
        db.message = db.message or "Restored by an earlier run; not redone."

    def _save_db(self, db: DbResult) -> None:
        ctx = self._ctx
        assert ctx is not None
        saved = dict(ctx.journal.get(db_journal_key(db.name)) or {})
        if db.status == "restored":
            saved["status"] = "restored"
        elif db.status == "refused":
            saved["status"] = "refused"
        elif saved.get("status") == "restoring":
            saved["status"] = "failed"
        saved["result"] = {
            "file": db.file,
            "kind": db.kind,
            "size": db.size,
            "exit_code": db.exit_code,
            "objects_done": db.objects_done,
            "objects_total": db.objects_total,
            "error_lines": db.error_lines[:50],
            "benign_errors": db.benign_errors[:50],
            "message": db.message,
            "row_counts": db.row_counts,
            "count_mismatches": db.count_mismatches,
            "missing_tables": db.missing_tables,
            "owners": db.owners,
            "owner_mismatches": db.owner_mismatches[:50],
            "stage": db.stage,
            "seconds": db.seconds,
        }
        ctx.journal.checkpoint(db_journal_key(db.name), saved)
        self._save_timeline()

    # -- small things ----------------------------------------------------------------------

    def _need_arm(self, what: str) -> RestoreArm:
        if self.arm is None:
            raise AppError(
                Fault.USER,
                f"Azure access is needed to {what}.",
                "Sign in, or use incident mode with an existing server.",
            )
        return self.arm

    def _bar(self, lane: str, label: str) -> StageTime:
        bar = StageTime(lane, label, self.clock())
        with self._lock:
            self._result.timeline.append(bar)
        self._save_timeline()
        return bar

    def _end(self, bar: StageTime, status: str) -> None:
        with self._lock:
            bar.end = self.clock()
            bar.status = status
        self._save_timeline()

    def _close_open_bars(self, status: str) -> None:
        with self._lock:
            for bar in self._result.timeline:
                if bar.end is None:
                    bar.end, bar.status = self.clock(), status

    def _save_timeline(self) -> None:
        ctx = self._ctx
        if ctx is None:
            return
        with self._lock:
            data = [dict(vars(b)) for b in self._result.timeline]
            notes = list(self._result.notes)
        ctx.journal.update({"timeline": data, "notes": notes})

    def _note(self, text: str) -> None:
        log.info("restore: %s", text)
        with self._lock:
            if text not in self._result.notes:
                self._result.notes.append(text)

    def _overall(self, ctx: JobContext, stage: str, fraction: float) -> None:
        now = time.monotonic()
        if now - self._progress.get(stage, 0.0) < 0.1:
            return
        self._progress[stage] = now
        self._publish(ctx, f"Downloading ({stage}, {100 * fraction:.0f} %)")

    def _db_stage(self, name: str, stage: DbStage, **changes: Any) -> None:
        """Move one database to ``stage`` and publish it."""
        with self._lock:
            self._tracker.update(name, stage=stage, **changes)
        if self._ctx is not None:
            self._publish(self._ctx, f"{name}: {stage.value}")

    def _publish(self, ctx: JobContext, message: str) -> None:
        """One progress report: the overall bar (never backwards), the time left, per database."""
        with self._lock:
            snap = self._tracker.snapshot()
        ctx.report(Progress(round(100 * snap.fraction, 1), 100, message, snap.eta_s, detail=snap))


class RestoreJob:
    """The engine as a ``jobs.job.Job`` for the runner (restore lane)."""

    kind = "restore"

    def __init__(self, engine: RestoreEngine, *, title: str = "") -> None:
        self.engine = engine
        self.title = title or f"Restore into {engine.plan.target.server_name}"

    def run(self, ctx: JobContext) -> RestoreResult:
        """Run the engine; a restore that did not succeed raises :class:`RestoreFailed`."""
        return run_restore(self.engine, ctx)


class RunsRestore(Protocol):
    """A restore engine as a job runs it: as files (:class:`RestoreEngine`) or as a server."""

    @property
    def result(self) -> RestoreResult: ...

    def run(self, ctx: JobContext) -> RestoreResult: ...


def run_restore(engine: RunsRestore, ctx: JobContext) -> RestoreResult:
    """Run ``engine`` for a job runner: any outcome but success raises ``RestoreFailed``.

    The runner then records the job as failed, and the GUI reads the outcome (kind, stage,
    databases, reason, fix) from the error. ``Cancelled`` passes through.
    """
    try:
        result = engine.run(ctx)
    except AppError as exc:
        raise RestoreFailed.of(engine.result.outcome, cause=exc) from exc
    outcome = result.outcome
    if not outcome.ok:
        raise RestoreFailed.of(outcome)
    return result


def free_space(path: Path) -> int:
    """Free bytes at ``path`` (for reports)."""
    return shutil.disk_usage(path).free
