"""Weekly schedule encoding, DST behaviour and interval parsing."""

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgflex_gui.domain.issues import has_errors
from pgflex_gui.domain.schedule import (
    WeeklySchedule,
    describe_intervals,
    format_offset,
    interval_issues,
    load_time_zone,
    parse_repeating_interval,
    schedule_from_intervals,
    validate,
    weekday_issues,
)

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]


def test_berlin_winter_is_encoded_in_utc_with_explicit_offset() -> None:
    s = WeeklySchedule(6, time(2, 30), "Europe/Berlin")
    assert s.to_repeating_interval(date(2026, 11, 24)) == "R/2026-11-29T01:30:00+00:00/P1W"
    assert (
        s.to_repeating_interval(date(2026, 11, 24), keep_local_offset=True)
        == "R/2026-11-29T02:30:00+01:00/P1W"
    )
    assert s.time_zone_for_policy() == "UTC"
    assert s.weekday_name == "Sunday"


def test_berlin_summer_uses_the_summer_offset() -> None:
    s = WeeklySchedule(6, time(2, 30), "Europe/Berlin")
    assert s.to_repeating_interval(date(2026, 7, 1)) == "R/2026-07-05T00:30:00+00:00/P1W"
    local, utc = s.utc_times(date(2026, 7, 1))
    assert local.utcoffset() == timedelta(hours=2)
    assert utc.hour == 0


def test_reference_date_on_the_weekday_is_that_day() -> None:
    s = WeeklySchedule(0, time(6, 0))
    assert s.first_occurrence(date(2026, 11, 23)).date() == date(2026, 11, 23)
    assert s.to_repeating_interval(date(2026, 11, 23)) == "R/2026-11-23T06:00:00+00:00/P1W"


def test_new_york_late_evening_crosses_midnight_in_utc() -> None:
    s = WeeklySchedule(6, time(23, 30), "America/New_York")
    text = s.to_repeating_interval(date(2026, 1, 5))
    assert text == "R/2026-01-12T04:30:00+00:00/P1W"  # Monday in UTC, Sunday in New York
    start, _ = parse_repeating_interval(text)
    assert start.astimezone(ZoneInfo("America/New_York")).weekday() == 6


def test_dst_note_explains_the_local_shift() -> None:
    note = WeeklySchedule(6, time(2, 30), "Europe/Berlin").dst_note(date(2026, 11, 24))
    assert "01:30 UTC" in note
    assert "02:30 (UTC+01:00)" in note
    assert "03:30 (UTC+02:00)" in note
    assert "another local day" not in note


def test_dst_note_mentions_day_change_near_midnight() -> None:
    note = WeeklySchedule(6, time(23, 30), "Europe/Berlin").dst_note(date(2026, 11, 24))
    assert "Sunday 23:30" in note
    assert "Monday 00:30" in note
    assert "another local day" in note


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])
def test_dst_note_is_empty_without_dst(tz: str) -> None:
    assert WeeklySchedule(2, time(4, 0), tz).dst_note(date(2026, 3, 1)) == ""


def test_spring_forward_gap_resolves_with_fold_zero() -> None:
    # 2026-03-29 02:30 does not exist in Berlin; fold=0 uses the offset before the change.
    s = WeeklySchedule(6, time(2, 30), "Europe/Berlin")
    assert s.to_repeating_interval(date(2026, 3, 29)) == "R/2026-03-29T01:30:00+00:00/P1W"


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        (WeeklySchedule(7, time(1, 0)), "schedule.weekday"),
        (WeeklySchedule(-1, time(1, 0)), "schedule.weekday"),
        (WeeklySchedule(True, time(1, 0)), "schedule.weekday"),
        (WeeklySchedule(1, time(1, 0, 5)), "schedule.time"),
        (WeeklySchedule(1, time(1, 0, tzinfo=UTC)), "schedule.time"),
        (WeeklySchedule(1, "01:00"), "schedule.time"),  # type: ignore[arg-type]
        (WeeklySchedule(1, time(1, 0), "Mars/Olympus"), "schedule.time_zone"),
        (WeeklySchedule(1, time(1, 0), "W. Europe Standard Time"), "schedule.time_zone"),
        (WeeklySchedule(1, time(1, 0), ""), "schedule.time_zone"),
    ],
)
def test_validate_flags_each_bad_field(schedule: WeeklySchedule, field: str) -> None:
    found = validate(schedule)
    assert [i.field for i in found] == [field]
    assert schedule.issues() == found
    with pytest.raises(ValueError, match=r"."):
        schedule.to_repeating_interval(date(2026, 1, 1))


def test_valid_schedule_has_no_issues() -> None:
    assert validate(WeeklySchedule(3, time(12, 15), "Europe/Berlin")) == []


def test_weekday_issues_enforce_exactly_one_day() -> None:
    assert weekday_issues([4]) == []
    assert weekday_issues({4}) == []
    assert has_errors(weekday_issues([]))
    (issue,) = weekday_issues([0, 2])
    assert "Monday, Wednesday" in issue.message
    assert "one day" in issue.message


