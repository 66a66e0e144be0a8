"""Small database questions answered through the ``psql`` binary (no Python driver).

Output is read with ``-At`` and a unit-separator field delimiter; the password goes
only into the child's environment (``process.child_env``), never argv or a file.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass

from pgflex_gui.postgres.outcome import ProcessOutcome, collect_errors, raise_for_outcome
from pgflex_gui.postgres.process import child_env
from pgflex_gui.postgres.tools import PgTool

__all__ = [
    "ConnParams",
    "create_database",
    "database_exists",
    "database_is_empty",
    "query",
    "quote_ident",
    "quote_literal",
    "server_major",
    "table_row_counts",
    "user_objects",
]

_SEP = "\x1f"


@dataclass(frozen=True)
class ConnParams:
    """Where to connect; the password is passed separately and never stored here."""

    host: str
    port: int
    user: str
    dbname: str = "postgres"
    sslmode: str | None = None  # e.g. "require" for Azure

    def with_db(self, dbname: str) -> ConnParams:
        return ConnParams(self.host, self.port, self.user, dbname, self.sslmode)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def query(
    psql: PgTool, conn: ConnParams, sql: str, *, password: str | None, timeout: float = 60.0
) -> list[list[str]]:
    """Run one statement; rows as lists of strings. AppError (via outcome) on failure."""
    argv = [
        str(psql.path), "-X", "-w", "-At", "-F", _SEP, "-v", "ON_ERROR_STOP=1",
        "-h", conn.host, "-p", str(conn.port), "-U", conn.user, "-d", conn.dbname, "-c", sql,
    ]  # fmt: skip
    started = time.monotonic()
    out = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=child_env(password, pgoptions=None, sslmode=conn.sslmode),
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if out.returncode != 0:
        lines = out.stderr.splitlines() or [f"psql: error: exit code {out.returncode}"]
        errors, _benign, fatal = collect_errors(lines)
        raise_for_outcome(
            ProcessOutcome(
                exit_code=out.returncode,
                error_lines=tuple(errors or lines),
                fatal_errors=tuple(fatal or errors or lines[:1]),
                duration=time.monotonic() - started,
                tool="psql",
            )
        )
    return [line.split(_SEP) for line in out.stdout.splitlines() if line]


def server_major(psql: PgTool, conn: ConnParams, *, password: str | None) -> int:
    """The server's major version (server_version_num // 10000)."""
    rows = query(psql, conn, "show server_version_num", password=password)
    return int(rows[0][0]) // 10000


def database_exists(psql: PgTool, conn: ConnParams, name: str, *, password: str | None) -> bool:
    sql = f"select 1 from pg_database where datname = {quote_literal(name)}"
    return bool(query(psql, conn, sql, password=password))


def create_database(
    psql: PgTool,
    conn: ConnParams,
    name: str,
    *,
    password: str | None,
    owner: str | None = None,
) -> None:
    """CREATE DATABASE ``name`` (connects to ``conn.dbname``, normally postgres)."""
    sql = f"create database {quote_ident(name)}"
    if owner:
        sql += f" owner {quote_ident(owner)}"
    query(psql, conn, sql, password=password)


# Objects a user made: relations, routines, types and schemas that no extension owns.
_USER_OBJECTS_SQL = """
with ext as (select objid, classid from pg_depend where deptype = 'e'),
sys as (select oid from pg_namespace
        where nspname in ('pg_catalog', 'information_schema')
           or nspname like 'pg\\_toast%' or nspname like 'pg\\_temp%')
select 'relation', n.nspname || '.' || c.relname from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
 where c.relnamespace not in (select oid from sys)
   and (c.oid, 'pg_class'::regclass::oid) not in (select objid, classid from ext)
   and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f', 'c')
union all
select 'routine', n.nspname || '.' || p.proname from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
 where p.pronamespace not in (select oid from sys)
   and (p.oid, 'pg_proc'::regclass::oid) not in (select objid, classid from ext)
union all
select 'type', n.nspname || '.' || t.typname from pg_type t
  join pg_namespace n on n.oid = t.typnamespace
 where t.typnamespace not in (select oid from sys) and t.typtype in ('e', 'd', 'r', 'm')
   and (t.oid, 'pg_type'::regclass::oid) not in (select objid, classid from ext)
union all
select 'schema', n.nspname from pg_namespace n
 where n.oid not in (select oid from sys) and n.nspname <> 'public'
   and n.nspname not like 'pg\\_%'
   and (n.oid, 'pg_namespace'::regclass::oid) not in (select objid, classid from ext)
limit 20
"""


def user_objects(psql: PgTool, conn: ConnParams, *, password: str | None) -> list[tuple[str, str]]:
    """Up to 20 (kind, name) of user objects in ``conn.dbname``; extensions don't count."""
    rows = query(psql, conn, _USER_OBJECTS_SQL, password=password)
    return [(row[0], row[1]) for row in rows]


def database_is_empty(psql: PgTool, conn: ConnParams, *, password: str | None) -> bool:
    """True when ``conn.dbname`` holds nothing but extensions and the public schema."""
    return not user_objects(psql, conn, password=password)


def table_row_counts(
    psql: PgTool,
    conn: ConnParams,
    *,
    password: str | None,
    tables: Iterable[tuple[str, str]] | None = None,
    chunk: int = 200,
) -> dict[tuple[str, str], int]:
    """Exact ``count(*)`` per (schema, table); all user tables when ``tables`` is None."""
    if tables is None:
        rows = query(
            psql,
            conn,
            "select n.nspname, c.relname from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', "
            "'information_schema') and n.nspname not like 'pg\\_toast%' "
            "and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass "
            "and d.objid = c.oid and d.deptype = 'e') order by 1, 2",
            password=password,
        )
        tables = [(r[0], r[1]) for r in rows]
    wanted = list(tables)
    counts: dict[tuple[str, str], int] = {}
    for start in range(0, len(wanted), chunk):
        part = wanted[start : start + chunk]
        sql = " union all ".join(
            f"select {quote_literal(s)}, {quote_literal(t)}, count(*) "
            f"from {quote_ident(s)}.{quote_ident(t)}"
            for s, t in part
        )
        for schema, table, count in query(psql, conn, sql, password=password, timeout=3600):
            counts[(schema, table)] = int(count)
    return counts
