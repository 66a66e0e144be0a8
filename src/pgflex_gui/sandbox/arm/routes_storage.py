"""Microsoft.Storage storage accounts, keys and blob containers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pgflex_gui.sandbox.arm.context import now_iso
from pgflex_gui.sandbox.arm.http import ArmError, Request, Response, not_found, page
from pgflex_gui.sandbox.arm.nulldp import ensure_container
from pgflex_gui.sandbox.arm.state import public

if TYPE_CHECKING:
    from pgflex_gui.sandbox.arm.context import ArmContext
    from pgflex_gui.sandbox.contract import StorageEndpoint

__all__ = ["ST", "register", "storage_json"]

Json = dict[str, Any]
ST = "Microsoft.Storage/storageAccounts"
_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_ACC = _SUB + r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Storage/storageAccounts"
_ONE = _ACC + r"/(?P<name>[^/]+)"
_CONT = _ONE + r"/blobServices/default/containers"


def storage_json(
    sub: str,
    rg: str,
    name: str,
    *,
    location: str,
    endpoint: StorageEndpoint,
    cross_tenant: bool = True,
    public_access: str = "Enabled",
    sku: str = "Standard_LRS",
    tags: dict[str, str] | None = None,
) -> Json:
    """ARM JSON of a StorageV2 account whose blob endpoint is the sandbox's Azurite."""
    return {
        "id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{ST}/{name}",
        "name": name,
        "type": ST,
        "location": location,
        "kind": "StorageV2",
        "sku": {"name": sku, "tier": "Standard"},
        "tags": tags or {},
        "properties": {
            "provisioningState": "Succeeded",
            "creationTime": "2024-01-01T00:00:00.0000000Z",
            "keyCreationTime": {
                "key1": "2024-01-01T00:00:00.0000000Z",
                "key2": "2024-01-01T00:00:00.0000000Z",
            },
            "accountMigrationInProgress": False,
            "isHnsEnabled": False,
            "isSkuConversionBlocked": False,
            "primaryLocation": location,
            "statusOfPrimary": "available",
            "primaryEndpoints": {"blob": endpoint.blob_endpoint},
            "allowCrossTenantReplication": cross_tenant,
            "allowBlobPublicAccess": False,
            "allowSharedKeyAccess": True,
            "minimumTlsVersion": "TLS1_2",
            "supportsHttpsTrafficOnly": True,
            "publicNetworkAccess": public_access,
            "accessTier": "Hot",
            "encryption": {
                "keySource": "Microsoft.Storage",
                "services": {
                    "blob": {
                        "enabled": True,
                        "keyType": "Account",
                        "lastEnabledTime": "2024-01-01T00:00:00.0000000Z",
                    }
                },
            },
            "networkAcls": {
                "bypass": "AzureServices",
                "defaultAction": "Allow",
                "ipRules": [],
                "virtualNetworkRules": [],
                "resourceAccessRules": [],
            },
        },
        "_sandbox": {"key": endpoint.key, "containers": {}},
    }


