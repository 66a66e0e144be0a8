"""Policy drafts → REST body, and policy bodies → summaries and words."""

import re
from datetime import date, datetime, time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.issues import has_errors
from pgflex_gui.domain.models import PolicyInfo, RetentionRuleInfo
from pgflex_gui.domain.policy import (
    InvalidPolicy,
    PolicyDraft,
    build_policy_body,
    describe_policy,
    draft_issues,
    parse_policy_body,
    policy_info_from_body,
    policy_name_issues,
)
from pgflex_gui.domain.retention import RetentionKind, RetentionRule
from pgflex_gui.domain.schedule import WeeklySchedule

D, W, M, Y = (
    RetentionKind.DEFAULT,
    RetentionKind.WEEKLY,
    RetentionKind.MONTHLY,
    RetentionKind.YEARLY,
)
REF = date(2026, 11, 24)
SUNDAY = WeeklySchedule(6, time(2, 30), "Europe/Berlin")
DUR_RE = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
PRIORITY = {"Default": 99, "Weekly": 20, "Monthly": 15, "Yearly": 10}
CRITERION = {"Weekly": "FirstOfWeek", "Monthly": "FirstOfMonth", "Yearly": "FirstOfYear"}


def check_body(body: dict[str, Any]) -> None:
    """An independent checker of the PUT body (does not use the domain code)."""
    props = body["properties"]
    assert props["objectType"] == "BackupPolicy"
    assert props["datasourceTypes"] == ["Microsoft.DBforPostgreSQL/flexibleServers"]
    backup = [r for r in props["policyRules"] if r["objectType"] == "AzureBackupRule"]
    retention = [r for r in props["policyRules"] if r["objectType"] == "AzureRetentionRule"]
    assert len(backup) == 1
    assert len(backup) + len(retention) == len(props["policyRules"])
    rule = backup[0]
    assert rule["name"] == "BackupWeekly"
    assert rule["backupParameters"] == {"objectType": "AzureBackupParams", "backupType": "Full"}
    assert rule["dataStore"] == {"dataStoreType": "VaultStore", "objectType": "DataStoreInfoBase"}
    trig = rule["trigger"]
    assert trig["objectType"] == "ScheduleBasedTriggerContext"
    (interval,) = trig["schedule"]["repeatingTimeIntervals"]
    m = re.fullmatch(r"R/(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)([+-]\d\d:\d\d)/P1W", interval)
    assert m, interval
    datetime.fromisoformat(m[1] + m[2])
    assert trig["schedule"]["timeZone"] == "UTC"
    tags = {c["tagInfo"]["tagName"]: c for c in trig["taggingCriteria"]}
    assert len(tags) == len(trig["taggingCriteria"])
    names = {r["name"] for r in retention}
    assert len(names) == len(retention)
    assert [r["name"] for r in retention if r["isDefault"]] == ["Default"]
    assert set(tags) == names
    for name, crit in tags.items():
        assert crit["taggingPriority"] == PRIORITY[name]
        assert crit["tagInfo"]["id"] == f"{name}_"
        assert crit["isDefault"] is (name == "Default")
        if name != "Default":
            assert crit["criteria"] == [
                {"objectType": "ScheduleBasedBackupCriteria", "absoluteCriteria": [CRITERION[name]]}
            ]
    for r in retention:
        (life,) = r["lifecycles"]
        assert life["sourceDataStore"]["dataStoreType"] == "VaultStore"
        assert life["targetDataStoreCopySettings"] == []
        assert life["deleteAfter"]["objectType"] == "AbsoluteDeleteOption"
        dm = DUR_RE.fullmatch(life["deleteAfter"]["duration"])
        assert dm
        assert any(dm.groups())
        y, mo, w, d = (int(g or 0) for g in dm.groups())
        days = y * 365 + mo * 365 / 12 + w * 7 + d
        assert 7 <= days <= 3650 + 1e-9


def test_default_like_body() -> None:
    body = build_policy_body(PolicyDraft("pgflex-weekly", WeeklySchedule(6, time(6, 30))), REF)
    check_body(body)
    rules = body["properties"]["policyRules"]
    assert rules[0]["trigger"]["schedule"] == {
        "repeatingTimeIntervals": ["R/2026-11-29T06:30:00+00:00/P1W"],
        "timeZone": "UTC",
    }
    assert rules[0]["trigger"]["taggingCriteria"] == [
        {
            "isDefault": True,
            "taggingPriority": 99,
            "tagInfo": {"tagName": "Default", "id": "Default_"},
        }
    ]
    assert rules[1] == {
        "name": "Default",
        "objectType": "AzureRetentionRule",
        "isDefault": True,
        "lifecycles": [
            {
                "deleteAfter": {"objectType": "AbsoluteDeleteOption", "duration": "P3M"},
                "sourceDataStore": {
                    "dataStoreType": "VaultStore",
                    "objectType": "DataStoreInfoBase",
                },
                "targetDataStoreCopySettings": [],
            }
        ],
    }


