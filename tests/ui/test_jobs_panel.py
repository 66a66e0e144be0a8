"""The Jobs panel's Azure tab: listing across vaults, filters, and the in-progress auto-refresh."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import Qt

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BackupJob
from pgflex_gui.ui.describe import describe_job
from pgflex_gui.ui.panels.jobs import AzureJobsResult, JobsPanel
from tests.ui.fakes import NOW, SUB_A, SUB_B, FakeInventory


class JobsInventory(FakeInventory):
    """FakeInventory whose jobs a test can change between refreshes."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.jobs: dict[str, list[BackupJob]] = {}

    def list_jobs(self, vault_id: ResourceId) -> list[BackupJob]:
        self._call("list_jobs", str(vault_id))
        return list(self.jobs.get(vault_id.name, []))


def job(vault: ResourceId, name: str, status: str, *, days: float = 0.1, **kw: object) -> BackupJob:
    return BackupJob(
        vault.child("backupJobs", name),
        "Backup",
        status,
        start=NOW - timedelta(days=days),
        datasource_name="pg-orders",
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def inv() -> JobsInventory:
    return JobsInventory()


@pytest.fixture
def vault(inv: JobsInventory) -> ResourceId:
    return inv.vaults[SUB_A][0].id


@pytest.fixture
def panel(qtbot, tasks, inv, now):
    widget = JobsPanel(
        tasks=tasks,
        inventory=inv,
        subscriptions=lambda: [SUB_A, SUB_B],
        auto_refresh_ms=20,
        now=now,
    )
    qtbot.addWidget(widget)
    yield widget
    widget.auto_timer.stop()


def refresh(qtbot, panel: JobsPanel) -> AzureJobsResult:
    with qtbot.waitSignal(panel.azure_jobs_loaded, timeout=5000) as blocker:
        panel.refresh_azure_jobs()
    return blocker.args[0]


def test_auto_refresh_runs_while_a_job_is_in_progress_and_stops_after(qtbot, panel, inv, vault):
    inv.jobs["vault-weu"] = [job(vault, "j1", "InProgress"), job(vault, "j0", "Completed")]
    result = refresh(qtbot, panel)
    assert len(result.jobs) == 2
    assert panel.auto_refreshing
    assert "1 in progress: refreshing every" in panel.note()
    calls = inv.calls.count(("list_jobs", str(vault)))

    # the timer fires on its own and lists the jobs again, through the task bridge
    with qtbot.waitSignal(panel.azure_jobs_loaded, timeout=5000):
        pass
    assert inv.calls.count(("list_jobs", str(vault))) > calls
    assert panel.auto_refreshing

    # the job ends: the next refresh sees it and the timer stops
    inv.jobs["vault-weu"] = [job(vault, "j1", "Completed"), job(vault, "j0", "Completed")]
    with qtbot.waitSignal(panel.azure_jobs_loaded, timeout=5000):
        pass
    assert not panel.auto_refreshing
    assert "in progress" not in panel.note()
    with qtbot.assertNotEmitted(panel.azure_jobs_loaded, wait=100):
        pass


def test_no_auto_refresh_when_nothing_runs(qtbot, panel, inv, vault):
    inv.jobs["vault-weu"] = [job(vault, "j0", "Failed")]
    refresh(qtbot, panel)
    assert not panel.auto_refreshing


def test_filters_by_status_and_start_time(qtbot, panel, inv, vault):
    inv.jobs["vault-weu"] = [
        job(vault, "a", "InProgress"),
        job(vault, "b", "Failed", days=2),
        job(vault, "c", "Completed", days=20),
    ]
    inv.jobs["vault-dev"] = [job(inv.vaults[SUB_B][0].id, "d", "Completed", days=0.5)]
    refresh(qtbot, panel)
    proxy = panel.azure_filter
    assert proxy.rowCount() == 3  # last 7 days by default
    panel.azure_filter.set_filter(status="inprogress", max_age=None)
    assert proxy.rowCount() == 1
    assert proxy.index(0, 2).data() == "In progress"
    panel.azure_filter.set_filter(status="completed", max_age=None)
    assert proxy.rowCount() == 2
    panel.azure_filter.set_filter(status="", max_age=timedelta(days=1))
    assert proxy.rowCount() == 2
    vaults = {proxy.index(r, 5).data() for r in range(proxy.rowCount())}
    assert vaults == {"vault-weu", "vault-dev"}


def test_an_unreadable_vault_does_not_hide_the_others(qtbot, tasks, now, vault):
    denied = AppError(Fault.PERMISSION, "You cannot read this vault.")
    inv = JobsInventory(fail={"vault-dev": denied})
    inv.jobs["vault-weu"] = [job(vault, "a", "Completed")]
    panel = JobsPanel(tasks=tasks, inventory=inv, subscriptions=lambda: [SUB_A, SUB_B], now=now)
    qtbot.addWidget(panel)
    result = refresh(qtbot, panel)
    assert [j.job_id for j in result.jobs] == ["a"]
    assert result.unreadable == ("Jobs of vault vault-dev: You cannot read this vault.",)
    assert "1 could not be read" in panel.note()


def test_opening_the_tab_lists_jobs_once(qtbot, panel, inv, vault):
    inv.jobs["vault-weu"] = [job(vault, "a", "Completed")]
    with qtbot.waitSignal(panel.azure_jobs_loaded, timeout=5000):
        panel.show_azure_tab()
    assert panel.azure_model.rowCount() == 1
    index = panel.azure_filter.index(0, 0)
    with qtbot.waitSignal(panel.job_selected) as blocker:
        panel._azure.clicked.emit(index)
    assert blocker.args[0].job_id == "a"
    assert index.data(Qt.ItemDataRole.UserRole).job_id == "a"


def test_empty_tables_say_something(panel):
    assert "No jobs from this app yet" in panel._local.hint()
    empty = JobsPanel(tasks=panel._tasks, inventory=panel._inventory, subscriptions=list)
    empty.refresh_azure_jobs()
    assert "listed your subscriptions" in empty._azure.hint()
    empty.deleteLater()


def test_job_details_explain_each_error_code(vault):
    failed = job(
        vault,
        "f",
        "Failed",
        error_codes=(
            ("UserErrorMSIMissingPermissions", "The vault identity lacks a role."),
            ("SomethingNew", "Odd."),
        ),
    )
    title, rows = describe_job(failed)
    assert title == "Backup job f"
    labels = [label for label, _ in rows]
    assert labels.count("Error") == 2
    assert labels.count("What it means") == 2
    meanings = [value for label, value in rows if label == "What it means"]
    assert "SomethingNew" in meanings[1]
    assert "UserErrorMSIMissingPermissions" not in meanings[0]
    assert dict(rows)["Vault"] == "vault-weu"
