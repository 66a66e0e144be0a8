"""Opening a restored server in psql (in a terminal window) or in pgAdmin 4.

Only commands are built here; the UI starts them detached. The password never goes on a
command line: psql reads it from ``PGPASSWORD`` in the terminal's environment (on macOS,
where Terminal.app does not pass an environment on, psql asks for it).
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Launch", "find_pgadmin", "pgadmin_launch", "psql_launch"]

Which = Callable[[str], str | None]

# Linux terminals, in the order tried, with the flag after which the command follows.
_LINUX_TERMINALS = (
    ("x-terminal-emulator", "-e"),
    ("gnome-terminal", "--"),
    ("konsole", "-e"),
    ("xfce4-terminal", "-x"),
    ("kitty", "--"),
    ("alacritty", "-e"),
    ("xterm", "-e"),
)


@dataclass(frozen=True)
class Launch:
    """A program to start detached, or why it can't be (``program`` is "" then)."""

    program: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # added to the app's environment
    problem: str = ""  # why it can't start, in words
    note: str = ""  # what the user should know once it started

    @property
    def ok(self) -> bool:
        return bool(self.program) and not self.problem


def _terminal(system: str, env: Mapping[str, str], which: Which) -> tuple[str, tuple[str, ...]]:
    """The terminal program and the arguments that come before the command."""
    chosen = env.get("TERMINAL", "").strip()
    if chosen:  # the user's choice (a common convention on Linux desktops)
        parts = shlex.split(chosen)
        found = which(parts[0]) if parts else None
        if found:
            return found, (*parts[1:], "-e")
    if system == "Linux":
        for name, flag in _LINUX_TERMINALS:
            found = which(name)
            if found:
                return found, (flag,)
    return "", ()


def psql_launch(
    psql: Path | str | None,
    conninfo: str,
    *,
    password: str | None,
    system: str | None = None,
    env: Mapping[str, str] | None = None,
    which: Which = shutil.which,
) -> Launch:
    """psql connected with ``conninfo``, in a new terminal window."""
    system = system or platform.system()
    env = os.environ if env is None else env
    if not psql:
        return Launch(
            problem="psql was not found on this computer (see Help → Check this machine)."
        )
    secret = {"PGPASSWORD": password} if password else {}
    if system == "Windows":
        # "start" opens a console window; the child inherits the environment.
        return Launch("cmd.exe", ("/c", "start", "psql", str(psql), conninfo), secret)
    if system == "Darwin":
        script = f"{shlex.quote(str(psql))} {shlex.quote(conninfo)}"
        quoted = script.replace("\\", "\\\\").replace('"', '\\"')
        return Launch(
            "osascript",
            ("-e", f'tell application "Terminal" to do script "{quoted}"'),
            note="Terminal does not pass the password on: psql asks for it (copy it first).",
        )
    program, before = _terminal(system, env, which)
    if not program:
        return Launch(
            problem="No terminal program was found (set TERMINAL, or install xterm).",
        )
    return Launch(program, (*before, str(psql), conninfo), secret)


def find_pgadmin(
    system: str | None = None,
    *,
    which: Which = shutil.which,
    exists: Callable[[Path], bool] = Path.exists,
    env: Mapping[str, str] | None = None,
) -> Path | None:
    """pgAdmin 4's desktop program, where its installers put it."""
    system = system or platform.system()
    env = os.environ if env is None else env
    for name in ("pgadmin4", "pgAdmin4"):
        found = which(name)
        if found:
            return Path(found)
    candidates: list[Path] = []
    if system == "Windows":
        for base in (env.get("ProgramFiles", ""), env.get("LOCALAPPDATA", "") + "\\Programs"):
            if base:
                candidates.append(Path(base) / "pgAdmin 4" / "runtime" / "pgAdmin4.exe")
    elif system == "Darwin":
        candidates.append(Path("/Applications/pgAdmin 4.app"))
    else:
        candidates += [Path("/usr/pgadmin4/bin/pgadmin4"), Path("/opt/pgadmin4/bin/pgadmin4")]
    return next((c for c in candidates if exists(c)), None)


def pgadmin_launch(
    pgadmin: Path | None, servers_file: Path, *, system: str | None = None
) -> Launch:
    """pgAdmin 4, with the note telling where the server entry to import is."""
    system = system or platform.system()
    if pgadmin is None:
        return Launch(problem="pgAdmin 4 is not installed on this computer.")
    note = (
        f"In pgAdmin: Tools → Import/Export Servers… → Import, and choose {servers_file}. "
        "pgAdmin asks for the password on first connect."
    )
    if system == "Darwin" and pgadmin.suffix == ".app":
        return Launch("open", ("-a", str(pgadmin)), note=note)
    return Launch(str(pgadmin), (), note=note)
