"""``python -m pgflex_gui.sandbox up|down|reset|status|serve|token`` (``pgflex sandbox``)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["default_workdir", "main"]


def default_workdir() -> Path:
    """``$PGFLEX_SANDBOX_DIR`` or ``~/.local/share/pgflex-gui/sandbox``."""
    env = os.environ.get("PGFLEX_SANDBOX_DIR")
    return Path(env) if env else Path.home() / ".local/share/pgflex-gui/sandbox"


def _serve_pid(workdir: Path) -> int | None:
    """The pid of a live ``serve`` process of ``workdir`` (its pid file), else None."""
    try:
        pid = int((workdir / "serve.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _pid(workdir: Path) -> int | None:
    """The pid of whatever process serves ``workdir`` (it holds the folder's lock)."""
    from pgflex_gui.sandbox.workdir_lock import holder_pid

    return holder_pid(workdir)


def _status(workdir: Path, as_json: bool) -> int:
    pid = _pid(workdir)
    info_path = workdir / "sandbox.json"
    if pid is None or not info_path.exists():
        print(
            json.dumps({"running": False, "workdir": str(workdir)})
            if as_json
            else f"sandbox not running ({workdir})"
        )
        return 3
    info = json.loads(info_path.read_text())
    info["running"] = True
    info["pid"] = pid
    info["served_by"] = "pgflex sandbox serve" if _serve_pid(workdir) == pid else "pgflex-gui"
    info["client_secret_file"] = str(workdir / "client_secret")
    connection_file = workdir / "azurite_connection_string"
    if connection_file.exists():
        info["azurite_connection_string_file"] = str(connection_file)
    if as_json:
        print(json.dumps(info, indent=2))
    else:
        print(
            f"sandbox running (pid {pid}, {info['served_by']})\n  ARM:  {info['arm_endpoint']}\n"
            f"  CA:   {info['ca_bundle']}\n  blob: {info['blob_endpoint']}\n"
            f"  app:  {info['client_id']} (secret in {info['client_secret_file']})\n"
            f"  token: {info['token_command']}"
        )
    return 0


def _serve(workdir: Path, seed: str, port: int) -> int:
    from pgflex_gui.sandbox.runtime import Sandbox, WorkdirBusy
    from pgflex_gui.termination import on_termination, signal_name

    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        stop.set()

    # SIGTERM (kill, timeout, shutdown), SIGINT (Ctrl+C), SIGHUP (logout): stop everything.
    with on_termination(on_signal):
        try:
            box = Sandbox.start(workdir, seed=seed, port=port)
        except WorkdirBusy as exc:
            print(f"pgflex sandbox: {exc}", file=sys.stderr)
            return 1
        (workdir / "serve.pid").write_text(str(os.getpid()))
        print(f"sandbox ARM at {box.arm_endpoint}", flush=True)
        try:
            while not stop.wait(0.5):  # a timed wait lets the handlers run promptly
                pass
        finally:
            if received:
                print(f"{signal_name(received[0])}: stopping the sandbox", flush=True)
            box.stop()
            (workdir / "serve.pid").unlink(missing_ok=True)
    return 0


def _up(workdir: Path, seed: str, port: int, timeout: float) -> int:
    if _pid(workdir) is not None:
        return _status(workdir, False)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "serve.pid").unlink(missing_ok=True)
    log = open(workdir / "serve.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgflex_gui.sandbox",
            "serve",
            "--dir",
            str(workdir),
            "--seed",
            seed,
            "--port",
            str(port),
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(f"sandbox failed to start; see {workdir / 'serve.log'}", file=sys.stderr)
            return 1
        if _serve_pid(workdir) == proc.pid and _pid(workdir) == proc.pid:
            return _status(workdir, False)
        time.sleep(0.2)
    print("sandbox did not become ready in time", file=sys.stderr)
    return 1


def _down(workdir: Path) -> int:
    pid = _pid(workdir)
    if pid is None:
        print("sandbox not running")
        return 0
    if _serve_pid(workdir) != pid:
        print(
            f"the sandbox in {workdir} runs inside pgflex-gui (pid {pid}): close the app to "
            "stop it",
            file=sys.stderr,
        )
        return 1
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _pid(workdir) == pid:
        time.sleep(0.2)
    print("sandbox stopped")
    return 0


def _reset(workdir: Path) -> int:
    """Stop the sandbox and delete its state and data, including clusters kept elsewhere."""
    from pgflex_gui.sandbox.pgcluster import external_pg_homes

    if not (workdir / "state.json").exists():
        print(f"{workdir} holds no sandbox (no state.json); nothing deleted", file=sys.stderr)
        return 2
    _down(workdir)
    if _pid(workdir) is not None:
        print("the sandbox did not stop; nothing deleted (try again)", file=sys.stderr)
        return 1
    homes = external_pg_homes((workdir / "data").resolve())
    for home in homes:
        shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"sandbox deleted: {workdir}" + (f" and {len(homes)} cluster(s)" if homes else ""))
    return 0


def _token(workdir: Path, tenant: str | None) -> int:
    from pgflex_gui.sandbox.arm.auth import issue_token

    state = json.loads((workdir / "state.json").read_text())
    client_id = state["settings"]["client_id"]
    tid = (tenant or sorted(state["tenants"])[0]).lower()
    oid = state["apps"][client_id]["principals"].get(tid)
    if oid is None:
        print(f"unknown tenant {tid}", file=sys.stderr)
        return 2
    token, _ = issue_token(
        bytes.fromhex(state["settings"]["signing_key"]),
        issuer=f"https://sts.windows.net/{tid}/",
        tenant_id=tid,
        oid=oid,
        appid=client_id,
    )
    print(token)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="pgflex sandbox", description=__doc__)
    parser.add_argument("--dir", type=Path, default=None, help="sandbox workdir")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "serve"):
        p = sub.add_parser(name)
        p.add_argument("--dir", type=Path, default=None, dest="subdir")
        p.add_argument(
            "--seed", default="default", choices=["default", "minimal", "empty", "inventory"]
        )
        p.add_argument("--port", type=int, default=0)
        p.add_argument("--timeout", type=float, default=120.0)
    p = sub.add_parser("down")
    p.add_argument("--dir", type=Path, default=None, dest="subdir")
    p = sub.add_parser("reset", help="stop, then delete the sandbox's state and data")
    p.add_argument("--dir", type=Path, default=None, dest="subdir")
    p = sub.add_parser("status")
    p.add_argument("--dir", type=Path, default=None, dest="subdir")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("token")
    p.add_argument("--dir", type=Path, default=None, dest="subdir")
    p.add_argument("--tenant", default=None)
    args = parser.parse_args(argv)
    workdir = (args.subdir or args.dir or default_workdir()).expanduser().resolve()
    if args.command == "serve":
        return _serve(workdir, args.seed, args.port)
    if args.command == "up":
        return _up(workdir, args.seed, args.port, args.timeout)
    if args.command == "down":
        return _down(workdir)
    if args.command == "reset":
        return _reset(workdir)
    if args.command == "status":
        return _status(workdir, args.json)
    return _token(workdir, args.tenant)
