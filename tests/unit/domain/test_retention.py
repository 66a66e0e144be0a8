"""ISO durations, bounds, rule validation and the retention calendar."""

from datetime import date, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgflex_gui.domain.issues import Severity, has_errors
from pgflex_gui.domain.retention import (
    CalendarEntry,
    IsoDuration,
    RetentionKind,
    RetentionRule,
    describe_duration,
    duration_issues,
    parse_duration,
    retention_calendar,
    validate_rules,
)
from pgflex_gui.domain.schedule import WeeklySchedule

D, W, M, Y = (
    RetentionKind.DEFAULT,
    RetentionKind.WEEKLY,
    RetentionKind.MONTHLY,
    RetentionKind.YEARLY,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P7D", IsoDuration(days=7)),
        ("P4W", IsoDuration(weeks=4)),
        ("p3m", IsoDuration(months=3)),
        ("P10Y", IsoDuration(years=10)),
        ("P1Y6M", IsoDuration(years=1, months=6)),
    ],
)
def test_parse_and_format_round_trip(text: str, expected: IsoDuration) -> None:
    assert parse_duration(text) == expected
    assert str(expected) == text.upper()


@pytest.mark.parametrize("text", ["", "P", "7D", "PT1H", "P1.5Y", "P-1D", "P1D1Y"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_duration(text)


def test_zero_duration_formats_as_p0d() -> None:
    assert str(IsoDuration()) == "P0D"
    assert describe_duration("P0D") == "0 days"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("P6D", False),
        ("P7D", True),
        ("P1W", True),
        ("P1M", True),
        ("P10Y", True),
        ("P120M", True),
        ("P3650D", True),
        ("P3651D", False),
        ("P121M", False),
        ("P11Y", False),
        ("P9Y11M30D", True),
        ("P521W", True),
        ("P522W", False),
        ("nonsense", False),
    ],
)
def test_bounds(text: str, ok: bool) -> None:
    assert (duration_issues(text) == []) is ok


def test_describe_duration() -> None:
    assert describe_duration("P3M") == "3 months"
    assert describe_duration("P1Y") == "1 year"
    assert describe_duration("P1Y6M2W1D") == "1 year 6 months 2 weeks 1 day"
    assert describe_duration("junk") == "junk"


def test_add_to_clamps_month_ends_and_leap_days() -> None:
    assert parse_duration("P1M").add_to(date(2026, 1, 31)) == date(2026, 2, 28)
    assert parse_duration("P1Y").add_to(date(2028, 2, 29)) == date(2029, 2, 28)
    assert parse_duration("P13M").add_to(date(2026, 12, 15)) == date(2028, 1, 15)
    assert parse_duration("P1W3D").add_to(date(2026, 1, 1)) == date(2026, 1, 11)


def test_kind_properties() -> None:
    assert [k.priority for k in (Y, M, W, D)] == [10, 15, 20, 99]
    assert [k.absolute_criterion for k in (Y, M, W, D)] == [
        "FirstOfYear",
        "FirstOfMonth",
        "FirstOfWeek",
        None,
    ]
    assert M.tag_id == "Monthly_"
    assert D.label == "every backup"
    assert RetentionKind.parse(" monthly ") is M
    with pytest.raises(ValueError, match="unknown retention rule"):
        RetentionKind.parse("Daily")
    assert RetentionRule(M, "P1Y").name == "Monthly"


def test_validate_rules() -> None:
    assert validate_rules([RetentionRule(D, "P3M")]) == []
    assert has_errors(validate_rules([]))
    assert has_errors(validate_rules([RetentionRule(M, "P1Y")]))  # no Default
    dup = validate_rules([RetentionRule(D, "P3M"), RetentionRule(D, "P4M")])
    assert any("2 Default rules" in i.message for i in dup)
    assert has_errors(validate_rules([RetentionRule(D, "P3D")]))
    assert has_errors(validate_rules([RetentionRule(D, "P3M"), RetentionRule(Y, "P11Y")]))


