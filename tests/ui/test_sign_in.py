"""The sign-in dialog and the session controller: validation, secrets, device code, sign-out."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring.errors
import pytest
from PySide6.QtCore import QSettings

from pgflex_gui.azure.auth import SignInMethod
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.keystore import Keystore, sp_key
from pgflex_gui.settings import Settings, load_settings, save_settings
from pgflex_gui.ui.dialogs.sign_in import SignInDialog, sign_in_issues
from pgflex_gui.ui.session import (
    KeystoreProvider,
    SessionController,
    SignInRequest,
    SwitchableInventory,
)

ROOT = Path(__file__).resolve().parents[2]
TENANT = "00000000-0000-0000-0000-00000000000a"
CLIENT = "00000000-0000-0000-0000-00000000000b"
SECRET = "Sup3r-S3cret-Value-42~xyz"


class MemoryKeyring:
    """An in-memory keyring backend (not a KeyringBackend subclass: no auto-registration)."""

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


class FakeRecord:
    username = "dba@contoso.com"


class FakeSignIn:
    """Stands in for azure.auth.sign_in (the network step); records what it was given."""

    def __init__(self, *, fail: AppError | None = None, record: object = None) -> None:
        self.fail = fail
        self.record = record
        self.calls: list[tuple[Any, str]] = []

    def __call__(self, credential: Any, scope: str) -> object:
        self.calls.append((credential, scope))
        if self.fail is not None:
            raise self.fail
        return self.record


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PGFLEX_HOME", str(tmp_path / "home"))
    for name in ("PGFLEX_ARM_ENDPOINT", "PGFLEX_AUTHORITY_HOST", "PGFLEX_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


@pytest.fixture
def backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def memory(tmp_path: Path, qapp: object) -> QSettings:
    return QSettings(str(tmp_path / "memory.ini"), QSettings.Format.IniFormat)


def make_session(
    tasks: Any, backend: MemoryKeyring, sign_in_fn: FakeSignIn, connected: list[Any]
) -> SessionController:
    settings_file = Path(os.environ["PGFLEX_HOME"]) / "config" / "settings.json"

    def connect(cloud: Any, credential: Any, _for_tenant: Any) -> Any:
        connected.append((cloud, credential))
        return SwitchableInventory()

    return SessionController(
        tasks=tasks,
        keystores=KeystoreProvider(lambda: Keystore(backend=backend, trusted=True)),
        connect=connect,
        load_settings=lambda: load_settings(settings_file),
        save_settings=lambda s: save_settings(s, settings_file),
        env={},
        sign_in_fn=sign_in_fn,
    )


@pytest.fixture
def connected() -> list[Any]:
    return []


@pytest.fixture
def fake_sign_in() -> FakeSignIn:
    return FakeSignIn()


@pytest.fixture
def session(
    home: Path, tasks: Any, backend: MemoryKeyring, fake_sign_in: FakeSignIn, connected: list[Any]
) -> SessionController:
    return make_session(tasks, backend, fake_sign_in, connected)


@pytest.fixture
def dialog(qtbot: Any, session: SessionController, memory: QSettings) -> Iterator[SignInDialog]:
    dlg = SignInDialog(session, settings=Settings(), memory=memory)
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def choose(dialog: SignInDialog, method: SignInMethod) -> None:
    dialog.method.setCurrentIndex(dialog.method.findData(method.value))


# -- validation (Qt-free) ---------------------------------------------------------------------


def test_custom_cloud_needs_an_https_arm_endpoint() -> None:
    base = SignInRequest(method=SignInMethod.AZURE_CLI.value, cloud="Custom")
    assert "Enter the ARM endpoint." in sign_in_issues(base)
    http = SignInRequest(
        method=SignInMethod.AZURE_CLI.value, cloud="Custom", arm_endpoint="http://arm.local"
    )
    assert "The ARM endpoint must be an https:// address." in sign_in_issues(http)
    ok = SignInRequest(
        method=SignInMethod.AZURE_CLI.value, cloud="Custom", arm_endpoint="https://arm.local"
    )
    assert sign_in_issues(ok) == []
    bad_authority = SignInRequest(
        method=SignInMethod.AZURE_CLI.value,
        cloud="Custom",
        arm_endpoint="https://arm.local",
        authority_host="login.local",
    )
    assert sign_in_issues(bad_authority) == ["The authority host must be an https:// address."]


def test_service_principal_needs_client_id_and_secret() -> None:
    method = SignInMethod.SERVICE_PRINCIPAL_SECRET.value
    issues = sign_in_issues(SignInRequest(method=method))
    assert "Enter the tenant id." in issues
    assert "Enter the client (application) id." in issues
    assert "Enter the client secret." in issues
    full = SignInRequest(method=method, tenant_id=TENANT, client_id=CLIENT, secret=SECRET)
    assert sign_in_issues(full) == []


def test_certificate_must_exist(tmp_path: Path) -> None:
    method = SignInMethod.SERVICE_PRINCIPAL_CERTIFICATE.value
    missing = SignInRequest(
        method=method, tenant_id=TENANT, client_id=CLIENT, certificate_path=str(tmp_path / "x")
    )
    assert sign_in_issues(missing) == ["The certificate file does not exist."]


def test_interactive_methods_need_nothing() -> None:
    for method in (SignInMethod.INTERACTIVE_BROWSER, SignInMethod.DEVICE_CODE):
        assert sign_in_issues(SignInRequest(method=method.value)) == []


# -- the dialog -------------------------------------------------------------------------------


def test_dialog_shows_issues_inline_and_blocks_sign_in(dialog: SignInDialog) -> None:
    dialog.cloud.setCurrentText("Custom")
    assert dialog.arm_endpoint.isVisibleTo(dialog)
    assert not dialog.sign_in_button.isEnabled()
    assert "ARM endpoint" in dialog.issues_label.text()
    dialog.arm_endpoint.setText("http://127.0.0.1:8443")
    assert "https://" in dialog.issues_label.text()
    assert not dialog.sign_in_button.isEnabled()
    dialog.arm_endpoint.setText("https://127.0.0.1:8443")
    assert dialog.sign_in_button.isEnabled()
    assert not dialog.issues_label.isVisibleTo(dialog)


def test_dialog_service_principal_fields(dialog: SignInDialog) -> None:
    choose(dialog, SignInMethod.SERVICE_PRINCIPAL_SECRET)
    assert dialog.secret.isVisibleTo(dialog)
    assert dialog.secret.echoMode() == dialog.secret.EchoMode.Password
    assert not dialog.sign_in_button.isEnabled()
    dialog.tenant.setText(TENANT)
    dialog.client_id.setText(CLIENT)
    assert not dialog.sign_in_button.isEnabled()
    dialog.secret.setText(SECRET)
    assert dialog.sign_in_button.isEnabled()
    choose(dialog, SignInMethod.AZURE_CLI)
    assert not dialog.secret.isVisibleTo(dialog)
    assert dialog.request().secret is None


def test_secret_goes_only_to_the_keystore(
    qtbot: Any,
    dialog: SignInDialog,
    session: SessionController,
    backend: MemoryKeyring,
    home: Path,
    fake_sign_in: FakeSignIn,
    connected: list[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    choose(dialog, SignInMethod.SERVICE_PRINCIPAL_SECRET)
    dialog.tenant.setText(TENANT)
    dialog.client_id.setText(CLIENT)
    dialog.secret.setText(SECRET)
    with qtbot.waitSignals([session.signed_in, dialog.accepted], timeout=10_000):
        dialog.sign_in_button.click()

    assert backend.store[("pgflex-gui", sp_key(TENANT, CLIENT))] == SECRET
    settings_file = home / "config" / "settings.json"
    text = settings_file.read_text(encoding="utf-8")
    assert SECRET not in text
    saved = json.loads(text)
    assert saved["sign_in_method"] == SignInMethod.SERVICE_PRINCIPAL_SECRET.value
    assert saved["tenant_id"] == TENANT
    assert saved["client_id"] == CLIENT
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in repr(record.args)
    assert SECRET not in caplog.text
    assert session.session is not None
    assert session.account == CLIENT
    assert SECRET not in repr(session.session)
    assert SECRET not in repr(dialog.request())
    assert dialog.secret.text() == ""
    assert connected
    assert connected[0][0].name == "AzureCloud"
    assert fake_sign_in.calls[0][1] == "https://management.azure.com/.default"


def test_choice_is_remembered_per_cloud_without_secret(
    qtbot: Any, dialog: SignInDialog, session: SessionController, memory: QSettings
) -> None:
    choose(dialog, SignInMethod.SERVICE_PRINCIPAL_SECRET)
    dialog.tenant.setText(TENANT)
    dialog.client_id.setText(CLIENT)
    dialog.secret.setText(SECRET)
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        dialog.sign_in_button.click()
    memory.sync()
    ini = Path(memory.fileName()).read_text(encoding="utf-8")
    assert CLIENT in ini
    assert SECRET not in ini

    again = SignInDialog(session, settings=Settings(cloud="AzureUSGovernment"), memory=memory)
    qtbot.addWidget(again)
    assert again.cloud.currentText() == "AzureUSGovernment"
    assert again.client_id.text() == ""
    again.cloud.setCurrentText("AzureCloud")
    assert again.current_method() is SignInMethod.SERVICE_PRINCIPAL_SECRET
    assert again.client_id.text() == CLIENT
    assert again.secret.text() == ""


def test_failure_shows_inline_in_plain_language(
    qtbot: Any, home: Path, tasks: Any, backend: MemoryKeyring, memory: QSettings
) -> None:
    failing = FakeSignIn(
        fail=AppError(
            Fault.PERMISSION,
            "Azure sign-in refused the application's credentials.",
            remedy="Check the client id and secret, or sign in again.",
        )
    )
    session = make_session(tasks, backend, failing, [])
    dialog = SignInDialog(session, memory=memory)
    qtbot.addWidget(dialog)
    dialog.show()
    choose(dialog, SignInMethod.SERVICE_PRINCIPAL_SECRET)
    dialog.tenant.setText(TENANT)
    dialog.client_id.setText(CLIENT)
    dialog.secret.setText(SECRET)
    with qtbot.waitSignal(session.sign_in_failed, timeout=10_000):
        dialog.sign_in_button.click()
    assert dialog.isVisible()
    assert dialog.error_label.isVisibleTo(dialog)
    assert "refused the application's credentials" in dialog.error_label.text()
    assert dialog.sign_in_button.isEnabled()
    assert session.session is None
    assert not (home / "config" / "settings.json").exists()


def test_device_code_is_shown_in_the_dialog(
    qtbot: Any, home: Path, tasks: Any, backend: MemoryKeyring, memory: QSettings
) -> None:
    holder: dict[str, SessionController] = {}

    class DeviceSignIn:
        """Calls the credential's prompt callback the way azure-identity does (on a worker)."""

        def __call__(self, credential: Any, _scope: str) -> object:
            prompt = credential._prompt_callback
            prompt("https://microsoft.com/devicelogin", "ABCD-EFGH", None)
            return FakeRecord()

    session = make_session(tasks, backend, DeviceSignIn(), [])  # type: ignore[arg-type]
    holder["s"] = session
    dialog = SignInDialog(session, memory=memory)
    qtbot.addWidget(dialog)
    dialog.show()
    choose(dialog, SignInMethod.DEVICE_CODE)
    with qtbot.waitSignals(
        [session.device_code, session.signed_in], order="strict", timeout=10_000
    ):
        dialog.sign_in_button.click()
    assert "ABCD-EFGH" in dialog.device_code_label.text()
    assert "https://microsoft.com/devicelogin" in dialog.device_code_label.text()
    assert session.account == "dba@contoso.com"


