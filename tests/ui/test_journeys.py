"""The restore journeys a DBA takes, clicked through the real GUI against the full sandbox.

Each test builds the app as ``app.py`` does (real SDK clients, AzureInventory, services,
runner, MainWindow), finds its way in the resource tree, opens the restore wizard from the
Tools menu, clicks through every page and commits; the real engine then runs the Azure Backup
restore-as-files, the verified download, the new server and pg_restore. Each test ends with
what the user sees: the job row, the details dialog, and the data in the new server.

Journeys: from a server node, from a recovery point node, from Tools > Restore… with nothing
selected (files in a container, files in a folder), a failed restore (an expired pasted SAS)
and a cancelled one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit, QMenu, QWidget, QWizard

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.storage import StorageService
from pgflex_gui.backends import build_services
from pgflex_gui.composition import Composition
from pgflex_gui.domain.cloud import resolve_cloud
from pgflex_gui.domain.models import RecoveryPoint
from pgflex_gui.domain.restore_plan import build_restore_request
from pgflex_gui.domain.restore_progress import CreatedKind
from pgflex_gui.jobs.journal import JournalStore
from pgflex_gui.jobs.restore_adapters import SdkRestoreArm
from pgflex_gui.jobs.restore_plan_file import (
    ContainerSpec,
    RestorePlanFile,
    SourceSpec,
    TargetSpec,
)
from pgflex_gui.jobs.runner import JobRunner
from pgflex_gui.keystore import MemoryKeystore
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.pgdata import SEED_DATABASES
from pgflex_gui.ui.main_window import MainWindow
from pgflex_gui.ui.panels.jobs import JobsModel, RunnerBridge
from pgflex_gui.ui.tasks import TaskManager
from pgflex_gui.ui.tree.follow import touched_resources
from pgflex_gui.ui.tree.nodes import Loaded, NodeKind, ProtectionStatus, ResourceNode
from pgflex_gui.ui.wizards.restore.flow import Step
from pgflex_gui.ui.wizards.restore.wizard import RestoreWizard
from pgflex_gui.ui.workflows import WorkflowActions
from tests.e2e.test_restore_e2e import BI_ID, _target_counts
from tests.sandbox_fixtures import sandbox_credential

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]

EXPIRED_SAS = "sv=2020-10-02&sr=c&sp=rl&se=2020-01-01T00:00:00Z&sig=AAAA"
FILES_CONTAINER = "journey-files"
FILES_PREFIX = "journey"
LOAD_MS = 90_000
RESTORE_MS = 600_000


class Keystores:
    def __init__(self, store: MemoryKeystore) -> None:
        self.store = store

    def get(self) -> MemoryKeystore:
        return self.store


@dataclass
class App:
    """The app as the user has it: window, runner and what the jobs write."""

    window: MainWindow
    runner: JobRunner
    bridge: RunnerBridge
    journals: Path
    qtbot: Any
    keystore: MemoryKeystore

    # -- the tree --------------------------------------------------------------------------
    def reveal(self, *path: tuple[NodeKind, str]) -> ResourceNode:
        """Expand the tree along ``path`` (kind, label) like a user does; return the last node."""
        model, tree, proxy = self.window.model, self.window.tree, self.window.proxy
        node = model.root
        for kind, label in path:
            if node is not model.root:
                tree.expand(proxy.mapFromSource(model.index_of(node)))
            parent = node

            def child(parent: ResourceNode = parent, kind: NodeKind = kind,
                      label: str = label) -> ResourceNode | None:  # fmt: skip
                return next(
                    (c for c in parent.children if c.kind is kind and c.label == label), None
                )

            self.qtbot.waitUntil(lambda child=child: child() is not None, timeout=LOAD_MS)
            found = child()
            assert found is not None
            node = found
        return node

    def click_node(self, node: ResourceNode) -> None:
        tree, index = (
            self.window.tree,
            self.window.proxy.mapFromSource(self.window.model.index_of(node)),
        )
        tree.scrollTo(index)
        rect = tree.visualRect(index)
        self.qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        assert tree.current_node() is node

    def clear_selection(self) -> None:
        self.window.tree.setCurrentIndex(QModelIndex())
        assert self.window.tree.current_node() is None

    # -- menus and the wizard --------------------------------------------------------------
    def tools_restore(self) -> RestoreWizard:
        """Tools > Restore…; returns the wizard that opened."""
        before = set(map(id, self.window.findChildren(RestoreWizard)))
        menu = next(a.menu() for a in self.window.menuBar().actions() if a.text() == "&Tools")
        assert isinstance(menu, QMenu)
        action = next(a for a in menu.actions() if a.text() == "Restore…")
        assert isinstance(action, QAction)
        action.trigger()
        wizards = [w for w in self.window.findChildren(RestoreWizard) if id(w) not in before]
        assert len(wizards) == 1
        wizard = wizards[0]
        self.qtbot.waitUntil(wizard.isVisible)
        return wizard

    def next(self, wizard: QWizard, expected: Step) -> None:
        page = wizard.currentPage()
        self.qtbot.waitUntil(page.isComplete, timeout=LOAD_MS)
        self.qtbot.mouseClick(
            wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton
        )
        assert wizard.currentId() == int(expected)

    def commit(self, wizard: RestoreWizard) -> str:
        """Press Restore on the summary; returns the job id."""
        self.qtbot.waitUntil(wizard.currentPage().isComplete, timeout=LOAD_MS)
        with self.qtbot.waitSignal(wizard.committed, timeout=LOAD_MS) as committed:
            self.qtbot.mouseClick(
                wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton
            )
        job_id = str(committed.args[0])
        self.qtbot.waitUntil(lambda: not _alive(wizard), timeout=10_000)
        return job_id

    def wait_finished(
        self, job_id: str, start: Callable[[], object] | None = None
    ) -> tuple[Any, ...]:
        """Wait for ``job_id`` to end; returns the bridge's (job id, result, error, cancelled)."""
        with self.qtbot.waitSignal(
            self.bridge.finished, timeout=RESTORE_MS, check_params_cb=lambda *a: a[0] == job_id
        ) as done:
            if start is not None:
                start()
        return tuple(done.args)

    # -- what the user sees ---------------------------------------------------------------
    def row(self, job_id: str) -> Any:
        model: JobsModel = self.window.jobs.model
        self.qtbot.waitUntil(lambda: model.row_of(job_id) >= 0, timeout=10_000)
        return model.rows()[model.row_of(job_id)]

    def click_row_button(self, job_id: str) -> None:
        """The row's last cell: Cancel while it runs, Details… once it ended."""
        model: JobsModel = self.window.jobs.model
        view = self.window.jobs._local
        rect = view.visualRect(model.index(model.row_of(job_id), JobsModel.CANCEL_COLUMN))
        self.qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())

    def report(self, job_id: str) -> dict[str, Any]:
        path = self.journals / f"{job_id}-report" / "report.json"
        self.qtbot.waitUntil(path.exists, timeout=10_000)
        return dict(json.loads(path.read_text()))


