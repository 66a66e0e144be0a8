"""Suite-wide setup and hygiene.

- Qt offscreen before any Qt import, and the shared sandbox fixtures.
- Every test must leave no thread and no child process running that it started (checked
  after each test, with a short grace for threads that are already on their way out); the
  Qt side (warnings, timers, windows) is checked in ``tests/ui/conftest.py`` and by
  pytest-qt's ``qt_log_level_fail``; unraisable and unhandled-thread exceptions are errors
  (``filterwarnings`` in pyproject.toml) and ``faulthandler`` dumps every thread on a crash.
- The suite leaves ``/tmp`` as it found it: pytest's base temporary folder is made reachable
  by the PostgreSQL server user, so sandbox clusters keep their data inside ``tmp_path``
  instead of a folder beside it, and the session fails if anything new is left in ``/tmp``.
- ``PGFLEX_SHUFFLE=<seed>`` runs the test files, and the tests inside each, in a shuffled
  order (``random`` as the seed picks one and prints it): no test may depend on another.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import faulthandler
import random
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

pytest.register_assert_rewrite("tests.sandbox_fixtures")

from tests.sandbox_fixtures import reachable_by_server_user  # noqa: E402

pytest_plugins = ["tests.sandbox_fixtures"]

faulthandler.enable(all_threads=True)

_TMP = Path(tempfile.gettempdir())
_tmp_before: set[str] = set()


def pytest_configure(config: pytest.Config) -> None:
    _tmp_before.update(p.name for p in _TMP.iterdir())


def pytest_sessionstart(session: pytest.Session) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or os.geteuid() != 0:
        return
    basetemp = Path(factory.getbasetemp())
    # As root the clusters run as "postgres", which must be able to walk down to tmp_path.
    # pytest makes these 0700; nothing resets them during the session.
    for folder in (basetemp, basetemp.parent):
        if folder != _TMP and str(folder).startswith(str(_TMP)):
            folder.chmod(0o711)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seed_text = os.environ.get("PGFLEX_SHUFFLE", "").strip()
    if not seed_text:
        return
    seed = random.randrange(1 << 30) if seed_text == "random" else int(seed_text)
    rng = random.Random(seed)
    by_file: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_file.setdefault(str(item.path), []).append(item)
    files = list(by_file)
    rng.shuffle(files)
    shuffled: list[pytest.Item] = []
    for name in files:
        group = by_file[name]
        rng.shuffle(group)
        shuffled.extend(group)
    items[:] = shuffled
    config.stash[_SHUFFLE_SEED] = seed


_SHUFFLE_SEED = pytest.StashKey[int]()


def pytest_report_header(config: pytest.Config) -> str | None:
    seed = config.stash.get(_SHUFFLE_SEED, None)
    return None if seed is None else f"shuffled with PGFLEX_SHUFFLE={seed}"


def pytest_terminal_summary(terminalreporter: object, exitstatus: int, config: pytest.Config) -> None:  # fmt: skip
    seed = config.stash.get(_SHUFFLE_SEED, None)
    if seed is not None:
        terminalreporter.write_line(f"shuffled with PGFLEX_SHUFFLE={seed}")  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    deadline = time.monotonic() + _PROCESS_GRACE_S
    while (left_children := _children()) and time.monotonic() < deadline:
        time.sleep(0.2)
    if left_children:
        for pid in left_children:
            try:
                psutil.Process(pid).kill()
            except psutil.Error:
                pass
        sys.stderr.write(
            "\nThe test session left child processes running (killed now): "
            + "; ".join(left_children.values())
            + "\n"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    left = sorted(
        name
        for name in {p.name for p in _TMP.iterdir()} - _tmp_before
        if not name.startswith("pytest-of-")
    )
    if left and os.environ.get("PGFLEX_ALLOW_TMP_LEFTOVERS") != "1":
        sys.stderr.write(
            "\nThe test session left these in "
            f"{_TMP} (a test or the code under test does not clean up): {', '.join(left)}\n"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def tmp_path(tmp_path: Path) -> Path:
    """pytest's ``tmp_path``, reachable by the PostgreSQL server user."""
    return reachable_by_server_user(tmp_path)


# -- leaks ------------------------------------------------------------------------------------

_THREAD_GRACE_S = 5.0
_PROCESS_GRACE_S = 10.0


def _children() -> dict[int, str]:
    found: dict[int, str] = {}
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            cmdline = " ".join(child.cmdline()[:4])
            # multiprocessing's resource tracker: one per interpreter, started by the first
            # spawn (the keystore probe) and meant to live as long as this process.
            if "multiprocessing.resource_tracker" not in cmdline:
                found[child.pid] = cmdline
        except psutil.Error:
            continue
    return found


def _owned_by_session(thread: threading.Thread) -> bool:
    """A session-scoped sandbox's per-connection server thread, serving a keep-alive socket.

    It ends when the client's pooled connection is closed (garbage collected); it is the
    sandbox's, not something the test left behind.
    """
    return thread.name.endswith("(process_request_thread)")


@pytest.fixture(autouse=True)
def _no_leaked_threads_or_processes(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves threads or child processes running (after a grace period).

    Session-scoped fixtures (the sandbox, Azurite) are set up before this snapshot, so what
    they own is not counted.
    """
    threads_before = set(threading.enumerate())
    children_before = set(_children())
    yield
    deadline = time.monotonic() + _THREAD_GRACE_S
    while True:
        leaked = [
            t for t in threading.enumerate()
            if t not in threads_before and t.is_alive() and not _owned_by_session(t)
        ]  # fmt: skip
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    deadline = time.monotonic() + _PROCESS_GRACE_S
    while True:
        procs = {pid: cmd for pid, cmd in _children().items() if pid not in children_before}
        if not procs or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if request.node.get_closest_marker("children_owned_by_fixture") is not None:
        procs = {}  # e.g. Azurite restarted for a module's data plane: checked at session end
    problems = []
    if leaked:
        problems.append("threads left running: " + ", ".join(sorted(t.name for t in leaked)))
    if procs:
        problems.append("child processes left running: " + "; ".join(procs.values()))
    if problems:
        pytest.fail(f"{request.node.nodeid}: " + " / ".join(problems), pytrace=False)
