"""The policy wizard's logic, Qt-free: drafts as immutable values, issues per step, the plan.

Pages bind widgets to a :class:`PolicyFlow`; background listings (vaults, policies, backup
instances, role assignments) feed it through ``set_*`` methods. Every rule comes from
``domain/``; this module only combines them per step and over several servers.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from enum import IntEnum, StrEnum
from typing import Any

from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.issues import Issue, Severity, error, has_errors, info, warning
from pgflex_gui.domain.models import BackupInstance, FlexServer, PolicyInfo, RoleAssignment, Vault
from pgflex_gui.domain.policy import PolicyDraft, describe_policy, draft_issues
from pgflex_gui.domain.preflight import (
    GrantScope,
    RoleRequirement,
    arm_template_for_roles,
    az_script_for_roles,
    missing_roles,
    required_roles,
    server_preflight,
)
from pgflex_gui.domain.regions import normalize_region
from pgflex_gui.domain.retention import (
    CalendarEntry,
    RetentionKind,
    RetentionRule,
    describe_duration,
    retention_calendar,
    validate_rules,
)
from pgflex_gui.domain.schedule import WeeklySchedule, interval_issues, schedule_from_intervals
from pgflex_gui.domain.v2_rules import (
    DailySchedule,
    V2PolicyDraft,
    existing_policy_kind_issues,
    v2_draft_issues,
    v2_eligibility_issues,
    v2_interval_issues,
)
from pgflex_gui.domain.vault_rules import (
    VaultDraft,
    eligible_vaults,
    vault_draft_issues,
    vault_issues_for_server,
)
from pgflex_gui.jobs.protect import DATAPROTECTION, BackupType, ProtectionPlan, ServerTarget

__all__ = [
    "BACKUP_TYPE_LABELS",
    "IRREVERSIBLE_FIELDS",
    "CalendarRow",
    "Choice",
    "InvalidPlan",
    "PolicyChoice",
    "PolicyFlow",
    "Step",
    "VaultChoice",
    "calendar_rows",
]

IRREVERSIBLE_FIELDS = frozenset({"soft_delete", "immutability", "cross_subscription_restore"})

BACKUP_TYPE_LABELS: Mapping[BackupType, str] = {
    "v1": "Vaulted backup (logical, restore as files)",
    "v2": "Vaulted backup v2 (physical, restore as server) — preview",
}


class Step(IntEnum):
    """The wizard's pages, in order."""

    VAULT = 0
    POLICY = 1
    PREFLIGHT = 2
    PERMISSIONS = 3
    SUMMARY = 4


class Choice(StrEnum):
    """Use something that exists, or create it."""

    EXISTING = "existing"
    NEW = "new"


@dataclass(frozen=True)
class VaultChoice:
    """The vault part of the draft."""

    mode: Choice = Choice.EXISTING
    existing_id: ResourceId | None = None
    draft: VaultDraft = field(default_factory=lambda: VaultDraft(name="", location=""))
    subscription_id: str = ""
    resource_group: str = ""
    irreversible_confirmed: bool = False


@dataclass(frozen=True)
class PolicyChoice:
    """The policy part of the draft."""

    mode: Choice = Choice.EXISTING
    existing_id: ResourceId | None = None
    draft: PolicyDraft = field(
        default_factory=lambda: PolicyDraft(name="", schedule=WeeklySchedule(6, time(2, 0), "UTC"))
    )


@dataclass(frozen=True)
class CalendarRow:
    """The recovery points of one month that share a tag, in words for the calendar table.

    ``month`` is ``"December 2026"``, ``days`` the days of the month (``"13, 20, 27"``),
    ``kept_as`` the tag in words with its retention (``"every backup, 3 months"``) and
    ``until`` when they expire (``"13 Mar 2027"`` or ``"13 Mar – 27 Mar 2027"``).
    """

    month: str
    days: str
    kept_as: str
    until: str


def _short_date(day: date, *, year: bool) -> str:
    return f"{day.day} {day:%b}" + (f" {day.year}" if year else "")


