"""Cloud resolution: CLI over environment over settings over the named cloud."""

from __future__ import annotations

import pytest

from pgflex_gui.domain.cloud import (
    AZURE_CHINA_CLOUD,
    AZURE_CLOUD,
    AZURE_US_GOVERNMENT,
    CUSTOM,
    portal_link,
    resolve_cloud,
)


def test_default_is_public_azure() -> None:
    assert resolve_cloud(None, env={}) == AZURE_CLOUD
    assert AZURE_CLOUD.credential_scope == "https://management.azure.com/.default"
    assert not AZURE_CLOUD.is_local


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("AzureUSGovernment", AZURE_US_GOVERNMENT),
        ("azurechinacloud", AZURE_CHINA_CLOUD),
        ("AZURECLOUD", AZURE_CLOUD),
    ],
)
def test_known_clouds_case_insensitive(name: str, expected: object) -> None:
    assert resolve_cloud(name, env={}) == expected


def test_sovereign_endpoints() -> None:
    gov = resolve_cloud("AzureUSGovernment", env={})
    assert gov.arm_endpoint == "https://management.usgovcloudapi.net"
    assert gov.authority_host == "https://login.microsoftonline.us"
    assert gov.storage_suffix == "core.usgovcloudapi.net"
    china = resolve_cloud("AzureChinaCloud", env={})
    assert china.authority_host == "https://login.chinacloudapi.cn"
    assert china.storage_suffix == "core.chinacloudapi.cn"


def test_unknown_cloud_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown Azure cloud"):
        resolve_cloud("AzureGermanCloud", env={})


def test_env_overrides_endpoint_and_keeps_scope() -> None:
    cloud = resolve_cloud(
        "AzureCloud",
        env={"PGFLEX_ARM_ENDPOINT": "https://127.0.0.1:8443/", "PGFLEX_CA_BUNDLE": "/ca.pem"},
    )
    assert cloud.arm_endpoint == "https://127.0.0.1:8443"
    assert cloud.ca_bundle == "/ca.pem"
    assert cloud.credential_scope == AZURE_CLOUD.credential_scope
    assert cloud.is_local


def test_cli_wins_over_env_wins_over_saved() -> None:
    env = {"PGFLEX_ARM_ENDPOINT": "https://env.example", "PGFLEX_CA_BUNDLE": "/env.pem"}
    saved = {"arm_endpoint": "https://saved.example", "ca_bundle": "/saved.pem"}
    cli = resolve_cloud(
        "AzureCloud", arm_endpoint="https://cli.example", ca_bundle="/cli.pem", env=env, saved=saved
    )
    assert (cli.arm_endpoint, cli.ca_bundle) == ("https://cli.example", "/cli.pem")
    from_env = resolve_cloud("AzureCloud", env=env, saved=saved)
    assert (from_env.arm_endpoint, from_env.ca_bundle) == ("https://env.example", "/env.pem")
    from_saved = resolve_cloud("AzureCloud", env={}, saved=saved)
    assert from_saved.arm_endpoint == "https://saved.example"
    blank_env = resolve_cloud("AzureCloud", env={"PGFLEX_ARM_ENDPOINT": "  "}, saved=saved)
    assert blank_env.arm_endpoint == "https://saved.example"


def test_custom_cloud_needs_an_endpoint_and_scopes_to_it() -> None:
    with pytest.raises(ValueError, match="ARM endpoint"):
        resolve_cloud("Custom", env={})
    cloud = resolve_cloud("custom", arm_endpoint="https://arm.contoso.local", env={})
    assert cloud.name == CUSTOM
    assert cloud.credential_scope == "https://arm.contoso.local/.default"
    assert cloud.portal_link("/subscriptions/s") == ""


def test_malformed_url_is_refused() -> None:
    with pytest.raises(ValueError, match="https URL"):
        resolve_cloud("AzureCloud", arm_endpoint="management.azure.com", env={})


def test_portal_link() -> None:
    rid = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v"
    assert portal_link(rid) == f"https://portal.azure.com/#@/resource{rid}"
    assert AZURE_US_GOVERNMENT.portal_link(rid).startswith("https://portal.azure.us/#@/resource/")
    assert portal_link("") == ""
