"""Vaulted backup v2 protection rules (#16.2): schedule, retention, eligibility, bodies."""

from __future__ import annotations

import dataclasses
from datetime import date, time

import pytest

from pgflex_gui.domain.backup_kind import instance_kind_of
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.issues import has_errors
from pgflex_gui.domain.models import FlexServer, Vault
from pgflex_gui.domain.policy import InvalidPolicy, parse_policy_body
from pgflex_gui.domain.retention import RetentionKind, RetentionRule
from pgflex_gui.domain.schedule import WeeklySchedule
from pgflex_gui.domain.v2_rules import (
    DailySchedule,
    V2PolicyDraft,
    build_v2_policy_body,
    v2_draft_issues,
    v2_eligibility_issues,
    v2_interval_issues,
    v2_policy_parameters,
    v2_retention_issues,
    v2_schedule_issues,
    with_v2_marker,
)

SUB = "00000000-0000-0000-0000-000000000001"
SRV = ResourceId.parse(
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1"
)
VAULT = Vault(
    ResourceId.parse(
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1"
    ),
    "westeurope",
    tenant_id="t",
)


def server(**kw: object) -> FlexServer:
    base = FlexServer(
        SRV,
        "westeurope",
        "16",
        "Ready",
        tenant_id="t",
        sku_tier="GeneralPurpose",
        storage_gb=128,
        storage_type="Premium_LRS",
        replication_role="Primary",
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def fields(issues: list) -> list[str]:  # type: ignore[type-arg]
    return [i.field for i in issues if i.blocks]


# -- schedule ------------------------------------------------------------------------------


def test_daily_schedule_encodes_one_p1d_interval_in_utc() -> None:
    sched = DailySchedule(time(2, 30), "Europe/Berlin")
    assert v2_schedule_issues(sched) == []
    assert sched.to_repeating_interval(date(2026, 12, 7)) == "R/2026-12-07T01:30:00+00:00/P1D"


def test_weekly_v2_schedule_keeps_one_day() -> None:
    sched = WeeklySchedule(6, time(3, 0))
    assert v2_schedule_issues(sched) == []
    assert sched.to_repeating_interval(date(2026, 12, 7)).endswith("/P1W")


def test_bad_daily_time_and_zone_are_refused_like_v1() -> None:
    assert fields(v2_schedule_issues(DailySchedule(time(2, 30, 15)))) == ["schedule.time"]
    assert fields(v2_schedule_issues(DailySchedule(time(2, 30), "Mars/Olympus"))) == [
        "schedule.time_zone"
    ]
    assert fields(v2_schedule_issues("every day")) == ["schedule"]


def test_interval_rules_accept_daily_and_weekly_only_one() -> None:
    assert v2_interval_issues(["R/2026-12-07T01:30:00+00:00/P1D"]) == []
    assert v2_interval_issues(["R/2026-12-07T01:30:00+00:00/P1W"]) == []
    hourly = v2_interval_issues(["R/2026-12-07T01:30:00+00:00/PT4H"])
    assert has_errors(hourly)
    assert "daily or weekly" in hourly[0].message
    two = v2_interval_issues(["R/2026-12-07T01:30:00+00:00/P1W", "R/2026-12-08T01:30:00+00:00/P1W"])
    assert has_errors(two)
    assert "2 weekly" in two[0].message
    assert has_errors(v2_interval_issues([]))


# -- retention -----------------------------------------------------------------------------


def test_default_retention_is_three_months() -> None:
    draft = V2PolicyDraft("pol-v2", DailySchedule(time(1, 0)))
    assert draft.rules == (RetentionRule(RetentionKind.DEFAULT, "P3M"),)
    assert v2_draft_issues(draft) == []


@pytest.mark.parametrize("duration", ["P7D", "P1W", "P10Y", "P120M"])
def test_retention_bounds_accepted(duration: str) -> None:
    rules = [
        RetentionRule(RetentionKind.DEFAULT, "P7D"),
        RetentionRule(RetentionKind.YEARLY, duration),
    ]
    assert not has_errors(v2_retention_issues(rules))


@pytest.mark.parametrize("duration", ["P6D", "P11Y", "P3651D", "PT1H", "soon"])
def test_retention_out_of_bounds_refused(duration: str) -> None:
    rules = [
        RetentionRule(RetentionKind.DEFAULT, "P3M"),
        RetentionRule(RetentionKind.MONTHLY, duration),
    ]
    assert fields(v2_retention_issues(rules)) == ["retention.Monthly"]


def test_retention_needs_a_default_and_one_rule_per_kind() -> None:
    assert fields(v2_retention_issues([RetentionRule(RetentionKind.WEEKLY, "P6M")])) == [
        "retention"
    ]
    twice = [
        RetentionRule(RetentionKind.DEFAULT, "P3M"),
        RetentionRule(RetentionKind.DEFAULT, "P4M"),
    ]
    assert fields(v2_retention_issues(twice)) == ["retention.Default"]


def test_shorter_tagged_copy_is_a_warning() -> None:
    rules = [
        RetentionRule(RetentionKind.DEFAULT, "P1Y"),
        RetentionRule(RetentionKind.WEEKLY, "P1M"),
    ]
    found = v2_retention_issues(rules)
    assert not has_errors(found)
    assert [i.field for i in found] == ["retention.Weekly"]


# -- policy body -----------------------------------------------------------------------------


def test_daily_policy_body_shape() -> None:
    draft = V2PolicyDraft(
        "pol-v2",
        DailySchedule(time(2, 0)),
        (
            RetentionRule(RetentionKind.DEFAULT, "P3M"),
            RetentionRule(RetentionKind.WEEKLY, "P26W"),
            RetentionRule(RetentionKind.YEARLY, "P10Y"),
        ),
    )
    body = build_v2_policy_body(draft, date(2026, 10, 1))
    props = body["properties"]
    assert props["datasourceTypes"] == ["Microsoft.DBforPostgreSQL/flexibleServers"]
    backup, *retention = props["policyRules"]
    assert backup["name"] == "BackupDaily"
    assert backup["dataStore"]["dataStoreType"] == "VaultStore"
    sched = backup["trigger"]["schedule"]
    assert sched == {
        "repeatingTimeIntervals": ["R/2026-10-01T02:00:00+00:00/P1D"],
        "timeZone": "UTC",
    }
    tags = {t["tagInfo"]["tagName"]: t for t in backup["trigger"]["taggingCriteria"]}
    assert tags["Default"]["isDefault"]
    assert tags["Default"]["taggingPriority"] == 99
    assert tags["Weekly"]["criteria"][0]["absoluteCriteria"] == ["FirstOfWeek"]
    assert tags["Yearly"]["taggingPriority"] == 10
    assert {r["name"]: r["lifecycles"][0]["deleteAfter"]["duration"] for r in retention} == {
        "Default": "P3M",
        "Weekly": "P26W",
        "Yearly": "P10Y",
    }
    assert all(
        r["lifecycles"][0]["sourceDataStore"]["dataStoreType"] == "VaultStore" for r in retention
    )
    # The v1 reader still reads it (and says a daily schedule is not v1).
    summary = parse_policy_body(body)
    assert summary.repeating_intervals == ("R/2026-10-01T02:00:00+00:00/P1D",)
    assert v2_interval_issues(summary.repeating_intervals) == []


def test_weekly_policy_uses_backup_weekly_rule() -> None:
    draft = V2PolicyDraft("pol-w", WeeklySchedule(6, time(2, 0)))
    body = build_v2_policy_body(draft, date(2026, 10, 1))
    assert body["properties"]["policyRules"][0]["name"] == "BackupWeekly"


def test_invalid_draft_is_not_built() -> None:
    draft = V2PolicyDraft(
        "x", DailySchedule(time(2, 0)), (RetentionRule(RetentionKind.DEFAULT, "P1D"),)
    )
    with pytest.raises(InvalidPolicy) as caught:
        build_v2_policy_body(draft, date(2026, 10, 1))
    assert {i.field for i in caught.value.issues} == {"name", "retention.Default"}


# -- marker ----------------------------------------------------------------------------------


def test_marker_makes_an_instance_v2_and_keeps_other_parameters() -> None:
    other = {"objectType": "BlobBackupDatasourceParameters", "containersList": ["a"]}
    body = {
        "properties": {
            "policyInfo": {
                "policyId": "p",
                "policyParameters": {
                    "backupDatasourceParametersList": [
                        other,
                        {
                            "objectType": "PostgreSqlFlexibleServerBackupDatasourceParameters",
                            "backupSolutionType": "LogicalBackup",
                        },
                    ]
                },
            }
        }
    }
    assert instance_kind_of(body) == "v1"
    marked = with_v2_marker(body)
    assert instance_kind_of(marked) == "v2"
    params = marked["properties"]["policyInfo"]["policyParameters"][
        "backupDatasourceParametersList"
    ]
    assert params[0] == other
    assert len(params) == 2
    assert instance_kind_of(body) == "v1"  # the input is not changed
    bare = with_v2_marker({"policyInfo": {"policyId": "p"}})
    assert instance_kind_of(bare) == "v2"
    assert "properties" not in bare
    assert v2_policy_parameters()["backupDatasourceParametersList"][0]["backupSolutionType"] == (
        "PhysicalBackup"
    )


# -- eligibility ------------------------------------------------------------------------------


def test_eligible_server_has_no_blocking_issue() -> None:
    assert not has_errors(v2_eligibility_issues(server(), VAULT))


def test_burstable_is_refused_with_a_fix() -> None:
    found = [i for i in v2_eligibility_issues(server(sku_tier="Burstable")) if i.blocks]
    assert [i.field for i in found] == ["server.tier"]
    assert "Burstable" in found[0].message
    assert "General Purpose" in found[0].remedy


@pytest.mark.parametrize(
    ("version", "refused"), [("11", True), ("14", True), ("15", False), ("18", False)]
)
def test_postgres_14_and_older_refused(version: str, refused: bool) -> None:
    found = fields(v2_eligibility_issues(server(version=version)))
    assert (found == ["server.version"]) is refused
    if refused:
        issue = next(i for i in v2_eligibility_issues(server(version=version)) if i.blocks)
        assert "Upgrade" in issue.remedy


@pytest.mark.parametrize("role", ["AsyncReplica", "GeoAsyncReplica"])
def test_replicas_refused(role: str) -> None:
    assert fields(v2_eligibility_issues(server(replication_role=role))) == ["server.replication"]


def test_unsupported_regions_refused() -> None:
    for region in ("Mexico Central", "westindia", "southeastus3"):
        found = v2_eligibility_issues(server(location=region))
        assert fields(found) == ["server.region"]
    assert not has_errors(v2_eligibility_issues(server(location="eastus")))


def test_unknown_fields_are_reported_not_assumed() -> None:
    found = v2_eligibility_issues(server(sku_tier="", version="", replication_role=""))
    assert not has_errors(found)
    assert {i.field for i in found} == {"server.tier", "server.version", "server.replication"}


def test_vault_rules_are_added_when_a_vault_is_given() -> None:
    far = dataclasses.replace(VAULT, location="northeurope")
    assert fields(v2_eligibility_issues(server(), far)) == ["vault"]
