"""Server preflight checks and vault identity roles."""

import uuid

import pytest

from pgflex_gui.domain.issues import Severity, has_errors
from pgflex_gui.domain.models import ProtectionState, RoleAssignment
from pgflex_gui.domain.preflight import (
    LTR_BACKUP_ROLE,
    READER_ROLE,
    GrantScope,
    RoleRequirement,
    arm_template_for_roles,
    az_script_for_roles,
    backup_instance_name,
    excluded_databases,
    grant_scope,
    missing_roles,
    required_roles,
    restore_roles,
    scope_covers,
    server_preflight,
)

from .factories import SUB_A, SUB_B, account, instance, server, vault

USER_DBS = [
    ("sales", "pgadmin"),
    ("postgres", "azure_pg_admin"),
    ("azure_sys", "azuresu"),
    ("azure_maintenance", "azuresu"),
    ("template1", "pgadmin"),
]


def severities(issues: list) -> list[Severity]:  # type: ignore[type-arg]
    return [i.severity for i in issues]


def test_ready_public_server_with_known_databases() -> None:
    found = server_preflight(server(), [], USER_DBS)
    assert severities(found) == [Severity.INFO]
    assert "azure_maintenance, azure_sys, postgres, template1" in found[0].message


@pytest.mark.parametrize(
    ("state", "hint"),
    [
        ("Stopped", "Start the server"),
        ("Updating", "Wait until"),
        ("Inaccessible", "key"),
        ("Disabled", "re-enable"),
    ],
)
def test_not_ready_blocks_with_advice(state: str, hint: str) -> None:
    found = server_preflight(server(state=state), [], None)
    assert found[0].blocks
    assert state in found[0].message
    assert hint in found[0].remedy


def test_already_protected_and_soft_deleted() -> None:
    srv, v = server(), vault()
    found = server_preflight(srv, [(instance(srv, v), "vault1")], None)
    assert found[0].blocks
    assert "already protected by vault vault1" in found[0].message
    soft = server_preflight(srv, [(instance(srv, v, ProtectionState.SOFT_DELETED), "vault1")], None)
    assert soft[0].blocks
    assert "soft-deleted" in soft[0].message
    assert "Undelete" in soft[0].remedy
    assert "purged" in soft[0].remedy
    other = instance(server("other"), v)
    assert not has_errors(server_preflight(srv, [(other, "vault1")], None))


def test_size_encryption_and_network() -> None:
    found = server_preflight(
        server(storage_gb=8192, encryption="AzureKeyVault", public_network_access=False), [], None
    )
    assert severities(found) == [Severity.WARNING, Severity.INFO, Severity.WARNING, Severity.INFO]
    assert "4 TB" in found[0].message
    assert "1 TiB" in found[0].message
    assert "Customer-managed" in found[1].message
    assert "trusted Microsoft services" in found[2].message
    assert "Networking" in found[2].remedy
    assert "azuresu" in found[3].message
    mid = server_preflight(server(storage_gb=2048), [], None)
    assert "1 TiB" in mid[0].message
    assert mid[0].severity is Severity.INFO
    assert len(server_preflight(server(storage_gb=1024), [], None)) == 1


def test_no_user_database_warns() -> None:
    found = server_preflight(server(), [], [("postgres", "azure_pg_admin")])
    assert severities(found) == [Severity.INFO, Severity.WARNING]
    assert excluded_databases([("x", "AzureSU"), ("y", "me")]) == ["x"]


def test_backup_instance_name() -> None:
    g = uuid.UUID("857d23b1-c679-4c94-ade6-c4d34635e149")
    assert backup_instance_name("pg1", g) == "pg1-857d23b1-c679-4c94-ade6-c4d34635e149"
    assert backup_instance_name("pg1", str(g).upper()) == backup_instance_name("pg1", g)
    with pytest.raises(ValueError, match="badly formed"):
        backup_instance_name("pg1", "nope")


def test_required_roles_and_scopes() -> None:
    srv, v = server(), vault()
    ltr, reader = required_roles(srv, v)
    assert (ltr.role_guid, ltr.role_name, ltr.scope) == (*LTR_BACKUP_ROLE, str(srv.id))
    assert (reader.role_guid, reader.scope) == (READER_ROLE[0], srv.id.resource_group_id)
    (blob,) = restore_roles(account(), v)
    assert blob.role_guid == "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
    assert grant_scope(ltr, GrantScope.RESOURCE) == str(srv.id)
    assert grant_scope(ltr, GrantScope.RESOURCE_GROUP) == srv.id.resource_group_id
    assert grant_scope(ltr, GrantScope.SUBSCRIPTION) == f"/subscriptions/{SUB_A}"
    assert grant_scope(reader, GrantScope.RESOURCE) == srv.id.resource_group_id
    sub_req = RoleRequirement("g", "n", f"/subscriptions/{SUB_A}")
    assert grant_scope(sub_req, GrantScope.RESOURCE_GROUP) == f"/subscriptions/{SUB_A}"


