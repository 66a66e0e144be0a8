"""Logging for pgflex-gui: a rotating file, redaction of secrets, the activity ring, the audit log.

* :func:`setup_logging` installs a rotating file handler (5 MB x 5) under the platform's
  user log folder, with a :class:`RedactionFilter` and a :class:`RedactingFormatter`.
* :func:`redact` removes bearer tokens and JWTs, SAS signatures, storage account keys,
  passwords and client secrets, and every value given to :func:`register_secret` (the
  keystore registers each secret it hands out), wherever they appear.
* The ``pgflex_gui.activity`` logger feeds :class:`ActivityRing` (last N records, with
  subscribers) for the Activity panel.
* :class:`AuditLog` is an append-only JSON-lines file of who did what to which resource.

Qt's own messages are routed into logging by the UI (``ui/``), not here.
"""

from __future__ import annotations

import collections
import getpass
import json
import logging
import logging.handlers
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pgflex_gui import paths

__all__ = [
    "ACTIVITY_LOGGER",
    "REDACTED",
    "ActivityRing",
    "AuditLog",
    "LogSetup",
    "RedactingFormatter",
    "RedactionFilter",
    "activity_logger",
    "audit_log_path",
    "clear_registered_secrets",
    "install_redaction",
    "redact",
    "redact_data",
    "register_secret",
    "setup_logging",
]

log = logging.getLogger(__name__)

REDACTED = "[REDACTED]"
ACTIVITY_LOGGER = "pgflex_gui.activity"
LOG_FILE_NAME = "pgflex-gui.log"
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 5
MIN_SECRET_LENGTH = 4  # shorter registered values would scrub ordinary words

# Names of fields whose values are secrets, in JSON, dict reprs, URLs and key=value text.
_SECRET_NAME = (
    r"(?:[A-Za-z0-9_.-]*?(?:password|passwd|secret|token|accountkey|sharedaccesssignature"
    r"|connectionstring|primarykey|secondarykey)[A-Za-z0-9_.-]*|pwd|sig|sas|key1|key2)"
)
SECRET_NAME_RE = re.compile(rf"^{_SECRET_NAME}$", re.IGNORECASE)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # "administratorLoginPassword": "...", 'client_secret': '...', "key1": "..."
    (
        re.compile(
            rf"""(?P<q1>["'])(?P<name>{_SECRET_NAME})(?P=q1)(?P<sep>\s*:\s*)(?P<q2>["'])"""
            r"""(?P<value>(?:\\.|(?!(?P=q2)).)*)(?P=q2)""",
            re.IGNORECASE,
        ),
        rf"\g<q1>\g<name>\g<q1>\g<sep>\g<q2>{REDACTED}\g<q2>",
    ),
    # Authorization: Bearer xxx / "Bearer xxx"
    (
        re.compile(r"\b(Bearer\s+)(?!\[REDACTED\])[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE),
        rf"\1{REDACTED}",
    ),
    # JWTs anywhere (access tokens, id tokens, client assertions)
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}"),
        REDACTED,
    ),
    # AccountKey=...;  SharedAccessSignature=...;  (connection strings)
    (
        re.compile(r"\b(AccountKey|SharedAccessSignature)=[^;\s\"'<>]+", re.IGNORECASE),
        rf"\1={REDACTED}",
    ),
    # password=..., PGPASSWORD=..., client_secret=..., sig=... (URLs, env, kwargs, reprs)
    (
        re.compile(
            rf"\b(?P<name>{_SECRET_NAME})(?P<sep>\s*=\s*)"
            r"(?P<value>\"[^\"]*\"|'[^']*'|(?!\[REDACTED\])[^\s;&,\"'<>)\]}]+)",
            re.IGNORECASE,
        ),
        rf"\g<name>\g<sep>{REDACTED}",
    ),
    # password: "...", secret: '...' (YAML, log text with a quoted value)
    (
        re.compile(
            rf"\b(?P<name>{_SECRET_NAME})(?P<sep>\s*:\s*)(?P<value>\"[^\"]*\"|'[^']*')",
            re.IGNORECASE,
        ),
        rf"\g<name>\g<sep>{REDACTED}",
    ),
    # scheme://user:password@host
    (
        re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:)(?!\[REDACTED\])[^@\s/]+@"),
        rf"\g<pre>{REDACTED}@",
    ),
    # Storage account keys: 64 random bytes, base64 = 86 characters and "=="
    (
        re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}=="),
        REDACTED,
    ),
]

