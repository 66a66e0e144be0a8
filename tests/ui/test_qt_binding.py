"""The Qt binding keeps reference counts straight across every kind of emit the app uses.

PySide6 6.12.0 on Python 3.11 dropped a reference to ``True`` on every ``emit()``: the app
died in ``bool_dealloc`` after a few thousand progress updates. These tests fail on such a
binding (the lock pins away from it), and prove the detector sees a loss when there is one.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from pgflex_gui.ui import qtcheck

N = 10_000


@pytest.mark.parametrize("kind", qtcheck.KIND_NAMES)
def test_refcounts_stay_flat_over_10000_emissions(qapp: object, kind: str) -> None:
    (emit_kind,) = [k for k in qtcheck.emit_kinds() if k.name == kind]
    deltas = qtcheck.drift(emit_kind, N)
    assert qtcheck.is_sound({kind: deltas}, N), f"{kind}: references lost {deltas}"
    assert all(abs(d) <= 10 for d in deltas.values()), deltas


def test_the_detector_sees_a_binding_that_drops_a_reference_per_emit(qapp: object) -> None:
    # A stand-in for the 6.12.0 bug: every "emit" drops one reference to True.
    decref = ctypes.pythonapi.Py_DecRef
    decref.argtypes = [ctypes.py_object]
    broken = qtcheck.EmitKind("broken", lambda: decref(True))
    try:
        deltas = qtcheck.drift(broken, 1000)
    finally:
        incref = ctypes.pythonapi.Py_IncRef
        incref.argtypes = [ctypes.py_object]
        for _ in range(1000 + 100):  # give back what the stand-in took (warm-up included)
            incref(True)
    assert deltas["True"] == -1000
    assert not qtcheck.is_sound({"broken": deltas}, 1000)


def test_the_command_line_check_passes_in_this_environment() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-m", "pgflex_gui.ui.qtcheck", "10000"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sound" in done.stdout.splitlines()[-1]
