"""Restore progress: per-database stages, an overall bar that never goes back, a time left
that says "estimating…" until there is a rate and is never "0 s" while work remains."""

from __future__ import annotations

import pytest

from pgflex_gui.domain.restore_progress import (
    OUTPUT_LINES,
    Created,
    CreatedKind,
    DbProgress,
    DbStage,
    ProgressTracker,
    eta_words,
)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _tracker() -> tuple[ProgressTracker, Clock]:
    clock = Clock()
    tracker = ProgressTracker(clock)
    return tracker, clock


def test_no_estimate_during_the_azure_job() -> None:
    tracker, clock = _tracker()
    tracker.stage("Azure restore job")
    for _ in range(5):
        clock.t += 10
        snap = tracker.snapshot()
        assert snap.eta_s is None
        assert snap.fraction == 0.0
    assert eta_words(snap.eta_s) == "estimating…"


def test_estimate_comes_from_the_measured_rate_of_the_work_left() -> None:
    tracker, clock = _tracker()
    tracker.databases({"a": 1000, "b": 1000})
    tracker.update("a", stage=DbStage.DOWNLOAD, bytes_done=0)
    first = tracker.snapshot()
    assert first.eta_s is None  # one sample: no rate yet
    clock.t = 1.0
    tracker.update("a", bytes_done=100)
    assert tracker.snapshot().eta_s is None  # measured for less than the window minimum
    clock.t = 10.0
    tracker.update("a", bytes_done=1000)
    snap = tracker.snapshot()
    assert snap.eta_s is not None
    # 0.35 * 0.5 * 0.95 of the work in 10 s: the rest takes about 50 s, not "0 s".
    gained = snap.fraction - first.fraction
    assert snap.eta_s == pytest.approx((1 - snap.fraction) / (gained / 10.0))
    assert snap.eta_s > 40
    assert eta_words(snap.eta_s).endswith(" s left")


def test_a_small_database_finishing_does_not_say_almost_done() -> None:
    """One tiny database done, a big one still downloading: most of the time is left."""
    tracker, clock = _tracker()
    tracker.databases({"tiny": 10, "big": 10_000})
    tracker.update("tiny", stage=DbStage.DOWNLOAD)
    tracker.update("big", stage=DbStage.DOWNLOAD)
    tracker.snapshot()
    clock.t = 5.0
    tracker.update("tiny", stage=DbStage.DONE)
    tracker.update("big", bytes_done=500)
    snap = tracker.snapshot()
    assert snap.fraction < 0.1
    assert snap.eta_s is not None
    assert snap.eta_s > 60
    assert eta_words(snap.eta_s) not in ("0 s left", "1 s left", "almost done")


def test_overall_never_goes_backwards() -> None:
    tracker, clock = _tracker()
    tracker.databases({"a": 100})
    tracker.update("a", stage=DbStage.RESTORE, objects_done=50, objects_total=100)
    high = tracker.snapshot().fraction
    clock.t = 1
    tracker.update("a", objects_done=50, objects_total=1000)  # the total grew
    assert tracker.work_fraction() < high
    assert tracker.snapshot().fraction == high
    tracker.update("a", stage=DbStage.DONE)
    clock.t = 2
    done = tracker.snapshot()
    assert done.fraction == 1.0
    assert done.eta_s == 0.0


def test_stages_and_what_is_done_in_words() -> None:
    db = DbProgress("sales", size=40_000_000, stage=DbStage.DOWNLOAD, bytes_done=12_500_000)
    assert db.done_words() == "12.5 MB of 40.0 MB"
    assert db.fraction == pytest.approx(0.35 * 12.5 / 40)
    restoring = DbProgress("sales", stage=DbStage.RESTORE, objects_done=120, objects_total=340)
    assert restoring.done_words() == "120 of 340 objects"
    assert DbProgress("x", stage=DbStage.VERIFY).fraction == pytest.approx(0.9)
    assert DbProgress("x", stage=DbStage.WAITING, bytes_done=5, size=10).fraction == 0.0
    assert DbProgress("x", stage=DbStage.SERVER).fraction == pytest.approx(0.35)
    assert DbProgress("x", stage=DbStage.FAILED).fraction == 1.0
    assert DbProgress("x", stage=DbStage.DONE, objects_total=7).done_words() == "7 objects"
    assert DbProgress("x", stage=DbStage.SKIPPED).done_words() == ""
    assert DbProgress("x", stage=DbStage.RESTORE, objects_done=3).done_words() == "3 objects"


def test_snapshot_names_databases_and_stage() -> None:
    tracker, _clock = _tracker()
    assert tracker.work_fraction() == 0.0
    tracker.stage("Azure restore job", azure_done=True)
    assert tracker.work_fraction() == pytest.approx(0.05)
    tracker.update("late", stage=DbStage.DOWNLOAD)  # reported before the listing
    tracker.databases({"a": 5})
    snap = tracker.snapshot()
    assert snap.stage == "Azure restore job"
    assert snap.database("a") == DbProgress("a", size=5)
    assert snap.database("late") is not None
    assert snap.database("missing") is None
    assert snap.created == ()
    made = Created(CreatedKind.SERVER, "pg-new", "Server pg-new")
    tracker.created(made)
    tracker.created(Created(CreatedKind.SERVER, "pg-new", "Server pg-new"))
    assert tracker.snapshot().created == (made,)
    assert str(made) == "Server pg-new"
    for i in range(OUTPUT_LINES + 3):
        tracker.output("a", f"line {i}")
    out = tracker.snapshot().database("a")
    assert out is not None
    assert len(out.output) == OUTPUT_LINES
    assert out.output[-1] == f"line {OUTPUT_LINES + 2}"
    assert out.output[0] == "line 3"


@pytest.mark.parametrize(
    ("seconds", "running", "words"),
    [
        (None, True, "estimating…"),
        (None, False, ""),
        (float("nan"), True, "estimating…"),
        (0.2, True, "almost done"),
        (0.0, False, ""),
        (1.2, True, "2 s left"),
        (59, True, "59 s left"),
        (61, True, "2 min left"),
        (3 * 3600 + 125, True, "3 h 2 min left"),
    ],
)
def test_eta_words(seconds: float | None, running: bool, words: str) -> None:
    assert eta_words(seconds, running=running) == words
