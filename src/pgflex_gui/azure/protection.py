"""Writes that set up and manage protection: vaults, policies, roles, backup instances.

Long-running operations return :class:`~pgflex_gui.azure.clients.Lro` handles whose
continuation token is available at once; pass it back as ``continuation_token=`` to resume
after a restart. Every write reports to ``audit(what=..., target=..., result=...)`` when an
audit callback is given: synchronous writes once, long-running ones when started and when
finished.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from azure.core.exceptions import HttpResponseError

from pgflex_gui.azure import convert
from pgflex_gui.azure.clients import Lro
from pgflex_gui.azure.errors import azure_call, error_info, logged
from pgflex_gui.azure.service import AuditedService
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import (
    PG_FLEX_DATASOURCE_TYPE,
    BackupInstance,
    FlexServer,
    PolicyInfo,
    RoleAssignment,
    Vault,
)
from pgflex_gui.domain.policy import BACKUP_RULE_NAME

__all__ = [
    "ROLE_ADMIN_GUIDS",
    "ROLE_ADMIN_NAMES",
    "ProtectionService",
    "allows_action",
    "backup_instance_body",
    "is_scope_within",
    "role_definition_id",
    "token_object_id",
]

log = logging.getLogger(__name__)


# Read-only backup instance fields that a PUT must not echo back.
_BI_READ_ONLY = (
    "currentProtectionState",
    "protectionStatus",
    "protectionErrorDetails",
    "provisioningState",
)


ROLE_ASSIGNMENTS_WRITE = "Microsoft.Authorization/roleAssignments/write"
# Owner, User Access Administrator, Role Based Access Control Administrator.
ROLE_ADMIN_GUIDS = frozenset(
    {
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
    }
)
ROLE_ADMIN_NAMES = frozenset(
    {"owner", "user access administrator", "role based access control administrator"}
)


def allows_action(actions: Iterable[str], not_actions: Iterable[str], action: str) -> bool:
    """True when a role's ``actions`` (wildcards allowed) grant ``action`` and no
    ``notActions`` entry takes it away (ARM matching is case-insensitive)."""
    low = action.lower()

    def hit(patterns: Iterable[str]) -> bool:
        return any(fnmatch.fnmatchcase(low, p.lower()) for p in patterns)

    return hit(actions) and not hit(not_actions)


def token_object_id(token: str) -> str:
    """The ``oid`` claim of a JWT access token (read, not verified: it is our own token)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (IndexError, ValueError, binascii.Error, UnicodeError):
        return ""
    return str(claims.get("oid", "")) if isinstance(claims, dict) else ""


def role_definition_id(subscription_id: str, role: str) -> str:
    """The full role definition id for a built-in role GUID (a full id is returned as is)."""
    if role.startswith("/"):
        return role
    return (
        f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    )


def is_scope_within(inner: str, outer: str) -> bool:
    """True when ``outer`` is ``inner`` or one of its parents (ARM ids, case-insensitive)."""
    a = [p for p in inner.lower().split("/") if p]
    b = [p for p in outer.lower().split("/") if p]
    return len(b) <= len(a) and a[: len(b)] == b


def backup_instance_body(server: FlexServer, policy_id: ResourceId | str) -> dict[str, Any]:
    """The PUT body of a PG flex backup instance (azure-facts §3), system-assigned identity."""
    datasource = {
        "resourceID": str(server.id),
        "resourceName": server.name,
        "resourceType": PG_FLEX_DATASOURCE_TYPE,
        "datasourceType": PG_FLEX_DATASOURCE_TYPE,
        "resourceLocation": server.location,
        "resourceUri": "",
    }
    return {
        "properties": {
            "objectType": "BackupInstance",
            "friendlyName": server.name,
            "dataSourceInfo": {"objectType": "Datasource", **datasource},
            "dataSourceSetInfo": {"objectType": "DatasourceSet", **datasource},
            "policyInfo": {"policyId": str(policy_id)},
            "identityDetails": {"useSystemAssignedIdentity": True},
        }
    }


def _unwrap(body: Mapping[str, Any]) -> dict[str, Any]:
    """The BackupInstance object itself, whether or not it is wrapped in ``properties``."""
    inner = body.get("properties")
    return dict(inner) if isinstance(inner, Mapping) else dict(body)


