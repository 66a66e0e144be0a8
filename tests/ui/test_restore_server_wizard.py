"""The restore-as-server wizard (vaulted backup v2, #16.3) driven against the sandbox.

A real v2 point (pg_basebackup of a real source cluster) in the sandbox; the wizard lists the
servers in the vault's region, checks each rule on the picked target with the same pre-flight
the job runs (not empty, other major version, missing role), refuses to go on while a rule is
broken, and commits a plan that the restore-as-server engine then runs onto the empty target:
the source's rows land there. The restore-as-files wizard hands a v2 point over to it, and the
tree's Restore… opens it for a v2 instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QWizard

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.backends import restore_job, resume_interrupted_restores
from pgflex_gui.composition import Composition
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BackupInstance, Vault
from pgflex_gui.domain.server_restore_plan import ServerRestorePlan
from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JournalStore
from pgflex_gui.jobs.restore_as_server import SdkServerRestoreArm
from pgflex_gui.sandbox.runtime import Sandbox
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.tree.nodes import NodeKind, ResourceNode
from pgflex_gui.ui.wizards.restore.flow import RestoreSource
from pgflex_gui.ui.wizards.restore.wizard import open_restore_wizard
from pgflex_gui.ui.wizards.restore_server.flow import ServerStep
from pgflex_gui.ui.wizards.restore_server.wizard import (
    ServerRestoreServices,
    ServerRestoreWizard,
    open_server_restore_wizard,
)
from pgflex_gui.ui.workflows import WorkflowActions, WorkflowServices
from tests.adapters.azure_helpers import sandbox_factory
from tests.e2e.v2_world import World, box, point, raw, world

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(600)]

__all__ = ["box", "point", "raw", "world"]  # the module-scoped v2 sandbox world


@pytest.fixture(scope="module")
def factory(box: Sandbox) -> Iterator[ClientFactory]:
    f = sandbox_factory(box)
    yield f
    f.close()


def _source(factory: ClientFactory, world: World, point: tuple[str, str]) -> tuple[Vault, Any]:
    inventory = AzureInventory(factory)
    vault = inventory.get_vault(ResourceId.parse(world.vault))
    instance = next(
        bi for bi in inventory.list_backup_instances(vault.id) if bi.id.same_as(point[0])
    )
    assert instance.backup_kind == "v2"
    return vault, instance


def _open(
    qtbot: Any, add_self_deleting: Any, factory: ClientFactory, tasks: TaskManager, world: World,
    point: tuple[str, str], started: list[ServerRestorePlan],
) -> ServerRestoreWizard:  # fmt: skip
    vault, instance = _source(factory, world, point)

    def start(plan: ServerRestorePlan) -> str:
        started.append(plan)
        return "job-1"

    wizard = open_server_restore_wizard(
        None,
        vault=vault,
        instance=instance,
        source=None,
        recovery_point=None,
        services=ServerRestoreServices(
            AzureInventory(factory), SdkServerRestoreArm(factory), tasks
        ),
        start_restore=start,
    )
    add_self_deleting(wizard)
    return wizard


def _pick_target(qtbot: Any, wizard: ServerRestoreWizard, server_id: str) -> dict[str, str]:
    page = wizard.target_page
    qtbot.waitUntil(lambda: page.targets.findData(server_id) > 0, timeout=30_000)
    page.targets.setCurrentIndex(page.targets.findData(server_id))
    qtbot.waitUntil(lambda: wizard.flow.checks is not None, timeout=30_000)
    assert not wizard.flow.checks_error
    return {c.key: c.status.value for c in wizard.flow.checks or ()}


def test_the_wizard_checks_each_rule_and_its_plan_restores_onto_the_empty_target(
    qtbot: Any,
    add_self_deleting: Any,
    factory: ClientFactory,
    tasks: TaskManager,
    box: Sandbox,
    world: World,
    point: tuple[str, str],
    tmp_path: Path,
) -> None:
    started: list[ServerRestorePlan] = []
    wizard = _open(qtbot, add_self_deleting, factory, tasks, world, point, started)
    page = wizard.point_page
    qtbot.waitUntil(lambda: page.points.count() == 1, timeout=30_000)
    # A v2 instance's point says nothing of its kind (UNCONFIRMED): offered, with a warning.
    assert "unknown" in page.points.item(0).text()
    assert "Azure's validation decides" in page.general.text()
    assert page.isComplete()
    wizard.next()
    assert wizard.currentPage() is wizard.target_page
    target_page = wizard.target_page
    qtbot.waitUntil(lambda: wizard.flow.targets is not None, timeout=30_000)
    offered = {c.server.name for c in wizard.flow.targets or ()}
    assert world.source.rsplit("/", 1)[-1] not in offered  # never onto itself
    assert {"pg-v2-tgt", "pg-v2-full", "pg-v2-v16", "pg-v2-burst"} <= offered
    assert "PostgreSQL 15" in target_page.needs.text()  # what a target must be, in words

    # Not empty: refused, with what it holds; the same words the job would stop with.
    checks = _pick_target(qtbot, wizard, world.full)
    assert checks["empty"] == "fail"
    assert not target_page.isComplete()
    assert "mine" in target_page.general.text()
    assert not target_page.grant.isVisible()  # the role is not all that stands in the way

    # Another major version: refused.
    checks = _pick_target(qtbot, wizard, world.v16)
    assert checks["version"] == "fail"
    assert not target_page.isComplete()

    # The empty target lacks only the vault's role: the job may assign it (ticked by default).
    checks = _pick_target(qtbot, wizard, world.target)
    assert checks["role"] == "fail"
    assert [k for k, v in checks.items() if v == "fail"] == ["role"]
    assert target_page.grant.isVisible()
    assert target_page.grant.isChecked()
    assert target_page.isComplete()
    target_page.grant.setChecked(False)
    assert not target_page.isComplete()  # unticked: the missing role blocks
    assert "Tick" in target_page.role_issues.text()
    target_page.grant.setChecked(True)
    table = target_page.checks.text()
    for title in ("Target server exists", "Target is empty", "Not Burstable", "Same region"):
        assert title in table
    assert "✖ fails" in table  # the role, until the job assigns it
    wizard.next()
    assert wizard.currentPage() is wizard.summary_page
    assert "First assign" in wizard.summary_page.lines.text()
    wizard.button(QWizard.WizardButton.FinishButton).click()
    assert wizard.job_id == "job-1"
    assert len(started) == 1
    plan = started[0]
    assert plan.grant_role
    assert plan.recovery_point_id == point[1]
    assert ResourceId.parse(plan.target_server_id).same_as(world.target)

    # The plan runs as the GUI's restore job: the role is assigned, the physical copy lands,
    # the report is written beside the journal, and a restart would resume the same plan.
    store = JournalStore(tmp_path / "journal")
    journal = store.create(kind="restore", title="w", job_id="w")
    job = restore_job(Composition(), factory, None, plan)
    assert job.title == "Restore as server into pg-v2-tgt"
    summary = job.run(JobContext(token=CancelToken(), journal=journal))
    assert summary.outcome.ok
    assert [d.name for d in summary.databases] == ["v2data"]
    assert Path(summary.report_html).is_file()
    resumed: list[tuple[Any, str]] = []
    resume_interrupted_restores(
        Composition(journals=store, runner=object()),
        lambda again, job_id: resumed.append((again, job_id)),
    )
    assert resumed == [(plan, "w")]  # the journal was never marked finished (no runner here)
    copied = box.dataplane.psql(  # type: ignore[attr-defined]
        box.world.server_key(world.target), "SELECT count(*) FROM t;", db="v2data"
    )
    assert "1234" in str(copied)


def test_the_files_wizard_hands_a_v2_point_to_the_server_wizard(
    qtbot: Any,
    add_self_deleting: Any,
    factory: ClientFactory,
    tasks: TaskManager,
    world: World,
    point: tuple[str, str],
    tmp_path: Path,
) -> None:
    vault, instance = _source(factory, world, point)
    handed: list[RestoreSource] = []
    wizard = open_restore_wizard(
        None,
        source=RestoreSource(vault, instance),
        inventory=AzureInventory(factory),
        storage=None,
        start_restore=lambda _plan: "never",
        tasks=tasks,
        download_dir=str(tmp_path / "dl"),
        restore_as_server=handed.append,
    )
    add_self_deleting(wizard)
    page = wizard.source_page
    qtbot.waitUntil(lambda: page.points.count() == 1, timeout=30_000)
    page.points.setCurrentRow(0)
    qtbot.waitUntil(lambda: wizard.flow.draft.recovery_point is not None)
    rp = wizard.flow.draft.recovery_point
    assert rp is not None
    assert page.calendar.day_kind(rp.time.astimezone().date()) == "unknown"  # marked by kind
    # Its kind is unknown (UNCONFIRMED): a warning, and the way to restore it as a server.
    assert "v1 (logical) or v2 (physical)" in page.issue_list.text()
    assert page.as_server.isVisible()
    page.as_server.click()
    assert len(handed) == 1
    assert handed[0].recovery_point is not None
    assert handed[0].recovery_point.recovery_point_id == point[1]
    assert handed[0].instance == instance


def test_restore_on_a_v2_instance_opens_the_server_wizard(
    qtbot: Any,
    factory: ClientFactory,
    tasks: TaskManager,
    world: World,
    point: tuple[str, str],
) -> None:
    vault, instance = _source(factory, world, point)
    assert isinstance(instance, BackupInstance)
    vault_node = ResourceNode(NodeKind.VAULT, vault, vault.name)
    node = ResourceNode(NodeKind.BACKUP_INSTANCE, instance, instance.name, parent=vault_node)
    services = WorkflowServices(
        inventory=AzureInventory(factory),
        protection=None,
        restore=None,
        storage=None,
        start_restore=lambda _plan, job_id=None: "job",
        server_restore=SdkServerRestoreArm(factory),
    )
    actions = WorkflowActions(
        services=lambda: services, runner=object(), tasks=tasks, parent=lambda: None
    )
    try:
        actions.restore(node)
        opened = [w for w in actions._open if isinstance(w, ServerRestoreWizard)]
        assert len(opened) == 1
        assert opened[0].flow.instance == instance
        qtbot.waitUntil(lambda: opened[0].flow.points is not None, timeout=30_000)
        assert opened[0].flow.can_advance(ServerStep.POINT)
    finally:
        actions.close()