def test_body_with_all_tags_and_normalised_duration() -> None:
    rules = (RetentionRule(Y, "p10y"), RetentionRule(D, "P3M"), RetentionRule(M, "P1Y"))
    body = build_policy_body(PolicyDraft("p-1", SUNDAY, rules), REF)
    check_body(body)
    names = [r["name"] for r in body["properties"]["policyRules"]]
    assert names == ["BackupWeekly", "Default", "Monthly", "Yearly"]
    assert (
        body["properties"]["policyRules"][3]["lifecycles"][0]["deleteAfter"]["duration"] == "P10Y"
    )


@pytest.mark.parametrize(
    "draft",
    [
        PolicyDraft("", SUNDAY),
        PolicyDraft("1abc", SUNDAY),
        PolicyDraft("ab", SUNDAY),
        PolicyDraft("a" * 151, SUNDAY),
        PolicyDraft("has space", SUNDAY),
        PolicyDraft("ok-name", WeeklySchedule(9, time(1, 0))),
        PolicyDraft("ok-name", SUNDAY, ()),
        PolicyDraft("ok-name", SUNDAY, (RetentionRule(D, "P20Y"),)),
    ],
)
def test_invalid_drafts_raise(draft: PolicyDraft) -> None:
    assert has_errors(draft_issues(draft))
    with pytest.raises(InvalidPolicy) as info:
        build_policy_body(draft, REF)
    assert info.value.issues
    assert str(info.value)


def test_policy_name_rules() -> None:
    assert policy_name_issues("Abc") == []
    assert policy_name_issues("a" * 150) == []
    assert policy_name_issues("pol-2026-weekly") == []
    assert len(policy_name_issues("1_")) == 2


def test_parse_and_describe_round_trip() -> None:
    rules = (RetentionRule(D, "P3M"), RetentionRule(M, "P1Y"), RetentionRule(W, "P2M"))
    body = build_policy_body(PolicyDraft("p-1", WeeklySchedule(6, time(2, 30)), rules), REF)
    summary = parse_policy_body({"name": "p-1", **body})
    assert summary.name == "p-1"
    assert summary.is_pg_flex
    assert summary.issues == ()
    assert summary.time_zone == "UTC"
    assert RetentionRuleInfo("Monthly", "P1Y", False, "FirstOfMonth") in summary.retention
    assert describe_policy(summary) == (
        "Weekly on Sunday at 02:30 UTC; kept 3 months; first of week kept 2 months; "
        "first of month kept 1 year"
    )
    assert describe_policy(summary, "Europe/Berlin").startswith(
        "Weekly on Sunday at 03:30 UTC+01:00"
    )
    assert parse_policy_body(body["properties"]) == parse_policy_body(body)


def test_policy_info_from_body() -> None:
    pid = ResourceId.build("s", "rg", "Microsoft.DataProtection", "backupVaults", "v")
    pid = pid.child("backupPolicies", "p")
    body = build_policy_body(PolicyDraft("p-1", SUNDAY), REF)
    info = policy_info_from_body(body, pid)
    assert isinstance(info, PolicyInfo)
    assert info.is_pg_flex
    assert info.name == "p"
    assert describe_policy(info) == "Weekly on Sunday at 01:30 UTC; kept 3 months"


