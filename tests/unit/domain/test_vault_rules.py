"""Vault eligibility and vault drafts."""

import pytest

from pgflex_gui.domain.issues import Severity, has_errors
from pgflex_gui.domain.vault_rules import (
    InvalidVault,
    VaultDraft,
    build_vault_body,
    eligible_vaults,
    vault_draft_issues,
    vault_issues_for_server,
    vault_name_issues,
)

from .factories import OTHER_TENANT, SUB_B, server, vault


def test_same_region_and_tenant_is_eligible_across_subscriptions() -> None:
    found = vault_issues_for_server(vault(sub=SUB_B, location="West Europe"), server())
    assert not has_errors(found)
    assert [i.severity for i in found] == [Severity.INFO]
    assert "another subscription" in found[0].message


def test_region_tenant_and_state_block() -> None:
    srv = server()
    found = vault_issues_for_server(
        vault(location="northeurope", tenant_id=OTHER_TENANT, provisioning_state="Creating"), srv
    )
    assert [i.severity for i in found] == [Severity.ERROR] * 3
    assert "northeurope" in found[0].message
    assert "westeurope" in found[0].remedy
    assert "tenant" in found[1].message
    assert "Creating" in found[2].message


def test_unknown_tenant_is_not_blocking() -> None:
    found = vault_issues_for_server(vault(tenant_id=""), server())
    assert not has_errors(found)
    assert "unknown" in found[0].message


def test_eligible_vaults_splits_with_reasons() -> None:
    good, bad = vault("good"), vault("bad", location="eastus")
    ok, rejected = eligible_vaults([good, bad], server())
    assert ok == [good]
    assert rejected[0][0] == bad
    assert "eastus" in rejected[0][1][0]


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("v1", True),
        ("a", False),
        ("a" * 51, False),
        ("a" * 50, True),
        ("1vault", False),
        ("my_vault", False),
        ("my-vault-2", True),
    ],
)
def test_vault_names(name: str, ok: bool) -> None:
    assert (vault_name_issues(name) == []) is ok


def test_default_draft_builds_lrs_body() -> None:
    body = build_vault_body(VaultDraft("vault-a", "West Europe", tags={"env": "prod"}), server())
    assert body == {
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "storageSettings": [{"datastoreType": "VaultStore", "type": "LocallyRedundant"}],
            "securitySettings": {
                "softDeleteSettings": {"state": "On", "retentionDurationInDays": 14},
                "immutabilitySettings": {"state": "Disabled"},
            },
            "featureSettings": {"crossSubscriptionRestoreSettings": {"state": "Enabled"}},
        },
        "tags": {"env": "prod"},
    }


def test_grs_with_crr() -> None:
    draft = VaultDraft("vault-a", "westeurope", redundancy="GRS", cross_region_restore=True)
    found = vault_draft_issues(draft)
    assert [i.severity for i in found] == [Severity.INFO]
    body = build_vault_body(draft)
    assert body["properties"]["storageSettings"][0]["type"] == "GeoRedundant"
    assert body["properties"]["featureSettings"]["crossRegionRestoreSettings"] == {
        "state": "Enabled"
    }
    plain = build_vault_body(VaultDraft("vault-a", "westeurope", redundancy="geo redundant"))
    assert plain["properties"]["featureSettings"]["crossRegionRestoreSettings"] == {
        "state": "Disabled"
    }
    assert "tags" not in plain


def test_irreversible_choices_warn() -> None:
    draft = VaultDraft(
        "vault-a",
        "westeurope",
        redundancy="ZRS",
        soft_delete="AlwaysOn",
        immutability="Locked",
        cross_subscription_restore="PermanentlyDisabled",
    )
    found = vault_draft_issues(draft)
    assert [i.field for i in found] == ["soft_delete", "immutability", "cross_subscription_restore"]
    assert all(i.severity is Severity.WARNING for i in found)
    assert build_vault_body(draft)["properties"]["storageSettings"][0]["type"] == "ZoneRedundant"


@pytest.mark.parametrize(
    ("draft", "field"),
    [
        (VaultDraft("vault-a", "westeurope", redundancy="RAGRS"), "redundancy"),
        (VaultDraft("vault-a", "westeurope", cross_region_restore=True), "cross_region_restore"),
        (VaultDraft("vault-a", "westeurope", soft_delete="Maybe"), "soft_delete"),
        (VaultDraft("vault-a", "westeurope", immutability="x"), "immutability"),
        (
            VaultDraft("vault-a", "westeurope", cross_subscription_restore="x"),
            "cross_subscription_restore",
        ),
        (VaultDraft("vault-a", "westeurope", soft_delete_days=7), "soft_delete_days"),
        (VaultDraft("vault-a", " "), "location"),
        (VaultDraft("vault-a", "northeurope"), "location"),
        (VaultDraft("_", "westeurope"), "name"),
    ],
)
def test_bad_drafts_raise(draft: VaultDraft, field: str) -> None:
    found = vault_draft_issues(draft, server())
    assert field in [i.field for i in found if i.blocks]
    with pytest.raises(InvalidVault) as info:
        build_vault_body(draft, server())
    assert info.value.issues
