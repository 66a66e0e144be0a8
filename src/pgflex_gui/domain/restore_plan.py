"""Restore-as-files rules: where the files may go, and the exact restore request body.

File prefix decision: the schema requires ``filePrefix`` but the PG flex manifest has
``fileNamePrefixDisabled: true`` and PowerShell sends the literal ``"dummyprefix"``; we send
the same by default (:data:`DEFAULT_FILE_PREFIX`). Blob names must therefore be classified by
pattern and content after the restore, never by the prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pgflex_gui.domain.issues import Issue, error, info, warning
from pgflex_gui.domain.models import BlobContainer, FlexServer, StorageAccount, Vault
from pgflex_gui.domain.regions import normalize_region, paired_region

__all__ = [
    "DEFAULT_FILE_PREFIX",
    "RestoreTarget",
    "build_cross_region_restore_request",
    "build_restore_request",
    "build_validate_restore_request",
    "restore_issues",
    "restore_location",
    "target_version_ok",
]

DEFAULT_FILE_PREFIX = "dummyprefix"


def restore_location(vault: Vault, *, cross_region: bool) -> str:
    """``restoreLocation``: the vault's region, or its paired region for Cross Region Restore.

    Raises:
        ValueError: for cross-region restore from a region without a pair.
    """
    if not cross_region:
        return normalize_region(vault.location)
    pair = paired_region(vault.location)
    if pair is None:
        raise ValueError(f"{vault.location} has no paired region")
    return pair


def restore_issues(
    vault: Vault,
    source_server: FlexServer | None,
    target_account: StorageAccount,
    *,
    cross_region: bool,
    same_tenant: bool,
) -> list[Issue]:
    """Why restoring files from ``vault`` into ``target_account`` would fail, in words."""
    found: list[Issue] = []
    what = f"backups of {source_server.name}" if source_server else "these backups"
    acct = target_account.name
    if not same_tenant:
        found.append(
            error(
                "target.tenant",
                f"Storage account {acct} is in another tenant; {what} can be restored only "
                "within the vault's tenant.",
                "Choose a storage account in the vault's tenant.",
            )
        )
    acct_region = normalize_region(target_account.location)
    vault_region = normalize_region(vault.location)
    if cross_region:
        if vault.redundancy != "GeoRedundant":
            found.append(
                error(
                    "target.region",
                    f"Vault {vault.name} is not geo-redundant: it has no copy in another region.",
                )
            )
        elif not vault.cross_region_restore:
            found.append(
                error(
                    "target.region",
                    f"Cross Region Restore is off for vault {vault.name}.",
                    "Turn it on in the vault's Properties; points reach the paired region up "
                    "to 12 hours later.",
                )
            )
        pair = paired_region(vault_region)
        if pair is None:
            found.append(
                error("target.region", f"{vault_region} has no paired region for restores.")
            )
        elif acct_region != pair:
            found.append(
                error(
                    "target.region",
                    f"For Cross Region Restore the storage account must be in {pair}, the pair of "
                    f"{vault_region}; {acct} is in {acct_region}.",
                )
            )
    elif acct_region != vault_region:
        pair = paired_region(vault_region)
        crr = vault.redundancy == "GeoRedundant" and vault.cross_region_restore
        hint = f" or, with Cross Region Restore, in {pair}" if pair and crr else ""
        found.append(
            error(
                "target.region",
                f"Storage account {acct} is in {acct_region}, not in the vault's region "
                f"{vault_region}.",
                f"Choose an account in {vault_region}{hint}.",
            )
        )
    if target_account.id.subscription_id.lower() != vault.id.subscription_id.lower():
        state = vault.cross_subscription_restore
        if state == "PermanentlyDisabled":
            found.append(
                error(
                    "target.subscription",
                    f"Vault {vault.name} has cross-subscription restore permanently disabled.",
                    "Choose a storage account in the vault's subscription.",
                )
            )
        elif state != "Enabled":
            found.append(
                error(
                    "target.subscription",
                    f"Vault {vault.name} does not allow restores into another subscription.",
                    "Enable Cross Subscription Restore in the vault's Properties, or choose an "
                    "account in the vault's subscription.",
                )
            )
        else:
            found.append(
                info("target.subscription", "The files go to another subscription (allowed).")
            )
    if not target_account.allow_cross_tenant_replication:
        found.append(
            error(
                "target.account",
                f"Storage account {acct} does not allow cross-tenant replication; Azure Backup "
                "copies the files from a Microsoft-managed account.",
                "Storage account > Settings > Configuration > Allow cross-tenant replication: "
                "Enabled.",
            )
        )
    found.extend(_network_issues(vault, target_account))
    return found


def _network_issues(vault: Vault, account: StorageAccount) -> list[Issue]:
    acct = account.name
    how = (
        "Storage account > Networking: public access 'from selected networks', add a resource "
        f"instance rule for Microsoft.DataProtection/BackupVaults {vault.name}, and tick "
        "'Allow trusted Microsoft services'."
    )
    if account.public_network_access.lower() == "disabled":
        return [
            error(
                "target.network",
                f"Storage account {acct} has public network access disabled; the vault can't "
                "write to it.",
                how,
            )
        ]
    if account.default_action.lower() != "deny":
        return []
    found: list[Issue] = []
    if "azureservices" not in account.bypass.replace(" ", "").lower():
        found.append(
            error(
                "target.network",
                f"Storage account {acct} limits network access and does not let trusted "
                "Microsoft services through.",
                how,
            )
        )
    if not any(vault.id.same_as(r) for r in account.resource_access_rule_ids):
        found.append(
            warning(
                "target.network",
                f"Storage account {acct} has no resource instance rule for vault {vault.name}.",
                how,
            )
        )
    return found


def build_restore_request(
    recovery_point_id: str,
    container_url: str,
    container_arm_id: str | None,
    restore_location: str,
    file_prefix: str = DEFAULT_FILE_PREFIX,
) -> dict[str, Any]:
    """The body for ``POST .../backupInstances/{bi}/restore`` (and validateRestore's inner).

    Raises:
        ValueError: for an empty recovery point, prefix or location, or a non-HTTP URL.
    """
    if not recovery_point_id.strip():
        raise ValueError("recovery point id is empty")
    if not container_url.lower().startswith(("https://", "http://")):
        raise ValueError(f"not a container URL: {container_url!r}")
    if not file_prefix.strip():
        raise ValueError("file prefix is empty")
    if not restore_location.strip():
        raise ValueError("restore location is empty")
    target: dict[str, Any] = {
        "url": container_url.rstrip("/"),
        "filePrefix": file_prefix,
        "restoreTargetLocationType": "AzureBlobs",
    }
    if container_arm_id:
        target["targetResourceArmId"] = container_arm_id
    return {
        "objectType": "AzureBackupRecoveryPointBasedRestoreRequest",
        "recoveryPointId": recovery_point_id,
        "sourceDataStoreType": "VaultStore",
        "restoreTargetInfo": {
            "objectType": "RestoreFilesTargetInfo",
            "recoveryOption": "FailIfExists",
            "restoreLocation": normalize_region(restore_location),
            "targetDetails": target,
        },
    }


def build_validate_restore_request(request: dict[str, Any]) -> dict[str, Any]:
    """The body for ``POST .../backupInstances/{bi}/validateRestore``."""
    return {"objectType": "ValidateRestoreRequestObject", "restoreRequestObject": request}


def build_cross_region_restore_request(
    request: dict[str, Any], source_backup_instance_id: str, source_region: str
) -> dict[str, Any]:
    """The body for ``.../locations/{secondary}/crossRegionRestore`` (and its validate)."""
    return {
        "restoreRequestObject": request,
        "crossRegionRestoreDetails": {
            "sourceBackupInstanceId": source_backup_instance_id,
            "sourceRegion": normalize_region(source_region),
        },
    }


def _major(version: int | str) -> int:
    return int(str(version).strip().split(".")[0])


def target_version_ok(dump_major: int | str, server_major: int | str) -> bool:
    """True when a dump of ``dump_major`` can go into a server of ``server_major`` (same or newer).

    Raises:
        ValueError: when a version is not a number like ``15`` or ``"15.4"``.
    """
    return _major(server_major) >= _major(dump_major)


@dataclass(frozen=True)
class RestoreTarget:
    """Where restored files go: a container, and whether it is a Cross Region Restore."""

    account: StorageAccount
    container: BlobContainer
    cross_region: bool = False

    def request(
        self, vault: Vault, recovery_point_id: str, file_prefix: str = DEFAULT_FILE_PREFIX
    ) -> dict[str, Any]:
        """The restore request body for this target."""
        return build_restore_request(
            recovery_point_id,
            self.container.url,
            self.container.arm_id,
            restore_location(vault, cross_region=self.cross_region),
            file_prefix,
        )
