"""The keystore over keyring: classification, session-only fallback, entry names, probing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import keyring.backends.fail
import keyring.backends.null
import keyring.errors
import pytest

from pgflex_gui import logs
from pgflex_gui.domain.errors import AppError
from pgflex_gui.keystore import (
    SERVICE,
    Keystore,
    classify_backend,
    probe_backend,
    sandbox_key,
    sas_key,
    server_admin_key,
    sp_key,
)


class MemoryKeyring:
    """An in-memory backend (no bus needed). Not a KeyringBackend subclass on purpose:
    subclasses register themselves with keyring and would be picked by get_keyring()."""

    priority = 1

    def __init__(self) -> None:
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


class LockedKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("locked")


class HangingKeyring(MemoryKeyring):
    """Used through PYTHON_KEYRING_BACKEND in the probe's child: never answers."""

    def __init__(self) -> None:
        time.sleep(60)
        super().__init__()  # pragma: no cover


def _fake(module: str, name: str, **attrs: object) -> object:
    cls = type(name, (), {"__module__": module})
    obj = cls()
    obj.__dict__.update(attrs)
    return obj


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    logs.clear_registered_secrets()


def test_entry_names() -> None:
    assert sp_key("TENANT", "App") == "sp:tenant:app"
    rid = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.DBforPostgreSQL/flexibleServers/A"
    assert server_admin_key(rid) == "server-admin:" + rid.lower()
    assert sas_key("https://a.blob.core.windows.net/c/?sv=1&sig=x") == (
        "sas:https://a.blob.core.windows.net/c"
    )
    assert sandbox_key("ABC") == "sandbox:abc"


@pytest.mark.parametrize(
    "backend",
    [
        keyring.backends.fail.Keyring(),
        keyring.backends.null.Keyring(),
        _fake("keyring.backends.chainer", "ChainerBackend", backends=[]),
        _fake("keyrings.alt.file", "PlaintextKeyring"),
        _fake("keyrings.alt.file", "EncryptedKeyring"),
        _fake("somebody.else", "Keyring"),
    ],
)
def test_insecure_backends_are_refused(backend: object) -> None:
    info, concrete = classify_backend(backend)
    assert info.secure is False
    assert concrete is None
    assert info.reason


def test_known_secure_backends() -> None:
    for module in ("keyring.backends.SecretService", "keyring.backends.macOS"):
        info, concrete = classify_backend(_fake(module, "Keyring"))
        assert info.secure, module
        assert concrete is not None
    win = _fake("keyring.backends.Windows", "WinVaultKeyring")
    assert classify_backend(win)[0].secure


def test_chainer_uses_its_secure_backend() -> None:
    secure = _fake("keyring.backends.SecretService", "Keyring")
    plain = _fake("keyrings.alt.file", "PlaintextKeyring")
    chainer = _fake("keyring.backends.chainer", "ChainerBackend", backends=[plain, secure])
    info, concrete = classify_backend(chainer)
    assert info.secure
    assert concrete is secure


def test_session_only_when_backend_is_insecure() -> None:
    ks = Keystore(backend=keyring.backends.fail.Keyring())
    assert ks.session_only
    assert ks.backend_name == "session memory"
    assert "session only" in ks.describe()
    ks.set("sp:t:c", "s3cret-value")
    assert ks.get("sp:t:c") == "s3cret-value"
    assert ks.delete("sp:t:c") is True
    assert ks.delete("sp:t:c") is False
    assert ks.get("sp:t:c") is None


def test_trusted_backend_round_trip_and_redaction() -> None:
    backend = MemoryKeyring()
    ks = Keystore(backend=backend, trusted=True)
    assert not ks.session_only
    assert ks.backend_name.endswith("MemoryKeyring")
    ks.set("server-admin:x", "Admin-Passw0rd-1")
    assert backend.store[(SERVICE, "server-admin:x")] == "Admin-Passw0rd-1"
    assert "Admin-Passw0rd-1" not in logs.redact("login with Admin-Passw0rd-1 failed")
    assert ks.delete("server-admin:x") is True
    assert ks.delete("server-admin:x") is False


def test_values_read_are_registered_for_redaction() -> None:
    backend = MemoryKeyring()
    backend.store[(SERVICE, "sas:u")] = "sv=2024&sp=r&opaque-sas-value"
    ks = Keystore(backend=backend, trusted=True)
    assert "opaque-sas-value" in logs.redact("x sv=2024&sp=r&opaque-sas-value")  # not yet known
    assert ks.get("sas:u") == "sv=2024&sp=r&opaque-sas-value"
    assert "opaque-sas-value" not in logs.redact("x sv=2024&sp=r&opaque-sas-value")


def test_locked_keyring_is_an_app_error() -> None:
    ks = Keystore(backend=LockedKeyring(), trusted=True)
    with pytest.raises(AppError) as info:
        ks.set("sp:t:c", "value-123")
    assert "keyring" in info.value.summary
    assert info.value.retryable
    with pytest.raises(AppError):
        ks.get("sp:t:c")


def test_probe_times_out_on_a_hanging_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", f"{__name__}.HangingKeyring")
    started = time.monotonic()
    info = probe_backend(timeout=1.5)
    assert time.monotonic() - started < 6
    assert info.secure is False
    assert "did not answer" in info.reason


def test_keystore_with_probe_result_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    ks = Keystore(probe_timeout=10)
    assert ks.session_only
    assert "null" in ks.info.name
