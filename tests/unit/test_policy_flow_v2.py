"""PolicyFlow's vaulted backup v2 choice, and the v2 rules for existing policies (#16.2)."""

from __future__ import annotations

from datetime import time

import pytest

from pgflex_gui.domain.issues import Severity, has_errors
from pgflex_gui.domain.models import PolicyInfo, RetentionRuleInfo
from pgflex_gui.domain.retention import RetentionKind
from pgflex_gui.domain.schedule import WeeklySchedule
from pgflex_gui.domain.v2_rules import (
    DailySchedule,
    existing_policy_kind_issues,
    policy_backup_kind,
)
from pgflex_gui.ui.wizards.policy.flow import BACKUP_TYPE_LABELS, Choice, PolicyFlow, Step
from tests.unit.test_policy_flow import GUID, TODAY, V1, server

DAILY = "R/2026-12-07T02:00:00+00:00/P1D"
WEEKLY = "R/2026-12-06T02:00:00+00:00/P1W"


def policy(name: str, *intervals: str) -> PolicyInfo:
    return PolicyInfo(
        id=V1.id.child("backupPolicies", name),
        repeating_intervals=intervals,
        retention=(RetentionRuleInfo("Default", "P3M", is_default=True),),
    )


def flow_v2(**kw: object) -> PolicyFlow:
    f = PolicyFlow([server(**kw)], today=TODAY, guid=lambda _s: GUID)  # type: ignore[arg-type]
    f.set_vaults([V1])
    f.choose_existing_vault(V1.id)
    f.set_policies(V1.id, [policy("daily", DAILY), policy("weekly", WEEKLY)])
    f.set_backup_type("v2")
    return f


# -- domain: what an existing policy's body tells --------------------------------------------


def test_policy_kind_daily_is_v2_weekly_and_odd_are_unknown() -> None:
    assert policy_backup_kind(policy("d", DAILY)) == "v2"
    assert policy_backup_kind(policy("w", WEEKLY)) == "unknown"
    assert policy_backup_kind(policy("none")) == "unknown"
    assert policy_backup_kind(policy("bad", "garbage")) == "unknown"
    assert policy_backup_kind(policy("two", DAILY, DAILY)) == "unknown"


def test_existing_policy_kind_issues() -> None:
    assert existing_policy_kind_issues(policy("d", DAILY), "v2") == []
    (unknown,) = existing_policy_kind_issues(policy("w", WEEKLY), "v2")
    assert unknown.severity is Severity.WARNING
    assert "unknown" in unknown.message
    (refused,) = existing_policy_kind_issues(policy("d", DAILY), "v1")
    assert refused.blocks
    assert "only vaulted backup v2" in refused.message
    assert existing_policy_kind_issues(policy("w", WEEKLY), "v1") == []


# -- the flow -----------------------------------------------------------------------------------


def test_labels_and_default_is_v1() -> None:
    f = PolicyFlow([server()], today=TODAY)
    assert f.backup_type == "v1"
    assert not f.is_v2
    assert BACKUP_TYPE_LABELS["v1"] == "Vaulted backup (logical, restore as files)"
    assert BACKUP_TYPE_LABELS["v2"].startswith("Vaulted backup v2 (physical, restore as server)")
    with pytest.raises(ValueError, match="unknown backup type"):
        f.set_backup_type("v3")  # type: ignore[arg-type]


def test_v2_daily_default_then_weekly_keeps_time_and_zone() -> None:
    f = flow_v2()
    assert isinstance(f.v2_draft.schedule, DailySchedule)
    assert not has_errors(f.issues(Step.POLICY))
    f.update_v2_policy(daily=False, weekday=2, at=time(3, 30), time_zone="Europe/Berlin")
    assert f.v2_draft.schedule == WeeklySchedule(2, time(3, 30), "Europe/Berlin")
    assert f.calendar()  # a weekly v2 schedule has a calendar
    f.update_v2_policy(daily=True)
    assert f.v2_draft.schedule == DailySchedule(time(3, 30), "Europe/Berlin")
    assert f.calendar() == []