def _wrap(body: Mapping[str, Any]) -> dict[str, Any]:
    return dict(body) if isinstance(body.get("properties"), Mapping) else {"properties": body}


class ProtectionService(AuditedService):
    """Vault, policy, role and backup-instance writes. Methods block and raise ``AppError``."""

    # -- audit helpers ---------------------------------------------------------------------

    # -- vaults and policies ---------------------------------------------------------------

    def begin_create_vault(
        self,
        vault_id: ResourceId,
        *,
        body: Mapping[str, Any] | None = None,
        location: str = "",
        redundancy: str = "LocallyRedundant",
        cross_region_restore: bool = False,
        soft_delete: str = "On",
        soft_delete_days: int = 14,
        tags: Mapping[str, str] | None = None,
        continuation_token: str | None = None,
    ) -> Lro[Vault]:
        """Create a backup vault with a system-assigned identity (long-running).

        ``body`` is the full PUT body from ``domain.vault_rules.build_vault_body`` (immutability,
        cross-subscription restore and every other setting of a ``VaultDraft``); without it
        the body is built from the keyword arguments.
        """
        if body is None:
            if not location and continuation_token is None:
                raise ValueError("begin_create_vault needs a body or a location")
            properties: dict[str, Any] = {
                "storageSettings": [{"datastoreType": "VaultStore", "type": redundancy}],
                "securitySettings": {
                    "softDeleteSettings": {
                        "state": soft_delete,
                        "retentionDurationInDays": soft_delete_days,
                    }
                },
            }
            if cross_region_restore:
                properties["featureSettings"] = {"crossRegionRestoreSettings": {"state": "Enabled"}}
            put: dict[str, Any] = {
                "location": location,
                "identity": {"type": "SystemAssigned"},
                "properties": properties,
            }
            if tags:
                put["tags"] = dict(tags)
        else:
            put = json.loads(json.dumps(dict(body)))  # a deep, plain copy
            put.setdefault("identity", {"type": "SystemAssigned"})
        client: Any = self._factory.dataprotection(vault_id.subscription_id)
        return self._begin(
            "create the backup vault",
            str(vault_id),
            lambda: client.backup_vaults.begin_create_or_update(
                vault_id.resource_group,
                vault_id.name,
                put,
                continuation_token=continuation_token,
            ),
            convert.vault,
            resumed=continuation_token is not None,
        )

    def create_policy(self, vault_id: ResourceId, name: str, body: Mapping[str, Any]) -> PolicyInfo:
        """PUT a backup policy (synchronous). ``body`` is built by the policy flow."""
        client: Any = self._factory.dataprotection(vault_id.subscription_id)
        target = str(vault_id.child("backupPolicies", name))
        raw = self._write(
            "create the backup policy",
            target,
            lambda: client.backup_policies.create_or_update(
                vault_id.resource_group, vault_id.name, name, _wrap(body)
            ),
        )
        return convert.policy(raw)

    def delete_policy(self, policy_id: ResourceId) -> None:
        """Delete a backup policy (synchronous). Azure refuses a policy still in use."""
        vault_id = policy_id.parent
        if vault_id is None:
            raise ValueError(f"not a backup policy id: {policy_id}")
        client: Any = self._factory.dataprotection(vault_id.subscription_id)
        self._write(
            "delete the backup policy",
            str(policy_id),
            lambda: client.backup_policies.delete(
                vault_id.resource_group, vault_id.name, policy_id.name
            ),
        )

    # -- role assignments ------------------------------------------------------------------

    def list_role_assignments(self, principal_id: str, scope: str) -> list[RoleAssignment]:
        """Assignments of ``principal_id`` that apply at ``scope``, inherited ones included."""
        sub = ResourceId.parse(scope).subscription_id
        client: Any = self._factory.authorization(sub)
        with azure_call("list role assignments"):
            raw = list(
                client.role_assignments.list_for_scope(
                    scope, filter=f"principalId eq '{principal_id}'"
                )
            )
        found = [convert.role_assignment(r) for r in raw]
        return [
            a
            for a in found
            if a.principal_id.lower() == principal_id.lower()
            and (not a.scope or is_scope_within(scope, a.scope))
        ]

    def signed_in_object_id(self, subscription_id: str) -> str:
        """The object id of the signed-in principal (user or app) in the subscription's tenant."""
        credential = self._factory.credential_for(subscription_id)
        with azure_call("read the signed-in identity"):
            token = credential.get_token(self._factory.cloud.credential_scope).token
        return token_object_id(token)

    def can_assign_roles(self, scope: str) -> bool:
        """True when the signed-in principal may write role assignments at ``scope``.

        Its assignments at ``scope`` (inherited ones included) are listed; Owner, User Access
        Administrator and Role Based Access Control Administrator answer at once, any other
        role counts when its definition allows ``roleAssignments/write``.
        """
        sub = ResourceId.parse(scope).subscription_id
        principal = self.signed_in_object_id(sub)
        if not principal:
            return False
        assignments = self.list_role_assignments(principal, scope)
        if any(a.role_guid in ROLE_ADMIN_GUIDS for a in assignments):
            return True
        client: Any = self._factory.authorization(sub)
        for definition_id in {a.role_definition_id for a in assignments}:
            with azure_call("read a role definition"):
                raw = convert.as_dict(client.role_definitions.get_by_id(definition_id))
            props = convert.get(raw, "properties", default={}) or {}
            name = str(props.get("roleName") or "").lower()
            if name in ROLE_ADMIN_NAMES:
                return True
            for perm in props.get("permissions") or []:
                if allows_action(
                    perm.get("actions") or [], perm.get("notActions") or [], ROLE_ASSIGNMENTS_WRITE
                ):
                    return True
        return False

    def create_role_assignment(
        self,
        *,
        scope: str,
        role: str,
        principal_id: str,
        principal_type: str = "ServicePrincipal",
    ) -> RoleAssignment:
        """Assign ``role`` (built-in GUID or full definition id) at ``scope``.

        An assignment that already exists is returned rather than reported as an error.
        """
        sub = ResourceId.parse(scope).subscription_id
        definition = role_definition_id(sub, role)
        client: Any = self._factory.authorization(sub)
        body = {
            "properties": {
                "roleDefinitionId": definition,
                "principalId": principal_id,
                "principalType": principal_type,
            }
        }
        name = str(uuid.uuid4())
        what = f"assign role {definition.rsplit('/', 1)[-1]}"
        try:
            raw = client.role_assignments.create(scope, name, body)
        except HttpResponseError as exc:
            if error_info(exc).code.lower() == "roleassignmentexists":
                guid = definition.rsplit("/", 1)[-1].lower()
                for existing in self.list_role_assignments(principal_id, scope):
                    if existing.role_guid == guid:
                        self._record(what, scope, "already assigned")
                        return existing
            err = logged(exc, what)
            self._record(what, scope, f"failed: {err.azure_code or err.summary}")
            raise err from exc
        except Exception as exc:
            err = logged(exc, what)
            self._record(what, scope, f"failed: {err.azure_code or err.summary}")
            raise err from exc
        self._record(what, scope, "succeeded")
        return convert.role_assignment(raw)

    # -- backup instances ------------------------------------------------------------------

    def begin_validate_for_backup(
        self,
        vault_id: ResourceId,
        instance_body: Mapping[str, Any],
        *,
        continuation_token: str | None = None,
    ) -> Lro[None]:
        """Ask the vault whether it can protect the datasource (long-running, no result).

        Missing roles surface as ``AppError`` with ``azure_code`` such as
        ``UserErrorMissingRequiredPermissions``.
        """
        client: Any = self._factory.dataprotection(vault_id.subscription_id)
        body = {"backupInstance": _unwrap(instance_body)}
        return self._begin(
            "validate the backup configuration",
            str(vault_id),
            lambda: client.backup_instances.begin_validate_for_backup(
                vault_id.resource_group,
                vault_id.name,
                body,
                continuation_token=continuation_token,
            ),
            lambda _raw: None,
            resumed=continuation_token is not None,
        )

    def begin_create_backup_instance(
        self,
        vault_id: ResourceId,
        name: str,
        instance_body: Mapping[str, Any],
        *,
        continuation_token: str | None = None,
    ) -> Lro[BackupInstance]:
        """PUT a backup instance named ``name`` (long-running)."""
        client: Any = self._factory.dataprotection(vault_id.subscription_id)
        body = _wrap(instance_body)
        return self._begin(
            "configure protection",
            str(vault_id.child("backupInstances", name)),
            lambda: client.backup_instances.begin_create_or_update(
                vault_id.resource_group,
                vault_id.name,
                name,
                body,
                continuation_token=continuation_token,
            ),
            convert.backup_instance,
            resumed=continuation_token is not None,
        )

    def get_backup_instance(self, instance_id: ResourceId) -> BackupInstance:
        """Read one backup instance (its protection state, policy and errors)."""
        sub, rg, vault, name = convert.instance_parts(instance_id)
        client: Any = self._factory.dataprotection(sub)
        with azure_call("read the backup instance"):
            raw = client.backup_instances.get(rg, vault, name)
        return convert.backup_instance(raw)

    def begin_adhoc_backup(
        self,
        instance_id: ResourceId,
        *,
        rule_name: str = BACKUP_RULE_NAME,
        retention_tag: str = "Default",
        continuation_token: str | None = None,
    ) -> Lro[str]:
        """Start an on-demand backup; the result is the full ARM id of its job."""
        sub, rg, vault, name = convert.instance_parts(instance_id)
        client: Any = self._factory.dataprotection(sub)
        body = {
            "backupRuleOptions": {
                "ruleName": rule_name,
                "triggerOption": {"retentionTagOverride": retention_tag},
            }
        }
        vault_id = instance_id.parent or instance_id
        return self._begin(
            "start an on-demand backup",
            str(instance_id),
            lambda: client.backup_instances.begin_adhoc_backup(
                rg, vault, name, body, continuation_token=continuation_token
            ),
            lambda raw: convert.job_id_from(raw, vault_id),
            resumed=continuation_token is not None,
        )

    def begin_stop_protection(
        self, instance_id: ResourceId, *, continuation_token: str | None = None
    ) -> Lro[None]:
        """Stop protection and keep the recovery points."""
        sub, rg, vault, name = convert.instance_parts(instance_id)
        client: Any = self._factory.dataprotection(sub)
        return self._begin(
            "stop protection",
            str(instance_id),
            lambda: client.backup_instances.begin_stop_protection(
                rg, vault, name, continuation_token=continuation_token
            ),
            lambda _raw: None,
            resumed=continuation_token is not None,
        )

    def begin_resume_protection(
        self, instance_id: ResourceId, *, continuation_token: str | None = None
    ) -> Lro[None]:
        """Resume protection of a stopped instance."""
        sub, rg, vault, name = convert.instance_parts(instance_id)
        client: Any = self._factory.dataprotection(sub)
        return self._begin(
            "resume protection",
            str(instance_id),
            lambda: client.backup_instances.begin_resume_protection(
                rg, vault, name, continuation_token=continuation_token
            ),
            lambda _raw: None,
            resumed=continuation_token is not None,
        )

    def begin_delete_instance(
        self, instance_id: ResourceId, *, continuation_token: str | None = None
    ) -> Lro[None]:
        """Delete a backup instance (stop protection and delete data; soft delete applies)."""
        sub, rg, vault, name = convert.instance_parts(instance_id)
        client: Any = self._factory.dataprotection(sub)
        return self._begin(
            "delete the backup instance",
            str(instance_id),
            lambda: client.backup_instances.begin_delete(
                rg, vault, name, continuation_token=continuation_token
            ),
            lambda _raw: None,
            resumed=continuation_token is not None,
        )

    def begin_change_policy(
        self,
        instance_id: ResourceId,
        policy_id: ResourceId | str,
        *,
        continuation_token: str | None = None,
    ) -> Lro[BackupInstance]:
        """Point an instance at another policy (policies can't be edited in place)."""
        sub, rg, vault, name = convert.instance_parts(instance_id)
        client: Any = self._factory.dataprotection(sub)
        body: dict[str, Any] = {}
        if continuation_token is None:
            with azure_call("read the backup instance"):
                current = convert.as_dict(client.backup_instances.get(rg, vault, name))
            props = dict(convert.get(current, "properties", default={}))
            for key in _BI_READ_ONLY:
                props.pop(key, None)
            props["policyInfo"] = {"policyId": str(policy_id)}
            body = {"properties": props}
        return self._begin(
            "change the backup policy",
            str(instance_id),
            lambda: client.backup_instances.begin_create_or_update(
                rg, vault, name, body, continuation_token=continuation_token
            ),
            convert.backup_instance,
            resumed=continuation_token is not None,
        )
