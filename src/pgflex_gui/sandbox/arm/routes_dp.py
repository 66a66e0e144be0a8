"""Microsoft.DataProtection: vaults, policies, backup instances, points, jobs, restores, CRR."""

from __future__ import annotations

import copy
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pgflex_gui.sandbox.arm import roles
from pgflex_gui.sandbox.arm.dpmodel import (
    BI,
    DELETED_BI,
    JOB,
    POLICY,
    RP,
    VAULT,
    expiry_time,
    job_json,
    rp_json,
    validate_policy,
    vault_json,
)
from pgflex_gui.sandbox.arm.http import ArmError, Request, Response, not_found, page
from pgflex_gui.sandbox.arm.regions import paired_region
from pgflex_gui.sandbox.arm.routes_storage import ST
from pgflex_gui.sandbox.arm.state import norm, public
from pgflex_gui.sandbox.contract import BackupResult, DataPlaneError

if TYPE_CHECKING:
    from pgflex_gui.sandbox.arm.server import ArmService

__all__ = ["register"]

Json = dict[str, Any]
PG = "Microsoft.DBforPostgreSQL/flexibleServers"
_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_RGP = _SUB + r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.DataProtection"
_V = _RGP + r"/backupVaults/(?P<vault>[^/]+)"
_BI = _V + r"/backupInstances/(?P<bi>[^/]+)"
_LOC = _RGP + r"/locations/(?P<loc>[^/]+)"


def _perm_error(principal: str, scope: str, action: str) -> ArmError:
    return ArmError(
        400,
        "UserErrorMissingRequiredPermissions",
        "Appropriate permissions to perform the operation is missing.",
        details=[
            {
                "code": "AuthorizationFailed",
                "message": f"The client '{principal}' with object id '{principal}' does not have "
                f"authorization to perform action '{action}' over scope '{scope}' or the scope is "
                "invalid.",
            }
        ],
    )


