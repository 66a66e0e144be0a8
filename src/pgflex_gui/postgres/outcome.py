"""What a pg_restore / psql / pg_dump run came to, and the one translator into AppError.

pg tools print errors as ``pg_restore: error: could not execute query: ERROR: ...``
followed by ``Command was: ...``; psql prints ``psql:file.sql:12: ERROR: ...``. Some of
them are known to be harmless on Azure Database for PostgreSQL flexible server (the
fact sheet, section 6 and 9); those are ``benign`` and do not fail the restore.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pgflex_gui.domain.errors import AppError, Cancelled, Fault
from pgflex_gui.domain.restore_summary import duration_words

__all__ = [
    "ErrorVerdict",
    "ProcessOutcome",
    "classify_error",
    "collect_errors",
    "is_error_line",
    "outcome_error",
    "raise_for_outcome",
]


@dataclass(frozen=True)
class ErrorVerdict:
    """How one error line is judged: harmless or not, why, and what to do."""

    benign: bool
    reason: str
    remedy: str = ""
    fault: Fault = Fault.USER


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    verdict: ErrorVerdict


def _rule(
    pattern: str, *, benign: bool, reason: str, remedy: str = "", fault: Fault = Fault.USER
) -> _Rule:
    return _Rule(re.compile(pattern, re.IGNORECASE), ErrorVerdict(benign, reason, remedy, fault))


_ALLOW_LIST_REMEDY = (
    "Add the extension to the server parameter azure.extensions (and to "
    "shared_preload_libraries if it needs preloading, then restart the server), and run "
    "the restore again into an empty database."
)

# Order matters: the first match wins.
_RULES: tuple[_Rule, ...] = (
    _rule(
        r'unrecognized configuration parameter "transaction_timeout"',
        benign=True,
        reason="the client tools are newer than the server (SET transaction_timeout)",
    ),
    _rule(
        r'schema "public" already exists',
        benign=True,
        reason="the public schema already exists on the target",
    ),
    _rule(
        r"must be owner of (extension|schema) (plpgsql|public)",
        benign=True,
        reason="built-in objects belong to the server, not to the admin login",
    ),
    _rule(
        r"COMMENT ON EXTENSION|must be owner of extension",
        benign=True,
        reason="extension comments can only be set by the extension owner",
    ),
    _rule(
        r'role "[^"]*" does not exist',
        benign=True,
        reason="ownership or grants name a role that is not on this server",
    ),
    _rule(
        r'extension "[^"]*" is not (allow-listed|allowlisted)|is not allow-?listed',
        benign=False,
        reason="an extension is not allow-listed on the server",
        remedy=_ALLOW_LIST_REMEDY,
    ),
    _rule(
        r"only members of \"?azure_pg_admin\"?",
        benign=False,
        reason="the login is not a member of azure_pg_admin",
        remedy="Sign in as the server's administrator login (a member of azure_pg_admin).",
        fault=Fault.PERMISSION,
    ),
    _rule(
        r"input file appears to be a text format dump",
        benign=False,
        reason="the file is plain SQL, not a pg_dump archive",
        remedy="Restore it with psql instead of pg_restore (the app does this automatically "
        "when it classifies the file).",
    ),
    _rule(
        r"unsupported version \(\d+\.\d+\) in file header",
        benign=False,
        reason="pg_restore is older than the pg_dump that made the archive",
        remedy="Install newer PostgreSQL client tools, or set their folder in Settings.",
    ),
    _rule(
        r"password authentication failed|no password supplied|authentication failed",
        benign=False,
        reason="the server rejected the login or password",
        remedy="Check the admin login and password for the target server.",
        fault=Fault.PERMISSION,
    ),
    _rule(
        r'database "[^"]*" does not exist',
        benign=False,
        reason="the target database does not exist",
        remedy="Create the database first.",
    ),
    _rule(
        r"no pg_hba\.conf entry|could not connect|connection to server .* failed|"
        r"could not translate host name|timeout expired|server closed the connection",
        benign=False,
        reason="the server could not be reached",
        remedy="Check the server name, that it is running, and that its firewall allows "
        "this computer's IP address.",
        fault=Fault.NETWORK,
    ),
    _rule(
        r"permission denied|must be (owner|superuser|a member)",
        benign=False,
        reason="the login lacks a privilege",
        remedy="Restore as the server's administrator login.",
        fault=Fault.PERMISSION,
    ),
    _rule(
        r"no space left on device|could not extend file|disk full",
        benign=False,
        reason="the server ran out of storage",
        remedy="Increase the server's storage size and restore again.",
        fault=Fault.AZURE,
    ),
    _rule(
        r"could not open input file|No such file or directory|could not open file",
        benign=False,
        reason="the dump file could not be read",
        remedy="Download the backup files again.",
    ),
)

_ERROR_RE = re.compile(r"(^|:\s)(error|ERROR|FATAL|PANIC):\s")
_COMMAND_RE = re.compile(r"^\s*Command was:")


def is_error_line(line: str) -> bool:
    """True for a line a pg tool prints when something failed."""
    if "errors ignored on restore" in line:
        return False
    return bool(_ERROR_RE.search(line))


def classify_error(line: str, context: str = "") -> ErrorVerdict:
    """Judge one error line (``context`` is the ``Command was:`` text, if any)."""
    text = f"{line}\n{context}" if context else line
    for rule in _RULES:
        if rule.pattern.search(text):
            return rule.verdict
    return ErrorVerdict(benign=False, reason=_short(line))


def collect_errors(lines: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Split output into (error lines, benign, fatal); ``Command was:`` joins its error."""
    errors: list[str] = []
    benign: list[str] = []
    fatal: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not is_error_line(line):
            i += 1
            continue
        context = ""
        j = i + 1
        while j < len(lines) and (_COMMAND_RE.match(lines[j]) or lines[j].startswith(" ")):
            context += lines[j].strip() + " "
            j += 1
        # Parallel pg_restore repeats the child's error line; count each once.
        entry = line.rstrip()
        errors.append(entry)
        (benign if classify_error(entry, context).benign else fatal).append(entry)
        i = j
    return errors, benign, fatal


