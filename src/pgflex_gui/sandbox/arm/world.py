"""Build sandbox state from Python: tenants, subscriptions, servers, vaults, points, roles."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pgflex_gui.sandbox.arm import roles
from pgflex_gui.sandbox.arm.dpmodel import BI, POLICY, expiry_time, rp_json, vault_json
from pgflex_gui.sandbox.arm.nulldp import ensure_container
from pgflex_gui.sandbox.arm.routes_authz import assignment_json
from pgflex_gui.sandbox.arm.routes_pg import server_json
from pgflex_gui.sandbox.arm.routes_resources import rg_json
from pgflex_gui.sandbox.arm.routes_storage import storage_json
from pgflex_gui.sandbox.arm.state import State, norm
from pgflex_gui.sandbox.contract import DataPlane

__all__ = ["ROLE_IDS", "World", "default_policy_body"]

Json = dict[str, Any]
PG = "Microsoft.DBforPostgreSQL/flexibleServers"
ROLE_IDS = {
    "Owner": roles.OWNER,
    "Contributor": roles.CONTRIBUTOR,
    "Reader": roles.READER,
    "User Access Administrator": roles.USER_ACCESS_ADMIN,
    "LTR": roles.LTR_BACKUP,
    "Storage Blob Data Contributor": roles.BLOB_DATA_CONTRIBUTOR,
}
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_policy_body(*, weekday: str = "Sunday", hour: int = 23, retention: str = "P3M") -> Json:
    """A valid PG flex policy: weekly on one day, one default VaultStore retention."""
    day = datetime(2024, 1, 1, hour, 0, tzinfo=UTC) + timedelta(days=_WEEKDAYS.index(weekday))
    vault_store = {"dataStoreType": "VaultStore", "objectType": "DataStoreInfoBase"}
    return {
        "properties": {
            "objectType": "BackupPolicy",
            "datasourceTypes": [PG],
            "policyRules": [
                {
                    "name": "BackupWeekly",
                    "objectType": "AzureBackupRule",
                    "backupParameters": {"backupType": "Full", "objectType": "AzureBackupParams"},
                    "dataStore": dict(vault_store),
                    "trigger": {
                        "objectType": "ScheduleBasedTriggerContext",
                        "schedule": {
                            "repeatingTimeIntervals": [
                                f"R/{day.strftime('%Y-%m-%dT%H:%M:%S')}+00:00/P1W"
                            ],
                            "timeZone": "UTC",
                        },
                        "taggingCriteria": [
                            {
                                "isDefault": True,
                                "taggingPriority": 99,
                                "tagInfo": {"id": "Default_", "tagName": "Default"},
                            }
                        ],
                    },
                },
                {
                    "name": "Default",
                    "objectType": "AzureRetentionRule",
                    "isDefault": True,
                    "lifecycles": [
                        {
                            "deleteAfter": {
                                "objectType": "AbsoluteDeleteOption",
                                "duration": retention,
                            },
                            "sourceDataStore": dict(vault_store),
                            "targetDataStoreCopySettings": [],
                        }
                    ],
                },
            ],
        }
    }


class World:
    """Typed builders over :class:`State`. Methods return ARM ids (or GUIDs)."""

    def __init__(self, state: State, dataplane: DataPlane) -> None:
        self.state = state
        self.dataplane = dataplane

    # -- identity ----------------------------------------------------------------------
    @property
    def client_id(self) -> str:
        """The sandbox app registration's client id (created on first use)."""
        settings = self.state.data["settings"]
        if "client_id" not in settings:
            settings["client_id"] = "5c1a7d2e-0b8f-4a3c-9e61-7f2d4b8a9c10"
            self.state.data["apps"][settings["client_id"]] = {
                "secret": secrets.token_urlsafe(32),
                "principals": {},
            }
            self.state.save()
        return str(settings["client_id"])

    @property
    def client_secret(self) -> str:
        """The app registration's secret."""
        return str(self.state.data["apps"][self.client_id]["secret"])

    def add_tenant(
        self, display_name: str, *, tenant_id: str | None = None, domain: str | None = None
    ) -> str:
        """Add a tenant with a service principal of the app; return the tenant id."""
        tid = (tenant_id or str(uuid.uuid4())).lower()
        with self.state.batch():
            self.state.data["tenants"][tid] = {
                "tenantId": tid,
                "displayName": display_name,
                "defaultDomain": domain
                or f"{display_name.lower().replace(' ', '')}.onmicrosoft.com",
                "refuse_tokens": False,
            }
            oid = str(uuid.uuid5(uuid.UUID(tid), self.client_id))
            self.state.data["apps"][self.client_id]["principals"][tid] = oid
            self.state.data["principals"][oid] = {
                "tenantId": tid,
                "type": "ServicePrincipal",
                "displayName": "pgflex-gui",
            }
            self.state.save()
        return tid

    def app_principal(self, tenant_id: str) -> str:
        """Object id of the app's service principal in a tenant."""
        return str(self.state.data["apps"][self.client_id]["principals"][tenant_id.lower()])

    def set_tenant_flags(self, tenant_id: str, *, refuse_tokens: bool) -> None:
        """Make a tenant refuse token issuance (AADSTS50076, interaction required)."""
        with self.state.lock:
            self.state.data["tenants"][tenant_id.lower()]["refuse_tokens"] = refuse_tokens
            self.state.save()

    def add_subscription(
        self,
        tenant_id: str,
        display_name: str,
        *,
        subscription_id: str | None = None,
        app_role: str | None = "Owner",
    ) -> str:
        """Add a subscription; the app principal gets ``app_role`` on it. Return its id."""
        sid = (subscription_id or str(uuid.uuid4())).lower()
        with self.state.batch():
            self.state.data["subscriptions"][sid] = {
                "subscriptionId": sid,
                "tenantId": tenant_id.lower(),
                "displayName": display_name,
                "state": "Enabled",
            }
            if app_role:
                self.add_role_assignment(
                    f"/subscriptions/{sid}", self.app_principal(tenant_id), app_role
                )
            self.state.save()
        return sid

    def add_role_assignment(
        self, scope: str, principal_id: str, role: str, *, name: str | None = None
    ) -> str:
        """Assign a role (name from ROLE_IDS or a GUID) at ``scope``; return the assignment id."""
        role_id = ROLE_IDS.get(role, role)
        ptype = self.state.data["principals"].get(principal_id, {}).get("type", "ServicePrincipal")
        ra = assignment_json(
            scope, name or str(uuid.uuid4()), role_id, principal_id, ptype, _iso(datetime.now(UTC))
        )
        with self.state.lock:
            self.state.data.setdefault("roleAssignments", {})[norm(ra["id"])] = ra
            self.state.save()
        return str(ra["id"])

    # -- resources -------------------------------------------------------------------------
    def add_resource_group(self, subscription_id: str, name: str, location: str) -> str:
        """Add a resource group; return its id."""
        rg = rg_json(subscription_id, name, location)
        self.state.put(rg)
        return str(rg["id"])

    def add_server(
        self,
        subscription_id: str,
        resource_group: str,
        name: str,
        *,
        location: str,
        version: str = "16",
        state: str = "Ready",
        encryption: str = "SystemManaged",
        public_access: bool = True,
        size_gb: int = 128,
        sku: str = "Standard_D2ds_v5",
        ha: str = "Disabled",
        real: bool = False,
        admin_login: str = "pgadmin",
        admin_password: str | None = None,
        databases: list[str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Add a flexible server; ``real`` ones get a cluster from the DataPlane."""
        host, port = "", None
        server = server_json(
            subscription_id,
            resource_group,
            name,
            location=location,
            version=version,
            state=state,
            admin_login=admin_login,
            sku=sku,
            storage_gb=size_gb,
            public_access=public_access,
            encryption=encryption,
            ha=ha,
            tags=tags,
            real=real,
        )
        if real:
            ep = self.dataplane.create_server(
                server["_sandbox"]["key"],
                version=version,
                admin_login=admin_login,
                admin_password=admin_password or "Sandbox-Pass-1",
            )
            host, port = ep.host, ep.port
            server["properties"]["fullyQualifiedDomainName"] = host
            server["tags"]["sandbox-port"] = str(port)
        if databases:
            server["_sandbox"]["databases"] = [
                ["postgres", "azure_pg_admin"],
                ["azure_maintenance", "azuresu"],
                ["azure_sys", "azuresu"],
            ] + [[d, admin_login] for d in databases]
            server["_sandbox"]["dbnames"] = list(databases)
        self.state.put(server)
        return str(server["id"])

    def server_key(self, server_id: str) -> str:
        """The DataPlane key of a server."""
        found = self.state.get(server_id)
        assert found is not None, server_id
        return str(found["_sandbox"]["key"])

    def add_vault(
        self,
        subscription_id: str,
        resource_group: str,
        name: str,
        *,
        location: str,
        redundancy: str = "LocallyRedundant",
        crr: bool = False,
        csr: str = "Enabled",
        soft_delete: str = "On",
        immutability: str = "Disabled",
    ) -> str:
        """Add a Backup vault with a system identity (a principal for role assignments)."""
        tenant = self.state.data["subscriptions"][subscription_id.lower()]["tenantId"]
        oid = str(uuid.uuid4())
        vault = vault_json(
            subscription_id,
            resource_group,
            name,
            location=location,
            tenant_id=tenant,
            principal_id=oid,
            redundancy=redundancy,
            crr=crr,
            csr=csr,
            soft_delete=soft_delete,
            immutability=immutability,
        )
        with self.state.batch():
            self.state.put(vault)
            self.state.data["principals"][oid] = {
                "tenantId": tenant,
                "type": "ServicePrincipal",
                "displayName": name,
                "managedIdentityResourceId": vault["id"],
            }
        return str(vault["id"])

    def vault_principal(self, vault_id: str) -> str:
        """The vault identity's principal id."""
        found = self.state.get(vault_id)
        assert found is not None, vault_id
        return str(found["identity"]["principalId"])

    def add_policy(
        self,
        vault_id: str,
        name: str,
        *,
        weekday: str = "Sunday",
        hour: int = 23,
        retention: str = "P3M",
    ) -> str:
        """Add a weekly single-day policy; return its id."""
        body = default_policy_body(weekday=weekday, hour=hour, retention=retention)
        policy = {
            "id": f"{vault_id}/backupPolicies/{name}",
            "name": name,
            "type": POLICY,
            "properties": body["properties"],
        }
        self.state.put(policy)
        return str(policy["id"])

    def grant_backup_roles(self, vault_id: str, server_id: str) -> None:
        """Give the vault identity the LTR role on the server and Reader on its RG."""
        oid = self.vault_principal(vault_id)
        self.add_role_assignment(server_id, oid, roles.LTR_BACKUP)
        self.add_role_assignment("/".join(server_id.split("/")[:5]), oid, roles.READER)

    def add_backup_instance(
        self,
        vault_id: str,
        server_id: str,
        policy_id: str,
        *,
        name: str | None = None,
        grant_roles: bool = True,
        protection_state: str = "ProtectionConfigured",
    ) -> str:
        """Protect a server in a vault (no checks); return the backup instance id."""
        server = self.state.get(server_id)
        assert server is not None, server_id
        bi_name = name or f"{server['name']}-{uuid.uuid4()}"
        ds = {
            "objectType": "Datasource",
            "resourceID": server["id"],
            "resourceName": server["name"],
            "resourceType": PG,
            "datasourceType": PG,
            "resourceLocation": server["location"],
            "resourceUri": "",
        }
        bi = {
            "id": f"{vault_id}/backupInstances/{bi_name}",
            "name": bi_name,
            "type": BI,
            "tags": {},
            "properties": {
                "objectType": "BackupInstance",
                "friendlyName": server["name"],
                "dataSourceInfo": ds,
                "dataSourceSetInfo": {**ds, "objectType": "DatasourceSet"},
                "policyInfo": {
                    "policyId": policy_id,
                    "policyVersion": "1.0",
                    "policyParameters": None,
                },
                "protectionStatus": {"status": protection_state, "errorDetails": None},
                "currentProtectionState": protection_state,
                "protectionErrorDetails": None,
                "provisioningState": "Succeeded",
            },
        }
        with self.state.batch():
            self.state.put(bi)
            if grant_roles:
                self.grant_backup_roles(vault_id, server_id)
        return str(bi["id"])

    def add_recovery_point(
        self,
        bi_id: str,
        when: datetime,
        *,
        real: bool = False,
        reuse_from: str | None = None,
        tag: str = "Default",
    ) -> str:
        """Add a recovery point; ``real`` runs DataPlane.backup on the (real) source server.

        ``reuse_from`` copies another point's file list (cheap older points).
        """
        bi = self.state.get(bi_id)
        assert bi is not None, bi_id
        server = self.state.get(bi["properties"]["dataSourceInfo"]["resourceID"])
        rp_id = uuid.uuid4().hex
        policy_id = str(bi["properties"]["policyInfo"]["policyId"])
        expiry = expiry_time(self.state.get(policy_id), _iso(when), tag)
        policy = policy_id.rsplit("/", 1)[-1]
        rp = rp_json(bi["id"], rp_id, _iso(when), policy_name=policy, tag=tag, expiry=expiry)
        meta: Json = {
            "files": [],
            "databases": [],
            "size": 0,
            "server": server["id"] if server else "",
        }
        if real and server is not None:
            result = self.dataplane.backup(server["_sandbox"]["key"], rp_id)
            meta.update(
                files=list(result.files), databases=list(result.databases), size=result.size_bytes
            )
        elif reuse_from:
            src = self.state.get(f"{bi_id}/recoveryPoints/{reuse_from}")
            if src is not None:
                meta.update({k: src["_sandbox"][k] for k in ("files", "databases", "size")})
                meta["alias_of"] = reuse_from
        rp["_sandbox"] = meta
        self.state.put(rp)
        return rp_id

    def add_storage_account(
        self,
        subscription_id: str,
        resource_group: str,
        name: str,
        *,
        location: str,
        cross_tenant: bool = True,
        public_access: str = "Enabled",
    ) -> str:
        """Add a storage account backed by the DataPlane's Azurite; return its id."""
        endpoint = self.dataplane.create_storage_account(name)
        acc = storage_json(
            subscription_id,
            resource_group,
            name,
            location=location,
            endpoint=endpoint,
            cross_tenant=cross_tenant,
            public_access=public_access,
        )
        self.state.put(acc)
        return str(acc["id"])

    def add_container(self, account_id: str, name: str) -> None:
        """Record a blob container on an account (ARM view)."""
        acc = self.state.get(account_id)
        assert acc is not None, account_id
        ensure_container(self.dataplane, acc["name"], name)
        with self.state.lock:
            acc["_sandbox"]["containers"][name] = {"created": _iso(datetime.now(UTC))}
            self.state.save()

    def set_server_state(self, server_id: str, state: str) -> None:
        """Force a server's ``state`` (metadata only)."""
        server = self.state.get(server_id)
        assert server is not None, server_id
        with self.state.lock:
            server["properties"]["state"] = state
            self.state.save()
