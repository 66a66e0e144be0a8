"""ResourceId parsing and navigation."""

import pytest

from pgflex_gui.domain.ids import ResourceId

BI = (
    "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-backup/providers/"
    "Microsoft.DataProtection/backupVaults/vault1/backupInstances/srv1-abc"
)


def test_parse_round_trips_and_exposes_parts() -> None:
    rid = ResourceId.parse(BI)
    assert str(rid) == BI
    assert rid.subscription_id == "11111111-1111-1111-1111-111111111111"
    assert rid.resource_group == "rg-backup"
    assert rid.provider == "Microsoft.DataProtection"
    assert rid.types == ("backupVaults", "backupInstances")
    assert rid.name == "srv1-abc"
    assert rid.resource_type == "Microsoft.DataProtection/backupVaults/backupInstances"


def test_parent_chain_walks_up_to_the_subscription() -> None:
    rid = ResourceId.parse(BI)
    vault = rid.parent
    assert vault is not None
    assert vault.name == "vault1"
    rg = vault.parent
    assert rg is not None
    assert str(rg) == rid.resource_group_id
    sub = rg.parent
    assert sub is not None
    assert str(sub) == rid.subscription_scope
    assert sub.parent is None


def test_child_and_build_agree() -> None:
    vault = ResourceId.build("s", "rg", "Microsoft.DataProtection", "backupVaults", "v")
    assert vault.child("backupPolicies", "p").same_as(
        "/SUBSCRIPTIONS/s/resourcegroups/rg/providers/microsoft.dataprotection/"
        "backupVaults/v/backupPolicies/p"
    )


@pytest.mark.parametrize(
    "text",
    ["", "/foo/bar", "/subscriptions", "/subscriptions/s/resourceGroups/rg/providers/P/t"],
)
def test_rejects_what_is_not_an_id(text: str) -> None:
    with pytest.raises(ValueError, match="resource id"):
        ResourceId.parse(text)
