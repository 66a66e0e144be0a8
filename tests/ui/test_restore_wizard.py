"""The restore wizard with hand-written fakes: happy path to commit, calendar, regions."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QWizard

from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BlobContainer, StorageAccount
from pgflex_gui.domain.restore_options import RestoreOptions
from pgflex_gui.jobs.restore_plan_file import RestorePlanFile
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.wizards.restore.flow import RestoreSource, Step
from pgflex_gui.ui.wizards.restore.wizard import RestoreWizard, open_restore_wizard
from tests.ui.fakes import SUB_A, FakeInventory


def _account(name: str, location: str) -> StorageAccount:
    return StorageAccount(
        ResourceId.build(SUB_A, "rg-st", "Microsoft.Storage", "storageAccounts", name),
        location,
        f"https://{name}.blob.core.windows.net/",
        allow_cross_tenant_replication=True,
    )


class FakeStorage:
    """The storage adapter: accounts in two regions, one container each."""

    def __init__(self) -> None:
        self.accounts = [_account("stweu", "westeurope"), _account("steus", "eastus")]
        self.calls: list[str] = []

    def list_storage_accounts(self, subscription_ids: Any) -> list[StorageAccount]:
        self.calls.append("list_storage_accounts")
        return list(self.accounts)

    def list_containers(self, account: StorageAccount) -> list[BlobContainer]:
        self.calls.append(f"list_containers:{account.name}")
        return [BlobContainer(account.id, "restores", f"{account.blob_endpoint}restores")]


def _source(inventory: FakeInventory) -> RestoreSource:
    vault = inventory.vaults[SUB_A][0]
    instance = inventory.instances[str(vault.id)][0]
    server = inventory.servers[SUB_A][0]
    return RestoreSource(vault, instance, server)


@pytest.fixture
def started() -> list[RestorePlanFile]:
    return []


@pytest.fixture
def wizard(
    add_self_deleting: Any, inventory: FakeInventory, inline_tasks: TaskManager, started: list
) -> RestoreWizard:
    def start_restore(plan: RestorePlanFile) -> str:
        started.append(plan)
        return "job-42"

    wiz = open_restore_wizard(
        None,
        source=_source(inventory),
        inventory=inventory,
        storage=FakeStorage(),
        start_restore=start_restore,
        tasks=inline_tasks,
        free_space=lambda _path: 50 * 1024**3,
    )
    add_self_deleting(wiz)
    return wiz


def test_happy_path_commits_expected_plan(
    qtbot: Any, wizard: RestoreWizard, started: list, tmp_path: Path
) -> None:
    source_page = wizard.source_page
    assert wizard.currentId() == int(Step.SOURCE)
    assert source_page.points.count() == 3
    assert not source_page.isComplete()
    source_page.points.setCurrentRow(1)
    assert source_page.isComplete()
    wizard.next()

    page = wizard.container_page
    assert wizard.currentId() == int(Step.CONTAINER)
    names = [page.accounts.itemText(i) for i in range(page.accounts.count())]
    assert any("stweu" in n for n in names)
    page.accounts.setCurrentIndex(1)
    assert [page.containers.itemText(i) for i in range(page.containers.count())] == ["restores"]
    page.containers.setEditText("restores")
    assert page.isComplete(), wizard.flow.issues(Step.CONTAINER)
    wizard.next()

    server_page = wizard.server_page
    assert wizard.currentId() == int(Step.SERVER)
    assert server_page.name.text() == "pg-orders-restored"
    assert server_page.version.currentText() == "16"
    server_page.download.setText(str(tmp_path))
    qtbot.waitUntil(lambda: "GiB free" in server_page.free.text())
    assert server_page.isComplete(), wizard.flow.issues(Step.SERVER)
    wizard.next()

    assert wizard.currentId() == int(Step.SUMMARY)
    summary = wizard.summary_page
    assert "pg-orders-restored" in summary.rows.text()
    assert "Options: restore everything" in summary.rows.text()
    # pgAdmin's options, folded away until asked for.
    assert not summary.options_box.isVisible()
    qtbot.mouseClick(summary.show_options, Qt.MouseButton.LeftButton)
    assert summary.options_box.isVisible()
    summary.content.setCurrentIndex(summary.content.findText("Schema only (no rows)"))
    box = summary.no_privileges  # a click on its indicator (the row is wider than its text)
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert box.isChecked()
    qtbot.keyClicks(summary.objects, "orders: public.orders, archive")
    assert "schema only (no rows)" in summary.rows.text()
    assert "orders: only public.orders, archive" in summary.rows.text()
    qtbot.keyClick(summary.objects, Qt.Key.Key_Return)
    qtbot.keyClicks(summary.objects, "not a line")  # no "database:" part
    assert "line 2" in summary.objects.toolTip()
    assert not summary.isComplete()  # a selection that can't be read never restores it all
    assert any("line 2" in i.message for i in wizard.flow.issues(Step.SUMMARY))
    for _ in range(len("not a line") + 1):
        qtbot.keyClick(summary.objects, Qt.Key.Key_Backspace)
    assert summary.objects.toolTip() == ""
    assert summary.isComplete(), wizard.flow.issues(Step.SUMMARY)
    with qtbot.waitSignal(wizard.committed) as blocker:
        wizard.button(QWizard.WizardButton.FinishButton).click()
    assert blocker.args == ["job-42"]
    assert not wizard.isVisible()

    assert len(started) == 1
    plan = started[0]
    assert plan.source is not None
    assert plan.source.recovery_point_id == "rp1"
    assert plan.source.backup_instance_id.endswith("/backupInstances/pg-orders-bi")
    assert not plan.source.cross_region
    assert plan.container.url == "https://stweu.blob.core.windows.net/restores"
    assert plan.target.mode == "new"
    assert plan.target.server_id.endswith("/flexibleServers/pg-orders-restored")
    assert plan.target.version == "16"
    assert plan.download_dir == str(tmp_path)
    assert plan.options == RestoreOptions(
        schema_only=True, no_privileges=True, objects={"orders": ("public.orders", "archive")}
    )
    assert RestorePlanFile.from_json(plan.to_json()).options == plan.options
    assert plan.to_json()  # no secrets (to_json refuses them)


def test_calendar_highlights_recovery_point_days(
    wizard: RestoreWizard, inventory: FakeInventory
) -> None:
    source = _source(inventory)
    assert source.instance is not None
    points = inventory.points[str(source.instance.id)]
    days = {p.time.astimezone().date() for p in points}
    calendar = wizard.source_page.calendar
    assert calendar.highlighted_days() == days
    for day in days:
        assert calendar.is_highlighted(day)
    assert not calendar.is_highlighted(min(days) - timedelta(days=1))


def test_calendar_click_chooses_point(qtbot: Any, wizard: RestoreWizard) -> None:
    calendar = wizard.source_page.calendar
    day = max(calendar.highlighted_days())
    with qtbot.waitSignal(calendar.day_chosen):
        calendar.clicked.emit(calendar.selectedDate().__class__(day.year, day.month, day.day))
    assert wizard.flow.draft.recovery_point is not None
    assert wizard.source_page.isComplete()


def test_wrong_region_account_not_offered(wizard: RestoreWizard) -> None:
    wizard.source_page.points.setCurrentRow(0)
    wizard.next()
    page = wizard.container_page
    names = [page.accounts.itemText(i) for i in range(page.accounts.count())]
    assert not any("steus" in n for n in names)
    assert "steus" in page.excluded.text()
    assert "eastus" in page.excluded.text()


def test_secondary_toggle_shown_only_for_crr_vault(
    add_self_deleting: Any, inventory: FakeInventory, inline_tasks: TaskManager
) -> None:
    crr = open_restore_wizard(
        None,
        source=_source(inventory),
        inventory=inventory,
        storage=FakeStorage(),
        start_restore=lambda plan: "x",
        tasks=inline_tasks,
    )
    add_self_deleting(crr)
    assert not crr.source_page.secondary.isHidden()
    vault = inventory.vaults["bbbbbbbb-0000-0000-0000-000000000002"][0]  # LRS
    lrs = open_restore_wizard(
        None,
        source=RestoreSource(vault, _source(inventory).instance, None),
        inventory=inventory,
        storage=FakeStorage(),
        start_restore=lambda plan: "x",
        tasks=inline_tasks,
    )
    add_self_deleting(lrs)
    assert lrs.source_page.secondary.isHidden()


def test_incident_mode_skips_container_page(
    qtbot: Any, wizard: RestoreWizard, started: list, tmp_path: Path
) -> None:
    page = wizard.source_page
    page.incident.setChecked(True)
    page.incident_folder_radio.setChecked(True)
    page.incident_folder.setText(str(tmp_path))
    assert page.isComplete(), wizard.flow.issues(Step.SOURCE)
    wizard.next()
    assert wizard.currentId() == int(Step.SERVER)
    wizard.next()
    assert wizard.currentId() == int(Step.SUMMARY)
    with qtbot.waitSignal(wizard.committed):
        wizard.button(QWizard.WizardButton.FinishButton).click()
    assert started[0].source is None
    assert started[0].container.local_dir == str(tmp_path)


def test_a_server_node_finds_its_instance_even_when_the_vault_is_not_expanded() -> None:
    from pgflex_gui.ui.tree.nodes import NodeKind, ProtectionStatus, ResourceNode, ServerProtection
    from pgflex_gui.ui.wizards.restore.wizard import source_from_node

    inventory = FakeInventory()
    vault = inventory.vaults[SUB_A][0]
    instance = inventory.instances[str(vault.id)][0]
    server = next(
        s
        for s in inventory.servers[SUB_A]
        if str(s.id).lower() == str(instance.datasource_id).lower()
    )
    node = ResourceNode(NodeKind.SERVER, server, server.name)
    node.protection = ServerProtection(
        ProtectionStatus.PROTECTED,
        vault_name=vault.name,
        instance_id=str(instance.id),
        vault=vault,
        instance=instance,
    )
    source = source_from_node(node)  # no vault or instance nodes anywhere in this tree
    assert source.vault == vault
    assert source.instance == instance
    assert source.server == server


def test_download_folder_starts_with_the_settings_folder(
    qtbot: Any, add_self_deleting: Any, inventory: FakeInventory, inline_tasks: TaskManager,
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from pgflex_gui.settings import Settings, load_settings, save_settings

    monkeypatch.setenv("PGFLEX_HOME", str(tmp_path / "home"))
    folder = tmp_path / "restores-here"
    save_settings(Settings(download_dir=str(folder)))
    assert load_settings().effective_download_dir() == folder
    measured: list[str] = []

    def free(path: str) -> int:
        measured.append(path)
        return 50 * 1024**3

    wiz = open_restore_wizard(None, source=_source(inventory), inventory=inventory,
                              storage=FakeStorage(), start_restore=lambda _p: "job-1",
                              tasks=inline_tasks, free_space=free)  # fmt: skip
    add_self_deleting(wiz)
    assert wiz.flow.draft.download_dir == str(folder)
    assert wiz.server_page.download.text() == str(folder)
    # Typing a path key by key (most of them not existing yet) logs no traceback.
    wiz.server_page.download.clear()
    qtbot.keyClicks(wiz.server_page.download, str(tmp_path / "new" / "deeper"))
    assert wiz.flow.draft.download_dir == str(tmp_path / "new" / "deeper")
    assert not [r for r in caplog.records if r.exc_info], caplog.records
    assert measured


def test_download_folder_without_settings_is_the_default(
    add_self_deleting: Any, inventory: FakeInventory, inline_tasks: TaskManager,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from pgflex_gui import paths

    monkeypatch.setenv("PGFLEX_HOME", str(tmp_path / "home"))
    assert not paths.settings_path().exists()
    wiz = open_restore_wizard(None, source=_source(inventory), inventory=inventory,
                              storage=FakeStorage(), start_restore=lambda _p: "job-1",
                              tasks=inline_tasks, free_space=lambda _p: 1)  # fmt: skip
    add_self_deleting(wiz)
    assert wiz.server_page.download.text() == str(paths.download_dir())


def test_a_v2_instance_labels_its_points_and_refuses_restore_as_files(
    add_self_deleting: Any, inventory: FakeInventory, inline_tasks: TaskManager
) -> None:
    src = _source(inventory)
    assert src.instance is not None
    points = inventory.points[str(src.instance.id)]
    newest = max(points, key=lambda p: p.time)
    inventory.points[str(src.instance.id)] = [
        dataclasses.replace(p, kind_evidence="v2" if p is newest else "v1") for p in points
    ]
    v2_source = RestoreSource(
        src.vault, dataclasses.replace(src.instance, backup_kind="v2"), src.server
    )
    wiz = open_restore_wizard(
        None,
        source=v2_source,
        inventory=inventory,
        storage=FakeStorage(),
        start_restore=lambda _plan: "never",
        tasks=inline_tasks,
        free_space=lambda _path: 50 * 1024**3,
    )
    add_self_deleting(wiz)
    page = wiz.source_page
    labels = [page.points.item(i).text() for i in range(page.points.count())]
    assert labels[0].endswith("· v2 (physical)")  # newest first
    assert all(label.endswith("· v1 (logical)") for label in labels[1:])
    page.points.setCurrentRow(0)
    assert not page.isComplete()  # Azure restores a v2 point only as a server
    assert "only as a server" in page.issue_list.text()
    page.points.setCurrentRow(1)
    assert page.isComplete()