def test_v2_retention_rules_and_v1_draft_untouched() -> None:
    f = flow_v2()
    v1_rules = f.policy.draft.rules
    f.set_retention(RetentionKind.DEFAULT, "P3D")  # below 7 days
    assert has_errors(f.issues(Step.POLICY))
    f.set_retention(RetentionKind.DEFAULT, "P3M")
    f.set_retention(RetentionKind.MONTHLY, "P1Y")
    assert not has_errors(f.issues(Step.POLICY))
    assert {r.kind for r in f.v2_draft.rules} == {RetentionKind.DEFAULT, RetentionKind.MONTHLY}
    assert f.policy.draft.rules == v1_rules


def test_v2_name_clash_and_policy_id() -> None:
    f = flow_v2()
    f.update_v2_policy(name="daily")
    assert any("already has a policy named daily" in i.message for i in f.issues(Step.POLICY))
    f.update_v2_policy(name="pgflex-v2-new")
    assert f.policy_id() == V1.id.child("backupPolicies", "pgflex-v2-new")


def test_existing_policy_must_match_the_type() -> None:
    f = flow_v2()
    f.choose_existing_policy(V1.id.child("backupPolicies", "daily"))
    assert not has_errors(f.issues(Step.POLICY))
    f.choose_existing_policy(V1.id.child("backupPolicies", "weekly"))
    issues = f.issues(Step.POLICY)
    assert not has_errors(issues)
    assert any(i.field == "policy.kind" and "unknown" in i.message for i in issues)
    f.set_backup_type("v1")
    f.choose_existing_policy(V1.id.child("backupPolicies", "daily"))
    assert any(i.field == "policy.kind" and i.blocks for i in f.issues(Step.POLICY))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"sku_tier": "Burstable"}, "is a Burstable server"),
        ({"version": "14"}, "runs PostgreSQL 14"),
        ({"replication_role": "GeoAsyncReplica"}, "is a replica"),
        ({"location": "westindia"}, "preview is not offered"),
    ],
)
def test_preflight_refuses_ineligible_servers_with_reason(
    changes: dict[str, str], reason: str
) -> None:
    fields = {"sku_tier": "GeneralPurpose", "replication_role": "Primary", **changes}
    f = flow_v2(**fields)
    f.set_protecting_instances([])
    issues = f.issues(Step.PREFLIGHT)
    assert any(i.blocks and reason in i.message for i in issues)
    f.set_backup_type("v1")
    assert not any(reason in i.message for i in f.issues(Step.PREFLIGHT))


def test_preflight_says_unknown_fields() -> None:
    f = flow_v2(version="", sku_tier="")
    f.set_protecting_instances([])
    messages = [i.message for i in f.issues(Step.PREFLIGHT)]
    assert any("pricing tier" in m and "unknown" in m for m in messages)
    assert any("PostgreSQL version" in m and "unknown" in m for m in messages)


def test_plan_carries_the_type_and_the_v2_draft() -> None:
    f = flow_v2(sku_tier="GeneralPurpose", replication_role="Primary")
    f.set_protecting_instances([])
    f.set_assignments(V1.principal_id, [])
    f.set_caller_rights(dict.fromkeys(_scopes(), True))
    f.set_grant(_scopes()[0])
    f.use_new_policy()
    assert f.policy.mode is Choice.NEW
    plan = f.plan()
    assert plan.backup_type == "v2"
    assert plan.is_v2
    assert plan.v2_policy_draft == f.v2_draft
    assert plan.policy_draft is None
    assert plan.creates_policy
    assert any("v2 policy" in s for s in plan.steps())


def _scopes() -> list[object]:
    from pgflex_gui.domain.preflight import GrantScope

    return list(GrantScope)
