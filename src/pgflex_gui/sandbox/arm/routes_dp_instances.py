"""Microsoft.DataProtection: backup instances, backups, recovery points, soft-deleted instances."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from pgflex_gui.sandbox.arm import roles
from pgflex_gui.sandbox.arm.context import now_iso
from pgflex_gui.sandbox.arm.dpcontext import BI_PATH, PG, VAULT_PATH, DpContext, perm_error
from pgflex_gui.sandbox.arm.dpmodel import BI, DELETED_BI, RP, expiry_time, rp_json
from pgflex_gui.sandbox.arm.http import ArmError, Request, Response, page
from pgflex_gui.sandbox.arm.state import norm, public
from pgflex_gui.sandbox.contract import BackupResult

__all__ = ["ROUTES", "register"]

Json = dict[str, Any]
Route = Callable[[DpContext, Request, re.Match[str]], Response]


# -- backup instances ------------------------------------------------------------------
def static_checks(ctx: DpContext, vault: Json, bi_props: Json, *, bi_id: str | None) -> Json:
    ds = bi_props.get("dataSourceInfo") or {}
    if str(ds.get("datasourceType", "")).lower() != PG.lower():
        raise ArmError(
            400,
            "UserErrorDatasourceTypeNotSupported",
            f"Datasource type '{ds.get('datasourceType')}' is not supported.",
        )
    server_id = str(ds.get("resourceID", ""))
    policy_id = str((bi_props.get("policyInfo") or {}).get("policyId", ""))
    if ctx.state.get(policy_id) is None or not norm(policy_id).startswith(norm(vault["id"])):
        raise ArmError(
            400,
            "UserErrorPolicyNotFound",
            f"The backup policy '{policy_id}' was not found in this vault.",
        )
    other = ctx.protected_by(server_id)
    if other is not None and (bi_id is None or norm(other["id"]) != norm(bi_id)):
        raise ArmError(
            400,
            "UserErrorDppDatasourceAlreadyProtected",
            f"Datasource is already protected under the Backup vault {other['id']}.",
        )
    return ds


def dynamic_checks(ctx: DpContext, vault: Json, ds: Json) -> Json:
    server_id = str(ds.get("resourceID", ""))
    server = ctx.state.get(server_id)
    if server is None:
        raise ArmError(
            400,
            "PostgreSQLFlexOperationFailedUserError",
            "The server could not be found.",
            details=[
                {"code": "ResourceNotFound", "message": f"Server '{server_id}' was not found."}
            ],
        )
    if ctx.tenant_of(server_id) != ctx.tenant_of(vault["id"]):
        raise ArmError(
            400,
            "UserErrorCrossTenantOperationNotSupported",
            "The backup vault and the datasource must be in the same tenant.",
        )
    if server["location"].lower() != vault["location"].lower():
        raise ArmError(
            400,
            "UserErrorDatasourceAndBackupVaultLocationMismatch",
            f"Location of data source ({server['location']}) needs to be the "
            f"same as backup vault ({vault['location']}).",
        )
    oid = ctx.principal(vault)
    ltr_ok = ctx.arm.has_role(oid, server["id"], {roles.LTR_BACKUP, roles.OWNER, roles.CONTRIBUTOR})
    if not ltr_ok:
        raise perm_error(
            oid, server["id"], "Microsoft.DBforPostgreSQL/flexibleServers/ltrBackup/action"
        )
    rg_scope = "/".join(server["id"].split("/")[:5])
    if not ctx.arm.has_role(oid, rg_scope, {roles.READER, roles.CONTRIBUTOR, roles.OWNER}):
        raise perm_error(oid, rg_scope, "Microsoft.Resources/subscriptions/resourceGroups/read")
    if server["properties"]["state"] != "Ready":
        raise ArmError(
            400,
            "PostgreSQLFlexOperationFailedUserError",
            "The PostgreSQL flexible server is not ready for backup.",
            details=[
                {
                    "code": "ServerNotReadyForLongTermBackup",
                    "message": f"Server state is "
                    f"'{server['properties']['state']}', expected 'Ready'.",
                }
            ],
        )
    return server


def bi_list(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    ctx.load_vault(m)
    items = [public(b) for b in ctx.state.children(ctx.vault_id(m), BI)]
    return page(req, sorted(items, key=lambda b: b["name"].lower()), ctx.arm.page_size)


def bi_get(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    return Response(200, public(ctx.load_bi(m)))


def bi_put(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    vault = ctx.load_vault(m)
    bi_id = f"{vault['id']}/backupInstances/{m['bi']}"
    existing = ctx.state.get(bi_id)
    props = copy.deepcopy(req.json().get("properties") or {})
    ds = static_checks(ctx, vault, props, bi_id=bi_id)
    props.setdefault("objectType", "BackupInstance")
    if isinstance(props.get("policyInfo"), dict):
        props["policyInfo"].setdefault("policyVersion", "1.0")
    props["provisioningState"] = "Provisioning"
    props["currentProtectionState"] = "UpdatingProtection" if existing else "ConfiguringProtection"
    props["protectionStatus"] = {"status": "ConfiguringProtection", "errorDetails": None}
    props.setdefault("dataSourceSetInfo", None)
    props["protectionErrorDetails"] = None
    if existing:
        props.setdefault("policyInfo", {})
    bi = {"id": bi_id, "name": m["bi"], "type": BI, "tags": {}, "properties": props}
    ctx.state.put(bi)

    def work() -> None:
        try:
            dynamic_checks(ctx, vault, ds)
        except ArmError:
            if existing is None:
                ctx.state.delete(bi_id)
            else:
                ctx.state.put(existing)
            raise
        with ctx.state.lock:
            props["provisioningState"] = "Succeeded"
            props["currentProtectionState"] = "ProtectionConfigured"
            props["protectionStatus"] = {"status": "ProtectionConfigured", "errorDetails": None}
            ctx.state.save()

    return ctx.arm.lro(req, work, status=201, body=public(bi))


def bi_delete(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    vault = ctx.load_vault(m)
    bi = ctx.load_bi(m)
    ctx.busy(bi)
    security = vault["properties"]["securitySettings"]
    soft = security["softDeleteSettings"]["state"]
    if security.get("immutabilitySettings", {}).get("state") == "Locked":
        now = now_iso()
        unexpired = [
            rp["name"]
            for rp in ctx.state.children(bi["id"], RP)
            if (rp["properties"].get("expiryTime") or "9999") > now
        ]
        if unexpired:
            raise ArmError(
                400,
                "UserErrorImmutableVaultOperationNotAllowed",
                "The Backup vault is immutable (locked): stop protection with delete data "
                f"is not allowed while {len(unexpired)} recovery point(s) have not "
                "expired. Stop protection and retain data instead.",
            )
    soft_days = int(security["softDeleteSettings"].get("retentionDurationInDays") or 14)

    def work() -> None:
        with ctx.state.batch():
            points = [copy.deepcopy(rp) for rp in ctx.state.children(bi["id"], RP)]
            ctx.state.delete(bi["id"])
            if soft in ("On", "AlwaysOn"):
                gone = copy.deepcopy(bi)
                gone["_sandbox"] = {"points": points}
                gone["properties"]["objectType"] = "DeletedBackupInstance"
                gone["id"] = f"{vault['id']}/deletedBackupInstances/{bi['name']}"
                gone["type"] = DELETED_BI
                gone["properties"]["currentProtectionState"] = "SoftDeleted"
                gone["properties"]["protectionStatus"] = {
                    "status": "SoftDeleted",
                    "errorDetails": None,
                }
                gone["properties"]["deletionInfo"] = {
                    "deletionTime": now_iso(),
                    "billingEndDate": now_iso(),
                    "scheduledPurgeTime": (datetime.now(UTC) + timedelta(days=soft_days)).strftime(
                        "%Y-%m-%dT%H:%M:%S.%fZ"
                    ),
                    "deleteActivityID": str(uuid.uuid4()),
                }
                ctx.state.put(gone)
            else:
                for rp in ctx.state.children(bi["id"], RP):
                    meta = rp.get("_sandbox", {})
                    if meta.get("files") and not meta.get("alias_of"):
                        ctx.dp.delete_recovery_point(rp["name"])

    return ctx.arm.lro(req, work)


def bi_state_action(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    bi = ctx.load_bi(m)
    new = {
        "stopprotection": "ProtectionStopped",
        "resumeprotection": "ProtectionConfigured",
        "suspendbackups": "BackupSchedulesSuspended",
        "resumebackups": "ProtectionConfigured",
    }[m["act"].lower()]

    def work() -> None:
        with ctx.state.lock:
            bi["properties"]["currentProtectionState"] = new
            bi["properties"]["protectionStatus"] = {"status": new, "errorDetails": None}
            ctx.state.save()

    return ctx.arm.lro(req, work)


def validate_for_backup(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    vault = ctx.load_vault(m)
    bi_props = req.json().get("backupInstance") or {}
    ds = static_checks(ctx, vault, bi_props, bi_id=None)

    def work() -> Json:
        dynamic_checks(ctx, vault, ds)
        return {"objectType": "OperationJobExtendedInfo"}

    return ctx.arm.lro(req, work)


def do_backup(ctx: DpContext, vault: Json, bi: Json, job: Json, tag: str) -> None:
    server = ctx.state.get(bi["properties"]["dataSourceInfo"]["resourceID"])
    if server is None or server["properties"]["state"] != "Ready":
        raise ArmError(
            400,
            "PostgreSQLFlexOperationFailedUserError",
            "The PostgreSQL flexible server is not ready for backup.",
            details=[
                {
                    "code": "ServerNotReadyForLongTermBackup",
                    "message": "Server state is not 'Ready'.",
                }
            ],
        )
    rp_id = uuid.uuid4().hex
    if server["_sandbox"]["real"]:
        result = ctx.dp.backup(server["_sandbox"]["key"], rp_id)
    else:
        result = BackupResult(
            rp_id,
            tuple(server["_sandbox"].get("dbnames", ["appdb"])),
            int(server["properties"]["storage"]["storageSizeGB"]) * 2**20,
        )
    policy_id = str(bi["properties"]["policyInfo"].get("policyId", ""))
    when = now_iso()
    rp = rp_json(
        bi["id"],
        rp_id,
        when,
        policy_name=policy_id.rsplit("/", 1)[-1],
        tag=tag,
        expiry=expiry_time(ctx.state.get(policy_id), when, tag),
    )
    rp["_sandbox"] = {
        "files": list(result.files),
        "databases": list(result.databases),
        "size": result.size_bytes,
        "server": server["id"],
    }
    with ctx.state.batch():
        ctx.state.put(rp)
        info = job["properties"]["extendedInfo"]
        info["targetRecoverPoint"] = {
            "recoveryPointID": rp_id,
            "recoveryPointTime": rp["properties"]["recoveryPointTime"],
        }
        info["subTasks"] = [
            {
                "taskId": 1,
                "taskName": "Trigger Backup",
                "taskStatus": "Completed",
                "additionalDetails": {"OriginalDatasourceSizeInBytes": str(result.size_bytes)},
                "taskProgress": None,
            }
        ]
        info["additionalDetails"] = {"Databases": ",".join(result.databases)}


def adhoc_backup(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    vault = ctx.load_vault(m)
    bi = ctx.load_bi(m)
    ctx.busy(bi)
    if bi["properties"]["currentProtectionState"] not in (
        "ProtectionConfigured",
        "BackupSchedulesSuspended",
    ):
        raise ArmError(
            400,
            "UserErrorBackupInstanceNotProtected",
            "Backup can't be triggered in protection state "
            f"'{bi['properties']['currentProtectionState']}'.",
        )
    opts = req.json().get("backupRuleOptions", {})
    tag = opts.get("triggerOption", {}).get("retentionTagOverride") or "Default"
    job = ctx.start_job(
        vault, bi, "OnDemandBackup", "Backup", lambda j: do_backup(ctx, vault, bi, j, tag)
    )
    result = {"objectType": "OperationJobExtendedInfo", "jobId": job["id"]}
    return ctx.arm.lro(req, lambda: result)


# -- recovery points ---------------------------------------------------------------------
def rp_list(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    bi = ctx.load_bi(m)
    items = [public(p) for p in ctx.state.children(bi["id"], RP)]
    flt = req.query.get("$filter", "")
    start = re.search(r"startDate\s+eq\s+'([^']+)'", flt, re.IGNORECASE)
    end = re.search(r"endDate\s+eq\s+'([^']+)'", flt, re.IGNORECASE)

    def ts(text: str) -> datetime:
        text = text.rstrip("Z")[:26]
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    if start:
        items = [p for p in items if ts(p["properties"]["recoveryPointTime"]) >= ts(start.group(1))]
    if end:
        items = [p for p in items if ts(p["properties"]["recoveryPointTime"]) <= ts(end.group(1))]
    items.sort(key=lambda p: p["properties"]["recoveryPointTime"], reverse=True)
    return page(req, items, ctx.arm.page_size)


def rp_get(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    bi = ctx.load_bi(m)
    return Response(200, public(ctx.load(f"{bi['id']}/recoveryPoints/{m['rp']}")))


def deleted_list(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    ctx.load_vault(m)
    return page(
        req, [public(b) for b in ctx.state.children(ctx.vault_id(m), DELETED_BI)], ctx.arm.page_size
    )


def deleted_get(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    return Response(200, public(ctx.load(f"{ctx.vault_id(m)}/deletedBackupInstances/{m['bi']}")))


def undelete(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    vault = ctx.load_vault(m)
    gone = ctx.load(f"{vault['id']}/deletedBackupInstances/{m['bi']}")
    bi_id = f"{vault['id']}/backupInstances/{m['bi']}"
    if ctx.state.get(bi_id) is not None:
        raise ArmError(
            400,
            "UserErrorBackupInstanceAlreadyExists",
            f"A backup instance named '{m['bi']}' already exists in the vault.",
        )
    server_id = str(gone["properties"]["dataSourceInfo"].get("resourceID", ""))
    other = ctx.protected_by(server_id)
    if other is not None:
        raise ArmError(
            400,
            "UserErrorDppDatasourceAlreadyProtected",
            f"Datasource is already protected under the Backup vault {other['id']}.",
        )

    def work() -> None:
        with ctx.state.batch():
            bi = copy.deepcopy(gone)
            points = bi.pop("_sandbox", {}).get("points", [])
            bi["id"], bi["type"] = bi_id, BI
            props = bi["properties"]
            props["objectType"] = "BackupInstance"
            props.pop("deletionInfo", None)
            # An undeleted instance comes back with protection stopped (data retained);
            # resumeProtection restarts scheduled backups.
            props["currentProtectionState"] = "ProtectionStopped"
            props["protectionStatus"] = {"status": "ProtectionStopped", "errorDetails": None}
            props["provisioningState"] = "Succeeded"
            ctx.state.delete(gone["id"])
            ctx.state.put(bi)
            for rp in points:
                ctx.state.put(rp)

    return ctx.arm.lro(req, work)


_DELETED = VAULT_PATH + r"/deletedBackupInstances"
ROUTES: tuple[tuple[str, str, Route], ...] = (
    ("GET", VAULT_PATH + r"/backupInstances", bi_list),
    ("GET", BI_PATH, bi_get),
    ("PUT", BI_PATH, bi_put),
    ("DELETE", BI_PATH, bi_delete),
    (
        "POST",
        BI_PATH + r"/(?P<act>stopProtection|resumeProtection|suspendBackups|resumeBackups)",
        bi_state_action,
    ),
    ("POST", VAULT_PATH + r"/validateForBackup", validate_for_backup),
    ("POST", BI_PATH + r"/backup", adhoc_backup),
    ("GET", BI_PATH + r"/recoveryPoints", rp_list),
    ("GET", BI_PATH + r"/recoveryPoints/(?P<rp>[^/]+)", rp_get),
    ("GET", _DELETED, deleted_list),
    ("GET", _DELETED + r"/(?P<bi>[^/]+)", deleted_get),
    ("POST", _DELETED + r"/(?P<bi>[^/]+)/undelete", undelete),
)


def register(ctx: DpContext) -> None:
    """Register these routes on the service's router."""
    for method, pattern, handler in ROUTES:
        ctx.arm.router.add(method, pattern, partial(handler, ctx))
