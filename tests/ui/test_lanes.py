"""The job runner's lanes and the task manager's lanes must agree where they overlap."""

from __future__ import annotations

from pgflex_gui.jobs.runner import DEFAULT_LANES as RUNNER_LANES
from pgflex_gui.ui.tasks import DEFAULT_LANES as TASK_LANES


def test_shared_lanes_have_the_same_sizes() -> None:
    shared = set(RUNNER_LANES) & set(TASK_LANES)
    assert shared == set(RUNNER_LANES)
    assert {name: RUNNER_LANES[name] for name in shared} == {
        name: TASK_LANES[name] for name in shared
    }
