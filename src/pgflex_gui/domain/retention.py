"""Retention rules: ISO 8601 durations, tags, priorities and the calendar they produce.

Bounds: 7 days to 10 years (azure-facts §2). Durations compare by *days-equivalent* with
1 Y = 365 days, 1 M = 365/12 days, 1 W = 7 days, 1 D = 1 day (exact fractions). So P10Y,
P120M and P3650D are the longest allowed; P3651D is refused even though a real decade spans
3652-3653 days, because Azure states the limit in years and does not say how it counts leap
days. Expiry dates in :func:`retention_calendar` use real calendar arithmetic instead.

Weekly tagging uses ``absoluteCriteria ["FirstOfWeek"]``: with one backup a week every backup
is the first of its week (the ``daysOfTheWeek`` criterion with the backup day would be
equivalent).
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import NamedTuple

from pgflex_gui.domain.issues import Issue, error, info, warning
from pgflex_gui.domain.schedule import WeeklySchedule

__all__ = [
    "MAX_DAYS",
    "MIN_DAYS",
    "CalendarEntry",
    "IsoDuration",
    "RetentionKind",
    "RetentionRule",
    "describe_duration",
    "duration_issues",
    "parse_duration",
    "retention_calendar",
    "validate_rules",
]

MIN_DAYS = Fraction(7)
MAX_DAYS = Fraction(3650)
_UNIT_DAYS = {"Y": Fraction(365), "M": Fraction(365, 12), "W": Fraction(7), "D": Fraction(1)}
_DURATION_RE = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


class RetentionKind(StrEnum):
    """A retention rule's kind; the value is also the rule name and the tag name."""

    DEFAULT = "Default"
    WEEKLY = "Weekly"
    MONTHLY = "Monthly"
    YEARLY = "Yearly"

    @property
    def priority(self) -> int:
        """``taggingPriority``: lower wins (Yearly 10, Monthly 15, Weekly 20, Default 99)."""
        return _PRIORITY[self]

    @property
    def suggested_duration(self) -> str:
        """A common starting point, longer for rarer copies (each within 7 days..10 years)."""
        return _SUGGESTED[self]

    @property
    def absolute_criterion(self) -> str | None:
        """``FirstOfWeek``/``FirstOfMonth``/``FirstOfYear``; None for Default."""
        return _CRITERION[self]

    @property
    def tag_id(self) -> str:
        """``tagInfo.id`` as the service returns it (``"Monthly_"``)."""
        return f"{self.value}_"

    @property
    def label(self) -> str:
        """Words for summaries: ``"first of month"``; Default is ``"every backup"``."""
        return _LABEL[self]

    @classmethod
    def parse(cls, text: str) -> RetentionKind:
        """Map a rule or tag name (any case) to a kind.

        Raises:
            ValueError: for anything else.
        """
        for kind in cls:
            if kind.value.lower() == text.strip().lower():
                return kind
        raise ValueError(f"unknown retention rule: {text!r}")


_PRIORITY = {
    RetentionKind.YEARLY: 10,
    RetentionKind.MONTHLY: 15,
    RetentionKind.WEEKLY: 20,
    RetentionKind.DEFAULT: 99,
}
_SUGGESTED = {
    RetentionKind.DEFAULT: "P3M",
    RetentionKind.WEEKLY: "P6M",
    RetentionKind.MONTHLY: "P12M",
    RetentionKind.YEARLY: "P10Y",
}
_CRITERION = {
    RetentionKind.YEARLY: "FirstOfYear",
    RetentionKind.MONTHLY: "FirstOfMonth",
    RetentionKind.WEEKLY: "FirstOfWeek",
    RetentionKind.DEFAULT: None,
}
_LABEL = {
    RetentionKind.YEARLY: "first of year",
    RetentionKind.MONTHLY: "first of month",
    RetentionKind.WEEKLY: "first of week",
    RetentionKind.DEFAULT: "every backup",
}


