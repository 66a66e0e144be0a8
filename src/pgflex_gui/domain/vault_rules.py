"""Which backup vaults can protect a server, and drafts for creating a new vault.

Vault name rule (product rule; the Azure portal's rule for Backup vaults): 2-50 characters,
letters, digits and hyphens, starting with a letter. Soft-delete retention: 14-180 days.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pgflex_gui.domain.issues import Issue, error, has_errors, info, warning
from pgflex_gui.domain.models import FlexServer, Vault
from pgflex_gui.domain.regions import normalize_region

__all__ = [
    "REDUNDANCY_ALIASES",
    "InvalidVault",
    "VaultDraft",
    "build_vault_body",
    "eligible_vaults",
    "vault_draft_issues",
    "vault_issues_for_server",
    "vault_name_issues",
]

REDUNDANCY_ALIASES = {
    "lrs": "LocallyRedundant",
    "locallyredundant": "LocallyRedundant",
    "zrs": "ZoneRedundant",
    "zoneredundant": "ZoneRedundant",
    "grs": "GeoRedundant",
    "georedundant": "GeoRedundant",
}
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_SOFT_DELETE = ("Off", "On", "AlwaysOn")
_IMMUTABILITY = ("Disabled", "Unlocked", "Locked")
_CSR = ("Enabled", "Disabled", "PermanentlyDisabled")


def vault_issues_for_server(vault: Vault, server: FlexServer) -> list[Issue]:
    """Why ``vault`` can or cannot protect ``server``: same region and tenant required."""
    found: list[Issue] = []
    if normalize_region(vault.location) != normalize_region(server.location):
        found.append(
            error(
                "vault",
                f"Vault {vault.name} is in {vault.location}, but server {server.name} is in "
                f"{server.location}. Azure Backup needs the vault in the server's region.",
                f"Choose or create a vault in {normalize_region(server.location)}.",
            )
        )
    if vault.tenant_id and server.tenant_id:
        if vault.tenant_id.lower() != server.tenant_id.lower():
            found.append(
                error(
                    "vault",
                    f"Vault {vault.name} belongs to another Microsoft Entra tenant than the "
                    "server. Azure Backup works only within one tenant.",
                    "Choose a vault in the server's tenant.",
                )
            )
    else:
        found.append(info("vault", "The tenant of the vault or server is unknown; not checked."))
    if vault.provisioning_state.lower() != "succeeded":
        found.append(
            error(
                "vault",
                f"Vault {vault.name} is not ready (provisioning state {vault.provisioning_state}).",
                "Wait until it has been created, or choose another vault.",
            )
        )
    if vault.id.subscription_id.lower() != server.id.subscription_id.lower():
        found.append(
            info(
                "vault",
                f"Vault {vault.name} is in another subscription than the server; that is "
                "allowed within one tenant.",
            )
        )
    return found


def eligible_vaults(
    vaults: Iterable[Vault], server: FlexServer
) -> tuple[list[Vault], list[tuple[Vault, list[str]]]]:
    """Split vaults into those that can protect ``server`` and the others with reasons."""
    ok: list[Vault] = []
    rejected: list[tuple[Vault, list[str]]] = []
    for vault in vaults:
        blocking = [i.message for i in vault_issues_for_server(vault, server) if i.blocks]
        if blocking:
            rejected.append((vault, blocking))
        else:
            ok.append(vault)
    return ok, rejected


class InvalidVault(ValueError):
    """A vault draft that must not be sent; ``issues`` says why."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__("; ".join(i.message for i in self.issues if i.blocks))


@dataclass(frozen=True)
class VaultDraft:
    """What the create-vault dialog collects. ``location`` should be the server's region."""

    name: str
    location: str
    redundancy: str = "LocallyRedundant"  # LRS | ZRS | GRS or the full names
    cross_region_restore: bool = False
    soft_delete: str = "On"
    soft_delete_days: int = 14
    immutability: str = "Disabled"
    cross_subscription_restore: str = "Enabled"
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def storage_type(self) -> str | None:
        """The full redundancy name, or None when unknown."""
        return REDUNDANCY_ALIASES.get(self.redundancy.replace(" ", "").lower())


