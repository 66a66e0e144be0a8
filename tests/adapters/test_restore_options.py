"""pgAdmin's restore options, end to end: real archives, real pg_restore, real PostgreSQL.

Schema only restores the tables without rows; "only" restores the named tables and nothing
else; the checks expect just what the options restore, so the run still reads succeeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pgflex_gui.domain.restore_options import RestoreOptions
from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JournalStore
from pgflex_gui.jobs.restore import LocalFolder, RestoreEngine, RestoreResult
from pgflex_gui.jobs.restore_adapters import LocalPgRunner
from pgflex_gui.jobs.restore_plan_file import ContainerSpec, RestorePlanFile, TargetSpec
from pgflex_gui.keystore import MemoryKeystore
from pgflex_gui.sandbox.dataplane import LocalDataPlane
from tests.sandbox_fixtures import restored_files_plane

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

ADMIN = "pgadmin"
PASSWORD = "Options_test.Pass1"
ENTRY = "server-admin:options-target"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    d = tmp_path_factory.mktemp("options")
    with restored_files_plane(d, admin=ADMIN, target_password=PASSWORD, prefix="opt") as w:
        yield w


def _run(world: dict[str, Any], job: str, db: str, options: RestoreOptions) -> RestoreResult:
    plane: LocalDataPlane = world["plane"]
    ep = plane.endpoint("dst")
    assert ep is not None
    plan = RestorePlanFile(
        container=ContainerSpec(local_dir=str(world["files"])),
        target=TargetSpec(mode="existing", host=ep.host, port=ep.port, admin_login=ADMIN,
                          password_entry=ENTRY, vcores=2),
        databases=(db,),
        source_counts={db: plane.seeded_counts("src")[db]},
        download_dir=str(world["tmp"] / f"dl-{job}"),
        options=options,
    )  # fmt: skip
    assert RestorePlanFile.from_json(plan.to_json()) == plan  # the plan file carries them
    journal = JournalStore(world["tmp"] / "journal").open_or_create(
        job_id=job, kind="restore", title=job
    )
    engine = RestoreEngine(plan, arm=None, downloader=LocalFolder(world["files"]),
                           pg=LocalPgRunner(), secrets=MemoryKeystore({ENTRY: PASSWORD}))  # fmt: skip
    return engine.run(JobContext(token=CancelToken(), journal=journal))


def _tables(plane: LocalDataPlane, db: str) -> set[str]:
    out = plane.psql("dst", "SELECT schemaname || '.' || tablename FROM pg_tables WHERE "
                            "schemaname NOT IN ('pg_catalog', 'information_schema');", db=db)  # fmt: skip
    return {line.strip() for line in out.splitlines() if line.strip()}


def test_schema_only_makes_the_tables_without_rows(world: dict[str, Any]) -> None:
    plane: LocalDataPlane = world["plane"]
    source = plane.seeded_counts("src")["sales"]
    res = _run(world, "schema-only", "sales", RestoreOptions(schema_only=True))
    assert res.ok, (res.notes, [(d.name, d.status, d.message) for d in res.databases])
    assert _tables(plane, "sales") == set(source)
    assert set(plane.table_counts("dst", "sales").values()) == {0}
    assert "Restore options: schema only (no rows)." in res.notes  # in the report
    plane.psql("dst", 'DROP DATABASE "sales" WITH (FORCE);')


def test_only_the_named_table_is_restored_and_checked(world: dict[str, Any]) -> None:
    plane: LocalDataPlane = world["plane"]
    source = plane.seeded_counts("src")["sales"]
    assert len(source) >= 2
    chosen = sorted(source)[0]
    res = _run(world, "one-table", "sales",
               RestoreOptions(no_owner=True, objects={"sales": (chosen,)}))  # fmt: skip
    assert res.ok, (res.notes, [(d.name, d.status, d.message) for d in res.databases])
    assert _tables(plane, "sales") == {chosen}
    assert plane.table_counts("dst", "sales") == {chosen: source[chosen]}
    db = res.databases[0]
    assert db.row_counts == {chosen: source[chosen]}
    plane.psql("dst", 'DROP DATABASE "sales" WITH (FORCE);')