def test_load_time_zone_and_offsets() -> None:
    assert load_time_zone("utc") is UTC
    assert load_time_zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    with pytest.raises(ValueError, match="unknown time zone"):
        load_time_zone("Nowhere/Town")
    assert format_offset(None) == "UTC"
    assert format_offset(timedelta(0)) == "UTC"
    assert format_offset(timedelta(hours=5, minutes=30)) == "UTC+05:30"
    assert format_offset(timedelta(hours=-5)) == "UTC-05:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R/2021-08-15T06:30:00+00:00/P1W", datetime(2021, 8, 15, 6, 30, tzinfo=UTC)),
        ("R/2021-08-15T06:30:00Z/P1W", datetime(2021, 8, 15, 6, 30, tzinfo=UTC)),
        ("R/2021-08-15T06:30:00/p1w", datetime(2021, 8, 15, 6, 30, tzinfo=UTC)),
        (
            " R/2024-01-07T23:00:00+05:30/P1W ",
            datetime(2024, 1, 7, 23, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        ),
    ],
)
def test_parse_repeating_interval(text: str, expected: datetime) -> None:
    start, period = parse_repeating_interval(text)
    assert start == expected
    assert start.utcoffset() == expected.utcoffset()
    assert period == "P1W"


@pytest.mark.parametrize(
    "text", ["", "R/P1W", "2021-08-15T06:30:00+00:00/P1W", "R/not-a-date/P1W", "R/2021-13-45/P1W"]
)
def test_parse_repeating_interval_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="interval"):
        parse_repeating_interval(text)


def test_interval_issues() -> None:
    ok = "R/2021-08-15T06:30:00+00:00/P1W"
    assert interval_issues([ok]) == []
    assert "no backup schedule" in interval_issues([])[0].message
    several = interval_issues([ok, "R/2021-08-18T06:30:00+00:00/P1W"])
    assert len(several) == 1
    assert "2 times a week" in several[0].message
    daily = interval_issues(["R/2021-08-15T06:30:00+00:00/P1D"])
    assert "every 1 day, not every week" in daily[0].message
    assert "P1D" not in daily[0].message
    assert "not an ISO" in interval_issues(["junk"])[0].message


def test_describe_intervals() -> None:
    ok = "R/2026-11-29T01:30:00+00:00/P1W"
    assert describe_intervals([ok], "Europe/Berlin") == "Every Sunday at 02:30 (UTC+01:00)"
    assert describe_intervals([ok]) == "Every Sunday at 01:30 (UTC)"
    # Unknown zone (e.g. a Windows id from another tool): keep the interval's own offset.
    local = "R/2026-11-29T07:00:00+05:30/P1W"
    assert describe_intervals([local], "India Standard Time") == "Every Sunday at 07:00 (UTC+05:30)"
    assert describe_intervals([]) == "No schedule"
    assert describe_intervals(["junk"]) == "Unreadable schedule 'junk'"
    two = describe_intervals([ok, "R/2026-11-25T01:30:00+00:00/P1D"])
    assert two == "Every Sunday at 01:30 (UTC); repeating every 1 day from Wednesday at 01:30 (UTC)"


def test_schedule_from_intervals_round_trip_and_refusals() -> None:
    s = WeeklySchedule(6, time(2, 30), "Europe/Berlin")
    back, issues = schedule_from_intervals(
        [s.to_repeating_interval(date(2026, 11, 24))], s.time_zone
    )
    assert back == s
    assert issues == []
    none, issues = schedule_from_intervals(["R/2026-11-29T01:30:00+00:00/P1D"])
    assert none is None
    assert has_errors(issues)
    none, issues = schedule_from_intervals(["R/2026-11-29T01:30:00+00:00/P1W"], "Bad/Zone")
    assert none is None
    assert issues[0].field == "schedule.time_zone"


@given(
    weekday=st.integers(0, 6),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
    tz=st.sampled_from(ZONES),
    ref=st.dates(date(2020, 1, 1), date(2035, 12, 31)),
)
def test_encoding_properties(weekday: int, hour: int, minute: int, tz: str, ref: date) -> None:
    s = WeeklySchedule(weekday, time(hour, minute), tz)
    text = s.to_repeating_interval(ref)
    assert text.startswith("R/")
    assert text.endswith("+00:00/P1W")
    start, period = parse_repeating_interval(text)
    assert period == "P1W"
    local = start.astimezone(ZoneInfo(tz))
    assert local.weekday() == weekday  # the weekday always matches in the user's zone
    assert 0 <= (local.date() - ref).days < 7
    if not s.dst_note(ref):  # no shift: the wall-clock time is kept exactly
        assert (local.hour, local.minute) == (hour, minute)
    back, issues = schedule_from_intervals([text], tz)
    assert issues == []
    assert back is not None
    assert back.weekday == weekday
    local_text = s.to_repeating_interval(ref, keep_local_offset=True)
    assert parse_repeating_interval(local_text)[0] == start
