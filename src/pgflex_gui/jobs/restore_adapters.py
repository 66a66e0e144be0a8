"""Real adapters for the restore engine's ports: ``LocalPgRunner`` and ``SdkRestoreArm``.

``SdkRestoreArm`` is a stop-gap over the management SDKs until ``azure/restore.py`` lands
with the shared error translation; it follows the style guide for LROs: ``begin_*``, hand
the poller's ``continuation_token()`` to the engine at once (it journals it), then
``wait(timeout=1)`` with a cancel check; after a restart, ``continuation_token=`` resumes.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.jobs.restore import ArmJob, FileInfo, PgTarget
from pgflex_gui.jobs.restore_plan_file import RestorePlanFile, TargetSpec
from pgflex_gui.postgres import dumps, psql
from pgflex_gui.postgres.outcome import ProcessOutcome
from pgflex_gui.postgres.restore import (
    ProgressEvent,
    build_pg_restore_argv,
    build_psql_argv,
    run_restore,
)
from pgflex_gui.postgres.roles import sanitize_roles_file
from pgflex_gui.postgres.tools import PgTool, ToolKind, best_client, discover

__all__ = ["LocalPgRunner", "SdkRestoreArm"]

log = logging.getLogger(__name__)


class LocalPgRunner:
    """The PgRunner port over ``postgres/`` (psql and pg_restore binaries)."""

    def __init__(self, tools: Sequence[PgTool] | None = None, *, min_major: int = 0) -> None:
        self._tools = list(tools) if tools is not None else discover()
        self._min = min_major

    def _tool(self, kind: ToolKind, need: int = 0) -> PgTool:
        return best_client(kind, max(need, self._min), tools=self._tools)

    def classify(self, path: Path) -> FileInfo:
        info = dumps.classify(path)
        major = None
        if info.header is not None:
            major = info.header.dump_major
        return FileInfo(info.kind, major)

    def toc(self, path: Path) -> dumps.Toc:
        header = dumps.read_archive_header(path)
        need = header.min_restore_major if header is not None else 0
        return dumps.table_of_contents(path, self._tool(ToolKind.PG_RESTORE, need))

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

    def restore(
        self,
        target: PgTarget,
        name: str,
        path: Path,
        info: FileInfo,
        *,
        jobs: int,
        keep_owners: bool,
        toc: dumps.Toc | None,
        on_progress: Callable[[ProgressEvent], None],
        cancel: Callable[[], bool],
    ) -> ProcessOutcome:
        c = target.conn
        if info.kind.is_archive:
            header = dumps.read_archive_header(path)
            need = header.min_restore_major if header is not None else 0
            argv = build_pg_restore_argv(
                self._tool(ToolKind.PG_RESTORE, need),
                archive=path,
                dbname=name,
                host=c.host,
                port=c.port,
                user=c.user,
                fmt=info.kind,
                jobs=jobs,
                no_owner=not keep_owners,
                no_privileges=not keep_owners,
            )
        else:
            argv = build_psql_argv(
                self._tool(ToolKind.PSQL), sql_file=path, dbname=name, host=c.host,
                port=c.port, user=c.user,
            )  # fmt: skip
        return run_restore(
            argv,
            password=target.password,
            cancel=cancel,
            on_progress=on_progress,
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


def _azure_error(exc: AzureError, what: str) -> AppError:
    code = getattr(getattr(exc, "error", None), "code", None)
    return AppError(
        Fault.AZURE,
        f"Azure refused to {what}.",
        "See the details; fix the cause and run the plan again.",
        azure_code=code,
        details=str(exc)[:2000],
    )


class SdkRestoreArm:
    """The RestoreArm port over DataProtectionMgmtClient and PostgreSQLManagementClient.

    Args:
        make_client: ``make_client(cls, subscription_id)`` returning a management client.
        polling_interval: seconds between LRO polls (the sandbox uses small values).
    """

    def __init__(self, make_client: Callable[..., Any], *, polling_interval: float = 1.0) -> None:
        self._make = make_client
        self._poll = polling_interval
        self._clients: dict[tuple[str, str], Any] = {}

    def _client(self, kind: str, subscription: str) -> Any:
        key = (kind, subscription)
        if key not in self._clients:
            if kind == "dp":
                from azure.mgmt.dataprotection import DataProtectionMgmtClient as cls
            else:
                from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient as cls
            self._clients[key] = self._make(cls, subscription)
        return self._clients[key]

    @staticmethod
    def _bi(plan: RestorePlanFile) -> tuple[ResourceId, str, str, str]:
        assert plan.source is not None
        bi = ResourceId.parse(plan.source.backup_instance_id)
        vault = bi.parent
        assert vault is not None
        return bi, bi.resource_group, vault.name, bi.name

    def _wait(self, poller: Any, check: Callable[[], None]) -> Any:
        while not poller.done():
            check()
            poller.wait(timeout=1)
        return poller.result()

    def validate_restore(self, plan: RestorePlanFile, request: Mapping[str, Any]) -> None:
        bi, rg, vault, name = self._bi(plan)
        dp = self._client("dp", bi.subscription_id)
        body = {"objectType": "ValidateRestoreRequestObject", "restoreRequestObject": request}
        try:
            if plan.source is not None and plan.source.cross_region:
                poller = dp.backup_instances.begin_validate_cross_region_restore(
                    rg, plan.source.vault_location, _json_io(body), polling_interval=self._poll
                )
            else:
                poller = dp.backup_instances.begin_validate_for_restore(
                    rg, vault, name, _json_io(body), polling_interval=self._poll
                )
            poller.result()
        except AzureError as exc:
            raise _azure_error(exc, "validate the restore") from exc

    def trigger_restore(
        self,
        plan: RestorePlanFile,
        request: Mapping[str, Any],
        *,
        resume: str | None,
        on_token: Callable[[str], None],
        check: Callable[[], None],
    ) -> str:
        bi, rg, vault, name = self._bi(plan)
        ops = self._client("dp", bi.subscription_id).backup_instances
        try:
            if resume:
                poller = ops.begin_trigger_restore(
                    rg, vault, name, None, continuation_token=resume, polling_interval=self._poll
                )
            else:
                poller = ops.begin_trigger_restore(
                    rg, vault, name, _json_io(dict(request)), polling_interval=self._poll
                )
                on_token(poller.continuation_token())
            result = self._wait(poller, check)
        except AzureError as exc:
            raise _azure_error(exc, "start the restore") from exc
        job_id = str(getattr(result, "job_id", "") or "")
        return job_id.rstrip("/").rsplit("/", 1)[-1]

    def get_job(self, plan: RestorePlanFile, job_id: str) -> ArmJob:
        bi, rg, vault, _ = self._bi(plan)
        try:
            job = self._client("dp", bi.subscription_id).jobs.get(rg, vault, job_id)
        except AzureError as exc:
            raise _azure_error(exc, "read the restore job") from exc
        props = job.properties
        moved = 0
        for task in getattr(props.extended_info, "sub_tasks", None) or []:
            details = getattr(task, "additional_details", None) or {}
            moved += int(details.get("DataTransferredInBytes", 0) or 0)
        errors = getattr(props, "error_details", None) or []
        return ArmJob(
            str(props.status), moved, "; ".join(str(getattr(e, "message", e)) for e in errors)
        )

    def _pg(self, target: TargetSpec) -> tuple[Any, str, str]:
        rid = ResourceId.parse(target.server_id)
        return self._client("pg", rid.subscription_id), rid.resource_group, rid.name

    def server_exists(self, target: TargetSpec) -> bool:
        pg, rg, name = self._pg(target)
        try:
            pg.servers.get(rg, name)
        except ResourceNotFoundError:
            return False
        except HttpResponseError as exc:
            if exc.status_code == 404:
                return False
            raise _azure_error(exc, f"read server {name}") from exc
        return True

    def create_server(
        self,
        target: TargetSpec,
        *,
        password: str,
        resume: str | None,
        on_token: Callable[[str], None],
        check: Callable[[], None],
    ) -> None:
        pg, rg, name = self._pg(target)
        body = {
            "location": target.location,
            "sku": {"name": target.sku_name, "tier": target.sku_tier},
            "tags": {"created-by": "pgflex-gui restore"},
            "properties": {
                "createMode": "Create",
                "version": target.version,
                "administratorLogin": target.admin_login,
                "administratorLoginPassword": password,
                "storage": {"storageSizeGB": target.storage_gb, "autoGrow": "Disabled"},
                "network": {"publicNetworkAccess": "Enabled"},
                "backup": {"backupRetentionDays": 7, "geoRedundantBackup": "Disabled"},
                "highAvailability": {"mode": "Disabled"},
            },
        }
        try:
            if resume:
                poller = pg.servers.begin_create_or_update(
                    rg, name, None, continuation_token=resume, polling_interval=self._poll
                )
            else:
                poller = pg.servers.begin_create_or_update(
                    rg, name, _json_io(body), polling_interval=self._poll
                )
                on_token(poller.continuation_token())
            self._wait(poller, check)
        except AzureError as exc:
            raise _azure_error(exc, f"create server {name}") from exc

    def server_endpoint(self, target: TargetSpec) -> tuple[str, int, str]:
        pg, rg, name = self._pg(target)
        try:
            server = pg.servers.get(rg, name)
        except AzureError as exc:
            raise _azure_error(exc, f"read server {name}") from exc
        props = getattr(server, "properties", server)
        host = str(getattr(props, "fully_qualified_domain_name", "") or "")
        tags = server.tags or {}
        if "sandbox-port" in tags:  # the loopback sandbox serves each server on its own port
            return host or "127.0.0.1", int(tags["sandbox-port"]), ""
        return host, 5432, "require"

    def ensure_firewall_rule(self, target: TargetSpec, name: str, ip: str) -> None:
        pg, rg, server = self._pg(target)
        body = {"properties": {"startIpAddress": ip, "endIpAddress": ip}}
        try:
            pg.firewall_rules.begin_create_or_update(
                rg, server, name, _json_io(body), polling_interval=self._poll
            ).result()
        except AzureError as exc:
            raise _azure_error(exc, f"add a firewall rule to {server}") from exc

    def get_parameter(self, target: TargetSpec, name: str) -> str:
        pg, rg, server = self._pg(target)
        try:
            cfg = pg.configurations.get(rg, server, name)
        except AzureError as exc:
            raise _azure_error(exc, f"read {name} on {server}") from exc
        props = getattr(cfg, "properties", cfg)
        return str(getattr(props, "value", "") or "")

    def set_parameter(
        self, target: TargetSpec, name: str, value: str, *, check: Callable[[], None]
    ) -> None:
        pg, rg, server = self._pg(target)
        body = {"properties": {"value": value, "source": "user-override"}}
        try:
            poller = pg.configurations.begin_put(
                rg, server, name, _json_io(body), polling_interval=self._poll
            )
            self._wait(poller, check)
        except AzureError as exc:
            raise _azure_error(exc, f"set {name} on {server}") from exc

    def restart_server(self, target: TargetSpec, *, check: Callable[[], None]) -> None:
        pg, rg, server = self._pg(target)
        try:
            self._wait(pg.servers.begin_restart(rg, server, polling_interval=self._poll), check)
        except AzureError as exc:
            raise _azure_error(exc, f"restart {server}") from exc


def _json_io(body: Mapping[str, Any]) -> io.BytesIO:
    return io.BytesIO(json.dumps(body).encode())
