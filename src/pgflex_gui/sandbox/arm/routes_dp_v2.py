"""Microsoft.DataProtection, vaulted backup v2 (physical, preview) at api-version 2026-07-01.

Registered first (``server._register_routes``), before the ``routes_dp_*`` modules: each
route here answers only what is v2 and hands everything else to the next matching route, i.e.
the v1 routes, unchanged. Facts from the shared doc ``azure-v2-and-resource-graph.md``
Topic 1; where the doc says INFERRED or UNCONFIRMED the sandbox makes a choice, named below,
and the app must detect rather than assume.

* ``PUT backupPolicies`` at 2026-07-01 also accepts a daily (``P1D``) schedule (v1 routes
  accept weekly only). A v1 instance (no marker) attached to a daily policy is refused
  (UNCONFIRMED, doc §1.3: "expect a validation error").
* ``validateForBackup`` and ``PUT backupInstances`` at 2026-07-01 with the marker
  (``policyParameters.backupDatasourceParametersList`` = PostgreSqlFlexibleServer... /
  PhysicalBackup) refuse Burstable servers, PostgreSQL ≤ 14, replicas and the regions of
  doc §1.7 (400, Azure-style ``{"error": {code, message}}``), then run the v1 checks; the
  marker is kept in the instance (the v1 PUT copies ``policyInfo`` as sent).
* An on-demand backup of a v2 instance (any api-version: the instance decides) is physical:
  ``pg_basebackup`` of the source cluster into the vault store; its recovery point carries
  no v1/v2 marker (none is documented, doc §1.3). :func:`add_daily_points` adds
  metadata-only daily points (one a day) for views and tests.
* ``validateRestore`` / ``restore`` at 2026-07-01 with ``RestoreTargetInfo`` restore a v2
  point onto an **existing, empty** sandbox server: every target rule of doc §1.6 broken gives
  its own error code (the codes are the sandbox's own: Azure's are UNCONFIRMED). A larger
  target disk is accepted (UNCONFIRMED). ``restore`` answers 202 + Azure-AsyncOperation and
  starts a restore job; the job stops the target, replaces its data directory with the point's
  physical copy and starts it again, so the target then holds the source's databases and
  roles (its admin login becomes the source's, as when Azure writes the source disks).

The physical copy needs clusters on this machine (``LocalDataPlane``); with a metadata-only
data plane (``NullDataPlane``) v2 backups and restores touch metadata only.
"""

from __future__ import annotations

import copy
import logging
import re
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pgflex_gui.sandbox.arm import roles
from pgflex_gui.sandbox.arm.dpmodel import (
    POLICY,
    VAULT,
    expiry_time,
    job_json,
    rp_json,
    validate_policy,
)
from pgflex_gui.sandbox.arm.http import ArmError, Request, Response, not_found
from pgflex_gui.sandbox.arm.state import norm, public
from pgflex_gui.sandbox.contract import DataPlaneError
from pgflex_gui.sandbox.pgcluster import as_server_user, clean_env, traversable_by_server_user

if TYPE_CHECKING:
    from pgflex_gui.sandbox.arm.context import ArmContext

__all__ = ["V2_API_VERSION", "V2_UNSUPPORTED_REGIONS", "add_daily_points", "is_v2", "register"]

log = logging.getLogger(__name__)
Json = dict[str, Any]
PG = "Microsoft.DBforPostgreSQL/flexibleServers"
V2_API_VERSION = "2026-07-01"
PARAMS_TYPE = "PostgreSqlFlexibleServerBackupDatasourceParameters"
V2_UNSUPPORTED_REGIONS = frozenset(
    [
        "austriaeast",
        "belgiumcentral",
        "chilecentral",
        "indonesiacentral",
        "israelnorthwest",
        "malaysiasouth",
        "malaysiawest",
        "mexicocentral",
        "qatarcentral",
        "southcentralus2",
        "southeastus",
        "southeastus3",
        "southeastus5",
        "southwestus",
        "westindia",
    ]
)
_BUILTIN_DBS = frozenset({"postgres", "azure_maintenance", "azure_sys", "template0", "template1"})
_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_V = (
    _SUB + r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.DataProtection"
    r"/backupVaults/(?P<vault>[^/]+)"
)
_BI = _V + r"/backupInstances/(?P<bi>[^/]+)"


