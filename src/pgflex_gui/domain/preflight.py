"""Checks before protecting a server, and the roles the vault's identity needs."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.issues import Issue, error, info, warning
from pgflex_gui.domain.models import (
    BackupInstance,
    FlexServer,
    ProtectionState,
    RoleAssignment,
    StorageAccount,
    Vault,
)

__all__ = [
    "EXCLUDED_DATABASE_NAMES",
    "EXCLUDED_OWNERS",
    "LTR_BACKUP_ROLE",
    "READER_ROLE",
    "RECOMMENDED_MAX_GB",
    "STORAGE_BLOB_DATA_CONTRIBUTOR_ROLE",
    "GrantScope",
    "RoleRequirement",
    "arm_template_for_roles",
    "az_script_for_roles",
    "backup_instance_name",
    "excluded_databases",
    "grant_scope",
    "missing_roles",
    "required_roles",
    "restore_roles",
    "scope_covers",
    "server_preflight",
]

LTR_BACKUP_ROLE = (
    "c088a766-074b-43ba-90d4-1fb21feae531",
    "PostgreSQL Flexible Server Long Term Retention Backup Role",
)
READER_ROLE = ("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader")
STORAGE_BLOB_DATA_CONTRIBUTOR_ROLE = (
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Contributor",
)
RECOMMENDED_MAX_GB = 4096
NEWER_DOCS_MAX_GB = 1024
EXCLUDED_OWNERS = frozenset({"azuresu", "azure_pg_admin"})
EXCLUDED_DATABASE_NAMES = frozenset(
    {"postgres", "azure_maintenance", "azure_sys", "template0", "template1"}
)
_STATE_REMEDY = {
    "stopped": "Start the server (Overview > Start) and try again.",
    "disabled": "The server is disabled; re-enable it (check the subscription) first.",
    "inaccessible": "The server can't be reached by Azure (often a customer-managed key "
    "problem); fix its key access first.",
}
_PORTAL_NETWORK = (
    "In the Azure portal open the server > Settings > Networking and allow trusted Microsoft "
    "services (Azure Backup) to access it."
)


def server_preflight(
    server: FlexServer,
    protecting_instances: Sequence[tuple[BackupInstance, str]],
    databases: Sequence[tuple[str, str]] | None,
) -> list[Issue]:
    """Everything that stops or affects protecting ``server``.

    Args:
        server: the server to protect.
        protecting_instances: existing backup instances for this server, with their vault names.
        databases: ``(name, owner)`` pairs when known, else None.
    """
    found: list[Issue] = []
    if server.state.lower() != "ready":
        found.append(
            error(
                "server.state",
                f"Server {server.name} is {server.state}. Azure Backup only backs up servers "
                "that are Ready (otherwise: ServerNotReadyForLongTermBackup).",
                _STATE_REMEDY.get(server.state.lower(), "Wait until the server is Ready."),
            )
        )
    for bi, vault_name in protecting_instances:
        if not bi.datasource_id.same_as(server.id):
            continue
        if bi.protection_state in {ProtectionState.SOFT_DELETED, ProtectionState.SOFT_DELETING}:
            found.append(
                error(
                    "server.protection",
                    f"A soft-deleted backup instance of {server.name} in vault {vault_name} "
                    "still holds the server; it can't be protected again yet.",
                    f"Undelete it in vault {vault_name} and resume protection, or wait until "
                    "the soft-delete retention ends and it is purged.",
                )
            )
        else:
            found.append(
                error(
                    "server.protection",
                    f"Server {server.name} is already protected by vault {vault_name} "
                    f"(backup instance {bi.name}, {bi.protection_state.value}). A server can "
                    "be protected by one vault only.",
                    "Use that backup instance, or stop protection and delete it first.",
                )
            )
    if server.storage_gb > RECOMMENDED_MAX_GB:
        found.append(
            warning(
                "server.size",
                f"The server has {server.storage_gb} GB of storage, above the recommended "
                f"maximum of 4 TB ({RECOMMENDED_MAX_GB} GB). Newer Microsoft docs state 1 TiB "
                "as the supported maximum; large backups may fail.",
            )
        )
    elif server.storage_gb > NEWER_DOCS_MAX_GB:
        found.append(
            info(
                "server.size",
                f"The server has {server.storage_gb} GB of storage. Newer Microsoft docs state "
                "1 TiB of data as the supported maximum for long-term backups.",
            )
        )
    if server.encryption.lower() == "azurekeyvault":
        found.append(
            info("server.encryption", "Customer-managed key encryption is supported for backup.")
        )
    if not server.public_network_access:
        found.append(
            warning(
                "server.network",
                "The server has no public network access. Azure Backup can reach it only if "
                "trusted Microsoft services are allowed.",
                _PORTAL_NETWORK,
            )
        )
    if databases is None:
        found.append(
            info(
                "server.databases",
                "Databases owned by azuresu or azure_pg_admin, including postgres, are not "
                "backed up and can't be restored.",
            )
        )
    else:
        excluded = excluded_databases(databases)
        if excluded:
            found.append(
                info(
                    "server.databases",
                    "Not in the backup (owned by azuresu or azure_pg_admin, or built in): "
                    + ", ".join(excluded)
                    + ".",
                )
            )
        if len(excluded) == len(databases):
            found.append(
                warning(
                    "server.databases",
                    "The server has no user database that Azure Backup would include.",
                    "Create your databases with your own admin login as owner.",
                )
            )
    return found


def excluded_databases(databases: Iterable[tuple[str, str]]) -> list[str]:
    """Sorted names of databases that the backup leaves out."""
    return sorted(
        name
        for name, owner in databases
        if owner.lower() in EXCLUDED_OWNERS or name.lower() in EXCLUDED_DATABASE_NAMES
    )


def backup_instance_name(server_name: str, guid: str | UUID) -> str:
    """``<server>-<guid>``, the name the docs recommend.

    Raises:
        ValueError: when ``guid`` is not a GUID.
    """
    return f"{server_name}-{UUID(str(guid))}"


class GrantScope(StrEnum):
    """How wide a role assignment is made (``--permissions-scope`` in the CLI)."""

    RESOURCE = "Resource"
    RESOURCE_GROUP = "ResourceGroup"
    SUBSCRIPTION = "Subscription"


@dataclass(frozen=True)
class RoleRequirement:
    """A role the vault identity needs at a scope (or any parent of it)."""

    role_guid: str
    role_name: str
    scope: str
    purpose: str = ""


def required_roles(server: FlexServer, vault: Vault) -> list[RoleRequirement]:
    """Roles vault ``vault`` needs to back up ``server``."""
    return [
        RoleRequirement(
            *LTR_BACKUP_ROLE,
            scope=str(server.id),
            purpose=f"lets vault {vault.name} take long-term backups of {server.name}",
        ),
        RoleRequirement(
            *READER_ROLE,
            scope=server.id.resource_group_id,
            purpose=f"lets vault {vault.name} find {server.name} in its resource group",
        ),
    ]


def restore_roles(account: StorageAccount, vault: Vault) -> list[RoleRequirement]:
    """Roles vault ``vault`` needs to write restored files into ``account``."""
    return [
        RoleRequirement(
            *STORAGE_BLOB_DATA_CONTRIBUTOR_ROLE,
            scope=str(account.id),
            purpose=f"lets vault {vault.name} write restored files to {account.name}",
        )
    ]


def scope_covers(parent: str, child: str) -> bool:
    """True when an assignment at ``parent`` applies at ``child`` (ARM scope inheritance)."""
    p = parent.strip().rstrip("/").lower()
    c = child.strip().rstrip("/").lower()
    return p == "" or c == p or c.startswith(p + "/")


def missing_roles(
    requirements: Iterable[RoleRequirement],
    assignments: Iterable[RoleAssignment],
    principal_id: str,
) -> list[RoleRequirement]:
    """Requirements not met by any assignment of ``principal_id`` at the scope or above."""
    mine = [a for a in assignments if a.principal_id.lower() == principal_id.lower()]
    return [
        req
        for req in requirements
        if not any(
            a.role_guid == req.role_guid.lower() and scope_covers(a.scope, req.scope) for a in mine
        )
    ]


def grant_scope(requirement: RoleRequirement, choice: GrantScope) -> str:
    """The scope to assign at: the requirement's own scope widened to ``choice``.

    A choice narrower than the requirement keeps the requirement's scope.
    """
    rid = ResourceId.parse(requirement.scope)
    if choice is GrantScope.SUBSCRIPTION:
        return rid.subscription_scope
    if choice is GrantScope.RESOURCE_GROUP and rid.resource_group:
        return rid.resource_group_id
    return str(rid)


def _assignment(role_guid: str, scope: str, inner_scope: str | None) -> dict[str, Any]:
    res: dict[str, Any] = {
        "type": "Microsoft.Authorization/roleAssignments",
        "apiVersion": "2022-04-01",
        "name": f"[guid('{scope.lower()}', parameters('principalId'), '{role_guid}')]",
        "properties": {
            "roleDefinitionId": "[subscriptionResourceId("
            f"'Microsoft.Authorization/roleDefinitions', '{role_guid}')]",
            "principalId": "[parameters('principalId')]",
            "principalType": "ServicePrincipal",
        },
    }
    if inner_scope:
        res["scope"] = inner_scope
    return res


def arm_template_for_roles(
    requirements: Iterable[RoleRequirement],
    principal_id: str,
    choice: GrantScope = GrantScope.RESOURCE,
) -> dict[str, Any]:
    """A subscription-level ARM template an administrator can deploy to grant the roles.

    Each assignment is a nested deployment into its own subscription (and resource group),
    so requirements spanning subscriptions work from one template.
    """
    resources: list[dict[str, Any]] = []
    for index, req in enumerate(requirements):
        scope = grant_scope(req, choice)
        rid = ResourceId.parse(scope)
        inner_scope = None
        if rid.names:
            inner_scope = "/".join(
                [rid.provider, *(f"{t}/{n}" for t, n in zip(rid.types, rid.names, strict=True))]
            )
        inner = {
            "$schema": (
                "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
                if rid.resource_group
                else "https://schema.management.azure.com/schemas/2018-05-01/"
                "subscriptionDeploymentTemplate.json#"
            ),
            "contentVersion": "1.0.0.0",
            "parameters": {"principalId": {"type": "string"}},
            "resources": [_assignment(req.role_guid, scope, inner_scope)],
        }
        deployment: dict[str, Any] = {
            "type": "Microsoft.Resources/deployments",
            "apiVersion": "2022-09-01",
            "name": f"pgflex-role-{index}",
            "subscriptionId": rid.subscription_id,
            "properties": {
                "mode": "Incremental",
                "expressionEvaluationOptions": {"scope": "inner"},
                "parameters": {"principalId": {"value": "[parameters('principalId')]"}},
                "template": inner,
            },
        }
        if rid.resource_group:
            deployment["resourceGroup"] = rid.resource_group
        else:
            deployment["location"] = "[deployment().location]"
        resources.append(deployment)
    return {
        "$schema": "https://schema.management.azure.com/schemas/2018-05-01/"
        "subscriptionDeploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "principalId": {
                "type": "string",
                "defaultValue": principal_id,
                "metadata": {"description": "Object id of the backup vault's managed identity"},
            }
        },
        "resources": resources,
    }


def az_script_for_roles(
    requirements: Iterable[RoleRequirement],
    principal_id: str,
    choice: GrantScope = GrantScope.RESOURCE,
) -> str:
    """An Azure CLI script (bash) an administrator can run to grant the roles."""
    lines = [
        "#!/usr/bin/env bash",
        "# Grants the backup vault's managed identity the roles pgflex-gui found missing.",
        "# Run as someone allowed to create role assignments (Owner, User Access",
        "# Administrator or Role Based Access Control Administrator).",
        "set -euo pipefail",
        f"PRINCIPAL_ID={shlex.quote(principal_id)}",
    ]
    for req in requirements:
        scope = grant_scope(req, choice)
        lines.append("")
        lines.append(f"# {req.role_name}" + (f": {req.purpose}" if req.purpose else ""))
        lines.append(
            'az role assignment create --assignee-object-id "$PRINCIPAL_ID" '
            "--assignee-principal-type ServicePrincipal "
            f"--role {req.role_guid} --scope {shlex.quote(scope)}"
        )
    return "\n".join(lines) + "\n"
