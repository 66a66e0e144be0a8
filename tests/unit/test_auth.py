"""azure/auth.py: credentials per sign-in method, the sign-in record, sign-out."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.identity import (
    AuthenticationRecord,
    AzureCliCredential,
    ClientSecretCredential,
    DeviceCodeCredential,
    InteractiveBrowserCredential,
    ManagedIdentityCredential,
)

from pgflex_gui.azure import auth
from pgflex_gui.azure.auth import SignInMethod, build_credential, sign_out
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.keystore import Keystore, sandbox_key, sp_key

TENANT = "00000000-0000-0000-0000-00000000000a"
CLIENT = "00000000-0000-0000-0000-00000000000b"


class _Memory:
    priority = 1

    def __init__(self) -> None:
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, s: str, u: str) -> str | None:
        return self.store.get((s, u))

    def set_password(self, s: str, u: str, p: str) -> None:
        self.store[(s, u)] = p

    def delete_password(self, s: str, u: str) -> None:
        import keyring.errors

        if self.store.pop((s, u), None) is None:
            raise keyring.errors.PasswordDeleteError(u)


@pytest.fixture
def keystore() -> Keystore:
    return Keystore(backend=_Memory(), trusted=True)


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGFLEX_HOME", str(tmp_path))


def test_sandbox_credential(keystore: Keystore) -> None:
    keystore.set(sandbox_key(CLIENT), "sandbox-secret")
    cred = build_credential(
        SignInMethod.SANDBOX,
        "https://127.0.0.1:9443",
        tenant_id=TENANT,
        client_id=CLIENT,
        keystore=keystore,
        ca_bundle="/tmp/ca.pem",
    )
    assert isinstance(cred, ClientSecretCredential)


def test_missing_secret_is_a_user_error(keystore: Keystore) -> None:
    with pytest.raises(AppError) as info:
        build_credential(
            "service_principal_secret",
            "login.microsoftonline.com",
            tenant_id=TENANT,
            client_id=CLIENT,
            keystore=keystore,
        )
    assert info.value.fault is Fault.USER
    with pytest.raises(AppError):
        build_credential(
            SignInMethod.SANDBOX, "https://h", tenant_id=None, client_id=CLIENT, keystore=keystore
        )


@pytest.mark.parametrize(
    ("method", "cls"),
    [
        (SignInMethod.SERVICE_PRINCIPAL_SECRET, ClientSecretCredential),
        (SignInMethod.INTERACTIVE_BROWSER, InteractiveBrowserCredential),
        (SignInMethod.DEVICE_CODE, DeviceCodeCredential),
        (SignInMethod.AZURE_CLI, AzureCliCredential),
        (SignInMethod.MANAGED_IDENTITY, ManagedIdentityCredential),
    ],
)
def test_each_method_builds(keystore: Keystore, method: SignInMethod, cls: type) -> None:
    keystore.set(sp_key(TENANT, CLIENT), "sp-secret-value")
    cred = build_credential(
        method, "login.microsoftonline.com", tenant_id=TENANT, client_id=CLIENT, keystore=keystore
    )
    assert isinstance(cred, cls)


def test_no_unencrypted_cache_when_unsupported(
    keystore: Keystore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(auth, "persistent_cache_support", lambda: (False, "no libsecret"))
    assert auth._cache_options(True) is None
    assert "memory only" in caplog.text
    monkeypatch.setattr(auth, "persistent_cache_support", lambda: (True, "test"))
    options = auth._cache_options(True)
    assert options is not None
    assert options.allow_unencrypted_storage is False
    assert options.name == auth.CACHE_NAME


def test_record_round_trip_and_sign_out(keystore: Keystore, tmp_path: Path) -> None:
    record = AuthenticationRecord(
        TENANT, auth.DEVELOPER_CLIENT_ID, "login.microsoftonline.com", "home.id", "dba@contoso"
    )
    path = auth.save_authentication_record(record)
    assert path == tmp_path / "config" / "auth_record.json"
    loaded = auth.load_authentication_record()
    assert loaded is not None
    assert loaded.username == "dba@contoso"
    assert auth._matching_record(None, "login.microsoftonline.com", TENANT, record.client_id)
    assert auth._matching_record(None, "login.microsoftonline.us", TENANT, record.client_id) is None
    keystore.set(sp_key(TENANT, CLIENT), "sp-secret-value")
    removed = sign_out(keystore, tenant_id=TENANT, client_id=CLIENT)
    assert not path.exists()
    assert keystore.get(sp_key(TENANT, CLIENT)) is None
    assert any("sign-in record" in r for r in removed)


def test_damaged_record_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "auth_record.json").write_text("{broken")
    assert auth.load_authentication_record() is None
