"""Qt-free join of servers with the backup instances of every vault the user can see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pgflex_gui.domain.models import BackupInstance, FlexServer, Vault
from pgflex_gui.domain.protection import instance_rank
from pgflex_gui.ui.describe import state_words
from pgflex_gui.ui.status import protection_from_state
from pgflex_gui.ui.tree.nodes import ProtectionStatus, ServerProtection

__all__ = ["ProtectionIndex"]


@dataclass(frozen=True)
class _Entry:
    vault_subscription: str
    protection: ServerProtection
    rank: int  # domain.protection.instance_rank: the lowest wins when several name a server


class ProtectionIndex:
    """What each server's protection is, as vault scans report in, per tenant scope."""

    def __init__(self) -> None:
        self._entries: dict[str, list[_Entry]] = {}
        self._pending: dict[str, set[str]] = {}  # tenant -> subscriptions still scanning
        self._failed: dict[str, set[str]] = {}  # tenant -> subscriptions whose scan failed
        # What changed since take_changes(): servers (keys) whose entries changed, and tenants
        # whose scan phase changed (what lookup says about servers without entries).
        self._changed_keys: set[str] = set()
        self._changed_tenants: set[str] = set()

    def _phase(self, tenant_id: str) -> str:
        """What :meth:`lookup` says of a tenant's servers without entries."""
        if tenant_id not in self._pending or self._pending[tenant_id]:
            return "scanning"
        return "failed" if self._failed.get(tenant_id) else "done"

    def take_changes(self) -> tuple[set[str], set[str]]:
        """(tenants whose every server may read differently, server keys that may) since the
        last call; a caller re-looks up only those (a fleet has 20,000 servers)."""
        tenants, keys = self._changed_tenants, self._changed_keys
        self._changed_tenants, self._changed_keys = set(), set()
        return tenants, keys

    def begin(self, tenant_id: str, subscription_id: str) -> None:
        """A (re)scan of one subscription's vaults starts: forget what it said before."""
        sub = subscription_id.lower()
        before = self._phase(tenant_id)
        for key, entries in list(self._entries.items()):
            kept = [e for e in entries if e.vault_subscription != sub]
            if len(kept) != len(entries):
                self._changed_keys.add(key)
            if kept:
                self._entries[key] = kept
            else:
                del self._entries[key]
        self._pending.setdefault(tenant_id, set()).add(sub)
        self._failed.setdefault(tenant_id, set()).discard(sub)
        if self._phase(tenant_id) != before:
            self._changed_tenants.add(tenant_id)

    def add(self, vault: Vault, instance: BackupInstance, last_backup: datetime | None) -> None:
        """Record one backup instance found in ``vault``."""
        protection = ServerProtection(
            status=protection_from_state(instance.protection_state),
            vault_name=vault.name,
            instance_id=str(instance.id),
            policy_name=instance.policy_id.name if instance.policy_id else "",
            detail=instance.error_message or state_words(instance.protection_state),
            last_backup=last_backup,
            vault=vault,
            instance=instance,
        )
        key = str(instance.datasource_id).lower()
        entry = _Entry(
            vault.id.subscription_id.lower(), protection, instance_rank(instance.protection_state)
        )
        self._entries.setdefault(key, []).append(entry)
        self._changed_keys.add(key)

    def finish(self, tenant_id: str, subscription_id: str, *, failed: bool) -> None:
        """One subscription's scan is over (``failed`` when some vault could not be read)."""
        sub = subscription_id.lower()
        before = self._phase(tenant_id)
        self._pending.setdefault(tenant_id, set()).discard(sub)
        if failed:
            self._failed.setdefault(tenant_id, set()).add(sub)
        if self._phase(tenant_id) != before:
            self._changed_tenants.add(tenant_id)

    def scanning(self, tenant_id: str) -> bool:
        return bool(self._pending.get(tenant_id))

    def lookup(self, server: FlexServer, tenant_id: str) -> ServerProtection:
        """The best known protection of ``server``; Unknown while its tenant is scanning."""
        entries = self._entries.get(str(server.id).lower())
        if entries:
            best = min(entries, key=lambda e: e.rank)
            return best.protection
        if tenant_id not in self._pending or self._pending[tenant_id]:
            return ServerProtection(ProtectionStatus.UNKNOWN)
        if self._failed.get(tenant_id):
            return ServerProtection(
                ProtectionStatus.UNREADABLE,
                detail="Some backup vaults could not be read, so protection is not certain.",
            )
        return ServerProtection(ProtectionStatus.NOT_PROTECTED)
