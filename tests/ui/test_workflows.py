"""Manage actions from the tree: menu entries, dispatch, confirmation dialog, refresh after.

Also the database-credentials dialog and the wizard's "list databases" path. Offscreen, with
hand-written fakes and inline tasks; no sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import (
    BackupInstance,
    FlexServer,
    PolicyInfo,
    ProtectionState,
    Vault,
)
from pgflex_gui.domain.preflight import GrantScope
from pgflex_gui.jobs.manage import (
    ChangePolicyJob,
    DeleteInstanceJob,
    ManageResult,
    ResumeProtectionJob,
    StopMode,
    StopProtectionJob,
    delete_confirmation,
    stop_confirmation,
)
from pgflex_gui.jobs.runner import JobRunner
from pgflex_gui.postgres.psql import ConnParams
from pgflex_gui.ui.dialogs.confirm import ConfirmDialog
from pgflex_gui.ui.dialogs.db_credentials import DbCredentials, DbCredentialsDialog
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.tree.nodes import NodeKind, ProtectionStatus, ResourceNode, ServerProtection
from pgflex_gui.ui.tree.view import NodeAction, ResourceTreeView
from pgflex_gui.ui.wizards.policy.flow import Step
from pgflex_gui.ui.workflows import WorkflowActions, WorkflowServices
from tests.ui.test_policy_wizard import make_wizard, server
from tests.unit.test_manage_jobs import FakeManage

SUB = "aaaaaaaa-0000-0000-0000-000000000001"
VAULT_ID = ResourceId.build(SUB, "rg-bk", "Microsoft.DataProtection", "backupVaults", "bv1")
BI_ID = VAULT_ID.child("backupInstances", "pg1-bi")
SERVER_ID = ResourceId.build(SUB, "rg-db", "Microsoft.DBforPostgreSQL", "flexibleServers", "pg1")
SERVER = FlexServer(id=SERVER_ID, location="westeurope", version="16", state="Ready")


def bi_node(state: ProtectionState = ProtectionState.PROTECTION_CONFIGURED) -> ResourceNode:
    group = ResourceNode(NodeKind.INSTANCES_GROUP, label="Backup instances")
    bi = BackupInstance(
        id=BI_ID,
        datasource_id=SERVER_ID,
        policy_id=VAULT_ID.child("backupPolicies", "old"),
        protection_state=state,
        friendly_name="pg1",
    )
    return group.add(ResourceNode(NodeKind.BACKUP_INSTANCE, ref=bi, label="pg1-bi"))


def server_node(status: ProtectionStatus, instance_id: str = str(BI_ID)) -> ResourceNode:
    group = ResourceNode(NodeKind.SERVERS_GROUP, label="Servers")
    protection = ServerProtection(status=status, vault_name="bv1", instance_id=instance_id)
    return group.add(ResourceNode(NodeKind.SERVER, ref=SERVER, protection=protection))


class ManageInventory:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self.fail: AppError | None = None

    def get_vault(self, vault_id: ResourceId) -> Vault:
        if self.fail is not None:
            raise self.fail
        return self.vault

    def list_policies(self, vault_id: ResourceId) -> list[PolicyInfo]:
        return [
            PolicyInfo(id=vault_id.child("backupPolicies", "old")),
            PolicyInfo(id=vault_id.child("backupPolicies", "monthly")),
        ]


class FakeRunner:
    def __init__(self) -> None:
        self.jobs: list[Any] = []

    def submit(self, job: Any, lane: str) -> Any:
        self.jobs.append((job, lane))
        return type("Handle", (), {"id": f"job-{len(self.jobs)}"})()


def actions(
    tasks: TaskManager, runner: Any, inventory: ManageInventory, **kw: Any
) -> tuple[WorkflowActions, list[ResourceNode], list[AppError]]:
    services = WorkflowServices(
        inventory=inventory,
        protection=kw.pop("protection", FakeManage()),
        restore=None,
        storage=None,
        start_restore=lambda _p: "",
    )
    refreshed: list[ResourceNode] = []
    errors: list[AppError] = []
    wf = WorkflowActions(
        services=lambda: services,
        runner=runner,
        tasks=tasks,
        parent=lambda: None,
        refresh=refreshed.append,
        show_error=errors.append,
    )
    return wf, refreshed, errors


# -- menu and dispatch ------------------------------------------------------------------------


def test_menu_for_protected_and_stopped_nodes(qtbot: Any) -> None:
    view = ResourceTreeView()
    qtbot.addWidget(view)
    protected = [a for a, _t in view.actions_for(server_node(ProtectionStatus.PROTECTED))]
    assert NodeAction.CHANGE_POLICY in protected
    assert NodeAction.STOP_PROTECTION in protected
    assert NodeAction.DELETE_INSTANCE in protected
    assert NodeAction.RESUME_PROTECTION not in protected
    stopped = [a for a, _t in view.actions_for(bi_node(ProtectionState.PROTECTION_STOPPED))]
    assert NodeAction.RESUME_PROTECTION in stopped
    assert NodeAction.STOP_PROTECTION not in stopped
    bare = [a for a, _t in view.actions_for(server_node(ProtectionStatus.NOT_PROTECTED, ""))]
    assert NodeAction.DELETE_INSTANCE not in bare


def test_every_manage_action_has_a_handler(inline_tasks: TaskManager) -> None:
    wf, _r, _e = actions(inline_tasks, FakeRunner(), ManageInventory(Vault(VAULT_ID, "x")))
    handlers = wf.handlers()
    for action in (
        NodeAction.CHANGE_POLICY,
        NodeAction.STOP_PROTECTION,
        NodeAction.RESUME_PROTECTION,
        NodeAction.DELETE_INSTANCE,
    ):
        assert action.value in handlers


def test_stop_protection_asks_then_submits(inline_tasks: TaskManager) -> None:
    runner = FakeRunner()
    vault = Vault(VAULT_ID, "westeurope", soft_delete="On", soft_delete_days=14)
    wf, _r, _e = actions(inline_tasks, runner, ManageInventory(vault))
    asked: list[Any] = []

    def ask(_parent: Any, choices: list[Any]) -> str:
        asked.append(choices)
        return StopMode.DELETE_DATA.value

    wf.ask_stop = ask
    wf.stop_protection(server_node(ProtectionStatus.PROTECTED))
    keys = [k for k, _t, _c in asked[0]]
    assert keys == ["retain", "delete"]
    assert "14 days" in asked[0][1][2].irreversible
    job, lane = runner.jobs[0]
    assert isinstance(job, StopProtectionJob)
    assert job.mode is StopMode.DELETE_DATA
    assert lane == "arm-write"
    assert job.instance_id == BI_ID


def test_cancelled_confirmation_submits_nothing(inline_tasks: TaskManager) -> None:
    runner = FakeRunner()
    wf, _r, _e = actions(inline_tasks, runner, ManageInventory(Vault(VAULT_ID, "x")))
    wf.ask_stop = lambda _p, _c: None
    wf.ask_confirm = lambda _p, _c: False
    wf.stop_protection(bi_node())
    wf.delete_instance(bi_node())
    assert runner.jobs == []


def test_delete_and_resume_and_change_policy(inline_tasks: TaskManager) -> None:
    runner = FakeRunner()
    wf, _r, _e = actions(inline_tasks, runner, ManageInventory(Vault(VAULT_ID, "x")))
    shown: list[Any] = []
    wf.ask_confirm = lambda _p, c: shown.append(c) or True
    wf.delete_instance(bi_node())
    assert "pg1" in shown[0].text
    wf.resume_protection(bi_node(ProtectionState.PROTECTION_STOPPED))
    offered: list[list[str]] = []
    wf.ask_policy = lambda _p, names, _cur: offered.append(names) or "monthly"
    wf.change_policy(bi_node())
    assert offered == [["monthly"]], "the current policy is not offered"
    kinds = [type(j) for j, _l in runner.jobs]
    assert kinds == [DeleteInstanceJob, ResumeProtectionJob, ChangePolicyJob]
    assert runner.jobs[2][0].policy_id.name == "monthly"


def test_vault_read_failure_is_reported_not_raised(inline_tasks: TaskManager) -> None:
    inventory = ManageInventory(Vault(VAULT_ID, "x"))
    inventory.fail = AppError(Fault.NETWORK, "The network is down.")
    runner = FakeRunner()
    wf, _r, errors = actions(inline_tasks, runner, inventory)
    wf.delete_instance(bi_node())
    assert [e.summary for e in errors] == ["The network is down."]
    assert runner.jobs == []


def test_unprotected_server_is_a_user_error(inline_tasks: TaskManager) -> None:
    wf, _r, _e = actions(inline_tasks, FakeRunner(), ManageInventory(Vault(VAULT_ID, "x")))
    with pytest.raises(AppError, match="not protected"):
        wf.stop_protection(server_node(ProtectionStatus.NOT_PROTECTED, ""))


@pytest.fixture
def real_runner() -> Iterator[JobRunner]:
    r = JobRunner(lanes={"arm-write": 1})
    yield r
    r.shutdown()


def test_tree_node_refreshed_after_the_job(
    qtbot: Any, inline_tasks: TaskManager, real_runner: JobRunner
) -> None:
    wf, refreshed, _e = actions(
        inline_tasks, real_runner, ManageInventory(Vault(VAULT_ID, "x")), protection=FakeManage(1)
    )
    node = bi_node(ProtectionState.PROTECTION_STOPPED)
    assert wf._bridge is not None
    with qtbot.waitSignal(wf._bridge.finished, timeout=5000) as blocker:
        wf.resume_protection(node)
    assert isinstance(blocker.args[1], ManageResult)
    assert refreshed == [node.parent]


# -- confirmation dialog ----------------------------------------------------------------------


def test_confirm_dialog_defaults_to_cancel_and_switches_text(qtbot: Any) -> None:
    vault = Vault(VAULT_ID, "westeurope", soft_delete="Off")
    choices = [
        ("retain", "Retain data", stop_confirmation("pg1", vault, StopMode.RETAIN_DATA)),
        ("delete", "Delete data", stop_confirmation("pg1", vault, StopMode.DELETE_DATA)),
    ]
    dialog = ConfirmDialog(choices[0][2], choices=choices)
    qtbot.addWidget(dialog)
    cancel = dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel)
    assert cancel.isDefault()
    assert "bv1" in dialog.text.text()
    assert "Nothing is deleted" in dialog.irreversible.text()
    dialog.radios["delete"].setChecked(True)
    assert "never be recovered" in dialog.irreversible.text()
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    assert dialog.choice() == "delete"


def test_confirm_dialog_locked_vault_cannot_confirm(qtbot: Any) -> None:
    vault = Vault(VAULT_ID, "westeurope", immutability="Locked")
    dialog = ConfirmDialog(delete_confirmation("pg1", vault))
    qtbot.addWidget(dialog)
    assert not dialog.confirm_button.isEnabled()
    assert "immutable and locked" in dialog.irreversible.text()
    with qtbot.assertNotEmitted(dialog.accepted):
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)


# -- database credentials ---------------------------------------------------------------------


def test_db_credentials_dialog_prefills_and_needs_a_password(qtbot: Any) -> None:
    srv = FlexServer(
        id=SERVER_ID,
        location="westeurope",
        version="16",
        state="Ready",
        fqdn="127.0.0.1",
        administrator_login="pgadmin",
        tags=(("sandbox-port", "54321"),),
    )
    dialog = DbCredentialsDialog(srv, can_remember=False)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.host.text() == "127.0.0.1"
    assert dialog.port.value() == 54321
    assert dialog.user.text() == "pgadmin"
    assert not ok.isEnabled()
    assert not dialog.remember.isEnabled()
    assert dialog.credentials() is None
    qtbot.keyClicks(dialog.password, "s3cret")
    assert ok.isEnabled()
    creds = dialog.credentials()
    assert creds is not None
    assert creds.conn.port == 54321
    assert creds.password == "s3cret"
    assert "s3cret" not in repr(creds)


def test_wizard_lists_databases_and_remembers_only_when_asked(
    qtbot: Any, inline_tasks: TaskManager, real_runner: JobRunner
) -> None:
    srv = server()
    wizard, _fake = make_wizard(qtbot, inline_tasks, real_runner, [srv])
    stored: list[tuple[str, str]] = []
    listed: list[Any] = []

    class Keys:
        def set(self, key: str, value: str) -> None:
            stored.append((key, value))

    def lister(conn: Any, *, password: str) -> list[tuple[str, str]]:
        listed.append((conn, password))
        return [("postgres", "azure_pg_admin"), ("azure_owned_db", "azure_pg_admin"), ("app", "a")]

    wizard._services = type(wizard._services)(
        wizard._services.inventory,
        wizard._services.protection,
        wizard._services.retry,
        keystore=Keys(),
        list_databases=lister,
    )
    creds = DbCredentials(conn=_conn(), password="pw", remember=False)
    wizard.ask_credentials = lambda _s, given: given(creds)
    wizard.preflight_page.list_databases.click()
    assert listed[0][1] == "pw"
    assert stored == []
    text = " ".join(i.message for i in wizard.flow.issues(Step.PREFLIGHT))
    assert "azure_owned_db" in text
    wizard.ask_credentials = lambda _s, given: given(
        DbCredentials(creds.conn, "pw2", remember=True)
    )
    wizard.preflight_page.list_databases.click()
    assert stored[0][1] == "pw2"


def _conn() -> ConnParams:
    return ConnParams("db.example", 5432, "pgadmin", "postgres", "require")


def test_grant_not_offered_without_the_right(
    qtbot: Any, inline_tasks: TaskManager, real_runner: JobRunner
) -> None:
    srv = server()
    wizard, _fake = make_wizard(qtbot, inline_tasks, real_runner, [srv])
    wizard.flow.set_caller_rights(dict.fromkeys(GrantScope, False))
    page = wizard.permissions_page
    page.refresh()
    assert not page.grant.isEnabled()
    assert "can't assign roles" in page.grant.toolTip()
    wizard.flow.set_grant(GrantScope.RESOURCE)
    messages = [i.message for i in wizard.flow.issues(Step.PERMISSIONS)]
    assert any("Owner, User Access Administrator" in m for m in messages)
