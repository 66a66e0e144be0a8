"""What the Data Protection route modules share: lookups, the busy table and the job runner.

``routes_dp_vaults`` (vaults, policies), ``routes_dp_instances`` (backup instances, backups,
recovery points, soft-deleted instances) and ``routes_dp_restores`` (restores, jobs,
cross-region restore) each register on one :class:`DpContext`, built by ``server.py``.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from pgflex_gui.sandbox.arm.context import now_iso
from pgflex_gui.sandbox.arm.dpmodel import BI, VAULT, job_json
from pgflex_gui.sandbox.arm.http import ArmError, not_found
from pgflex_gui.sandbox.arm.state import norm
from pgflex_gui.sandbox.contract import DataPlaneError

if TYPE_CHECKING:
    from pgflex_gui.sandbox.arm.context import ArmContext
    from pgflex_gui.sandbox.arm.state import State
    from pgflex_gui.sandbox.contract import DataPlane

__all__ = ["BI_PATH", "LOC_PATH", "PG", "RG_PATH", "SUB_PATH", "VAULT_PATH", "DpContext"]

Json = dict[str, Any]
PG = "Microsoft.DBforPostgreSQL/flexibleServers"
SUB_PATH = r"/subscriptions/(?P<sub>[^/]+)"
RG_PATH = SUB_PATH + r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.DataProtection"
VAULT_PATH = RG_PATH + r"/backupVaults/(?P<vault>[^/]+)"
BI_PATH = VAULT_PATH + r"/backupInstances/(?P<bi>[^/]+)"
LOC_PATH = RG_PATH + r"/locations/(?P<loc>[^/]+)"


def perm_error(principal: str, scope: str, action: str) -> ArmError:
    """Azure's 400 for a vault identity missing a role (as the service words it)."""
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


class DpContext:
    """The state the Data Protection routes share, and the lookups and jobs they all use."""

    def __init__(self, arm: ArmContext) -> None:
        self.arm = arm

    @property
    def state(self) -> State:
        """The service's resource state."""
        return self.arm.state

    @property
    def dp(self) -> DataPlane:
        """The data plane (real clusters or metadata only)."""
        return self.arm.dataplane

    # -- lookups -----------------------------------------------------------------------
    @staticmethod
    def vault_id(m: re.Match[str]) -> str:
        """The vault id a route's match names."""
        return f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}/providers/{VAULT}/{m['vault']}"

    def load(self, rid: str) -> Json:
        """The resource ``rid``, or 404."""
        found = self.state.get(rid)
        if found is None:
            raise not_found(rid)
        return found

    def load_vault(self, m: re.Match[str]) -> Json:
        """The vault a route's match names, or 404."""
        return self.load(self.vault_id(m))

    def load_bi(self, m: re.Match[str]) -> Json:
        """The backup instance a route's match names, or 404."""
        return self.load(f"{self.vault_id(m)}/backupInstances/{m['bi']}")

    def tenant_of(self, rid: str) -> str:
        """The tenant of the subscription ``rid`` lives in."""
        sub = self.state.data["subscriptions"].get(rid.split("/")[2].lower(), {})
        return str(sub.get("tenantId", ""))

    @staticmethod
    def principal(vault: Json) -> str:
        """The vault's managed identity (object id)."""
        return str(vault["identity"]["principalId"])

    def protected_by(self, server_id: str) -> Json | None:
        """The backup instance protecting ``server_id``, if any."""
        for bi in self.state.children("/subscriptions", BI):
            if norm(bi["properties"]["dataSourceInfo"].get("resourceID", "")) == norm(server_id):
                return bi
        return None

    # -- jobs --------------------------------------------------------------------------
    def busy(self, bi: Json) -> None:
        """400 while another job runs on the backup instance."""
        running = self.arm.busy.get(norm(bi["id"]))
        if running:
            raise ArmError(
                400,
                "UserErrorMaxConcurrentOperationLimitReached",
                "Another operation is in progress on this backup instance (job "
                f"{running}). Retry after it completes.",
            )

    def start_job(
        self,
        vault: Json,
        bi: Json | None,
        operation: str,
        category: str,
        run: Any,
        *,
        lock_bi: bool = True,
    ) -> Json:
        """Record a backup job and run ``run(job)`` in the background; return the job."""
        arm, state = self.arm, self.state
        job_id = str(uuid.uuid4())
        if bi is not None and lock_bi:
            # Check and mark in one step: concurrent requests must not both pass busy().
            with arm.busy_lock:
                self.busy(bi)
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
