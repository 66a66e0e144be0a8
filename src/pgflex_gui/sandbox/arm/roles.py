"""Built-in role definitions the sandbox knows, and role checks over assignments."""

from __future__ import annotations

from typing import Any

__all__ = [
    "BLOB_DATA_CONTRIBUTOR",
    "BLOB_DATA_OWNER",
    "BUILTIN_ROLES",
    "CONTRIBUTOR",
    "LTR_BACKUP",
    "OWNER",
    "READER",
    "USER_ACCESS_ADMIN",
    "role_definition",
]

OWNER = "8e3af657-a8ff-4675-940d-6b78f7a9ea8c"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
USER_ACCESS_ADMIN = "18d7d88d-d35e-4b8f-bcd6-a38e41bb9b49"
LTR_BACKUP = "c088a766-074b-43ba-90d4-1fb21feae531"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"

_PG = "Microsoft.DBforPostgreSQL/flexibleServers"
BUILTIN_ROLES: dict[str, dict[str, Any]] = {
    OWNER: {"roleName": "Owner", "actions": ["*"], "dataActions": []},
    CONTRIBUTOR: {
        "roleName": "Contributor",
        "actions": ["*"],
        "notActions": [
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
        ],
        "dataActions": [],
    },
    READER: {"roleName": "Reader", "actions": ["*/read"], "dataActions": []},
    USER_ACCESS_ADMIN: {
        "roleName": "User Access Administrator",
        "actions": ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        "dataActions": [],
    },
    LTR_BACKUP: {
        "roleName": "PostgreSQL Flexible Server Long Term Retention Backup Role",
        "actions": [
            f"{_PG}/ltrBackup/action",
            f"{_PG}/ltrBackupAccess/action",
            f"{_PG}/ltrBackupOperations/read",
            f"{_PG}/ltrBackupPreCheck/action",
            f"{_PG}/ltrPreBackup/action",
            f"{_PG}/ltrRestoreFinalize/action",
            f"{_PG}/ltrRestoreInitialize/action",
            f"{_PG}/ltrRestorePreCheck/action",
            f"{_PG}/read",
            f"{_PG}/startLtrBackup/action",
            "Microsoft.DBforPostgreSQL/locations/azureAsyncOperation/read",
            "Microsoft.DBforPostgreSQL/locations/operationResults/read",
            "Microsoft.Resources/subscriptions/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        ],
        "dataActions": [],
    },
    BLOB_DATA_CONTRIBUTOR: {
        "roleName": "Storage Blob Data Contributor",
        "actions": [
            "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
            "Microsoft.Storage/storageAccounts/blobServices/containers/read",
            "Microsoft.Storage/storageAccounts/blobServices/containers/write",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ],
        "dataActions": [
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
        ],
    },
    BLOB_DATA_OWNER: {
        "roleName": "Storage Blob Data Owner",
        "actions": [
            "Microsoft.Storage/storageAccounts/blobServices/containers/*",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ],
        "dataActions": ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"],
    },
}


def role_definition(scope: str, role_id: str) -> dict[str, Any]:
    """The ARM JSON of a built-in role definition as seen from ``scope``."""
    info = BUILTIN_ROLES[role_id]
    return {
        "id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleDefinitions/{role_id}",
        "name": role_id,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": info["roleName"],
            "type": "BuiltInRole",
            "description": f"Built-in role {info['roleName']}",
            "assignableScopes": ["/"],
            "permissions": [
                {
                    "actions": info["actions"],
                    "notActions": info.get("notActions", []),
                    "dataActions": info["dataActions"],
                    "notDataActions": [],
                }
            ],
            "createdOn": "2015-02-02T21:55:09.8806423Z",
            "updatedOn": "2024-01-01T00:00:00.0000000Z",
        },
    }
