"""The restore wizard's read methods: clicked through, carried in the plan, only working
ones enabled (the rest say why)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from pgflex_gui.jobs.restore_plan_file import RestorePlanFile
from pgflex_gui.keystore import MemoryKeystore
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.wizards.restore.flow import ReadAccess, Step
from pgflex_gui.ui.wizards.restore.wizard import RestoreWizard, open_restore_wizard
from tests.ui.fakes import FakeInventory
from tests.ui.test_restore_wizard import FakeStorage, _source


def _wizard(add_self_deleting: Any, inventory: FakeInventory, tasks: TaskManager, storage: FakeStorage, started: list[RestorePlanFile]) -> RestoreWizard:  # fmt: skip
    def start_restore(plan: RestorePlanFile) -> str:
        started.append(plan)
        return "job-7"

    wiz = open_restore_wizard(None, source=_source(inventory), inventory=inventory,
                              storage=storage, start_restore=start_restore, tasks=tasks,
                              free_space=lambda _path: 50 * 1024**3)  # fmt: skip
    add_self_deleting(wiz)
    return wiz


def _to_container_page(wizard: RestoreWizard) -> Any:
    wizard.source_page.points.setCurrentRow(0)
    wizard.next()
    page = wizard.container_page
    page.accounts.setCurrentIndex(page.accounts.findText("stweu", Qt.MatchFlag.MatchContains))
    page.containers.setEditText("restores")
    return page


@pytest.mark.parametrize("method", ["entra", "account-key", "app-sas"])
def test_the_chosen_read_method_reaches_the_plan(qtbot: Any, add_self_deleting: Any, inventory: FakeInventory, inline_tasks: TaskManager, tmp_path: Path, method: str) -> None:  # fmt: skip
    started: list[RestorePlanFile] = []
    wizard = _wizard(add_self_deleting, inventory, inline_tasks, FakeStorage(), started)
    page = _to_container_page(wizard)
    button = page.findChild(
        type(page.read_buttons[next(iter(page.read_buttons))]), f"read-{method}"
    )
    assert button is not None
    assert button.isEnabled()
    if method != "entra":
        button.click()
    assert page.read_buttons[wizard.flow.draft.read_access] is button
    assert page.isComplete(), wizard.flow.issues(Step.CONTAINER)
    wizard.next()
    wizard.server_page.download.setText(str(tmp_path))
    qtbot.waitUntil(lambda: wizard.server_page.isComplete(), timeout=5000)
    wizard.next()
    assert wizard.currentId() == int(Step.SUMMARY)
    with qtbot.waitSignal(wizard.committed):
        wizard.button(QWizard.WizardButton.FinishButton).click()
    assert started[0].container.read_access == method
    assert started[0].container.sas_entry == ""


def test_account_key_is_disabled_with_the_reason_when_shared_keys_are_off(add_self_deleting: Any, inventory: FakeInventory, inline_tasks: TaskManager) -> None:  # fmt: skip
    storage = FakeStorage()
    storage.accounts = [dataclasses.replace(a, allow_shared_key_access=False) for a in storage.accounts]  # fmt: skip
    wizard = _wizard(add_self_deleting, inventory, inline_tasks, storage, [])
    page = _to_container_page(wizard)
    key = page.findChild(type(page.read_buttons[next(iter(page.read_buttons))]), "read-account-key")
    assert not key.isEnabled()
    assert "allowSharedKeyAccess" in key.toolTip()
    app_sas = page.findChild(type(key), "read-app-sas")
    assert app_sas.isEnabled()


class SasStorage(FakeStorage):
    """A storage adapter that can sign a read-only SAS (as ``StorageService`` does)."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[tuple[str, str]] = []

    def make_read_sas(self, container_url: str, container_arm_id: str = "") -> str:
        self.made.append((container_url, container_arm_id))
        return "sv=2025-11-05&sr=c&sp=rl&se=2099-01-01T00:00:00Z&sig=madebyapp"


def test_make_one_for_me_fills_the_sas_and_the_keyring_gets_it(qtbot: Any, add_self_deleting: Any, inventory: FakeInventory, inline_tasks: TaskManager, tmp_path: Path) -> None:  # fmt: skip
    storage, keystore, started = SasStorage(), MemoryKeystore(), []

    def start_restore(plan: RestorePlanFile) -> str:
        started.append(plan)
        return "job-8"

    wizard = open_restore_wizard(None, source=_source(inventory), inventory=inventory,
                                 storage=storage, start_restore=start_restore,
                                 tasks=inline_tasks, keystore=keystore,
                                 free_space=lambda _path: 50 * 1024**3)  # fmt: skip
    add_self_deleting(wizard)
    page = _to_container_page(wizard)
    page.read_buttons[ReadAccess.SAS].click()
    assert page.make_sas.isVisible()
    assert not page.isComplete()  # no SAS yet
    page.make_sas.click()
    qtbot.waitUntil(lambda: page.isComplete(), timeout=5000)
    assert storage.made == [("https://stweu.blob.core.windows.net/restores",
                             str(storage.accounts[0].id)
                             + "/blobServices/default/containers/restores")]  # fmt: skip
    assert "ready" in page.sas_state.text()
    assert "madebyapp" not in page.sas_state.text()
    wizard.next()
    wizard.server_page.download.setText(str(tmp_path))
    qtbot.waitUntil(lambda: wizard.server_page.isComplete(), timeout=5000)
    wizard.next()
    with qtbot.waitSignal(wizard.committed, timeout=5000):
        wizard.button(QWizard.WizardButton.FinishButton).click()
    plan = started[0]
    assert plan.container.read_access == "sas"
    assert list(keystore.data) == [plan.container.sas_entry]
    assert keystore.data[plan.container.sas_entry].endswith("sig=madebyapp")
    assert "madebyapp" not in str(plan.to_json())