def _alive(widget: QWidget) -> bool:
    import shiboken6

    return shiboken6.isValid(widget) and widget.isVisible()


def _type(qtbot: Any, edit: QLineEdit, text: str) -> None:
    """Select what is there and type over it, key by key."""
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(edit, text)
    assert edit.text() == text


def _choose(qtbot: Any, combo: QComboBox, starts: str) -> None:
    """Pick the entry whose text starts with ``starts`` once it is listed (as a user waits)."""

    def index() -> int:
        return next((i for i in range(combo.count()) if combo.itemText(i).startswith(starts)), -1)

    qtbot.waitUntil(lambda: index() >= 0, timeout=LOAD_MS)
    combo.setCurrentIndex(index())
    assert combo.currentText().startswith(starts)


@pytest.fixture
def app(qtbot: Any, qsettings: Any, tasks: TaskManager, sandbox: Any, tmp_path: Path) -> Iterator[App]:  # fmt: skip
    """The app against the full sandbox, built as app.py builds it (one window per test)."""
    info = sandbox.info
    cloud = resolve_cloud("Custom", arm_endpoint=info.arm_endpoint, authority_host=info.authority,
                          ca_bundle=info.ca_bundle, env={})  # fmt: skip
    creds: dict[str, Any] = {}

    def for_tenant(tenant_id: str) -> Any:
        if tenant_id.lower() not in creds:
            creds[tenant_id.lower()] = sandbox_credential(sandbox, tenant_id)
        return creds[tenant_id.lower()]

    credential = for_tenant(IDS.TENANT)
    factory = ClientFactory(cloud, credential)
    inventory = AzureInventory(factory, credential_for_tenant=for_tenant)
    journals = tmp_path / "journals"
    runner = JobRunner(journals=JournalStore(journals))
    keystore = MemoryKeystore()
    comp = Composition(runner=runner, keystore=Keystores(keystore))
    services = build_services(comp, factory, inventory, credential)
    bridge = RunnerBridge()
    unsubscribe = bridge.attach(runner)
    window: Any = None
    workflows = WorkflowActions(services=lambda: services, runner=runner, tasks=tasks,
                                parent=lambda: window)  # fmt: skip

    def job_title(job_id: str) -> str:
        handle = runner.get(job_id)
        return str(handle.job.title) if handle is not None else job_id

    def cancel_job(job_id: str) -> None:
        handle = runner.get(job_id)
        if handle is not None:
            handle.cancel()

    def job_resources(job_id: str) -> list[str]:
        handle = runner.get(job_id)
        return touched_resources(handle.job if handle is not None else None)

    window = MainWindow(inventory=inventory, tasks=tasks, settings=qsettings,
                        handlers=workflows.handlers(), runner_bridge=bridge,
                        job_titles=job_title, job_resources=job_resources,
                        cancel_job=cancel_job, read_secret=keystore.get)  # fmt: skip
    qtbot.addWidget(window)
    window.show()
    window.start()
    try:
        yield App(window, runner, bridge, journals, qtbot, keystore)
    finally:
        unsubscribe()
        workflows.close()
        window.close()
        runner.shutdown()
        factory.close()