def test_tenant_only_sign_in_keeps_the_session(
    qtbot: Any, session: SessionController, memory: QSettings
) -> None:
    dialog = SignInDialog(session, memory=memory, tenant_id=TENANT, tenant_only=True)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.tenant.isReadOnly()
    assert dialog.current_method() is SignInMethod.INTERACTIVE_BROWSER
    with qtbot.waitSignal(session.tenant_signed_in, timeout=10_000) as blocker:
        dialog.sign_in_button.click()
    assert blocker.args == [TENANT]
    assert session.session is None
    assert session.credential_for_tenant(TENANT) is not None


def test_sign_out_clears_keystore_and_method(
    qtbot: Any,
    dialog: SignInDialog,
    session: SessionController,
    backend: MemoryKeyring,
    home: Path,
) -> None:
    choose(dialog, SignInMethod.SERVICE_PRINCIPAL_SECRET)
    dialog.tenant.setText(TENANT)
    dialog.client_id.setText(CLIENT)
    dialog.secret.setText(SECRET)
    with qtbot.waitSignal(session.signed_in, timeout=10_000):
        dialog.sign_in_button.click()
    with qtbot.waitSignals([session.signed_out, session.identity_changed], timeout=10_000):
        session.sign_out()
    assert backend.store == {}
    assert session.session is None
    saved = json.loads((home / "config" / "settings.json").read_text(encoding="utf-8"))
    assert saved["sign_in_method"] is None
    assert saved["client_id"] == CLIENT


