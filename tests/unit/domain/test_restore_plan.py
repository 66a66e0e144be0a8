"""Restore target rules and restore request bodies."""

import pytest

from pgflex_gui.domain.issues import Severity, has_errors
from pgflex_gui.domain.restore_plan import (
    DEFAULT_FILE_PREFIX,
    RestoreTarget,
    build_cross_region_restore_request,
    build_restore_request,
    build_validate_restore_request,
    restore_issues,
    restore_location,
    target_version_ok,
)

from .factories import SUB_B, account, container, server, vault


def fields(issues: list) -> list[str]:  # type: ignore[type-arg]
    return [i.field for i in issues if i.blocks]


def test_same_region_same_subscription_is_fine() -> None:
    assert restore_issues(vault(), server(), account(), cross_region=False, same_tenant=True) == []
    assert (
        restore_issues(
            vault(), None, account(location="West Europe"), cross_region=False, same_tenant=True
        )
        == []
    )


def test_other_tenant_and_region_block() -> None:
    found = restore_issues(
        vault(), server(), account(location="northeurope"), cross_region=False, same_tenant=False
    )
    assert fields(found) == ["target.tenant", "target.region"]
    # A locally redundant vault cannot restore across regions: no such hint.
    assert "Cross Region Restore" not in found[1].remedy
    grs = restore_issues(
        vault(redundancy="GeoRedundant", cross_region_restore=True),
        server(),
        account(location="northeurope"),
        cross_region=False,
        same_tenant=True,
    )
    assert "Cross Region Restore, in northeurope" in grs[0].remedy
    unpaired = restore_issues(
        vault(location="italynorth"),
        None,
        account(location="westeurope"),
        cross_region=False,
        same_tenant=True,
    )
    assert unpaired[0].remedy == "Choose an account in italynorth."


def test_cross_region_needs_grs_crr_and_the_pair() -> None:
    grs = vault(redundancy="GeoRedundant", cross_region_restore=True)
    ok = restore_issues(
        grs, server(), account(location="northeurope"), cross_region=True, same_tenant=True
    )
    assert ok == []
    wrong = restore_issues(
        grs, server(), account(location="westeurope"), cross_region=True, same_tenant=True
    )
    assert fields(wrong) == ["target.region"]
    assert "northeurope" in wrong[0].message
    lrs = restore_issues(
        vault(), None, account(location="northeurope"), cross_region=True, same_tenant=True
    )
    assert "not geo-redundant" in lrs[0].message
    off = restore_issues(
        vault(redundancy="GeoRedundant"),
        None,
        account(location="northeurope"),
        cross_region=True,
        same_tenant=True,
    )
    assert "Cross Region Restore is off" in off[0].message
    nopair = restore_issues(
        vault(location="italynorth", redundancy="GeoRedundant", cross_region_restore=True),
        None,
        account(location="italynorth"),
        cross_region=True,
        same_tenant=True,
    )
    assert "no paired region" in nopair[0].message


@pytest.mark.parametrize(
    ("state", "blocks"), [("Enabled", False), ("Disabled", True), ("PermanentlyDisabled", True)]
)
def test_cross_subscription(state: str, blocks: bool) -> None:
    found = restore_issues(
        vault(cross_subscription_restore=state),
        None,
        account(sub=SUB_B),
        cross_region=False,
        same_tenant=True,
    )
    assert has_errors(found) is blocks
    assert found[0].field == "target.subscription"


def test_account_settings() -> None:
    v = vault()
    found = restore_issues(
        v, None, account(allow_cross_tenant_replication=False), cross_region=False, same_tenant=True
    )
    assert fields(found) == ["target.account"]
    assert "cross-tenant" in found[0].remedy
    closed = restore_issues(
        v, None, account(public_network_access="Disabled"), cross_region=False, same_tenant=True
    )
    assert fields(closed) == ["target.network"]
    assert "resource instance rule" in closed[0].remedy
    selected = account(default_action="Deny", bypass="Logging, Metrics")
    found = restore_issues(v, None, selected, cross_region=False, same_tenant=True)
    assert [i.severity for i in found] == [Severity.ERROR, Severity.WARNING]
    good = account(
        default_action="Deny",
        bypass="Logging, AzureServices",
        resource_access_rule_ids=(str(v.id).upper(),),
    )
    assert restore_issues(v, None, good, cross_region=False, same_tenant=True) == []


def test_restore_request_body() -> None:
    arm = (
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/"
        "blobServices/default/containers/c"
    )
    body = build_restore_request("rp1", "https://a.blob.core.windows.net/c/", arm, "West Europe")
    assert body == {
        "objectType": "AzureBackupRecoveryPointBasedRestoreRequest",
        "recoveryPointId": "rp1",
        "sourceDataStoreType": "VaultStore",
        "restoreTargetInfo": {
            "objectType": "RestoreFilesTargetInfo",
            "recoveryOption": "FailIfExists",
            "restoreLocation": "westeurope",
            "targetDetails": {
                "url": "https://a.blob.core.windows.net/c",
                "filePrefix": DEFAULT_FILE_PREFIX,
                "restoreTargetLocationType": "AzureBlobs",
                "targetResourceArmId": arm,
            },
        },
    }
    no_arm = build_restore_request(
        "rp1", "http://127.0.0.1:10000/devstoreaccount1/c", None, "westeurope", "pgflex"
    )
    assert "targetResourceArmId" not in no_arm["restoreTargetInfo"]["targetDetails"]
    assert no_arm["restoreTargetInfo"]["targetDetails"]["filePrefix"] == "pgflex"
    assert build_validate_restore_request(body) == {
        "objectType": "ValidateRestoreRequestObject",
        "restoreRequestObject": body,
    }
    crr = build_cross_region_restore_request(body, "/bi/id", "West Europe")
    assert crr["crossRegionRestoreDetails"] == {
        "sourceBackupInstanceId": "/bi/id",
        "sourceRegion": "westeurope",
    }


@pytest.mark.parametrize(
    "args",
    [
        ("", "https://x/c", None, "westeurope"),
        ("rp", "ftp://x/c", None, "westeurope"),
        ("rp", "https://x/c", None, " "),
        ("rp", "https://x/c", None, "westeurope", ""),
    ],
)
def test_restore_request_refuses_bad_input(args: tuple) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=r"empty|URL"):
        build_restore_request(*args)


def test_restore_location_and_target() -> None:
    grs = vault(redundancy="GeoRedundant", cross_region_restore=True)
    assert restore_location(grs, cross_region=False) == "westeurope"
    assert restore_location(grs, cross_region=True) == "northeurope"
    with pytest.raises(ValueError, match="no paired region"):
        restore_location(vault(location="italynorth"), cross_region=True)
    acct = account()
    target = RestoreTarget(acct, container(acct), cross_region=True)
    req = target.request(grs, "rp9")
    details = req["restoreTargetInfo"]["targetDetails"]
    assert req["restoreTargetInfo"]["restoreLocation"] == "northeurope"
    assert details["url"] == "https://acct1.blob.core.windows.net/restore"
    assert details["targetResourceArmId"].endswith("/blobServices/default/containers/restore")


@pytest.mark.parametrize(
    ("dump", "srv", "ok"),
    [(15, 16, True), ("16", "16", True), ("17.2", 16, False), ("11", "18.1", True)],
)
def test_target_version_ok(dump: int | str, srv: int | str, ok: bool) -> None:
    assert target_version_ok(dump, srv) is ok


def test_target_version_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        target_version_ok("x", 16)
