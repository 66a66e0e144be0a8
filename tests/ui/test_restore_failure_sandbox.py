"""A failed restore, seen and fixed in the GUI, against the full sandbox.

The real Azure Backup restore-as-files runs, then reading the files fails (an expired pasted
SAS): the job row says "Failed at the download", the details say why and what to do, and
"Retry with another read method" (the Entra sign-in, the default) resumes the same journal:
the Azure restore is not run again, the databases are restored and their rows match the
source. Real SDKs, ARM stand-in, Azurite and PostgreSQL; real widgets and clicks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.backends import build_services
from pgflex_gui.composition import Composition
from pgflex_gui.domain.cloud import resolve_cloud
from pgflex_gui.jobs.journal import JournalStore
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
from pgflex_gui.ui.workflows import WorkflowActions
from tests.e2e.test_restore_e2e import BI_ID, _container, _recovery_point, _target_counts
from tests.sandbox_fixtures import sandbox_credential

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.timeout(900)]

SERVER = "pg-restored-gui-retry"
EXPIRED_SAS = "sv=2020-10-02&sr=c&sp=rl&se=2020-01-01T00:00:00Z&sig=AAAA"


class Keystores:
    def __init__(self, store: MemoryKeystore) -> None:
        self.store = store

    def get(self) -> MemoryKeystore:
        return self.store


def test_failed_download_then_retry_with_the_entra_sign_in(qtbot: Any, qsettings: Any, inventory: Any, tasks: TaskManager, sandbox: Any, make_client: Any, tmp_path: Path) -> None:  # fmt: skip
    info = sandbox.info
    cloud = resolve_cloud("Custom", arm_endpoint=info.arm_endpoint, authority_host=info.authority,
                          ca_bundle=info.ca_bundle, env={})  # fmt: skip
    credential = sandbox_credential(sandbox)
    factory = ClientFactory(cloud, credential)
    secrets = MemoryKeystore()
    secrets.set("sas:gui:expired", EXPIRED_SAS)
    store = JournalStore(tmp_path / "journals")
    runner = JobRunner(journals=store)
    comp = Composition(runner=runner, keystore=Keystores(secrets))
    services = build_services(comp, factory, inventory, credential)
    url, arm_id = _container(sandbox)
    plan = RestorePlanFile(
        container=ContainerSpec(url=url, arm_id=arm_id, prefix="gui-retry", file_prefix="gui-retry",
                                sas_entry="sas:gui:expired", read_access="sas"),
        target=TargetSpec(mode="new", server_id=IDS.server_id(SERVER), location="westeurope",
                          version="15", firewall_ip="127.0.0.1", admin_login="pgadmin", vcores=2),
        source=SourceSpec(BI_ID, _recovery_point(make_client), "westeurope"),
        download_dir=str(tmp_path / "download"),
    )  # fmt: skip
    bridge = RunnerBridge()
    unsubscribe = bridge.attach(runner)
    window: Any = None
    workflows = WorkflowActions(services=lambda: services, runner=runner, tasks=tasks,
                                parent=lambda: window)  # fmt: skip
    window = MainWindow(inventory=inventory, tasks=tasks, settings=qsettings,
                        handlers=workflows.handlers(), runner_bridge=bridge,
                        job_titles=lambda job_id: runner.get(job_id).job.title)  # fmt: skip
    qtbot.addWidget(window)
    window.show()
    try:
        with qtbot.waitSignal(window.jobs.job_failed, timeout=600_000):
            job_id = services.start_restore(plan)
        model: JobsModel = window.jobs.model
        i = model.row_of(job_id)
        row = model.rows()[i]
        assert row.state == "Failed"
        assert row.message.startswith("Failed at the download")
        assert "Azure restore job" not in row.message
        # Details, then "Retry with another read method": my Entra sign-in.
        view = window.jobs._local
        rect = view.visualRect(model.index(i, JobsModel.CANCEL_COLUMN))
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        dialog = window.jobs.details_dialog
        assert dialog is not None
        qtbot.waitUntil(dialog.isVisible)
        assert dialog.headline.text() == "Failed at the download"
        assert dialog.retry.isVisible()
        dialog.read_method.setCurrentIndex(dialog.read_method.findData("entra"))
        with qtbot.waitSignal(bridge.finished, timeout=600_000) as done:
            qtbot.mouseClick(dialog.retry, Qt.MouseButton.LeftButton)
        assert done.args[0] == job_id
        assert done.args[2] is None, done.args[2].report()
        row = model.rows()[model.row_of(job_id)]
        assert row.state == "Finished"
        assert row.message == f"Succeeded: {len(SEED_DATABASES)} databases restored and verified"
        report = json.loads(
            (tmp_path / "journals" / f"{job_id}-report" / "report.json").read_text()
        )
        assert report["outcome"]["kind"] == "succeeded"
        assert [b["lane"] for b in report["timeline"]].count("azure") == 1  # not run again
        source_key = sandbox.world.server_key(IDS.server_id(IDS.SOURCE))
        for db in SEED_DATABASES:
            assert _target_counts(sandbox, SERVER, db) == dict(
                sandbox.dataplane.table_counts(source_key, db)
            ), db
    finally:
        unsubscribe()
        workflows.close()
        window.close()
        runner.shutdown()
        factory.close()
