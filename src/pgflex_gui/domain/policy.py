"""Backup policy drafts: validate them and build the exact REST body for PUT backupPolicies.

Name rule (the service's exact rule is not in the sources; this is the Azure Backup portal's
rule for policy names, kept as the product rule): 3-150 characters, letters, digits and
hyphens, starting with a letter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.issues import Issue, error, has_errors
from pgflex_gui.domain.models import PG_FLEX_DATASOURCE_TYPE, PolicyInfo, RetentionRuleInfo
from pgflex_gui.domain.retention import (
    RetentionKind,
    RetentionRule,
    describe_duration,
    validate_rules,
)
from pgflex_gui.domain.schedule import (
    WeeklySchedule,
    describe_intervals,
    format_offset,
    interval_issues,
    load_time_zone,
    parse_repeating_interval,
)
from pgflex_gui.domain.schedule import validate as schedule_issues

__all__ = [
    "BACKUP_RULE_NAME",
    "DEFAULT_RETENTION",
    "InvalidPolicy",
    "PolicyDraft",
    "PolicySummary",
    "build_policy_body",
    "describe_policy",
    "draft_issues",
    "parse_policy_body",
    "policy_info_from_body",
    "policy_name_issues",
]

BACKUP_RULE_NAME = "BackupWeekly"
DEFAULT_RETENTION = "P3M"
_VAULT_STORE = {"dataStoreType": "VaultStore", "objectType": "DataStoreInfoBase"}
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


class InvalidPolicy(ValueError):
    """A draft that must not be sent; ``issues`` says why."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__("; ".join(i.message for i in self.issues if i.blocks))


@dataclass(frozen=True)
class PolicyDraft:
    """What the policy wizard collects."""

    name: str
    schedule: WeeklySchedule
    rules: tuple[RetentionRule, ...] = (RetentionRule(RetentionKind.DEFAULT, DEFAULT_RETENTION),)


def policy_name_issues(name: str) -> list[Issue]:
    """Check a policy name (see module docstring for the rule)."""
    if not name:
        return [error("name", "The policy needs a name.")]
    found: list[Issue] = []
    if not 3 <= len(name) <= 150:
        found.append(error("name", f"Policy names have 3 to 150 characters, not {len(name)}."))
    if not _NAME_RE.match(name):
        found.append(
            error(
                "name",
                "Policy names start with a letter and use only letters, digits and hyphens.",
            )
        )
    return found


def draft_issues(draft: PolicyDraft) -> list[Issue]:
    """Every issue with a draft: name, schedule and retention."""
    return [
        *policy_name_issues(draft.name),
        *schedule_issues(draft.schedule),
        *validate_rules(draft.rules),
    ]


def _tagging_criterion(kind: RetentionKind) -> dict[str, Any]:
    crit: dict[str, Any] = {
        "isDefault": kind is RetentionKind.DEFAULT,
        "taggingPriority": kind.priority,
        "tagInfo": {"tagName": kind.value, "id": kind.tag_id},
    }
    if kind is not RetentionKind.DEFAULT:
        crit["criteria"] = [
            {
                "objectType": "ScheduleBasedBackupCriteria",
                "absoluteCriteria": [kind.absolute_criterion],
            }
        ]
    return crit


def _retention_rule(rule: RetentionRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "objectType": "AzureRetentionRule",
        "isDefault": rule.kind is RetentionKind.DEFAULT,
        "lifecycles": [
            {
                "deleteAfter": {"objectType": "AbsoluteDeleteOption", "duration": str(rule.parsed)},
                "sourceDataStore": dict(_VAULT_STORE),
                "targetDataStoreCopySettings": [],
            }
        ],
    }


def build_policy_body(draft: PolicyDraft, reference_date: date) -> dict[str, Any]:
    """The body for ``PUT .../backupVaults/{v}/backupPolicies/{name}``.

    The first backup is the first scheduled day on or after ``reference_date``.

    Raises:
        InvalidPolicy: when the draft has any blocking issue.
    """
    issues = draft_issues(draft)
    if has_errors(issues):
        raise InvalidPolicy(issues)
    order = sorted(draft.rules, key=lambda r: r.kind.priority, reverse=True)
    tagging = [_tagging_criterion(r.kind) for r in order]
    backup_rule = {
        "name": BACKUP_RULE_NAME,
        "objectType": "AzureBackupRule",
        "backupParameters": {"objectType": "AzureBackupParams", "backupType": "Full"},
        "dataStore": dict(_VAULT_STORE),
        "trigger": {
            "objectType": "ScheduleBasedTriggerContext",
            "schedule": {
                "repeatingTimeIntervals": [draft.schedule.to_repeating_interval(reference_date)],
                "timeZone": draft.schedule.time_zone_for_policy(),
            },
            "taggingCriteria": tagging,
        },
    }
    return {
        "properties": {
            "objectType": "BackupPolicy",
            "datasourceTypes": [PG_FLEX_DATASOURCE_TYPE],
            "policyRules": [backup_rule, *(_retention_rule(r) for r in order)],
        }
    }


