"""Real adapters for the restore engine's ports: ``LocalPgRunner`` and ``SdkRestoreArm``.

``SdkRestoreArm`` goes through ``azure.restore.RestoreService`` (restore as files, CRR, jobs)
and ``azure.servers.TargetServerService`` (the target server), both built from the app's one
``ClientFactory`` and both translating errors with ``azure.errors``.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BackupJob
from pgflex_gui.domain.regions import paired_region
from pgflex_gui.jobs.restore import ArmJob, FileInfo, PgTarget
from pgflex_gui.jobs.restore_plan_file import RestorePlanFile, SourceSpec, TargetSpec
from pgflex_gui.postgres import dumps, owners, psql
from pgflex_gui.postgres.outcome import ProcessOutcome
from pgflex_gui.postgres.restore import (
    ProgressEvent,
    build_pg_restore_argv,
    build_psql_argv,
    run_restore,
)
from pgflex_gui.postgres.roles import sanitize_roles_file
from pgflex_gui.postgres.tools import PgTool, ToolKind, best_client, discover

if TYPE_CHECKING:  # the management SDKs cost ~40 MB of RSS: incident mode never loads them
    from pgflex_gui.azure.clients import ClientFactory, Lro

__all__ = ["LocalPgRunner", "SdkRestoreArm", "arm_job_of", "wait_lro"]

log = logging.getLogger(__name__)


class LocalPgRunner:
    """The PgRunner port over ``postgres/`` (psql and pg_restore binaries)."""

    def __init__(self, tools: Sequence[PgTool] | None = None, *, min_major: int = 0) -> None:
        self._tools = list(tools) if tools is not None else discover()
        self._min = min_major

    def _tool(self, kind: ToolKind, need: int = 0, made_by: str = "") -> PgTool:
        return best_client(kind, max(need, self._min), tools=self._tools, made_by=made_by)

    def _pg_restore_for(self, path: Path) -> PgTool:
        """The pg_restore able to read this archive (AppError naming the archive if none)."""
        header = dumps.read_archive_header(path)
        if header is None:
            return self._tool(ToolKind.PG_RESTORE)
        by = f"pg_dump {header.dump_version}, " if header.dump_version else ""
        made_by = f"made by {by}archive format {header.version_text}"
        return self._tool(ToolKind.PG_RESTORE, header.min_restore_major, made_by)

    def classify(self, path: Path) -> FileInfo:
        info = dumps.classify(path)
        major = None
        if info.header is not None:
            major = info.header.dump_major
        return FileInfo(info.kind, major)

    def toc(self, path: Path) -> dumps.Toc:
        return dumps.table_of_contents(path, self._pg_restore_for(path))

    def plain_extensions(self, path: Path) -> tuple[str, ...]:
        return dumps.plain_sql_extensions(path)

    def server_major(self, target: PgTarget) -> int:
        return psql.server_major(self._tool(ToolKind.PSQL), target.conn, password=target.password)

    def database_exists(self, target: PgTarget, name: str) -> bool:
        return psql.database_exists(
            self._tool(ToolKind.PSQL), target.conn, name, password=target.password
        )

    def database_is_empty(self, target: PgTarget, name: str) -> bool:
        return psql.database_is_empty(
            self._tool(ToolKind.PSQL), target.conn.with_db(name), password=target.password
        )

    def create_database(self, target: PgTarget, name: str) -> None:
        psql.create_database(self._tool(ToolKind.PSQL), target.conn, name, password=target.password)

    def drop_database(self, target: PgTarget, name: str) -> None:
        sql = f"drop database if exists {psql.quote_ident(name)} with (force)"
        psql.query(self._tool(ToolKind.PSQL), target.conn, sql, password=target.password)

    def create_schemas(self, target: PgTarget, name: str, schemas: Sequence[str]) -> None:
        sql = "; ".join(f"create schema if not exists {psql.quote_ident(s)}" for s in schemas)
        psql.query(self._tool(ToolKind.PSQL), target.conn.with_db(name), sql,
                   password=target.password)  # fmt: skip

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
        toc: dumps.Toc | None,
        on_progress: Callable[[ProgressEvent], None],
        cancel: Callable[[], bool],
        on_output: Callable[[str], None] | None = None,
        extra_args: Sequence[str] = (),
    ) -> ProcessOutcome:
        c = target.conn
        if info.kind.is_archive:
            argv = build_pg_restore_argv(
                self._pg_restore_for(path),
                archive=path,
                dbname=name,
                host=c.host,
                port=c.port,
                user=c.user,
                fmt=info.kind,
                jobs=jobs,
                no_owner=not keep_owners,
                no_privileges=not keep_privileges,
                extra=extra_args,
            )
        else:
            argv = build_psql_argv(
                self._tool(ToolKind.PSQL), sql_file=path, dbname=name, host=c.host,
                port=c.port, user=c.user,
            )  # fmt: skip
        if on_output is not None:  # the password is never on it: PGPASSWORD in the child's env
            on_output("$ " + shlex.join(argv))
        return run_restore(
            argv,
            password=target.password,
            cancel=cancel,
            on_progress=on_progress,
            on_line=on_output,
            toc=toc,
            sslmode=c.sslmode,
        )

    def run_sql_file(
        self, target: PgTarget, path: Path, *, cancel: Callable[[], bool]
    ) -> ProcessOutcome:
        c = target.conn
        argv = build_psql_argv(
            self._tool(ToolKind.PSQL), sql_file=path, dbname=c.dbname, host=c.host,
            port=c.port, user=c.user,
        )  # fmt: skip
        return run_restore(argv, password=target.password, cancel=cancel, sslmode=c.sslmode)

    def prepare_owners(self, target: PgTarget, toc: dumps.Toc) -> owners.OwnerGrants:
        owning = owners.archive_owners(toc, admin=target.conn.user)
        return owners.grant_owner_memberships(
            self._tool(ToolKind.PSQL), target.conn, owning, password=target.password
        )

    def owner_mismatches(self, target: PgTarget, name: str, toc: dumps.Toc) -> list[str]:
        return owners.owner_mismatches(
            self._tool(ToolKind.PSQL), target.conn.with_db(name), toc, password=target.password
        )

    def revoke_memberships(self, target: PgTarget, roles: Sequence[str]) -> list[str]:
        return owners.revoke_memberships(
            self._tool(ToolKind.PSQL), target.conn, roles, password=target.password
        )

    def vacuum_analyze(self, target: PgTarget, name: str) -> None:
        psql.query(
            self._tool(ToolKind.PSQL),
            target.conn.with_db(name),
            "vacuum (analyze)",
            password=target.password,
            timeout=6 * 3600.0,
        )

    def sanitize_roles(self, raw: Path, cleaned: Path) -> tuple[int, bool]:
        out = sanitize_roles_file(raw, cleaned)
        return len(out.kept_roles), out.has_passwords

    def row_counts(
        self, target: PgTarget, name: str, tables: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        tool = self._tool(ToolKind.PSQL)
        conn = target.conn.with_db(name)
        present = {
            (s, t)
            for s, t in psql.query(
                tool,
                conn,
                "select n.nspname, c.relname from pg_class c join pg_namespace n "
                "on n.oid = c.relnamespace where c.relkind in ('r', 'p')",
                password=target.password,
            )
        }
        wanted = [t for t in tables if t in present]
        return psql.table_row_counts(tool, conn, password=target.password, tables=wanted)


class SdkRestoreArm:
    """The RestoreArm port over ``azure.restore.RestoreService`` and ``azure.servers``.

    Every SDK client comes from the app's one ``ClientFactory``; every failure is translated
    by ``azure.errors`` (``AppError`` only). LROs follow the style guide: start, hand the
    continuation token to the engine at once (it journals it), then ``wait(timeout=1)`` with
    a cancel check; after a restart the journaled token resumes the same operation.

    Args:
        factory: the app's ``ClientFactory``.
        audit: optional ``audit(what=, target=, result=)`` for ``RestoreService``.
    """

    def __init__(self, factory: ClientFactory, *, audit: Callable[..., None] | None = None) -> None:
        from pgflex_gui.azure.restore import RestoreService
        from pgflex_gui.azure.servers import TargetServerService

        self.factory = factory
        self.restores = RestoreService(factory, audit)
        self.servers = TargetServerService(factory)

    # -- restore as files ------------------------------------------------------------------

    @staticmethod
    def _source(plan: RestorePlanFile) -> tuple[ResourceId, SourceSpec]:
        if plan.source is None:
            raise AppError(Fault.APP, "This plan has no backup to restore (incident mode).")
        return ResourceId.parse(plan.source.backup_instance_id), plan.source

    @staticmethod
    def _regions(src: SourceSpec) -> tuple[str, str]:
        """(source region, secondary region) of a cross-region restore."""
        secondary = src.vault_location
        primary = src.source_region or paired_region(secondary) or ""
        if not primary:
            raise AppError(
                Fault.USER,
                f"The source region of this cross-region restore is unknown ({secondary}).",
                "Pick the recovery point again in the restore wizard.",
            )
        return primary, secondary

    def validate_restore(
        self, plan: RestorePlanFile, request: Mapping[str, Any], *, check: Callable[[], None]
    ) -> None:
        bi, src = self._source(plan)
        self.restores.check_cross_subscription(bi, request)
        if src.cross_region:
            primary, secondary = self._regions(src)
            lro = self.restores.begin_validate_cross_region_restore(
                bi, request, source_region=primary, secondary_region=secondary
            )
        else:
            lro = self.restores.begin_validate_restore(bi, request)
        wait_lro(lro, check)
        lro.result()  # raises the validation's verdict

    def trigger_restore(
        self,
        plan: RestorePlanFile,
        request: Mapping[str, Any],
        *,
        resume: str | None,
        on_token: Callable[[str], None],
        check: Callable[[], None],
    ) -> str:
        bi, src = self._source(plan)
        if src.cross_region:
            primary, secondary = self._regions(src)
            lro = self.restores.begin_trigger_cross_region_restore(
                bi,
                request,
                source_region=primary,
                secondary_region=secondary,
                continuation_token=resume,
            )
        else:
            lro = self.restores.begin_trigger_restore(bi, request, continuation_token=resume)
        if not resume:
            on_token(lro.continuation_token())
        wait_lro(lro, check)
        job_id = lro.result()
        if not job_id:
            raise AppError(
                Fault.AZURE,
                "Azure started the restore but did not say which job follows it.",
                "Open the vault's Backup jobs to follow it; then run the plan in incident mode.",
            )
        return job_id

    def get_job(self, plan: RestorePlanFile, job_id: str) -> ArmJob:
        bi, src = self._source(plan)
        vault_id = bi.parent
        assert vault_id is not None
        if src.cross_region:
            primary, secondary = self._regions(src)
            job = self.restores.get_cross_region_job(
                vault_id, job_id, source_region=primary, secondary_region=secondary
            )
        else:
            from pgflex_gui.azure.restore import job_arm_id

            job = self.restores.get_job(job_arm_id(vault_id, job_id))
        return arm_job_of(job)

    # -- the target server -----------------------------------------------------------------

    def server_exists(self, target: TargetSpec) -> bool:
        return self.servers.exists(target.server_id)

    def create_server(
        self,
        target: TargetSpec,
        *,
        password: str,
        resume: str | None,
        on_token: Callable[[str], None],
        check: Callable[[], None],
    ) -> None:
        from pgflex_gui.azure.servers import ServerSpec

        spec = ServerSpec(
            location=target.location,
            version=target.version,
            sku_name=target.sku_name,
            sku_tier=target.sku_tier,
            storage_gb=target.storage_gb,
            admin_login=target.admin_login,
        )
        if resume:
            lro = self.servers.begin_create(target.server_id, None, None, continuation_token=resume)
        else:
            lro = self.servers.begin_create(target.server_id, spec, password)
            on_token(lro.continuation_token())
        wait_lro(lro, check)

    def server_endpoint(self, target: TargetSpec) -> tuple[str, int, str]:
        ep = self.servers.endpoint(target.server_id)
        return ep.host, ep.port, ep.sslmode

    def ensure_firewall_rule(
        self, target: TargetSpec, name: str, ip: str, *, check: Callable[[], None]
    ) -> None:
        wait_lro(self.servers.begin_firewall_rule(target.server_id, name, ip), check)

    def get_parameter(self, target: TargetSpec, name: str) -> str:
        return self.servers.get_parameter(target.server_id, name)

    def set_parameter(
        self, target: TargetSpec, name: str, value: str, *, check: Callable[[], None]
    ) -> None:
        wait_lro(self.servers.begin_set_parameter(target.server_id, name, value), check)

    def restart_server(self, target: TargetSpec, *, check: Callable[[], None]) -> None:
        wait_lro(self.servers.begin_restart(target.server_id), check)

    def delete_server(self, target: TargetSpec, *, check: Callable[[], None]) -> None:
        if self.servers.exists(target.server_id):
            wait_lro(self.servers.begin_delete(target.server_id), check)


def wait_lro(lro: Lro[Any], check: Callable[[], None]) -> None:
    """Wait for an Lro in 1 s steps, checking for cancellation between polls."""
    while not lro.wait(timeout=1):
        check()


def arm_job_of(job: BackupJob) -> ArmJob:
    """The engine's view of a ``domain.models.BackupJob``: status, bytes, error codes in words."""
    error = "; ".join(f"{code}: {msg}".strip(": ") for code, msg in job.error_codes)
    return ArmJob(job.status, job.data_transferred_bytes, error)
