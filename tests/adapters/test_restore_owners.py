"""Roles, then owners: restores keep owners and grants on PostgreSQL 15 and 18 targets.

Real clusters set up like flexible servers (the admin login is CREATEROLE but not superuser).
The source's objects belong to a role the admin is no longer a member of, so a plain
``pg_restore`` into a PostgreSQL 15 target fails with ``must be member of role`` (16+: ``must
be able to SET ROLE``). The engine grants the admin membership first, verifies each owner
afterwards, and falls back to ``--no-owner`` (grants kept) for a database whose owner it can't
become: here a table owned by the superuser ``azuresu``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JournalStore
from pgflex_gui.jobs.restore import LocalFolder, RestoreEngine, RestoreResult
from pgflex_gui.jobs.restore_adapters import LocalPgRunner
from pgflex_gui.jobs.restore_plan_file import ContainerSpec, RestorePlanFile, TargetSpec
from pgflex_gui.keystore import MemoryKeystore
from pgflex_gui.sandbox.dataplane import LocalDataPlane

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

ADMIN = "pgadmin"
PASSWORD = "Owner-test.Pass1"
ENTRY = "server-admin:owners-target"

SOURCE_ROLES = """
SET ROLE pgadmin;
CREATE ROLE ledger_owner NOLOGIN;
CREATE ROLE ledger_reader NOLOGIN;
CREATE ROLE ledger_clerk LOGIN;
GRANT ledger_owner TO pgadmin;
CREATE DATABASE ledger;
CREATE DATABASE vendor;
"""
LEDGER = """
SET ROLE pgadmin;
CREATE SCHEMA books AUTHORIZATION ledger_owner;
CREATE TABLE books.entries (id int PRIMARY KEY, amount numeric NOT NULL);
INSERT INTO books.entries SELECT g, g % 10 FROM generate_series(1, 300) g;
CREATE SEQUENCE books.entry_no;
CREATE VIEW books.big AS SELECT * FROM books.entries WHERE amount > 5;
CREATE FUNCTION books.total() RETURNS numeric LANGUAGE sql AS 'SELECT sum(amount) FROM books.entries';
ALTER TABLE books.entries OWNER TO ledger_owner;
ALTER SEQUENCE books.entry_no OWNER TO ledger_owner;
ALTER VIEW books.big OWNER TO ledger_owner;
ALTER FUNCTION books.total() OWNER TO ledger_owner;
CREATE TABLE public.notes (id int PRIMARY KEY, body text);
INSERT INTO public.notes VALUES (1, 'kept by the admin');
GRANT USAGE ON SCHEMA books TO ledger_reader, ledger_clerk;
GRANT SELECT ON books.entries, books.big TO ledger_reader;
GRANT INSERT ON books.entries TO ledger_clerk;
GRANT SELECT ON public.notes TO ledger_reader;
RESET ROLE;
SET ROLE pgadmin;
REVOKE ledger_owner FROM pgadmin;
"""
VENDOR = """
CREATE TABLE public.vendor_items (id int PRIMARY KEY, name text);
INSERT INTO public.vendor_items SELECT g, 'item ' || g FROM generate_series(1, 40) g;
GRANT SELECT ON public.vendor_items TO ledger_reader;
"""
OWNERS_AND_ACLS = """
SELECT 'schema ' || nspname, pg_get_userbyid(nspowner), coalesce(nspacl::text, '')
  FROM pg_namespace WHERE nspname IN ('books')
UNION ALL
SELECT 'rel ' || n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner),
       coalesce(c.relacl::text, '')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('books', 'public') AND c.relkind IN ('r', 'v', 'S')
UNION ALL
SELECT 'fn ' || p.proname, pg_get_userbyid(p.proowner), coalesce(p.proacl::text, '')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'books'
ORDER BY 1;
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    d = tmp_path_factory.mktemp("owners")
    tls = {k: d / f"{k}.pem" for k in ("tls_cert", "tls_key", "ca_bundle")}  # Azurite unused
    plane = LocalDataPlane(d / "plane", **tls, ephemeral=True)
    try:
        plane.create_server("src", version="15", admin_login=ADMIN, admin_password="Src.Pass-1")
        plane.psql("src", SOURCE_ROLES)
        plane.psql("src", "ALTER DATABASE ledger OWNER TO pgadmin;")
        plane.psql("src", "ALTER DATABASE vendor OWNER TO pgadmin;")
        plane.psql("src", LEDGER, db="ledger")
        plane.psql("src", VENDOR, db="vendor")  # as azuresu: a superuser's table
        result = plane.backup("src", "rp-owners")
        assert set(result.databases) == {"ledger", "vendor"}
        rp = plane.root / "vault" / "rp-owners"
        files = d / "files"
        files.mkdir()
        for db in ("ledger", "vendor", "postgres", "template1"):
            shutil.copy(rp / f"database_{db}.dump", files / f"dummyprefix_database_{db}.sql")
        shutil.copy(rp / "roles.sql", files / "dummyprefix_roles.sql")
        for major in ("15", "18"):
            plane.create_server(
                f"dst{major}", version=major, admin_login=ADMIN, admin_password=PASSWORD
            )
        yield {"plane": plane, "files": files, "tmp": d}
    finally:
        plane.close()