@pytest.mark.sandbox
def test_service_principal_sign_in_against_the_sandbox(
    qtbot: Any,
    home: Path,
    tasks: Any,
    backend: MemoryKeyring,
    memory: QSettings,
    sandbox_arm: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The real azure-identity path: a Custom cloud, the sandbox CA, a real token."""
    from pgflex_gui.azure.clients import ClientFactory
    from pgflex_gui.azure.inventory import AzureInventory
    from pgflex_gui.sandbox.arm.seed import IDS

    caplog.set_level(logging.DEBUG)
    info = sandbox_arm.info
    settings_file = home / "config" / "settings.json"
    session = SessionController(
        tasks=tasks,
        keystores=KeystoreProvider(lambda: Keystore(backend=backend, trusted=True)),
        connect=lambda cloud, cred, for_tenant: AzureInventory(
            ClientFactory(cloud, cred), credential_for_tenant=for_tenant
        ),
        load_settings=lambda: load_settings(settings_file),
        save_settings=lambda s: save_settings(s, settings_file),
        env={},
    )
    dialog = SignInDialog(session, memory=memory)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.cloud.setCurrentText("Custom")
    dialog.arm_endpoint.setText(info.arm_endpoint)
    dialog.authority_host.setText(info.authority)
    dialog.ca_bundle.setText(info.ca_bundle)
    choose(dialog, SignInMethod.SERVICE_PRINCIPAL_SECRET)
    dialog.tenant.setText(IDS.TENANT)
    dialog.client_id.setText(info.client_id)
    dialog.secret.setText(info.client_secret)
    with qtbot.waitSignal(session.signed_in, timeout=30_000) as blocker:
        dialog.sign_in_button.click()
    signed = blocker.args[0]
    assert signed.cloud.arm_endpoint == info.arm_endpoint.rstrip("/")
    assert signed.account == info.client_id
    tenants = signed.inventory.list_tenants()
    assert IDS.TENANT in {t.tenant_id for t in tenants}
    assert info.client_secret not in settings_file.read_text(encoding="utf-8")
    assert info.client_secret not in caplog.text


def test_smoke_still_exits_zero(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PGFLEX_HOME": str(tmp_path / "home"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pgflex_gui", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_window_status_bar_and_tree_follow_sign_in_and_out(
    qtbot: Any,
    home: Path,
    tasks: Any,
    backend: MemoryKeyring,
    memory: QSettings,
    qsettings: QSettings,
) -> None:
    """app.SessionActions: handlers, the status bar, and the inventory swap."""
    from pgflex_gui.composition import SettingsHolder
    from pgflex_gui.session_actions import SessionActions
    from pgflex_gui.ui.main_window import MainWindow
    from tests.ui.fakes import FakeInventory

    fake = FakeInventory()
    inventory = SwitchableInventory()
    settings_file = home / "config" / "settings.json"
    holder = SettingsHolder(Settings(), settings_file)
    session = SessionController(
        tasks=tasks,
        keystores=KeystoreProvider(lambda: Keystore(backend=backend, trusted=True)),
        connect=lambda _cloud, _cred, _for_tenant: fake,
        load_settings=holder.get,
        save_settings=holder.save,
        env={},
        sign_in_fn=FakeSignIn(record=FakeRecord()),
    )
    actions = SessionActions(
        session=session,
        holder=holder,
        tasks=tasks,
        keystores=session.keystores,
        inventory=inventory,
        memory=memory,
    )
    window = MainWindow(
        inventory=inventory, tasks=tasks, settings=qsettings, handlers=actions.handlers()
    )
    qtbot.addWidget(window)
    actions.attach(window)
    window.show()
    window.start()
    assert "Not signed in" in window.account_label.text()

    window._dispatch("sign-in", None)
    dialog = actions.dialog
    assert isinstance(dialog, SignInDialog)
    choose(dialog, SignInMethod.INTERACTIVE_BROWSER)
    with qtbot.waitSignal(session.identity_changed, timeout=10_000):
        dialog.sign_in_button.click()
    assert "dba@contoso.com" in window.account_label.text()
    assert "AzureCloud" in window.account_label.text()
    assert inventory.target is fake
    qtbot.waitUntil(lambda: len(window.model.servers()) > 0, timeout=10_000)
    assert holder.get().sign_in_method == SignInMethod.INTERACTIVE_BROWSER.value

    with qtbot.waitSignal(session.signed_out, timeout=10_000):
        window._dispatch("sign-out", None)
    assert "Not signed in" in window.account_label.text()
    assert inventory.target is not fake
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)
    window.close()
