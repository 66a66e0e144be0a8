"""Microsoft.DBforPostgreSQL/flexibleServers and their firewall rules, parameters, databases."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pgflex_gui.sandbox.arm.http import ArmError, Request, Response, not_found, page
from pgflex_gui.sandbox.arm.state import public

if TYPE_CHECKING:
    from pgflex_gui.sandbox.arm.server import ArmService

__all__ = ["DEFAULT_CONFIG", "register", "server_json", "server_key"]

Json = dict[str, Any]
PG = "Microsoft.DBforPostgreSQL/flexibleServers"
_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_SRV = _SUB + r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.DBforPostgreSQL/flexibleServers"
_ONE = _SRV + r"/(?P<name>[^/]+)"

# name -> (default value, data type, allowed values, static?)
DEFAULT_CONFIG: dict[str, tuple[str, str, str, bool]] = {
    "azure.extensions": (
        "",
        "Set",
        "pg_cron,pg_stat_statements,pgcrypto,postgis,uuid-ossp,"
        "hstore,citext,pg_trgm,vector,btree_gin,btree_gist,ltree",
        False,
    ),
    "shared_preload_libraries": (
        "pg_cron,pg_stat_statements",
        "Set",
        "pg_cron,pg_stat_statements,pg_hint_plan,pgaudit,auto_explain",
        True,
    ),
    "max_connections": ("859", "Integer", "25-5000", True),
    "work_mem": ("4096", "Integer", "4096-2097151", False),
    # Durability, WAL and vacuum as on a flexible server (defaults match pgcluster's clusters:
    # a 128 GiB disk and 8 GiB of memory); the restore engine tunes and puts back these.
    "max_wal_size": ("12288", "Integer", "32-65536", False),
    "checkpoint_timeout": ("600", "Integer", "30-86400", False),
    "maintenance_work_mem": ("216064", "Integer", "1024-2097151", False),
    "autovacuum": ("on", "Boolean", "on,off", False),
    "wal_compression": ("off", "Enumeration", "off,on,pglz,lz4,zstd", False),
    "max_parallel_maintenance_workers": ("2", "Integer", "0-64", False),
    "timezone": ("UTC", "Enumeration", "UTC,Europe/Amsterdam,America/New_York", False),
    "log_min_duration_statement": ("-1", "Integer", "-1-2147483647", False),
    "password_encryption": ("scram-sha-256", "Enumeration", "md5,scram-sha-256", False),
    "require_secure_transport": ("on", "Boolean", "on,off", False),
}

_SKU_TIER = {"B": "Burstable", "D": "GeneralPurpose", "E": "MemoryOptimized"}


def server_key(sub: str, rg: str, name: str) -> str:
    """The DataPlane key of a server (stable, filesystem-friendly)."""
    return f"{sub[:8]}-{rg}-{name}".lower()


def server_json(
    sub: str,
    rg: str,
    name: str,
    *,
    location: str,
    version: str = "16",
    state: str = "Ready",
    admin_login: str = "pgadmin",
    sku: str = "Standard_D2ds_v5",
    storage_gb: int = 128,
    public_access: bool = True,
    encryption: str = "SystemManaged",
    ha: str = "Disabled",
    tags: dict[str, str] | None = None,
    host: str = "",
    port: int | None = None,
    real: bool = False,
) -> Json:
    """ARM JSON (2026-10-01 shape, fields under ``properties``) of a flexible server."""
    tier = _SKU_TIER.get(sku.split("_")[1][0] if "_" in sku else "D", "GeneralPurpose")
    all_tags = dict(tags or {})
    if port:
        all_tags["sandbox-port"] = str(port)
    enc: Json = {"type": encryption}
    if encryption == "AzureKeyVault":
        enc.update(
            primaryKeyURI=f"https://kv-{name}.vault.azure.net/keys/pgkey/0123456789abcdef",
            primaryUserAssignedIdentityId=f"/subscriptions/{sub}/resourceGroups/{rg}/providers/"
            f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}-cmk",
            primaryEncryptionKeyStatus="Valid",
        )
    network: Json = {"publicNetworkAccess": "Enabled" if public_access else "Disabled"}
    if not public_access:
        network["delegatedSubnetResourceId"] = (
            f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/"
            f"virtualNetworks/{rg}-vnet/subnets/pg"
        )
        network["privateDnsZoneArmResourceId"] = (
            f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/"
            f"privateDnsZones/{name}.private.postgres.database.azure.com"
        )
    return {
        "id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{PG}/{name}",
        "name": name,
        "type": PG,
        "location": location,
        "tags": all_tags,
        "sku": {"name": sku, "tier": tier},
        "systemData": {"createdAt": "2024-01-01T00:00:00Z"},
        "properties": {
            "administratorLogin": admin_login,
            "version": version,
            "minorVersion": {"15": "12", "16": "8", "17": "4", "18": "1"}.get(version, "0"),
            "state": state,
            "fullyQualifiedDomainName": host or f"{name}.postgres.database.azure.com",
            "storage": {
                "storageSizeGB": storage_gb,
                "autoGrow": "Disabled",
                "tier": "P10",
                "iops": 500,
                "type": "Premium_LRS",
            },
            "authConfig": {"activeDirectoryAuth": "Disabled", "passwordAuth": "Enabled"},
            "dataEncryption": enc,
            "backup": {
                "backupRetentionDays": 7,
                "geoRedundantBackup": "Disabled",
                "earliestRestoreDate": "2024-01-01T00:00:00Z",
            },
            "network": network,
            "highAvailability": {
                "mode": ha,
                "state": "NotEnabled" if ha == "Disabled" else "Healthy",
            },
            "maintenanceWindow": {
                "customWindow": "Disabled",
                "dayOfWeek": 0,
                "startHour": 0,
                "startMinute": 0,
            },
            "replicationRole": "Primary",
            "replicaCapacity": 5,
            "replica": {"role": "Primary", "capacity": 5},
            "privateEndpointConnections": [],
            "availabilityZone": "1",
        },
        "_sandbox": {
            "real": real,
            "key": server_key(sub, rg, name),
            "config": {},
            "pending_restart": False,
            "firewall": {},
        },
    }


def _config_json(server: Json, name: str) -> Json:
    default, dtype, allowed, static = DEFAULT_CONFIG[name]
    value = server["_sandbox"]["config"].get(name, default)
    return {
        "id": f"{server['id']}/configurations/{name}",
        "name": name,
        "type": f"{PG}/configurations",
        "properties": {
            "value": value,
            "description": f"Sandbox parameter {name}.",
            "defaultValue": default,
            "dataType": dtype,
            "allowedValues": allowed,
            "source": "user-override" if value != default else "system-default",
            "isDynamicConfig": not static,
            "isReadOnly": False,
            "isConfigPendingRestart": bool(
                static and server["_sandbox"]["pending_restart"] and value != default
            ),
            "unit": "",
            "documentationLink": "https://www.postgresql.org/docs/current/runtime-config.html",
        },
    }


def register(arm: ArmService) -> None:
    """Register the flexible server routes."""
    state = arm.state
    dp = arm.dataplane
    creating: dict[str, threading.Event] = {}  # server key -> set once its cluster is made

    def accepted(req: Request, work: Callable[[], Json | None], operation: str) -> Response:
        """``arm.lro`` answered as Azure does: 202 with ``{"operation", "startTime"}``.

        Recorded (Azure CLI rdbms recordings, tests/data/recordings/flexserver_*.json): a
        flexible server's PUT/PATCH/DELETE and its firewall rule, configuration and database
        writes, and its restart/stop/start, answer 202 with the name of the management
        operation and its start time, besides the Azure-AsyncOperation and Location headers.
        """
        resp = arm.lro(req, work)
        op_id = resp.headers["Azure-AsyncOperation"].split("?", 1)[0].rsplit("/", 1)[-1]
        with state.lock:
            started = state.data["operations"].get(op_id, {}).get("startTime", "")
        resp.body = {"operation": operation, "startTime": started}
        return resp

    def load(m: re.Match[str]) -> Json:
        rid = f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}/providers/{PG}/{m['name']}"
        found = state.get(rid)
        if found is None:
            raise not_found(rid)
        return found

    def list_sub(req: Request, m: re.Match[str]) -> Response:
        items = [public(s) for s in state.children(f"/subscriptions/{m['sub']}", PG)]
        return page(req, sorted(items, key=lambda s: s["id"].lower()), arm.page_size)

    def list_rg(req: Request, m: re.Match[str]) -> Response:
        items = [
            public(s)
            for s in state.children(f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}", PG)
        ]
        return page(req, sorted(items, key=lambda s: s["id"].lower()), arm.page_size)

    def get(req: Request, m: re.Match[str]) -> Response:
        return Response(200, public(load(m)))

    def put(req: Request, m: re.Match[str]) -> Response:
        rid = f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}/providers/{PG}/{m['name']}"
        body = req.json()
        if state.get(rid) is not None:
            return patch(req, m)
        props = body.get("properties", {})
        if not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required.")
        version = str(props.get("version") or "16")
        login = props.get("administratorLogin")
        password = props.get("administratorLoginPassword")
        if not login or not password:
            raise ArmError(
                400,
                "AdministratorLoginRequired" if not login else "PasswordRequired",
                "Administrator login and password are required to create a server.",
            )
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", m["name"]):
            raise ArmError(400, "InvalidServerName", f"Invalid server name '{m['name']}'.")
        sku = body.get("sku", {}).get("name", "Standard_D2ds_v5")
        network = props.get("network", {})
        server = server_json(
            m["sub"],
            m["rg"],
            m["name"],
            location=body["location"],
            version=version,
            state="Provisioning",
            admin_login=login,
            sku=sku,
            storage_gb=int(props.get("storage", {}).get("storageSizeGB", 128)),
            public_access=network.get("publicNetworkAccess", "Enabled") != "Disabled",
            tags=body.get("tags"),
            real=True,
        )
        state.put(server)
        key = server["_sandbox"]["key"]
        created = creating.setdefault(key, threading.Event())
        created.clear()

        def work() -> None:
            try:
                ep = dp.create_server(
                    key, version=version, admin_login=login, admin_password=password
                )
            except Exception:
                state.delete(rid)
                raise
            finally:
                created.set()
            with state.lock:
                if server["properties"]["state"] == "Dropping":
                    return  # deleted while it was being made (as Azure allows): not Ready
                server["properties"]["state"] = "Ready"
                server["properties"]["fullyQualifiedDomainName"] = ep.host
                server["tags"]["sandbox-port"] = str(ep.port)
                state.save()

        return accepted(req, work, "UpsertServerManagementOperationV2")

    def patch(req: Request, m: re.Match[str]) -> Response:
        server = load(m)
        body = req.json()
        props = body.get("properties", {})
        with state.lock:
            if "tags" in body:
                port = server["tags"].get("sandbox-port")
                server["tags"] = dict(body["tags"] or {})
                if port:
                    server["tags"]["sandbox-port"] = port
            if body.get("sku"):
                server["sku"].update(body["sku"])
            size = props.get("storage", {}).get("storageSizeGB")
            if size is not None:
                if int(size) < server["properties"]["storage"]["storageSizeGB"]:
                    raise ArmError(
                        400,
                        "StorageSizeDecreaseNotSupported",
                        "Decreasing the storage size is not supported.",
                    )
                server["properties"]["storage"]["storageSizeGB"] = int(size)
            if props.get("network", {}).get("publicNetworkAccess"):
                server["properties"]["network"]["publicNetworkAccess"] = props["network"][
                    "publicNetworkAccess"
                ]
            if props.get("highAvailability"):
                server["properties"]["highAvailability"].update(props["highAvailability"])
            state.save()
        return accepted(req, lambda: None, "UpsertServerManagementOperationV2")

    def delete(req: Request, m: re.Match[str]) -> Response:
        server = load(m)

        def work() -> None:
            if server["_sandbox"]["real"]:
                making = creating.get(server["_sandbox"]["key"])
                if making is not None:  # a delete during the create waits for its cluster
                    making.wait(timeout=600)
                dp.delete_server(server["_sandbox"]["key"])
            state.delete(server["id"])

        with state.lock:
            server["properties"]["state"] = "Dropping"
        return accepted(req, work, "DropServerManagementOperation")

    def action(req: Request, m: re.Match[str]) -> Response:
        server = load(m)
        act = m["action"].lower()
        current = server["properties"]["state"]
        if (
            (act == "stop" and current != "Ready")
            or (act == "start" and current != "Stopped")
            or (act == "restart" and current != "Ready")
        ):
            raise ArmError(
                409 if act != "start" else 400,
                "ServerNotInReadyState" if act != "start" else "ServerIsNotStopped",
                f"Operation '{act}' is not allowed while the server is in state '{current}'.",
            )
        transient = {"stop": "Stopping", "start": "Starting", "restart": "Restarting"}[act]
        with state.lock:
            server["properties"]["state"] = transient
            state.save()
        key, real = server["_sandbox"]["key"], server["_sandbox"]["real"]

        def work() -> None:
            if real and act == "stop":
                dp.stop_server(key)
            elif real:
                if act == "restart":
                    dp.stop_server(key)
                dp.start_server(key)
            with state.lock:
                server["properties"]["state"] = "Stopped" if act == "stop" else "Ready"
                if act in ("restart", "start"):
                    server["_sandbox"]["pending_restart"] = False
                state.save()

        operation = {"stop": "Stop", "start": "Start", "restart": "Restart"}[act]
        return accepted(req, work, f"{operation}ServerManagementOperation")

    # -- firewall rules ----------------------------------------------------------------
    def fw_json(server: Json, name: str, rule: Json) -> Json:
        return {
            "id": f"{server['id']}/firewallRules/{name}",
            "name": name,
            "type": f"{PG}/firewallRules",
            "properties": dict(rule),
        }

    def fw_list(req: Request, m: re.Match[str]) -> Response:
        server = load(m)
        rules = server["_sandbox"]["firewall"]
        return page(req, [fw_json(server, n, r) for n, r in sorted(rules.items())], arm.page_size)

    def fw_get(req: Request, m: re.Match[str]) -> Response:
        server = load(m)
        rule = server["_sandbox"]["firewall"].get(m["rule"])
        if rule is None:
            raise not_found(f"{server['id']}/firewallRules/{m['rule']}")
        return Response(200, fw_json(server, m["rule"], rule))

    def fw_put(req: Request, m: re.Match[str]) -> Response:
        server = load(m)
        props = req.json().get("properties", {})
        ip = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
        start, end = props.get("startIpAddress", ""), props.get("endIpAddress", "")
        if not ip.fullmatch(str(start)) or not ip.fullmatch(str(end)):
            raise ArmError(400, "InvalidParameterValue", "Invalid IP address range.")
        with state.lock:
            server["_sandbox"]["firewall"][m["rule"]] = {
                "startIpAddress": start,
                "endIpAddress": end,
            }
            state.save()
        return accepted(req, lambda: None, "UpsertServerFirewallRulesManagementOperation")

    def fw_delete(req: Request, m: re.Match[str]) -> Response:
        server = load(m)
        with state.lock:
            server["_sandbox"]["firewall"].pop(m["rule"], None)
            state.save()
        return accepted(req, lambda: None, "DropServerFirewallRulesManagementOperation")

    # -- configurations ----------------------------------------------------------------
    def cfg_list(req: Request, m: re.Match[str]) -> Response:
        server = load(m)
        return page(req, [_config_json(server, n) for n in sorted(DEFAULT_CONFIG)], arm.page_size)

    def cfg_get(req: Request, m: re.Match[str]) -> Response:
        server = load(m)
        if m["cfg"] not in DEFAULT_CONFIG:
            raise ArmError(
                404,
                "ConfigurationNotExists",
                f"The configuration '{m['cfg']}' does not exist for this server.",
            )
        return Response(200, _config_json(server, m["cfg"]))

    def cfg_put(req: Request, m: re.Match[str]) -> Response:
        server = load(m)
        name = m["cfg"]
        if name not in DEFAULT_CONFIG:
            raise ArmError(
                404,
                "ConfigurationNotExists",
                f"The configuration '{name}' does not exist for this server.",
            )
        value = str(req.json().get("properties", {}).get("value", ""))
        _, dtype, allowed, static = DEFAULT_CONFIG[name]
        if dtype == "Set" and value:
            bad = [v for v in value.split(",") if v.strip() and v.strip() not in allowed.split(",")]
            if bad:
                raise ArmError(
                    400,
                    "InvalidParameterValue",
                    f"Invalid value given for parameter '{name}': '{','.join(bad)}'. "
                    f"Allowed values: {allowed}.",
                )
        with state.lock:
            server["_sandbox"]["config"][name] = value
            if static:
                server["_sandbox"]["pending_restart"] = True
            state.save()
        key, real = server["_sandbox"]["key"], server["_sandbox"]["real"]

        def work() -> None:
            if real:
                dp.set_configuration(key, name, value)

        return accepted(req, work, "UpdateConfigurationManagementOperation")

    # -- databases ---------------------------------------------------------------------
    def databases(server: Json) -> list[tuple[str, str]]:
        if server["_sandbox"]["real"] and server["properties"]["state"] == "Ready":
            return dp.list_databases(server["_sandbox"]["key"])
        return [
            tuple(d)
            for d in server["_sandbox"].get(
                "databases",
                [
                    ["postgres", "azure_pg_admin"],
                    ["azure_maintenance", "azuresu"],
                    ["azure_sys", "azuresu"],
                ],
            )
        ]

    def db_json(server: Json, name: str) -> Json:
        return {
            "id": f"{server['id']}/databases/{name}",
            "name": name,
            "type": f"{PG}/databases",
            "properties": dict(
                server["_sandbox"].get("dbprops", {}).get(name)
                or {"charset": "UTF8", "collation": "en_US.utf8"}
            ),
        }

    def db_list(req: Request, m: re.Match[str]) -> Response:
        server = load(m)
        return page(req, [db_json(server, n) for n, _ in sorted(databases(server))], arm.page_size)

    def psql(server: Json, sql: str) -> None:
        """Run SQL on a real server's cluster when the DataPlane can (LocalDataPlane.psql)."""
        runner = getattr(dp, "psql", None)
        if server["_sandbox"]["real"] and runner is not None:
            runner(server["_sandbox"]["key"], sql, db="postgres")

    def db_meta(server: Json) -> list[list[str]]:
        meta = server["_sandbox"]
        if "databases" not in meta:
            meta["databases"] = [list(d) for d in databases(server)]
        return meta["databases"]  # type: ignore[no-any-return]

    def db_put(req: Request, m: re.Match[str]) -> Response:
        server = load(m)
        name = m["db"]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$-]{0,62}", name):
            raise ArmError(400, "InvalidParameterValue", f"Invalid database name '{name}'.")
        if server["properties"]["state"] != "Ready":
            raise ArmError(
                409,
                "ServerNotInReadyState",
                f"Operation 'CreateDatabase' is not allowed while the server is in state "
                f"'{server['properties']['state']}'.",
            )
        props = req.json().get("properties") or {}
        charset = str(props.get("charset") or "UTF8")
        collation = str(props.get("collation") or "en_US.utf8")
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", charset + collation):
            raise ArmError(400, "InvalidParameterValue", "Invalid charset or collation.")
        if name in {n for n, _ in databases(server)}:
            return accepted(
                req, lambda: db_json(server, name), "UpsertServerDatabaseManagementOperation"
            )
        quoted = '"' + name.replace('"', '""') + '"'

        def work() -> Json:
            psql(server, f"CREATE DATABASE {quoted} ENCODING '{charset}' TEMPLATE template0")
            with state.lock:
                rows = db_meta(server)
                if name not in {r[0] for r in rows}:
                    rows.append([name, server["properties"]["administratorLogin"]])
                names = server["_sandbox"].setdefault("dbnames", [])
                if name not in names:
                    names.append(name)
                server["_sandbox"].setdefault("dbprops", {})[name] = {
                    "charset": charset,
                    "collation": collation,
                }
                state.save()
            return db_json(server, name)

        return accepted(req, work, "UpsertServerDatabaseManagementOperation")

    def db_delete(req: Request, m: re.Match[str]) -> Response:
        server = load(m)
        name = m["db"]
        if name in ("postgres", "azure_maintenance", "azure_sys"):
            raise ArmError(
                400, "OperationNotAllowed", f"The system database '{name}' can't be deleted."
            )
        if name not in {n for n, _ in databases(server)}:
            return Response(204, None)
        quoted = '"' + name.replace('"', '""') + '"'

        def work() -> None:
            psql(server, f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
            with state.lock:
                server["_sandbox"]["databases"] = [r for r in db_meta(server) if r[0] != name]
                names = server["_sandbox"].get("dbnames") or []
                if name in names:
                    names.remove(name)
                server["_sandbox"].get("dbprops", {}).pop(name, None)
                state.save()

        return arm.lro(req, work)

    def db_get(req: Request, m: re.Match[str]) -> Response:
        server = load(m)
        if m["db"] not in {n for n, _ in databases(server)}:
            raise not_found(f"{server['id']}/databases/{m['db']}")
        return Response(200, db_json(server, m["db"]))

    r = arm.router
    r.add("GET", _SUB + r"/providers/Microsoft\.DBforPostgreSQL/flexibleServers", list_sub)
    r.add("GET", _SRV, list_rg)
    r.add("GET", _ONE, get)
    r.add("PUT", _ONE, put)
    r.add("PATCH", _ONE, patch)
    r.add("DELETE", _ONE, delete)
    r.add("POST", _ONE + r"/(?P<action>start|stop|restart)", action)
    r.add("GET", _ONE + r"/firewallRules", fw_list)
    r.add("GET", _ONE + r"/firewallRules/(?P<rule>[^/]+)", fw_get)
    r.add("PUT", _ONE + r"/firewallRules/(?P<rule>[^/]+)", fw_put)
    r.add("DELETE", _ONE + r"/firewallRules/(?P<rule>[^/]+)", fw_delete)
    r.add("GET", _ONE + r"/configurations", cfg_list)
    r.add("GET", _ONE + r"/configurations/(?P<cfg>[^/]+)", cfg_get)
    r.add("PUT PATCH", _ONE + r"/configurations/(?P<cfg>[^/]+)", cfg_put)
    r.add("GET", _ONE + r"/databases", db_list)
    r.add("GET", _ONE + r"/databases/(?P<db>[^/]+)", db_get)
    r.add("PUT", _ONE + r"/databases/(?P<db>[^/]+)", db_put)
    r.add("DELETE", _ONE + r"/databases/(?P<db>[^/]+)", db_delete)
