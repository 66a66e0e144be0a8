"""The Configure-backup wizard with hand-written fakes (offscreen, no sleeps)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from PySide6.QtWidgets import QStyle, QWizard

from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import (
    BackupInstance,
    FlexServer,
    PolicyInfo,
    ProtectionState,
    Region,
    RetentionRuleInfo,
    Subscription,
    Tenant,
    Vault,
)
from pgflex_gui.domain.preflight import LTR_BACKUP_ROLE, READER_ROLE
from pgflex_gui.domain.retention import RetentionKind
from pgflex_gui.jobs.protect import ProtectResult, RetryPolicy
from pgflex_gui.jobs.runner import JobRunner
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.wizards.policy.flow import PolicyFlow
from pgflex_gui.ui.wizards.policy.wizard import PolicyWizard, WizardServices
from tests.unit.test_protect_job import FakeProtection

SUB = "aaaaaaaa-0000-0000-0000-000000000001"
TENANT = "11111111-1111-1111-1111-111111111111"
DP = "Microsoft.DataProtection"
FAST = RetryPolicy(initial_s=0, max_s=0, total_s=1, follow_interval_s=0)


def server(name: str = "pg1", **kw: Any) -> FlexServer:
    values: dict[str, Any] = {
        "location": "westeurope",
        "version": "16",
        "state": "Ready",
        "tenant_id": TENANT,
    }
    values.update(kw)
    return FlexServer(
        id=ResourceId.build(SUB, "rg-db", "Microsoft.DBforPostgreSQL", "flexibleServers", name),
        **values,
    )


def vault(name: str, location: str = "westeurope") -> Vault:
    return Vault(
        id=ResourceId.build(SUB, "rg-bk", DP, "backupVaults", name),
        location=location,
        tenant_id=TENANT,
        principal_id=f"p-{name}",
    )


V1 = vault("v1")
V_FAR = vault("v-far", "eastus")


class WizardInventory:
    """Just enough InventoryPort for the wizard."""

    def __init__(self, instances: list[BackupInstance] | None = None) -> None:
        self.instances = instances or []

    def list_tenants(self) -> list[Tenant]:
        return [Tenant(TENANT)]

    def list_subscriptions(self, tenant_id: str) -> list[Subscription]:
        return [Subscription(SUB, "Prod", TENANT)]

    def list_locations(self, subscription_id: str) -> list[Region]:
        return []

    def iter_servers(self, subscription_id: str) -> Iterator[list[FlexServer]]:
        yield []

    def iter_vaults(self, subscription_id: str) -> Iterator[list[Vault]]:
        yield [V_FAR, V1]

    def list_policies(self, vault_id: ResourceId) -> list[PolicyInfo]:
        return [
            PolicyInfo(
                id=vault_id.child("backupPolicies", "weekly"),
                repeating_intervals=("R/2025-06-08T02:00:00+00:00/P1W",),
                retention=(RetentionRuleInfo("Default", "P3M", is_default=True),),
            )
        ]

    def list_backup_instances(self, vault_id: ResourceId) -> list[BackupInstance]:
        return [i for i in self.instances if i.vault_id.same_as(vault_id)]

    def list_recovery_points(self, *a: Any, **k: Any) -> list[Any]:
        return []

    def list_jobs(self, vault_id: ResourceId) -> list[Any]:
        return []


def granted(fake: FakeProtection, s: FlexServer) -> FakeProtection:
    fake.create_role_assignment(str(s.id), LTR_BACKUP_ROLE[0], "p-v1")
    fake.create_role_assignment(s.id.resource_group_id, READER_ROLE[0], "p-v1")
    fake.calls.clear()
    return fake


@pytest.fixture
def runner() -> Iterator[JobRunner]:
    r = JobRunner(lanes={"arm-write": 1})
    yield r
    r.shutdown()


def make_wizard(
    qtbot: Any,
    tasks: TaskManager,
    runner: JobRunner,
    servers: list[FlexServer],
    *,
    inventory: WizardInventory | None = None,
    protection: FakeProtection | None = None,
) -> tuple[PolicyWizard, FakeProtection]:
    fake = protection or granted(FakeProtection(), servers[0])
    flow = PolicyFlow(
        servers, today=date(2025, 6, 2), guid=lambda _s: "857d23b1-0000-4000-8000-000000000001"
    )
    wizard = PolicyWizard(
        flow, WizardServices(inventory or WizardInventory(), fake, FAST), tasks, runner
    )
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard, fake


def test_happy_path_reaches_commit_and_runs_job(
    qtbot: Any, inline_tasks: TaskManager, runner: JobRunner
) -> None:
    wizard, fake = make_wizard(qtbot, inline_tasks, runner, [server()])
    page = wizard.vault_page
    assert [page.vault_combo.itemText(i).split()[0] for i in range(page.vault_combo.count())] == [
        "v1"
    ]
    assert "v-far" in page.excluded.text()
    assert page.isComplete()
    wizard.next()
    assert wizard.currentPage() is wizard.policy_page
    assert wizard.policy_page.isComplete()
    assert "Weekly on Sunday" in wizard.policy_page.description.text()
    calendar = wizard.policy_page.calendar
    assert calendar.rowCount() in (12, 13)  # one row per month, not 52 bare dates
    assert calendar.item(0, 0).text() == "June 2025"
    assert calendar.item(0, 2).text() == "Every backup, 3 months"
    wizard.next()
    assert wizard.preflight_page.isComplete()
    wizard.next()
    assert wizard.permissions_page.isComplete()
    assert fake.calls == [
        ("list_roles", str(server().id)),
        ("list_roles", server().id.resource_group_id),
    ]
    wizard.next()
    assert wizard.currentPage() is wizard.summary_page
    assert "Validate and protect pg1" in wizard.summary_page.text.text()
    # nothing written yet
    assert all(c[0] == "list_roles" for c in fake.calls)
    with qtbot.waitSignal(wizard.job_finished, timeout=10000) as blocker:
        wizard.next()
    _job_id, result, error, cancelled = blocker.args
    assert error is None
    assert not cancelled
    assert isinstance(result, ProtectResult)
    assert [c[0] for c in fake.calls if c[0] != "list_roles"] == ["validate", "create_instance"]
    assert wizard.currentPage() is wizard.done_page
    assert wizard.done_page.backup_now.isEnabled()
    with qtbot.waitSignal(wizard.job_finished, timeout=10000):
        wizard.done_page.backup_now.click()
    assert fake.calls[-1][0] == "adhoc"


def test_stopped_server_refused(qtbot: Any, inline_tasks: TaskManager, runner: JobRunner) -> None:
    wizard, _ = make_wizard(qtbot, inline_tasks, runner, [server(state="Stopped")])
    wizard.next()
    wizard.next()
    assert wizard.currentPage() is wizard.preflight_page
    assert not wizard.preflight_page.isComplete()
    assert "Stopped" in wizard.preflight_page.report.text()
    wizard.next()
    assert wizard.currentPage() is wizard.preflight_page


def test_already_protected_server_refused(
    qtbot: Any, inline_tasks: TaskManager, runner: JobRunner
) -> None:
    s = server()
    bi = BackupInstance(
        id=V1.id.child("backupInstances", "pg1-old"),
        datasource_id=s.id,
        policy_id=None,
        protection_state=ProtectionState.PROTECTION_CONFIGURED,
    )
    wizard, _ = make_wizard(qtbot, inline_tasks, runner, [s], inventory=WizardInventory([bi]))
    wizard.next()
    wizard.next()
    assert not wizard.preflight_page.isComplete()
    assert "already protected by vault v1" in wizard.preflight_page.report.text()


def test_missing_roles_block_until_grant(
    qtbot: Any, inline_tasks: TaskManager, runner: JobRunner
) -> None:
    wizard, _ = make_wizard(qtbot, inline_tasks, runner, [server()], protection=FakeProtection())
    for _ in range(3):
        wizard.next()
    page = wizard.permissions_page
    assert wizard.currentPage() is page
    assert not page.isComplete()
    assert page.export_arm.isEnabled()
    statuses = {page.table.item(r, 2).text() for r in range(page.table.rowCount())}
    assert statuses == {"Missing"}
    with qtbot.waitSignal(page.completeChanged):
        page.grant.setChecked(True)
    assert page.isComplete()


def test_irreversible_vault_choice_needs_confirmation(
    qtbot: Any, inline_tasks: TaskManager, runner: JobRunner
) -> None:
    wizard, _ = make_wizard(qtbot, inline_tasks, runner, [server()])
    page = wizard.vault_page
    page.create_new.setChecked(True)
    page.name_edit.setText("vnew")
    page.name_edit.textEdited.emit("vnew")
    assert page.isComplete()
    page.immutability.setCurrentText("Locked")
    assert not page.isComplete()
    assert page.confirm.isVisibleTo(page)
    page.confirm.setChecked(True)
    assert page.isComplete()


def test_invalid_retention_blocks_policy_page(
    qtbot: Any, inline_tasks: TaskManager, runner: JobRunner
) -> None:
    wizard, _ = make_wizard(qtbot, inline_tasks, runner, [server()])
    wizard.next()
    page = wizard.policy_page
    page.create_new.setChecked(True)
    page.name_edit.setText("weekly-2")
    page.name_edit.textEdited.emit("weekly-2")
    assert page.isComplete()
    row = page.rows[next(iter(page.rows))]
    row.amount.setValue(3)
    row.unit.setCurrentIndex(0)  # 3 days
    assert not page.isComplete()
    shown = page.general.text() + "".join(lbl.text() for lbl in page._field_labels.values())
    assert "3 days is shorter than the minimum of 7 days" in shown
    assert "P3D" not in shown
    assert "P7D" not in shown
    assert wizard.button(QWizard.WizardButton.NextButton) is not None


def test_closing_unsubscribes_from_the_runner_and_deletes_the_wizard(
    qtbot: Any, add_self_deleting: Any, inline_tasks: TaskManager, runner: JobRunner
) -> None:
    before = len(runner._finished_listeners)
    holder = SimpleNamespace(addWidget=add_self_deleting)
    wizard, _ = make_wizard(holder, inline_tasks, runner, [server()])
    assert len(runner._finished_listeners) == before + 1
    with qtbot.waitSignal(wizard.destroyed):
        wizard.close()
    assert len(runner._finished_listeners) == before


def _elided(table: Any, row: int, col: int) -> bool:
    """Whether the cell's text is cut, by the item delegate's rule (text margin each side)."""
    item = table.item(row, col)
    margin = table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1
    needed = table.fontMetrics().horizontalAdvance(item.text()) + 2 * margin
    return bool(needed > table.columnWidth(col))


def test_permissions_page_says_why_next_is_disabled_and_shows_roles_whole(
    qtbot: Any, inline_tasks: TaskManager, runner: JobRunner
) -> None:
    wizard, _ = make_wizard(qtbot, inline_tasks, runner, [server()], protection=FakeProtection())
    for _ in range(3):
        wizard.next()
    page = wizard.permissions_page
    assert wizard.currentPage() is page
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    reason = page._field_labels["roles"]
    assert reason.isVisibleTo(page)
    assert "lacks 2 role assignment(s)" in reason.text()
    assert "press Revalidate when they are done" in reason.text()
    table = page.table
    for row in range(table.rowCount()):
        for col in range(table.columnCount()):
            assert not _elided(table, row, col), table.item(row, col).text()
    scopes = {table.item(r, 1).text() for r in range(table.rowCount())}
    assert scopes == {"server pg1 (resource group rg-db)", "resource group rg-db"}
    assert table.item(0, 1).toolTip().startswith("/subscriptions/")


def test_invalid_vault_name_says_why_inline(
    qtbot: Any, inline_tasks: TaskManager, runner: JobRunner
) -> None:
    wizard, _ = make_wizard(qtbot, inline_tasks, runner, [server()])
    page = wizard.vault_page
    page.create_new.setChecked(True)
    page.name_edit.setText("1-bad")
    page.name_edit.textEdited.emit("1-bad")
    assert not page.isComplete()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    label = page._field_labels["name"]
    assert label.isVisibleTo(page)
    assert "start with a letter" in label.text()


def test_retention_calendar_is_readable_while_editing_a_new_policy(
    qtbot: Any, inline_tasks: TaskManager, runner: JobRunner
) -> None:
    wizard, _ = make_wizard(qtbot, inline_tasks, runner, [server()])
    wizard.resize(960, 680)
    wizard.next()
    page = wizard.policy_page
    assert not page.new_box.isVisible()  # no disabled form taking the calendar's room
    page.create_new.setChecked(True)
    monthly = page.rows[RetentionKind.MONTHLY]
    monthly.enabled.setChecked(True)
    qtbot.waitUntil(lambda: page.new_box.isVisible())
    calendar = page.calendar
    assert calendar.rowCount() > 12  # a first-of-month row and an every-backup row per month
    assert {calendar.item(r, 2).text() for r in range(calendar.rowCount())} == {
        "First of month, 12 months",
        "Every backup, 3 months",
    }
    visible_rows = calendar.viewport().height() // calendar.rowHeight(0)
    assert visible_rows >= 6
    for row in range(calendar.rowCount()):
        for col in range(calendar.columnCount()):
            assert not _elided(calendar, row, col), calendar.item(row, col).text()
