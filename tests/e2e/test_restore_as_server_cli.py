"""``pgflex restore --plan`` with a restore-as-server (vaulted backup v2) plan, against the
sandbox: a real physical backup (pg_basebackup) of a real source, restored onto an empty real
target; a target that breaks a rule is refused before anything is sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pgflex_gui.sandbox.runtime import Sandbox
from tests.e2e.v2_world import World

ROOT = Path(__file__).resolve().parents[2]


def _plan(tmp_path: Path, world: World, bi: str, rp: str, target: str) -> Path:
    plan = {
        "version": 1,
        "kind": "restore-as-server",
        "source": {"backup_instance_id": bi, "recovery_point_id": rp, "server_id": world.source},
        "target": {"server_id": target},
        "grant_role": True,
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return path


def _restore(box: Sandbox, plan: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PGFLEX_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT / "src")}
    argv = [sys.executable, "-m", "pgflex_gui.restore_cli", "--plan", str(plan),
            "--sandbox", str(box.workdir), "--journal-dir", str(tmp_path / "journal"),
            "--quiet"]  # fmt: skip
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=600, check=False, env=env, cwd=ROOT
    )


def _restore_jobs(raw: Any, world: World) -> list[dict[str, Any]]:
    jobs = raw("GET", f"{world.vault}/backupJobs", api="2026-06-01").json()["value"]
    return [j for j in jobs if j["properties"]["operationCategory"] == "Restore"]


def test_a_target_that_is_not_empty_is_refused_before_anything_is_sent(
    box: Sandbox, world: World, raw: Any, point: tuple[str, str], tmp_path: Path
) -> None:
    before = _restore_jobs(raw, world)
    done = _restore(box, _plan(tmp_path, world, *point, world.full), tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pg-v2-full is not empty: it holds mine" in done.stderr
    assert _restore_jobs(raw, world) == before  # neither validated nor triggered


def test_restore_as_server_onto_an_empty_target(
    box: Sandbox, world: World, raw: Any, point: tuple[str, str], tmp_path: Path
) -> None:
    # The target lacks the vault's role: grant_role assigns it, then the restore runs.
    before = {j["id"] for j in _restore_jobs(raw, world)}
    done = _restore(box, _plan(tmp_path, world, *point, world.target), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "v2data" in done.stdout
    assert "restored" in done.stdout
    report = json.loads(next((tmp_path / "journal").glob("*-report/report.json")).read_text())
    assert report["ok"] is True
    assert [d["name"] for d in report["databases"]] == ["v2data"]
    assert any("Assigned" in n for n in report["notes"])
    jobs = [j for j in _restore_jobs(raw, world) if j["id"] not in before]
    assert [j["properties"]["status"] for j in jobs] == ["Completed"]
    # The physical copy really landed: the source's rows are on the target.
    rows = box.dataplane.psql(  # type: ignore[attr-defined]
        box.world.server_key(world.target), "SELECT count(*) FROM t;", db="v2data"
    )
    assert "1234" in str(rows)
