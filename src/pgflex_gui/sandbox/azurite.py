"""Azurite (Blob only) over HTTPS with named storage accounts whose keys survive restarts.

Azurite reads its accounts from ``AZURITE_ACCOUNTS`` once at start, so adding an account
restarts the node process on the same port; ``--location`` keeps the data.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from pgflex_gui.sandbox.contract import DataPlaneError
from pgflex_gui.sandbox.pgcluster import free_port

__all__ = ["DEFAULT_ACCOUNT", "AzuriteServer", "find_azurite"]

_log = logging.getLogger(__name__)

DEFAULT_ACCOUNT = "devstoreaccount1"
_ACCOUNT_RE = re.compile(r"^[a-z0-9]{3,24}$")


def find_azurite() -> Path:
    """The ``azurite-blob`` launcher: $PGFLEX_AZURITE, else node_modules/.bin upwards of here."""
    env = os.environ.get("PGFLEX_AZURITE")
    if env:
        return Path(env)
    for parent in [Path.cwd(), *Path(__file__).resolve().parents]:
        candidate = parent / "node_modules" / ".bin" / "azurite-blob"
        if candidate.exists():
            return candidate
    raise DataPlaneError(
        "InternalServerError", "azurite-blob not found (npm install, or set PGFLEX_AZURITE)."
    )


class AzuriteServer:
    """One ``azurite-blob`` process on 127.0.0.1 with TLS from the sandbox CA."""

    def __init__(self, root: Path, *, tls_cert: Path, tls_key: Path) -> None:
        """Keep data in ``root/azurite`` and account keys in ``root/azurite-accounts.json``."""
        self._root = root
        self._location = root / "azurite"
        self._keys_file = root / "azurite-accounts.json"
        self._pid_file = root / "azurite.pid"
        self._tls_cert = tls_cert
        self._tls_key = tls_key
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._accounts: dict[str, str] = self._load_keys()
        if DEFAULT_ACCOUNT not in self._accounts:
            self._accounts[DEFAULT_ACCOUNT] = _new_key()
            self._save_keys()

    @property
    def port(self) -> int:
        """The HTTPS port (chosen at first start)."""
        if self._port is None:
            raise DataPlaneError("InternalServerError", "Azurite has not been started.")
        return self._port

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT`` (accounts are path style below it)."""
        return f"https://127.0.0.1:{self.port}"

    def accounts(self) -> dict[str, str]:
        """Account name → base64 key, default account first."""
        with self._lock:
            return dict(self._accounts)

    def has_account(self, name: str) -> bool:
        """Whether ``name`` is a provisioned account."""
        with self._lock:
            return name in self._accounts

    def add_account(self, name: str) -> str:
        """Provision an account (restarting Azurite if running); return its key. Idempotent."""
        if not _ACCOUNT_RE.match(name):
            raise DataPlaneError(
                "AccountNameInvalid",
                f"{name} is not a valid storage account name. Storage account name must be "
                "between 3 and 24 characters in length and use numbers and lower-case letters "
                "only.",
            )
        with self._lock:
            if name in self._accounts:
                return self._accounts[name]
            self._accounts[name] = _new_key()
            self._save_keys()
            if self.running:
                self._stop_locked()
                self._start_locked()
            return self._accounts[name]

    @property
    def running(self) -> bool:
        """Whether the node process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start Azurite and wait until it accepts connections; idempotent."""
        with self._lock:
            if not self.running:
                self._start_locked()

    def stop(self) -> None:
        """Stop the node process; idempotent."""
        with self._lock:
            self._stop_locked()

    def _start_locked(self) -> None:
        self._location.mkdir(parents=True, exist_ok=True)
        if self._port is None:
            self._port = free_port()
        env = dict(os.environ)
        env["AZURITE_ACCOUNTS"] = ";".join(f"{n}:{k}" for n, k in self._accounts.items())
        argv = [
            str(find_azurite()),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(self._port),
            "--location",
            str(self._location),
            "--silent",
            "--loose",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--cert",
            str(self._tls_cert),
            "--key",
            str(self._tls_key),
            "--oauth",
            "basic",
        ]
        self._stop_stale()
        log = (self._root / "azurite.log").open("ab")
        try:
            self._proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self._pid_file.write_text(f"{self._proc.pid}\n")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = (self._root / "azurite.log").read_text(errors="replace")[-1500:]
                self._proc = None
                raise DataPlaneError("InternalServerError", f"Azurite exited at start: {tail}")
            try:
                with socket.create_connection(("127.0.0.1", self._port), timeout=0.5):
                    _log.info("Azurite ready on port %s", self._port)
                    return
            except OSError:
                time.sleep(0.1)
        self._stop_locked()
        raise DataPlaneError("InternalServerError", "Azurite did not start within 20 s.")

    def _stop_locked(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        # The launcher may be a shell shim: make sure nothing of its session survives.
        try:
            os.killpg(proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        self._pid_file.unlink(missing_ok=True)

    def _stop_stale(self) -> None:
        """Stop an Azurite a dead owner left running on this data folder (its pid file).

        Only called while holding the workdir lock, so a live one belongs to nobody.
        """
        try:
            pid = int(self._pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        if _serves_location(pid, self._location):
            _log.warning("Stopping Azurite (pid %s) left running by a process that died", pid)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, sig)
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and _serves_location(pid, self._location):
                    time.sleep(0.05)
                if not _serves_location(pid, self._location):
                    break
        self._pid_file.unlink(missing_ok=True)

    def _load_keys(self) -> dict[str, str]:
        try:
            data = json.loads(self._keys_file.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def _save_keys(self) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        tmp = self._keys_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(self._accounts, out, indent=1)
        tmp.replace(self._keys_file)


def _serves_location(pid: int, location: Path) -> bool:
    """Whether ``pid`` is alive and is an Azurite started with ``--location location``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        try:  # no /proc (macOS): trust the pid file if the process is alive
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    return str(location).encode() in cmdline and any(b"azurite" in part for part in cmdline)


def _new_key() -> str:
    return base64.b64encode(secrets.token_bytes(64)).decode("ascii")