def register(arm: ArmService) -> None:
    """Register the DataProtection routes."""
    from pgflex_gui.sandbox.arm.server import now_iso

    state = arm.state
    dp = arm.dataplane

    # -- lookups -----------------------------------------------------------------------
    def vault_id(m: re.Match[str]) -> str:
        return f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}/providers/{VAULT}/{m['vault']}"

    def load(rid: str) -> Json:
        found = state.get(rid)
        if found is None:
            raise not_found(rid)
        return found

    def load_vault(m: re.Match[str]) -> Json:
        return load(vault_id(m))

    def load_bi(m: re.Match[str]) -> Json:
        return load(f"{vault_id(m)}/backupInstances/{m['bi']}")

    def tenant_of(rid: str) -> str:
        sub = state.data["subscriptions"].get(rid.split("/")[2].lower(), {})
        return str(sub.get("tenantId", ""))

    def principal(vault: Json) -> str:
        return str(vault["identity"]["principalId"])

    def protected_by(server_id: str) -> Json | None:
        for bi in state.children("/subscriptions", BI):
            if norm(bi["properties"]["dataSourceInfo"].get("resourceID", "")) == norm(server_id):
                return bi
        return None

    # -- vaults --------------------------------------------------------------------------
    def v_list_sub(req: Request, m: re.Match[str]) -> Response:
        items = [public(v) for v in state.children(f"/subscriptions/{m['sub']}", VAULT)]
        return page(req, sorted(items, key=lambda v: v["id"].lower()), arm.page_size)

    def v_list_rg(req: Request, m: re.Match[str]) -> Response:
        items = [
            public(v)
            for v in state.children(f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}", VAULT)
        ]
        return page(req, sorted(items, key=lambda v: v["id"].lower()), arm.page_size)

    def v_get(req: Request, m: re.Match[str]) -> Response:
        return Response(200, public(load_vault(m)))

    def v_put(req: Request, m: re.Match[str]) -> Response:
        existing = state.get(vault_id(m))
        if existing is not None:
            return v_patch(req, m, status=200)
        body = req.json()
        props = body.get("properties", {})
        if not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required.")
        settings = props.get("storageSettings") or []
        if not settings:
            raise ArmError(
                400,
                "UserErrorInvalidStorageSettings",
                "storageSettings with a VaultStore datastore type is required.",
            )
        feature = props.get("featureSettings") or {}
        security = props.get("securitySettings") or {}
        oid = str(uuid.uuid4())
        tenant = tenant_of(vault_id(m))
        vault = vault_json(
            m["sub"],
            m["rg"],
            m["vault"],
            location=body["location"],
            tenant_id=tenant,
            principal_id=oid,
            redundancy=settings[0].get("type", "LocallyRedundant"),
            crr=feature.get("crossRegionRestoreSettings", {}).get("state") == "Enabled",
            csr=feature.get("crossSubscriptionRestoreSettings", {}).get("state", "Enabled"),
            soft_delete=security.get("softDeleteSettings", {}).get("state", "On"),
            soft_delete_days=int(
                security.get("softDeleteSettings", {}).get("retentionDurationInDays", 14)
            ),
            immutability=security.get("immutabilitySettings", {}).get("state", "Disabled"),
            tags=body.get("tags"),
        )
        if (
            vault["properties"]["featureSettings"]["crossRegionRestoreSettings"]["state"]
            == "Enabled"
            and vault["properties"]["storageSettings"][0]["type"] != "GeoRedundant"
        ):
            raise ArmError(
                400,
                "UserErrorCrossRegionRestoreNotSupported",
                "Cross Region Restore can be enabled only for GeoRedundant vaults.",
            )
        vault["properties"]["provisioningState"] = "Provisioning"
        with state.batch():
            state.put(vault)
            state.data["principals"][oid] = {
                "tenantId": tenant,
                "type": "ServicePrincipal",
                "displayName": m["vault"],
                "managedIdentityResourceId": vault["id"],
            }

        def work() -> None:
            with state.lock:
                vault["properties"]["provisioningState"] = "Succeeded"
                state.save()

        return arm.lro(req, work, status=201, body=public(vault))

    def v_patch(req: Request, m: re.Match[str], status: int = 202) -> Response:
        vault = load_vault(m)
        body = req.json()
        props = body.get("properties", {})
        with state.lock:
            cur = vault["properties"]
            feature = props.get("featureSettings") or {}
            crr = feature.get("crossRegionRestoreSettings", {}).get("state")
            if crr:
                if crr == "Enabled" and cur["storageSettings"][0]["type"] != "GeoRedundant":
                    raise ArmError(
                        400,
                        "UserErrorCrossRegionRestoreNotSupported",
                        "Cross Region Restore can be enabled only for GeoRedundant vaults.",
                    )
                if (
                    crr == "Disabled"
                    and cur["featureSettings"]["crossRegionRestoreSettings"]["state"] == "Enabled"
                ):
                    raise ArmError(
                        400,
                        "UserErrorCrossRegionRestoreCannotBeDisabled",
                        "Cross Region Restore cannot be disabled once enabled.",
                    )
                cur["featureSettings"]["crossRegionRestoreSettings"]["state"] = crr
            csr = feature.get("crossSubscriptionRestoreSettings", {}).get("state")
            if csr:
                if (
                    cur["featureSettings"]["crossSubscriptionRestoreSettings"]["state"]
                    == "PermanentlyDisabled"
                    and csr != "PermanentlyDisabled"
                ):
                    raise ArmError(
                        400,
                        "UserErrorCrossSubscriptionRestorePermanentlyDisabled",
                        "Cross Subscription Restore is permanently disabled.",
                    )
                cur["featureSettings"]["crossSubscriptionRestoreSettings"]["state"] = csr
            security = props.get("securitySettings") or {}
            soft = security.get("softDeleteSettings")
            if soft:
                old = cur["securitySettings"]["softDeleteSettings"]
                if old["state"] == "AlwaysOn" and soft.get("state", "AlwaysOn") != "AlwaysOn":
                    raise ArmError(
                        400,
                        "UserErrorSoftDeleteCannotBeDisabled",
                        "Soft delete is AlwaysOn and can't be turned off.",
                    )
                old.update(soft)
            immut = security.get("immutabilitySettings")
            if immut:
                old_i = cur["securitySettings"]["immutabilitySettings"]
                if old_i["state"] == "Locked" and immut.get("state") != "Locked":
                    raise ArmError(
                        400,
                        "UserErrorImmutabilityLocked",
                        "Immutability is locked and can't be changed.",
                    )
                old_i.update(immut)
            settings = props.get("storageSettings")
            if settings and settings[0].get("type") != cur["storageSettings"][0]["type"]:
                if state.children(vault["id"], BI):
                    raise ArmError(
                        400,
                        "UserErrorStorageSettingsCannotBeChanged",
                        "Storage redundancy can't be changed once items are protected.",
                    )
                cur["storageSettings"] = settings
            if "tags" in body:
                vault["tags"] = body["tags"] or {}
            state.save()
        if status == 200:
            return Response(200, public(vault))
        return arm.lro(req, lambda: None)

    def v_delete(req: Request, m: re.Match[str]) -> Response:
        vault = load_vault(m)
        if state.children(vault["id"], BI):
            raise ArmError(
                400,
                "UserErrorBackupVaultContainsBackupInstances",
                "The vault has backup instances; remove them before deleting it.",
            )

        def work() -> None:
            with state.batch():
                state.delete(vault["id"])
                state.data["principals"].pop(principal(vault), None)

        return arm.lro(req, work)

    # -- policies ------------------------------------------------------------------------
    def p_list(req: Request, m: re.Match[str]) -> Response:
        load_vault(m)
        items = [public(p) for p in state.children(vault_id(m), POLICY)]
        return page(req, sorted(items, key=lambda p: p["name"].lower()), arm.page_size)

    def p_get(req: Request, m: re.Match[str]) -> Response:
        load_vault(m)
        return Response(200, public(load(f"{vault_id(m)}/backupPolicies/{m['pol']}")))

    def p_put(req: Request, m: re.Match[str]) -> Response:
        load_vault(m)
        body = req.json()
        validate_policy(body)
        props = copy.deepcopy(body["properties"])
        for rule in props.get("policyRules", []):
            for crit in rule.get("trigger", {}).get("taggingCriteria", []) or []:
                info = crit.setdefault("tagInfo", {})
                info.setdefault("id", f"{info.get('tagName', '')}_")
                info.setdefault("eTag", None)
        policy = {
            "id": f"{vault_id(m)}/backupPolicies/{m['pol']}",
            "name": m["pol"],
            "type": POLICY,
            "properties": props,
        }
        state.put(policy)
        return Response(200, public(policy))

    def p_delete(req: Request, m: re.Match[str]) -> Response:
        pid = norm(f"{vault_id(m)}/backupPolicies/{m['pol']}")
        for bi in state.children(vault_id(m), BI):
            if norm(bi["properties"]["policyInfo"].get("policyId", "")) == pid:
                raise ArmError(
                    400,
                    "UserErrorPolicyInUse",
                    "The policy is in use by backup instances and can't be deleted.",
                )
        return Response(200 if state.delete(pid) else 204, None)

    # -- backup instances ------------------------------------------------------------------
    def static_checks(vault: Json, bi_props: Json, *, bi_id: str | None) -> Json:
        ds = bi_props.get("dataSourceInfo") or {}
        if str(ds.get("datasourceType", "")).lower() != PG.lower():
            raise ArmError(
                400,
                "UserErrorDatasourceTypeNotSupported",
                f"Datasource type '{ds.get('datasourceType')}' is not supported.",
            )
        server_id = str(ds.get("resourceID", ""))
        policy_id = str((bi_props.get("policyInfo") or {}).get("policyId", ""))
        if state.get(policy_id) is None or not norm(policy_id).startswith(norm(vault["id"])):
            raise ArmError(
                400,
                "UserErrorPolicyNotFound",
                f"The backup policy '{policy_id}' was not found in this vault.",
            )
        other = protected_by(server_id)
        if other is not None and (bi_id is None or norm(other["id"]) != norm(bi_id)):
            raise ArmError(
                400,
                "UserErrorDppDatasourceAlreadyProtected",
                f"Datasource is already protected under the Backup vault {other['id']}.",
            )
        return ds

    def dynamic_checks(vault: Json, ds: Json) -> Json:
        server_id = str(ds.get("resourceID", ""))
        server = state.get(server_id)
        if server is None:
            raise ArmError(
                400,
                "PostgreSQLFlexOperationFailedUserError",
                "The server could not be found.",
                details=[
                    {"code": "ResourceNotFound", "message": f"Server '{server_id}' was not found."}
                ],
            )
        if tenant_of(server_id) != tenant_of(vault["id"]):
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
        oid = principal(vault)
        ltr_ok = arm.has_role(oid, server["id"], {roles.LTR_BACKUP, roles.OWNER, roles.CONTRIBUTOR})
        if not ltr_ok:
            raise _perm_error(
                oid, server["id"], "Microsoft.DBforPostgreSQL/flexibleServers/ltrBackup/action"
            )
        rg_scope = "/".join(server["id"].split("/")[:5])
        if not arm.has_role(oid, rg_scope, {roles.READER, roles.CONTRIBUTOR, roles.OWNER}):
            raise _perm_error(
                oid, rg_scope, "Microsoft.Resources/subscriptions/resourceGroups/read"
            )
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

    def bi_list(req: Request, m: re.Match[str]) -> Response:
        load_vault(m)
        items = [public(b) for b in state.children(vault_id(m), BI)]
        return page(req, sorted(items, key=lambda b: b["name"].lower()), arm.page_size)

    def bi_get(req: Request, m: re.Match[str]) -> Response:
        return Response(200, public(load_bi(m)))

    def bi_put(req: Request, m: re.Match[str]) -> Response:
        vault = load_vault(m)
        bi_id = f"{vault['id']}/backupInstances/{m['bi']}"
        existing = state.get(bi_id)
        props = copy.deepcopy(req.json().get("properties") or {})
        ds = static_checks(vault, props, bi_id=bi_id)
        props.setdefault("objectType", "BackupInstance")
        if isinstance(props.get("policyInfo"), dict):
            props["policyInfo"].setdefault("policyVersion", "1.0")
        props["provisioningState"] = "Provisioning"
        props["currentProtectionState"] = (
            "UpdatingProtection" if existing else "ConfiguringProtection"
        )
        props["protectionStatus"] = {"status": "ConfiguringProtection", "errorDetails": None}
        props.setdefault("dataSourceSetInfo", None)
        props["protectionErrorDetails"] = None
        if existing:
            props.setdefault("policyInfo", {})
        bi = {"id": bi_id, "name": m["bi"], "type": BI, "tags": {}, "properties": props}
        state.put(bi)

        def work() -> None:
            try:
                dynamic_checks(vault, ds)
            except ArmError:
                if existing is None:
                    state.delete(bi_id)
                else:
                    state.put(existing)
                raise
            with state.lock:
                props["provisioningState"] = "Succeeded"
                props["currentProtectionState"] = "ProtectionConfigured"
                props["protectionStatus"] = {"status": "ProtectionConfigured", "errorDetails": None}
                state.save()

        return arm.lro(req, work, status=201, body=public(bi))

    def bi_delete(req: Request, m: re.Match[str]) -> Response:
        vault = load_vault(m)
        bi = load_bi(m)
        busy(bi)
        security = vault["properties"]["securitySettings"]
        soft = security["softDeleteSettings"]["state"]
        if security.get("immutabilitySettings", {}).get("state") == "Locked":
            now = now_iso()
            unexpired = [
                rp["name"]
                for rp in state.children(bi["id"], RP)
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
            with state.batch():
                points = [copy.deepcopy(rp) for rp in state.children(bi["id"], RP)]
                state.delete(bi["id"])
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
                        "scheduledPurgeTime": (
                            datetime.now(UTC) + timedelta(days=soft_days)
                        ).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                        "deleteActivityID": str(uuid.uuid4()),
                    }
                    state.put(gone)
                else:
                    for rp in state.children(bi["id"], RP):
                        meta = rp.get("_sandbox", {})
                        if meta.get("files") and not meta.get("alias_of"):
                            dp.delete_recovery_point(rp["name"])

        return arm.lro(req, work)

    def bi_state_action(req: Request, m: re.Match[str]) -> Response:
        bi = load_bi(m)
        new = {
            "stopprotection": "ProtectionStopped",
            "resumeprotection": "ProtectionConfigured",
            "suspendbackups": "BackupSchedulesSuspended",
            "resumebackups": "ProtectionConfigured",
        }[m["act"].lower()]

        def work() -> None:
            with state.lock:
                bi["properties"]["currentProtectionState"] = new
                bi["properties"]["protectionStatus"] = {"status": new, "errorDetails": None}
                state.save()

        return arm.lro(req, work)

    def validate_for_backup(req: Request, m: re.Match[str]) -> Response:
        vault = load_vault(m)
        bi_props = req.json().get("backupInstance") or {}
        ds = static_checks(vault, bi_props, bi_id=None)

        def work() -> Json:
            dynamic_checks(vault, ds)
            return {"objectType": "OperationJobExtendedInfo"}

        return arm.lro(req, work)

    # -- jobs --------------------------------------------------------------------------------
    def busy(bi: Json) -> None:
        running = arm.busy.get(norm(bi["id"]))
        if running:
            raise ArmError(
                400,
                "UserErrorMaxConcurrentOperationLimitReached",
                "Another operation is in progress on this backup instance (job "
                f"{running}). Retry after it completes.",
            )

    def start_job(
        vault: Json,
        bi: Json | None,
        operation: str,
        category: str,
        run: Any,
        *,
        lock_bi: bool = True,
    ) -> Json:
        job_id = str(uuid.uuid4())
        if bi is not None and lock_bi:
            # Check and mark in one step: concurrent requests must not both pass busy().
            with arm.busy_lock:
                busy(bi)
                arm.busy[norm(bi["id"])] = job_id
        server = state.get(bi["properties"]["dataSourceInfo"]["resourceID"]) if bi else None
        job = job_json(
            vault,
            job_id,
            operation=operation,
            category=category,
            bi=bi,
            server=server,
            start=now_iso(),
        )
        state.put(job)
        began = time.monotonic()

        def go() -> None:
            with state.lock:
                job["properties"]["status"] = "InProgress"
                state.save()
            status, errors = "Completed", None
            try:
                run(job)
            except (ArmError, DataPlaneError) as exc:
                status = "Failed"
                errors = [
                    {
                        "code": exc.code,
                        "message": exc.message,
                        "isRetryable": False,
                        "recommendedAction": [],
                        "details": getattr(exc, "details", []),
                    }
                ]
            except Exception as exc:  # noqa: BLE001 - keep the service alive, surface it on the job
                status = "Failed"
                errors = [{"code": "InternalError", "message": str(exc)}]
            try:
                with state.lock:
                    props = job["properties"]
                    props["status"] = status
                    props["errorDetails"] = errors
                    props["endTime"] = now_iso()
                    props["duration"] = f"PT{time.monotonic() - began:.2f}S"
                    for task in props["extendedInfo"].get("subTasks", []):
                        task["taskStatus"] = "Completed" if status == "Completed" else "Failed"
                    state.save()
            finally:
                # Only a job whose end is recorded frees the instance for the next operation.
                if bi is not None and lock_bi:
                    with arm.busy_lock:
                        arm.busy.pop(norm(bi["id"]), None)

        arm.spawn(go, f"job-{job_id[:8]}")
        return job

    def do_backup(vault: Json, bi: Json, job: Json, tag: str) -> None:
        server = state.get(bi["properties"]["dataSourceInfo"]["resourceID"])
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
            result = dp.backup(server["_sandbox"]["key"], rp_id)
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
            expiry=expiry_time(state.get(policy_id), when, tag),
        )
        rp["_sandbox"] = {
            "files": list(result.files),
            "databases": list(result.databases),
            "size": result.size_bytes,
            "server": server["id"],
        }
        with state.batch():
            state.put(rp)
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

    def adhoc_backup(req: Request, m: re.Match[str]) -> Response:
        vault = load_vault(m)
        bi = load_bi(m)
        busy(bi)
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
        job = start_job(
            vault, bi, "OnDemandBackup", "Backup", lambda j: do_backup(vault, bi, j, tag)
        )
        result = {"objectType": "OperationJobExtendedInfo", "jobId": job["id"]}
        return arm.lro(req, lambda: result)

    def j_list(req: Request, m: re.Match[str]) -> Response:
        load_vault(m)
        items = [public(j) for j in state.children(vault_id(m), JOB)]
        items.sort(key=lambda j: j["properties"]["startTime"], reverse=True)
        return page(req, items, arm.page_size)

    def j_get(req: Request, m: re.Match[str]) -> Response:
        load_vault(m)
        return Response(200, public(load(f"{vault_id(m)}/backupJobs/{m['job']}")))

    # -- recovery points ---------------------------------------------------------------------
    def rp_list(req: Request, m: re.Match[str]) -> Response:
        bi = load_bi(m)
        items = [public(p) for p in state.children(bi["id"], RP)]
        flt = req.query.get("$filter", "")
        start = re.search(r"startDate\s+eq\s+'([^']+)'", flt, re.IGNORECASE)
        end = re.search(r"endDate\s+eq\s+'([^']+)'", flt, re.IGNORECASE)

        def ts(text: str) -> datetime:
            text = text.rstrip("Z")[:26]
            return datetime.fromisoformat(text).replace(tzinfo=UTC)

        if start:
            items = [
                p for p in items if ts(p["properties"]["recoveryPointTime"]) >= ts(start.group(1))
            ]
        if end:
            items = [
                p for p in items if ts(p["properties"]["recoveryPointTime"]) <= ts(end.group(1))
            ]
        items.sort(key=lambda p: p["properties"]["recoveryPointTime"], reverse=True)
        return page(req, items, arm.page_size)

    def rp_get(req: Request, m: re.Match[str]) -> Response:
        bi = load_bi(m)
        return Response(200, public(load(f"{bi['id']}/recoveryPoints/{m['rp']}")))

    # -- restore -------------------------------------------------------------------------
    def find_account(name: str) -> Json | None:
        for acc in state.children("/subscriptions", ST):
            if acc["name"].lower() == name.lower():
                return acc
        return None

    def restore_checks(
        vault: Json, bi: Json, request: Json, *, secondary: str | None = None
    ) -> tuple[Json, Json, str, str, str]:
        if request.get("objectType") != "AzureBackupRecoveryPointBasedRestoreRequest":
            raise ArmError(
                400,
                "UserErrorRestoreModeNotSupported",
                "Only recovery point based restore is supported for this datasource.",
            )
        rp = state.get(f"{bi['id']}/recoveryPoints/{request.get('recoveryPointId', '')}")
        if rp is None:
            raise ArmError(
                400,
                "UserErrorRecoveryPointNotFound",
                f"Recovery point '{request.get('recoveryPointId')}' was not found.",
            )
        target = request.get("restoreTargetInfo") or {}
        if target.get("objectType") != "RestoreFilesTargetInfo":
            raise ArmError(
                400,
                "UserErrorRestoreTargetNotSupported",
                "Only restore as files (RestoreFilesTargetInfo) is supported.",
            )
        details = target.get("targetDetails") or {}
        url = str(details.get("url", ""))
        split = urlsplit(url)
        segments = [s for s in split.path.split("/") if s]
        host = split.hostname or ""
        if host in ("127.0.0.1", "localhost"):
            account_name, container = ([*segments, "", ""])[:2]
        else:
            account_name, container = host.split(".")[0], ([*segments, ""])[0]
        if not account_name or not container:
            raise ArmError(
                400, "UserErrorInvalidRestoreTargetUrl", f"'{url}' is not a blob container URL."
            )
        account = find_account(account_name)
        if account is None:
            raise ArmError(
                400,
                "UserErrorStorageAccountNotFound",
                f"Storage account '{account_name}' was not found.",
            )
        acc_sub = account["id"].split("/")[2].lower()
        vault_sub = vault["id"].split("/")[2].lower()
        if tenant_of(account["id"]) != tenant_of(vault["id"]):
            raise ArmError(
                400,
                "UserErrorCrossTenantRestoreNotSupported",
                "The restore target must be in the same tenant as the vault.",
            )
        if acc_sub != vault_sub:
            csr = vault["properties"]["featureSettings"]["crossSubscriptionRestoreSettings"][
                "state"
            ]
            if csr != "Enabled":
                raise ArmError(
                    400,
                    "UserErrorCrossSubscriptionRestoreNotEnabled",
                    "Cross subscription restore is disabled for this vault.",
                )
        if secondary is not None and account["location"].lower() != secondary.lower():
            raise ArmError(
                400,
                "UserErrorCrossRegionRestoreTargetNotInSecondaryRegion",
                f"The restore target must be in the secondary region '{secondary}'.",
            )
        oid = principal(vault)
        if not arm.has_role(
            oid, account["id"], {roles.BLOB_DATA_CONTRIBUTOR, roles.BLOB_DATA_OWNER}
        ):
            raise ArmError(
                400,
                "UserErrorMSIMissingPermissions",
                "The backup vault's managed identity is missing permissions on the target "
                f"storage account '{account['id']}'. Assign the Storage Blob Data Contributor "
                "role to the vault identity.",
            )
        if not account["properties"].get("allowCrossTenantReplication"):
            raise ArmError(
                400,
                "UserErrorCrossTenantReplicationNotAllowed",
                f"Storage account '{account['name']}' has "
                "AllowCrossTenantReplication disabled; enable it to restore.",
            )
        if account["properties"].get("publicNetworkAccess") == "Disabled":
            rules = account["properties"]["networkAcls"].get("resourceAccessRules") or []
            if not any(norm(r.get("resourceId", "")) == norm(vault["id"]) for r in rules):
                raise ArmError(
                    400,
                    "UserErrorStorageAccountNotAccessible",
                    f"Storage account '{account['name']}' is not reachable from the "
                    "vault: allow public access from selected networks with a "
                    "resource instance rule for the vault.",
                )
        prefix = str(details.get("filePrefix") or "")
        return rp, account, account_name, container, prefix

    def run_restore(vault: Json, bi: Json, request: Json, *, secondary: str | None) -> Json:
        rp, _account, acc_name, container, prefix = restore_checks(
            vault, bi, request, secondary=secondary
        )
        busy(bi)
        url = request["restoreTargetInfo"]["targetDetails"]["url"]

        def run(job: Json) -> None:
            with state.lock:
                info = job["properties"]["extendedInfo"]
                info["sourceRecoverPoint"] = {
                    "recoveryPointID": rp["name"],
                    "recoveryPointTime": rp["properties"]["recoveryPointTime"],
                }
                info["recoveryDestination"] = url
                info["additionalDetails"] = {"Restore File Prefix": prefix}
                info["subTasks"] = [
                    {
                        "taskId": 1,
                        "taskName": "Trigger Restore",
                        "taskStatus": "InProgress",
                        "taskProgress": None,
                        "additionalDetails": {"TaskId": "1", "DatasourceType": PG},
                    }
                ]
                state.save()
            source_rp = rp.get("_sandbox", {}).get("alias_of") or rp["name"]
            files = dp.restore_as_files(
                source_rp, account=acc_name, container=container, prefix=prefix
            )
            with state.lock:
                task = job["properties"]["extendedInfo"]["subTasks"][0]
                task["additionalDetails"]["DataTransferredInBytes"] = str(
                    rp.get("_sandbox", {}).get("size", 0)
                )
                job.setdefault("_sandbox", {})["files"] = files
                job["properties"]["extendedInfo"]["additionalDetails"]["Restored Files"] = ",".join(
                    files
                )
                state.save()

        job = start_job(vault, bi, "Restore", "Restore", run)
        if secondary is not None:
            with state.lock:
                job["properties"]["isCrossRegionRestore"] = True
                job.setdefault("_sandbox", {})["crr"] = True
        return {"objectType": "OperationJobExtendedInfo", "jobId": job["id"]}

    def validate_restore(req: Request, m: re.Match[str]) -> Response:
        vault, bi = load_vault(m), load_bi(m)
        request = req.json().get("restoreRequestObject") or {}

        def work() -> Json:
            restore_checks(vault, bi, request)
            return {"objectType": "OperationJobExtendedInfo"}

        return arm.lro(req, work)

    def trigger_restore(req: Request, m: re.Match[str]) -> Response:
        vault, bi = load_vault(m), load_bi(m)
        request = req.json()
        busy(bi)
        return arm.lro(req, lambda: run_restore(vault, bi, request, secondary=None))

    # -- cross-region restore ------------------------------------------------------------------
    def crr_source(source_bi_id: str, source_region: str, loc: str) -> tuple[Json, Json]:
        bi = state.get(source_bi_id)
        if bi is None:
            raise not_found(source_bi_id)
        vault = load("/".join(source_bi_id.split("/")[:9]))
        props = vault["properties"]
        if (
            props["storageSettings"][0]["type"] != "GeoRedundant"
            or props["featureSettings"]["crossRegionRestoreSettings"]["state"] != "Enabled"
        ):
            raise ArmError(
                400,
                "UserErrorCrossRegionRestoreNotEnabled",
                "Cross Region Restore is not enabled for the source vault.",
            )
        if source_region.lower() != vault["location"].lower():
            raise ArmError(
                400,
                "UserErrorInvalidSourceRegion",
                f"Source region '{source_region}' is not the vault's region.",
            )
        if (paired_region(vault["location"]) or "") != loc.lower():
            raise ArmError(
                400,
                "UserErrorInvalidSecondaryRegion",
                f"'{loc}' is not the paired region of '{vault['location']}'.",
            )
        return vault, bi

    def fetch_secondary_rps(req: Request, m: re.Match[str]) -> Response:
        body = req.json()
        _, bi = crr_source(
            str(body.get("sourceBackupInstanceId", "")), str(body.get("sourceRegion", "")), m["loc"]
        )
        items = [public(p) for p in state.children(bi["id"], RP)]
        items.sort(key=lambda p: p["properties"]["recoveryPointTime"], reverse=True)
        return page(req, items, arm.page_size)

    def crr_validate(req: Request, m: re.Match[str]) -> Response:
        body = req.json()
        det = body.get("crossRegionRestoreDetails") or {}
        vault, bi = crr_source(
            str(det.get("sourceBackupInstanceId", "")), str(det.get("sourceRegion", "")), m["loc"]
        )

        def work() -> Json:
            restore_checks(vault, bi, body.get("restoreRequestObject") or {}, secondary=m["loc"])
            return {"objectType": "OperationJobExtendedInfo"}

        return arm.lro(req, work)

    def crr_trigger(req: Request, m: re.Match[str]) -> Response:
        body = req.json()
        det = body.get("crossRegionRestoreDetails") or {}
        vault, bi = crr_source(
            str(det.get("sourceBackupInstanceId", "")), str(det.get("sourceRegion", "")), m["loc"]
        )
        busy(bi)
        request = body.get("restoreRequestObject") or {}
        return arm.lro(req, lambda: run_restore(vault, bi, request, secondary=m["loc"]))

    def crr_jobs(vault_ref: str) -> list[Json]:
        return [
            public(j) for j in state.children(vault_ref, JOB) if j.get("_sandbox", {}).get("crr")
        ]

    def crr_job(req: Request, m: re.Match[str]) -> Response:
        body = req.json()
        job = state.get(
            f"{body.get('sourceBackupVaultId', '')}/backupJobs/"
            f"{str(body.get('jobId', '')).rsplit('/', 1)[-1]}"
        )
        if job is None:
            raise ArmError(
                404, "UserErrorJobNotFound", "The cross region restore job was not found."
            )
        return Response(200, public(job))

    def crr_job_list(req: Request, m: re.Match[str]) -> Response:
        body = req.json()
        return page(req, crr_jobs(str(body.get("sourceBackupVaultId", ""))), arm.page_size)

    def deleted_list(req: Request, m: re.Match[str]) -> Response:
        load_vault(m)
        return page(
            req, [public(b) for b in state.children(vault_id(m), DELETED_BI)], arm.page_size
        )

    def deleted_get(req: Request, m: re.Match[str]) -> Response:
        return Response(200, public(load(f"{vault_id(m)}/deletedBackupInstances/{m['bi']}")))

    def undelete(req: Request, m: re.Match[str]) -> Response:
        vault = load_vault(m)
        gone = load(f"{vault['id']}/deletedBackupInstances/{m['bi']}")
        bi_id = f"{vault['id']}/backupInstances/{m['bi']}"
        if state.get(bi_id) is not None:
            raise ArmError(
                400,
                "UserErrorBackupInstanceAlreadyExists",
                f"A backup instance named '{m['bi']}' already exists in the vault.",
            )
        server_id = str(gone["properties"]["dataSourceInfo"].get("resourceID", ""))
        other = protected_by(server_id)
        if other is not None:
            raise ArmError(
                400,
                "UserErrorDppDatasourceAlreadyProtected",
                f"Datasource is already protected under the Backup vault {other['id']}.",
            )

        def work() -> None:
            with state.batch():
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
                state.delete(gone["id"])
                state.put(bi)
                for rp in points:
                    state.put(rp)

        return arm.lro(req, work)

    r = arm.router
    r.add("GET", _SUB + r"/providers/Microsoft\.DataProtection/backupVaults", v_list_sub)
    r.add("GET", _RGP + r"/backupVaults", v_list_rg)
    r.add("GET", _V, v_get)
    r.add("PUT", _V, v_put)
    r.add("PATCH", _V, v_patch)
    r.add("DELETE", _V, v_delete)
    r.add("GET", _V + r"/backupPolicies", p_list)
    r.add("GET", _V + r"/backupPolicies/(?P<pol>[^/]+)", p_get)
    r.add("PUT", _V + r"/backupPolicies/(?P<pol>[^/]+)", p_put)
    r.add("DELETE", _V + r"/backupPolicies/(?P<pol>[^/]+)", p_delete)
    r.add("GET", _V + r"/backupInstances", bi_list)
    r.add("GET", _BI, bi_get)
    r.add("PUT", _BI, bi_put)
    r.add("DELETE", _BI, bi_delete)
    r.add(
        "POST",
        _BI + r"/(?P<act>stopProtection|resumeProtection|suspendBackups|resumeBackups)",
        bi_state_action,
    )
    r.add("POST", _V + r"/validateForBackup", validate_for_backup)
    r.add("POST", _BI + r"/backup", adhoc_backup)
    r.add("POST", _BI + r"/validateRestore", validate_restore)
    r.add("POST", _BI + r"/restore", trigger_restore)
    r.add("GET", _BI + r"/recoveryPoints", rp_list)
    r.add("GET", _BI + r"/recoveryPoints/(?P<rp>[^/]+)", rp_get)
    r.add("GET", _V + r"/backupJobs", j_list)
    r.add("GET", _V + r"/backupJobs/(?P<job>[^/]+)", j_get)
    r.add("GET", _V + r"/deletedBackupInstances", deleted_list)
    r.add("GET", _V + r"/deletedBackupInstances/(?P<bi>[^/]+)", deleted_get)
    r.add("POST", _V + r"/deletedBackupInstances/(?P<bi>[^/]+)/undelete", undelete)
    r.add("POST", _LOC + r"/fetchSecondaryRecoveryPoints", fetch_secondary_rps)
    r.add("POST", _LOC + r"/validateCrossRegionRestore", crr_validate)
    r.add("POST", _LOC + r"/crossRegionRestore", crr_trigger)
    r.add("POST", _LOC + r"/fetchCrossRegionRestoreJob", crr_job)
    r.add("POST", _LOC + r"/fetchCrossRegionRestoreJobs", crr_job_list)
