"""Soak: the real main window and restore wizard through >= 50,000 signal emissions.

Progress of a long restore from a worker thread, repeated wizard edits (completeChanged)
and task-bridge deliveries, in a child process whose exit code is the verdict: a binding
that loses a reference per emit (PySide6 6.12.0 on Python 3.11) aborts it with SIGABRT.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_main_window_and_restore_wizard_survive_50000_emissions(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PGFLEX_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.ui.soak_child", "30000", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=540, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "soak:" in done.stdout
