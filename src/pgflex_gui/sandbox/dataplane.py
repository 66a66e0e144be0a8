"""The sandbox data plane: real PostgreSQL clusters, a vault store of pg_dump files, Azurite.

Layout under ``root``::

    servers/<dir>/server.json   key, major, port, admin login (no password)
    servers/<dir>/data/         the cluster (owned by postgres), servers/<dir>/server.log
    servers/<dir>/seed.json     row counts written by seed_source_databases
    vault/<rp>/manifest.json    what a recovery point holds (names, sizes, MD5s)
    vault/<rp>/database_<db>.dump, roles.sql, schemas.sql, tablespaces.sql
    azurite/, azurite-accounts.json, azurite.log

Blobs written by :meth:`LocalDataPlane.restore_as_files` (``P`` is the request's prefix)::

    P_database_<db>.sql     pg_dump custom archive (starts with PGDMP) despite ".sql"; also
                            for the server's own azure_maintenance, azure_sys, postgres and
                            template1, as a real run writes them
    P_roles.sql             pg_dumpall --roles-only --no-role-passwords (plain SQL)
    P_schemas.sql           pg_dumpall --schema-only of the covered databases (plain SQL)
    P_tablespaces.sql       pg_dumpall --tablespaces-only (plain SQL)
    P_restore_completed_<YYYYMMDDTHHMMSSZ>   marker uploaded last (small text/plain)

With an empty prefix the leading ``P_`` is dropped. Every blob carries Content-MD5.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from azure.core.exceptions import AzureError
from azure.storage.blob import BlobServiceClient, ContentSettings

from pgflex_gui.sandbox.azurite import DEFAULT_ACCOUNT, AzuriteServer
from pgflex_gui.sandbox.contract import (
    BackupResult,
    DataPlaneError,
    ServerEndpoint,
    StorageEndpoint,
)
from pgflex_gui.sandbox.pgcluster import (
    ADMIN_ROLE,
    SUPERUSER,
    PgCluster,
    as_server_user,
    bin_dir_for,
    clean_env,
    conninfo_dbname,
    external_pg_home,
    free_port,
    installed_majors,
    quote_ident,
    quote_literal,
    sweep_orphaned_external_homes,
    traversable_by_server_user,
)
from pgflex_gui.sandbox.pgdata import (
    AZURE_OWNED_DB,
    AZURE_OWNED_SQL,
    COUNTS_SQL,
    POSTGRES_USER_SQL,
    ROLES_SQL,
    SEED_DATABASES,
    parse_counts,
    seed_sql,
)

__all__ = ["SYSTEM_DATABASE_FILES", "LocalDataPlane", "installed_majors"]

_log = logging.getLogger(__name__)

SYSTEM_DATABASE_FILES = ("azure_maintenance", "azure_sys", "postgres", "template1")
"""The server's own databases whose files a real restore-as-files writes too."""

_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")
_PARAM = re.compile(r"^[a-z_][a-z0-9_.]*$")
_CHUNK = 8 * 1024 * 1024


