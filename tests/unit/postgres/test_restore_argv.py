"""The pure command-line builders, progress parsing and tool discovery helpers."""

from pathlib import Path

import pytest

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.postgres.dumps import DumpKind, parse_toc_listing
from pgflex_gui.postgres.restore import (
    RestoreProgress,
    build_pg_restore_argv,
    build_psql_argv,
)
from pgflex_gui.postgres.tools import (
    PgTool,
    ToolKind,
    best_client,
    candidate_dirs,
    install_hint,
    parse_version_output,
)

PG_RESTORE_17 = PgTool(Path("/opt/pg17/bin/pg_restore"), 17, 2, ToolKind.PG_RESTORE)
PSQL_17 = PgTool(Path("/opt/pg17/bin/psql"), 17, 2, ToolKind.PSQL)


def _restore(**overrides: object) -> list[str]:
    kwargs: dict[str, object] = {
        "archive": Path("/data/Database.sql"),
        "dbname": "shop",
        "host": "srv.postgres.database.azure.com",
        "port": 5432,
        "user": "myadmin",
        "fmt": DumpKind.CUSTOM,
        "jobs": 4,
    }
    kwargs.update(overrides)
    return build_pg_restore_argv(PG_RESTORE_17, **kwargs)  # type: ignore[arg-type]


def test_pg_restore_argv_defaults() -> None:
    assert _restore() == [
        "/opt/pg17/bin/pg_restore", "-h", "srv.postgres.database.azure.com", "-p", "5432",
        "-U", "myadmin", "-d", "shop", "-w", "-F", "c", "-j", "4", "--no-owner", "--verbose",
        "/data/Database.sql",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "archive", "parallel"),
    [
        (DumpKind.CUSTOM, "/x.dump", True),
        (DumpKind.DIRECTORY, "/x.dir", True),
        (DumpKind.TAR, "/x.tar", False),
        (DumpKind.CUSTOM, "-", False),
    ],
)
def test_jobs_only_for_file_or_directory_archives(
    fmt: DumpKind, archive: str, parallel: bool
) -> None:
    argv = _restore(fmt=fmt, archive=archive)
    assert ("-j" in argv) is parallel
    assert argv[-1] != "-"


def test_options() -> None:
    argv = _restore(no_owner=False, no_privileges=True, clean=True, exit_on_error=True,
                    verbose=False)  # fmt: skip
    assert "--no-owner" not in argv
    assert {"--no-privileges", "--clean", "--if-exists", "--exit-on-error"} <= set(argv)
    assert "--verbose" not in argv


def test_psql_argv() -> None:
    argv = build_psql_argv(
        PSQL_17, sql_file="/data/x.sql", dbname="shop", host="h", port=5432, user="u"
    )
    assert argv[:3] == ["/opt/pg17/bin/psql", "-X", "-w"]
    assert "ON_ERROR_STOP=0" in argv
    assert argv[-2:] == ["-f", "/data/x.sql"]


def test_argv_never_carries_a_password() -> None:
    # The builders have no password parameter at all.
    with pytest.raises(TypeError):
        build_pg_restore_argv(PG_RESTORE_17, archive="a", dbname="d", host="h", port=1,  # type: ignore[call-arg]
                              user="u", password="pw")  # fmt: skip
    assert not any("pass" in a.lower() for a in _restore())


