"""Run a pg tool: password in its environment only, both pipes drained, cancellable."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from pgflex_gui.postgres.outcome import ProcessOutcome, collect_errors, is_error_line

__all__ = ["SAFE_PGOPTIONS", "child_env", "run_streaming"]

# Session settings that only make a restore faster and are safe for any user on flex.
# No parallel index builds: pg_restore -j already runs one build per core, and extra workers
# only oversubscribe the CPUs (measured: a 2-core restore 20.1 s instead of 24.2 s).
SAFE_PGOPTIONS = (
    "-c synchronous_commit=off -c maintenance_work_mem=256MB -c max_parallel_maintenance_workers=0"
)
_KEEP_ERROR_LINES = 10_000


def child_env(
    password: str | None,
    *,
    pgoptions: str | None = SAFE_PGOPTIONS,
    sslmode: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one pg tool child: the password, our options, nothing inherited.

    The password travels in the child's environment only: never argv (anyone can list it),
    never a file (a temporary .pgpass would outlive a kill -9 of the app), never our own
    ``os.environ``. A process's environment is readable only by its user and the
    administrator (Linux ``/proc/<pid>/environ`` is mode 0400; macOS and Windows likewise),
    and it is gone when the child ends.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PGPASSWORD", "PGPASSFILE")}
    env["PGAPPNAME"] = "pgflex-gui"
    env.setdefault("PGCONNECT_TIMEOUT", "15")
    if password is not None:
        env["PGPASSWORD"] = password
    if pgoptions:
        env["PGOPTIONS"] = pgoptions
    if sslmode:
        env["PGSSLMODE"] = sslmode
    if extra:
        env.update(extra)
    return env


def _pump(stream: object, name: str, out: queue.Queue[tuple[str, str | None]]) -> None:
    try:
        for line in stream:  # type: ignore[attr-defined]
            out.put((name, line.rstrip("\r\n")))
    finally:
        out.put((name, None))


def _stop(proc: subprocess.Popen[str], *, hard: bool) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if sys.platform != "win32":
            os.killpg(proc.pid, signal.SIGKILL if hard else signal.SIGTERM)
        elif hard:
            proc.kill()
        else:
            proc.terminate()


def _sweep_group(proc: subprocess.Popen[str]) -> None:
    """Kill what is left of a stopped tool's process group (e.g. ``pg_restore -j`` workers).

    The tool was started in its own session, so its group id is its pid; the group outlives
    the leader while a member runs. Called right after the leader was reaped.
    """
    if sys.platform == "win32" or proc.returncode is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_streaming(
    argv: list[str],
    *,
    password: str | None,
    on_line: Callable[[str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    pgoptions: str | None = SAFE_PGOPTIONS,
    sslmode: str | None = None,
    grace: float = 5.0,
    tool: str | None = None,
) -> ProcessOutcome:
    """Run ``argv``; feed every output line to ``on_line``; stop when ``cancel()`` is true.

    If ``on_line`` raises (e.g. a job's Cancelled), the process is stopped and the
    exception propagates.
    """
    started = time.monotonic()
    kept: list[str] = []
    after_error = False
    cancelled = False
    kill_at: float | None = None
    env = child_env(password, pgoptions=pgoptions, sslmode=sslmode)
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
        start_new_session=sys.platform != "win32",
    )
    lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, "out", lines), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, "err", lines), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    open_streams = len(pumps)
    try:
        while open_streams:
            if not cancelled and cancel is not None and cancel():
                cancelled = True
                kill_at = time.monotonic() + grace
                _stop(proc, hard=False)
            if kill_at is not None and time.monotonic() > kill_at:
                _stop(proc, hard=True)
                kill_at = None
            try:
                name, line = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                open_streams -= 1
                continue
            if name == "err" and len(kept) < _KEEP_ERROR_LINES:
                if is_error_line(line):
                    kept.append(line)
                    after_error = True
                elif after_error and line.lstrip().startswith("Command was:"):
                    kept.append(line)
                else:
                    after_error = False
            if on_line is not None:
                on_line(line)
        try:
            exit_code = proc.wait(timeout=grace if cancelled else None)
        except subprocess.TimeoutExpired:
            _stop(proc, hard=True)
            exit_code = proc.wait()
    except BaseException:
        _stop(proc, hard=False)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _stop(proc, hard=True)
            proc.wait()
        _sweep_group(proc)
        raise
    finally:
        if cancelled:
            _sweep_group(proc)
        for pump in pumps:
            pump.join(timeout=1)
    errors, benign, fatal = collect_errors(kept)
    if cancelled:
        benign, fatal = [], []
    return ProcessOutcome(
        exit_code=exit_code,
        error_lines=tuple(errors),
        benign_errors=tuple(benign),
        fatal_errors=tuple(fatal),
        cancelled=cancelled,
        duration=time.monotonic() - started,
        tool=tool or Path(argv[0]).stem,
    )
