"""Validation messages say lengths of time in words, never as ISO 8601 durations (#14)."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgflex_gui.domain.issues import Issue
from pgflex_gui.domain.retention import (
    RetentionKind,
    RetentionRule,
    duration_issues,
    validate_rules,
)
from pgflex_gui.domain.schedule import describe_period, interval_issues

ISO = re.compile(r"\bP(?:\d+[YMWD])+\b|\bPT\d+[HMS]\b|\bP\d*T?\b(?=\W|$)")


def _text(issues: list[Issue]) -> str:
    return " ".join(f"{i.message} {i.remedy or ''}" for i in issues)


def test_too_short_retention_in_words() -> None:
    issues = duration_issues("P3D")
    text = _text(issues)
    assert "3 days is shorter than the minimum of 7 days" in text
    assert "Use 7 days or more" in text
    assert not ISO.search(text), text


def test_too_long_retention_in_words() -> None:
    text = _text(duration_issues("P11Y"))
    assert "11 years is longer than the maximum of 10 years" in text
    assert "Use 10 years or less" in text
    assert not ISO.search(text), text


def test_unreadable_retention_suggests_words() -> None:
    text = _text(duration_issues("PT1H"))
    assert "7 days, 4 weeks, 3 months or 10 years" in text
    assert "P7D" not in text


def test_missing_default_rule_suggests_words() -> None:
    text = _text(validate_rules([RetentionRule(RetentionKind.MONTHLY, "P1Y")]))
    assert "3 months" in text
    assert not ISO.search(text), text


def test_non_weekly_schedule_in_words() -> None:
    text = _text(interval_issues(["R/2026-01-04T02:00:00+00:00/P1D"]))
    assert "repeats every 1 day, not every week" in text
    assert not ISO.search(text), text


@pytest.mark.parametrize(
    ("period", "words"),
    [("P1D", "1 day"), ("PT4H", "4 hours"), ("P2W", "2 weeks"), ("P1Y6M", "1 year 6 months")],
)
def test_describe_period(period: str, words: str) -> None:
    assert describe_period(period) == words


@given(
    st.tuples(
        st.integers(0, 20), st.integers(0, 30), st.integers(0, 60), st.integers(0, 4000)
    ).filter(any)
)
def test_no_duration_message_shows_iso(parts: tuple[int, int, int, int]) -> None:
    y, m, w, d = parts
    text = "P" + "".join(f"{n}{u}" for n, u in zip(parts, "YMWD", strict=True) if n)
    assert not ISO.search(_text(duration_issues(text))), text
    del y, m, w, d
