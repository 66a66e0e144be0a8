"""The restore wizard's server page: existing targets (region, state, the source server) and
the new-server placement, with hand-written fakes (the sandbox journeys are in
test_journeys.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QStandardItemModel

from pgflex_gui.jobs.restore_plan_file import RestorePlanFile
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.wizards.restore.flow import RestoreSource, Step
from pgflex_gui.ui.wizards.restore.wizard import RestoreWizard, open_restore_wizard
from tests.ui.fakes import SUB_A, FakeInventory
from tests.ui.test_restore_wizard import FakeStorage


@pytest.fixture
def wizard(add_self_deleting: Any, inventory: FakeInventory, inline_tasks: TaskManager) -> RestoreWizard:  # fmt: skip
    vault = inventory.vaults[SUB_A][0]
    source = RestoreSource(
        vault, inventory.instances[str(vault.id)][0], inventory.servers[SUB_A][0]
    )

    def start_restore(_plan: RestorePlanFile) -> str:
        return "job-1"

    wiz = open_restore_wizard(None, source=source, inventory=inventory, storage=FakeStorage(),
                              start_restore=start_restore, tasks=inline_tasks,
                              free_space=lambda _p: 50 * 1024**3)  # fmt: skip
    add_self_deleting(wiz)
    return wiz


def _to_server_page(wizard: RestoreWizard) -> None:
    wizard.source_page.points.setCurrentRow(0)
    wizard.next()
    page = wizard.container_page
    page.accounts.setCurrentIndex(1)
    page.containers.setEditText("restores")
    wizard.next()
    assert wizard.currentId() == int(Step.SERVER)


def test_existing_targets_show_region_and_state_and_refuse_what_cannot_work(qtbot: Any, wizard: RestoreWizard, tmp_path: Path) -> None:  # fmt: skip
    _to_server_page(wizard)
    page = wizard.server_page
    qtbot.mouseClick(page.existing_radio, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert page.existing_radio.isChecked()
    texts = {page.existing.itemText(i): i for i in range(page.existing.count())}
    items = page.existing.model()
    assert isinstance(items, QStandardItemModel)
    assert not any(t.startswith("pg-orders ") for t in texts)  # the source: not offered
    legacy = next(i for t, i in texts.items() if t.startswith("pg-legacy — westeurope, stopped"))
    billing = next(i for t, i in texts.items() if t.startswith("pg-billing — northeurope, running"))
    dev = next(i for t, i in texts.items() if t.startswith("pg-dev — westeurope, running"))
    assert not items.item(legacy).isEnabled()
    assert not items.item(billing).isEnabled()  # the vault restores to westeurope
    assert items.item(dev).isEnabled()
    assert "pg-legacy is stopped" in page.existing_note.text()
    assert "pg-billing is in northeurope" in page.existing_note.text()
    page.existing.setCurrentIndex(dev)
    page.download.setText(str(tmp_path))
    qtbot.waitUntil(page.isComplete)
    # The source server needs its own confirmation, and is then only a warning.
    assert page.allow_source.isVisible()
    qtbot.mouseClick(page.allow_source, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert page.allow_source.isChecked()
    source = next(i for i in range(page.existing.count())
                  if page.existing.itemText(i).startswith("pg-orders — westeurope, running"))  # fmt: skip
    page.existing.setCurrentIndex(source)
    assert page.isComplete()
    assert "the server this backup was taken of" in page.issue_list.text()
    qtbot.mouseClick(page.allow_source, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert wizard.flow.draft.existing_server_id is None
    assert not page.isComplete()


def test_new_server_page_has_subscription_and_region(qtbot: Any, wizard: RestoreWizard) -> None:
    _to_server_page(wizard)
    page = wizard.server_page
    assert page.subscription.currentText() == "Production"
    assert page.region.currentText() == "westeurope"
    assert page.version.currentText() == "16"
    page.resource_group.clear()
    qtbot.keyClicks(page.resource_group, "rg-new")
    assert wizard.flow.draft.server_resource_group == "rg-new"
    assert "resource group" not in page.issue_list.text()
    page.region.setCurrentIndex(0)  # "— choose —"
    assert "Choose the region for the new server." in page.issue_list.text()


def test_a_recovery_point_node_gives_its_backup_and_point(inventory: FakeInventory) -> None:
    from pgflex_gui.ui.tree.nodes import NodeKind, ResourceNode
    from pgflex_gui.ui.wizards.restore.wizard import source_from_node

    vault = inventory.vaults[SUB_A][0]
    instance = inventory.instances[str(vault.id)][0]
    point = inventory.points[str(instance.id)][1]
    root = ResourceNode(NodeKind.ROOT)
    vault_node = ResourceNode(NodeKind.VAULT, vault, vault.name, parent=root)
    group = ResourceNode(NodeKind.INSTANCES_GROUP, vault, "Backup instances", parent=vault_node)
    bi_node = ResourceNode(NodeKind.BACKUP_INSTANCE, instance, instance.friendly_name, parent=group)
    point_node = ResourceNode(NodeKind.RECOVERY_POINT, point, "p", parent=bi_node)
    root.children, vault_node.children, group.children = [vault_node], [group], [bi_node]
    bi_node.children = [point_node]
    source = source_from_node(point_node)
    assert (source.vault, source.instance, source.recovery_point) == (vault, instance, point)
    assert source.selected
    orphan = ResourceNode(NodeKind.RECOVERY_POINT, point, "p")  # no instance above it
    assert not source_from_node(orphan).selected
    assert not source_from_node(None).selected  # Tools > Restore… with nothing selected