def is_v2(bi_props: Json) -> bool:
    """True when a backup instance's properties carry the documented PhysicalBackup marker."""
    params = ((bi_props.get("policyInfo") or {}).get("policyParameters") or {}).get(
        "backupDatasourceParametersList"
    ) or []
    return any(
        isinstance(p, dict)
        and str(p.get("objectType", "")).lower() == PARAMS_TYPE.lower()
        and str(p.get("backupSolutionType", "")).lower() == "physicalbackup"
        for p in params
    )


def _at_v2(req: Request) -> bool:
    return req.query.get("api-version", "") == V2_API_VERSION


def _bad(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _periods(policy_props: Json) -> list[str]:
    out: list[str] = []
    for rule in policy_props.get("policyRules") or []:
        if rule.get("objectType") == "AzureBackupRule":
            sched = (rule.get("trigger") or {}).get("schedule") or {}
            out += [str(i).rsplit("/", 1)[-1] for i in sched.get("repeatingTimeIntervals") or []]
    return out


def add_daily_points(
    arm: ArmContext, bi_id: str, days: int, *, end: datetime | None = None
) -> None:
    """Metadata-only daily recovery points (one a day, newest first ending at ``end``)."""
    state = arm.state
    bi = state.get(bi_id)
    if bi is None:
        raise KeyError(bi_id)
    policy_id = str(bi["properties"]["policyInfo"].get("policyId", ""))
    last = (end or datetime.now(UTC)).replace(microsecond=0)
    with state.batch():
        for day in range(days):
            when = (last - timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
            rp_id = uuid.uuid4().hex
            rp = rp_json(
                bi_id,
                rp_id,
                when,
                policy_name=policy_id.rsplit("/", 1)[-1],
                expiry=expiry_time(state.get(policy_id), when, "Default"),
            )
            rp["_sandbox"] = {"v2": True, "metadata_only": True}
            state.put(rp)


def register(arm: ArmContext) -> None:
    """Register the v2 routes (before ``routes_dp_*``: unmatched requests fall through)."""
    state = arm.state
    dp = arm.dataplane
    mine: set[Any] = set()

    def fall_through(req: Request) -> Response:
        for method, pattern, handler in arm.router.routes:
            if method != req.method or handler in mine:
                continue
            match = pattern.fullmatch(req.path)
            if match:
                return handler(req, match)
        raise ArmError(
            404, "ResourceNotFound", f"The route '{req.method} {req.path}' was not found."
        )

    def vault_id(m: re.Match[str]) -> str:
        return f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}/providers/{VAULT}/{m['vault']}"

    def load(rid: str) -> Json:
        found = state.get(rid)
        if found is None:
            raise not_found(rid)
        return found

    # -- policies --------------------------------------------------------------------------
    def p_put(req: Request, m: re.Match[str]) -> Response:
        body = req.json()
        props = body.get("properties") or {}
        if not _at_v2(req) or "P1D" not in _periods(props):
            return fall_through(req)
        load(vault_id(m))
        checked = copy.deepcopy(body)
        for rule in checked["properties"].get("policyRules") or []:
            sched = (rule.get("trigger") or {}).get("schedule") or {}
            intervals = sched.get("repeatingTimeIntervals") or []
            sched["repeatingTimeIntervals"] = [re.sub(r"/P1D$", "/P1W", str(i)) for i in intervals]
        validate_policy(checked)  # every other v1 rule holds for v2 too (INFERRED, doc §1.4)
        stored = copy.deepcopy(props)
        for rule in stored.get("policyRules", []):
            for crit in (rule.get("trigger") or {}).get("taggingCriteria", []) or []:
                info = crit.setdefault("tagInfo", {})
                info.setdefault("id", f"{info.get('tagName', '')}_")
                info.setdefault("eTag", None)
        policy = {
            "id": f"{vault_id(m)}/backupPolicies/{m['pol']}",
            "name": m["pol"],
            "type": POLICY,
            "properties": stored,
        }
        state.put(policy)
        return Response(200, public(policy))

    # -- protection ----------------------------------------------------------------------------
    def eligibility(bi_props: Json) -> None:
        """Raise the user error Azure gives for a datasource v2 can't protect."""
        policy = state.get(str((bi_props.get("policyInfo") or {}).get("policyId", "")))
        daily = policy is not None and "P1D" in _periods(policy["properties"])
        if not is_v2(bi_props):
            if daily:
                raise _bad(
                    "UserErrorUnsupportedBackupFrequency",
                    "A daily backup policy needs vaulted backup v2 (PhysicalBackup); this "
                    "backup instance is v1 (LogicalBackup), which backs up weekly only.",
                )
            return
        server_id = str((bi_props.get("dataSourceInfo") or {}).get("resourceID", ""))
        server = state.get(server_id)
        if server is None:
            return  # the v1 checks report a missing server
        props = server["properties"]
        if str(server.get("sku", {}).get("tier", "")).lower() == "burstable":
            raise _bad(
                "UserErrorBurstableTierNotSupported",
                "Vaulted backup v2 does not support Burstable servers. Scale the server to "
                "General Purpose or Memory Optimized.",
            )
        version = str(props.get("version", "")).split(".", 1)[0]
        if version.isdigit() and int(version) < 15:
            raise _bad(
                "UserErrorPostgreSqlVersionNotSupported",
                f"Vaulted backup v2 needs PostgreSQL 15 or later; the server runs {version}.",
            )
        if str(props.get("replicationRole", "Primary")).lower() not in ("primary", "none", ""):
            raise _bad(
                "UserErrorReplicaServerNotSupported",
                "Vaulted backup v2 protects primary servers only; this server is a replica.",
            )
        if str(server.get("location", "")).replace(" ", "").lower() in V2_UNSUPPORTED_REGIONS:
            raise _bad(
                "UserErrorRegionNotSupported",
                f"Vaulted backup v2 is not available in {server.get('location')}.",
            )

    def validate_for_backup(req: Request, m: re.Match[str]) -> Response:
        if _at_v2(req):
            eligibility(req.json().get("backupInstance") or {})
        return fall_through(req)

    def bi_put(req: Request, m: re.Match[str]) -> Response:
        if _at_v2(req):
            eligibility(req.json().get("properties") or {})
        return fall_through(req)

    # -- jobs ----------------------------------------------------------------------------------
    def start_job(vault: Json, bi: Json, operation: str, category: str, run: Any) -> Json:
        job_id = str(uuid.uuid4())
        with arm.busy_lock:
            running = arm.busy.get(norm(bi["id"]))
            if running:
                raise _bad(
                    "UserErrorMaxConcurrentOperationLimitReached",
                    f"Another operation is in progress on this backup instance (job {running}). "
                    "Retry after it completes.",
                )
            arm.busy[norm(bi["id"])] = job_id
        server = state.get(bi["properties"]["dataSourceInfo"]["resourceID"])
        job = job_json(
            vault,
            job_id,
            operation=operation,
            category=category,
            bi=bi,
            server=server,
            start=_now(),
        )
        state.put(job)
        began = time.monotonic()

        def go() -> None:
            status, errors = "Completed", None
            try:
                with state.lock:
                    job["properties"]["status"] = "InProgress"
                    state.save()
                run(job)
            except (ArmError, DataPlaneError) as exc:
                status = "Failed"
                errors = [{"code": exc.code, "message": exc.message, "isRetryable": False}]
            except Exception as exc:
                log.exception("v2 job %s failed", job_id)
                status = "Failed"
                errors = [{"code": "InternalError", "message": str(exc)}]
            try:
                with state.lock:
                    props = job["properties"]
                    props.update(status=status, errorDetails=errors, endTime=_now())
                    props["duration"] = f"PT{time.monotonic() - began:.2f}S"
                    for task in props["extendedInfo"].get("subTasks", []):
                        task["taskStatus"] = "Completed" if status == "Completed" else "Failed"
                    state.save()
            finally:
                with arm.busy_lock:
                    arm.busy.pop(norm(bi["id"]), None)

        arm.spawn(go, f"v2-job-{job_id[:8]}")
        return job

    # -- physical copies -----------------------------------------------------------------------
    def cluster_of(server: Json) -> Any:
        """The server's PgCluster on this machine, or None (metadata-only data plane)."""
        getter = getattr(dp, "_cluster", None)
        if not server["_sandbox"].get("real") or getter is None:
            return None
        return getter(server["_sandbox"]["key"])

    def as_postgres(argv: list[str], timeout: float = 600) -> None:
        proc = subprocess.run(
            as_server_user(argv), capture_output=True, text=True, timeout=timeout, env=clean_env()
        )
        if proc.returncode:
            raise DataPlaneError(
                "InternalServerError", f"{Path(argv[0]).name} failed: {proc.stderr[-1500:]}"
            )

    def physical_backup(server: Json, rp_id: str) -> str:
        """pg_basebackup of the source into the vault store; returns the copy's folder."""
        cluster = cluster_of(server)
        if cluster is None:
            return ""
        hba = cluster.data_dir / "pg_hba.conf"
        line = "local   replication   azuresu   trust\n"
        if line not in hba.read_text():
            # What Azure's snapshot access is to a real server, a replication slot is here.
            with hba.open("a") as conf:
                conf.write("# pgflex sandbox: physical (v2) backups\n" + line)
            cluster.psql("SELECT pg_reload_conf();")
        store = Path(dp.root) / "vault" if hasattr(dp, "root") else cluster.server_home.parent
        if not traversable_by_server_user(store):
            store = cluster.server_home.parent
        folder = store / f"v2rp-{rp_id}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700)
        shutil.chown(folder, "postgres", "postgres")
        base = folder / "base"
        conn = cluster.conn_args()
        as_postgres(
            [
                cluster.tool("pg_basebackup"),
                *conn,
                "-D",
                str(base),
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ]
        )
        return str(folder)

    def physical_restore(source_copy: str, target: Json) -> None:
        cluster = cluster_of(target)
        if cluster is None or not source_copy:
            return
        base = Path(source_copy) / "base"
        if not base.is_dir():
            raise DataPlaneError("UserErrorRecoveryPointDataNotFound", "The point's data is gone.")
        cluster.stop(mode="fast")
        data = cluster.data_dir
        try:
            for child in data.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            subprocess.run(["cp", "-a", f"{base}/.", str(data)], check=True, timeout=600)
            (data / "postmaster.pid").unlink(missing_ok=True)
        finally:
            # Started again whatever happened: a failed copy fails the job at this start.
            cluster.start()

    # -- on-demand backup of a v2 instance -----------------------------------------------------
    def adhoc_backup(req: Request, m: re.Match[str]) -> Response:
        bi = state.get(f"{vault_id(m)}/backupInstances/{m['bi']}")
        if bi is None or not is_v2(bi["properties"]):
            return fall_through(req)
        vault = load(vault_id(m))
        if bi["properties"].get("currentProtectionState") != "ProtectionConfigured":
            raise _bad(
                "UserErrorBackupInstanceNotProtected",
                "Backup can't be triggered in protection state "
                f"'{bi['properties'].get('currentProtectionState')}'.",
            )
        tag = (req.json().get("backupRuleOptions") or {}).get("triggerOption", {}).get(
            "retentionTagOverride"
        ) or "Default"

        def run(job: Json) -> None:
            server = state.get(bi["properties"]["dataSourceInfo"]["resourceID"])
            if server is None or server["properties"]["state"] != "Ready":
                raise _bad(
                    "PostgreSQLFlexOperationFailedUserError",
                    "The PostgreSQL flexible server is not ready for backup.",
                )
            rp_id = uuid.uuid4().hex
            folder = physical_backup(server, rp_id)
            policy_id = str(bi["properties"]["policyInfo"].get("policyId", ""))
            when = _now()
            rp = rp_json(
                bi["id"],
                rp_id,
                when,
                policy_name=policy_id.rsplit("/", 1)[-1],
                tag=tag,
                expiry=expiry_time(state.get(policy_id), when, tag),
            )
            props = server["properties"]
            rp["_sandbox"] = {
                "v2": True,
                "physical": folder,
                "server": server["id"],
                "version": str(props.get("version", "")).split(".", 1)[0],
                "storage_gb": int(props.get("storage", {}).get("storageSizeGB") or 0),
                "storage_type": str(props.get("storage", {}).get("type") or "Premium_LRS"),
            }
            with state.batch():
                state.put(rp)
                info = job["properties"]["extendedInfo"]
                info["targetRecoverPoint"] = {"recoveryPointID": rp_id, "recoveryPointTime": when}
                info["subTasks"] = [
                    {
                        "taskId": 1,
                        "taskName": "Trigger Backup",
                        "taskStatus": "InProgress",
                        "additionalDetails": {},
                        "taskProgress": None,
                    }
                ]

        job = start_job(vault, bi, "OnDemandBackup", "Backup", run)
        result = {"objectType": "OperationJobExtendedInfo", "jobId": job["id"]}
        return arm.lro(req, lambda: result)

    # -- restore as server ---------------------------------------------------------------------
    def user_databases(target: Json) -> list[str]:
        if target["_sandbox"].get("real") and target["properties"]["state"] == "Ready":
            rows = dp.list_databases(target["_sandbox"]["key"])
        else:
            rows = [tuple(r) for r in target["_sandbox"].get("databases") or []]
            rows += [(d, "") for d in target["_sandbox"].get("dbnames") or []]
        return sorted({str(r[0]) for r in rows if str(r[0]).lower() not in _BUILTIN_DBS})

    def restore_checks(vault: Json, bi: Json, request: Json) -> tuple[Json, Json]:
        """The v2 point and the target server; Azure-style 400 errors for broken rules."""
        rp = state.get(f"{bi['id']}/recoveryPoints/{request.get('recoveryPointId', '')}")
        if rp is None:
            raise _bad(
                "UserErrorRecoveryPointNotFound",
                f"Recovery point '{request.get('recoveryPointId')}' was not found.",
            )
        meta = rp.get("_sandbox", {})
        if not meta.get("v2"):
            raise _bad(
                "UserErrorRestoreTargetNotSupported",
                "This recovery point is a v1 (logical) backup: restore it as files "
                "(RestoreFilesTargetInfo), not as a server.",
            )
        info = request.get("restoreTargetInfo") or {}
        target_id = str((info.get("datasourceInfo") or {}).get("resourceID", ""))
        target = state.get(target_id) if target_id else None
        if target is None or norm(target.get("type", "")) != norm(PG):
            raise _bad(
                "UserErrorRestoreTargetServerNotFound",
                f"The target server '{target_id}' does not exist. Create it before restoring; "
                "Azure Backup does not create it.",
            )
        props = target["properties"]
        if props.get("state") != "Ready":
            raise _bad(
                "UserErrorRestoreTargetServerNotReady",
                f"The target server is {props.get('state')}; it must be Ready.",
            )
        if str(target.get("sku", {}).get("tier", "")).lower() == "burstable":
            raise _bad(
                "UserErrorRestoreTargetServerTierNotSupported",
                "The target server is Burstable; restore to General Purpose or Memory Optimized.",
            )
        version = str(props.get("version", "")).split(".", 1)[0]
        if meta.get("version") and version != meta["version"]:
            raise _bad(
                "UserErrorRestoreTargetServerVersionMismatch",
                f"The target runs PostgreSQL {version}; the recovery point was taken on "
                f"PostgreSQL {meta['version']}. Both must be the same major version.",
            )
        size = int(props.get("storage", {}).get("storageSizeGB") or 0)
        if meta.get("storage_gb") and size < int(meta["storage_gb"]):
            raise _bad(
                "UserErrorRestoreTargetServerStorageTooSmall",
                f"The target has {size} GB of storage; the source had {meta['storage_gb']} GB.",
            )
        disk = str(props.get("storage", {}).get("type") or "Premium_LRS")
        if meta.get("storage_type") and disk.lower() != str(meta["storage_type"]).lower():
            raise _bad(
                "UserErrorRestoreTargetServerStorageTypeMismatch",
                f"The target uses {disk}; the source used {meta['storage_type']}.",
            )
        if str((props.get("highAvailability") or {}).get("mode", "Disabled")) != "Disabled":
            raise _bad(
                "UserErrorRestoreTargetServerHighAvailabilityEnabled",
                "The target has high availability configured; turn it off before restoring.",
            )
        has_replica = any(
            norm(str(s["properties"].get("sourceServerResourceId", ""))) == norm(target["id"])
            for s in state.children("/subscriptions", PG)
        )
        if str(props.get("replicationRole", "Primary")).lower() not in ("primary", "none", ""):
            raise _bad(
                "UserErrorRestoreTargetServerIsReplica",
                "The target is a replica; restore onto a standalone server.",
            )
        if has_replica:
            raise _bad(
                "UserErrorRestoreTargetServerHasReplica",
                "The target has a read or geo replica; remove it before restoring.",
            )
        if str(target["location"]).lower() != str(vault["location"]).lower():
            raise _bad(
                "UserErrorRestoreTargetServerLocationMismatch",
                f"The target is in {target['location']}; it must be in the vault's region "
                f"({vault['location']}).",
            )
        oid = str(vault["identity"]["principalId"])
        if not arm.has_role(oid, target["id"], {roles.LTR_BACKUP, roles.OWNER, roles.CONTRIBUTOR}):
            raise ArmError(
                400,
                "UserErrorMissingRequiredPermissions",
                "Appropriate permissions to perform the operation is missing.",
                details=[
                    {
                        "code": "AuthorizationFailed",
                        "message": f"The client '{oid}' does not have authorization to perform "
                        "action 'Microsoft.DBforPostgreSQL/flexibleServers/ltrRestoreInitialize/"
                        f"action' over scope '{target['id']}'.",
                    }
                ],
            )
        found = user_databases(target)
        if found:
            raise _bad(
                "UserErrorRestoreTargetServerNotEmpty",
                f"The target server is not empty (databases: {', '.join(found)}). Restore onto "
                "an empty server.",
            )
        return rp, target

    def is_server_restore(request: Json) -> bool:
        return (request.get("restoreTargetInfo") or {}).get("objectType") == "RestoreTargetInfo"

    def refuse_files_of_a_v2_point(m: re.Match[str], request: Json) -> None:
        """A v2 (physical) point restores only as a server (doc §1.6), at any api-version."""
        if is_server_restore(request):
            return
        rp = state.get(
            f"{vault_id(m)}/backupInstances/{m['bi']}/recoveryPoints/"
            f"{request.get('recoveryPointId', '')}"
        )
        if rp is not None and rp.get("_sandbox", {}).get("v2"):
            raise _bad(
                "UserErrorRestoreTargetNotSupported",
                "This recovery point is a vaulted backup v2 (physical) backup: it can be "
                "restored only as a server (RestoreTargetInfo), not as files.",
            )

    def validate_restore(req: Request, m: re.Match[str]) -> Response:
        request = req.json().get("restoreRequestObject") or {}
        refuse_files_of_a_v2_point(m, request)
        if not _at_v2(req) or not is_server_restore(request):
            return fall_through(req)
        vault = load(vault_id(m))
        bi = load(f"{vault['id']}/backupInstances/{m['bi']}")

        def work() -> Json:
            restore_checks(vault, bi, request)
            return {"objectType": "OperationJobExtendedInfo"}

        return arm.lro(req, work)

    def trigger_restore(req: Request, m: re.Match[str]) -> Response:
        request = req.json()
        refuse_files_of_a_v2_point(m, request)
        if not _at_v2(req) or not is_server_restore(request):
            return fall_through(req)
        vault = load(vault_id(m))
        bi = load(f"{vault['id']}/backupInstances/{m['bi']}")

        def work() -> Json:
            rp, target = restore_checks(vault, bi, request)
            source_id = str(rp["_sandbox"].get("server", ""))

            def run(job: Json) -> None:
                with state.lock:
                    info = job["properties"]["extendedInfo"]
                    info["sourceRecoverPoint"] = {
                        "recoveryPointID": rp["name"],
                        "recoveryPointTime": rp["properties"]["recoveryPointTime"],
                    }
                    info["recoveryDestination"] = target["id"]
                    info["subTasks"] = [
                        {
                            "taskId": 1,
                            "taskName": "Trigger Restore",
                            "taskStatus": "InProgress",
                            "additionalDetails": {"DatasourceType": PG},
                            "taskProgress": None,
                        }
                    ]
                    target["properties"]["state"] = "Updating"
                    state.save()
                try:
                    physical_restore(str(rp["_sandbox"].get("physical") or ""), target)
                finally:
                    with state.lock:
                        target["properties"]["state"] = "Ready"
                        source = state.get(source_id)
                        if source is not None:
                            login = source["properties"].get("administratorLogin")
                            target["properties"]["administratorLogin"] = login
                            if not target["_sandbox"].get("real"):  # metadata only
                                for key in ("databases", "dbnames"):
                                    if key in source["_sandbox"]:
                                        target["_sandbox"][key] = list(source["_sandbox"][key])
                        state.save()

            job = start_job(vault, bi, "Restore", "Restore", run)
            return {"objectType": "OperationJobExtendedInfo", "jobId": job["id"]}

        return arm.lro(req, work)

    routes = (
        ("PUT", _V + r"/backupPolicies/(?P<pol>[^/]+)", p_put),
        ("POST", _V + r"/validateForBackup", validate_for_backup),
        ("PUT", _BI, bi_put),
        ("POST", _BI + r"/backup", adhoc_backup),
        ("POST", _BI + r"/validateRestore", validate_restore),
        ("POST", _BI + r"/restore", trigger_restore),
    )
    for method, pattern, handler in routes:
        mine.add(handler)
        arm.router.add(method, pattern, handler)