def _run(world: dict[str, Any], key: str, **plan_kw: Any) -> RestoreResult:
    plane: LocalDataPlane = world["plane"]
    ep = plane.endpoint(key)
    assert ep is not None
    plan = RestorePlanFile(
        container=ContainerSpec(local_dir=str(world["files"])),
        target=TargetSpec(mode="existing", host=ep.host, port=ep.port, admin_login=ADMIN,
                          password_entry=ENTRY, vcores=2),
        download_dir=str(world["tmp"] / f"dl-{key}"),
        roles=True,
        source_counts={db: plane.table_counts("src", db) for db in ("ledger", "vendor")},
        **plan_kw,
    )  # fmt: skip
    journal = JournalStore(world["tmp"] / "journal").open_or_create(
        job_id=key, kind="restore", title=key
    )
    engine = RestoreEngine(
        plan, arm=None, downloader=LocalFolder(world["files"]), pg=LocalPgRunner(),
        secrets=MemoryKeystore({ENTRY: PASSWORD}),
    )  # fmt: skip
    return engine.run(JobContext(token=CancelToken(), journal=journal))


def _rows(plane: LocalDataPlane, key: str, db: str) -> list[str]:
    return plane.psql(key, OWNERS_AND_ACLS, db=db).splitlines()


@pytest.mark.parametrize(("major", "revoke"), [("15", False), ("18", True)])
def test_owners_and_grants_equal_the_source(world: dict[str, Any], major: str, revoke: bool) -> None:  # fmt: skip
    plane: LocalDataPlane = world["plane"]
    key = f"dst{major}"
    res = _run(world, key, revoke_owner_grants=revoke)
    by_name = {d.name: d for d in res.databases}
    assert set(by_name) == {"ledger", "vendor"}
    assert res.ok, (res.notes, [(d.name, d.status, d.message, d.owner_mismatches)
                                for d in res.databases])  # fmt: skip
    # ledger: every owner and every grant as on the source.
    ledger = by_name["ledger"]
    assert ledger.owners == "kept"
    assert ledger.owner_mismatches == []
    source = _rows(plane, "src", "ledger")
    assert any("|ledger_owner|" in r for r in source)
    assert any("ledger_reader=r/ledger_owner" in r for r in source)
    restored = _rows(plane, key, "ledger")
    if major >= "17":  # PostgreSQL 17 added MAINTAIN (m): an owner holds it by default there
        restored = [r.replace("=arwdDxtm/", "=arwdDxt/") for r in restored]
    assert restored == source
    assert any(f"admin {ADMIN} was made a member of ledger_owner" in n for n in res.notes)
    # vendor: its table belongs to the superuser, which the admin can never become.
    vendor = by_name["vendor"]
    assert vendor.owners == "no-owner"
    assert any(
        n.startswith("vendor was restored with --no-owner") and "azuresu" in n for n in res.notes
    ), res.notes
    [row] = _rows(plane, key, "vendor")
    assert row.startswith(f"rel public.vendor_items|{ADMIN}|")
    assert "ledger_reader=r/" in row  # grants kept: the roles were restored
    # Membership afterwards: revoked only on request.
    # (16+: the creator keeps an ADMIN-only membership; what ALTER OWNER needs is SET.)
    option = "SET" if major >= "16" else "MEMBER"
    member = plane.psql(key, f"SELECT pg_has_role('pgadmin', 'ledger_owner', '{option}');")
    member = member.strip()
    assert member == ("f" if revoke else "t")
    if revoke:
        assert any("were revoked after the restore" in n for n in res.notes)


def test_a_plain_pg_restore_into_pg15_fails_without_the_membership(world: dict[str, Any]) -> None:
    """The failure the engine avoids, shown on the PG 15 target with the same files."""
    import os
    import subprocess

    from pgflex_gui.sandbox.pgcluster import installed_majors

    plane: LocalDataPlane = world["plane"]
    ep = plane.endpoint("dst15")
    assert ep is not None
    # The roles as a restore with roles creates them (whether or not that test ran first),
    # but the admin not a member of them.
    for role in ("ledger_owner", "ledger_reader"):
        plane.psql("dst15", f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                            f"'{role}') THEN CREATE ROLE {role} NOLOGIN; END IF; END $$;")  # fmt: skip
    plane.psql("dst15", "REVOKE ledger_owner FROM pgadmin;")
    plane.psql("dst15", "CREATE DATABASE plain_try OWNER pgadmin;")
    try:
        proc = subprocess.run(
            [str(installed_majors()["15"] / "pg_restore"), "-h", ep.host, "-p", str(ep.port),
             "-U", ADMIN, "-d", "plain_try", str(world["files"] / "dummyprefix_database_ledger.sql")],
            capture_output=True, text=True, check=False, timeout=120,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("PG")},
                 "PGPASSWORD": PASSWORD},
        )  # fmt: skip
        assert proc.returncode != 0
        assert 'must be member of role "ledger_owner"' in proc.stderr
    finally:
        plane.psql("dst15", "DROP DATABASE plain_try WITH (FORCE);")
