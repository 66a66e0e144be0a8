"""JobRunner: lanes, cancel, throttled progress, errors, shutdown, inline runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pgflex_gui.domain.errors import AppError, Cancelled, Fault
from pgflex_gui.jobs.job import FunctionJob, JobContext, Progress
from pgflex_gui.jobs.journal import JournalState, JournalStore
from pgflex_gui.jobs.runner import DEFAULT_LANES, JobRunner, JobState


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.progress: list[tuple[str, Progress]] = []
        self.finished: list[tuple[str, Any, AppError | None, bool]] = []
        self.done = threading.Event()

    def on_progress(self, job_id: str, p: Progress) -> None:
        with self.lock:
            self.progress.append((job_id, p))

    def on_finished(
        self, job_id: str, result: Any, error: AppError | None, cancelled: bool
    ) -> None:
        with self.lock:
            self.finished.append((job_id, result, error, cancelled))
        self.done.set()


@pytest.fixture
def runner() -> Any:
    r = JobRunner()
    yield r
    r.shutdown()


def _wire(r: JobRunner) -> Recorder:
    rec = Recorder()
    r.subscribe(on_progress=rec.on_progress, on_finished=rec.on_finished)
    return rec


def test_default_lanes() -> None:
    assert dict(DEFAULT_LANES) == {
        "arm-read": 16, "arm-scan": 4, "arm-write": 1, "transfer": 2, "restore": 1,
        "sign-in": 1, "settings": 1,
    }  # fmt: skip
    assert JobRunner().lanes == tuple(DEFAULT_LANES)


def test_unsubscribe_stops_listeners(runner: JobRunner) -> None:
    seen: list[str] = []
    rec = _wire(runner)
    unsubscribe = runner.subscribe(
        on_progress=lambda job_id, _p: seen.append(f"p:{job_id}"),
        on_finished=lambda job_id, *_a: seen.append(f"f:{job_id}"),
    )
    unsubscribe()
    unsubscribe()  # idempotent
    runner.run_inline(FunctionJob(lambda c: c.report(Progress(1, 1)) or 1, title="t"))
    assert seen == []
    assert len(rec.finished) == 1


def test_submit_runs_on_lane_thread_and_reports(runner: JobRunner) -> None:
    rec = _wire(runner)
    names: list[str] = []

    def fn(ctx: JobContext) -> int:
        names.append(threading.current_thread().name)
        ctx.report(Progress(1, 1, "done"))
        return 42

    h = runner.submit(FunctionJob(fn, title="answer"), "arm-read")
    assert h.future.result(timeout=5) == 42
    assert rec.done.wait(5)
    assert h.state is JobState.FINISHED
    assert names[0].startswith("lane-arm-read")
    assert rec.finished == [(h.id, 42, None, False)]
    assert rec.progress[-1][1].message == "done"


def test_unknown_lane(runner: JobRunner) -> None:
    with pytest.raises(KeyError, match="unknown lane"):
        runner.submit(FunctionJob(lambda c: None, title="x"), "nope")


def test_arm_write_lane_serialises(runner: JobRunner) -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def fn(ctx: JobContext) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with lock:
            active -= 1

    handles = [runner.submit(FunctionJob(fn, title=f"w{i}"), "arm-write") for i in range(5)]
    for h in handles:
        h.future.result(timeout=5)
    assert peak == 1


def test_arm_read_lane_runs_in_parallel(runner: JobRunner) -> None:
    barrier = threading.Barrier(4, timeout=5)
    handles = [
        runner.submit(FunctionJob(lambda c: barrier.wait(), title=f"r{i}"), "arm-read")
        for i in range(4)
    ]
    for h in handles:
        h.future.result(timeout=5)  # would time out (BrokenBarrier) if not 4 in parallel


def test_cancel_running_job(runner: JobRunner) -> None:
    rec = _wire(runner)
    started = threading.Event()

    def fn(ctx: JobContext) -> None:
        started.set()
        while True:
            ctx.check_cancelled()
            time.sleep(0.005)

    h = runner.submit(FunctionJob(fn, title="loop"), "transfer")
    assert started.wait(5)
    h.cancel()
    assert rec.done.wait(5)
    assert h.state is JobState.CANCELLED
    assert rec.finished == [(h.id, None, None, True)]
    assert h.journal.state is JournalState.CANCELLED


def test_cancel_queued_job_never_runs(runner: JobRunner) -> None:
    rec = _wire(runner)
    gate = threading.Event()
    ran: list[str] = []
    first = runner.submit(FunctionJob(lambda c: gate.wait(5), title="first"), "restore")
    second = runner.submit(FunctionJob(lambda c: ran.append("x"), title="second"), "restore")
    second.cancel()
    gate.set()
    first.future.result(timeout=5)
    assert second.state is JobState.CANCELLED
    assert ran == []
    assert (second.id, None, None, True) in rec.finished


def test_progress_is_throttled_but_last_is_delivered() -> None:
    clock_t = [0.0]
    r = JobRunner(progress_interval_s=0.1, clock=lambda: clock_t[0])
    rec = _wire(r)

    def fn(ctx: JobContext) -> None:
        for i in range(100):
            clock_t[0] = i * 0.01  # 100 reports over 1 s of fake time
            ctx.report(Progress(i, None, f"step {i}"))

    try:
        r.run_inline(FunctionJob(fn, title="chatty"))
    finally:
        r.shutdown()
    msgs = [p.message for _, p in rec.progress]
    assert 9 <= len(msgs) <= 12
    assert msgs[0] == "step 0"
    assert msgs[-1] == "step 99"


def test_completion_progress_is_never_dropped() -> None:
    r = JobRunner(progress_interval_s=10.0)
    rec = _wire(r)

    def fn(ctx: JobContext) -> None:
        ctx.report(Progress(0, 10))
        ctx.report(Progress(5, 10))
        ctx.report(Progress(10, 10))

    r.run_inline(FunctionJob(fn, title="t"))
    r.shutdown()
    assert [p.done for _, p in rec.progress] == [0, 10]


def test_app_error_passes_through(runner: JobRunner) -> None:
    rec = _wire(runner)
    err = AppError(fault=Fault.PERMISSION, summary="No access.")

    def fn(ctx: JobContext) -> None:
        raise err

    h = runner.submit(FunctionJob(fn, title="t"), "arm-read")
    assert rec.done.wait(5)
    assert rec.finished == [(h.id, None, err, False)]
    assert h.state is JobState.FAILED
    assert h.journal.state is JournalState.FAILED


def test_unexpected_exception_becomes_app_error(runner: JobRunner) -> None:
    def fn(ctx: JobContext) -> None:
        raise ZeroDivisionError("boom")

    with pytest.raises(AppError) as info:
        runner.run_inline(FunctionJob(fn, title="Compute things"))
    assert info.value.fault is Fault.APP
    assert info.value.summary == "Unexpected error in Compute things"
    assert "ZeroDivisionError: boom" in info.value.details
    assert "Traceback" in info.value.details


def test_run_inline_result_and_cancel(runner: JobRunner) -> None:
    assert runner.run_inline(FunctionJob(lambda c: "ok", title="t")) == "ok"

    def fn(ctx: JobContext) -> None:
        raise Cancelled()

    with pytest.raises(Cancelled):
        runner.run_inline(FunctionJob(fn, title="t"))


def test_listener_errors_do_not_break_jobs(runner: JobRunner) -> None:
    def bad(*args: Any) -> None:
        raise RuntimeError("listener bug")

    runner.subscribe(on_progress=bad, on_finished=bad)
    rec = _wire(runner)
    h = runner.submit(FunctionJob(lambda c: c.report(Progress(1, 1)) or 1, title="t"), "arm-read")
    assert rec.done.wait(5)
    assert h.state is JobState.FINISHED


def test_shutdown_cancels_running_and_queued() -> None:
    r = JobRunner()
    rec = _wire(r)
    started = threading.Event()

    def loop(ctx: JobContext) -> None:
        started.set()
        while not ctx.token.wait(0.01):
            pass
        ctx.check_cancelled()

    running = r.submit(FunctionJob(loop, title="running"), "restore")
    queued = r.submit(FunctionJob(loop, title="queued"), "restore")
    assert started.wait(5)
    r.shutdown(cancel_running=True, wait=True)
    assert running.state is JobState.CANCELLED
    assert queued.state is JobState.CANCELLED
    assert {f[0] for f in rec.finished} == {running.id, queued.id}
    with pytest.raises(RuntimeError, match="shut down"):
        r.submit(FunctionJob(lambda c: None, title="late"), "restore")


def test_journals_on_disk_and_resume_by_id(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    r = JobRunner(journals=store)

    def first(ctx: JobContext) -> None:
        ctx.journal.checkpoint("step", 3)
        raise Cancelled()

    h = r.submit(FunctionJob(first, title="t", kind="demo"), "transfer")
    h.future.result(timeout=5)
    assert store.open(h.id).state is JournalState.CANCELLED

    def second(ctx: JobContext) -> int:
        return int(ctx.journal.get("step")) + 1

    h2 = r.submit(FunctionJob(second, title="t", kind="demo"), "transfer", job_id=h.id)
    assert h2.future.result(timeout=5) == 4
    r.shutdown()
    assert store.open(h.id).state is JournalState.FINISHED
    assert store.list_unfinished() == []
