"""SIGTERM, SIGINT and SIGHUP shut every entry point down cleanly, and a folder has one owner.

``pgflex-gui --sandbox`` and ``pgflex sandbox serve`` are real child processes with their
own sandbox folder; after the signal, nothing they started (Azurite, PostgreSQL clusters)
may still run, ``pgflex sandbox status`` must agree, and the folder's lock must be free. A
folder served by a live process is refused; one whose owner was killed with SIGKILL is
cleaned up at the next start. ``pgflex restore`` cancels on SIGTERM, journals it and
resumes on rerun.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from pgflex_gui.sandbox.runtime import NullDataPlane, Sandbox, WorkdirBusy
from pgflex_gui.sandbox.workdir_lock import holder_pid

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]


def _env(tmp_path: Path, workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        PGFLEX_HOME=str(tmp_path / "home"),
        PGFLEX_SANDBOX_DIR=str(workdir),
        PYTHONPATH=str(ROOT / "src"),
        PGFLEX_SANDBOX_SCALE="0",  # a few MB of seeded data: this is about the life cycle
    )
    return env


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _postmasters(workdir: Path) -> list[int]:
    """Pids of live postmasters whose data directory belongs to ``workdir``."""
    pids = []
    for pid_file in (workdir / "data" / "servers").glob("*/data/postmaster.pid"):
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            continue
        if _alive(pid):
            pids.append(pid)
    return pids


def _azurite_pid(workdir: Path) -> int | None:
    try:
        return int((workdir / "data" / "azurite.pid").read_text())
    except (OSError, ValueError):
        return None


def _wait(predicate: object, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    pytest.fail(f"timed out waiting for {what}\n{tail}")


def _status(workdir: Path, env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "pgflex_gui.sandbox", "status", "--json", "--dir", str(workdir)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    return dict(json.loads(done.stdout))


@pytest.fixture
def reaper(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Children of a test, killed if a test fails half-way; then the sandbox is reset."""
    children: list[subprocess.Popen[bytes]] = []
    yield children
    for child in children:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
    workdir = tmp_path / "sandbox"
    if (workdir / "state.json").exists():  # stops leftovers, deletes data kept elsewhere
        subprocess.run(
            [sys.executable, "-m", "pgflex_gui.sandbox", "reset", "--dir", str(workdir)],
            capture_output=True, timeout=120, check=False, env=_env(tmp_path, workdir),
        )  # fmt: skip


def _started(workdir: Path, pid: int) -> bool:
    azurite = _azurite_pid(workdir)
    return (
        (workdir / "sandbox.json").exists()
        and holder_pid(workdir) == pid
        and azurite is not None
        and _alive(azurite)
        and bool(_postmasters(workdir))
    )


def _assert_nothing_left(workdir: Path, azurite: int, postmasters: list[int]) -> None:
    assert not _alive(azurite), "Azurite outlived its owner"
    assert [p for p in postmasters if _alive(p)] == [], "PostgreSQL outlived its owner"
    assert _postmasters(workdir) == []
    assert holder_pid(workdir) is None


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_gui_stops_its_sandbox_on_signal(tmp_path: Path, signum: int, reaper: list) -> None:
    workdir = tmp_path / "sandbox"
    env = _env(tmp_path, workdir)
    log = tmp_path / "gui.log"
    with log.open("wb") as out:
        gui = subprocess.Popen(
            [sys.executable, "-m", "pgflex_gui", "--sandbox", "--seed", "minimal"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )  # fmt: skip
    reaper.append(gui)
    _wait(lambda: _started(workdir, gui.pid), 240, "the GUI's sandbox", log)
    status = _status(workdir, env)
    assert status["running"] is True, status
    assert status["served_by"] == "pgflex-gui", status
    azurite, postmasters = _azurite_pid(workdir), _postmasters(workdir)
    assert azurite is not None

    gui.send_signal(signum)
    assert gui.wait(timeout=120) == 0, log.read_text(errors="replace")[-3000:]

    _assert_nothing_left(workdir, azurite, postmasters)
    assert _status(workdir, env)["running"] is False


def _start_serve(workdir: Path, env: dict[str, str], log: Path, reaper: list) -> subprocess.Popen[bytes]:  # fmt: skip
    """``pgflex sandbox serve`` on ``workdir``, waited for until everything runs."""
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "pgflex_gui.sandbox", "serve", "--dir", str(workdir),
             "--seed", "minimal"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )  # fmt: skip
    reaper.append(serve)
    _wait(lambda: _started(workdir, serve.pid), 240, "pgflex sandbox serve", log)
    return serve


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_sandbox_serve_stops_everything_on_signal(tmp_path: Path, signum: int, reaper: list) -> None:  # fmt: skip
    workdir, env, log = tmp_path / "sandbox", _env(tmp_path, tmp_path / "sandbox"), tmp_path / "serve.log"  # fmt: skip
    serve = _start_serve(workdir, env, log, reaper)
    assert _status(workdir, env)["served_by"] == "pgflex sandbox serve"
    azurite, postmasters = _azurite_pid(workdir), _postmasters(workdir)
    assert azurite is not None

    serve.send_signal(signum)
    assert serve.wait(timeout=120) == 0, log.read_text(errors="replace")[-3000:]
    _assert_nothing_left(workdir, azurite, postmasters)
    assert not (workdir / "serve.pid").exists()


