"""Every secret pgflex-gui keeps goes through this module, on top of ``keyring``.

Service name: ``pgflex-gui``. Entry names (settings and logs hold these, never values):

====================================  =========================================================
``sp:<tenant>:<client_id>``           service principal client secret
``sp-cert:<tenant>:<client_id>``      service principal certificate (PEM with private key)
``server-admin:<server resource id>`` a flexible server's admin password (id lowercased)
``sas:<container url, no query>``     a SAS token for a restore-as-files container
``sandbox:<client_id>``               the local sandbox app registration's secret
====================================  =========================================================

The backend is checked by :func:`probe_backend` in a separate process with a timeout, so
a locked or missing keyring can never hang the app. ``fail``, ``null``, an empty chainer
and plaintext/file backends (keyrings.alt) are refused: then :class:`Keystore` keeps
secrets in memory for this session only, and says so (``session_only``, ``reason``).

Every value stored or read is registered with :func:`pgflex_gui.logs.register_secret`,
so it is scrubbed from logs wherever it shows up.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.logs import register_secret

__all__ = [
    "SERVICE",
    "BackendInfo",
    "Keystore",
    "MemoryKeystore",
    "classify_backend",
    "probe_backend",
    "sandbox_key",
    "sas_key",
    "server_admin_key",
    "sp_cert_key",
    "sp_key",
]

log = logging.getLogger(__name__)

SERVICE = "pgflex-gui"
PROBE_ENTRY = "__pgflex-probe__"

# Backends known to encrypt at rest with the operating system's protection.
_SECURE_BACKENDS = {
    "keyring.backends.SecretService.Keyring",
    "keyring.backends.libsecret.Keyring",
    "keyring.backends.kwallet.DBusKeyring",
    "keyring.backends.kwallet.DBusKeyringKWallet4",
    "keyring.backends.macOS.Keyring",
    "keyring.backends.Windows.WinVaultKeyring",
}
_INSECURE_PREFIXES = (
    "keyring.backends.fail.",
    "keyring.backends.null.",
    "keyrings.alt.",  # PlaintextKeyring, EncryptedKeyring (file), registry, ...
)


# --- entry names ---------------------------------------------------------------------------


def sp_key(tenant_id: str, client_id: str) -> str:
    return f"sp:{tenant_id.lower()}:{client_id.lower()}"


def sp_cert_key(tenant_id: str, client_id: str) -> str:
    return f"sp-cert:{tenant_id.lower()}:{client_id.lower()}"


def server_admin_key(server_resource_id: str) -> str:
    return f"server-admin:{server_resource_id.lower()}"


def sas_key(container_url: str) -> str:
    return f"sas:{container_url.split('?', 1)[0].rstrip('/')}"


def sandbox_key(client_id: str) -> str:
    return f"sandbox:{client_id.lower()}"


# --- backend classification ----------------------------------------------------------------


@dataclass(frozen=True)
class BackendInfo:
    """What the probe found: ``name`` (module.Class), ``secure`` and a reason in plain words."""

    name: str
    secure: bool
    reason: str


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def classify_backend(backend: Any) -> tuple[BackendInfo, Any | None]:
    """Judge a keyring backend; also return the concrete secure backend to use (or None).

    A chainer is secure when one of its backends is; that backend is the one used.
    """
    name = _qualname(backend)
    if name == "keyring.backends.chainer.ChainerBackend":
        children = list(getattr(backend, "backends", []) or [])
        if not children:
            return BackendInfo(name, False, "no keyring backend is available"), None
        verdicts = [classify_backend(child) for child in children]
        for info, concrete in verdicts:
            if info.secure:
                return info, concrete
        names = ", ".join(info.name for info, _ in verdicts)
        return BackendInfo(name, False, f"only insecure keyring backends: {names}"), None
    if name in _SECURE_BACKENDS:
        return BackendInfo(name, True, "operating system keyring"), backend
    if name.startswith("keyring.backends.fail."):
        return BackendInfo(name, False, "no keyring service is running (fail backend)"), None
    if name.startswith("keyring.backends.null."):
        return BackendInfo(name, False, "keyring is disabled (null backend)"), None
    if name.startswith(_INSECURE_PREFIXES):
        return BackendInfo(name, False, "file-based keyring stores secrets unprotected"), None
    return BackendInfo(name, False, f"unrecognised keyring backend {name}"), None


def _probe_child(results: Any) -> None:
    """Runs in the probe process: find the backend and make one harmless read."""
    try:
        import keyring  # imported when first used: it costs ~0.15 s at start-up

        backend = keyring.get_keyring()
        info, concrete = classify_backend(backend)
        if info.secure and concrete is not None:
            concrete.get_password(SERVICE, PROBE_ENTRY)  # raises if locked or unusable
        results.put((info.name, info.secure, info.reason))
    except Exception as exc:  # noqa: BLE001 - everything becomes "not usable"
        results.put((type(exc).__name__, False, f"keyring is not usable: {exc}"))


def probe_backend(timeout: float = 5.0) -> BackendInfo:
    """Find and test the keyring backend in a child process; never blocks past ``timeout``.

    The child is started with the ``spawn`` method (safe with Qt's threads; the frozen app
    must call ``multiprocessing.freeze_support()`` first thing).
    """
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue(maxsize=1)
    proc = ctx.Process(target=_probe_child, args=(results,), name="keyring-probe", daemon=True)
    try:
        proc.start()
    except Exception as exc:  # noqa: BLE001
        log.warning("keyring probe could not start: %s", exc)
        return BackendInfo("unknown", False, f"the keyring probe could not start: {exc}")
    try:
        name, secure, reason = results.get(timeout=timeout)
        info = BackendInfo(str(name), bool(secure), str(reason))
    except queue.Empty:
        info = BackendInfo(
            "unknown", False, f"the keyring did not answer within {timeout:g} s (locked?)"
        )
    finally:
        proc.join(0.5)
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
        results.close()
    log.info("keyring backend: %s (secure=%s: %s)", info.name, info.secure, info.reason)
    return info


# --- the keystore --------------------------------------------------------------------------


class Keystore:
    """Get, set and delete secrets by entry name.

    ``Keystore()`` probes the system keyring in a child process. ``Keystore(backend=b,
    trusted=True)`` uses ``b`` as it is (tests, an explicitly chosen backend). When no
    secure backend is found, secrets live in memory for this session only.
    """

    def __init__(
        self,
        backend: Any | None = None,
        *,
        trusted: bool = False,
        info: BackendInfo | None = None,
        probe_timeout: float = 5.0,
    ) -> None:
        self._memory: dict[str, str] = {}
        self._lock = threading.Lock()
        self._backend: Any | None
        if backend is not None:
            if trusted:
                self.info = BackendInfo(_qualname(backend), True, "chosen explicitly")
                self._backend = backend
            else:
                self.info, self._backend = classify_backend(backend)
        else:
            self.info = info if info is not None else probe_backend(probe_timeout)
            self._backend = None
            if self.info.secure:
                import keyring

                verdict, concrete = classify_backend(keyring.get_keyring())
                if verdict.secure:
                    self._backend = concrete
                else:  # the probe child saw another environment: trust what we see here
                    self.info = verdict
        if self._backend is None:
            log.warning(
                "no secure keyring (%s): secrets are kept for this session only", self.info.reason
            )

    @property
    def backend_name(self) -> str:
        if self._backend is None:
            return "session memory"
        return _qualname(self._backend)

    @property
    def session_only(self) -> bool:
        """True when secrets are not saved anywhere and are gone when the app quits."""
        return self._backend is None

    @property
    def reason(self) -> str:
        return self.info.reason

    def describe(self) -> str:
        if self.session_only:
            return (
                "Secrets are kept for this session only: "
                f"{self.info.reason}. They are forgotten when pgflex-gui quits."
            )
        return f"Secrets are stored in {self.backend_name}."

    def set(self, key: str, value: str) -> None:
        if not key:
            raise ValueError("a keystore entry needs a name")
        register_secret(value)
        if self._backend is None:
            with self._lock:
                self._memory[key] = value
            return
        try:
            self._backend.set_password(SERVICE, key, value)
        except Exception as exc:
            raise self._error("save", key, exc) from exc

    def get(self, key: str) -> str | None:
        if self._backend is None:
            with self._lock:
                value = self._memory.get(key)
        else:
            try:
                value = self._backend.get_password(SERVICE, key)
            except Exception as exc:
                raise self._error("read", key, exc) from exc
        if value is not None:
            register_secret(value)
        return value

    def delete(self, key: str) -> bool:
        """Remove an entry; False if there was none."""
        if self._backend is None:
            with self._lock:
                return self._memory.pop(key, None) is not None
        import keyring.errors

        try:
            self._backend.delete_password(SERVICE, key)
        except keyring.errors.PasswordDeleteError:
            return False
        except Exception as exc:
            raise self._error("delete", key, exc) from exc
        return True

    def delete_prefix(self, prefix: str, candidates: list[str] | None = None) -> int:
        """Delete entries starting with ``prefix``.

        keyring cannot list entries, so for a real backend only ``candidates`` are tried.
        """
        if self._backend is None:
            with self._lock:
                doomed = [k for k in self._memory if k.startswith(prefix)]
                for k in doomed:
                    del self._memory[k]
            return len(doomed)
        return sum(1 for k in candidates or [] if k.startswith(prefix) and self.delete(k))

    def _error(self, action: str, key: str, exc: Exception) -> AppError:
        return AppError(
            Fault.USER,
            f"Could not {action} the secret {key!r} in the system keyring.",
            remedy="Unlock the keyring (or the login keychain) and try again.",
            retryable=True,
            details=f"{type(exc).__name__}: {exc}",
        )


class MemoryKeystore:
    """Secrets in this process's memory only, never written anywhere.

    For tests and benchmarks that check what the app stores without the OS keyring (which
    is tested on its own), in the shape the jobs read (``get``/``set``/``delete``).
    """

    def __init__(self, data: Mapping[str, str] | None = None) -> None:
        self.data: dict[str, str] = dict(data or {})

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def set(self, key: str, value: str) -> None:
        self.data[key] = value

    def delete(self, key: str) -> bool:
        return self.data.pop(key, None) is not None
