"""Pieces of the composition root: the remembered subscription filter."""

from pathlib import Path

from pgflex_gui.backends import SubscriptionFilteredInventory
from tests.ui.fakes import SUB_A, SUB_B, TENANT, FakeInventory


def test_the_subscription_filter_is_read_at_each_listing() -> None:
    wanted: list[str] = [SUB_B.upper()]  # ids compare case-insensitively
    inventory = SubscriptionFilteredInventory(FakeInventory(), lambda: tuple(wanted))

    assert [s.subscription_id for s in inventory.list_subscriptions(TENANT)] == [SUB_B]
    wanted.clear()  # an empty filter shows every subscription
    assert {s.subscription_id for s in inventory.list_subscriptions(TENANT)} == {SUB_A, SUB_B}
    # Everything else goes to the real inventory untouched.
    assert [t.tenant_id for t in inventory.list_tenants()] == [TENANT]
    # Settings lists every subscription by name, whatever the filter says.
    wanted.append(SUB_B)
    assert {row[0] for row in inventory.all_subscriptions()} == {SUB_A, SUB_B}


def test_an_interrupted_restore_is_resumed_under_its_own_journal(tmp_path: Path) -> None:
    from pgflex_gui.backends import PLAN_FILE_KEY, resume_interrupted_restores
    from pgflex_gui.composition import Composition
    from pgflex_gui.jobs.journal import JournalState, JournalStore
    from pgflex_gui.jobs.restore_plan_file import (
        ContainerSpec,
        RestorePlanFile,
        TargetSpec,
        save_plan,
    )

    store = JournalStore(tmp_path)
    plan = RestorePlanFile(
        container=ContainerSpec(local_dir=str(tmp_path / "files")),
        target=TargetSpec(mode="existing", host="127.0.0.1", port=5432),
    )
    running = store.create(kind="restore", title="Restore into pg-new", job_id="r1")
    save_plan(plan, tmp_path / "r1.plan.json")
    running.checkpoint(PLAN_FILE_KEY, str(tmp_path / "r1.plan.json"))
    finished = store.create(kind="restore", title="done", job_id="r2")
    finished.set_state(JournalState.FINISHED)
    store.create(kind="protect", title="not a restore", job_id="p1")

    comp = Composition(journals=store, runner=object())
    started: list[tuple[object, str | None]] = []

    def start(p: object, job_id: str | None = None) -> str:
        started.append((p, job_id))
        return job_id or ""

    resume_interrupted_restores(comp, start)
    resume_interrupted_restores(comp, start)  # a second session (re-sign-in) does not repeat
    assert started == [(plan, "r1")]


def test_a_restore_job_keeps_its_plan_and_report_beside_its_journal(tmp_path: Path) -> None:
    """Even a restore that fails leaves the plan (for resume) and a report behind."""
    from pgflex_gui.backends import PLAN_FILE_KEY, restore_job
    from pgflex_gui.composition import Composition
    from pgflex_gui.jobs.journal import JournalStore
    from pgflex_gui.jobs.restore_plan_file import ContainerSpec, RestorePlanFile, TargetSpec
    from pgflex_gui.jobs.runner import JobRunner

    (tmp_path / "files").mkdir()
    plan = RestorePlanFile(
        container=ContainerSpec(local_dir=str(tmp_path / "files")),  # incident mode, no files
        target=TargetSpec(mode="existing", host="127.0.0.1", port=1, server_id=""),
        download_dir=str(tmp_path / "dl"),
    )
    store = JournalStore(tmp_path / "journal")
    runner = JobRunner(journals=store)

    class NoSecrets:
        def get(self, _key: str) -> None:
            return None

        def set(self, _key: str, _value: str) -> None:
            raise AssertionError("nothing to store")

    class Keystores:
        def get(self) -> NoSecrets:
            return NoSecrets()

    comp = Composition(keystore=Keystores())
    handle = runner.submit(restore_job(comp, None, None, plan), "restore", job_id="j1")
    try:
        handle.future.result(timeout=60)
    except Exception:  # noqa: BLE001 - the outcome is not the point here
        pass
    finally:
        runner.shutdown()
    journal = store.open("j1")
    assert Path(journal.get(PLAN_FILE_KEY)).is_file()
    assert (tmp_path / "journal" / "j1-report" / "report.json").is_file()


def test_unexpected_errors_shown_to_the_user_are_redacted() -> None:
    from pgflex_gui.ui.tasks import as_app_error

    try:
        raise RuntimeError("PGPASSWORD=hunter2-very-secret failed")
    except RuntimeError as exc:
        err = as_app_error(exc)
    assert "hunter2-very-secret" not in err.details
    assert "RuntimeError" in err.details


def test_workflows_use_the_services_of_the_session_the_window_shows() -> None:
    from concurrent.futures import Future

    from pgflex_gui.backends import DeferredInventory, session_services
    from pgflex_gui.ui.session import SwitchableInventory

    ready = SubscriptionFilteredInventory(FakeInventory(), tuple)
    ready.services = "services of the sandbox session"
    future: Future[SubscriptionFilteredInventory] = Future()
    shown = SwitchableInventory(DeferredInventory(future))

    assert session_services(shown) is None  # still starting: nothing to act with yet
    future.set_result(ready)
    assert session_services(shown) == "services of the sandbox session"
    shown.switch(None)  # signed out
    assert session_services(shown) is None