def _source_counts(sandbox: Any) -> dict[str, dict[str, int]]:
    key = sandbox.world.server_key(IDS.server_id(IDS.SOURCE))
    return {db: dict(sandbox.dataplane.table_counts(key, db)) for db in SEED_DATABASES}


def _assert_succeeded(app: App, sandbox: Any, job_id: str, server: str, done: tuple[Any, ...]) -> None:  # fmt: skip
    """What the user sees after a good restore, and what is in the new server."""
    assert done[2] is None, done[2].report()
    assert done[3] is False
    row = app.row(job_id)
    assert row.state == "Finished"
    assert row.message == f"Succeeded: {len(SEED_DATABASES)} databases restored and verified"
    assert row.title == f"Restore into {server}"
    assert app.report(job_id)["outcome"]["kind"] == "succeeded"
    source = _source_counts(sandbox)
    for db, counts in source.items():
        assert _target_counts(sandbox, server, db) == counts, db
    # The result view opens by itself: what was restored, per database.
    app.qtbot.waitUntil(lambda: app.window.jobs.result_dialog is not None, timeout=10_000)
    result = app.window.jobs.result_dialog
    assert result is not None
    assert result.job_id == job_id
    app.qtbot.waitUntil(result.isVisible)
    assert result.headline.text() == row.message
    shown = {name: (tables, rows) for name, tables, rows, _time, _owners in result.rows()}
    assert shown == {
        db: (str(len(counts)), f"{sum(counts.values()):,}".replace(",", " "))
        for db, counts in source.items()
    }

    # The new server is selected in the tree once it is listed.
    def selected() -> None:
        current = app.window.tree.current_node()
        listed = [n.label for n in app.window.model.servers()]
        assert current is not None, listed
        assert (current.kind, current.label) == (NodeKind.SERVER, server), listed

    app.qtbot.waitUntil(selected, timeout=LOAD_MS)


def _pick_container(app: App, wizard: RestoreWizard) -> None:
    """The container page: the account in the vault's region, the seeded container."""
    page = wizard.container_page
    assert page.read_buttons[page.flow.draft.read_access].isChecked()  # the default: Entra
    _choose(app.qtbot, page.accounts, IDS.STORAGE)
    _choose(app.qtbot, page.containers, IDS.CONTAINER)


def _fill_new_server(app: App, wizard: RestoreWizard, name: str, download: Path | None) -> None:
    page = wizard.server_page
    assert page.new_radio.isChecked()
    _type(app.qtbot, page.name, name)
    if download is not None:
        _type(app.qtbot, page.download, str(download))


# -- the journeys -------------------------------------------------------------------------------


