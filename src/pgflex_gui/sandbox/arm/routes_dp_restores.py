"""Microsoft.DataProtection: restores (as files), backup jobs and cross-region restore."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from pgflex_gui.sandbox.arm import roles
from pgflex_gui.sandbox.arm.dpcontext import BI_PATH, LOC_PATH, PG, VAULT_PATH, DpContext
from pgflex_gui.sandbox.arm.dpmodel import JOB, RP
from pgflex_gui.sandbox.arm.http import ArmError, Request, Response, not_found, page
from pgflex_gui.sandbox.arm.regions import paired_region
from pgflex_gui.sandbox.arm.routes_storage import ST
from pgflex_gui.sandbox.arm.state import norm, public

__all__ = ["ROUTES", "register"]

Json = dict[str, Any]
Route = Callable[[DpContext, Request, re.Match[str]], Response]


def j_list(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    ctx.load_vault(m)
    items = [public(j) for j in ctx.state.children(ctx.vault_id(m), JOB)]
    items.sort(key=lambda j: j["properties"]["startTime"], reverse=True)
    return page(req, items, ctx.arm.page_size)


def j_get(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    ctx.load_vault(m)
    return Response(200, public(ctx.load(f"{ctx.vault_id(m)}/backupJobs/{m['job']}")))


# -- restore -------------------------------------------------------------------------
def find_account(ctx: DpContext, name: str) -> Json | None:
    for acc in ctx.state.children("/subscriptions", ST):
        if acc["name"].lower() == name.lower():
            return acc
    return None


def restore_checks(
    ctx: DpContext, vault: Json, bi: Json, request: Json, *, secondary: str | None = None
) -> tuple[Json, Json, str, str, str]:
    if request.get("objectType") != "AzureBackupRecoveryPointBasedRestoreRequest":
        raise ArmError(
            400,
            "UserErrorRestoreModeNotSupported",
            "Only recovery point based restore is supported for this datasource.",
        )
    rp = ctx.state.get(f"{bi['id']}/recoveryPoints/{request.get('recoveryPointId', '')}")
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
    account = find_account(ctx, account_name)
    if account is None:
        raise ArmError(
            400,
            "UserErrorStorageAccountNotFound",
            f"Storage account '{account_name}' was not found.",
        )
    acc_sub = account["id"].split("/")[2].lower()
    vault_sub = vault["id"].split("/")[2].lower()
    if ctx.tenant_of(account["id"]) != ctx.tenant_of(vault["id"]):
        raise ArmError(
            400,
            "UserErrorCrossTenantRestoreNotSupported",
            "The restore target must be in the same tenant as the vault.",
        )
    if acc_sub != vault_sub:
        csr = vault["properties"]["featureSettings"]["crossSubscriptionRestoreSettings"]["state"]
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
    oid = ctx.principal(vault)
    if not ctx.arm.has_role(
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


def run_restore(
    ctx: DpContext, vault: Json, bi: Json, request: Json, *, secondary: str | None
) -> Json:
    rp, _account, acc_name, container, prefix = restore_checks(
        ctx, vault, bi, request, secondary=secondary
    )
    ctx.busy(bi)
    url = request["restoreTargetInfo"]["targetDetails"]["url"]

    def run(job: Json) -> None:
        with ctx.state.lock:
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
            ctx.state.save()
        source_rp = rp.get("_sandbox", {}).get("alias_of") or rp["name"]
        files = ctx.dp.restore_as_files(
            source_rp, account=acc_name, container=container, prefix=prefix
        )
        with ctx.state.lock:
            task = job["properties"]["extendedInfo"]["subTasks"][0]
            task["additionalDetails"]["DataTransferredInBytes"] = str(
                rp.get("_sandbox", {}).get("size", 0)
            )
            job.setdefault("_sandbox", {})["files"] = files
            job["properties"]["extendedInfo"]["additionalDetails"]["Restored Files"] = ",".join(
                files
            )
            ctx.state.save()

    job = ctx.start_job(vault, bi, "Restore", "Restore", run)
    if secondary is not None:
        with ctx.state.lock:
            job["properties"]["isCrossRegionRestore"] = True
            job.setdefault("_sandbox", {})["crr"] = True
    return {"objectType": "OperationJobExtendedInfo", "jobId": job["id"]}


def validate_restore(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    vault, bi = ctx.load_vault(m), ctx.load_bi(m)
    request = req.json().get("restoreRequestObject") or {}

    def work() -> Json:
        restore_checks(ctx, vault, bi, request)
        return {"objectType": "OperationJobExtendedInfo"}

    return ctx.arm.lro(req, work)


def trigger_restore(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    vault, bi = ctx.load_vault(m), ctx.load_bi(m)
    request = req.json()
    ctx.busy(bi)
    return ctx.arm.lro(req, lambda: run_restore(ctx, vault, bi, request, secondary=None))


# -- cross-region restore ------------------------------------------------------------------
def crr_source(
    ctx: DpContext, source_bi_id: str, source_region: str, loc: str
) -> tuple[Json, Json]:
    bi = ctx.state.get(source_bi_id)
    if bi is None:
        raise not_found(source_bi_id)
    vault = ctx.load("/".join(source_bi_id.split("/")[:9]))
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


def fetch_secondary_rps(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    body = req.json()
    _, bi = crr_source(
        ctx,
        str(body.get("sourceBackupInstanceId", "")),
        str(body.get("sourceRegion", "")),
        m["loc"],
    )
    items = [public(p) for p in ctx.state.children(bi["id"], RP)]
    items.sort(key=lambda p: p["properties"]["recoveryPointTime"], reverse=True)
    return page(req, items, ctx.arm.page_size)


def crr_validate(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    body = req.json()
    det = body.get("crossRegionRestoreDetails") or {}
    vault, bi = crr_source(
        ctx, str(det.get("sourceBackupInstanceId", "")), str(det.get("sourceRegion", "")), m["loc"]
    )

    def work() -> Json:
        restore_checks(ctx, vault, bi, body.get("restoreRequestObject") or {}, secondary=m["loc"])
        return {"objectType": "OperationJobExtendedInfo"}

    return ctx.arm.lro(req, work)


def crr_trigger(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    body = req.json()
    det = body.get("crossRegionRestoreDetails") or {}
    vault, bi = crr_source(
        ctx, str(det.get("sourceBackupInstanceId", "")), str(det.get("sourceRegion", "")), m["loc"]
    )
    ctx.busy(bi)
    request = body.get("restoreRequestObject") or {}
    return ctx.arm.lro(req, lambda: run_restore(ctx, vault, bi, request, secondary=m["loc"]))


def crr_jobs(ctx: DpContext, vault_ref: str) -> list[Json]:
    return [
        public(j) for j in ctx.state.children(vault_ref, JOB) if j.get("_sandbox", {}).get("crr")
    ]


def crr_job(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    body = req.json()
    job = ctx.state.get(
        f"{body.get('sourceBackupVaultId', '')}/backupJobs/"
        f"{str(body.get('jobId', '')).rsplit('/', 1)[-1]}"
    )
    if job is None:
        raise ArmError(404, "UserErrorJobNotFound", "The cross region restore job was not found.")
    return Response(200, public(job))


def crr_job_list(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    body = req.json()
    return page(req, crr_jobs(ctx, str(body.get("sourceBackupVaultId", ""))), ctx.arm.page_size)


ROUTES: tuple[tuple[str, str, Route], ...] = (
    ("POST", BI_PATH + r"/validateRestore", validate_restore),
    ("POST", BI_PATH + r"/restore", trigger_restore),
    ("GET", VAULT_PATH + r"/backupJobs", j_list),
    ("GET", VAULT_PATH + r"/backupJobs/(?P<job>[^/]+)", j_get),
    ("POST", LOC_PATH + r"/fetchSecondaryRecoveryPoints", fetch_secondary_rps),
    ("POST", LOC_PATH + r"/validateCrossRegionRestore", crr_validate),
    ("POST", LOC_PATH + r"/crossRegionRestore", crr_trigger),
    ("POST", LOC_PATH + r"/fetchCrossRegionRestoreJob", crr_job),
    ("POST", LOC_PATH + r"/fetchCrossRegionRestoreJobs", crr_job_list),
)


def register(ctx: DpContext) -> None:
    """Register these routes on the service's router."""
    for method, pattern, handler in ROUTES:
        ctx.arm.router.add(method, pattern, partial(handler, ctx))
