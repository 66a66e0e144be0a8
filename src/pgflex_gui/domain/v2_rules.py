"""Vaulted backup v2 (physical, preview): the rules checked before anything is sent.

Pure and Qt-free. Sources: the shared doc ``azure-v2-and-resource-graph.md`` Topic 1
(AD-V2TUT, AD-V2SM). What v2 changes against v1 (``schedule.py``, ``policy.py``):

* **Schedule**: daily (the default) or weekly. v1 keeps exactly one day a week; a weekly v2
  schedule keeps that one-day rule too (the v2 docs name "Weekly" as a frequency but never
  several days; product decision). Both are sent as one ISO 8601 repeating interval with a
  UTC start (``R/<UTC start>/P1D`` or ``/P1W``), ``timeZone: "UTC"``, as v1 does.
* **Retention**: default 3 months; every rule 7 days to 10 years; separate
  weekly/monthly/yearly rules tagged FirstOfWeek/FirstOfMonth/FirstOfYear, priority
  yearly > monthly > weekly > default. With a daily schedule the Default rule is what keeps
  each daily backup (the docs' "daily retention").
* **Eligibility** (validation fails with a user error otherwise): not Burstable,
  PostgreSQL 15 or later, a primary server (no read or geo replica), and a region where the
  preview is offered (doc §1.7). A field we do not know (empty) is reported, never assumed.
* **Policy body** (:func:`build_v2_policy_body`): INFERRED (doc §1.4), the generic rule format
  with ``VaultStore``. UNCONFIRMED: whether an ``OperationalStore`` rule is accepted or needed,
  and whether v2 expects ``backupType "Incremental"``; we send ``"Full"`` as v1 does and the
  service's validation is the judge.
* **Instance marker** (:func:`v2_policy_parameters`): the documented
  ``backupDatasourceParametersList`` entry (doc §1.3), sent at api-version 2026-07-01.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from fractions import Fraction
from typing import Any

from pgflex_gui.domain.backup_kind import PG_DATASOURCE_PARAMETERS, BackupKind
from pgflex_gui.domain.issues import Issue, error, has_errors, info, warning
from pgflex_gui.domain.models import PG_FLEX_DATASOURCE_TYPE, FlexServer, PolicyInfo, Vault
from pgflex_gui.domain.policy import InvalidPolicy, policy_name_issues
from pgflex_gui.domain.regions import normalize_region
from pgflex_gui.domain.retention import (
    RetentionKind,
    RetentionRule,
    describe_duration,
    duration_issues,
)
from pgflex_gui.domain.schedule import (
    POLICY_TIME_ZONE,
    WeeklySchedule,
    describe_period,
    load_time_zone,
    parse_repeating_interval,
)
from pgflex_gui.domain.schedule import validate as weekly_schedule_issues
from pgflex_gui.domain.vault_rules import vault_issues_for_server

__all__ = [
    "DAILY_PERIOD",
    "DAILY_RULE_NAME",
    "MIN_V2_MAJOR",
    "PHYSICAL_BACKUP",
    "V2_API_VERSION",
    "V2_DEFAULT_RETENTION",
    "V2_UNSUPPORTED_REGIONS",
    "WEEKLY_PERIOD",
    "WEEKLY_RULE_NAME",
    "DailySchedule",
    "V2PolicyDraft",
    "V2Schedule",
    "build_v2_policy_body",
    "existing_policy_kind_issues",
    "policy_backup_kind",
    "v2_draft_issues",
    "v2_eligibility_issues",
    "v2_interval_issues",
    "v2_policy_parameters",
    "v2_retention_issues",
    "v2_schedule_issues",
    "with_v2_marker",
]

V2_API_VERSION = "2026-07-01"
"""The Data Protection api-version every v2 call is sent at (doc §1.2)."""

PHYSICAL_BACKUP = "PhysicalBackup"
DAILY_PERIOD = "P1D"
WEEKLY_PERIOD = "P1W"
DAILY_RULE_NAME = "BackupDaily"
WEEKLY_RULE_NAME = "BackupWeekly"
V2_DEFAULT_RETENTION = "P3M"
MIN_V2_MAJOR = 15

V2_UNSUPPORTED_REGIONS = frozenset(
    {
        "austriaeast",
        "belgiumcentral",
        "chilecentral",
        "indonesiacentral",
        "israelnorthwest",
        "malaysiasouth",
        "malaysiawest",
        "mexicocentral",
        "qatarcentral",
        "southcentralus2",
        "southeastus",
        "southeastus3",
        "southeastus5",
        "southwestus",
        "westindia",
    }
)
"""Public regions where the v2 preview is not offered (doc §1.7, AD-V2SM, 09/2026)."""

_VAULT_STORE = {"dataStoreType": "VaultStore", "objectType": "DataStoreInfoBase"}
_PRIMARY_ROLES = frozenset({"", "primary", "none"})
_SUPPORTED_TIERS = ("GeneralPurpose", "MemoryOptimized")


# -- schedule -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailySchedule:
    """One backup a day at ``time`` (local wall-clock, whole minutes) in ``time_zone``."""

    time: time
    time_zone: str = "UTC"

    def first_occurrence(self, reference_date: date) -> datetime:
        """The first backup on ``reference_date``, as an aware local datetime.

        Raises:
            ValueError: when the schedule is invalid.
        """
        problems = v2_schedule_issues(self)
        if problems:
            raise ValueError("; ".join(i.message for i in problems))
        return datetime.combine(reference_date, self.time, tzinfo=load_time_zone(self.time_zone))

    def to_repeating_interval(self, reference_date: date) -> str:
        """``R/<first occurrence in UTC>/P1D``."""
        start = self.first_occurrence(reference_date).astimezone(UTC)
        return f"R/{start.isoformat(timespec='seconds')}/{DAILY_PERIOD}"


V2Schedule = DailySchedule | WeeklySchedule
"""Daily, or weekly on one day (:class:`~pgflex_gui.domain.schedule.WeeklySchedule`)."""


def v2_schedule_issues(schedule: object) -> list[Issue]:
    """Check a v2 schedule (daily or weekly); empty when it can be encoded."""
    if isinstance(schedule, WeeklySchedule):
        return weekly_schedule_issues(schedule)
    if isinstance(schedule, DailySchedule):
        # Same time and zone rules as v1; the weekday is irrelevant for a daily backup.
        return weekly_schedule_issues(WeeklySchedule(0, schedule.time, schedule.time_zone))
    return [
        error(
            "schedule",
            f"{schedule!r} is not a backup schedule.",
            "Choose a daily or a weekly schedule.",
        )
    ]


def _interval(schedule: V2Schedule, reference_date: date) -> str:
    return schedule.to_repeating_interval(reference_date)


def v2_interval_issues(intervals: Iterable[str]) -> list[Issue]:
    """Check intervals read from a policy against the v2 rules (one interval, P1D or P1W)."""
    items = list(intervals)
    if not items:
        return [error("schedule", "The policy has no backup schedule.")]
    found: list[Issue] = []
    periods: list[str] = []
    for text in items:
        try:
            _, period = parse_repeating_interval(text)
        except ValueError as exc:
            found.append(error("schedule", str(exc)))
            continue
        periods.append(period)
        if period not in (DAILY_PERIOD, WEEKLY_PERIOD):
            found.append(
                error(
                    "schedule",
                    f"The schedule repeats every {describe_period(period)}. Vaulted backup v2 "
                    "runs daily or weekly.",
                    "Use a daily or a weekly schedule.",
                )
            )
    if len(items) > 1:
        what = "daily" if DAILY_PERIOD in periods else "weekly"
        found.append(
            error(
                "schedule",
                f"The policy has {len(items)} {what} schedules. pgflex-gui sends one: one backup "
                "a day, or one a week on one day.",
                "Keep exactly one schedule.",
            )
        )
    return found


# -- retention ------------------------------------------------------------------------------


def v2_retention_issues(rules: Sequence[RetentionRule], *, daily: bool = True) -> list[Issue]:
    """Check v2 retention rules: one Default, at most one rule per kind, each 7 days–10 years.

    ``daily`` says the schedule is daily (then Default keeps each daily backup).
    """
    found: list[Issue] = []
    kinds = [r.kind for r in rules]
    if RetentionKind.DEFAULT not in kinds:
        found.append(
            error(
                "retention",
                "A v2 policy needs a default retention rule.",
                f"Add one (the default is {describe_duration(V2_DEFAULT_RETENTION)}).",
            )
        )
    for kind in RetentionKind:
        count = kinds.count(kind)
        if count > 1:
            found.append(
                error(f"retention.{kind.value}", f"There are {count} {kind.value} rules; keep one.")
            )
    lengths: dict[RetentionKind, Fraction] = {}
    for rule in rules:
        problems = duration_issues(rule.duration, f"retention.{rule.kind.value}")
        found.extend(problems)
        if not problems:
            lengths.setdefault(rule.kind, rule.parsed.days_equivalent)
    default = lengths.get(RetentionKind.DEFAULT)
    for kind in (RetentionKind.WEEKLY, RetentionKind.MONTHLY, RetentionKind.YEARLY):
        if default is not None and kind in lengths and lengths[kind] < default:
            found.append(
                warning(
                    f"retention.{kind.value}",
                    f"The {kind.label} copy is kept shorter than ordinary backups (Default), "
                    "so tagging it only shortens its life.",
                    f"Make {kind.value} at least as long as Default.",
                )
            )
    if not daily and RetentionKind.WEEKLY in lengths:
        found.append(
            info(
                "retention.Weekly",
                "With one backup a week every backup is the first of its week, so the Weekly "
                "rule applies to every backup that is not first of month or year.",
            )
        )
    return found


# -- drafts and the policy body ----------------------------------------------------------------


@dataclass(frozen=True)
class V2PolicyDraft:
    """What a v2 policy wizard collects."""

    name: str
    schedule: V2Schedule
    rules: tuple[RetentionRule, ...] = (RetentionRule(RetentionKind.DEFAULT, V2_DEFAULT_RETENTION),)

    @property
    def is_daily(self) -> bool:
        """True for a daily schedule."""
        return isinstance(self.schedule, DailySchedule)

    @property
    def backup_rule_name(self) -> str:
        """``BackupDaily`` or ``BackupWeekly`` (also the on-demand backup's rule name)."""
        return DAILY_RULE_NAME if self.is_daily else WEEKLY_RULE_NAME


def v2_draft_issues(draft: V2PolicyDraft) -> list[Issue]:
    """Every issue with a v2 draft: name, schedule and retention."""
    return [
        *policy_name_issues(draft.name),
        *v2_schedule_issues(draft.schedule),
        *v2_retention_issues(draft.rules, daily=draft.is_daily),
    ]


def _tagging(kind: RetentionKind) -> dict[str, Any]:
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


def build_v2_policy_body(draft: V2PolicyDraft, reference_date: date) -> dict[str, Any]:
    """The body for ``PUT .../backupPolicies/{name}`` of a v2 (daily or weekly) policy.

    INFERRED shape (doc §1.4); see the module docstring for what is UNCONFIRMED.

    Raises:
        InvalidPolicy: when the draft has any blocking issue.
    """
    issues = v2_draft_issues(draft)
    if has_errors(issues):
        raise InvalidPolicy(issues)
    order = sorted(draft.rules, key=lambda r: r.kind.priority, reverse=True)
    backup_rule = {
        "name": draft.backup_rule_name,
        "objectType": "AzureBackupRule",
        "backupParameters": {"objectType": "AzureBackupParams", "backupType": "Full"},
        "dataStore": dict(_VAULT_STORE),
        "trigger": {
            "objectType": "ScheduleBasedTriggerContext",
            "schedule": {
                "repeatingTimeIntervals": [_interval(draft.schedule, reference_date)],
                "timeZone": POLICY_TIME_ZONE,
            },
            "taggingCriteria": [_tagging(r.kind) for r in order],
        },
    }
    retention = [
        {
            "name": r.name,
            "objectType": "AzureRetentionRule",
            "isDefault": r.kind is RetentionKind.DEFAULT,
            "lifecycles": [
                {
                    "deleteAfter": {
                        "objectType": "AbsoluteDeleteOption",
                        "duration": str(r.parsed),
                    },
                    "sourceDataStore": dict(_VAULT_STORE),
                    "targetDataStoreCopySettings": [],
                }
            ],
        }
        for r in order
    ]
    return {
        "properties": {
            "objectType": "BackupPolicy",
            "datasourceTypes": [PG_FLEX_DATASOURCE_TYPE],
            "policyRules": [backup_rule, *retention],
        }
    }


# -- the instance marker -------------------------------------------------------------------------


def v2_policy_parameters() -> dict[str, Any]:
    """``policyInfo.policyParameters`` that make a backup instance v2 (doc §1.3)."""
    return {
        "backupDatasourceParametersList": [
            {"objectType": PG_DATASOURCE_PARAMETERS, "backupSolutionType": PHYSICAL_BACKUP}
        ]
    }


def with_v2_marker(instance_body: dict[str, Any]) -> dict[str, Any]:
    """A copy of a backup instance body (wrapped in ``properties`` or not) with the marker.

    Other ``policyParameters`` entries (e.g. data store parameters) are kept; an existing PG
    entry is replaced.
    """
    body = {**instance_body}
    wrapped = isinstance(body.get("properties"), dict)
    props = dict(body["properties"]) if wrapped else body
    policy_info = dict(props.get("policyInfo") or {})
    params = dict(policy_info.get("policyParameters") or {})
    others = [
        e
        for e in params.get("backupDatasourceParametersList") or []
        if not (
            isinstance(e, dict)
            and str(e.get("objectType", "")).lower() == PG_DATASOURCE_PARAMETERS.lower()
        )
    ]
    params["backupDatasourceParametersList"] = [
        *others,
        *v2_policy_parameters()["backupDatasourceParametersList"],
    ]
    policy_info["policyParameters"] = params
    props["policyInfo"] = policy_info
    if wrapped:
        body["properties"] = props
        return body
    return props


# -- existing policies ---------------------------------------------------------------------------


def policy_backup_kind(policy: PolicyInfo) -> BackupKind:
    """What a policy's body tells about the backup type it serves, without guessing.

    A policy carries no v1/v2 marker (the marker is on the backup instance, doc §1.3). One
    daily schedule can only be v2 (v1 keeps exactly one day a week). One weekly schedule is
    valid for both, so it is ``"unknown"``; so is anything else.
    """
    periods = []
    for text in policy.repeating_intervals:
        try:
            periods.append(parse_repeating_interval(text)[1])
        except ValueError:
            return "unknown"
    if periods == [DAILY_PERIOD]:
        return "v2"
    return "unknown"


def existing_policy_kind_issues(policy: PolicyInfo, backup_type: str) -> list[Issue]:
    """Whether an existing policy fits the chosen backup type (``"v1"`` or ``"v2"``)."""
    kind = policy_backup_kind(policy)
    if backup_type == "v2":
        if kind == "v2":
            return []
        return [
            warning(
                "policy.kind",
                f"Whether {policy.name} was made for vaulted backup v2 is unknown: its body "
                "carries no backup type, and a weekly schedule suits v1 and v2 alike.",
                "Azure's validation decides when you commit; create a new v2 policy to be sure.",
            )
        ]
    if kind == "v2":
        return [
            error(
                "policy.kind",
                f"{policy.name} backs up daily, which only vaulted backup v2 does.",
                "Choose vaulted backup v2, or pick or create a weekly v1 policy.",
            )
        ]
    return []


# -- eligibility --------------------------------------------------------------------------------


def _major(version: str) -> int | None:
    head = str(version or "").strip().split(".", 1)[0]
    return int(head) if head.isdigit() else None


def v2_eligibility_issues(server: FlexServer, vault: Vault | None = None) -> list[Issue]:
    """Why ``server`` can't be protected by vaulted backup v2 (doc §1.5, §1.7), in words.

    An unknown field (empty) gives a warning saying it was not checked. With ``vault`` the
    v1 vault rules (same region, same tenant, ready) are added, since v2 keeps them.
    """
    found: list[Issue] = []
    tier = server.sku_tier.strip()
    if not tier:
        found.append(
            warning(
                "server.tier",
                f"The pricing tier of {server.name} is unknown, so it was not checked. "
                "Vaulted backup v2 needs General Purpose or Memory Optimized.",
            )
        )
    elif tier.lower() == "burstable":
        found.append(
            error(
                "server.tier",
                f"{server.name} is a Burstable server. Vaulted backup v2 supports only General "
                "Purpose and Memory Optimized servers.",
                "Scale the server to General Purpose or Memory Optimized (Compute + storage), "
                "or protect it with v1 (logical) backup.",
            )
        )
    elif tier.lower() not in {t.lower() for t in _SUPPORTED_TIERS}:
        found.append(
            warning(
                "server.tier",
                f"{server.name} is in tier {tier!r}, which the v2 support matrix does not name.",
            )
        )
    major = _major(server.version)
    if major is None:
        found.append(
            warning(
                "server.version",
                f"The PostgreSQL version of {server.name} is unknown ({server.version!r}), so it "
                f"was not checked. Vaulted backup v2 needs PostgreSQL {MIN_V2_MAJOR} or later.",
            )
        )
    elif major < MIN_V2_MAJOR:
        found.append(
            error(
                "server.version",
                f"{server.name} runs PostgreSQL {major}. Vaulted backup v2 needs PostgreSQL "
                f"{MIN_V2_MAJOR} or later.",
                f"Upgrade the server to PostgreSQL {MIN_V2_MAJOR} or later (major version "
                "upgrade), or protect it with v1 (logical) backup.",
            )
        )
    role = server.replication_role.strip()
    if role.lower() not in _PRIMARY_ROLES:
        found.append(
            error(
                "server.replication",
                f"{server.name} is a replica ({role}). Vaulted backup v2 protects primary "
                "servers only.",
                "Protect the primary server instead.",
            )
        )
    elif not role:
        found.append(
            info(
                "server.replication",
                f"Whether {server.name} is a replica is unknown; Azure refuses replicas.",
            )
        )
    region = normalize_region(server.location)
    if region in V2_UNSUPPORTED_REGIONS:
        found.append(
            error(
                "server.region",
                f"{server.name} is in {region}, where the vaulted backup v2 preview is not "
                "offered.",
                "Protect it with v1 (logical) backup, or wait until v2 reaches this region.",
            )
        )
    if vault is not None:
        found.extend(vault_issues_for_server(vault, server))
    return found