def _dir_name(key: str) -> str:
    """A directory name for an arbitrary key (ARM ids contain slashes)."""
    if _SAFE.match(key) and key not in {".", ".."}:
        return key
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", key).strip("._")[-40:]
    return f"{readable}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def _md5_and_size(path: Path) -> tuple[str, int]:
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class LocalDataPlane:
    """Implements :class:`~pgflex_gui.sandbox.contract.DataPlane` on this machine.

    Methods block and are thread-safe; long operations on different servers run concurrently.
    """

    def __init__(
        self,
        root: Path,
        *,
        tls_cert: Path,
        tls_key: Path,
        ca_bundle: Path,
        ephemeral: bool = False,
    ) -> None:
        """Reattach servers found under ``root/servers`` (stopped); start nothing yet.

        ``ephemeral`` data planes (tests) delete every cluster's data on :meth:`close`,
        including data kept outside ``root`` when the server user cannot reach it.
        """
        self._ephemeral = ephemeral
        self._root = Path(root).resolve()
        self._root.mkdir(parents=True, exist_ok=True)
        (self._root / "servers").mkdir(exist_ok=True)
        (self._root / "vault").mkdir(exist_ok=True)
        self._ca_bundle = Path(ca_bundle)
        self._azurite = AzuriteServer(self._root, tls_cert=Path(tls_cert), tls_key=Path(tls_key))
        self._lock = threading.RLock()
        self._clusters: dict[str, PgCluster] = {}
        self._admins: dict[str, str] = {}  # key -> admin login
        self._busy: set[str] = set()
        self._closed = False
        atexit.register(self.close)
        sweep_orphaned_external_homes()
        self._reattach()

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start Azurite (idempotent)."""
        self._azurite.start()

    def close(self) -> None:
        """Stop every cluster and Azurite; idempotent, never raises."""
        with self._lock:
            clusters = list(self._clusters.values())
        for cluster in clusters:
            try:
                cluster.stop(mode="fast")
            except Exception:  # noqa: BLE001 - keep stopping the others
                _log.exception("Could not stop the cluster in %s", cluster.home)
                with contextlib.suppress(Exception):
                    cluster.stop(mode="immediate")
            if self._ephemeral:
                with contextlib.suppress(Exception):
                    cluster.remove()
        try:
            self._azurite.stop()
        except Exception:  # noqa: BLE001
            _log.exception("Could not stop Azurite")
        atexit.unregister(self.close)

    @property
    def root(self) -> Path:
        """The working directory of this data plane."""
        return self._root

    @property
    def blob_endpoint(self) -> str:
        """Azurite's base URL, ``https://127.0.0.1:PORT`` (accounts are path style)."""
        return self._azurite.base_url

    @property
    def connection_string(self) -> str:
        """Connection string of the default account (``devstoreaccount1``)."""
        key = self._azurite.accounts()[DEFAULT_ACCOUNT]
        return (
            f"DefaultEndpointsProtocol=https;AccountName={DEFAULT_ACCOUNT};AccountKey={key};"
            f"BlobEndpoint={self.blob_endpoint}/{DEFAULT_ACCOUNT};"
        )

    # ----------------------------------------------------------------- servers

    def create_server(
        self, key: str, *, version: str, admin_login: str, admin_password: str
    ) -> ServerEndpoint:
        """Start a new empty cluster set up like Azure's; DataPlaneError if the major is missing."""
        bin_dir = bin_dir_for(version)
        major = str(version).split(".")[0]
        if admin_login.lower() in {SUPERUSER, ADMIN_ROLE, "postgres", "azure_superuser"} or (
            admin_login.lower().startswith("pg_")
        ):
            raise DataPlaneError(
                "InvalidAdministratorLogin", f"The administrator login '{admin_login}' is reserved."
            )
        name = _dir_name(key)
        home = self._root / "servers" / name
        pg_home = (
            None if traversable_by_server_user(self._root) else external_pg_home(self._root, name)
        )
        with self._lock:
            if key in self._clusters:
                raise DataPlaneError("ServerAlreadyExists", f"Server '{key}' already exists.")
            cluster = PgCluster(
                home=home, major=major, port=free_port(), bin_dir=bin_dir, pg_home=pg_home
            )
            cluster.remove()
            self._clusters[key] = cluster
            self._admins[key] = admin_login
        try:
            cluster.initdb()
            cluster.start()
            cluster.setup_like_azure(admin_login, admin_password)
        except BaseException:
            with self._lock:
                self._clusters.pop(key, None)
                self._admins.pop(key, None)
            with contextlib.suppress(Exception):
                cluster.remove()
            raise
        self._save_meta(key)
        return ServerEndpoint("127.0.0.1", cluster.port, major)

    def delete_server(self, key: str) -> None:
        """Stop and remove a cluster; unknown keys are ignored."""
        with self._lock:
            cluster = self._clusters.pop(key, None)
            self._admins.pop(key, None)
        if cluster is None:
            return
        cluster.remove()

    def start_server(self, key: str) -> None:
        """Start a stopped cluster (idempotent); it may come back on another port."""
        cluster = self._cluster(key)
        cluster.start()
        self._save_meta(key)

    def stop_server(self, key: str) -> None:
        """Stop a cluster (idempotent)."""
        self._cluster(key).stop()

    def endpoint(self, key: str) -> ServerEndpoint | None:
        """Host, port and major of a known server (running or not); None if unknown."""
        with self._lock:
            cluster = self._clusters.get(key)
        if cluster is None:
            return None
        return ServerEndpoint("127.0.0.1", cluster.port, cluster.major)

    def is_running(self, key: str) -> bool:
        """Whether the server's postmaster is alive."""
        return self._cluster(key).is_running()

    def set_configuration(self, key: str, name: str, value: str) -> None:
        """ALTER SYSTEM + reload. Static parameters (shared_preload_libraries) need a restart."""
        cluster = self._running(key)
        name = name.strip().lower()
        if not _PARAM.match(name):
            raise DataPlaneError("ServerParameterNotFound", f"Unknown server parameter '{name}'.")
        if name == "azure.extensions":
            wanted = [v.strip().lower() for v in value.split(",") if v.strip()]
            available = set(cluster.psql("SELECT name FROM pg_available_extensions;").split())
            missing = [v for v in wanted if v not in available]
            if missing:
                raise DataPlaneError(
                    "InvalidParameterValue",
                    f"Invalid value given for parameter 'azure.extensions': "
                    f"{', '.join(missing)} not available. Allowed values: "
                    f"{', '.join(sorted(available))}.",
                )
            value = ",".join(wanted)
        elif name == "shared_preload_libraries":
            libdir = cluster.pkglib_dir()
            libs = [v.strip() for v in value.split(",") if v.strip()]
            missing = [lib for lib in libs if not (libdir / f"{lib}.so").exists()]
            if missing:
                raise DataPlaneError(
                    "InvalidParameterValue",
                    "Invalid value given for parameter 'shared_preload_libraries': "
                    f"{', '.join(missing)} not available.",
                )
            value = ",".join(libs)
        cluster.psql(
            f"ALTER SYSTEM SET {name} = {quote_literal(value)};\nSELECT pg_reload_conf();\n",
            code="InvalidParameterValue",
        )

    def get_configuration(self, key: str, name: str) -> str:
        """The value a new session sees (``SHOW name``)."""
        cluster = self._running(key)
        if not _PARAM.match(name.strip().lower()):
            raise DataPlaneError("ServerParameterNotFound", f"Unknown server parameter '{name}'.")
        return cluster.psql(f"SHOW {name.strip().lower()};", code="ServerParameterNotFound").strip()

    def list_databases(self, key: str) -> list[tuple[str, str]]:
        """(database, owner) pairs, templates excluded, for the ARM databases listing."""
        out = self._running(key).psql(
            "SELECT datname, pg_get_userbyid(datdba) FROM pg_database "
            "WHERE NOT datistemplate ORDER BY datname;"
        )
        pairs: list[tuple[str, str]] = []
        for line in out.splitlines():
            if "|" in line:
                name, owner = line.rsplit("|", 1)
                pairs.append((name, owner))
        return pairs

    def table_counts(self, key: str, db: str) -> dict[str, int]:
        """Exact row counts of the user tables of ``db`` (``schema.table`` → rows)."""
        return parse_counts(self._running(key).psql(COUNTS_SQL, db=db))

    def psql(self, key: str, sql: str, *, db: str = "postgres") -> str:
        """Run SQL as azuresu over the socket (tests and tooling; not part of DataPlane)."""
        return self._running(key).psql(sql, db=db)

    # ----------------------------------------------------------------- seed data

    def seed_source_databases(self, key: str, scale: int = 1) -> None:
        """Create sales, inventory, hr, analytics (owned by the admin) and azure_owned_db.

        The admin also leaves a schema with a table in ``postgres`` (POSTGRES_USER_SQL), as
        DBAs do, so that restores meet a ``postgres`` file holding user objects.

        Extensions pgcrypto/hstore are allow-listed and created where installed. Row counts
        are written to ``servers/<dir>/seed.json`` (see :meth:`seeded_counts`).
        """
        cluster = self._running(key)
        admin = self._admins[key]
        available = set(cluster.psql("SELECT name FROM pg_available_extensions;").split())
        exts = frozenset({"pgcrypto", "hstore"} & available)
        current = {
            v.strip()
            for v in self.get_configuration(key, "azure.extensions").split(",")
            if v.strip()
        }
        self.set_configuration(key, "azure.extensions", ",".join(sorted(current | exts)))
        # As the admin (SET ROLE from azuresu): objects are owned by the admin, as on Azure.
        as_admin = f"SET ROLE {quote_ident(admin)};\n"
        cluster.psql(as_admin + ROLES_SQL)
        for db in SEED_DATABASES:
            cluster.psql(as_admin + f"CREATE DATABASE {quote_ident(db)};")

        def fill(db: str) -> None:
            cluster.psql(as_admin + seed_sql(db, scale=scale, extensions=exts), db=db)

        with (
            self.fast_writes(key),
            ThreadPoolExecutor(max_workers=2, thread_name_prefix="pgflex-seed") as pool,
        ):
            list(pool.map(fill, SEED_DATABASES))
        cluster.psql(f"CREATE DATABASE {AZURE_OWNED_DB} OWNER {ADMIN_ROLE};")
        cluster.psql(f"SET ROLE {ADMIN_ROLE};\n" + AZURE_OWNED_SQL, db=AZURE_OWNED_DB)
        cluster.psql(f"GRANT CREATE ON DATABASE postgres TO {ADMIN_ROLE};")
        cluster.psql(as_admin + POSTGRES_USER_SQL)
        counts = {
            db: self.table_counts(key, db) for db in (*SEED_DATABASES, AZURE_OWNED_DB, "postgres")
        }
        (cluster.home / "seed.json").write_text(json.dumps(counts, indent=1))

    @contextlib.contextmanager
    def fast_writes(self, key: str) -> Iterator[None]:
        """Seeding only: fsync, full_page_writes and synchronous_commit off for a while.

        Every cluster runs durable, as a flexible server does (``pgcluster._CONF_EXTRA``);
        loading the seed data is the one place where that is not worth its cost. On the way
        out the settings are reset, a CHECKPOINT is taken and the OS cache is synced, so
        what was written without fsync is on disk before anyone restores or dumps it.
        """
        cluster = self._running(key)
        names = ("fsync", "full_page_writes", "synchronous_commit")
        cluster.psql("".join(f"ALTER SYSTEM SET {n} = off;\n" for n in names)
                     + "SELECT pg_reload_conf();\n")  # fmt: skip
        try:
            yield
        finally:
            cluster.psql("".join(f"ALTER SYSTEM RESET {n};\n" for n in names)
                         + "SELECT pg_reload_conf();\n")  # fmt: skip
            cluster.psql("CHECKPOINT;")
            os.sync()

    def seeded_counts(self, key: str) -> dict[str, dict[str, int]]:
        """Row counts recorded by the last seed: database → ``schema.table`` → rows."""
        path = self._cluster(key).home / "seed.json"
        if not path.exists():
            return {}
        counts: dict[str, dict[str, int]] = json.loads(path.read_text())
        return counts

    # ----------------------------------------------------------------- backup

    def backup(self, key: str, recovery_point_id: str) -> BackupResult:
        """pg_dump -Fc each covered database plus globals dumps into the vault store."""
        cluster = self._cluster(key)
        if not cluster.is_running():
            raise DataPlaneError(
                "ServerNotReadyForLongTermBackup",
                "The server is not in the Ready state; start it and retry the backup.",
            )
        with self._lock:
            if key in self._busy:
                raise DataPlaneError(
                    "UserErrorMaxConcurrentOperationLimitReached",
                    "Another backup of this server is in progress.",
                )
            self._busy.add(key)
        try:
            return self._backup(key, cluster, recovery_point_id)
        finally:
            with self._lock:
                self._busy.discard(key)

    def _backup(self, key: str, cluster: PgCluster, rp_id: str) -> BackupResult:
        out = cluster.psql(
            "SELECT d.datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
            f"WHERE NOT d.datistemplate AND d.datallowconn "
            f"AND r.rolname NOT IN ({quote_literal(SUPERUSER)}, {quote_literal(ADMIN_ROLE)}) "
            "ORDER BY 1;"
        )
        databases = [line for line in out.split("\n") if line]
        excluded = [
            line
            for line in cluster.psql(
                "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1;"
            ).split("\n")
            if line and line not in databases
        ]
        # A real restore-as-files also holds files of the server's own databases (azure-facts
        # §6, a public write-up of a real run): azure_maintenance, azure_sys, postgres and
        # template1. They are dumped too, marked "system", and are not in ``databases``.
        system = [
            line
            for line in cluster.psql(
                "SELECT datname FROM pg_database WHERE datallowconn AND datname IN "
                f"({', '.join(quote_literal(d) for d in SYSTEM_DATABASE_FILES)}) ORDER BY 1;"
            ).split("\n")
            if line
        ]
        final = self._rp_dir(rp_id)
        work = final.with_name(final.name + ".partial")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        conn = cluster.conn_args()
        jobs: list[tuple[str, str, str, list[str]]] = []  # (kind, db, file, argv)
        used: set[str] = set()
        for db in [*databases, *system]:
            stem = _dir_name(db)
            while stem in used:
                stem += "_"
            used.add(stem)
            file = f"database_{stem}.dump"
            argv = [cluster.tool("pg_dump"), *conn, "-Fc", "-Z", "1", "-f", str(work / file),
                    "-d", conninfo_dbname(db)]  # fmt: skip
            jobs.append(("database", db, file, argv))
        dumpall = [cluster.tool("pg_dumpall"), *conn, "--no-role-passwords"]
        jobs.append(
            ("roles", "", "roles.sql", [*dumpall, "--roles-only", "-f", str(work / "roles.sql")])
        )
        schema_argv = [*dumpall, "--schema-only", "-f", str(work / "schemas.sql")]
        for db in excluded:
            schema_argv += ["--exclude-database", quote_ident(db)]
        jobs.append(("schemas", "", "schemas.sql", schema_argv))
        ts_argv = [*dumpall, "--tablespaces-only", "-f", str(work / "tablespaces.sql")]
        jobs.append(("tablespaces", "", "tablespaces.sql", ts_argv))

        def run(job: tuple[str, str, str, list[str]]) -> dict[str, object]:
            kind, db, file, argv = job
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=3600, check=False,
                env=clean_env(PGAPPNAME="azure-backup"),
            )  # fmt: skip
            if proc.returncode != 0:
                raise DataPlaneError(
                    "PostgreSQLFlexOperationFailedUserError",
                    f"{Path(argv[0]).name} failed for {db or kind}: {proc.stderr.strip()[-1500:]}",
                )
            md5, size = _md5_and_size(work / file)
            entry: dict[str, object] = {"kind": kind, "file": file, "size": size, "md5": md5}
            if db:
                entry["database"] = db
            if db in system:
                entry["system"] = True
            return entry

        try:
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="pgflex-dump") as pool:
                entries = list(pool.map(run, jobs))
            manifest = {
                "recovery_point_id": rp_id,
                "server_key": key,
                "server_version": cluster.major,
                "created": dt.datetime.now(dt.UTC).isoformat(),
                "databases": databases,
                "excluded_databases": excluded,
                "system_databases": system,
                "files": entries,
            }
            (work / "manifest.json").write_text(json.dumps(manifest, indent=1))
            shutil.rmtree(final, ignore_errors=True)
            work.rename(final)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return BackupResult(
            recovery_point_id=rp_id,
            databases=tuple(databases),
            size_bytes=sum(int(str(e["size"])) for e in entries),
            files=tuple(str(e["file"]) for e in entries),
        )

    def delete_recovery_point(self, recovery_point_id: str) -> None:
        """Remove a recovery point's files; unknown ids are ignored."""
        shutil.rmtree(self._rp_dir(recovery_point_id), ignore_errors=True)

    def recovery_point_manifest(self, recovery_point_id: str) -> dict[str, Any]:
        """The manifest of a recovery point (databases, files, sizes, MD5s)."""
        path = self._rp_dir(recovery_point_id) / "manifest.json"
        if not path.exists():
            raise DataPlaneError(
                "RecoveryPointNotFound", f"Recovery point '{recovery_point_id}' was not found."
            )
        manifest: dict[str, Any] = json.loads(path.read_text())
        return manifest

    # ----------------------------------------------------------------- storage

    def create_storage_account(self, account: str) -> StorageEndpoint:
        """Provision an Azurite account (idempotent); restarts Azurite if it is running."""
        key = self._azurite.add_account(account)
        return self.storage_endpoint(account, key=key)

    def storage_endpoint(self, account: str, *, key: str | None = None) -> StorageEndpoint:
        """Endpoint and key of an existing account."""
        if key is None:
            keys = self._azurite.accounts()
            if account not in keys:
                raise DataPlaneError(
                    "StorageAccountNotFound", f"The storage account '{account}' was not found."
                )
            key = keys[account]
        return StorageEndpoint(account, f"{self.blob_endpoint}/{account}/", key)

    def blob_service(self, account: str) -> BlobServiceClient:
        """A BlobServiceClient for ``account`` (shared key, HTTPS verified with the CA)."""
        endpoint = self.storage_endpoint(account)
        return BlobServiceClient(
            account_url=endpoint.blob_endpoint.rstrip("/"),
            credential={"account_name": account, "account_key": endpoint.key},
            connection_verify=str(self._ca_bundle),
            max_single_put_size=_CHUNK,
            max_block_size=_CHUNK,
        )

    def restore_as_files(
        self, recovery_point_id: str, *, account: str, container: str, prefix: str
    ) -> list[str]:
        """Copy a recovery point's files into an existing Azurite container; return blob names.

        Fails (before uploading anything) if the container is missing or a blob exists.
        """
        manifest = self.recovery_point_manifest(recovery_point_id)
        rp_dir = self._rp_dir(recovery_point_id)
        if not self._azurite.has_account(account):
            raise DataPlaneError(
                "UserErrorStorageAccountNotFound", f"The storage account '{account}' was not found."
            )
        lead = f"{prefix}_" if prefix else ""
        plan: list[tuple[str, dict[str, Any]]] = []
        for entry in manifest["files"]:
            kind = entry["kind"]
            name = (
                f"{lead}database_{entry['database']}.sql"
                if kind == "database"
                else (f"{lead}{kind}.sql")
            )
            plan.append((name, entry))
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        marker = f"{lead}restore_completed_{stamp}"
        try:
            service = self.blob_service(account)
            container_client = service.get_container_client(container)
            if not container_client.exists():
                raise DataPlaneError(
                    "UserErrorStorageContainerNotFound",
                    f"The container '{container}' does not exist in storage account "
                    f"'{account}'. Create it before restoring.",
                )
            clash = [n for n, _ in plan if container_client.get_blob_client(n).exists()]
            if clash:
                raise DataPlaneError(
                    "UserErrorRestoreTargetFileAlreadyExists",
                    f"Blobs already exist in container '{container}': {', '.join(clash)}.",
                )
            for name, entry in plan:
                with (rp_dir / str(entry["file"])).open("rb") as data:
                    container_client.upload_blob(
                        name,
                        data,
                        overwrite=False,
                        max_concurrency=4,
                        content_settings=ContentSettings(
                            content_type="application/octet-stream",
                            content_md5=bytearray(bytes.fromhex(str(entry["md5"]))),
                        ),
                    )
            body = (
                f"Restore of recovery point {recovery_point_id} completed at {stamp}.\n"
                f"Databases: {', '.join(manifest['databases'])}\n"
            ).encode()
            container_client.upload_blob(
                marker,
                body,
                overwrite=True,
                content_settings=ContentSettings(
                    content_type="text/plain",
                    content_md5=bytearray(hashlib.md5(body, usedforsecurity=False).digest()),
                ),
            )
        except AzureError as exc:
            raise DataPlaneError(
                "UserErrorRestoreFailed", f"Writing to storage failed: {exc}"
            ) from exc
        return [*(n for n, _ in plan), marker]

    # ----------------------------------------------------------------- internals

    def _rp_dir(self, rp_id: str) -> Path:
        return self._root / "vault" / _dir_name(rp_id)

    def _cluster(self, key: str) -> PgCluster:
        with self._lock:
            cluster = self._clusters.get(key)
        if cluster is None:
            raise DataPlaneError("ServerNotFound", f"Server '{key}' was not found.")
        return cluster

    def _running(self, key: str) -> PgCluster:
        cluster = self._cluster(key)
        if not cluster.is_running():
            raise DataPlaneError("ServerIsNotReady", f"Server '{key}' is stopped.")
        return cluster

    def _save_meta(self, key: str) -> None:
        cluster = self._cluster(key)
        meta = {"key": key, "major": cluster.major, "port": cluster.port,
                "admin_login": self._admins.get(key, ""),
                "pg_home": str(cluster.pg_home) if cluster.pg_home else None}  # fmt: skip
        (cluster.home / "server.json").write_text(json.dumps(meta, indent=1))

    def _reattach(self) -> None:
        for meta_file in sorted((self._root / "servers").glob("*/server.json")):
            try:
                meta = json.loads(meta_file.read_text())
                bin_dir = bin_dir_for(str(meta["major"]))
            except (OSError, ValueError, KeyError, DataPlaneError):
                _log.warning("Ignoring unusable server directory %s", meta_file.parent)
                continue
            cluster = PgCluster(
                home=meta_file.parent, major=str(meta["major"]), port=int(meta["port"]),
                bin_dir=bin_dir, pg_home=Path(meta["pg_home"]) if meta.get("pg_home") else None,
            )  # fmt: skip
            if cluster.is_running():  # left over by a process that died: stop it
                # Its socket folder (line 5 of postmaster.pid) died with that process's state.
                with contextlib.suppress(OSError, IndexError):
                    sock = Path((cluster.data_dir / "postmaster.pid").read_text().split("\n")[4])
                    if sock.name.startswith("pgfx-"):
                        cluster.sock_dir = sock
                with contextlib.suppress(DataPlaneError):
                    subprocess.run(
                        as_server_user([cluster.tool("pg_ctl"), "-D", str(cluster.data_dir),
                                        "-m", "immediate", "-w", "stop"]),
                        capture_output=True, timeout=60, check=False,
                    )  # fmt: skip
                if cluster.sock_dir is not None:
                    shutil.rmtree(cluster.sock_dir, ignore_errors=True)
                    cluster.sock_dir = None
            self._clusters[str(meta["key"])] = cluster
            self._admins[str(meta["key"])] = str(meta.get("admin_login", ""))
