"""Classifying pg tool errors and the one-sentence summaries."""

import pytest

from pgflex_gui.domain.errors import AppError, Cancelled, Fault
from pgflex_gui.postgres.outcome import (
    ProcessOutcome,
    classify_error,
    collect_errors,
    outcome_error,
    raise_for_outcome,
)

PG18_INTO_15 = [
    "pg_restore: connecting to database for restore",
    "pg_restore: while INITIALIZING:",
    'pg_restore: error: could not execute query: ERROR:  unrecognized configuration parameter "transaction_timeout"',
    "Command was: SET transaction_timeout = 0;",
    'pg_restore: creating TABLE "public.items"',
    "pg_restore: warning: errors ignored on restore: 1",
]


@pytest.mark.parametrize(
    "line",
    [
        'pg_restore: error: could not execute query: ERROR:  unrecognized configuration parameter "transaction_timeout"',
        'pg_restore: error: could not execute query: ERROR:  schema "public" already exists',
        "pg_restore: error: could not execute query: ERROR:  must be owner of extension plpgsql",
        'pg_restore: error: could not execute query: ERROR:  role "app_owner" does not exist',
    ],
)
def test_known_harmless_errors_are_benign(line: str) -> None:
    assert classify_error(line).benign


def test_comment_on_extension_is_benign_through_its_command() -> None:
    line = "pg_restore: error: could not execute query: ERROR:  must be owner of extension pg_trgm"
    assert classify_error(line, "Command was: COMMENT ON EXTENSION pg_trgm IS 'x';").benign


@pytest.mark.parametrize(
    ("line", "fault", "remedy_word"),
    [
        (
            'pg_restore: error: could not execute query: ERROR:  extension "pg_cron" is not '
            'allow-listed for "azure_pg_admin" users in Azure Database for PostgreSQL',
            Fault.USER,
            "azure.extensions",
        ),
        (
            'pg_restore: error: could not execute query: ERROR:  Only members of "azure_pg_admin"'
            " are allowed to use CREATE EXTENSION",
            Fault.PERMISSION,
            "administrator",
        ),
        (
            "pg_restore: error: input file appears to be a text format dump. Please use psql.",
            Fault.USER,
            "psql",
        ),
        (
            "pg_restore: error: unsupported version (1.16) in file header",
            Fault.USER,
            "newer",
        ),
        (
            'psql: error: connection to server at "x", port 5432 failed: Connection refused',
            Fault.NETWORK,
            "firewall",
        ),
        (
            'psql: error: connection to server at "x", port 5432 failed: FATAL:  password '
            'authentication failed for user "admin"',
            Fault.PERMISSION,
            "password",
        ),
    ],
)
def test_fatal_errors_carry_a_remedy(line: str, fault: Fault, remedy_word: str) -> None:
    verdict = classify_error(line)
    assert not verdict.benign
    outcome = ProcessOutcome(exit_code=1, error_lines=(line,), fatal_errors=(line,))
    error = outcome_error(outcome)
    assert error is not None
    assert error.fault is fault
    assert remedy_word in error.remedy
    assert line in error.details


def test_collect_errors_joins_command_and_skips_warning() -> None:
    errors, benign, fatal = collect_errors(PG18_INTO_15)
    assert len(errors) == 1
    assert len(benign) == 1
    assert fatal == []


def test_exit_one_with_only_benign_errors_is_success() -> None:
    _errors, benign, _fatal = collect_errors(PG18_INTO_15)
    outcome = ProcessOutcome(exit_code=1, error_lines=tuple(benign), benign_errors=tuple(benign))
    assert outcome.ok
    assert outcome_error(outcome) is None
    raise_for_outcome(outcome)
    assert "1 known harmless error was ignored" in outcome.sentence()
    assert "newer than the server" in outcome.sentence()


def test_psql_error_lines_are_recognised() -> None:
    lines = ['psql:/tmp/roles.sql:12: ERROR:  role "azuresu" does not exist']
    errors, benign, _fatal = collect_errors(lines)
    assert errors == lines
    assert benign == lines


def test_unknown_error_fails_with_its_own_text() -> None:
    line = 'pg_restore: error: could not execute query: ERROR:  relation "x" already exists'
    outcome = ProcessOutcome(exit_code=1, error_lines=(line,), fatal_errors=(line,), duration=75)
    assert not outcome.ok
    assert outcome.sentence() == (
        'pg_restore failed after 1 min 15 s: relation "x" already exists.'
    )
    with pytest.raises(AppError):
        raise_for_outcome(outcome)


def test_cancelled_raises_cancelled_not_an_error() -> None:
    outcome = ProcessOutcome(exit_code=-15, cancelled=True, duration=3)
    assert outcome.sentence() == "pg_restore was cancelled after 3 s."
    assert outcome_error(outcome) is None
    with pytest.raises(Cancelled):
        raise_for_outcome(outcome)


def test_clean_run_sentence() -> None:
    assert ProcessOutcome(exit_code=0, duration=0.2).sentence() == (
        "pg_restore finished in under a second without errors."
    )
