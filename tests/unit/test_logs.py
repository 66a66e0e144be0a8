"""Redaction, the rotating log, the activity ring and the audit log."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgflex_gui import logs
from pgflex_gui.logs import (
    REDACTED,
    ActivityRing,
    AuditLog,
    RedactingFormatter,
    RedactionFilter,
    redact,
    register_secret,
)

JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQifQ.c2lnbmF0dXJl"
SAS_URL = (
    "https://acct.blob.core.windows.net/restore/db.dump"
    "?sv=2024-08-04&se=2026-12-01T00%3A00%3A00Z&sr=c&sp=rl&sig=Zm9vYmFyJTJCc2VjcmV0JTNE"
)
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
PASSWORD = "Pa55w0rd!x"
SIG = "c2lnbmF0dXJlLXNlY3JldA"


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    logs.clear_registered_secrets()
    yield
    logs.clear_registered_secrets()


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Bearer {JWT}", JWT),
        ("header Bearer abc.DEF-123_x", "abc.DEF-123_x"),
        (f"token={JWT}", JWT),
        (f"bare jwt {JWT} in text", JWT),
        (f"GET {SAS_URL} 200", "Zm9vYmFyJTJCc2VjcmV0JTNE"),
        (f"AccountName=a;AccountKey={ACCOUNT_KEY};EndpointSuffix=x", ACCOUNT_KEY),
        (f'{{"keyName": "key1", "value": "{ACCOUNT_KEY}"}}', ACCOUNT_KEY),
        (f'{{"key1": "{ACCOUNT_KEY}"}}', ACCOUNT_KEY),
        ('{"administratorLoginPassword": "Pa55w0rd!x", "version": "16"}', "Pa55w0rd!x"),
        ("PGPASSWORD=Pa55w0rd!x pg_restore -d postgres", "Pa55w0rd!x"),
        ("password=Pa55w0rd!x host=h", "Pa55w0rd!x"),
        ("client_secret=Q~abc.def&grant_type=client_credentials", "Q~abc.def"),
        ("{'password': 'Pa55w0rd!x', 'user': 'dba'}", "Pa55w0rd!x"),
        ("postgresql://dba:Pa55w0rd!x@server:5432/db", "Pa55w0rd!x"),
        ('password: "two words"', "two words"),
    ],
)
def test_redact_removes_secrets(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert REDACTED in out


def test_redact_keeps_ordinary_text() -> None:
    text = "design=ok signal=ok monkey1=ok restored 3 databases to server-a in 12 s"
    assert redact(text) == text
    assert "se=2026-12-01" in redact(SAS_URL)  # only the signature goes


def test_registered_secret_is_scrubbed_anywhere() -> None:
    register_secret("plain-looking-value-42")
    assert redact("x plain-looking-value-42 y") == f"x {REDACTED} y"
    register_secret("ab")  # too short to register: would scrub ordinary words
    assert redact("abc") == "abc"


def _logger(name: str, formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RedactionFilter())
    logger = logging.getLogger(f"pgflex_gui.test.{name}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def connect(password: str, sig: str) -> None:
    raise RuntimeError(f"login failed for password={password} url=?sv=1&sig={sig}")


@pytest.mark.parametrize("formatter", [logging.Formatter(), RedactingFormatter()])
def test_filter_redacts_message_and_traceback(formatter: logging.Formatter) -> None:
    logger, stream = _logger(type(formatter).__name__, formatter)
    register_secret("registered-secret-xyz")
    logger.info("token %s for %s", f"Bearer {JWT}", SAS_URL)
    try:
        connect(PASSWORD, SIG)
    except RuntimeError:
        logger.exception("restore failed with registered-secret-xyz and password=%s", "hunter22")
    out = stream.getvalue()
    for secret in (JWT, "Zm9vYmFyJTJCc2VjcmV0JTNE", "Pa55w0rd!x", "c2lnbmF0dXJlLXNlY3JldA"):
        assert secret not in out
    assert "registered-secret-xyz" not in out
    assert "hunter22" not in out
    assert "Traceback (most recent call last)" in out
    assert "RuntimeError: login failed for password=[REDACTED]" in out


def test_formatter_alone_redacts_exception_text() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter())  # no filter on this handler
    logger = logging.getLogger("pgflex_gui.test.formatter_only")
    logger.handlers[:] = [handler]
    logger.propagate = False
    try:
        raise ValueError(f"AccountKey={ACCOUNT_KEY}")
    except ValueError:
        logger.exception("oops")
    assert ACCOUNT_KEY not in stream.getvalue()


def test_setup_logging_writes_a_redacted_rotating_file(tmp_path: Path) -> None:
    root = logging.getLogger()
    old_level = root.level
    setup = logs.setup_logging(tmp_path / "logs", level=logging.DEBUG)
    try:
        assert setup.file_handler.maxBytes == 5 * 1024 * 1024
        assert setup.file_handler.backupCount == 5
        logging.getLogger("pgflex_gui.something").warning("PGPASSWORD=%s", "Pa55w0rd!x")
        logs.activity_logger().info("Restore of %s started", "srv-a")
        setup.file_handler.flush()
        text = setup.log_file.read_text(encoding="utf-8")
        assert "PGPASSWORD=[REDACTED]" in text
        assert "Pa55w0rd!x" not in text
        assert "Restore of srv-a started" in text
        assert setup.activity.messages()[-1] == "Restore of srv-a started"
    finally:
        setup.close()
        root.setLevel(old_level)
    assert setup.file_handler not in root.handlers


def test_activity_ring_keeps_last_n_and_notifies() -> None:
    ring = ActivityRing(capacity=3)
    logger = logging.getLogger("pgflex_gui.activity.test_ring")
    logger.handlers[:] = [ring]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    seen: list[str] = []
    unsubscribe = ring.subscribe(lambda r: seen.append(r.getMessage()))
    for i in range(5):
        logger.info("step %d password=%s", i, "Pa55w0rd!x")
    assert [m.split()[1] for m in ring.messages()] == ["2", "3", "4"]
    assert all("Pa55w0rd!x" not in m for m in ring.messages())
    assert len(seen) == 5
    unsubscribe()
    logger.info("after")
    assert len(seen) == 5
    assert ring.messages()[-1] == "after"


def test_audit_log_is_append_only_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "data" / "audit.jsonl"
    first = AuditLog(path).record(
        who="dba@contoso.com", what="restore", target="/subscriptions/1/srv", result="started"
    )
    before = path.read_bytes()
    AuditLog(path).record(
        who="dba@contoso.com",
        what="restore",
        target="/subscriptions/1/srv",
        result="succeeded",
        details={"container": SAS_URL, "adminPassword": "Pa55w0rd!x", "databases": ["a", "b"]},
    )
    after = path.read_bytes()
    assert after.startswith(before)  # appended, nothing rewritten
    lines = after.decode().splitlines()
    assert len(lines) == 2
    entries = [json.loads(line) for line in lines]
    assert set(entries[0]) == {"when", "who", "what", "target", "result", "details"}
    assert entries[0] == first
    assert entries[0]["when"].endswith("Z")
    assert entries[1]["details"]["adminPassword"] == REDACTED
    assert "Zm9vYmFyJTJCc2VjcmV0JTNE" not in after.decode()
    assert entries[1]["details"]["databases"] == ["a", "b"]
    assert "Pa55w0rd!x" not in after.decode()


def test_audit_log_is_thread_safe(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")

    def work(n: int) -> None:
        for i in range(25):
            audit.record(who=f"t{n}", what="x", target=str(i), result="ok")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = audit.entries()
    assert len(entries) == 200
    assert sorted({e["who"] for e in entries}) == [f"t{n}" for n in range(8)]


def test_audit_log_path_follows_pgflex_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGFLEX_HOME", str(tmp_path))
    assert logs.audit_log_path() == tmp_path / "data" / "audit.jsonl"