def register(arm: ArmContext) -> None:
    """Register the storage routes."""
    state = arm.state

    def rid(m: re.Match[str]) -> str:
        return f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}/providers/{ST}/{m['name']}"

    def load(m: re.Match[str]) -> Json:
        found = state.get(rid(m))
        if found is None:
            raise not_found(rid(m))
        return found

    def list_sub(req: Request, m: re.Match[str]) -> Response:
        items = [public(a) for a in state.children(f"/subscriptions/{m['sub']}", ST)]
        return page(req, sorted(items, key=lambda a: a["id"].lower()), arm.page_size)

    def list_rg(req: Request, m: re.Match[str]) -> Response:
        items = [
            public(a)
            for a in state.children(f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}", ST)
        ]
        return page(req, sorted(items, key=lambda a: a["id"].lower()), arm.page_size)

    def get(req: Request, m: re.Match[str]) -> Response:
        return Response(200, public(load(m)))

    def create(req: Request, m: re.Match[str]) -> Response:
        existing = state.get(rid(m))
        body = req.json()
        if existing is not None:
            return Response(200, public(existing))
        if not re.fullmatch(r"[a-z0-9]{3,24}", m["name"]):
            raise ArmError(
                400,
                "AccountNameInvalid",
                f"{m['name']} is not a valid storage account name. Storage account "
                "name must be between 3 and 24 characters in length and use numbers "
                "and lower-case letters only.",
            )
        for other in state.resources.values():
            if other.get("type") == ST and other["name"].lower() == m["name"].lower():
                raise ArmError(
                    409,
                    "StorageAccountAlreadyTaken",
                    f"The storage account named {m['name']} is already taken.",
                )
        props = body.get("properties", {})
        endpoint = arm.dataplane.create_storage_account(m["name"])
        account = storage_json(
            m["sub"],
            m["rg"],
            m["name"],
            location=body.get("location", "westeurope"),
            endpoint=endpoint,
            cross_tenant=bool(props.get("allowCrossTenantReplication", False)),
            public_access=props.get("publicNetworkAccess", "Enabled"),
            sku=body.get("sku", {}).get("name", "Standard_LRS"),
            tags=body.get("tags"),
        )
        state.put(account)
        return Response(200, public(account))

    def update(req: Request, m: re.Match[str]) -> Response:
        account = load(m)
        body = req.json()
        props = body.get("properties", {})
        with state.lock:
            for key in (
                "allowCrossTenantReplication",
                "publicNetworkAccess",
                "allowBlobPublicAccess",
                "allowSharedKeyAccess",
                "minimumTlsVersion",
            ):
                if key in props:
                    account["properties"][key] = props[key]
            if "networkAcls" in props:
                account["properties"]["networkAcls"].update(props["networkAcls"])
            if "tags" in body:
                account["tags"] = body["tags"] or {}
            state.save()
        return Response(200, public(account))

    def delete(req: Request, m: re.Match[str]) -> Response:
        if state.delete(rid(m)) is None:
            return Response(204, None)
        return Response(200, None)

    def list_keys(req: Request, m: re.Match[str]) -> Response:
        account = load(m)
        key = account["_sandbox"]["key"]
        return Response(
            200,
            {
                "keys": [
                    {
                        "keyName": "key1",
                        "value": key,
                        "permissions": "FULL",
                        "creationTime": "2024-01-01T00:00:00.0000000Z",
                    },
                    {
                        "keyName": "key2",
                        "value": key,
                        "permissions": "FULL",
                        "creationTime": "2024-01-01T00:00:00.0000000Z",
                    },
                ]
            },
        )

    def container_json(account: Json, name: str, info: Json) -> Json:
        return {
            "id": f"{account['id']}/blobServices/default/containers/{name}",
            "name": name,
            "type": f"{ST}/blobServices/containers",
            "etag": '"0x8DC0000000000"',
            "properties": {
                "publicAccess": info.get("publicAccess", "None"),
                "lastModifiedTime": info["created"],
                "leaseStatus": "Unlocked",
                "leaseState": "Available",
                "hasImmutabilityPolicy": False,
                "hasLegalHold": False,
                "deleted": False,
                "remainingRetentionDays": 0,
                "metadata": info.get("metadata", {}),
            },
        }

    def c_list(req: Request, m: re.Match[str]) -> Response:
        account = load(m)
        items = [
            container_json(account, n, i)
            for n, i in sorted(account["_sandbox"]["containers"].items())
        ]
        return page(req, items, arm.page_size)

    def c_get(req: Request, m: re.Match[str]) -> Response:
        account = load(m)
        info = account["_sandbox"]["containers"].get(m["c"])
        if info is None:
            raise ArmError(404, "ContainerNotFound", "The specified container does not exist.")
        return Response(200, container_json(account, m["c"], info))

    def c_put(req: Request, m: re.Match[str]) -> Response:
        account = load(m)
        if not re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]", m["c"]):
            raise ArmError(400, "ContainerNameInvalid", f"Invalid container name '{m['c']}'.")
        props = req.json().get("properties", {})
        ensure_container(arm.dataplane, account["name"], m["c"])
        with state.lock:
            containers = account["_sandbox"]["containers"]
            created = m["c"] not in containers
            containers.setdefault(m["c"], {"created": now_iso()})
            containers[m["c"]]["metadata"] = props.get("metadata", {})
            state.save()
        return Response(
            201 if created else 200, container_json(account, m["c"], containers[m["c"]])
        )

    def c_delete(req: Request, m: re.Match[str]) -> Response:
        account = load(m)
        with state.lock:
            found = account["_sandbox"]["containers"].pop(m["c"], None)
            state.save()
        return Response(200 if found else 204, None)

    r = arm.router
    r.add("GET", _SUB + r"/providers/Microsoft\.Storage/storageAccounts", list_sub)
    r.add("GET", _ACC, list_rg)
    r.add("GET", _ONE, get)
    r.add("PUT", _ONE, create)
    r.add("PATCH", _ONE, update)
    r.add("DELETE", _ONE, delete)
    r.add("POST", _ONE + r"/listKeys", list_keys)
    r.add("GET", _CONT, c_list)
    r.add("GET", _CONT + r"/(?P<c>[^/]+)", c_get)
    r.add("PUT PATCH", _CONT + r"/(?P<c>[^/]+)", c_put)
    r.add("DELETE", _CONT + r"/(?P<c>[^/]+)", c_delete)
