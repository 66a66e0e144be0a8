"""The Configure-backup wizard's vaulted backup v2 choice, driven against the sandbox (#16.2).

A v2 policy and instance are really created in the sandbox (the instance carries the
PhysicalBackup marker); Burstable, PostgreSQL 14 and replica servers are refused with the
reason and nothing is created; v1 is unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.protection import ProtectionService
from pgflex_gui.azure.vaulted_v2 import VaultedV2Service
from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import FlexServer, ProtectionState
from pgflex_gui.domain.preflight import GrantScope
from pgflex_gui.domain.v2_rules import DailySchedule, V2PolicyDraft
from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JobJournal
from pgflex_gui.jobs.protect import (
    ProtectionPlan,
    ProtectJob,
    ProtectResult,
    RetryPolicy,
    ServerTarget,
    ServicePort,
)
from pgflex_gui.jobs.runner import JobRunner
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import NullDataPlane, Sandbox
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.wizards.policy.flow import PolicyFlow
from pgflex_gui.ui.wizards.policy.wizard import PolicyWizard, WizardServices
from tests.adapters.azure_helpers import sandbox_factory

pytestmark = pytest.mark.sandbox

FAST = RetryPolicy(initial_s=0.1, max_s=0.2, total_s=10, follow_interval_s=0.1)
GUID = "857d23b1-0000-4000-8000-0000000000a2"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = Sandbox.start(
        Path(tmp_path_factory.mktemp("policy-v2")),
        seed="minimal",
        dataplane=NullDataPlane(),
        page_size=5,
        retry_after=0,
    )
    for name, version, sku in (
        ("pg-v2ui-ok-weu", "16", "Standard_D2ds_v5"),
        ("pg-v2ui-v1-weu", "16", "Standard_D2ds_v5"),
        ("pg-v2ui-burst-weu", "16", "Standard_B1ms"),
        ("pg-v2ui-old-weu", "14", "Standard_D2ds_v5"),
        ("pg-v2ui-replica-weu", "16", "Standard_D2ds_v5"),
    ):
        sb.world.add_server(
            IDS.SUB, IDS.RG_PG, name, location="westeurope", version=version, sku=sku
        )
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def factory(box: Sandbox) -> Iterator[ClientFactory]:
    f = sandbox_factory(box)
    yield f
    f.close()


@pytest.fixture
def runner() -> Iterator[JobRunner]:
    r = JobRunner(lanes={"arm-write": 1})
    yield r
    r.shutdown()


def _server(inventory: AzureInventory, name: str) -> FlexServer:
    return inventory.get_server(ResourceId.parse(IDS.server_id(name)))


def _vault_id() -> ResourceId:
    return ResourceId.parse(IDS.vault_id(IDS.VAULT_LRS))


def _wizard(
    qtbot: Any, tasks: TaskManager, runner: JobRunner, factory: ClientFactory, server: FlexServer
) -> tuple[PolicyWizard, AzureInventory]:
    inventory = AzureInventory(factory)
    port = ServicePort(ProtectionService(factory), inventory, v2=VaultedV2Service(factory))
    flow = PolicyFlow([server], today=date(2026, 12, 7), guid=lambda _s: GUID)
    wizard = PolicyWizard(flow, WizardServices(inventory, port, FAST), tasks, runner)
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard, inventory


def _choose_vault(qtbot: Any, wizard: PolicyWizard) -> None:
    page = wizard.vault_page
    index = next(
        i
        for i in range(page.vault_combo.count())
        if page.vault_combo.itemText(i).split()[0] == IDS.VAULT_LRS
    )
    page.vault_combo.setCurrentIndex(index)
    qtbot.waitUntil(page.isComplete)
    wizard.next()
    assert wizard.currentPage() is wizard.policy_page


def _choose_v2(wizard: PolicyWizard) -> None:
    page = wizard.policy_page
    page.create_new.setChecked(True)
    page.backup_type.setCurrentIndex(page.backup_type.findData("v2"))
    assert wizard.flow.is_v2


def _policy_names(inventory: AzureInventory) -> set[str]:
    return {p.name for p in inventory.list_policies(_vault_id())}


def _instances_of(inventory: AzureInventory, server: FlexServer) -> list[Any]:
    return [
        bi
        for bi in inventory.list_backup_instances(_vault_id())
        if bi.datasource_id.same_as(server.id)
    ]


def test_v2_daily_policy_and_instance_created_with_the_marker(
    qtbot: Any, inline_tasks: TaskManager, runner: JobRunner, factory: ClientFactory
) -> None:
    inventory = AzureInventory(factory)
    server = _server(inventory, "pg-v2ui-ok-weu")
    wizard, inventory = _wizard(qtbot, inline_tasks, runner, factory, server)
    _choose_vault(qtbot, wizard)
    _choose_v2(wizard)
    page = wizard.policy_page
    assert page.frequency.isVisible()
    assert not page.weekday.isVisible()  # daily: no weekday
    assert not page.calendar.isVisible()  # a weekly calendar would be empty: a note instead
    assert "One recovery point a day" in page.calendar_label.text()
    assert "physical" in page.subTitle()
    page.name_edit.setText("pgflex-v2-ui-daily")
    page.name_edit.textEdited.emit("pgflex-v2-ui-daily")
    assert wizard.flow.v2_draft.name == "pgflex-v2-ui-daily"
    qtbot.waitUntil(page.isComplete)
    wizard.next()
    assert wizard.currentPage() is wizard.preflight_page
    qtbot.waitUntil(wizard.preflight_page.isComplete)
    wizard.next()
    perms = wizard.permissions_page
    if not perms.isComplete():
        perms.grant.setChecked(True)
    qtbot.waitUntil(perms.isComplete)
    wizard.next()
    assert wizard.currentPage() is wizard.summary_page
    summary = wizard.summary_page.text.text()
    assert "Create v2 policy pgflex-v2-ui-daily" in summary
    assert "with vaulted backup v2 (physical)" in summary
    assert "pgflex-v2-ui-daily" not in _policy_names(inventory)  # nothing sent yet
    with qtbot.waitSignal(wizard.job_finished, timeout=60000) as blocker:
        wizard.next()
    _job_id, result, error, _cancelled = blocker.args
    assert error is None, error
    assert isinstance(result, ProtectResult)
    assert result.created_policy
    assert "pgflex-v2-ui-daily" in _policy_names(inventory)
    policy = next(p for p in inventory.list_policies(_vault_id()) if p.name == "pgflex-v2-ui-daily")
    assert policy.repeating_intervals[0].endswith("/P1D")
    instance = VaultedV2Service(factory).get_backup_instance(result.instances[0].id)
    assert instance.protection_state is ProtectionState.PROTECTION_CONFIGURED
    assert instance.backup_kind == "v2"  # the PhysicalBackup marker, read back at 2026-07-01


@pytest.mark.parametrize(
    ("name", "replica", "reason"),
    [
        ("pg-v2ui-burst-weu", False, "is a Burstable server"),
        ("pg-v2ui-old-weu", False, "runs PostgreSQL 14"),
        ("pg-v2ui-replica-weu", True, "is a replica (AsyncReplica)"),
    ],
)
def test_ineligible_server_refused_with_reason_and_nothing_created(
    qtbot: Any,
    inline_tasks: TaskManager,
    runner: JobRunner,
    factory: ClientFactory,
    name: str,
    replica: bool,
    reason: str,
) -> None:
    inventory = AzureInventory(factory)
    server = _server(inventory, name)
    if replica:  # the sandbox has no replicas: the field as Azure reports it for one
        server = dataclasses.replace(server, replication_role="AsyncReplica")
    wizard, inventory = _wizard(qtbot, inline_tasks, runner, factory, server)
    _choose_vault(qtbot, wizard)
    _choose_v2(wizard)
    policies_before = _policy_names(inventory)
    qtbot.waitUntil(wizard.policy_page.isComplete)
    wizard.next()
    page = wizard.preflight_page
    assert wizard.currentPage() is page
    qtbot.waitUntil(lambda: wizard.flow.instances is not None)
    assert not page.isComplete()
    assert reason in page.report.text()
    wizard.next()
    assert wizard.currentPage() is page  # blocked
    # the job refuses it too, before anything is sent
    plan_flow = wizard.flow
    with pytest.raises(ValueError, match=reason.split(" (")[0]):
        plan_flow.plan()
    assert _policy_names(inventory) == policies_before
    assert not _instances_of(inventory, server)


def test_job_refuses_an_ineligible_v2_plan_before_sending(factory: ClientFactory) -> None:
    inventory = AzureInventory(factory)
    server = _server(inventory, "pg-v2ui-old-weu")
    vault_id = _vault_id()
    draft = V2PolicyDraft(name="pgflex-v2-ui-refused", schedule=DailySchedule(time(2, 0)))
    plan = ProtectionPlan(
        vault_id=vault_id,
        policy_id=vault_id.child("backupPolicies", draft.name),
        targets=(ServerTarget.new(server, GUID),),
        vault=inventory.get_vault(vault_id),
        grant=GrantScope.RESOURCE,
        reference_date=date(2026, 12, 7),
        backup_type="v2",
        v2_policy_draft=draft,
    )
    port = ServicePort(ProtectionService(factory), inventory, v2=VaultedV2Service(factory))
    ctx = JobContext(token=CancelToken(), journal=JobJournal.in_memory())
    with pytest.raises(AppError, match="PostgreSQL 14") as info:
        ProtectJob(plan, port, retry=FAST).run(ctx)
    assert info.value.remedy
    assert "pgflex-v2-ui-refused" not in _policy_names(inventory)
    assert not _instances_of(inventory, server)


def test_v1_unchanged_weekly_policy_and_logical_instance(
    qtbot: Any, inline_tasks: TaskManager, runner: JobRunner, factory: ClientFactory
) -> None:
    inventory = AzureInventory(factory)
    server = _server(inventory, "pg-v2ui-v1-weu")
    wizard, inventory = _wizard(qtbot, inline_tasks, runner, factory, server)
    _choose_vault(qtbot, wizard)
    page = wizard.policy_page
    assert page.backup_type.currentData() == "v1"
    assert not page.frequency.isVisible()
    page.create_new.setChecked(True)
    page.name_edit.setText("pgflex-v1-ui-weekly")
    page.name_edit.textEdited.emit("pgflex-v1-ui-weekly")
    qtbot.waitUntil(page.isComplete)
    wizard.next()
    qtbot.waitUntil(wizard.preflight_page.isComplete)
    wizard.next()
    perms = wizard.permissions_page
    if not perms.isComplete():
        perms.grant.setChecked(True)
    qtbot.waitUntil(perms.isComplete)
    wizard.next()
    assert "vaulted backup v2" not in wizard.summary_page.text.text()
    with qtbot.waitSignal(wizard.job_finished, timeout=60000) as blocker:
        wizard.next()
    _job_id, result, error, _cancelled = blocker.args
    assert error is None, error
    policy = next(
        p for p in inventory.list_policies(_vault_id()) if p.name == "pgflex-v1-ui-weekly"
    )
    assert policy.repeating_intervals[0].endswith("/P1W")
    instance = VaultedV2Service(factory).get_backup_instance(result.instances[0].id)
    assert instance.backup_kind == "v1"