def calendar_rows(
    entries: Sequence[CalendarEntry], durations: Mapping[RetentionKind, str]
) -> list[CalendarRow]:
    """Group calendar entries by month and tag (months in order, rarer tags first)."""
    groups: dict[tuple[int, int], dict[RetentionKind, list[CalendarEntry]]] = {}
    for entry in entries:
        by_tag = groups.setdefault((entry.date.year, entry.date.month), {})
        by_tag.setdefault(entry.tag, []).append(entry)
    rows: list[CalendarRow] = []
    for (year, month), by_tag in groups.items():
        for tag in sorted(by_tag, key=lambda k: k.priority):
            items = by_tag[tag]
            first, last = items[0].expiry, items[-1].expiry
            if first == last:
                until = _short_date(first, year=True)
            else:
                until = (
                    f"{_short_date(first, year=first.year != last.year)} – "
                    f"{_short_date(last, year=True)}"
                )
            kept = tag.label
            if tag in durations:
                kept += f", {describe_duration(durations[tag])}"
            rows.append(
                CalendarRow(
                    month=f"{date(year, month, 1):%B} {year}",
                    days=", ".join(str(e.date.day) for e in items),
                    kept_as=kept[0].upper() + kept[1:],
                    until=until,
                )
            )
    return rows


class InvalidPlan(ValueError):
    """``plan()`` was asked for while a step still has blocking issues."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__("; ".join(i.message for i in self.issues))


def _dedupe(issues: Iterable[Issue]) -> list[Issue]:
    seen: set[Issue] = set()
    out: list[Issue] = []
    for issue in issues:
        if issue not in seen:
            seen.add(issue)
            out.append(issue)
    return out


class PolicyFlow:
    """Draft, rules and plan of the "Configure backup" wizard.

    Args:
        servers: the servers to protect (one or more; same region and tenant).
        today: the reference date for schedules and the retention calendar.
        guid: makes backup instance names predictable in tests (``<server>-<guid>``).
    """

    def __init__(
        self,
        servers: Sequence[FlexServer],
        *,
        today: date,
        guid: Callable[[FlexServer], str] | None = None,
    ) -> None:
        if not servers:
            raise ValueError("PolicyFlow needs at least one server")
        self.servers = tuple(servers)
        self.today = today
        self._guids = {
            str(s.id).lower(): (guid(s) if guid is not None else str(uuid.uuid4()))
            for s in self.servers
        }
        first = self.servers[0]
        self.vaults: tuple[Vault, ...] | None = None
        self.vaults_error: AppError | None = None
        self.vault = VaultChoice(
            draft=VaultDraft(name="", location=normalize_region(first.location)),
            subscription_id=first.id.subscription_id,
            resource_group=first.id.resource_group,
        )
        self.policies: tuple[PolicyInfo, ...] | None = None
        self.policies_error: AppError | None = None
        self.policy = PolicyChoice(
            draft=PolicyDraft(
                name=f"pgflex-weekly-{first.name}"[:150],
                schedule=WeeklySchedule(6, time(2, 0), "UTC"),
            )
        )
        self.backup_type: BackupType = "v1"
        self.v2_draft = V2PolicyDraft(
            name=f"pgflex-v2-daily-{first.name}"[:150],
            schedule=DailySchedule(time(2, 0), "UTC"),
        )
        self.instances: tuple[tuple[BackupInstance, str], ...] | None = None
        self.instances_error: AppError | None = None
        self.databases: dict[str, tuple[tuple[str, str], ...]] = {}
        self.databases_errors: dict[str, AppError] = {}
        self.caller_can_grant: dict[GrantScope, bool] | None = None
        self.caller_rights_error: AppError | None = None
        self.assignments: tuple[RoleAssignment, ...] | None = None
        self.assignments_error: AppError | None = None
        self.grant: GrantScope | None = None
        self._listeners: list[Callable[[], None]] = []

    # -- observers ----------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every change."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    # -- vault --------------------------------------------------------------------------------
    def set_vaults(self, vaults: Iterable[Vault]) -> None:
        """The listing of vaults the user can see (every subscription of the tenant)."""
        self.vaults = tuple(vaults)
        self.vaults_error = None
        ok, _ = self.eligible()
        if self.vault.existing_id is None and self.vault.mode is Choice.EXISTING and ok:
            self.vault = dataclasses.replace(self.vault, existing_id=ok[0].id)
            self._vault_changed()
        self._changed()

    def set_vaults_failed(self, exc: AppError) -> None:
        """The vault listing failed."""
        self.vaults_error = exc
        self._changed()

    def eligible(self) -> tuple[list[Vault], list[tuple[Vault, list[str]]]]:
        """Vaults that can protect every selected server, and the others with reasons."""
        ok: list[Vault] = list(self.vaults or ())
        rejected: dict[ResourceId, tuple[Vault, list[str]]] = {}
        for server in self.servers:
            good, bad = eligible_vaults(ok, server)
            ok = good
            for vault, reasons in bad:
                rejected.setdefault(vault.id, (vault, []))[1].extend(reasons)
        return ok, list(rejected.values())

    def selected_vault(self) -> Vault | None:
        """The chosen existing vault (None for a new vault or none chosen)."""
        if self.vault.mode is not Choice.EXISTING or self.vault.existing_id is None:
            return None
        for vault in self.vaults or ():
            if vault.id.same_as(self.vault.existing_id):
                return vault
        return None

    def vault_id(self) -> ResourceId | None:
        """The id of the vault the plan uses (existing or to be created)."""
        if self.vault.mode is Choice.EXISTING:
            return self.vault.existing_id
        if not (self.vault.subscription_id and self.vault.resource_group and self.vault.draft.name):
            return None
        return ResourceId.build(
            self.vault.subscription_id,
            self.vault.resource_group,
            DATAPROTECTION,
            "backupVaults",
            self.vault.draft.name,
        )

    def choose_existing_vault(self, vault_id: ResourceId | None) -> None:
        """Use an existing vault."""
        self.vault = dataclasses.replace(self.vault, mode=Choice.EXISTING, existing_id=vault_id)
        self._vault_changed()
        self._changed()

    def use_new_vault(self, **changes: Any) -> None:
        """Create a new vault; ``changes`` update the ``VaultDraft`` fields."""
        draft = dataclasses.replace(self.vault.draft, **changes) if changes else self.vault.draft
        before = self._irreversible(self.vault.draft)
        confirmed = self.vault.irreversible_confirmed and self._irreversible(draft) == before
        self.vault = dataclasses.replace(
            self.vault, mode=Choice.NEW, draft=draft, irreversible_confirmed=confirmed
        )
        self._vault_changed()
        self._changed()

    def set_vault_location(self, *, subscription_id: str, resource_group: str) -> None:
        """Where the new vault goes (any subscription of the server's tenant)."""
        self.vault = dataclasses.replace(
            self.vault,
            subscription_id=subscription_id.strip(),
            resource_group=resource_group.strip(),
        )
        self._changed()

    def confirm_irreversible(self, confirmed: bool) -> None:
        """The DBA ticked (or unticked) "I understand these choices can't be undone"."""
        self.vault = dataclasses.replace(self.vault, irreversible_confirmed=bool(confirmed))
        self._changed()

    @staticmethod
    def _irreversible(draft: VaultDraft) -> tuple[str, str, str]:
        return (draft.soft_delete, draft.immutability, draft.cross_subscription_restore)

    def irreversible_warnings(self) -> list[Issue]:
        """Warnings about choices that can never be undone (need explicit confirmation)."""
        if self.vault.mode is not Choice.NEW:
            return []
        return [
            i
            for i in vault_draft_issues(self.vault.draft, self.servers[0])
            if i.severity is Severity.WARNING and i.field in IRREVERSIBLE_FIELDS
        ]

    def _vault_changed(self) -> None:
        self.assignments = None
        self.assignments_error = None
        if self.vault.mode is Choice.NEW:
            self.policies = ()
            if self.policy.mode is Choice.EXISTING:
                self.policy = dataclasses.replace(self.policy, mode=Choice.NEW, existing_id=None)
        else:
            self.policies = None
            self.policy = dataclasses.replace(self.policy, existing_id=None)

    # -- policy -------------------------------------------------------------------------------
    def set_policies(self, vault_id: ResourceId, policies: Iterable[PolicyInfo]) -> None:
        """The policies of ``vault_id`` (dropped if the user picked another vault meanwhile)."""
        current = self.vault_id()
        if current is None or not current.same_as(vault_id):
            return
        self.policies = tuple(p for p in policies if p.is_pg_flex)
        self.policies_error = None
        if self.policy.mode is Choice.EXISTING and self.policy.existing_id is None:
            if self.policies:
                self.policy = dataclasses.replace(self.policy, existing_id=self.policies[0].id)
            else:
                self.policy = dataclasses.replace(self.policy, mode=Choice.NEW)
        self._changed()

    def set_policies_failed(self, vault_id: ResourceId, exc: AppError) -> None:
        """Listing the policies of ``vault_id`` failed."""
        current = self.vault_id()
        if current is not None and current.same_as(vault_id):
            self.policies_error = exc
            self._changed()

    def selected_policy(self) -> PolicyInfo | None:
        """The chosen existing policy."""
        if self.policy.mode is not Choice.EXISTING or self.policy.existing_id is None:
            return None
        for policy in self.policies or ():
            if policy.id.same_as(self.policy.existing_id):
                return policy
        return None

    def choose_existing_policy(self, policy_id: ResourceId | None) -> None:
        """Use an existing policy."""
        self.policy = dataclasses.replace(self.policy, mode=Choice.EXISTING, existing_id=policy_id)
        self._changed()

    def use_new_policy(self, draft: PolicyDraft | None = None) -> None:
        """Create a new policy (optionally replacing the draft)."""
        self.policy = dataclasses.replace(
            self.policy, mode=Choice.NEW, draft=draft or self.policy.draft
        )
        self._changed()

    def update_policy(
        self,
        *,
        name: str | None = None,
        weekday: int | None = None,
        at: time | None = None,
        time_zone: str | None = None,
    ) -> None:
        """Change the new policy's name or schedule."""
        d = self.policy.draft
        schedule = WeeklySchedule(
            d.schedule.weekday if weekday is None else weekday,
            d.schedule.time if at is None else at,
            d.schedule.time_zone if time_zone is None else time_zone,
        )
        self.use_new_policy(
            PolicyDraft(
                name=d.name if name is None else name.strip(), schedule=schedule, rules=d.rules
            )
        )

    # -- backup type (v1 / v2) ------------------------------------------------------------------
    @property
    def is_v2(self) -> bool:
        """True when vaulted backup v2 (physical, preview) is chosen."""
        return self.backup_type == "v2"

    def set_backup_type(self, backup_type: BackupType) -> None:
        """Choose v1 (logical) or v2 (physical) backup for every server of the wizard."""
        if backup_type not in BACKUP_TYPE_LABELS:
            raise ValueError(f"unknown backup type {backup_type!r}")
        self.backup_type = backup_type
        self._changed()

    def update_v2_policy(
        self,
        *,
        name: str | None = None,
        daily: bool | None = None,
        weekday: int | None = None,
        at: time | None = None,
        time_zone: str | None = None,
    ) -> None:
        """Change the new v2 policy's name, frequency (daily or weekly) or schedule."""
        d = self.v2_draft
        old = d.schedule
        is_daily = d.is_daily if daily is None else daily
        day = old.weekday if isinstance(old, WeeklySchedule) else 6
        at = old.time if at is None else at
        zone = old.time_zone if time_zone is None else time_zone
        schedule: DailySchedule | WeeklySchedule = (
            DailySchedule(at, zone)
            if is_daily
            else WeeklySchedule(day if weekday is None else weekday, at, zone)
        )
        self.v2_draft = V2PolicyDraft(
            name=d.name if name is None else name.strip(), schedule=schedule, rules=d.rules
        )
        self.policy = dataclasses.replace(self.policy, mode=Choice.NEW)
        self._changed()

    def set_retention(self, kind: RetentionKind, duration: str | None) -> None:
        """Set (or with None remove) one retention rule of the new policy (v1 or v2)."""
        if self.is_v2:
            v2_rules = [r for r in self.v2_draft.rules if r.kind is not kind]
            if duration is not None:
                v2_rules.append(RetentionRule(kind, duration))
            v2_rules.sort(key=lambda r: -r.kind.priority)
            self.v2_draft = dataclasses.replace(self.v2_draft, rules=tuple(v2_rules))
            self.policy = dataclasses.replace(self.policy, mode=Choice.NEW)
            self._changed()
            return
        d = self.policy.draft
        rules = [r for r in d.rules if r.kind is not kind]
        if duration is not None:
            rules.append(RetentionRule(kind, duration))
        rules.sort(key=lambda r: -r.kind.priority)
        self.use_new_policy(dataclasses.replace(d, rules=tuple(rules)))

    def start_from_policy(self, policy_id: ResourceId, new_name: str | None = None) -> None:
        """Pre-fill a new draft from an existing policy ("Edit" makes a new policy).

        Policies can't be changed in place: the job creates the new one and the backup
        instances use it. The time is shown in the policy's own zone.
        """
        source = next((p for p in self.policies or () if p.id.same_as(policy_id)), None)
        if source is None:
            return
        schedule, _ = schedule_from_intervals(source.repeating_intervals, source.time_zone)
        rules: list[RetentionRule] = []
        for r in source.retention:
            try:
                rules.append(RetentionRule(RetentionKind.parse(r.name), r.duration))
            except ValueError:
                continue
        taken = {p.name.lower() for p in self.policies or ()}
        name = new_name or self._free_name(f"{source.name}-v2", taken)
        self.use_new_policy(
            PolicyDraft(
                name=name,
                schedule=schedule or self.policy.draft.schedule,
                rules=tuple(rules) or self.policy.draft.rules,
            )
        )

    @staticmethod
    def _free_name(base: str, taken: set[str]) -> str:
        name, n = base, 2
        while name.lower() in taken:
            n += 1
            name = f"{base.rsplit('-v', 1)[0]}-v{n}"
        return name

    def dst_note(self) -> str:
        """How the local backup time moves with daylight saving (empty when it doesn't)."""
        schedule = self.policy.draft.schedule
        if schedule.issues():
            return ""
        return schedule.dst_note(self.today)

    def _calendar_inputs(self) -> tuple[WeeklySchedule, list[RetentionRule]] | None:
        if self.policy.mode is Choice.EXISTING:
            policy = self.selected_policy()
            if policy is None:
                return None
            schedule, problems = schedule_from_intervals(
                policy.repeating_intervals, policy.time_zone
            )
            rules: list[RetentionRule] = []
            for r in policy.retention:
                try:
                    rules.append(RetentionRule(RetentionKind.parse(r.name), r.duration))
                except ValueError:
                    continue
            if schedule is None or problems:
                return None
        elif self.is_v2:
            if not isinstance(self.v2_draft.schedule, WeeklySchedule):
                return None  # a daily v2 schedule: no weekly calendar
            schedule, rules = self.v2_draft.schedule, list(self.v2_draft.rules)
        else:
            schedule, rules = self.policy.draft.schedule, list(self.policy.draft.rules)
        if schedule.issues() or has_errors(validate_rules(rules)):
            return None
        return schedule, rules

    def calendar(self) -> list[CalendarEntry]:
        """The next 12 months of scheduled recovery points (empty while the draft is invalid)."""
        inputs = self._calendar_inputs()
        if inputs is None:
            return []
        return retention_calendar(inputs[0], inputs[1], self.today)

    def calendar_by_month(self) -> list[CalendarRow]:
        """:meth:`calendar` grouped by month and tag, in words (one table row each)."""
        inputs = self._calendar_inputs()
        if inputs is None:
            return []
        durations = {r.kind: r.duration for r in inputs[1]}
        return calendar_rows(retention_calendar(inputs[0], inputs[1], self.today), durations)

    def policy_description(self) -> str:
        """The chosen policy in words."""
        policy = self.selected_policy()
        return describe_policy(policy) if policy is not None else ""

    def policy_id(self) -> ResourceId | None:
        """The id of the policy the plan uses (existing or to be created)."""
        if self.policy.mode is Choice.EXISTING:
            return self.policy.existing_id
        vault_id = self.vault_id()
        name = self.new_policy_name
        if vault_id is None or not name:
            return None
        return vault_id.child("backupPolicies", name)

    @property
    def new_policy_name(self) -> str:
        """The name of the policy to create (of the v1 or the v2 draft)."""
        return self.v2_draft.name if self.is_v2 else self.policy.draft.name

    # -- pre-flight ---------------------------------------------------------------------------
    def set_protecting_instances(self, pairs: Iterable[tuple[BackupInstance, str]]) -> None:
        """Backup instances (with vault names) found for the selected servers."""
        self.instances = tuple(pairs)
        self.instances_error = None
        self._changed()

    def set_instances_failed(self, exc: AppError) -> None:
        """Looking for existing backup instances failed."""
        self.instances_error = exc
        self._changed()

    def set_databases(self, server_id: ResourceId, databases: Iterable[tuple[str, str]]) -> None:
        """``(name, owner)`` of a server's databases, when the DBA gave credentials."""
        key = str(server_id).lower()
        self.databases[key] = tuple(databases)
        self.databases_errors.pop(key, None)
        self._changed()

    def set_databases_failed(self, server_id: ResourceId, exc: AppError) -> None:
        """Listing a server's databases with the DBA's credentials failed."""
        self.databases_errors[str(server_id).lower()] = exc
        self._changed()

    def preflight(self) -> list[tuple[FlexServer, list[Issue]]]:
        """Pre-flight findings per server (existing protection only once it is known)."""
        out = []
        for server in self.servers:
            protecting = [
                (bi, name)
                for bi, name in self.instances or ()
                if bi.datasource_id.same_as(server.id)
            ]
            dbs = self.databases.get(str(server.id).lower())
            found = server_preflight(server, protecting, dbs)
            if self.is_v2:
                found = [*v2_eligibility_issues(server), *found]
            out.append((server, found))
        return out

    # -- permissions --------------------------------------------------------------------------
    def requirements(self) -> list[RoleRequirement]:
        """Roles the vault identity needs for every selected server (deduplicated)."""
        vault = self.selected_vault()
        if vault is None:
            vault = Vault(
                id=self.vault_id() or ResourceId("00000000-0000-0000-0000-000000000000"),
                location=self.vault.draft.location,
            )
        seen: dict[tuple[str, str], RoleRequirement] = {}
        for server in self.servers:
            for req in required_roles(server, vault):
                seen.setdefault((req.role_guid, req.scope.lower()), req)
        return list(seen.values())

    def set_assignments(self, principal_id: str, assignments: Iterable[RoleAssignment]) -> None:
        """Role assignments of the vault identity (dropped when the vault changed)."""
        vault = self.selected_vault()
        if vault is None or vault.principal_id.lower() != principal_id.lower():
            return
        self.assignments = tuple(assignments)
        self.assignments_error = None
        self._changed()

    def set_assignments_failed(self, principal_id: str, exc: AppError) -> None:
        """Listing role assignments failed."""
        vault = self.selected_vault()
        if vault is not None and vault.principal_id.lower() == principal_id.lower():
            self.assignments_error = exc
            self._changed()

    def missing(self) -> list[RoleRequirement] | None:
        """Roles still missing; None while unknown. A new vault has all of them missing."""
        if self.vault.mode is Choice.NEW:
            return self.requirements()
        vault = self.selected_vault()
        if vault is None or self.assignments is None:
            return None
        return missing_roles(self.requirements(), self.assignments, vault.principal_id)

    def set_caller_rights(self, rights: Mapping[GrantScope, bool]) -> None:
        """Whether the signed-in account may assign roles, per grant scope."""
        self.caller_can_grant = dict(rights)
        self.caller_rights_error = None
        if self.grant is not None and not self.caller_can_grant.get(self.grant, True):
            self.grant = None
        self._changed()

    def set_caller_rights_failed(self, exc: AppError) -> None:
        """Checking the signed-in account's rights failed (Grant stays offered)."""
        self.caller_rights_error = exc
        self._changed()

    def can_offer_grant(self, scope: GrantScope) -> bool | None:
        """True/False once the caller's rights at ``scope`` are known; None while unknown."""
        if self.caller_can_grant is None:
            return None
        return self.caller_can_grant.get(scope)

    def set_grant(self, scope: GrantScope | None) -> None:
        """Grant missing roles at commit (at ``scope``), or None to leave it to an admin."""
        self.grant = scope
        self._changed()

    def arm_template(self) -> dict[str, Any]:
        """An ARM template granting the missing roles."""
        vault = self.selected_vault()
        return arm_template_for_roles(
            self.missing() or [],
            vault.principal_id if vault else "",
            self.grant or GrantScope.RESOURCE,
        )

    def az_script(self) -> str:
        """An az CLI script granting the missing roles."""
        vault = self.selected_vault()
        return az_script_for_roles(
            self.missing() or [],
            vault.principal_id if vault else "",
            self.grant or GrantScope.RESOURCE,
        )

    # -- verdicts -----------------------------------------------------------------------------
    def issues(self, step: Step) -> list[Issue]:
        """Every finding for ``step``; ERROR ones block it."""
        if step is Step.VAULT:
            return _dedupe(self._vault_issues())
        if step is Step.POLICY:
            return _dedupe(self._policy_issues())
        if step is Step.PREFLIGHT:
            return _dedupe(self._preflight_issues())
        if step is Step.PERMISSIONS:
            return _dedupe(self._permission_issues())
        found: list[Issue] = []
        for earlier in (Step.VAULT, Step.POLICY, Step.PREFLIGHT, Step.PERMISSIONS):
            found += [i for i in self.issues(earlier) if i.blocks]
        return found

    def ready(self, step: Step) -> bool:
        """True once the background listings ``step`` depends on have arrived."""
        if step is Step.VAULT:
            return self.vaults is not None or self.vault.mode is Choice.NEW
        if step is Step.POLICY:
            return self.policy.mode is Choice.NEW or self.policies is not None
        if step is Step.PREFLIGHT:
            return self.instances is not None
        if step is Step.PERMISSIONS:
            return self.missing() is not None
        return all(self.ready(s) for s in Step if s is not Step.SUMMARY)

    def can_advance(self, step: Step) -> bool:
        """True when ``step`` has no blocking issue and its data is loaded."""
        return self.ready(step) and not has_errors(self.issues(step))

    def _vault_issues(self) -> list[Issue]:
        found: list[Issue] = []
        regions = {normalize_region(s.location) for s in self.servers}
        tenants = {s.tenant_id.lower() for s in self.servers if s.tenant_id}
        if len(regions) > 1 or len(tenants) > 1:
            found.append(
                error(
                    "servers",
                    "The selected servers are in different regions or tenants "
                    f"({', '.join(sorted(regions))}); one vault can't protect them all.",
                    "Configure backup for the servers of each region separately.",
                )
            )
        if self.vault.mode is Choice.EXISTING:
            if self.vaults_error is not None:
                found.append(error("vault", self.vaults_error.summary, self.vaults_error.remedy))
            vault = self.selected_vault()
            if vault is None:
                if self.vaults is not None:
                    found.append(
                        error("vault", "Pick a vault, or create a new one.")
                        if self.eligible()[0]
                        else error(
                            "vault",
                            "No existing vault can protect the selected servers.",
                            "Create a new vault in the servers' region.",
                        )
                    )
            else:
                for server in self.servers:
                    found += vault_issues_for_server(vault, server)
            return found
        v = self.vault
        found += vault_draft_issues(v.draft, self.servers[0])
        if not v.subscription_id:
            found.append(error("subscription", "Pick the subscription for the new vault."))
        if not v.resource_group:
            found.append(error("resource_group", "Name the resource group for the new vault."))
        new_id = self.vault_id()
        if new_id is not None and any(x.id.same_as(new_id) for x in self.vaults or ()):
            found.append(
                error("name", f"A vault named {v.draft.name} already exists there.", "Pick it.")
            )
        if self.irreversible_warnings() and not v.irreversible_confirmed:
            found.append(
                error(
                    "confirm_irreversible",
                    "Some choices for this vault can never be undone.",
                    "Read the warnings and tick the confirmation, or change the choices.",
                )
            )
        return found

    def _policy_issues(self) -> list[Issue]:
        found: list[Issue] = []
        if self.policy.mode is Choice.EXISTING:
            if self.policies_error is not None:
                found.append(
                    error("policy", self.policies_error.summary, self.policies_error.remedy)
                )
            policy = self.selected_policy()
            if policy is None:
                if self.policies is not None:
                    found.append(error("policy", "Pick a policy, or create a new one."))
                return found
            found += existing_policy_kind_issues(policy, self.backup_type)
            if self.is_v2:
                found += v2_interval_issues(policy.repeating_intervals)
            else:
                found += interval_issues(policy.repeating_intervals)
            if not any(r.is_default for r in policy.retention):
                found.append(error("retention", "The policy has no default retention rule."))
            return found
        found += v2_draft_issues(self.v2_draft) if self.is_v2 else draft_issues(self.policy.draft)
        new_name = self.new_policy_name
        if any(p.name.lower() == new_name.lower() for p in self.policies or ()):
            found.append(
                error(
                    "name",
                    f"The vault already has a policy named {new_name}. Policies "
                    "can't be changed in place.",
                    "Pick another name for the new policy.",
                )
            )
        if self.vault.mode is Choice.EXISTING and self.policies is None:
            found.append(info("name", "Checking the vault's policy names…"))
        return found

    def _preflight_issues(self) -> list[Issue]:
        found: list[Issue] = []
        if self.instances_error is not None:
            found.append(
                warning(
                    "server.protection",
                    "Could not check whether the servers are already protected: "
                    + self.instances_error.summary,
                    "Azure will refuse a server that is already protected when you commit.",
                )
            )
        for server in self.servers:
            err = self.databases_errors.get(str(server.id).lower())
            if err is not None:
                found.append(
                    warning(
                        "server.databases",
                        f"Could not list the databases of {server.name}: {err.summary}",
                        err.remedy or "Check the host, login and password, then try again.",
                    )
                )
        for _server, issues in self.preflight():
            found += issues
        return found

    def _permission_issues(self) -> list[Issue]:
        found: list[Issue] = []
        if self.grant is not None and self.can_offer_grant(self.grant) is False:
            found.append(
                error(
                    "grant",
                    "Your account can't assign roles at this scope: that needs Owner, User "
                    "Access Administrator or Role Based Access Control Administrator.",
                    "Untick 'Grant', and give the ARM template or az script to an "
                    "administrator; press Revalidate when they are done.",
                )
            )
        elif self.caller_can_grant is not None and not any(self.caller_can_grant.values()):
            found.append(
                info(
                    "grant",
                    "Your account can't assign roles here, so 'Grant' is not offered. Export "
                    "the ARM template or az script for an administrator.",
                )
            )
        if self.vault.mode is Choice.NEW:
            if self.grant is None:
                found.append(
                    warning(
                        "grant",
                        "The new vault's identity gets its roles only after the vault exists. "
                        "Without 'Grant', an administrator must grant them while the job waits.",
                        "Tick 'Grant missing roles' if you are allowed to assign roles.",
                    )
                )
            return found
        vault = self.selected_vault()
        if vault is not None and not vault.principal_id:
            found.append(
                error(
                    "vault.identity",
                    f"Vault {vault.name} has no system-assigned identity.",
                    "Turn on its system-assigned managed identity in the Azure portal.",
                )
            )
            return found
        if self.assignments_error is not None:
            found.append(
                warning(
                    "roles",
                    "Could not read the vault identity's role assignments: "
                    + self.assignments_error.summary,
                    "Use 'Grant' if you may assign roles, or export the script for an "
                    "administrator, then Revalidate.",
                )
            )
        missing = self.missing()
        if missing and self.grant is None:
            found.append(
                error(
                    "roles",
                    f"The vault identity lacks {len(missing)} role assignment(s): "
                    + ", ".join(
                        f"{r.role_name} on {ResourceId.parse(r.scope).name}" for r in missing
                    )
                    + ".",
                    "Tick 'Grant missing roles', or export the template or script for an "
                    "administrator and press Revalidate when they are done.",
                )
            )
        return found

    # -- plan ---------------------------------------------------------------------------------
    def plan(self) -> ProtectionPlan:
        """What the commit step will do.

        Raises:
            InvalidPlan: while a step has a blocking issue or is still loading.
        """
        problems = self.issues(Step.SUMMARY)
        if not self.ready(Step.SUMMARY):
            problems.append(error("wizard", "The checks have not finished yet."))
        vault_id, policy_id = self.vault_id(), self.policy_id()
        if problems or vault_id is None or policy_id is None:
            raise InvalidPlan(problems or [error("wizard", "The plan is incomplete.")])
        missing = self.missing() or []
        targets = tuple(ServerTarget.new(s, self._guids[str(s.id).lower()]) for s in self.servers)
        new_vault = self.vault.mode is Choice.NEW
        return ProtectionPlan(
            vault_id=vault_id,
            policy_id=policy_id,
            targets=targets,
            vault=None if new_vault else self.selected_vault(),
            vault_draft=self.vault.draft if new_vault else None,
            policy_draft=(
                self.policy.draft if self.policy.mode is Choice.NEW and not self.is_v2 else None
            ),
            grant=self.grant if (missing or new_vault) else None,
            reference_date=self.today,
            backup_type=self.backup_type,
            v2_policy_draft=(
                self.v2_draft if self.policy.mode is Choice.NEW and self.is_v2 else None
            ),
        )