def test_validate_rules_warns_about_odd_lengths() -> None:
    found = validate_rules([RetentionRule(D, "P6M"), RetentionRule(M, "P1M")])
    assert not has_errors(found)
    assert [i.field for i in found if i.severity is Severity.WARNING] == ["retention.Monthly"]
    found = validate_rules(
        [RetentionRule(D, "P1M"), RetentionRule(M, "P2Y"), RetentionRule(Y, "P1Y")]
    )
    assert any("Yearly copies are kept shorter than Monthly" in i.message for i in found)
    found = validate_rules([RetentionRule(D, "P1M"), RetentionRule(W, "P2M")])
    assert [i.severity for i in found] == [Severity.INFO]


def test_calendar_tags_first_of_month_and_year() -> None:
    s = WeeklySchedule(6, time(2, 30), "Europe/Berlin")
    rules = [RetentionRule(D, "P3M"), RetentionRule(M, "P1Y"), RetentionRule(Y, "P10Y")]
    cal = retention_calendar(s, rules, date(2026, 12, 1), days=42)
    assert cal[0] == CalendarEntry(date(2026, 12, 6), M, date(2027, 12, 6))
    assert cal[1] == CalendarEntry(date(2026, 12, 13), D, date(2027, 3, 13))
    jan = [e for e in cal if e.date == date(2027, 1, 3)]
    assert jan == [CalendarEntry(date(2027, 1, 3), Y, date(2037, 1, 3))]
    assert len(cal) == 6


def test_calendar_weekly_rule_replaces_default_for_scheduled_backups() -> None:
    s = WeeklySchedule(2, time(1, 0))
    cal = retention_calendar(
        s, [RetentionRule(D, "P7D"), RetentionRule(W, "P4W")], date(2026, 2, 9)
    )
    assert {e.tag for e in cal} == {W}
    assert len(cal) == 52


def test_calendar_refuses_invalid_rules() -> None:
    with pytest.raises(ValueError, match="default retention"):
        retention_calendar(WeeklySchedule(0, time(1, 0)), [], date(2026, 1, 1))


@given(
    weekday=st.integers(0, 6),
    start=st.dates(date(2020, 1, 1), date(2035, 12, 31)),
    monthly=st.booleans(),
    yearly=st.booleans(),
)
def test_calendar_properties(weekday: int, start: date, monthly: bool, yearly: bool) -> None:
    rules = [RetentionRule(D, "P3M")]
    rules += [RetentionRule(M, "P1Y")] if monthly else []
    rules += [RetentionRule(Y, "P10Y")] if yearly else []
    cal = retention_calendar(WeeklySchedule(weekday, time(3, 0)), rules, start)
    assert len(cal) in (52, 53)
    months = {(e.date.year, e.date.month) for e in cal}
    for e in cal:
        assert e.date.weekday() == weekday
        assert e.expiry > e.date
    if monthly:
        # exactly one first-of-month point per month (Yearly may take January's)
        tagged = [(e.date.year, e.date.month) for e in cal if e.tag in (M, Y)]
        full = {
            ym
            for ym in months
            if any(e.date.day <= 7 for e in cal if (e.date.year, e.date.month) == ym)
        }
        assert sorted(tagged) == sorted(full)
    if yearly:
        assert all(e.date.month == 1 and e.date.day <= 7 for e in cal if e.tag is Y)
    if not monthly and not yearly:
        assert {e.tag for e in cal} == {D}


@given(y=st.integers(0, 12), m=st.integers(0, 130), w=st.integers(0, 600), d=st.integers(0, 4000))
def test_duration_round_trip_and_bounds(y: int, m: int, w: int, d: int) -> None:
    dur = IsoDuration(y, m, w, d)
    if any((y, m, w, d)):
        assert parse_duration(str(dur)) == dur
    ok = duration_issues(str(dur)) == []
    assert ok == (7 <= dur.days_equivalent <= 3650)


def test_suggested_durations_are_valid_and_grow_with_rarity() -> None:
    from pgflex_gui.domain.retention import RetentionKind, duration_issues, parse_duration

    kinds = [
        RetentionKind.DEFAULT,
        RetentionKind.WEEKLY,
        RetentionKind.MONTHLY,
        RetentionKind.YEARLY,
    ]
    for kind in kinds:
        assert duration_issues(kind.suggested_duration) == []
    days = [parse_duration(k.suggested_duration).days_equivalent for k in kinds]
    assert days == sorted(days)