SERIAL = [
    "pg_restore: connecting to database for restore",
    'pg_restore: creating EXTENSION "pg_trgm"',
    'pg_restore: creating TABLE "public.orders"',
    'pg_restore: processing data for table "public.orders"',
    "pg_restore: executing SEQUENCE SET orders_id_seq",
    "pg_restore: executing SELECT pg_catalog.set_config('search_path', '', false);",
    'pg_restore: creating CONSTRAINT "public.orders orders_pkey"',
]
PARALLEL = [
    "pg_restore: processing item 3400 ENCODING ENCODING",
    "pg_restore: processing item 2 EXTENSION pg_trgm",
    'pg_restore: creating EXTENSION "pg_trgm"',
    "pg_restore: processing item 216 TABLE orders",
    'pg_restore: creating TABLE "public.orders"',
    "pg_restore: entering main parallel loop",
    "pg_restore: launching item 3396 TABLE DATA orders",
    'pg_restore: processing data for table "public.orders"',
    "pg_restore: finished item 3396 TABLE DATA orders",
    "pg_restore: finished item 3407 SEQUENCE SET orders_id_seq",
    "pg_restore: finished item 3252 CONSTRAINT orders orders_pkey",
]
TOC = parse_toc_listing(
    "3400; 0 0 ENCODING - ENCODING \n"
    "2; 3079 16385 EXTENSION - pg_trgm \n"
    "216; 1259 16467 TABLE public orders postgres\n"
    "3396; 0 16467 TABLE DATA public orders postgres\n"
    "3407; 0 0 SEQUENCE SET public orders_id_seq postgres\n"
    "3252; 2606 16474 CONSTRAINT public orders orders_pkey postgres\n"
)


@pytest.mark.parametrize("lines", [SERIAL, PARALLEL], ids=["serial", "parallel"])
def test_progress_counts_each_item_once(lines: list[str]) -> None:
    progress = RestoreProgress.for_toc(TOC)
    assert progress.total == 5
    events = [e for line in lines if (e := progress.feed(line)) is not None]
    assert progress.done == 5
    assert events[-1].percent == 99.0
    data = next(e for e in events if e.desc == "TABLE DATA")
    assert data.name.endswith("orders")


def test_parse_version_output() -> None:
    assert parse_version_output("pg_restore (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)") == (
        15,
        18,
    )
    assert parse_version_output("psql (PostgreSQL) 18beta1") == (18, 0)
    assert parse_version_output("not postgres") is None


TOOLS = [
    PgTool(Path("/a/15/pg_restore"), 15, 8, ToolKind.PG_RESTORE),
    PgTool(Path("/a/16/pg_restore"), 16, 4, ToolKind.PG_RESTORE),
    PgTool(Path("/a/18/pg_restore"), 18, 1, ToolKind.PG_RESTORE),
    PgTool(Path("/a/18/psql"), 18, 1, ToolKind.PSQL),
]


def test_best_client_prefers_the_target_servers_major() -> None:
    assert best_client(ToolKind.PG_RESTORE, 12, tools=TOOLS).major == 18
    assert best_client(ToolKind.PG_RESTORE, 12, tools=TOOLS, server_major=16).major == 16
    assert best_client(ToolKind.PG_RESTORE, 16, tools=TOOLS, server_major=15).major == 16
    assert best_client(ToolKind.PG_RESTORE, 17, tools=TOOLS, server_major=17).major == 18


def test_best_client_explains_too_old_tools() -> None:
    with pytest.raises(AppError) as caught:
        best_client(
            ToolKind.PG_RESTORE,
            17,
            tools=TOOLS[:2],
            made_by="made by pg_dump 17, archive format 1.16",
            system="Darwin",
        )
    error = caught.value
    assert error.fault is Fault.USER
    assert str(error).startswith(
        "pg_restore 16 is too old for this backup (made by pg_dump 17, archive format 1.16). "
        "Install PostgreSQL 17 or newer client tools: brew install postgresql@17"
    )


def test_best_client_when_nothing_is_installed() -> None:
    with pytest.raises(AppError, match="pg_dump was not found"):
        best_client(ToolKind.PG_DUMP, 15, tools=TOOLS, system="Windows")


@pytest.mark.parametrize(("system", "word"), [("Windows", "installer"), ("Linux", "apt")])
def test_install_hints(system: str, word: str) -> None:
    assert word in install_hint(17, system)


def test_candidate_dirs_put_user_paths_first(tmp_path: Path) -> None:
    dirs = candidate_dirs([tmp_path], env_path="/nowhere", system="Linux")
    assert dirs[0] == tmp_path
    assert Path("/nowhere") in dirs
