"""The weekly backup schedule: one weekday, one time, encoded as an ISO 8601 interval.

Encoding decision (azure-facts §2 leaves the accepted time-zone ids UNCONFIRMED): the policy
always carries ``timeZone: "UTC"`` and a start datetime converted to UTC with an explicit
``+00:00`` offset, e.g. ``R/2026-11-29T01:30:00+00:00/P1W`` for Sunday 02:30 in Berlin in
winter. Whether the service reads the offset or the ``timeZone`` field, both say the same
instant. Once sent, the backup repeats at that fixed UTC time, so the *local* time moves by
the DST shift during the year; :meth:`WeeklySchedule.dst_note` says so in words.
``to_repeating_interval(..., keep_local_offset=True)`` gives the same instant written with the
local offset (``R/2026-11-29T02:30:00+01:00/P1W``) for display.

A local time that does not exist (spring-forward gap) or exists twice (fall-back) resolves
with ``fold=0`` (PEP 495): the offset in force before the change.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pgflex_gui.domain.issues import Issue, error

__all__ = [
    "POLICY_TIME_ZONE",
    "WEEKDAY_NAMES",
    "WeeklySchedule",
    "describe_intervals",
    "describe_period",
    "format_offset",
    "interval_issues",
    "load_time_zone",
    "parse_repeating_interval",
    "schedule_from_intervals",
    "validate",
    "weekday_issues",
]

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
POLICY_TIME_ZONE = "UTC"
WEEKLY_PERIOD = "P1W"

_PERIOD_RE = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)
_PERIOD_UNITS = ("year", "month", "week", "day", "hour", "minute", "second")


def describe_period(text: str) -> str:
    """An ISO 8601 period in words: ``P1D`` -> ``"1 day"``, ``PT4H`` -> ``"4 hours"``.

    Text that is not such a period comes back quoted, so a message never shows it bare.
    """
    match = _PERIOD_RE.match(text.strip().upper()) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        return repr(text)
    parts = [
        f"{int(n)} {unit}{'s' if int(n) != 1 else ''}"
        for n, unit in zip(match.groups(), _PERIOD_UNITS, strict=True)
        if n and int(n)
    ]
    return " ".join(parts) or "0 days"


_SINGLE_DAY = (
    "Azure Backup for PostgreSQL flexible servers runs one backup a week, on one day "
    "(support matrix: 'only one day in the week')."
)
_INTERVAL_RE = re.compile(r"^R\d*/(?P<start>[^/]+)/(?P<period>P[0-9A-Z.]+)$", re.IGNORECASE)


def load_time_zone(name: str) -> tzinfo:
    """Return the tzinfo for an IANA name (``"UTC"`` included).

    Raises:
        ValueError: when the name is not a known IANA time zone.
    """
    if name.upper() in {"UTC", "Z", "ETC/UTC"}:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone: {name!r}") from exc


def format_offset(offset: timedelta | None) -> str:
    """``UTC``, ``UTC+01:00`` or ``UTC-05:00``."""
    if not offset:
        return "UTC"
    sign = "+" if offset >= timedelta(0) else "-"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class WeeklySchedule:
    """One backup a week.

    Attributes:
        weekday: 0 = Monday ... 6 = Sunday.
        time: local wall-clock time, naive, whole minutes.
        time_zone: IANA name such as ``"Europe/Berlin"``, or ``"UTC"``.
    """

    weekday: int
    time: time
    time_zone: str = "UTC"

    @property
    def weekday_name(self) -> str:
        """``"Sunday"`` etc."""
        return WEEKDAY_NAMES[self.weekday]

    def issues(self) -> list[Issue]:
        """Problems with this schedule (empty when it can be encoded)."""
        return validate(self)

    def first_occurrence(self, reference_date: date) -> datetime:
        """The first backup on or after ``reference_date``, as an aware local datetime.

        Raises:
            ValueError: when the schedule is invalid.
        """
        problems = validate(self)
        if problems:
            raise ValueError("; ".join(i.message for i in problems))
        zone = load_time_zone(self.time_zone)
        day = reference_date + timedelta(days=(self.weekday - reference_date.weekday()) % 7)
        return datetime.combine(day, self.time, tzinfo=zone)

    def to_repeating_interval(
        self, reference_date: date, *, keep_local_offset: bool = False
    ) -> str:
        """``R/<first occurrence>/P1W``, in UTC (default) or with the local offset."""
        start = self.first_occurrence(reference_date)
        if not keep_local_offset:
            start = start.astimezone(UTC)
        return f"R/{start.isoformat(timespec='seconds')}/{WEEKLY_PERIOD}"

    def time_zone_for_policy(self) -> str:
        """The ``timeZone`` value sent to Azure: always ``"UTC"`` (see module docstring)."""
        return POLICY_TIME_ZONE

    def utc_times(self, reference_date: date) -> tuple[datetime, datetime]:
        """The first occurrence in local time and the same instant in UTC."""
        local = self.first_occurrence(reference_date)
        return local, local.astimezone(UTC)

    def dst_note(self, reference_date: date) -> str:
        """Explain how the local time moves over a year; empty when it never moves.

        Azure repeats the backup every 7 days at the UTC time of the first occurrence, so in a
        zone with daylight saving time the local wall-clock time moves by the shift.
        """
        zone = load_time_zone(self.time_zone)
        first_utc = self.first_occurrence(reference_date).astimezone(UTC)
        seen: dict[timedelta, datetime] = {}
        for week in range(53):
            local = (first_utc + timedelta(weeks=week)).astimezone(zone)
            offset = local.utcoffset() or timedelta(0)
            seen.setdefault(offset, local)
        if len(seen) < 2:
            return ""
        parts = [
            f"{WEEKDAY_NAMES[loc.weekday()]} {loc:%H:%M} ({format_offset(off)})"
            for off, loc in sorted(seen.items())
        ]
        text = (
            f"Azure repeats the backup at a fixed UTC time: {WEEKDAY_NAMES[first_utc.weekday()]} "
            f"{first_utc:%H:%M} UTC. In {self.time_zone} the local time therefore moves with "
            f"daylight saving time: {' / '.join(parts)}."
        )
        if len({loc.weekday() for loc in seen.values()}) > 1:
            text += " Near midnight this even moves the backup to another local day."
        return text


def validate(schedule: WeeklySchedule) -> list[Issue]:
    """Check a schedule; an empty list means it can be encoded."""
    found: list[Issue] = []
    wd = schedule.weekday
    if isinstance(wd, bool) or not isinstance(wd, int) or not 0 <= wd <= 6:
        found.append(
            error("schedule.weekday", f"{wd!r} is not a weekday.", "Pick one day of the week.")
        )
    t: object = schedule.time
    if not isinstance(t, time):
        found.append(error("schedule.time", f"{t!r} is not a time of day.", "Pick a time."))
    elif t.tzinfo is not None:
        found.append(
            error(
                "schedule.time",
                "The time must be a plain wall-clock time; the zone is a separate field.",
            )
        )
    elif t.second or t.microsecond:
        found.append(error("schedule.time", "Backups start on whole minutes.", "Drop seconds."))
    try:
        load_time_zone(schedule.time_zone)
    except (ValueError, TypeError, AttributeError):
        found.append(
            error(
                "schedule.time_zone",
                f"{schedule.time_zone!r} is not a known time zone.",
                "Use an IANA name such as Europe/Berlin, or UTC.",
            )
        )
    return found


def weekday_issues(weekdays: Collection[int]) -> list[Issue]:
    """Check a set of ticked weekdays against the single-day rule."""
    if not weekdays:
        return [error("schedule.weekday", "No backup day is selected.", "Pick one day.")]
    if len(set(weekdays)) > 1:
        names = ", ".join(WEEKDAY_NAMES[d] for d in sorted(set(weekdays)) if 0 <= d <= 6)
        return [
            error(
                "schedule.weekday",
                f"Several backup days are selected ({names}). {_SINGLE_DAY}",
                "Keep exactly one day.",
            )
        ]
    return []


def parse_repeating_interval(text: str, default_tz: tzinfo = UTC) -> tuple[datetime, str]:
    """Split ``R/<start>/<period>`` into an aware start datetime and the period.

    A start without an offset is read in ``default_tz``.

    Raises:
        ValueError: when the text is not an ISO 8601 repeating interval.
    """
    match = _INTERVAL_RE.match(text.strip())
    if not match:
        raise ValueError(f"not an ISO 8601 repeating interval: {text!r}")
    raw = match["start"]
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        start = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"bad start time in repeating interval: {text!r}") from exc
    if start.tzinfo is None:
        start = start.replace(tzinfo=default_tz)
    return start, match["period"].upper()


def interval_issues(intervals: Iterable[str]) -> list[Issue]:
    """Check intervals read from a policy against the product rules."""
    items = list(intervals)
    found: list[Issue] = []
    if not items:
        return [error("schedule", "The policy has no backup schedule.")]
    if len(items) > 1:
        found.append(
            error(
                "schedule",
                f"The policy backs up {len(items)} times a week. {_SINGLE_DAY}",
                "Create a policy with exactly one backup day.",
            )
        )
    for text in items:
        try:
            _, period = parse_repeating_interval(text)
        except ValueError as exc:
            found.append(error("schedule", str(exc)))
            continue
        if period != WEEKLY_PERIOD:
            found.append(
                error(
                    "schedule",
                    f"The schedule repeats every {describe_period(period)}, not every week. "
                    f"{_SINGLE_DAY}",
                    "Use a weekly schedule.",
                )
            )
    return found


def _describe_one(start: datetime, zone: tzinfo | None) -> tuple[str, str, str]:
    local = start.astimezone(zone) if zone is not None else start
    return WEEKDAY_NAMES[local.weekday()], f"{local:%H:%M}", format_offset(local.utcoffset())


def describe_intervals(intervals: Iterable[str], tz: str = "UTC") -> str:
    """``"Every Sunday at 02:30 (UTC+01:00)"``; unreadable intervals are shown as they are.

    ``tz`` is the zone to show times in; an unknown zone keeps each interval's own offset.
    """
    try:
        zone: tzinfo | None = load_time_zone(tz)
    except ValueError:
        zone = None
    parts: list[str] = []
    for text in intervals:
        try:
            start, period = parse_repeating_interval(text)
        except ValueError:
            parts.append(f"unreadable schedule {text!r}")
            continue
        day, hhmm, offset = _describe_one(start, zone)
        if period == WEEKLY_PERIOD:
            parts.append(f"every {day} at {hhmm} ({offset})")
        else:
            parts.append(
                f"repeating every {describe_period(period)} from {day} at {hhmm} ({offset})"
            )
    if not parts:
        return "No schedule"
    text = "; ".join(parts)
    return text[0].upper() + text[1:]


def schedule_from_intervals(
    intervals: Iterable[str], tz: str = "UTC"
) -> tuple[WeeklySchedule | None, list[Issue]]:
    """Read a policy's intervals back into a schedule shown in ``tz``.

    Returns the schedule (None when the intervals break the product rules) and the issues.
    """
    items = list(intervals)
    found = interval_issues(items)
    if found:
        return None, found
    start, _ = parse_repeating_interval(items[0])
    try:
        zone = load_time_zone(tz)
    except ValueError:
        return None, [error("schedule.time_zone", f"{tz!r} is not a known time zone.")]
    local = start.astimezone(zone)
    return WeeklySchedule(local.weekday(), local.time().replace(tzinfo=None), tz), []