def assignment(role: str, scope: str, principal: str = "p1") -> RoleAssignment:
    return RoleAssignment(
        id="a",
        scope=scope,
        principal_id=principal,
        role_definition_id=f"/subscriptions/{SUB_A}/providers/Microsoft.Authorization/"
        f"roleDefinitions/{role}",
    )


def test_missing_roles_honours_inheritance_and_case() -> None:
    srv, v = server(), vault()
    reqs = required_roles(srv, v)
    assert missing_roles(reqs, [], "p1") == reqs
    at_sub = [
        assignment(LTR_BACKUP_ROLE[0].upper(), f"/SUBSCRIPTIONS/{SUB_A}"),
        assignment(READER_ROLE[0], srv.id.resource_group_id.upper() + "/"),
    ]
    assert missing_roles(reqs, at_sub, "P1") == []
    wrong_principal = [assignment(LTR_BACKUP_ROLE[0], str(srv.id), "p2")]
    assert missing_roles(reqs, wrong_principal, "p1") == reqs
    too_narrow = [assignment(READER_ROLE[0], str(srv.id))]  # Reader on the server, not the RG
    assert missing_roles(reqs, too_narrow, "p1") == reqs
    root = [assignment(LTR_BACKUP_ROLE[0], "/"), assignment(READER_ROLE[0], "/")]
    assert missing_roles(reqs, root, "p1") == []


@pytest.mark.parametrize(
    ("parent", "child", "covers"),
    [
        ("/subscriptions/s", "/subscriptions/s/resourceGroups/rg", True),
        ("/subscriptions/s", "/subscriptions/s2/resourceGroups/rg", False),
        ("/subscriptions/s/resourceGroups/rg", "/subscriptions/s/resourceGroups/rg2", False),
        (
            "/subscriptions/s/resourceGroups/rg",
            "/subscriptions/s/resourcegroups/RG/providers/x/y/z",
            True,
        ),
        (
            "/subscriptions/s/resourceGroups/rg/providers/x/y/z",
            "/subscriptions/s/resourceGroups/rg",
            False,
        ),
    ],
)
def test_scope_covers(parent: str, child: str, covers: bool) -> None:
    assert scope_covers(parent, child) is covers


def test_arm_template_for_roles() -> None:
    srv, v = server(), vault()
    reqs = [*required_roles(srv, v), RoleRequirement("g", "Sub role", f"/subscriptions/{SUB_B}")]
    tpl = arm_template_for_roles(reqs, "pid-1")
    assert tpl["parameters"]["principalId"]["defaultValue"] == "pid-1"
    ltr, reader, sub = tpl["resources"]
    assert ltr["subscriptionId"] == SUB_A
    assert ltr["resourceGroup"] == "rg-db"
    inner = ltr["properties"]["template"]["resources"][0]
    assert inner["scope"] == "Microsoft.DBforPostgreSQL/flexibleServers/pg1"
    assert LTR_BACKUP_ROLE[0] in inner["properties"]["roleDefinitionId"]
    assert inner["properties"]["principalType"] == "ServicePrincipal"
    assert "scope" not in reader["properties"]["template"]["resources"][0]
    assert sub["subscriptionId"] == SUB_B
    assert "resourceGroup" not in sub
    assert "subscriptionDeploymentTemplate" in sub["properties"]["template"]["$schema"]
    wide = arm_template_for_roles(reqs[:1], "pid-1", GrantScope.RESOURCE_GROUP)
    assert "scope" not in wide["resources"][0]["properties"]["template"]["resources"][0]


def test_az_script_for_roles() -> None:
    srv, v = server(), vault()
    script = az_script_for_roles(required_roles(srv, v), "pid 1", GrantScope.SUBSCRIPTION)
    assert script.startswith("#!/usr/bin/env bash")
    assert "PRINCIPAL_ID='pid 1'" in script
    assert script.count("az role assignment create") == 2
    assert f"--role {LTR_BACKUP_ROLE[0]} --scope /subscriptions/{SUB_A}\n" in script
    bare = az_script_for_roles([RoleRequirement("g", "Reader", f"/subscriptions/{SUB_A}")], "p")
    assert "# Reader\n" in bare


def test_only_user_databases_gives_no_database_issue() -> None:
    assert server_preflight(server(), [], [("sales", "pgadmin")]) == []
