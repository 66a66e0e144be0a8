"""One lane registry: the GUI's tasks and the job runner share it, so arm-write serializes both."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from pgflex_gui.backends import job_runner
from pgflex_gui.composition import Composition
from pgflex_gui.jobs.job import FunctionJob, JobContext
from pgflex_gui.jobs.lanes import DEFAULT_LANES, Lanes
from pgflex_gui.jobs.runner import JobRunner
from pgflex_gui.ui.tasks import TaskManager


def test_a_task_on_arm_write_waits_for_a_job_on_arm_write(qtbot: Any) -> None:
    lanes = Lanes()
    tasks = TaskManager(lanes=lanes)
    runner = JobRunner(lanes=lanes)
    job_started, release = threading.Event(), threading.Event()
    order: list[str] = []

    def write_job(_ctx: JobContext) -> None:
        job_started.set()
        assert release.wait(10)
        order.append("job")

    try:
        runner.submit(FunctionJob(write_job, title="protect"), "arm-write")
        assert job_started.wait(10)
        done: list[object] = []
        tasks.task(lambda: order.append("task")).in_lane("arm-write").on_success(
            done.append
        ).start()
        time.sleep(0.3)  # the one arm-write worker is busy with the job
        assert order == []
        release.set()
        qtbot.waitUntil(lambda: len(done) == 1, timeout=10_000)
        assert order == ["job", "task"]
    finally:
        release.set()
        runner.shutdown()  # shared lanes: stops its own work only
        assert not lanes.closed
        tasks.shutdown()
        lanes.shutdown()


def test_the_app_builds_its_runner_on_the_task_managers_lanes(qtbot: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("PGFLEX_HOME", str(tmp_path))
    tasks = TaskManager()
    comp = Composition(tasks=tasks)
    runner = job_runner(comp)
    try:
        assert runner is not None
        assert runner._lanes is tasks.lanes
        assert set(runner.lanes) == set(DEFAULT_LANES)
    finally:
        comp.close()  # tasks (owner of the lanes), then the runner
    assert tasks.lanes.closed


def test_an_unknown_lane_is_refused_not_made_up() -> None:
    lanes = Lanes({"arm-read": 2})
    try:
        with pytest.raises(KeyError, match="unknown lane 'arm-wirte'"):
            lanes.executor("arm-wirte")
        assert lanes.executor("arm-read") is lanes.executor("arm-read")
    finally:
        lanes.shutdown()
    with pytest.raises(RuntimeError):
        lanes.executor("arm-read")
