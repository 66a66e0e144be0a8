"""System databases in restored files: what is skipped, what is renamed, and why."""

from __future__ import annotations

import pytest

from pgflex_gui.domain.system_databases import (
    ALWAYS_SKIPPED,
    DEFAULT_POSTGRES_TARGET,
    decide_database,
    postgres_target_problem,
    user_object_count,
)


@pytest.mark.parametrize("name", ["template0", "template1", "azure_maintenance", "azure_sys"])
def test_service_databases_are_always_skipped(name: str) -> None:
    d = decide_database(name, postgres_as="anything")
    assert d.skipped
    assert not d.renamed
    assert d.line == f"{name} is not restored: {ALWAYS_SKIPPED[name]}."


def test_postgres_is_skipped_unless_asked_for() -> None:
    d = decide_database("postgres")
    assert d.skipped
    assert DEFAULT_POSTGRES_TARGET in d.reason
    asked = decide_database("postgres", postgres_as=DEFAULT_POSTGRES_TARGET)
    assert asked.renamed
    assert asked.target == "postgres_restored"
    assert asked.line.startswith("postgres is restored into a new database postgres_restored")


@pytest.mark.parametrize("bad", ["postgres", "POSTGRES", "template1", "azure_sys", " ", "x" * 64])
def test_postgres_never_goes_into_a_system_database(bad: str) -> None:
    assert postgres_target_problem(bad)
    d = decide_database("postgres", postgres_as=bad)
    assert d.skipped


def test_a_name_taken_by_a_restored_database_is_refused() -> None:
    assert "also a database" in postgres_target_problem("sales", existing=["sales", "hr"])
    assert postgres_target_problem("pg_copy", existing=["sales"]) == ""


def test_user_databases_keep_their_name() -> None:
    d = decide_database("sales", postgres_as="postgres_restored")
    assert (d.target, d.skipped, d.renamed, d.line) == ("sales", False, False, "sales is restored.")


def test_user_object_count_ignores_furniture() -> None:
    entries = [
        ("ENCODING", "", "ENCODING"),
        ("SCHEMA", "", "public"),
        ("COMMENT", "", "SCHEMA public"),
        ("EXTENSION", "", "pgcrypto"),
        ("SCHEMA", "", "dba_tools"),
        ("TABLE", "dba_tools", "runbook"),
        ("TABLE DATA", "dba_tools", "runbook"),
        ("ACL", "dba_tools", "TABLE runbook"),
        ("SEQUENCE SET", "dba_tools", "s"),
    ]
    assert user_object_count(entries) == 2
    assert user_object_count([]) == 0