def _short(line: str) -> str:
    text = re.sub(r"^(pg_restore|pg_dump|psql)(:[^:]*:\d+)?:\s*", "", line.strip())
    text = re.sub(r"^(error|warning):\s*", "", text)
    text = re.sub(r"^could not execute query:\s*", "", text)
    text = re.sub(r"^(ERROR|FATAL):\s*", "", text)
    return text.strip()


@dataclass(frozen=True)
class ProcessOutcome:
    """The result of one pg tool run (pg_restore, psql, pg_dump)."""

    exit_code: int | None
    error_lines: tuple[str, ...] = ()
    benign_errors: tuple[str, ...] = ()
    fatal_errors: tuple[str, ...] = ()
    cancelled: bool = False
    duration: float = 0.0
    tool: str = "pg_restore"

    @property
    def ok(self) -> bool:
        """Finished, and every error it printed is a known harmless one."""
        if self.cancelled or self.fatal_errors:
            return False
        if self.exit_code == 0:
            return True
        # pg_restore exits 1 when errors were ignored; all of them benign means success.
        return self.exit_code == 1 and bool(self.benign_errors)

    def sentence(self) -> str:
        """One plain-language sentence for the job row."""
        took = _duration(self.duration)
        if self.cancelled:
            return f"{self.tool} was cancelled after {took}."
        if self.ok:
            if not self.benign_errors:
                return f"{self.tool} finished in {took} without errors."
            reasons = sorted({classify_error(e).reason for e in self.benign_errors})
            n = len(self.benign_errors)
            noun = "error was" if n == 1 else "errors were"
            return (
                f"{self.tool} finished in {took}; {n} known harmless {noun} ignored "
                f"({'; '.join(reasons)})."
            )
        if self.fatal_errors:
            first = classify_error(self.fatal_errors[0])
            more = len(self.fatal_errors) - 1
            tail = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
            return f"{self.tool} failed after {took}: {first.reason}{tail}."
        return f"{self.tool} failed after {took} with exit code {self.exit_code}."


_duration = duration_words


def outcome_error(outcome: ProcessOutcome) -> AppError | None:
    """The AppError for a failed run, or None when it succeeded (or was cancelled)."""
    if outcome.ok or outcome.cancelled:
        return None
    verdict = (
        classify_error(outcome.fatal_errors[0])
        if outcome.fatal_errors
        else ErrorVerdict(benign=False, reason="", fault=Fault.APP)
    )
    remedy = verdict.remedy or "See the details for the tool's own messages."
    details = "\n".join(outcome.error_lines[:200])
    return AppError(
        fault=verdict.fault,
        summary=outcome.sentence(),
        remedy=remedy,
        retryable=verdict.fault is Fault.NETWORK,
        details=details,
    )


def raise_for_outcome(outcome: ProcessOutcome) -> None:
    """Raise Cancelled or AppError unless the run succeeded."""
    if outcome.cancelled:
        raise Cancelled()
    error = outcome_error(outcome)
    if error is not None:
        raise error