def test_journey_restore_from_a_server_node(app: App, sandbox: Any, tmp_path: Path) -> None:
    server = "pg-journey-server-node"
    node = app.reveal((NodeKind.TENANT, "Contoso"), (NodeKind.SUBSCRIPTION, "Contoso Production"),
                      (NodeKind.SERVERS_GROUP, "Flexible servers"), (NodeKind.SERVER, IDS.SOURCE))  # fmt: skip
    app.qtbot.waitUntil(
        lambda: (
            node.protection is not None and node.protection.status is ProtectionStatus.PROTECTED
        ),
        timeout=LOAD_MS,
    )
    app.click_node(node)
    wizard = app.tools_restore()
    assert wizard.windowTitle() == f"Restore {IDS.SOURCE}"
    source = wizard.source_page
    app.qtbot.waitUntil(lambda: source.points.count() > 0, timeout=LOAD_MS)
    newest = source.points.item(0)
    rect = source.points.visualItemRect(newest)
    app.qtbot.mouseClick(source.points.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert wizard.flow.draft.recovery_point is not None
    app.next(wizard, Step.CONTAINER)
    _pick_container(app, wizard)
    app.next(wizard, Step.SERVER)
    page = wizard.server_page
    assert page.version.currentText() == "15"  # the source's major, not the list's first
    app.qtbot.waitUntil(lambda: page.subscription.currentText() == "Contoso Production")
    assert page.region.currentText() == "westeurope"
    _fill_new_server(app, wizard, server, tmp_path / "download")
    app.next(wizard, Step.SUMMARY)
    assert f"new: {server} (PostgreSQL 15" in wizard.summary_page.rows.text()
    seen: list[tuple[float | None, str]] = []
    model: JobsModel = app.window.jobs.model

    def on_progress(job: str, _progress: object) -> None:
        i = model.row_of(job)
        if i >= 0:
            row = model.rows()[i]
            seen.append((row.fraction, str(model.data(model.index(i, 3)))))

    app.bridge.progress.connect(on_progress)
    job_id = app.commit(wizard)
    # While it runs: the progress per database, on a click on the bar.
    app.qtbot.waitUntil(lambda: app.row(job_id).detail is not None, timeout=RESTORE_MS)
    view = app.window.jobs._local
    rect = view.visualRect(model.index(model.row_of(job_id), JobsModel.PROGRESS_COLUMN))
    app.qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialog = app.window.jobs.progress_dialog
    assert dialog is not None
    app.qtbot.waitUntil(dialog.isVisible)
    assert sorted(name for name, _stage, _done in dialog.rows()) == sorted(SEED_DATABASES)
    done = app.wait_finished(job_id)
    app.bridge.progress.disconnect(on_progress)
    assert all(stage == "Done" for _name, stage, _done in dialog.rows()), dialog.rows()
    # Per database, the exact pg_restore command line and its output; never a secret on it.
    dialog.table.selectRow(0)
    db = dialog.selected()
    command = dialog.command.text()
    assert "pg_restore" in command
    assert f" -d {db} " in command
    assert " -w " in command  # never prompts: the password goes through the environment
    secrets = [v for v in app.keystore.data.values() if v]
    assert secrets  # the new server's generated admin password
    assert not [v for v in secrets if v in command]
    assert "pg_restore:" in dialog.output.toPlainText()
    dialog.close()
    _assert_succeeded(app, sandbox, job_id, server, done)
    _use_the_result(app, sandbox, server, tmp_path)
    # One bar that never went backwards, and no "0 s left" while most of the work remained.
    fractions = [f for f, _eta in seen if f is not None]
    assert fractions
    assert fractions == sorted(fractions)
    early = [eta for f, eta in seen if f is not None and f < 0.5]
    assert not [eta for eta in early if eta in ("0 s left", "1 s left", "almost done")], early


def _use_the_result(app: App, sandbox: Any, server: str, tmp_path: Path) -> None:
    """The result view's actions: connection, password after a confirmation, report, psql."""
    result = app.window.jobs.result_dialog
    assert result is not None
    server_id = str(IDS.server_id(server))
    conninfo = result.conninfo.text()
    assert conninfo.startswith("host=127.0.0.1 port=")
    assert " user=pgadmin" in conninfo
    password = app.keystore.get(f"server-admin:{server_id.lower()}")
    assert password
    assert password not in conninfo
    # The generated password: hidden until the user confirms, then shown and copyable.
    assert result.password.text() == ""
    assert not result.copy_password.isEnabled()
    app.qtbot.mouseClick(result.reveal, Qt.MouseButton.LeftButton)
    box = result.confirm_box
    assert box is not None
    app.qtbot.waitUntil(box.isVisible)
    assert box.text() == f"Show the admin password of {server}?"
    show = next(b for b in box.buttons() if b.text() == "Show password")
    app.qtbot.mouseClick(show, Qt.MouseButton.LeftButton)
    app.qtbot.waitUntil(lambda: result.password.text() == password, timeout=10_000)
    assert result.password.echoMode() is QLineEdit.EchoMode.Normal
    app.qtbot.mouseClick(result.copy_password, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == password
    assert result.clipboard_timer.isActive()
    # The report: exported as HTML with its JSON beside it.
    exported = result.export_to(tmp_path / "exported")
    assert exported == tmp_path / "exported.html"
    assert 'data-outcome="succeeded"' in exported.read_text()
    assert json.loads((tmp_path / "exported.json").read_text())["outcome"]["kind"] == "succeeded"
    assert password not in exported.read_text()
    # psql in a terminal (the user's TERMINAL): it connects with the password from the
    # environment, never from its command line.
    out = tmp_path / "psql.out"
    terminal = tmp_path / "terminal"
    terminal.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{out}.args"\n'
        "shift\n"
        f'"$@" -X -A -t -w -c "select current_user, count(*) from pg_database" > "{out}.tmp" 2>&1\n'
        f'mv "{out}.tmp" "{out}"\n'
    )
    terminal.chmod(0o755)
    os.environ["TERMINAL"] = str(terminal)
    try:
        app.qtbot.mouseClick(result.open_psql, Qt.MouseButton.LeftButton)
        app.qtbot.waitUntil(out.exists, timeout=30_000)
    finally:
        del os.environ["TERMINAL"]
    assert out.read_text().startswith("pgadmin|"), out.read_text()
    args = Path(f"{out}.args").read_text()
    assert password not in args
    assert conninfo in args.splitlines()
    # Closing the view takes the password off the clipboard again.
    result.close()
    assert QApplication.clipboard().text() != password


def test_journey_restore_from_a_recovery_point_node(app: App, sandbox: Any, tmp_path: Path) -> None:  # fmt: skip
    server = "pg-journey-point-node"
    instance = app.reveal((NodeKind.TENANT, "Contoso"), (NodeKind.SUBSCRIPTION, "Contoso Production"),
                          (NodeKind.VAULTS_GROUP, "Backup vaults"), (NodeKind.VAULT, IDS.VAULT_GRS),
                          (NodeKind.INSTANCES_GROUP, "Backup instances"),
                          (NodeKind.BACKUP_INSTANCE, IDS.SOURCE))  # fmt: skip
    app.window.tree.expand(app.window.proxy.mapFromSource(app.window.model.index_of(instance)))
    app.qtbot.waitUntil(lambda: isinstance(instance.load_state, Loaded), timeout=LOAD_MS)
    points = [c for c in instance.children if c.kind is NodeKind.RECOVERY_POINT]
    assert points
    assert len(points) > 1
    point = points[1]  # an older one (the same data): the wizard must not just take the first
    app.click_node(point)
    wizard = app.tools_restore()
    source = wizard.source_page
    assert "no backup selected" not in wizard.windowTitle()
    app.qtbot.waitUntil(lambda: source.points.currentItem() is not None, timeout=LOAD_MS)
    chosen = wizard.flow.draft.recovery_point
    assert chosen is not None
    assert isinstance(point.ref, RecoveryPoint)
    assert chosen.recovery_point_id == point.ref.recovery_point_id
    assert source.points.currentItem().data(Qt.ItemDataRole.UserRole) == chosen.recovery_point_id
    assert source.points.currentRow() == 1
    assert source.isComplete()  # nothing to click on this page
    app.next(wizard, Step.CONTAINER)
    _pick_container(app, wizard)
    app.next(wizard, Step.SERVER)
    _fill_new_server(app, wizard, server, tmp_path / "download")
    app.next(wizard, Step.SUMMARY)
    job_id = app.commit(wizard)
    done = app.wait_finished(job_id)
    _assert_succeeded(app, sandbox, job_id, server, done)


@pytest.fixture(scope="module")
def restored_files(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Files Azure Backup restored earlier (an incident: the DBA has them already).

    A real restore-as-files into a container of their own, then downloaded to a folder.
    Returns the container URL and the folder.
    """
    info = sandbox.info
    cloud = resolve_cloud("Custom", arm_endpoint=info.arm_endpoint, authority_host=info.authority,
                          ca_bundle=info.ca_bundle, env={})  # fmt: skip
    factory = ClientFactory(cloud, sandbox_credential(sandbox))
    try:
        storage = StorageService(factory)
        account = next(a for a in storage.list_storage_accounts([IDS.SUB]) if a.name == IDS.STORAGE)
        container = storage.create_container(account, FILES_CONTAINER)
        rp = _recovery_points(sandbox, factory)
        plan = RestorePlanFile(
            container=ContainerSpec(url=container.url, arm_id=container.arm_id,
                                    file_prefix=FILES_PREFIX),
            target=TargetSpec(mode="new", server_id=IDS.server_id("unused"), location="westeurope"),
            source=SourceSpec(BI_ID, rp, "westeurope"),
        )  # fmt: skip
        arm = SdkRestoreArm(factory)
        request = build_restore_request(rp, container.url, container.arm_id, "westeurope",
                                        FILES_PREFIX)  # fmt: skip
        job_id = arm.trigger_restore(
            plan, request, resume=None, on_token=lambda _t: None, check=lambda: None
        )
        deadline = time.monotonic() + 300
        while not (job := arm.get_job(plan, job_id)).finished:
            assert time.monotonic() < deadline, "the Azure restore job did not finish"
            time.sleep(0.5)
        assert job.succeeded, job.error
    finally:
        factory.close()
    folder = tmp_path_factory.mktemp("incident-files")
    client = sandbox.dataplane.blob_service(IDS.STORAGE).get_container_client(FILES_CONTAINER)
    names = [b.name for b in client.list_blobs()]
    assert any(n.startswith(f"{FILES_PREFIX}_database_") for n in names), names
    for name in names:
        (folder / name).write_bytes(client.download_blob(name).readall())
    return container.url, folder


def _recovery_points(sandbox: Any, factory: ClientFactory) -> str:
    from pgflex_gui.azure.inventory import AzureInventory
    from pgflex_gui.domain.ids import ResourceId

    points = AzureInventory(factory).list_recovery_points(ResourceId.parse(BI_ID))
    newest = max(points, key=lambda p: p.time)
    assert newest.time <= datetime.now(UTC)
    return newest.recovery_point_id


def _nothing_selected_new_server(app: App, wizard: RestoreWizard, server: str, download: Path | None) -> None:  # fmt: skip
    """The server page when nothing is known: subscription, resource group, region, version."""
    page = wizard.server_page
    _choose(app.qtbot, page.subscription, "Contoso Production")
    _type(app.qtbot, page.resource_group, IDS.RG_PG)
    _choose(app.qtbot, page.region, "westeurope")
    assert page.version.currentText() == "— choose —"  # never a version it did not ask for
    _choose(app.qtbot, page.version, "15")
    _fill_new_server(app, wizard, server, download)
    blocking = [i for i in wizard.flow.issues(Step.SERVER) if i.blocks]
    assert blocking == [], blocking
    assert "needs a resource group" not in page.issue_list.text()

    # The existing-server list is not empty: every tenant's servers, with region and state.
    def texts() -> list[str]:
        return [page.existing.itemText(i) for i in range(page.existing.count())]

    app.qtbot.waitUntil(
        lambda: any(t.startswith("pg-fabrikam-neu") for t in texts()), timeout=LOAD_MS
    )
    assert any(t.startswith(f"{IDS.SOURCE} — westeurope, running") for t in texts()), texts()
    assert any(t.startswith("pg-stopped-weu — westeurope, stopped") for t in texts()), texts()


def test_journey_nothing_selected_from_a_container_url(app: App, sandbox: Any, tmp_path: Path, restored_files: tuple[str, Path]) -> None:  # fmt: skip
    url, _folder = restored_files
    server = "pg-journey-from-url"
    app.reveal((NodeKind.TENANT, "Contoso"))
    app.clear_selection()
    wizard = app.tools_restore()
    assert wizard.windowTitle() == "Restore from files"
    source = wizard.source_page
    assert source.incident.isChecked()  # the natural route with nothing selected
    assert source.incident_url_radio.isChecked()
    _type(app.qtbot, source.incident_url, url)
    app.next(wizard, Step.SERVER)  # no container page: the files are there already
    _nothing_selected_new_server(app, wizard, server, tmp_path / "download")
    app.next(wizard, Step.SUMMARY)
    assert f"Files: already there: {url}" in wizard.summary_page.rows.text()
    job_id = app.commit(wizard)
    done = app.wait_finished(job_id)
    _assert_succeeded(app, sandbox, job_id, server, done)


def test_journey_nothing_selected_from_a_folder(app: App, sandbox: Any, restored_files: tuple[str, Path]) -> None:  # fmt: skip
    _url, folder = restored_files
    server = "pg-journey-from-folder"
    app.reveal((NodeKind.TENANT, "Contoso"))
    app.clear_selection()
    wizard = app.tools_restore()
    source = wizard.source_page
    assert source.incident.isChecked()
    app.qtbot.mouseClick(source.incident_folder_radio, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert source.incident_folder_radio.isChecked()
    _type(app.qtbot, source.incident_folder, str(folder))
    app.next(wizard, Step.SERVER)
    _nothing_selected_new_server(app, wizard, server, None)  # no download: the files are here
    app.next(wizard, Step.SUMMARY)
    _pick_from_the_archive(app, wizard, sandbox)
    job_id = app.commit(wizard)
    done = app.wait_finished(job_id)
    _assert_succeeded(app, sandbox, job_id, server, done)


def _pick_from_the_archive(app: App, wizard: RestoreWizard, sandbox: Any) -> None:
    """The files are local: their table of contents offers the schemas and tables to pick."""
    summary = wizard.summary_page
    app.qtbot.mouseClick(summary.show_options, Qt.MouseButton.LeftButton)
    assert summary.pick_objects.isEnabled()
    app.qtbot.mouseClick(summary.pick_objects, Qt.MouseButton.LeftButton)
    picker = summary.picker
    assert picker is not None
    app.qtbot.waitUntil(picker.isVisible)
    _choose(app.qtbot, picker.database, "sales")
    app.qtbot.waitUntil(picker.ok.isEnabled, timeout=LOAD_MS)
    listed = {
        f"{picker.tree.topLevelItem(i).text(0)}.{picker.tree.topLevelItem(i).child(j).text(0)}"
        for i in range(picker.tree.topLevelItemCount())
        for j in range(picker.tree.topLevelItem(i).childCount())
    }
    assert listed == set(_source_counts(sandbox)["sales"])  # the archive's tables, no others
    first = picker.tree.topLevelItem(0)
    first.child(0).setCheckState(0, Qt.CheckState.Checked)
    # one table of a schema, or the schema whole when it is its only table
    expected = (
        first.text(0) if first.childCount() == 1 else f"{first.text(0)}.{first.child(0).text(0)}"
    )
    app.qtbot.mouseClick(picker.ok, Qt.MouseButton.LeftButton)
    assert summary.objects.toPlainText() == f"sales: {expected}"
    assert f"sales: only {expected}" in summary.rows.text()
    summary.objects.clear()  # and back to everything: the journey restores it all
    assert "Options: restore everything" in summary.rows.text()


def _to_server_page_from_source_node(app: App) -> RestoreWizard:
    node = app.reveal((NodeKind.TENANT, "Contoso"), (NodeKind.SUBSCRIPTION, "Contoso Production"),
                      (NodeKind.SERVERS_GROUP, "Flexible servers"), (NodeKind.SERVER, IDS.SOURCE))  # fmt: skip
    app.qtbot.waitUntil(
        lambda: (
            node.protection is not None and node.protection.status is ProtectionStatus.PROTECTED
        ),
        timeout=LOAD_MS,
    )
    app.click_node(node)
    wizard = app.tools_restore()
    source = wizard.source_page
    app.qtbot.waitUntil(lambda: source.points.count() > 0, timeout=LOAD_MS)
    rect = source.points.visualItemRect(source.points.item(0))
    app.qtbot.mouseClick(source.points.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    app.next(wizard, Step.CONTAINER)
    _pick_container(app, wizard)
    return wizard


def test_journey_a_failed_restore(app: App, tmp_path: Path) -> None:
    """A pasted SAS that expired: Azure restores the files, reading them fails; the user sees
    it on the job row and in the details, with the fix and the retry that fits."""
    wizard = _to_server_page_from_source_node(app)
    page = wizard.container_page
    sas_radio = page.read_buttons[next(a for a in page.read_buttons if a.value == "sas")]
    app.qtbot.mouseClick(sas_radio, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert sas_radio.isChecked()
    app.qtbot.waitUntil(page.sas.isVisible)
    _type(app.qtbot, page.sas, EXPIRED_SAS)
    app.next(wizard, Step.SERVER)
    _fill_new_server(app, wizard, "pg-journey-failed", tmp_path / "download")
    app.next(wizard, Step.SUMMARY)
    job_id = app.commit(wizard)
    with app.qtbot.waitSignal(app.window.jobs.job_failed, timeout=RESTORE_MS):
        pass
    row = app.row(job_id)
    assert row.state == "Failed"
    assert row.message.startswith("Failed at the download")
    assert "Azure restore job" not in row.message
    assert (
        app.window.jobs.model.data(
            app.window.jobs.model.index(
                app.window.jobs.model.row_of(job_id), JobsModel.CANCEL_COLUMN
            )
        )
        == "Details…"
    )
    assert app.report(job_id)["outcome"]["kind"] == "failed"
    app.click_row_button(job_id)
    dialog = app.window.jobs.details_dialog
    assert dialog is not None
    app.qtbot.waitUntil(dialog.isVisible)
    assert dialog.headline.text() == "Failed at the download"
    assert dialog.reason.text().startswith("<b>Why:</b>")
    assert dialog.remedy.text().startswith("<b>What to do:</b>")
    assert dialog.retry.isVisible()  # "Retry with another read method"
    dialog.close()


def test_journey_a_cancelled_restore(app: App, sandbox: Any, tmp_path: Path) -> None:
    server = "pg-journey-cancelled"
    wizard = _to_server_page_from_source_node(app)
    app.next(wizard, Step.SERVER)
    _fill_new_server(app, wizard, server, tmp_path / "download")
    app.next(wizard, Step.SUMMARY)
    job_id = app.commit(wizard)
    app.qtbot.waitUntil(lambda: app.row(job_id).state == "Running", timeout=LOAD_MS)
    model: JobsModel = app.window.jobs.model
    assert model.data(model.index(model.row_of(job_id), JobsModel.CANCEL_COLUMN)) == "Cancel"
    source_before = _source_counts(sandbox)

    def downloaded() -> list[str]:
        detail = app.row(job_id).detail
        created = detail.created if detail is not None else ()
        return [c.name for c in created if c.kind is CreatedKind.FILE]

    def server_begun() -> bool:
        detail = app.row(job_id).detail
        return detail is not None and any(
            c.kind is CreatedKind.SERVER and c.name == server for c in detail.created
        )

    app.qtbot.waitUntil(lambda: bool(downloaded()) and server_begun(), timeout=RESTORE_MS)
    # Cancel asks first and says what the restore has made so far.
    app.click_row_button(job_id)
    box = app.window.jobs.cancel_dialog
    assert box is not None
    app.qtbot.waitUntil(box.isVisible)
    assert box.text() == f"Cancel Restore into {server}?"
    info = box.informativeText()
    created = app.row(job_id).detail.created
    assert f"• Server {server} (new: this restore creates it)" in info
    for item in created:
        assert f"• {item}" in info
    files = downloaded()
    stop = next(b for b in box.buttons() if b.text() == "Cancel the job")
    done = app.wait_finished(
        job_id, start=lambda: app.qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    )
    assert done[3] is True
    row = app.row(job_id)
    assert row.state == "Cancelled"
    assert row.message == "Cancelled"
    assert app.report(job_id)["outcome"]["kind"] == "cancelled"
    # Once stopped, it offers to delete exactly what it created, each a checkbox.
    offer = app.window.jobs.cleanup_dialog
    assert offer is not None
    app.qtbot.waitUntil(offer.isVisible)
    listed = {item.words: box for box, item in offer.boxes}
    assert set(listed) == {str(c) for c in app.row(job_id).detail.created}
    assert all(box.isChecked() for box in listed.values())
    for words, box in listed.items():
        if words.startswith("Downloaded"):
            box.setChecked(False)  # keep the files: only the half-built server goes
    server_id = str(IDS.server_id(server))
    entry = f"server-admin:{server_id.lower()}"
    assert app.keystore.get(entry)
    with app.qtbot.waitSignal(
        app.bridge.finished, timeout=RESTORE_MS,
        check_params_cb=lambda *a: a[0] != job_id,
    ) as cleaned:  # fmt: skip
        app.qtbot.mouseClick(offer.delete, Qt.MouseButton.LeftButton)
    assert cleaned.args[2] is None, cleaned.args[2]
    assert cleaned.args[1].deleted == [f"Server {server} (new: this restore creates it)"]
    assert sandbox.world.state.get(server_id) is None  # gone from Azure
    assert app.keystore.get(entry) is None  # and its generated password from the keyring
    cleanup_row = app.row(str(cleaned.args[0]))
    assert cleanup_row.title == f"Clean up after Restore into {server}"
    assert cleanup_row.state == "Finished"
    # What the user kept stays; the source server is untouched.
    assert all(Path(f).exists() for f in files), files
    assert _source_counts(sandbox) == source_before
