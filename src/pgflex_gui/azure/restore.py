"""Restore as files: validate, trigger, cross-region restore, and job status.

The restore request body (``AzureBackupRecoveryPointBasedRestoreRequest``, azure-facts §5) is
built by the domain restore plan and passed in as a dict. Triggers return an
:class:`~pgflex_gui.azure.clients.Lro` whose continuation token is available at once; its
result is the **full ARM id** of the restore job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pgflex_gui.azure import convert
from pgflex_gui.azure.clients import Lro
from pgflex_gui.azure.errors import azure_call
from pgflex_gui.azure.inventory import recovery_point_filter
from pgflex_gui.azure.service import AuditedService
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BackupJob, RecoveryPoint

__all__ = ["RestoreService", "job_arm_id"]

log = logging.getLogger(__name__)


def job_arm_id(vault_id: ResourceId, job_id: str) -> ResourceId:
    """The job's ARM id from a full id or a bare job GUID."""
    if job_id.startswith("/"):
        return ResourceId.parse(job_id)
    return vault_id.child("backupJobs", job_id)


class RestoreService(AuditedService):
    """Restore writes and job reads. Methods block and raise ``AppError``."""

    # -- checks ----------------------------------------------------------------------------

    def check_cross_subscription(
        self, instance_id: ResourceId, restore_request: Mapping[str, Any]
    ) -> None:
        """Refuse, in words, a restore into another subscription that the vault does not allow.

        The target subscription is read from ``targetResourceArmId`` (azure-facts §4, CSR);
        without it there is nothing to check here and the service decides.
        """
        details = (restore_request.get("restoreTargetInfo") or {}).get("targetDetails") or {}
        arm_id = str(details.get("targetResourceArmId") or "")
        if not arm_id:
            return
        target_sub = ResourceId.parse(arm_id).subscription_id.lower()
        if target_sub == instance_id.subscription_id.lower():
            return
        vault_id = instance_id.parent or instance_id
        sub, rg = vault_id.subscription_id, vault_id.resource_group
        client: Any = self._factory.dataprotection(sub)
        with azure_call("read the backup vault"):
            vault = convert.vault(client.backup_vaults.get(rg, vault_id.name))
        state = vault.cross_subscription_restore or "Enabled"
        if state == "Enabled":
            return
        permanently = state == "PermanentlyDisabled"
        raise AppError(
            Fault.USER,
            f"Vault {vault.name} does not allow restores into another subscription "
            f"(Cross Subscription Restore is {'permanently ' if permanently else ''}disabled).",
            "Choose a storage account in the vault's subscription"
            + (
                "."
                if permanently
                else ", or enable Cross Subscription Restore in the vault's Properties."
            ),
            azure_code="UserErrorCrossSubscriptionRestoreNotEnabled",
        )

    # -- same-region restore ---------------------------------------------------------------

    def begin_validate_restore(
        self,
        instance_id: ResourceId,
        restore_request: Mapping[str, Any],
        *,
        continuation_token: str | None = None,
    ) -> Lro[None]:
        """Validate a restore request (long-running; failure raises ``AppError``)."""
        sub, rg, vault, name = convert.instance_parts(instance_id)
        client: Any = self._factory.dataprotection(sub)
        body = {
            "objectType": "ValidateRestoreRequestObject",
            "restoreRequestObject": restore_request,
        }
        return self._begin(
            "validate the restore",
            str(instance_id),
            lambda: client.backup_instances.begin_validate_for_restore(
                rg, vault, name, body, continuation_token=continuation_token
            ),
            lambda _raw: None,
            resumed=continuation_token is not None,
            audited=False,
        )

    def begin_trigger_restore(
        self,
        instance_id: ResourceId,
        restore_request: Mapping[str, Any],
        *,
        continuation_token: str | None = None,
    ) -> Lro[str]:
        """Start a restore as files; the result is the full ARM id of the restore job."""
        sub, rg, vault, name = convert.instance_parts(instance_id)
        client: Any = self._factory.dataprotection(sub)
        vault_id = instance_id.parent or instance_id
        return self._begin(
            "start the restore",
            str(instance_id),
            lambda: client.backup_instances.begin_trigger_restore(
                rg, vault, name, dict(restore_request), continuation_token=continuation_token
            ),
            lambda raw: convert.job_id_from(raw, vault_id),
            resumed=continuation_token is not None,
        )

    # -- cross-region restore --------------------------------------------------------------

    def list_secondary_recovery_points(
        self,
        instance_id: ResourceId,
        *,
        source_region: str,
        secondary_region: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[RecoveryPoint]:
        """Recovery points replicated to the paired region (CRR), newest first."""
        sub, rg, _vault, _name = convert.instance_parts(instance_id)
        client: Any = self._factory.dataprotection(sub)
        body = {"sourceBackupInstanceId": str(instance_id), "sourceRegion": source_region}
        flt = recovery_point_filter(start, end)
        with azure_call("list recovery points in the secondary region"):
            ops = client.fetch_secondary_recovery_points
            pages = (
                ops.list(rg, secondary_region, body, filter=flt)
                if flt
                else ops.list(rg, secondary_region, body)
            )
            raw = list(pages)
        points = [convert.recovery_point(r, secondary_region) for r in raw]
        return sorted(
            (p for p in points if p.recovery_point_id), key=lambda p: p.time, reverse=True
        )

    def _crr_body(
        self, instance_id: ResourceId, restore_request: Mapping[str, Any], source_region: str
    ) -> dict[str, Any]:
        return {
            "restoreRequestObject": dict(restore_request),
            "crossRegionRestoreDetails": {
                "sourceBackupInstanceId": str(instance_id),
                "sourceRegion": source_region,
            },
        }

    def begin_validate_cross_region_restore(
        self,
        instance_id: ResourceId,
        restore_request: Mapping[str, Any],
        *,
        source_region: str,
        secondary_region: str,
        continuation_token: str | None = None,
    ) -> Lro[None]:
        """Validate a cross-region restore in ``secondary_region``."""
        sub, rg, _vault, _name = convert.instance_parts(instance_id)
        client: Any = self._factory.dataprotection(sub)
        body = self._crr_body(instance_id, restore_request, source_region)
        return self._begin(
            "validate the cross-region restore",
            str(instance_id),
            lambda: client.backup_instances.begin_validate_cross_region_restore(
                rg, secondary_region, body, continuation_token=continuation_token
            ),
            lambda _raw: None,
            resumed=continuation_token is not None,
            audited=False,
        )

    def begin_trigger_cross_region_restore(
        self,
        instance_id: ResourceId,
        restore_request: Mapping[str, Any],
        *,
        source_region: str,
        secondary_region: str,
        continuation_token: str | None = None,
    ) -> Lro[str]:
        """Start a cross-region restore; the result is the job id (full ARM id when given)."""
        sub, rg, _vault, _name = convert.instance_parts(instance_id)
        client: Any = self._factory.dataprotection(sub)
        body = self._crr_body(instance_id, restore_request, source_region)
        vault_id = instance_id.parent or instance_id
        return self._begin(
            "start the cross-region restore",
            str(instance_id),
            lambda: client.backup_instances.begin_trigger_cross_region_restore(
                rg, secondary_region, body, continuation_token=continuation_token
            ),
            lambda raw: convert.job_id_from(raw, vault_id),
            resumed=continuation_token is not None,
        )

    def get_cross_region_job(
        self, vault_id: ResourceId, job_id: str, *, source_region: str, secondary_region: str
    ) -> BackupJob:
        """A cross-region restore job, read from the secondary region."""
        client: Any = self._factory.dataprotection(vault_id.subscription_id)
        body = {
            "sourceBackupVaultId": str(vault_id),
            "sourceRegion": source_region,
            "jobId": job_id.rstrip("/").rsplit("/", 1)[-1],
        }
        with azure_call("read the cross-region restore job"):
            raw = client.fetch_cross_region_restore_job.get(
                vault_id.resource_group, secondary_region, body
            )
        return convert.job(raw)

    # -- jobs ------------------------------------------------------------------------------

    def get_job(self, job_id: ResourceId | str) -> BackupJob:
        """A backup or restore job by its full ARM id."""
        rid = ResourceId.parse(job_id) if isinstance(job_id, str) else job_id
        if len(rid.names) < 2:
            raise ValueError(f"not a backup job id: {rid}")
        client: Any = self._factory.dataprotection(rid.subscription_id)
        with azure_call("read the backup job"):
            raw = client.jobs.get(rid.resource_group, rid.names[0], rid.names[-1])
        return convert.job(raw)
