"""The settings dialog: round trip to a settings file, inline validation, the keyring line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from pgflex_gui import paths
from pgflex_gui.settings import Settings, load_settings, save_settings
from pgflex_gui.ui.dialogs.settings_dialog import (
    SettingsDialog,
    parse_subscriptions,
    settings_issues,
)

SUB_A = "11111111-1111-1111-1111-111111111111"
SUB_B = "22222222-2222-2222-2222-222222222222"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PGFLEX_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def make_dialog(qtbot: Any, tasks: Any, settings: Settings, **kwargs: Any) -> SettingsDialog:
    dialog = SettingsDialog(settings, tasks=tasks, save=save_settings, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_parse_subscriptions() -> None:
    assert parse_subscriptions(f" {SUB_A},\n{SUB_B} {SUB_A}\n") == (SUB_A, SUB_B)
    assert parse_subscriptions("  \n") == ()


def test_settings_issues() -> None:
    assert settings_issues(Settings()) == []
    assert settings_issues(Settings(cloud="Custom")) == ["Enter the ARM endpoint."]
    assert settings_issues(Settings(cloud="Custom", arm_endpoint="http://x")) == [
        "The ARM endpoint must be an https:// address."
    ]
    assert settings_issues(Settings(pg_tool_paths={"16": "/no/such/folder"})) == [
        "The PostgreSQL 16 tools folder does not exist."
    ]


def test_round_trip_to_the_settings_file(
    qtbot: Any, tasks: Any, home: Path, tmp_path: Path
) -> None:
    tools = tmp_path / "pg16" / "bin"
    tools.mkdir(parents=True)
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    downloads = tmp_path / "downloads"
    original = Settings(sign_in_method="azure_cli", tenant_id="contoso.onmicrosoft.com")
    dialog = make_dialog(qtbot, tasks, original)

    dialog.cloud.setCurrentText("Custom")
    dialog.arm_endpoint.setText("https://127.0.0.1:8443/")
    dialog.authority_host.setText("https://127.0.0.1:8443")
    dialog.ca_bundle.setText(str(bundle))
    dialog.pg_paths["16"].setText(str(tools))
    dialog.download_dir.setText(str(downloads))
    dialog.restore_jobs.setValue(6)
    dialog.subscriptions.setPlainText(f"{SUB_A}\n{SUB_B}")
    assert dialog.save_button.isEnabled()
    with qtbot.waitSignal(dialog.saved, timeout=10_000) as blocker:
        dialog.save_button.click()

    assert paths.settings_path() == home / "config" / "settings.json"
    loaded = load_settings()
    assert blocker.args == [loaded]
    assert loaded.cloud == "Custom"
    assert loaded.arm_endpoint == "https://127.0.0.1:8443/"
    assert loaded.authority_host == "https://127.0.0.1:8443"
    assert loaded.ca_bundle == str(bundle)
    assert loaded.pg_tool_paths == {"16": str(tools)}
    assert loaded.download_dir == str(downloads)
    assert loaded.restore_jobs == 6
    assert loaded.subscription_filter == (SUB_A, SUB_B)
    # What the dialog does not edit is kept.
    assert loaded.sign_in_method == "azure_cli"
    assert loaded.tenant_id == "contoso.onmicrosoft.com"
    assert not dialog.isVisible()

    again = make_dialog(qtbot, tasks, loaded)
    assert again.cloud.currentText() == "Custom"
    assert again.arm_endpoint.text() == "https://127.0.0.1:8443/"
    assert again.pg_paths["16"].text() == str(tools)
    assert again.restore_jobs.value() == 6
    assert again.subscriptions.toPlainText() == f"{SUB_A}\n{SUB_B}"
    assert again.value() == loaded


def test_invalid_values_block_saving_inline(qtbot: Any, tasks: Any, home: Path) -> None:
    dialog = make_dialog(qtbot, tasks, Settings())
    dialog.cloud.setCurrentText("Custom")
    assert not dialog.save_button.isEnabled()
    assert "ARM endpoint" in dialog.issues_label.text()
    dialog.arm_endpoint.setText("ftp://example")
    assert "https://" in dialog.issues_label.text()
    dialog.arm_endpoint.setText("https://arm.example")
    assert dialog.save_button.isEnabled()
    dialog.pg_paths["15"].setText(str(home / "missing"))
    assert "PostgreSQL 15" in dialog.issues_label.text()
    assert not dialog.save_button.isEnabled()
    dialog.cloud.setCurrentText("AzureCloud")
    dialog.pg_paths["15"].clear()
    assert dialog.save_button.isEnabled()
    assert not dialog.arm_endpoint.isVisibleTo(dialog)


def test_failed_save_is_shown_inline(qtbot: Any, tasks: Any, home: Path) -> None:
    def refuse(_settings: Settings) -> Path:
        raise PermissionError("read-only folder")

    dialog = SettingsDialog(Settings(), tasks=tasks, save=refuse)
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.assertNotEmitted(dialog.saved, wait=0):
        dialog.save_button.click()
        qtbot.waitUntil(lambda: dialog.error_label.isVisibleTo(dialog), timeout=10_000)
    assert "could not be saved" in dialog.error_label.text()
    assert "read-only folder" in dialog.error_label.text()
    assert dialog.isVisible()
    assert dialog.save_button.isEnabled()


def test_keyring_line(qtbot: Any, tasks: Any, home: Path) -> None:
    def describe() -> str:
        return "Keyring backend: session memory. Secrets are kept for this session only."

    dialog = make_dialog(qtbot, tasks, Settings(), keyring_info=describe)
    qtbot.waitUntil(lambda: "session only" in dialog.keyring_label.text(), timeout=10_000)
    assert "session memory" in dialog.keyring_label.text()


def test_settings_say_the_session_runs_on_the_sandbox(qtbot: Any, tasks: Any) -> None:
    dialog = make_dialog(qtbot, tasks, Settings(), running_on="Sandbox")
    assert dialog.running_on.isVisible()
    assert dialog.running_on.text().startswith("Sandbox (local)")
    assert dialog.cloud.currentText() == "AzureCloud"  # what a sign-in will use, still editable
    dialog.close()
    plain = make_dialog(qtbot, tasks, Settings(), running_on="AzureCloud")
    assert not plain.running_on.isVisible()
    plain.close()


def test_subscriptions_are_picked_by_name(qtbot: Any, tasks: Any, home: Path) -> None:
    other = "33333333-3333-3333-3333-333333333333"  # in the filter, not listed now
    listed = [(SUB_A, "Contoso Production", "Contoso"), (SUB_B, "Fabrikam Dev", "Fabrikam")]
    dialog = make_dialog(qtbot, tasks, Settings(subscription_filter=(SUB_B, other)),
                         subscriptions=lambda: listed)  # fmt: skip
    qtbot.waitUntil(lambda: dialog.subscription_list.count() == 2, timeout=10_000)
    names = [dialog.subscription_list.item(i).text() for i in range(2)]
    assert names == ["Contoso Production (Contoso)", "Fabrikam Dev (Fabrikam)"]
    ticked = [dialog.subscription_list.item(i).checkState() == Qt.CheckState.Checked
              for i in range(2)]  # fmt: skip
    assert ticked == [False, True]  # from the saved filter
    dialog.subscription_list.item(0).setCheckState(Qt.CheckState.Checked)
    assert dialog.value().subscription_filter == (SUB_A, SUB_B, other)
    dialog.subscription_list.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert dialog.value().subscription_filter == (SUB_A, other)  # typed ids are kept
    dialog.subscriptions.setPlainText(SUB_B)  # typing ticks too
    assert dialog.subscription_list.item(1).checkState() == Qt.CheckState.Checked
    assert dialog.subscription_list.item(0).checkState() == Qt.CheckState.Unchecked