def test_parse_foreign_and_broken_bodies() -> None:
    foreign = {
        "properties": {
            "datasourceTypes": ["Microsoft.DBforPostgreSQL/flexibleServers"],
            "policyRules": [
                {
                    "objectType": "AzureBackupRule",
                    "trigger": {
                        "schedule": {
                            "repeatingTimeIntervals": [
                                "R/2024-01-07T23:00:00+00:00/P1W",
                                "R/2024-01-10T23:00:00+00:00/P1W",
                            ],
                            "timeZone": "India Standard Time",
                        },
                        "taggingCriteria": [{"tagInfo": {"tagName": "Default"}, "isDefault": True}],
                    },
                },
                {
                    "objectType": "AzureRetentionRule",
                    "name": "Default",
                    "isDefault": True,
                    "lifecycles": [{"deleteAfter": {"duration": "P10Y"}}],
                },
                {"objectType": "AzureRetentionRule", "name": "Monthly", "lifecycles": []},
                "garbage",
            ],
        }
    }
    s = parse_policy_body(foreign)
    assert s.time_zone == "India Standard Time"
    messages = " ".join(i.message for i in s.issues)
    assert "2 times a week" in messages
    assert "Monthly has no tagging criterion" in messages
    text = describe_policy(s)
    assert text.startswith("Every Sunday at 23:00 (UTC); every Wednesday at 23:00 (UTC)")
    assert "kept 10 years" in text
    assert "first of month kept " in text
    empty = parse_policy_body({})
    assert empty.retention == ()
    assert describe_policy(empty) == "No schedule"
    assert not parse_policy_body({"properties": {"datasourceTypes": ["x"]}}).is_pg_flex


def test_describe_unusual_schedules() -> None:
    def info(intervals: tuple[str, ...], tz: str = "UTC", rule: str = "Custom") -> PolicyInfo:
        pid = ResourceId.build("s", "rg", "P", "t", "n")
        return PolicyInfo(
            pid,
            repeating_intervals=intervals,
            time_zone=tz,
            retention=(RetentionRuleInfo(rule, "P7D"),),
        )

    assert describe_policy(info(("R/2024-01-07T23:00:00+00:00/P1D",))).startswith(
        "Repeating every 1 day from Sunday"
    )
    assert describe_policy(info(("junk",))).startswith("Unreadable schedule")
    assert describe_policy(info((), rule="Custom")) == "No schedule; Custom kept 7 days"
    two = describe_policy(
        info(("R/2024-01-07T23:00:00+00:00/P1W", "R/2024-01-08T23:00:00+00:00/P1W"))
    )
    assert two.startswith("Weekly on Sunday at 23:00 UTC and Monday at 23:00 UTC")


rule_sets = st.lists(
    st.tuples(
        st.sampled_from(list(RetentionKind)),
        st.one_of(
            st.builds(lambda n, u: f"P{n}{u}", st.integers(0, 4000), st.sampled_from("DWMY")),
            st.sampled_from(["P7D", "P3M", "P10Y", "PT1H", "", "P1Y6M", "P3651D"]),
        ),
    ),
    max_size=5,
).map(lambda xs: tuple(RetentionRule(k, d) for k, d in xs))


@settings(max_examples=300, deadline=None)
@given(
    name=st.one_of(st.sampled_from(["pol-1", "Weekly", "x", "9bad"]), st.text(max_size=12)),
    weekday=st.integers(-1, 7),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    tz=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Nope/Zone"]),
    rules=rule_sets,
    ref=st.dates(date(2020, 1, 1), date(2035, 12, 31)),
)
def test_builder_raises_or_produces_a_valid_body(
    name: str,
    weekday: int,
    hour: int,
    minute: int,
    tz: str,
    rules: tuple[RetentionRule, ...],
    ref: date,
) -> None:
    draft = PolicyDraft(name, WeeklySchedule(weekday, time(hour, minute), tz), rules)
    if has_errors(draft_issues(draft)):
        with pytest.raises(InvalidPolicy):
            build_policy_body(draft, ref)
        return
    body = build_policy_body(draft, ref)
    check_body(body)
    summary = parse_policy_body(body)
    assert summary.issues == ()
    assert {r.name for r in summary.retention} == {r.kind.value for r in rules}


valid_duration = st.one_of(
    st.integers(7, 3650).map(lambda n: f"P{n}D"),
    st.integers(1, 521).map(lambda n: f"P{n}W"),
    st.integers(1, 120).map(lambda n: f"P{n}M"),
    st.integers(1, 10).map(lambda n: f"P{n}Y"),
)


@settings(max_examples=200, deadline=None)
@given(
    weekday=st.integers(0, 6),
    at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    tz=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
    default=valid_duration,
    extra=st.dictionaries(st.sampled_from([W, M, Y]), valid_duration),
    ref=st.dates(date(2020, 1, 1), date(2035, 12, 31)),
)
def test_valid_drafts_always_build(
    weekday: int, at: time, tz: str, default: str, extra: dict[RetentionKind, str], ref: date
) -> None:
    rules = (RetentionRule(D, default), *(RetentionRule(k, v) for k, v in extra.items()))
    body = build_policy_body(PolicyDraft("pol-x", WeeklySchedule(weekday, at, tz), rules), ref)
    check_body(body)