@dataclass(frozen=True)
class PolicySummary:
    """What a policy body says, read leniently (policies may come from other tools)."""

    name: str = ""
    datasource_types: tuple[str, ...] = ()
    repeating_intervals: tuple[str, ...] = ()
    time_zone: str = "UTC"
    retention: tuple[RetentionRuleInfo, ...] = ()
    issues: tuple[Issue, ...] = field(default=())

    @property
    def is_pg_flex(self) -> bool:
        """True when the policy is for PostgreSQL flexible servers."""
        return any(t.lower() == PG_FLEX_DATASOURCE_TYPE.lower() for t in self.datasource_types)


def _as_dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _as_list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def parse_policy_body(body: Mapping[str, Any]) -> PolicySummary:
    """Summarise a policy from a GET response, a PUT body or its ``properties``."""
    props = _as_dict(body.get("properties")) or body
    intervals: list[str] = []
    time_zone = "UTC"
    criteria: dict[str, str] = {}
    retention: list[RetentionRuleInfo] = []
    for rule in _as_list(props.get("policyRules")):
        rule = _as_dict(rule)
        kind = str(rule.get("objectType", ""))
        if kind == "AzureBackupRule":
            trigger = _as_dict(rule.get("trigger"))
            sched = _as_dict(trigger.get("schedule"))
            intervals.extend(str(i) for i in _as_list(sched.get("repeatingTimeIntervals")))
            time_zone = str(sched.get("timeZone") or "UTC")
            for tc in _as_list(trigger.get("taggingCriteria")):
                tc = _as_dict(tc)
                tag = str(_as_dict(tc.get("tagInfo")).get("tagName", ""))
                marks = [
                    str(a)
                    for c in _as_list(tc.get("criteria"))
                    for a in _as_list(_as_dict(c).get("absoluteCriteria"))
                ]
                criteria[tag.lower()] = ",".join(marks)
        elif kind == "AzureRetentionRule":
            lifecycles = _as_list(rule.get("lifecycles"))
            first = _as_dict(lifecycles[0]) if lifecycles else {}
            duration = str(_as_dict(first.get("deleteAfter")).get("duration", ""))
            name = str(rule.get("name", ""))
            retention.append(
                RetentionRuleInfo(
                    name=name,
                    duration=duration,
                    is_default=bool(rule.get("isDefault", False)),
                    criteria="",
                )
            )
    retention = [
        RetentionRuleInfo(r.name, r.duration, r.is_default, criteria.get(r.name.lower(), ""))
        for r in retention
    ]
    issues = interval_issues(intervals)
    names_with_tags = set(criteria)
    for r in retention:
        if not r.is_default and r.name.lower() not in names_with_tags:
            issues.append(
                error("retention", f"Retention rule {r.name} has no tagging criterion of its name.")
            )
    return PolicySummary(
        name=str(body.get("name", "")),
        datasource_types=tuple(str(t) for t in _as_list(props.get("datasourceTypes"))),
        repeating_intervals=tuple(intervals),
        time_zone=time_zone,
        retention=tuple(retention),
        issues=tuple(issues),
    )


def policy_info_from_body(body: Mapping[str, Any], policy_id: ResourceId) -> PolicyInfo:
    """A :class:`PolicyInfo` for an adapter that has the raw body."""
    s = parse_policy_body(body)
    return PolicyInfo(
        policy_id, s.datasource_types, s.repeating_intervals, s.time_zone, s.retention
    )


def _schedule_words(intervals: Sequence[str], time_zone: str) -> str:
    try:
        zone = load_time_zone(time_zone)
    except ValueError:
        return describe_intervals(intervals, time_zone)
    parts = []
    for text in intervals:
        try:
            start, period = parse_repeating_interval(text, zone)
        except ValueError:
            return describe_intervals(intervals, time_zone)
        if period != "P1W":
            return describe_intervals(intervals, time_zone)
        local = start.astimezone(zone)
        parts.append(f"{local:%A} at {local:%H:%M} {format_offset(local.utcoffset())}")
    if not parts:
        return "No schedule"
    return "Weekly on " + " and ".join(parts)


def describe_policy(policy: PolicyInfo | PolicySummary, display_tz: str | None = None) -> str:
    """``"Weekly on Sunday at 02:30 UTC; kept 3 months; first of month kept 1 year"``.

    ``display_tz`` shows the time in another zone (default: the policy's own).
    """
    parts = [_schedule_words(policy.repeating_intervals, display_tz or policy.time_zone)]
    ordered = sorted(policy.retention, key=lambda r: (not r.is_default, _kind_rank(r.name), r.name))
    for rule in ordered:
        words = describe_duration(rule.duration)
        if rule.is_default:
            parts.append(f"kept {words}")
        else:
            parts.append(f"{_rule_label(rule)} kept {words}")
    return "; ".join(parts)


def _kind_rank(name: str) -> int:
    try:
        return -RetentionKind.parse(name).priority
    except ValueError:
        return 0


def _rule_label(rule: RetentionRuleInfo) -> str:
    try:
        return RetentionKind.parse(rule.name).label
    except ValueError:
        return rule.name
