"""Start Azurite (Blob) over HTTPS with a throwaway trustme CA, on a free port, in a tmp dir.

Self-contained on purpose (tests and ``benchmarks/download.py`` use it; it imports nothing
from the app). Usage::

    with AzuriteServer.start(tmp_path) as az:
        svc = az.service_client()          # BlobServiceClient, verifies with az.ca_path

    # or as a pytest fixture (session-scoped, fresh --location per session):
    azurite = azurite_fixture()

Flags follow recipes.md: ``--disableTelemetry`` (required: otherwise Azurite phones home),
``--skipApiVersionCheck`` (the SDK is newer than Azurite), ``--loose``, ``--silent``,
``--cert/--key`` for HTTPS.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme

__all__ = ["AZURITE_ACCOUNT", "AZURITE_KEY", "AzuriteServer", "azurite_fixture", "free_port"]

AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _azurite_bin() -> Path:
    env = os.environ.get("AZURITE_BLOB")
    if env:
        return Path(env)
    return _ROOT / "node_modules" / ".bin" / "azurite-blob"


@dataclass
class AzuriteServer:
    """A running Azurite Blob service. ``stop()`` (or leaving the ``with``) ends it."""

    proc: subprocess.Popen[bytes]
    workdir: Path
    host: str
    port: int
    ca_path: Path
    account: str = AZURITE_ACCOUNT
    key: str = AZURITE_KEY
    _own_workdir: bool = False

    @classmethod
    def start(cls, workdir: Path | None = None, *, timeout_s: float = 20.0) -> AzuriteServer:
        """Make a CA and a 127.0.0.1/localhost cert, start Azurite, wait until it accepts."""
        own = workdir is None
        workdir = Path(tempfile.mkdtemp(prefix="azurite-")) if workdir is None else workdir
        workdir.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ca_path = workdir / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        cert_path, key_path = workdir / "cert.pem", workdir / "key.pem"
        cert.cert_chain_pems[0].write_to_path(str(cert_path))
        cert.private_key_pem.write_to_path(str(key_path))
        data = workdir / "data"
        data.mkdir(exist_ok=True)
        binary = _azurite_bin()
        if not binary.exists():
            raise FileNotFoundError(f"Azurite not found at {binary} (npm install azurite)")
        port = free_port()
        argv = [
            str(binary),
            "--blobHost", "127.0.0.1",
            "--blobPort", str(port),
            "--location", str(data),
            "--silent", "--loose", "--skipApiVersionCheck", "--disableTelemetry",
            "--cert", str(cert_path),
            "--key", str(key_path),
        ]  # fmt: skip
        log = (workdir / "azurite.log").open("wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        log.close()
        server = cls(proc, workdir, "127.0.0.1", port, ca_path, _own_workdir=own)
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                text = (workdir / "azurite.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"Azurite exited with {proc.returncode}: {text}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                return server
            if time.monotonic() > deadline:
                server.stop()
                raise TimeoutError("Azurite did not start listening in time")
            time.sleep(0.05)

    @property
    def blob_endpoint(self) -> str:
        """``https://127.0.0.1:<port>/devstoreaccount1`` (path style)."""
        return f"https://{self.host}:{self.port}/{self.account}"

    @property
    def connection_string(self) -> str:
        """An account-key connection string for this server."""
        return (
            f"DefaultEndpointsProtocol=https;AccountName={self.account};AccountKey={self.key};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def service_client(self, **kwargs: Any) -> Any:
        """A ``BlobServiceClient`` with the account key, trusting this server's CA."""
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient(
            self.blob_endpoint,
            credential={"account_name": self.account, "account_key": self.key},
            connection_verify=str(self.ca_path),
            **kwargs,
        )

    def container_sas_url(self, container: str, *, hours: float = 2.0) -> str:
        """A read+list container SAS URL (incident mode)."""
        from datetime import UTC, datetime, timedelta

        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        sas = generate_container_sas(
            self.account,
            container,
            account_key=self.key,
            permission=ContainerSasPermissions(read=True, list=True),
            expiry=datetime.now(UTC) + timedelta(hours=hours),
        )
        return f"{self.blob_endpoint}/{container}?{sas}"

    def stop(self) -> None:
        """Terminate Azurite (then kill) and remove the tmp dir if we made it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> AzuriteServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def azurite_fixture(scope: str = "session") -> Callable[..., Any]:
    """A pytest fixture factory: ``azurite = azurite_fixture()`` in a test module/conftest."""
    import pytest

    @pytest.fixture(scope=scope)  # type: ignore[misc]
    def _azurite(tmp_path_factory: Any) -> Iterator[AzuriteServer]:
        server = AzuriteServer.start(tmp_path_factory.mktemp("azurite"))
        try:
            yield server
        finally:
            server.stop()

    return _azurite
