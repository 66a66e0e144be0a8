"""Vaulted backup v2 restore-as-server target pre-flight and request body (#16.3)."""

from __future__ import annotations

import dataclasses

import pytest

from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.issues import Severity
from pgflex_gui.domain.models import FlexServer, RoleAssignment, Vault
from pgflex_gui.domain.restore_as_server import (
    CheckStatus,
    SourceFacts,
    TargetFacts,
    build_restore_as_server_request,
    checks_as_issues,
    target_checks,
    user_databases,
)

SUB = "00000000-0000-0000-0000-000000000001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg"
PG = "/providers/Microsoft.DBforPostgreSQL/flexibleServers/"
SOURCE_ID = ResourceId.parse(f"{RG}{PG}src")
TARGET_ID = ResourceId.parse(f"{RG}{PG}tgt")
VAULT = Vault(
    ResourceId.parse(f"{RG}/providers/Microsoft.DataProtection/backupVaults/vault1"),
    "westeurope",
    principal_id="vault-oid",
)
LTR = "c088a766-074b-43ba-90d4-1fb21feae531"


def target(**kw: object) -> FlexServer:
    base = FlexServer(
        TARGET_ID,
        "westeurope",
        "16",
        "Ready",
        sku_tier="GeneralPurpose",
        storage_gb=128,
        storage_type="Premium_LRS",
        replication_role="Primary",
        ha_mode="Disabled",
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def ltr(scope: str, principal: str = "vault-oid") -> RoleAssignment:
    return RoleAssignment(
        "ra",
        scope,
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{LTR}",
        principal,
    )


SOURCE = SourceFacts(SOURCE_ID, "16", 128, "Premium_LRS")
EMPTY = [("postgres", "azure_pg_admin"), ("azure_maintenance", "azuresu"), ("template1", "x")]


def facts(srv: FlexServer | None = None, **kw: object) -> TargetFacts:
    base = TargetFacts(
        srv if srv is not None else target(),
        databases=EMPTY,
        has_replicas=False,
        assignments=[ltr(str(TARGET_ID))],
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def status(checks: list, key: str) -> CheckStatus:  # type: ignore[type-arg]
    return next(c.status for c in checks if c.key == key)


def test_a_fitting_target_passes_every_check() -> None:
    checks = target_checks(SOURCE, facts(), VAULT)
    assert [c.key for c in checks] == [
        "exists",
        "empty",
        "tier",
        "version",
        "disk_size",
        "disk_type",
        "ha",
        "replication",
        "region",
        "role",
    ]
    assert all(c.status is CheckStatus.PASS for c in checks), checks
    assert checks_as_issues(checks) == []


def test_missing_target_fails_with_a_fix() -> None:
    checks = target_checks(SOURCE, TargetFacts(None), VAULT)
    assert [(c.key, c.status) for c in checks] == [("exists", CheckStatus.FAIL)]
    assert "Create" in checks[0].remedy


@pytest.mark.parametrize(
    ("key", "changes"),
    [
        ("tier", {"sku_tier": "Burstable"}),
        ("version", {"version": "17"}),
        ("version", {"version": "15"}),
        ("disk_size", {"storage_gb": 64}),
        ("disk_type", {"storage_type": "PremiumV2_LRS"}),
        ("ha", {"ha_mode": "ZoneRedundant"}),
        ("replication", {"replication_role": "GeoAsyncReplica"}),
        ("region", {"location": "northeurope"}),
    ],
)
def test_each_broken_server_rule_fails_with_a_fix(key: str, changes: dict[str, object]) -> None:
    checks = target_checks(SOURCE, facts(target(**changes)), VAULT)
    failed = [c for c in checks if c.blocks]
    assert [c.key for c in failed] == [key]
    assert failed[0].remedy
    issues = checks_as_issues(checks)
    assert [(i.field, i.severity) for i in issues] == [(f"target.{key}", Severity.ERROR)]


def test_larger_disk_is_a_warning_not_a_refusal() -> None:
    checks = target_checks(SOURCE, facts(target(storage_gb=256)), VAULT)
    assert status(checks, "disk_size") is CheckStatus.UNKNOWN
    assert not any(c.blocks for c in checks)
    issues = checks_as_issues(checks)
    assert [(i.field, i.severity) for i in issues] == [("target.disk_size", Severity.WARNING)]
    assert "not documented" in issues[0].message


def test_not_empty_target_fails() -> None:
    checks = target_checks(SOURCE, facts(databases=[*EMPTY, ("appdb", "admin")]), VAULT)
    assert status(checks, "empty") is CheckStatus.FAIL
    assert "appdb" in next(c.message for c in checks if c.key == "empty")
    assert user_databases([*EMPTY, ("appdb", "a")]) == ["appdb"]


def test_target_with_a_replica_fails() -> None:
    assert status(target_checks(SOURCE, facts(has_replicas=True), VAULT), "replication") is (
        CheckStatus.FAIL
    )


def test_missing_role_fails_and_inherited_role_passes() -> None:
    other = facts(assignments=[ltr(str(TARGET_ID), principal="someone-else")])
    assert status(target_checks(SOURCE, other, VAULT), "role") is CheckStatus.FAIL
    inherited = facts(assignments=[ltr(RG)])
    assert status(target_checks(SOURCE, inherited, VAULT), "role") is CheckStatus.PASS


def test_unknown_facts_are_unknown_never_pass() -> None:
    bare = target(
        sku_tier="", version="", storage_gb=0, storage_type="", replication_role="", ha_mode=""
    )
    checks = target_checks(
        SourceFacts(SOURCE_ID), TargetFacts(bare), dataclasses.replace(VAULT, principal_id="")
    )
    assert {c.key: c.status for c in checks} == {
        "exists": CheckStatus.PASS,
        "empty": CheckStatus.UNKNOWN,
        "tier": CheckStatus.UNKNOWN,
        "version": CheckStatus.UNKNOWN,
        "disk_size": CheckStatus.UNKNOWN,
        "disk_type": CheckStatus.UNKNOWN,
        "ha": CheckStatus.UNKNOWN,
        "replication": CheckStatus.UNKNOWN,
        "region": CheckStatus.PASS,
        "role": CheckStatus.UNKNOWN,
    }
    assert all(i.severity is Severity.WARNING for i in checks_as_issues(checks))


def test_source_facts_from_a_server() -> None:
    facts_ = SourceFacts.of(target(storage_type=""))
    assert (facts_.major_version, facts_.storage_gb, facts_.storage_type) == ("16", 128, None)


def test_restore_request_body() -> None:
    body = build_restore_as_server_request(
        recovery_point_id="rp1", source_server_id=SOURCE_ID, target=target(), vault=VAULT
    )
    assert body["objectType"] == "AzureBackupRecoveryPointBasedRestoreRequest"
    assert body["sourceDataStoreType"] == "VaultStore"
    assert body["sourceResourceId"] == str(SOURCE_ID)
    info = body["restoreTargetInfo"]
    assert info["objectType"] == "RestoreTargetInfo"
    assert info["recoveryOption"] == "FailIfExists"
    assert info["restoreLocation"] == "westeurope"
    assert info["datasourceInfo"]["resourceID"] == str(TARGET_ID)
    assert info["datasourceInfo"]["objectType"] == "Datasource"
    assert info["datasourceSetInfo"]["objectType"] == "DatasourceSet"
    assert body["identityDetails"] == {"useSystemAssignedIdentity": True}
    uami = build_restore_as_server_request(
        recovery_point_id="rp1",
        source_server_id=SOURCE_ID,
        target=target(),
        vault=VAULT,
        user_assigned_identity_id="/x/uami",
    )
    assert uami["identityDetails"]["userAssignedIdentityArmUrl"] == "/x/uami"
    with pytest.raises(ValueError):
        build_restore_as_server_request(
            recovery_point_id=" ", source_server_id=SOURCE_ID, target=target(), vault=VAULT
        )
