"""Progress, CancelToken, EtaEstimator and JobContext."""

from __future__ import annotations

import threading

import pytest

from pgflex_gui.domain.errors import Cancelled
from pgflex_gui.jobs.job import CancelToken, EtaEstimator, JobContext, Progress
from pgflex_gui.jobs.journal import JobJournal


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_progress_fraction() -> None:
    assert Progress(5, 10).fraction == 0.5
    assert Progress(5, None).fraction is None
    assert Progress(20, 10).fraction == 1.0
    assert Progress(1, 0).fraction is None


def test_cancel_token_is_thread_safe_and_raises() -> None:
    token = CancelToken()
    token.check()
    assert not token.cancelled
    t = threading.Thread(target=token.cancel)
    t.start()
    t.join()
    assert token.cancelled
    with pytest.raises(Cancelled):
        token.check()
    assert token.wait(0.0) is True


def test_eta_from_smoothed_rate() -> None:
    clock = FakeClock()
    eta = EtaEstimator(alpha=0.5, min_interval_s=0.1, clock=clock)
    assert eta.update(0, 1000) is None
    clock.t = 1.0
    assert eta.update(100, 1000) == pytest.approx(9.0)  # 100/s, 900 left
    clock.t = 2.0
    # instantaneous 300/s, smoothed 0.5*300 + 0.5*100 = 200/s; 600 left → 3 s
    assert eta.update(400, 1000) == pytest.approx(3.0)
    clock.t = 2.05  # merged: too close to the previous sample
    assert eta.update(500, 1000) == pytest.approx(2.5)
    assert eta.update(500, None) is None


def test_context_fills_eta_and_checks_cancel() -> None:
    seen: list[Progress] = []
    token = CancelToken()
    ctx = JobContext(token=token, journal=JobJournal.in_memory(), report=seen.append)
    ctx.report(Progress(1, 10, "x"))
    ctx.report(Progress(2, None, "y", eta_s=None))
    assert [p.message for p in seen] == ["x", "y"]
    ctx.check_cancelled()
    token.cancel()
    assert ctx.cancelled
    with pytest.raises(Cancelled):
        ctx.check_cancelled()
