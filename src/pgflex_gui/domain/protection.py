"""Rules about a server's protection: which backup instance counts, and when it is overdue.

Pure and Qt-free: the tree's ``ProtectionIndex`` (``ui/tree/protection.py``) and the status
words (``ui/status.py``) apply these rules; they do not restate them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from pgflex_gui.domain.models import ProtectionState

__all__ = ["STALE_AFTER", "instance_rank", "is_backup_stale"]

STALE_AFTER = timedelta(days=8)
"""A weekly schedule plus a day of slack: an older newest recovery point is overdue."""

# When several backup instances name one server (instances in several vaults, or a soft-deleted
# one next to a new one), the most reassuring wins: protected, then configuring, then an error,
# then suspended, then one that no longer protects anything. Ties go to the first found.
_RANK: Mapping[ProtectionState, int] = {
    ProtectionState.PROTECTION_CONFIGURED: 0,
    ProtectionState.CONFIGURING_PROTECTION: 1,
    ProtectionState.UPDATING_PROTECTION: 1,
    ProtectionState.PROTECTION_ERROR: 2,
    ProtectionState.CONFIGURING_PROTECTION_FAILED: 2,
    ProtectionState.INVALID: 2,
    ProtectionState.BACKUP_SCHEDULES_SUSPENDED: 3,
    ProtectionState.RETENTION_SCHEDULES_SUSPENDED: 3,
    ProtectionState.PROTECTION_STOPPED: 3,
    ProtectionState.NOT_PROTECTED: 4,
    ProtectionState.SOFT_DELETING: 4,
    ProtectionState.SOFT_DELETED: 4,
}
_ERROR_RANK = 2


def instance_rank(state: ProtectionState) -> int:
    """Lower is more reassuring; pick the instance with the lowest rank for a server."""
    return _RANK.get(state, _ERROR_RANK)


def is_backup_stale(last: datetime | None, *, now: datetime | None = None) -> bool:
    """True when the newest recovery point is missing or older than :data:`STALE_AFTER`."""
    if last is None:
        return True
    now = now or datetime.now(UTC)
    return now - last > STALE_AFTER
