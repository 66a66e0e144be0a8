"""System databases in restored files, end to end on the sandbox's data plane.

The sandbox's restore-as-files writes files for azure_maintenance, azure_sys, postgres and
template1 beside the user databases, as a real run does. The engine (real ``LocalPgRunner``,
real PostgreSQL 15 clusters set up like flexible servers) must never restore the first three
and template1, and must restore ``postgres`` only on request, under a new name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JournalStore
from pgflex_gui.jobs.restore import LocalFolder, RestoreEngine, RestoreResult
from pgflex_gui.jobs.restore_adapters import LocalPgRunner
from pgflex_gui.jobs.restore_plan_file import ContainerSpec, RestorePlanFile, TargetSpec
from pgflex_gui.keystore import MemoryKeystore
from pgflex_gui.sandbox.dataplane import SYSTEM_DATABASE_FILES, LocalDataPlane
from pgflex_gui.sandbox.pgdata import SEED_DATABASES
from tests.sandbox_fixtures import restored_files_plane

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

ADMIN = "pgadmin"
PASSWORD = "Sys-db_test.Pass1"
ENTRY = "server-admin:system-db-target"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    d = tmp_path_factory.mktemp("sysdb")
    with restored_files_plane(d, admin=ADMIN, target_password=PASSWORD, prefix="dummyprefix") as w:
        yield w


def _run(world: dict[str, Any], job: str, **plan_kw: Any) -> RestoreResult:
    plane: LocalDataPlane = world["plane"]
    ep = plane.endpoint("dst")
    assert ep is not None
    plan = RestorePlanFile(
        container=ContainerSpec(local_dir=str(world["files"])),
        target=TargetSpec(mode="existing", host=ep.host, port=ep.port, admin_login=ADMIN,
                          password_entry=ENTRY, vcores=2),
        download_dir=str(world["tmp"] / f"dl-{job}"),
        **plan_kw,
    )  # fmt: skip
    journal = JournalStore(world["tmp"] / "journal").open_or_create(
        job_id=job, kind="restore", title=job
    )
    engine = RestoreEngine(
        plan,
        arm=None,
        downloader=LocalFolder(world["files"]),
        pg=LocalPgRunner(),
        secrets=MemoryKeystore({ENTRY: PASSWORD}),
    )
    return engine.run(JobContext(token=CancelToken(), journal=journal))


def test_restored_files_hold_the_system_databases_as_a_real_run(world: dict[str, Any]) -> None:
    dbs = {
        n.removeprefix("dummyprefix_database_").removesuffix(".sql")
        for n in world["names"]
        if "_database_" in n
    }
    assert dbs == {*SEED_DATABASES, *SYSTEM_DATABASE_FILES}
    for db in SYSTEM_DATABASE_FILES:
        head = (world["files"] / f"dummyprefix_database_{db}.sql").read_bytes()[:5]
        assert head == b"PGDMP", db


def test_system_databases_are_skipped_and_postgres_is_looked_into(world: dict[str, Any]) -> None:
    plane: LocalDataPlane = world["plane"]
    res = _run(world, "skip")
    assert res.ok, (res.notes, [(d.name, d.status, d.message) for d in res.databases])
    assert sorted(d.name for d in res.databases) == sorted(SEED_DATABASES)
    skipped = {d.source: d for d in res.system_databases}
    assert set(skipped) == set(SYSTEM_DATABASE_FILES)
    assert all(d.skipped for d in skipped.values())
    assert "every database created later" in skipped["template1"].reason
    for db in SYSTEM_DATABASE_FILES:
        assert any(n.startswith(f"{db} is not restored: ") for n in res.notes), res.notes
    # postgres holds the DBA's schema and table: the report says so and how to get them.
    assert res.postgres_user_objects is not None
    assert res.postgres_user_objects >= 2
    assert any("postgres_as" in n and "user object" in n for n in res.notes), res.notes
    # Nothing went into the target's own databases.
    for db in ("template1", "postgres", "azure_sys", "azure_maintenance"):
        tables = plane.psql("dst", "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN "
                                   "('pg_catalog', 'information_schema');", db=db)  # fmt: skip
        assert tables.strip() == "0", db
    assert "postgres_restored" not in dict(plane.list_databases("dst"))
    for db in SEED_DATABASES:
        assert plane.table_counts("dst", db) == plane.seeded_counts("src")[db]
        plane.psql("dst", f'DROP DATABASE "{db}" WITH (FORCE);')


def test_postgres_is_restored_on_request_under_a_new_name(world: dict[str, Any]) -> None:
    plane: LocalDataPlane = world["plane"]
    counts = plane.seeded_counts("src")
    res = _run(
        world,
        "postgres",
        databases=("postgres",),
        postgres_as="postgres_restored",
        source_counts={"postgres": counts["postgres"]},
    )
    assert res.ok, (res.notes, [(d.name, d.status, d.message) for d in res.databases])
    assert [d.name for d in res.databases] == ["postgres_restored"]
    assert [(d.source, d.target) for d in res.system_databases] == [
        ("postgres", "postgres_restored")
    ]
    assert any("postgres is restored into a new database postgres_restored" in n for n in res.notes)
    assert counts["postgres"] == {"dba_tools.runbook": 12}
    assert plane.table_counts("dst", "postgres_restored") == counts["postgres"]
    assert res.databases[0].row_counts == counts["postgres"]
    # The target's own postgres is untouched.
    assert plane.table_counts("dst", "postgres") == {}
    plane.psql("dst", "DROP DATABASE postgres_restored WITH (FORCE);")


def test_postgres_target_name_is_checked_by_the_plan(tmp_path: Path) -> None:
    from pgflex_gui.jobs.restore_plan_file import PlanError

    data = {"container": {"local_dir": str(tmp_path)},
            "target": {"mode": "existing", "host": "h"}, "postgres_as": "template1"}  # fmt: skip
    with pytest.raises(PlanError, match="postgres_as: template1 is a system database"):
        RestorePlanFile.from_json(data)
    ok = RestorePlanFile.from_json({**data, "postgres_as": "postgres_restored"})
    assert ok.postgres_as == "postgres_restored"
    assert RestorePlanFile.from_json(ok.to_json()) == ok
