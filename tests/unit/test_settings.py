"""Settings: round trip, damaged files, migrations, the secret guard, atomic saves."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from pgflex_gui import settings as settings_mod
from pgflex_gui.settings import (
    CURRENT_SCHEMA_VERSION,
    SecretInSettingsError,
    Settings,
    load_settings,
    migrate,
    save_settings,
)


def test_defaults() -> None:
    s = Settings()
    assert s.schema_version == 1
    assert s.cloud == "AzureCloud"
    assert s.sign_in_method is None
    assert s.subscription_filter == ()
    assert s.pg_tool_paths == {}
    assert s.restore_jobs == 4
    with pytest.raises(AttributeError):
        s.cloud = "x"  # type: ignore[misc]


def test_round_trip(tmp_path: Path) -> None:
    s = Settings(
        cloud="AzureUSGovernment",
        arm_endpoint="https://127.0.0.1:8443",
        authority_host="https://127.0.0.1:8444",
        ca_bundle=str(tmp_path / "ca.pem"),
        sign_in_method="service_principal_secret",
        tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
        client_id="11111111-2222-3333-4444-555555555555",
        subscription_filter=("sub-a", "sub-b"),
        pg_tool_paths={"16": "/usr/lib/postgresql/16/bin"},
        download_dir=str(tmp_path / "dl"),
        restore_jobs=8,
    )
    path = save_settings(s, tmp_path / "cfg" / "settings.json")
    assert load_settings(path) == s
    assert json.loads(path.read_text())["schema_version"] == CURRENT_SCHEMA_VERSION


def test_default_path_follows_pgflex_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGFLEX_HOME", str(tmp_path))
    written = save_settings(Settings(restore_jobs=2))
    assert written == tmp_path / "config" / "settings.json"
    assert load_settings().restore_jobs == 2
    assert Settings().effective_download_dir() == tmp_path / "downloads"


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "nope.json") == Settings()


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "", "\x00\x01"])
def test_damaged_file_gives_defaults_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str
) -> None:
    path = tmp_path / "settings.json"
    path.write_text(content)
    with caplog.at_level(logging.WARNING, logger="pgflex_gui.settings"):
        assert load_settings(path) == Settings()
    assert any(r.levelno == logging.WARNING for r in caplog.records)


def test_bad_field_falls_back_to_its_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "restore_jobs": "lots",
                "cloud": "AzureChinaCloud",
                "subscription_filter": "not-a-list",
                "mystery": 1,
            }
        )
    )
    with caplog.at_level(logging.WARNING, logger="pgflex_gui.settings"):
        s = load_settings(path)
    assert s.restore_jobs == 4
    assert s.cloud == "AzureChinaCloud"
    assert s.subscription_filter == ()
    text = caplog.text
    assert "restore_jobs" in text
    assert "mystery" in text


def test_migration_from_v0(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {  # no schema_version: version 0
                "environment": "AzureUSGovernment",
                "parallel_jobs": 2,
                "subscriptions": "sub-a, sub-b",
                "pg_bin_dir": "/opt/pg/bin",
                "tenant_id": "t",
            }
        )
    )
    s = load_settings(path)
    assert s.schema_version == 1
    assert s.cloud == "AzureUSGovernment"
    assert s.restore_jobs == 2
    assert s.subscription_filter == ("sub-a", "sub-b")
    assert s.pg_tool_paths == {"any": "/opt/pg/bin"}
    assert s.tenant_id == "t"
    save_settings(s, path)
    assert json.loads(path.read_text())["schema_version"] == 1


def test_migrations_are_stepwise_and_complete() -> None:
    assert sorted(settings_mod.MIGRATIONS) == list(range(CURRENT_SCHEMA_VERSION))
    assert migrate({"schema_version": 1, "cloud": "x"}) == {"schema_version": 1, "cloud": "x"}


def test_newer_schema_reads_known_fields(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 99, "restore_jobs": 3, "future": True}))
    s = load_settings(path)
    assert s.restore_jobs == 3
    assert s.schema_version == CURRENT_SCHEMA_VERSION


@pytest.mark.parametrize(
    "bad",
    [
        Settings(pg_tool_paths={"password": "x"}),
        Settings(pg_tool_paths={"client_secret": "x"}),
        Settings(pg_tool_paths={"sas_token": "x"}),
        Settings(arm_endpoint="https://h/?sv=1&sig=abcdef"),
        Settings(tenant_id="DefaultEndpointsProtocol=https;AccountKey=abcdefgh"),
        Settings(client_id="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"),
        Settings(download_dir="/tmp/x?password=hunter22"),
    ],
)
def test_secret_guard_refuses_to_save(tmp_path: Path, bad: Settings) -> None:
    path = tmp_path / "settings.json"
    with pytest.raises(SecretInSettingsError):
        save_settings(bad, path)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "settings.json"
    save_settings(Settings(restore_jobs=2), path)
    original = path.read_bytes()

    def boom(self: Path, target: Path) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_settings(Settings(restore_jobs=7), path)
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]  # no temp file left
