"""``pgflex inventory`` against the ARM sandbox, as a scheduled check runs it: a child process,
its JSON, its table and its exit code (0 all protected, 1 some not, 2 could not list)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pgflex_gui.azure.inventory_fleet import ARM, RESOURCE_GRAPH
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import Sandbox

ROOT = Path(__file__).resolve().parents[2]


def _inventory(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PGFLEX_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "pgflex_gui.cli", "inventory", *args],
        capture_output=True, text=True, timeout=300, check=False, env=env, cwd=ROOT,
    )  # fmt: skip


def _workdir(box: Sandbox) -> Path:
    workdir = Path(box.workdir)
    assert (workdir / "sandbox.json").exists()
    return workdir


@pytest.mark.parametrize("engine", [RESOURCE_GRAPH, ARM])
def test_inventory_lists_every_server_and_exits_1_while_some_are_unprotected(
    sandbox_arm: Sandbox, tmp_path: Path, engine: str
) -> None:
    extra = ["--no-resource-graph"] if engine == ARM else []
    done = _inventory("--sandbox", str(_workdir(sandbox_arm)), "--json", *extra, home=tmp_path)
    assert done.returncode == 1, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    assert out["source"] == engine
    rows = {r["server"]: r for r in out["servers"]}
    assert IDS.SOURCE in rows
    source = rows[IDS.SOURCE]
    assert source["backup_type"] == "v1"
    assert source["status"] in ("ok", "overdue")
    statuses = {r["status"] for r in out["servers"]}
    assert "unprotected" in statuses  # the seed has servers nobody protects
    assert out["failures"] == []
    assert sandbox_arm.info.client_secret not in done.stdout + done.stderr


def test_inventory_table_names_its_source(sandbox_arm: Sandbox, tmp_path: Path) -> None:
    done = _inventory("--sandbox", str(_workdir(sandbox_arm)), home=tmp_path)
    assert done.returncode == 1, done.stderr
    assert IDS.SOURCE in done.stdout
    assert done.stdout.splitlines()[-1].endswith(f"Listed through {RESOURCE_GRAPH}.")


def test_inventory_exits_2_when_it_cannot_sign_in(tmp_path: Path) -> None:
    done = _inventory("--sandbox", str(tmp_path / "no-sandbox-here"), home=tmp_path)
    assert done.returncode == 2
    assert "cannot sign in" in done.stderr
