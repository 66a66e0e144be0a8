"""Qt-free words and colours for statuses, ages and sizes shown across the UI."""

from __future__ import annotations

from datetime import UTC, datetime

from pgflex_gui.domain.models import ProtectionState
from pgflex_gui.domain.preflight import RECOMMENDED_MAX_GB
from pgflex_gui.domain.protection import STALE_AFTER, is_backup_stale
from pgflex_gui.ui.tree.nodes import ProtectionStatus, ServerProtection

__all__ = [
    "RECOMMENDED_MAX_GB",
    "SIGN_IN_COLOUR",
    "STALE_AFTER",
    "STALE_COLOUR",
    "age_words",
    "is_problem",
    "is_stale",
    "protection_colour",
    "protection_from_state",
    "protection_words",
    "server_colour",
    "server_words",
    "size_words",
]

_WORDS = {
    ProtectionStatus.UNKNOWN: "Checking…",
    ProtectionStatus.UNREADABLE: "Unknown (vaults unreadable)",
    ProtectionStatus.NOT_PROTECTED: "Not protected",
    ProtectionStatus.PROTECTED: "Protected",
    ProtectionStatus.CONFIGURING: "Configuring",
    ProtectionStatus.SUSPENDED: "Suspended",
    ProtectionStatus.ERROR: "Protection error",
}

# Colours readable on both light and dark palettes.
_COLOURS = {
    ProtectionStatus.UNKNOWN: "#808080",
    ProtectionStatus.UNREADABLE: "#b07d00",
    ProtectionStatus.NOT_PROTECTED: "#c0392b",
    ProtectionStatus.PROTECTED: "#2e8b57",
    ProtectionStatus.CONFIGURING: "#2f7fc1",
    ProtectionStatus.SUSPENDED: "#b07d00",
    ProtectionStatus.ERROR: "#c0392b",
}

STALE_COLOUR = "#d9730d"  # orange: protected, but the newest backup is overdue
SIGN_IN_COLOUR = "#2f7fc1"

_FROM_STATE = {
    ProtectionState.PROTECTION_CONFIGURED: ProtectionStatus.PROTECTED,
    ProtectionState.CONFIGURING_PROTECTION: ProtectionStatus.CONFIGURING,
    ProtectionState.UPDATING_PROTECTION: ProtectionStatus.CONFIGURING,
    ProtectionState.BACKUP_SCHEDULES_SUSPENDED: ProtectionStatus.SUSPENDED,
    ProtectionState.RETENTION_SCHEDULES_SUSPENDED: ProtectionStatus.SUSPENDED,
    ProtectionState.PROTECTION_STOPPED: ProtectionStatus.SUSPENDED,
    ProtectionState.PROTECTION_ERROR: ProtectionStatus.ERROR,
    ProtectionState.CONFIGURING_PROTECTION_FAILED: ProtectionStatus.ERROR,
    ProtectionState.INVALID: ProtectionStatus.ERROR,
    ProtectionState.NOT_PROTECTED: ProtectionStatus.NOT_PROTECTED,
    ProtectionState.SOFT_DELETING: ProtectionStatus.NOT_PROTECTED,
    ProtectionState.SOFT_DELETED: ProtectionStatus.NOT_PROTECTED,
}


def protection_from_state(state: ProtectionState) -> ProtectionStatus:
    """Fold a backup instance's service state into what the tree shows."""
    return _FROM_STATE.get(state, ProtectionStatus.ERROR)


def protection_words(protection: ServerProtection | None) -> str:
    """``Protected (vault-a)``, ``Not protected``, ``Checking…``."""
    if protection is None:
        return ""
    words = _WORDS[protection.status]
    if protection.vault_name and protection.status is not ProtectionStatus.NOT_PROTECTED:
        words += f" ({protection.vault_name})"
    return words


def protection_colour(status: ProtectionStatus) -> str:
    """A hex colour for the status word and icon tint."""
    return _COLOURS[status]


def _stale(protection: ServerProtection | None, now: datetime | None) -> bool:
    return (
        protection is not None
        and protection.status is ProtectionStatus.PROTECTED
        and is_stale(protection.last_backup, now=now)
    )


def server_words(protection: ServerProtection | None, *, now: datetime | None = None) -> str:
    """:func:`protection_words`; a stale protected server says ``Backup overdue (vault)``.

    Short enough for the status column (the amber colour and the vault say it is protected).
    """
    words = protection_words(protection)
    if _stale(protection, now):
        overdue = "No backup yet" if protection.last_backup is None else "Backup overdue"  # type: ignore[union-attr]
        words = words.replace("Protected", overdue, 1)
    return words


def overdue_words(protection: ServerProtection | None, *, now: datetime | None = None) -> str:
    """Why a protected server's backup counts as overdue, for the details pane ("" if not)."""
    if not _stale(protection, now):
        return ""
    assert protection is not None
    if protection.last_backup is None:
        return "No recovery point in the last 35 days: check the vault's backup jobs."
    return (
        f"The last backup was {age_words(protection.last_backup, now=now)}: more than 8 days "
        "for a weekly schedule. Check the vault's backup jobs."
    )


def server_colour(protection: ServerProtection, *, now: datetime | None = None) -> str:
    """The status dot and word colour: amber (not green) while the last backup is stale."""
    if _stale(protection, now):
        return STALE_COLOUR
    return protection_colour(protection.status)


def is_problem(protection: ServerProtection | None, *, now: datetime | None = None) -> bool:
    """Error, suspended, unreadable, or protected with a stale (> 8 days) last backup."""
    if protection is None:
        return False
    if protection.status in {
        ProtectionStatus.ERROR,
        ProtectionStatus.SUSPENDED,
        ProtectionStatus.UNREADABLE,
    }:
        return True
    return protection.status is ProtectionStatus.PROTECTED and is_stale(
        protection.last_backup, now=now
    )


def is_stale(last: datetime | None, *, now: datetime | None = None) -> bool:
    """True when a protected server's newest recovery point is older than :data:`STALE_AFTER`."""
    return is_backup_stale(last, now=now)


def age_words(when: datetime | None, *, now: datetime | None = None) -> str:
    """``3 h ago``, ``2 d ago``; empty when unknown."""
    if when is None:
        return ""
    now = now or datetime.now(UTC)
    delta = now - when
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "just now"
    if seconds < 3600:
        return f"{max(1, seconds // 60)} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def size_words(storage_gb: int) -> str:
    """``512 GB``, ``8 TB (over 4 TB recommended)``."""
    if storage_gb <= 0:
        return ""
    text = f"{storage_gb / 1024:g} TB" if storage_gb >= 1024 else f"{storage_gb} GB"
    if storage_gb > RECOMMENDED_MAX_GB:
        text += " (> 4 TB)"
    return text
