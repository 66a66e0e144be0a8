"""The tree follows what the app did (#14.9), against a sandbox ARM of this module's own.

After protect, stop protection, resume or a restore, the rows showing the resources the job
changed refresh themselves; F5 refreshes the current node and its children. Both keep what
was expanded and selected. Real SDKs, real jobs on a real runner; the sandbox is private to
the module because the tests change protection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from PySide6.QtCore import QSettings, Qt

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.protection import ProtectionService
from pgflex_gui.backends import restore_job
from pgflex_gui.domain.cloud import resolve_cloud
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.policy import PolicyDraft
from pgflex_gui.domain.preflight import GrantScope
from pgflex_gui.domain.schedule import WeeklySchedule
from pgflex_gui.jobs.manage import ResumeProtectionJob, StopMode, StopProtectionJob
from pgflex_gui.jobs.protect import (
    ProtectionPlan,
    ProtectJob,
    RetryPolicy,
    ServerTarget,
    ServicePort,
)
from pgflex_gui.jobs.restore_plan_file import ContainerSpec, RestorePlanFile, TargetSpec
from pgflex_gui.jobs.runner import JobRunner
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import NullDataPlane, Sandbox
from pgflex_gui.ui.main_window import MainWindow
from pgflex_gui.ui.panels.jobs import RunnerBridge
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.tree.follow import touched_resources
from pgflex_gui.ui.tree.model import Column
from pgflex_gui.ui.tree.nodes import Loaded, NodeKind, ResourceNode
from pgflex_gui.ui.workflows import bridge_runner
from tests.sandbox_fixtures import sandbox_credential

pytestmark = pytest.mark.sandbox

TIMEOUT_MS = 60_000
FAST = RetryPolicy(initial_s=0.2, max_s=0.5, total_s=30, follow_interval_s=0.2)
SRC_BI = f"{IDS.SOURCE}-bi"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = Sandbox.start(
        Path(tmp_path_factory.mktemp("follow")),
        seed="minimal",
        dataplane=NullDataPlane(),
        page_size=2,
        retry_after=0,
    )
    yield sb
    sb.stop()


@pytest.fixture
def factory(box: Sandbox) -> Iterator[ClientFactory]:
    info = box.info
    cloud = resolve_cloud(
        "AzureCloud",
        arm_endpoint=info.arm_endpoint,
        authority_host=info.authority,
        ca_bundle=info.ca_bundle,
        env={},
    )
    creds: dict[str, Any] = {}

    def for_tenant(tenant_id: str) -> Any:
        if tenant_id.lower() not in creds:
            creds[tenant_id.lower()] = sandbox_credential(box, tenant_id)
        return creds[tenant_id.lower()]

    f = ClientFactory(cloud, for_tenant(IDS.TENANT))
    f.for_tenant = for_tenant  # type: ignore[attr-defined]
    yield f
    f.close()


@pytest.fixture
def runner() -> Iterator[JobRunner]:
    r = JobRunner(lanes={"arm-write": 1})
    yield r
    r.shutdown()


@pytest.fixture
def window(
    qtbot: Any,
    factory: ClientFactory,
    tasks: TaskManager,
    runner: JobRunner,
    qsettings: QSettings,
) -> Iterator[MainWindow]:
    inventory = AzureInventory(factory, credential_for_tenant=factory.for_tenant)  # type: ignore[attr-defined]
    bridge = RunnerBridge()
    unsubscribe = bridge_runner(runner, bridge)

    def job_resources(job_id: str) -> list[str]:
        handle = runner.get(job_id)
        return touched_resources(getattr(handle, "job", None))

    w = MainWindow(
        inventory=inventory,
        tasks=tasks,
        settings=qsettings,
        runner_bridge=bridge,
        job_resources=job_resources,
        now=lambda: datetime.now(UTC),
    )
    qtbot.addWidget(w)
    w.show()
    w.start()
    yield w
    unsubscribe()
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=TIMEOUT_MS)


def find(w: MainWindow, kind: NodeKind, name: str) -> ResourceNode | None:
    return next((n for n in w.model.root.walk() if n.kind is kind and n.label == name), None)


def wait_for(qtbot: Any, w: MainWindow, kind: NodeKind, name: str) -> ResourceNode:
    qtbot.waitUntil(lambda: find(w, kind, name) is not None, timeout=TIMEOUT_MS)
    node = find(w, kind, name)
    assert node is not None
    return node


def group_of(w: MainWindow, parent: ResourceNode, kind: NodeKind) -> ResourceNode:
    found = next((c for c in parent.children if c.kind is kind), None)
    return found if found is not None else ResourceNode(kind)  # an empty stand-in while loading


def expand(qtbot: Any, w: MainWindow, node: ResourceNode) -> None:
    w.tree.expand(w.proxy.mapFromSource(w.model.index_of(node)))
    qtbot.waitUntil(lambda: isinstance(node.load_state, Loaded), timeout=TIMEOUT_MS)


def expanded(w: MainWindow, node: ResourceNode) -> bool:
    return bool(w.tree.isExpanded(w.proxy.mapFromSource(w.model.index_of(node))))


def select(w: MainWindow, node: ResourceNode) -> None:
    w.tree.setCurrentIndex(w.proxy.mapFromSource(w.model.index_of(node)))


def status(w: MainWindow, node: ResourceNode) -> str:
    return str(w.model.index_of(node, Column.STATUS).data(Qt.ItemDataRole.DisplayRole))


def server(w: MainWindow, name: str) -> ResourceNode | None:
    return find(w, NodeKind.SERVER, name)


def vault_node(qtbot: Any, w: MainWindow, name: str) -> ResourceNode:
    """Expand the subscription's Backup vaults group; return the vault's node."""
    wait_for(qtbot, w, NodeKind.SERVER, IDS.SOURCE)
    group = next(
        n
        for n in w.model.root.walk()
        if n.kind is NodeKind.VAULTS_GROUP and n.ref.subscription_id == IDS.SUB  # type: ignore[attr-defined]
    )
    expand(qtbot, w, group)
    return wait_for(qtbot, w, NodeKind.VAULT, name)


def open_instance(qtbot: Any, w: MainWindow, vault_name: str, label: str) -> ResourceNode:
    """Expand vault → Backup instances → the instance; return the instance node."""
    vault = vault_node(qtbot, w, vault_name)
    expand(qtbot, w, vault)
    instances = group_of(w, vault, NodeKind.INSTANCES_GROUP)
    expand(qtbot, w, instances)
    node = next(c for c in instances.children if c.label == label)
    expand(qtbot, w, node)
    return node


def settled(w: MainWindow, tasks: TaskManager) -> Callable[[], bool]:
    return lambda: tasks.pending == 0 and not w.keeper.pending


def test_stop_and_resume_refresh_the_server_and_instance_keeping_expansion_and_selection(
    qtbot: Any, window: MainWindow, tasks: TaskManager, runner: JobRunner, factory: ClientFactory
) -> None:
    w = window
    qtbot.waitUntil(
        lambda: (s := server(w, IDS.SOURCE)) is not None and status(w, s).startswith("Protected"),
        timeout=TIMEOUT_MS,
    )
    instance = open_instance(qtbot, w, IDS.VAULT_GRS, IDS.SOURCE)
    assert instance.children, "recovery points listed"
    point = instance.children[0]
    select(w, point)
    service = ProtectionService(factory)
    instance_id = ResourceId.parse(IDS.vault_id(IDS.VAULT_GRS)).child("backupInstances", SRC_BI)

    with qtbot.waitSignal(w.model.protection_changed, timeout=TIMEOUT_MS):
        runner.submit(
            StopProtectionJob(service, instance_id, mode=StopMode.RETAIN_DATA), "arm-write"
        )
    qtbot.waitUntil(
        lambda: status(w, server(w, IDS.SOURCE)) == f"Suspended ({IDS.VAULT_GRS})",  # type: ignore[arg-type]
        timeout=TIMEOUT_MS,
    )
    qtbot.waitUntil(settled(w, tasks), timeout=TIMEOUT_MS)
    again = find(w, NodeKind.BACKUP_INSTANCE, IDS.SOURCE)
    assert again is not None
    assert again is not instance  # the rows were listed again …
    assert status(w, again) == "Suspended · v1 (logical)"
    assert expanded(w, again)  # … and what was open is open again
    assert expanded(w, again.parent)  # type: ignore[arg-type]
    current = w.tree.current_node()
    assert current is not None
    assert current.key == point.key  # the same recovery point is selected
    assert current is not point

    with qtbot.waitSignal(w.model.protection_changed, timeout=TIMEOUT_MS):
        runner.submit(ResumeProtectionJob(service, instance_id), "arm-write")
    qtbot.waitUntil(
        lambda: status(w, server(w, IDS.SOURCE)).startswith("Protected"),  # type: ignore[arg-type]
        timeout=TIMEOUT_MS,
    )
    qtbot.waitUntil(settled(w, tasks), timeout=TIMEOUT_MS)
    resumed = find(w, NodeKind.BACKUP_INSTANCE, IDS.SOURCE)
    assert resumed is not None
    assert status(w, resumed) == "Protected · v1 (logical)"
    assert w.tree.current_node() is not None
    assert w.tree.current_node().key == point.key  # type: ignore[union-attr]


def test_protect_shows_the_server_protected_and_the_new_instance(
    qtbot: Any, window: MainWindow, tasks: TaskManager, runner: JobRunner, factory: ClientFactory
) -> None:
    w = window
    name = "pg-unprotected-weu"
    qtbot.waitUntil(
        lambda: (s := server(w, name)) is not None and status(w, s) == "Not protected",
        timeout=TIMEOUT_MS,
    )
    vault = vault_node(qtbot, w, IDS.VAULT_LRS)
    expand(qtbot, w, vault)
    instances = group_of(w, vault, NodeKind.INSTANCES_GROUP)
    expand(qtbot, w, instances)
    before = {c.label for c in instances.children}
    assert name not in before
    select(w, server(w, name))  # type: ignore[arg-type]

    inventory = AzureInventory(factory)
    vault_id = ResourceId.parse(IDS.vault_id(IDS.VAULT_LRS))
    draft = PolicyDraft(name="pgflex-follow", schedule=WeeklySchedule(6, time(2, 0), "UTC"))
    plan = ProtectionPlan(
        vault_id=vault_id,
        policy_id=vault_id.child("backupPolicies", draft.name),
        targets=(ServerTarget.new(inventory.get_server(ResourceId.parse(IDS.server_id(name)))),),
        vault=inventory.get_vault(vault_id),
        policy_draft=draft,
        grant=GrantScope.RESOURCE,
        reference_date=date.today(),
    )
    service = ServicePort(ProtectionService(factory), inventory)
    runner.submit(ProtectJob(plan, service, retry=FAST), "arm-write")
    qtbot.waitUntil(
        lambda: (
            # protected by that vault; amber "No backup yet" until its first recovery point
            status(w, server(w, name)) == f"No backup yet ({IDS.VAULT_LRS})"  # type: ignore[arg-type]
        ),  # type: ignore[arg-type]
        timeout=TIMEOUT_MS,
    )
    qtbot.waitUntil(settled(w, tasks), timeout=TIMEOUT_MS)
    vault_now = find(w, NodeKind.VAULT, IDS.VAULT_LRS)
    assert vault_now is not None
    group = group_of(w, vault_now, NodeKind.INSTANCES_GROUP)
    assert expanded(w, group)
    assert name in {c.label for c in group.children}
    current = w.tree.current_node()
    assert current is not None
    assert current.label == name  # the server stayed selected


def test_f5_refreshes_the_current_node_and_its_children_keeping_expansion(
    qtbot: Any, window: MainWindow, tasks: TaskManager, box: Sandbox
) -> None:
    w = window
    instance = open_instance(qtbot, w, IDS.VAULT_GRS, IDS.SOURCE)
    vault = find(w, NodeKind.VAULT, IDS.VAULT_GRS)
    assert vault is not None
    policies = group_of(w, vault, NodeKind.POLICIES_GROUP)
    expand(qtbot, w, policies)
    assert "weekly-f5" not in {c.label for c in policies.children}
    select(w, vault)
    box.world.add_policy(IDS.vault_id(IDS.VAULT_GRS), "weekly-f5", retention="P7D")

    w.refresh_action.trigger()  # F5
    qtbot.waitUntil(
        lambda: (
            (v := find(w, NodeKind.VAULT, IDS.VAULT_GRS)) is not None
            and "weekly-f5" in {c.label for c in group_of(w, v, NodeKind.POLICIES_GROUP).children}
        ),
        timeout=TIMEOUT_MS,
    )
    qtbot.waitUntil(settled(w, tasks), timeout=TIMEOUT_MS)
    vault_now = find(w, NodeKind.VAULT, IDS.VAULT_GRS)
    assert vault_now is vault  # the node itself stays; its children were listed again
    assert expanded(w, vault_now)
    assert expanded(w, group_of(w, vault_now, NodeKind.POLICIES_GROUP))
    again = find(w, NodeKind.BACKUP_INSTANCE, IDS.SOURCE)
    assert again is not None
    assert again is not instance
    assert expanded(w, again)
    assert again.children  # its recovery points were listed again
    assert w.tree.current_node() is vault


def test_a_restore_into_a_new_server_shows_it_in_its_subscription(
    qtbot: Any, window: MainWindow, tasks: TaskManager, box: Sandbox
) -> None:
    w = window
    wait_for(qtbot, w, NodeKind.SERVER, IDS.SOURCE)
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=TIMEOUT_MS)
    new_id = box.world.add_server(
        IDS.SUB, IDS.RG_PG, "pg-restored-follow", location="westeurope", version="16"
    )
    # The GUI's restore job, as backends.restore_job builds it (the plan names the target).
    plan = RestorePlanFile(
        container=ContainerSpec(url="https://acct.blob.core.windows.net/c"),
        target=TargetSpec(mode="new", server_id=str(new_id), location="westeurope"),
    )
    job = restore_job(cast(Any, SimpleNamespace()), None, None, plan)
    assert touched_resources(job) == [str(new_id)]
    w.refresh_resources(touched_resources(job))
    node = wait_for(qtbot, w, NodeKind.SERVER, "pg-restored-follow")
    qtbot.waitUntil(lambda: status(w, node) == "Not protected", timeout=TIMEOUT_MS)