_secrets_lock = threading.Lock()
_secrets: set[str] = set()
_secrets_re: re.Pattern[str] | None = None


def register_secret(value: str | bytes | None) -> None:
    """Scrub ``value`` from every log line, traceback and audit record from now on."""
    global _secrets_re
    if value is None:
        return
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return
    candidates = {value, value.strip()}
    with _secrets_lock:
        added = False
        for item in candidates:
            if len(item) >= MIN_SECRET_LENGTH and item not in _secrets:
                _secrets.add(item)
                added = True
        if added:
            ordered = sorted(_secrets, key=len, reverse=True)
            _secrets_re = re.compile("|".join(re.escape(s) for s in ordered))


def clear_registered_secrets() -> None:
    """Forget every registered value (tests, sign-out)."""
    global _secrets_re
    with _secrets_lock:
        _secrets.clear()
        _secrets_re = None


def redact(text: object) -> str:
    """``text`` (as ``str``) without tokens, SAS signatures, keys, passwords and secrets."""
    if not text:
        return "" if text is None else str(text)
    if not isinstance(text, str):
        text = str(text)
    pattern = _secrets_re
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for regex, replacement in _PATTERNS:
        text = regex.sub(replacement, text)
    return text


def redact_data(value: Any) -> Any:
    """A copy of JSON-like data with secret-named fields and secret-looking strings redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if SECRET_NAME_RE.match(name) and item not in (None, "", [], {}):
                out[name] = REDACTED
            else:
                out[name] = redact_data(item)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_data(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


_plain_formatter = logging.Formatter()


class RedactionFilter(logging.Filter):
    """Redacts a record's message, exception text and stack in place (never drops a record).

    The message is formatted once and frozen (``args`` cleared), and the traceback is
    formatted into ``exc_text`` so that any formatter downstream uses the redacted text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            try:
                record.exc_text = _plain_formatter.formatException(record.exc_info)
            except Exception:  # noqa: BLE001
                record.exc_text = "(traceback unavailable)"
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RedactingFormatter(logging.Formatter):
    """A formatter whose whole output (message, exception, stack) goes through :func:`redact`."""

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return redact(super().formatStack(stack_info))

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _UTCFormatter(RedactingFormatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z"


FILE_FORMAT = "%(asctime)s %(levelname)-8s %(name)s [%(threadName)s] %(message)s"


def install_redaction(handler: logging.Handler) -> logging.Handler:
    """Add the redaction filter to ``handler`` (once); every handler the app adds needs it."""
    if not any(isinstance(f, RedactionFilter) for f in handler.filters):
        handler.addFilter(RedactionFilter())
    return handler


Subscriber = Callable[[logging.LogRecord], None]


class ActivityRing(logging.Handler):
    """Keeps the last ``capacity`` records and tells subscribers about each new one.

    Subscribers are called on the thread that logged; the UI hops to its own thread.
    """

    def __init__(self, capacity: int = 500, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._records: collections.deque[logging.LogRecord] = collections.deque(maxlen=capacity)
        self._subscribers: list[Subscriber] = []
        self._ring_lock = threading.Lock()
        install_redaction(self)

    @property
    def capacity(self) -> int:
        return self._records.maxlen or 0

    def emit(self, record: logging.LogRecord) -> None:
        with self._ring_lock:
            self._records.append(record)
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(record)
            except Exception:  # noqa: BLE001 - one bad subscriber must not stop logging
                self.handleError(record)

    def records(self) -> list[logging.LogRecord]:
        with self._ring_lock:
            return list(self._records)

    def messages(self) -> list[str]:
        return [r.getMessage() for r in self.records()]

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(record)`` for each new record; returns an unsubscribe function."""
        with self._ring_lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._ring_lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def clear(self) -> None:
        with self._ring_lock:
            self._records.clear()


def activity_logger() -> logging.Logger:
    """The logger whose INFO+ records show in the Activity panel (and in the log file)."""
    return logging.getLogger(ACTIVITY_LOGGER)


@dataclass
class LogSetup:
    """What :func:`setup_logging` installed; :meth:`close` removes it again."""

    log_dir: Path
    log_file: Path
    file_handler: logging.Handler
    activity: ActivityRing
    handlers: list[logging.Handler] = field(default_factory=list)

    def close(self) -> None:
        root = logging.getLogger()
        for handler in self.handlers:
            root.removeHandler(handler)
            logging.getLogger(ACTIVITY_LOGGER).removeHandler(handler)
            handler.close()
        global _installed
        if _installed is self:
            _installed = None


_installed: LogSetup | None = None


def setup_logging(
    log_dir: Path | str | None = None,
    *,
    level: int = logging.INFO,
    activity_capacity: int = 500,
    console: bool = False,
    azure_level: int = logging.WARNING,
) -> LogSetup:
    """Install the rotating file log, redaction on every root handler, and the activity ring.

    Calling it again replaces what the previous call installed.
    """
    global _installed
    if _installed is not None:
        _installed.close()
    folder = Path(log_dir) if log_dir is not None else paths.log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    log_file = folder / LOG_FILE_NAME

    formatter = _UTCFormatter(FILE_FORMAT)
    file_handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8", delay=True
    )
    file_handler.setFormatter(formatter)
    install_redaction(file_handler)
    handlers: list[logging.Handler] = [file_handler]

    root = logging.getLogger()
    root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(formatter)
        install_redaction(stream)
        root.addHandler(stream)
        handlers.append(stream)
    root.setLevel(min(level, logging.WARNING))
    logging.getLogger("pgflex_gui").setLevel(level)
    logging.getLogger("azure").setLevel(azure_level)
    logging.getLogger("msal").setLevel(max(azure_level, logging.WARNING))
    for handler in root.handlers:  # handlers others installed earlier get redaction too
        install_redaction(handler)
    logging.captureWarnings(True)

    activity = ActivityRing(activity_capacity)
    logging.getLogger(ACTIVITY_LOGGER).addHandler(activity)
    handlers.append(activity)

    _installed = LogSetup(
        log_dir=folder,
        log_file=log_file,
        file_handler=file_handler,
        activity=activity,
        handlers=handlers,
    )
    log.info("logging to %s", log_file)
    return _installed


def audit_log_path() -> Path:
    """Where the audit log lives (the app's data folder)."""
    return paths.data_dir() / "audit.jsonl"


class AuditLog:
    """Append-only JSON lines: ``{when, who, what, target, result, details}``, one per action.

    Each record is redacted, written with a single ``write`` on an ``O_APPEND`` descriptor
    and fsynced before :meth:`record` returns. Thread-safe.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else audit_log_path()
        self._lock = threading.Lock()

    def record(
        self,
        *,
        what: str,
        target: str,
        result: str,
        who: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "when": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "who": who if who is not None else _os_user(),
            "what": what,
            "target": target,
            "result": result,
            "details": details or {},
        }
        entry = redact_data(entry)
        line = (json.dumps(entry, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
            fd = os.open(self.path, flags, 0o600)
            try:
                written = 0
                while written < len(line):
                    written += os.write(fd, line[written:])
                os.fsync(fd)
            finally:
                os.close(fd)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """Every record, oldest first (a torn last line is skipped)."""
        return list(self._read())

    def _read(self) -> Iterable[dict[str, Any]]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        log.warning("skipping a damaged audit line in %s", self.path)
        except FileNotFoundError:
            return


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name on some containers
        return "unknown"
