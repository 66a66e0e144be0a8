"""pg_restore / psql command lines (pure), the runner, and ``--verbose`` progress parsing."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pgflex_gui.postgres.dumps import TOC_DESCS, DumpKind, Toc
from pgflex_gui.postgres.outcome import ProcessOutcome
from pgflex_gui.postgres.process import SAFE_PGOPTIONS, run_streaming
from pgflex_gui.postgres.tools import PgTool

__all__ = [
    "ProgressEvent",
    "RestoreProgress",
    "build_pg_restore_argv",
    "build_psql_argv",
    "run_restore",
]


def build_pg_restore_argv(
    tool: PgTool,
    *,
    archive: Path | str,
    dbname: str,
    host: str,
    port: int,
    user: str,
    fmt: DumpKind | None = None,
    jobs: int = 1,
    no_owner: bool = True,
    no_privileges: bool = False,
    clean: bool = False,
    exit_on_error: bool = False,
    verbose: bool = True,
    extra: Sequence[str] = (),
) -> list[str]:
    """The pg_restore argv. Never holds a password; never prompts for one (``-w``).

    ``extra``: the plan's option flags (sections, data/schema only, ``-n``/``-t``, ``-1``).

    ``jobs`` > 1 only applies to a custom-format file or a directory (not tar, not stdin).
    """
    argv = [str(tool.path), "-h", host, "-p", str(port), "-U", user, "-d", dbname, "-w"]
    if fmt is not None and fmt.pg_restore_format:
        argv += ["-F", fmt.pg_restore_format]
    parallel_ok = fmt in (DumpKind.CUSTOM, DumpKind.DIRECTORY) and str(archive) != "-"
    if jobs > 1 and parallel_ok:
        argv += ["-j", str(jobs)]
    if no_owner:
        argv.append("--no-owner")
    if no_privileges:
        argv.append("--no-privileges")
    if clean:
        argv += ["--clean", "--if-exists"]
    if exit_on_error:
        argv.append("--exit-on-error")
    argv += list(extra)
    if verbose:
        argv.append("--verbose")
    if str(archive) != "-":
        argv.append(str(archive))
    return argv


def build_psql_argv(
    tool: PgTool,
    *,
    sql_file: Path | str,
    dbname: str,
    host: str,
    port: int,
    user: str,
    on_error_stop: bool = False,
    single_transaction: bool = False,
    echo_errors: bool = True,
) -> list[str]:
    """The psql argv for running a plain SQL file (no ~/.psqlrc, never prompts)."""
    argv = [str(tool.path), "-X", "-w", "-h", host, "-p", str(port), "-U", user, "-d", dbname]
    argv += ["-v", f"ON_ERROR_STOP={1 if on_error_stop else 0}"]
    if single_transaction:
        argv.append("--single-transaction")
    if echo_errors:
        argv.append("--echo-errors")
    argv += ["-f", str(sql_file)]
    return argv


@dataclass(frozen=True)
class ProgressEvent:
    """One restored object, as pg_restore --verbose reports it."""

    done: int
    total: int
    action: str  # creating | processing data | executing | finished | launching
    desc: str  # TABLE, TABLE DATA, INDEX, ...
    name: str

    @property
    def percent(self) -> float:
        """0..99 while running; the job shows 100 only when the process succeeded."""
        if self.total <= 0:
            return 0.0
        return min(99.0, 100.0 * self.done / self.total)

    @property
    def text(self) -> str:
        return f"{self.action} {self.desc} {self.name}".replace("  ", " ").strip()


_ITEM_RE = re.compile(r"^pg_restore: (processing|finished|launching) item (\d+) (.+)$")
_CREATING_RE = re.compile(r'^pg_restore: creating (.+?) "(.*)"$')
_DATA_RE = re.compile(r'^pg_restore: processing data for table "(.*)"$')
_EXEC_RE = re.compile(r"^pg_restore: executing ([A-Z][A-Z ]*[A-Z]) (\S.*)$")
# Entries pg_restore handles without a "creating" line of their own.
_SILENT = frozenset({"ENCODING", "STDSTRINGS", "SEARCHPATH", "DATABASE", "DATABASE PROPERTIES"})


class RestoreProgress:
    """Turn ``pg_restore --verbose`` lines into per-object progress against the TOC.

    Serial restores print ``creating X "name"`` per item; parallel ones (and newer
    versions) print ``processing item N ...`` / ``finished item N ...`` too. Once item
    numbers are seen, only those are counted, so nothing is counted twice.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self._ids: set[int] = set()
        self._plain = 0

    @classmethod
    def for_toc(cls, toc: Toc) -> RestoreProgress:
        return cls(sum(1 for e in toc.entries if e.desc not in _SILENT))

    @property
    def done(self) -> int:
        return min(self.total, len(self._ids) if self._ids else self._plain)

    def feed(self, line: str) -> ProgressEvent | None:
        """An event for lines that report an object, else None."""
        if match := _ITEM_RE.match(line):
            action, item, rest = match.groups()
            desc, name = _split_desc(rest)
            if action != "launching" and desc not in _SILENT:
                self._ids.add(int(item))
            return ProgressEvent(self.done, self.total, action, desc, name)
        if match := _DATA_RE.match(line):
            self._plain += 1
            return ProgressEvent(self.done, self.total, "processing data", "TABLE DATA", match[1])
        if match := _CREATING_RE.match(line):
            self._plain += 1
            return ProgressEvent(self.done, self.total, "creating", match[1], match[2])
        if (match := _EXEC_RE.match(line)) and match[1] not in ("SELECT", "SET"):
            self._plain += 1
            return ProgressEvent(self.done, self.total, "executing", match[1], match[2])
        return None


def _split_desc(rest: str) -> tuple[str, str]:
    desc = next((d for d in TOC_DESCS if rest == d or rest.startswith(d + " ")), "")
    if not desc:
        desc, _, name = rest.partition(" ")
        return desc, name
    return desc, rest[len(desc) + 1 :]


def run_restore(
    argv: list[str],
    *,
    password: str | None,
    on_line: Callable[[str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    toc: Toc | None = None,
    sslmode: str | None = None,
    pgoptions: str | None = SAFE_PGOPTIONS,
    grace: float = 5.0,
) -> ProcessOutcome:
    """Run a pg_restore or psql argv from the builders above.

    The password goes only into the child's environment (``child_env``). With
    ``toc`` and ``on_progress``, every verbose line that names an object reports progress.
    """
    progress = RestoreProgress.for_toc(toc) if toc is not None else RestoreProgress(0)

    def handle(line: str) -> None:
        if on_line is not None:
            on_line(line)
        if on_progress is not None and (event := progress.feed(line)) is not None:
            on_progress(event)

    outcome = run_streaming(
        argv,
        password=password,
        on_line=handle,
        cancel=cancel,
        pgoptions=pgoptions,
        sslmode=sslmode,
        grace=grace,
    )
    if on_progress is not None and outcome.ok and progress.total:
        # Parallel workers (-j) do not print a line for every item; a clean exit means all
        # of them were restored, so progress ends at 100 %.
        on_progress(ProgressEvent(progress.total, progress.total, "finished", "", ""))
    return outcome