def test_a_folder_in_use_is_refused_and_freed_by_stop(tmp_path: Path) -> None:
    workdir = tmp_path / "sandbox"
    first = Sandbox.start(workdir, seed="minimal", dataplane=NullDataPlane())
    try:
        assert holder_pid(workdir) == os.getpid()
        with pytest.raises(WorkdirBusy, match=str(os.getpid())):
            Sandbox.start(workdir, seed="minimal", dataplane=NullDataPlane())
    finally:
        first.stop()
    assert holder_pid(workdir) is None
    again = Sandbox.start(workdir, seed="minimal", dataplane=NullDataPlane())
    again.stop()


def test_what_a_killed_owner_left_running_is_cleaned_up_at_the_next_start(tmp_path: Path, reaper: list, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    workdir, env, log = tmp_path / "sandbox", _env(tmp_path, tmp_path / "sandbox"), tmp_path / "serve.log"  # fmt: skip
    serve = _start_serve(workdir, env, log, reaper)
    azurite, postmasters = _azurite_pid(workdir), _postmasters(workdir)
    assert azurite is not None
    serve.kill()  # SIGKILL: no handler runs; Azurite and the clusters are orphaned
    serve.wait(timeout=30)
    assert _alive(azurite)
    assert holder_pid(workdir) is None  # the kernel dropped the dead owner's lock

    monkeypatch.setenv("PGFLEX_SANDBOX_SCALE", "0")
    box = Sandbox.start(workdir, ephemeral=True)
    try:
        assert not _alive(azurite), "the orphaned Azurite was not stopped"
        assert _azurite_pid(workdir) != azurite
        assert [p for p in postmasters if _alive(p)] == []
    finally:
        box.stop()
    assert _postmasters(workdir) == []


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_restore_cancels_on_sigterm_journals_it_and_stops_its_children(sandbox: object, make_client: object, tmp_path: Path, reaper: list) -> None:  # fmt: skip
    from pgflex_gui.jobs.restore_plan_file import save_plan
    from tests.e2e.test_restore_e2e import _plan

    plan = _plan(sandbox, make_client, tmp_path, "pg-restored-term", "term")
    save_plan(plan, tmp_path / "plan.json")
    journal_dir = tmp_path / "journal"
    argv = [sys.executable, "-m", "pgflex_gui.restore_cli", "--plan", str(tmp_path / "plan.json"),
            "--sandbox", str(sandbox.workdir), "--journal-dir", str(journal_dir), "--quiet",  # type: ignore[attr-defined]
            "--job-id", "termme"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    log = tmp_path / "child.log"
    with log.open("wb") as out:
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    reaper.append(child)
    journal = journal_dir / "termme.json"

    def restoring() -> bool:
        try:
            cps = json.loads(journal.read_text())["checkpoints"]
        except (OSError, ValueError, KeyError):
            return False
        return any(k.startswith("db:") for k in cps) and bool(
            psutil.Process(child.pid).children(recursive=True)
        )

    _wait(restoring, 900, "the restore to reach its databases", log)
    grandchildren = [p.pid for p in psutil.Process(child.pid).children(recursive=True)]
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=120) == 130, log.read_text(errors="replace")[-3000:]
    assert json.loads(journal.read_text())["state"] == "cancelled"
    assert [p for p in grandchildren if _alive(p)] == [], "pg_restore/psql outlived the restore"
    assert "rerun the same command to resume" in log.read_text(errors="replace")
