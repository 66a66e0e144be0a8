"""Which backup instance protects a server, and when its newest backup is overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BackupInstance, FlexServer, ProtectionState, Vault
from pgflex_gui.domain.protection import STALE_AFTER, instance_rank, is_backup_stale
from pgflex_gui.ui.tree.nodes import ProtectionStatus
from pgflex_gui.ui.tree.protection import ProtectionIndex

V1 = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1"
V2 = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v2"
SRV = "/subscriptions/s/resourceGroups/rgpg/providers/Microsoft.DBforPostgreSQL/flexibleServers/Pg1"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def _bi(vault: str, name: str, state: ProtectionState) -> BackupInstance:
    return BackupInstance(
        id=ResourceId.parse(f"{vault}/backupInstances/{name}"),
        datasource_id=ResourceId.parse(SRV),
        policy_id=None,
        protection_state=state,
    )


def test_rank_order() -> None:
    order = [
        ProtectionState.PROTECTION_CONFIGURED,
        ProtectionState.CONFIGURING_PROTECTION,
        ProtectionState.PROTECTION_ERROR,
        ProtectionState.PROTECTION_STOPPED,
        ProtectionState.SOFT_DELETED,
    ]
    ranks = [instance_rank(s) for s in order]
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks)
    assert instance_rank(ProtectionState.INVALID) == instance_rank(ProtectionState.PROTECTION_ERROR)


@given(st.sampled_from(list(ProtectionState)))
def test_every_state_has_a_rank(state: ProtectionState) -> None:
    assert 0 <= instance_rank(state) <= instance_rank(ProtectionState.SOFT_DELETED)


def test_tree_index_prefers_active_instance_in_either_order() -> None:
    v1 = Vault(ResourceId.parse(V1), "westeurope")
    v2 = Vault(ResourceId.parse(V2), "westeurope")
    old = _bi(V1, "old", ProtectionState.SOFT_DELETED)
    new = _bi(V2, "new", ProtectionState.PROTECTION_CONFIGURED)
    server = FlexServer(ResourceId.parse(SRV), "westeurope", "16", "Ready")
    for found in ([(v1, old), (v2, new)], [(v2, new), (v1, old)]):
        index = ProtectionIndex()
        index.begin("t", "s")
        for vault, instance in found:
            index.add(vault, instance, None)
        index.finish("t", "s", failed=False)
        protection = index.lookup(server, "t")
        assert protection.status is ProtectionStatus.PROTECTED
        assert protection.instance == new
        assert protection.vault == v2


def test_staleness() -> None:
    assert is_backup_stale(None, now=NOW)
    assert not is_backup_stale(NOW - STALE_AFTER, now=NOW)
    assert is_backup_stale(NOW - STALE_AFTER - timedelta(seconds=1), now=NOW)
    assert not is_backup_stale(datetime.now(UTC))