def vault_name_issues(name: str) -> list[Issue]:
    """Check a vault name (see module docstring)."""
    if not 2 <= len(name) <= 50:
        return [error("name", f"Vault names have 2 to 50 characters, not {len(name)}.")]
    if not _NAME_RE.match(name):
        return [
            error("name", "Vault names start with a letter and use only letters, digits, hyphens.")
        ]
    return []


def _choice_issue(field_name: str, value: str, allowed: Sequence[str]) -> list[Issue]:
    if value in allowed:
        return []
    return [error(field_name, f"{value!r} is not one of {', '.join(allowed)}.")]


def vault_draft_issues(draft: VaultDraft, server: FlexServer | None = None) -> list[Issue]:
    """Every issue with a vault draft, including warnings for irreversible choices."""
    found = vault_name_issues(draft.name)
    if not draft.location.strip():
        found.append(error("location", "Pick a region."))
    elif server is not None and normalize_region(draft.location) != normalize_region(
        server.location
    ):
        found.append(
            error(
                "location",
                f"The vault must be in the server's region ({normalize_region(server.location)}).",
            )
        )
    storage = draft.storage_type
    if storage is None:
        found.append(error("redundancy", f"{draft.redundancy!r} is not LRS, ZRS or GRS."))
    if draft.cross_region_restore:
        if storage != "GeoRedundant":
            found.append(
                error(
                    "cross_region_restore",
                    "Cross Region Restore needs geo-redundant (GRS) storage.",
                    "Choose GRS or turn Cross Region Restore off.",
                )
            )
        else:
            found.append(
                info(
                    "cross_region_restore",
                    "With Cross Region Restore, recovery points reach the paired region up to 12 "
                    "hours after the backup, and the vault is billed at RA-GRS rates.",
                )
            )
    found += _choice_issue("soft_delete", draft.soft_delete, _SOFT_DELETE)
    found += _choice_issue("immutability", draft.immutability, _IMMUTABILITY)
    found += _choice_issue("cross_subscription_restore", draft.cross_subscription_restore, _CSR)
    if not 14 <= draft.soft_delete_days <= 180:
        found.append(error("soft_delete_days", "Soft-delete retention is 14 to 180 days."))
    if draft.soft_delete == "AlwaysOn":
        found.append(
            warning(
                "soft_delete",
                "Soft delete 'Always on' can never be turned off again for this vault.",
                "Choose 'On' unless your policy requires it.",
            )
        )
    if draft.immutability == "Locked":
        found.append(
            warning(
                "immutability",
                "A locked immutable vault can never be unlocked: recovery points can't be "
                "deleted before they expire, not even by stopping protection.",
                "Choose 'Unlocked' to try immutability first.",
            )
        )
    if draft.cross_subscription_restore == "PermanentlyDisabled":
        found.append(
            warning(
                "cross_subscription_restore",
                "Permanently disabling cross-subscription restore can't be undone: restores "
                "will only ever go to storage accounts in the vault's subscription.",
            )
        )
    return found


def build_vault_body(draft: VaultDraft, server: FlexServer | None = None) -> dict[str, Any]:
    """The body for ``PUT .../providers/Microsoft.DataProtection/backupVaults/{name}``.

    Raises:
        InvalidVault: when the draft has any blocking issue.
    """
    issues = vault_draft_issues(draft, server)
    if has_errors(issues):
        raise InvalidVault(issues)
    storage = draft.storage_type
    features: dict[str, Any] = {
        "crossSubscriptionRestoreSettings": {"state": draft.cross_subscription_restore}
    }
    if storage == "GeoRedundant":
        features["crossRegionRestoreSettings"] = {
            "state": "Enabled" if draft.cross_region_restore else "Disabled"
        }
    body: dict[str, Any] = {
        "location": normalize_region(draft.location),
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "storageSettings": [{"datastoreType": "VaultStore", "type": storage}],
            "securitySettings": {
                "softDeleteSettings": {
                    "state": draft.soft_delete,
                    "retentionDurationInDays": draft.soft_delete_days,
                },
                "immutabilitySettings": {"state": draft.immutability},
            },
            "featureSettings": features,
        },
    }
    if draft.tags:
        body["tags"] = dict(draft.tags)
    return body
