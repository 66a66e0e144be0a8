"""Protection updates in the tree touch only what changed (#16.8, the 20,000-server fleet).

``ProtectionIndex.take_changes`` names the servers whose entries changed and the tenants
whose scan phase changed; the model looks only those up again and sends one ``dataChanged``
per servers group (it walked every server and sent one per row on every scan, which stalled
the GUI for seconds with a fleet).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import QModelIndex

from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BackupInstance, FlexServer, Subscription, Tenant, Vault
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.tree.model import ResourceTreeModel
from pgflex_gui.ui.tree.nodes import NodeKind, ProtectionStatus
from pgflex_gui.ui.tree.protection import ProtectionIndex

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUBS = [f"00000000-0000-4000-9000-{i:012d}" for i in range(3)]
PER_SUB = 20
PG = "Microsoft.DBforPostgreSQL/flexibleServers"


def server_id(sub: str, n: int) -> ResourceId:
    return ResourceId.parse(f"/subscriptions/{sub}/resourceGroups/rg/providers/{PG}/pg-{n:03d}")


VAULT = Vault(
    ResourceId.parse(
        f"/subscriptions/{SUBS[0]}/resourceGroups/rg/providers/"
        "Microsoft.DataProtection/backupVaults/bv"
    ),
    "westeurope",
)


def instance(sub: str, n: int) -> BackupInstance:
    return BackupInstance(
        ResourceId.parse(f"{VAULT.id}/backupInstances/bi-{n}"),
        server_id(sub, n),
        ResourceId.parse(f"{VAULT.id}/backupPolicies/p"),
        "ProtectionConfigured",
    )


class Inventory:
    """One tenant, three subscriptions of 20 servers, no vaults."""

    def list_tenants(self) -> list[Tenant]:
        return [Tenant(TENANT, "Contoso", "contoso.example")]

    def list_subscriptions(self, _tenant: str) -> list[Subscription]:
        return [Subscription(s, f"Fleet {i}", TENANT, "Enabled") for i, s in enumerate(SUBS)]

    def iter_servers(self, sub: str) -> Iterator[list[FlexServer]]:
        yield [FlexServer(server_id(sub, n), "westeurope", "16", "Ready") for n in range(PER_SUB)]

    def iter_vaults(self, _sub: str) -> Iterator[list[Vault]]:
        yield []

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def test_take_changes_names_changed_servers_and_tenant_phases() -> None:
    index = ProtectionIndex()
    index.begin(TENANT, SUBS[0])
    index.begin(TENANT, SUBS[1])
    assert index.take_changes() == (set(), set())  # scanning before and after
    index.add(VAULT, instance(SUBS[0], 1), None)
    index.finish(TENANT, SUBS[0], failed=False)
    key = str(server_id(SUBS[0], 1)).lower()
    assert index.take_changes() == (set(), {key})  # still scanning SUBS[1]
    index.finish(TENANT, SUBS[1], failed=False)
    assert index.take_changes() == ({TENANT}, set())  # done: the rest are Not protected
    assert index.take_changes() == (set(), set())
    index.begin(TENANT, SUBS[0])  # a rescan drops the subscription's entries
    assert index.take_changes() == ({TENANT}, {key})


def test_the_model_updates_only_changed_rows_one_range_per_group(qtbot: Any) -> None:
    tasks = TaskManager(inline=True)
    model = ResourceTreeModel(Inventory(), tasks, auto_load_servers=True)
    model.load_root()
    qtbot.waitUntil(lambda: len(model.servers()) == len(SUBS) * PER_SUB, timeout=5000)
    assert {n.protection.status for n in model.servers() if n.protection} == {
        ProtectionStatus.NOT_PROTECTED
    }
    ranges: list[tuple[str, int, int]] = []

    def on_changed(top: QModelIndex, bottom: QModelIndex) -> None:
        parent = model.node(top).parent
        if parent is not None and parent.kind is NodeKind.SERVERS_GROUP:
            ranges.append((str(parent.ref.subscription_id), top.row(), bottom.row()))  # type: ignore[attr-defined]

    model.dataChanged.connect(on_changed)
    index = model._protection
    model._update_protection(TENANT)
    assert ranges == []  # nothing changed: no walk, no signal

    index.begin(TENANT, SUBS[0])  # a scan starts: every server reads Checking again
    model._update_protection(TENANT)
    assert sorted(ranges) == [(s, 0, PER_SUB - 1) for s in SUBS]
    ranges.clear()

    index.add(VAULT, instance(SUBS[1], 7), None)
    model._update_protection(TENANT)
    assert ranges == [(SUBS[1], 7, 7)]  # only the server the instance protects
    ranges.clear()

    index.finish(TENANT, SUBS[0], failed=False)
    model._update_protection(TENANT)
    assert sorted(ranges) == [(SUBS[0], 0, PER_SUB - 1), (SUBS[1], 0, 19), (SUBS[2], 0, 19)]
    protected = [n for n in model.servers() if n.protection and n.protection.vault_name]
    assert [str(n.ref.id) for n in protected] == [str(server_id(SUBS[1], 7))]  # type: ignore[attr-defined]
    assert protected[0].protection is not None
    assert protected[0].protection.status is ProtectionStatus.PROTECTED
    model.dataChanged.disconnect(on_changed)
    tasks.shutdown(wait=True)


def test_the_coverage_chart_is_redrawn_at_most_every_250_ms_and_when_idle(
    qtbot: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    from PySide6.QtCore import QSettings

    from pgflex_gui.ui.main_window import COVERAGE_EVERY_MS, MainWindow
    from pgflex_gui.ui.panels.coverage import CoveragePanel

    tasks = TaskManager(inline=True)
    settings = QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat)
    window = MainWindow(inventory=Inventory(), tasks=tasks, settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: len(window.model.servers()) == len(SUBS) * PER_SUB, timeout=5000)
    drawn = {"n": 0}
    real = CoveragePanel.refresh

    def counting(panel: CoveragePanel) -> None:
        drawn["n"] += 1
        real(panel)

    monkeypatch.setattr(CoveragePanel, "refresh", counting)
    window._coverage_at = 0.0
    for _ in range(5):  # a burst, as 200 subscriptions report in
        window.model.protection_changed.emit()
    assert drawn["n"] == 1  # the first at once, the rest wait for the timer
    assert window._coverage_timer.isActive()
    tasks.idle.emit()  # the tree is idle: the chart is current at once
    assert drawn["n"] == 2
    assert not window._coverage_timer.isActive()
    window.model.protection_changed.emit()
    assert window._coverage_timer.isActive()  # within 250 ms of the last redraw
    qtbot.waitUntil(lambda: drawn["n"] == 3, timeout=COVERAGE_EVERY_MS * 8)
    window.close()
    tasks.shutdown(wait=True)