@dataclass(frozen=True)
class IsoDuration:
    """A date-only ISO 8601 duration such as ``P3M`` or ``P1Y6M``."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0

    @property
    def days_equivalent(self) -> Fraction:
        """Nominal length in days (see module docstring)."""
        return (
            self.years * _UNIT_DAYS["Y"]
            + self.months * _UNIT_DAYS["M"]
            + self.weeks * _UNIT_DAYS["W"]
            + self.days * _UNIT_DAYS["D"]
        )

    def add_to(self, start: date) -> date:
        """Calendar arithmetic: years and months first (day clamped), then weeks and days."""
        month_index = start.month - 1 + self.months + 12 * self.years
        year = start.year + month_index // 12
        month = month_index % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return date(year, month, day) + timedelta(weeks=self.weeks, days=self.days)

    def __str__(self) -> str:
        text = "".join(
            f"{n}{u}"
            for n, u in ((self.years, "Y"), (self.months, "M"), (self.weeks, "W"), (self.days, "D"))
            if n
        )
        return f"P{text or '0D'}"


def parse_duration(text: str) -> IsoDuration:
    """Parse ``P7D``, ``P4W``, ``P3M``, ``P10Y`` or a date-only mix like ``P1Y6M``.

    Raises:
        ValueError: for time parts (``PT1H``), fractions, negatives or empty durations.
    """
    match = _DURATION_RE.match(text.strip().upper()) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"not an ISO 8601 duration in days, weeks, months or years: {text!r}")
    y, m, w, d = (int(g) if g else 0 for g in match.groups())
    return IsoDuration(y, m, w, d)


def describe_duration(text: str) -> str:
    """``"3 months"``, ``"1 year 6 months"``; unparsable text comes back unchanged."""
    try:
        dur = parse_duration(text)
    except ValueError:
        return text
    parts = [
        f"{n} {unit}{'s' if n != 1 else ''}"
        for n, unit in (
            (dur.years, "year"),
            (dur.months, "month"),
            (dur.weeks, "week"),
            (dur.days, "day"),
        )
        if n
    ]
    return " ".join(parts) or "0 days"


def duration_issues(text: str, field: str = "retention") -> list[Issue]:
    """Check one duration against the 7-day..10-year range."""
    try:
        dur = parse_duration(text)
    except ValueError:
        return [
            error(
                field,
                f"{text!r} is not a length of time in days, weeks, months or years.",
                "Use a length such as 7 days, 4 weeks, 3 months or 10 years.",
            )
        ]
    words = describe_duration(text)
    if dur.days_equivalent < MIN_DAYS:
        return [
            error(field, f"{words} is shorter than the minimum of 7 days.", "Use 7 days or more.")
        ]
    if dur.days_equivalent > MAX_DAYS:
        return [
            error(
                field, f"{words} is longer than the maximum of 10 years.", "Use 10 years or less."
            )
        ]
    return []


@dataclass(frozen=True)
class RetentionRule:
    """How long recovery points with one tag are kept."""

    kind: RetentionKind
    duration: str

    @property
    def name(self) -> str:
        """Rule name, equal to its tag name."""
        return self.kind.value

    @property
    def parsed(self) -> IsoDuration:
        """The parsed duration (raises ValueError when invalid)."""
        return parse_duration(self.duration)


def validate_rules(rules: Sequence[RetentionRule]) -> list[Issue]:
    """Check a policy's retention rules; empty when they can be sent."""
    found: list[Issue] = []
    kinds = [r.kind for r in rules]
    n_default = kinds.count(RetentionKind.DEFAULT)
    if n_default == 0:
        found.append(
            error(
                "retention", "A policy needs a default retention rule.", "Add one (e.g. 3 months)."
            )
        )
    for kind in RetentionKind:
        count = kinds.count(kind)
        if count > 1:
            found.append(
                error(
                    f"retention.{kind.value}",
                    f"There are {count} {kind.value} rules; keep one.",
                )
            )
    lengths: dict[RetentionKind, Fraction] = {}
    for rule in rules:
        problems = duration_issues(rule.duration, f"retention.{rule.kind.value}")
        found.extend(problems)
        if not problems:
            lengths.setdefault(rule.kind, rule.parsed.days_equivalent)
    default = lengths.get(RetentionKind.DEFAULT)
    if default is not None:
        for kind in (RetentionKind.WEEKLY, RetentionKind.MONTHLY, RetentionKind.YEARLY):
            if kind in lengths and lengths[kind] < default:
                found.append(
                    warning(
                        f"retention.{kind.value}",
                        f"The {kind.label} copy is kept shorter than ordinary backups "
                        "(Default), so tagging it only shortens its life.",
                        f"Make {kind.value} at least as long as Default.",
                    )
                )
    order = [RetentionKind.WEEKLY, RetentionKind.MONTHLY, RetentionKind.YEARLY]
    present = [k for k in order if k in lengths]
    for shorter, longer in itertools.pairwise(present):
        if lengths[longer] < lengths[shorter]:
            found.append(
                warning(
                    f"retention.{longer.value}",
                    f"{longer.value} copies are kept shorter than {shorter.value} copies.",
                )
            )
    if RetentionKind.WEEKLY in lengths:
        found.append(
            info(
                "retention.Weekly",
                "With one backup a week every backup is the first of its week, so the Weekly "
                "rule applies to every backup that is not first of month or year; Default "
                "then only applies to on-demand backups.",
            )
        )
    return found


class CalendarEntry(NamedTuple):
    """One scheduled recovery point: its date, the winning tag and its expiry date."""

    date: dt.date
    tag: RetentionKind
    expiry: dt.date


def _tag_for(day: date, kinds: Iterable[RetentionKind]) -> RetentionKind:
    available = set(kinds)
    first_of_month = day.day <= 7
    if RetentionKind.YEARLY in available and first_of_month and day.month == 1:
        return RetentionKind.YEARLY
    if RetentionKind.MONTHLY in available and first_of_month:
        return RetentionKind.MONTHLY
    if RetentionKind.WEEKLY in available:
        return RetentionKind.WEEKLY
    return RetentionKind.DEFAULT


def retention_calendar(
    schedule: WeeklySchedule, rules: Sequence[RetentionRule], start: date, days: int = 365
) -> list[CalendarEntry]:
    """The recovery points scheduled backups create in ``[start, start + days)``.

    Each point carries the tag with the highest priority that applies (Yearly > Monthly >
    Weekly > Default): with weekly backups the first backup of a month falls on day 1-7 and the
    first of a year on 1-7 January. Dates are local dates in the schedule's zone.

    Raises:
        ValueError: when the rules are invalid.
    """
    issues = validate_rules(rules)
    if any(i.blocks for i in issues):
        raise ValueError("; ".join(i.message for i in issues if i.blocks))
    durations = {r.kind: r.parsed for r in rules}
    first = start + timedelta(days=(schedule.weekday - start.weekday()) % 7)
    out: list[CalendarEntry] = []
    day = first
    while day < start + timedelta(days=days):
        tag = _tag_for(day, durations)
        out.append(CalendarEntry(day, tag, durations[tag].add_to(day)))
        day += timedelta(weeks=1)
    return out
