"""The restore-as-server wizard's state and rules (vaulted backup v2), free of Qt.

A v2 recovery point is restored by Azure Backup onto a flexible server that exists already and
is empty (doc ``azure-v2-and-resource-graph.md`` §1.6). The flow holds what the DBA picked
(the point, the target) and what the listings found (the points, the candidate servers, the
target's rule-by-rule checks from ``jobs.restore_as_server.check_target``, the same pre-flight
the job runs again before it sends anything), and says per step what stands in the way.

Steps: POINT (which recovery point) → TARGET (which server, every target rule with its fix) →
SUMMARY (what will happen). The plan it builds is a
:class:`~pgflex_gui.domain.server_restore_plan.ServerRestorePlan`, the same file
``pgflex restore --plan`` runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum

from pgflex_gui.domain.backup_kind import BackupKind, kind_words, point_kind
from pgflex_gui.domain.issues import Issue, error, info, warning
from pgflex_gui.domain.models import BackupInstance, FlexServer, RecoveryPoint, Vault
from pgflex_gui.domain.preflight import LTR_BACKUP_ROLE
from pgflex_gui.domain.regions import normalize_region
from pgflex_gui.domain.restore_as_server import CheckStatus, TargetCheck
from pgflex_gui.domain.server_restore_plan import ServerRestorePlan

__all__ = [
    "ROLE_NAME",
    "InvalidPlan",
    "ServerRestoreFlow",
    "ServerStep",
    "TargetChoice",
    "target_needs",
]

ROLE_NAME = LTR_BACKUP_ROLE[1]  # the role the vault identity needs on the target


class ServerStep(IntEnum):
    POINT = 0
    TARGET = 1
    SUMMARY = 2


class InvalidPlan(ValueError):
    """The flow can't make a plan yet (the message says why)."""


@dataclass(frozen=True)
class TargetChoice:
    """A server offered as the target, with why it may not be usable at a glance."""

    server: FlexServer
    note: str = ""  # e.g. "Burstable": the checks say the same, in full

    @property
    def label(self) -> str:
        s = self.server
        size = f"{s.storage_gb} GB" if s.storage_gb else "size unknown"
        text = f"{s.name} · PostgreSQL {s.version or '?'} · {s.sku_tier or 'tier unknown'} · {size}"
        return f"{text} · {self.note}" if self.note else text


def target_needs(source: FlexServer | None, vault: Vault | None) -> str:
    """What an empty target must be, in one sentence (for creating one in the portal)."""
    parts = []
    if source is not None:
        parts.append(f"PostgreSQL {source.version}" if source.version else "the source's version")
        if source.storage_gb:
            disk = {"premiumv2_lrs": "Premium SSD v2"}.get(source.storage_type.lower(), "")
            parts.append(f"{source.storage_gb} GB {disk or 'Premium SSD'}".strip())
    else:
        parts.append("the source's PostgreSQL major version, disk size and disk type")
    parts.append("General Purpose or Memory Optimized (not Burstable)")
    parts.append("high availability off, no replicas")
    if vault is not None:
        parts.append(f"in {vault.location} (the vault's region)")
    return "The target must be an empty flexible server: " + ", ".join(parts) + "."


class ServerRestoreFlow:
    """What the DBA chose so far and what the listings found; listeners hear every change."""

    def __init__(
        self,
        vault: Vault | None,
        instance: BackupInstance | None,
        source: FlexServer | None = None,
        recovery_point: RecoveryPoint | None = None,
    ) -> None:
        self.vault = vault
        self.instance = instance
        self.source = source
        self.points: list[RecoveryPoint] | None = None  # None: still loading
        self.points_error = ""
        self.point = recovery_point
        self.targets: list[TargetChoice] | None = None  # None: still loading
        self.other_region = 0  # servers not offered: outside the vault's region
        self.targets_error = ""
        self.target: FlexServer | None = None
        self.checks: list[TargetCheck] | None = None  # of self.target; None: not yet known
        self.checks_error = ""
        self.grant_role = True
        self._listeners: list[Callable[[], None]] = []

    # -- listeners ---------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def clear_listeners(self) -> None:
        self._listeners.clear()

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    # -- facts in ----------------------------------------------------------------------------
    @property
    def label(self) -> str:
        if self.source is not None:
            return self.source.name
        if self.instance is not None:
            return self.instance.friendly_name or self.instance.name
        return "no backup selected"

    @property
    def source_id(self) -> str:
        if self.instance is not None:
            return str(self.instance.datasource_id)
        return str(self.source.id) if self.source is not None else ""

    def kind_of(self, point: RecoveryPoint) -> BackupKind:
        instance_kind = self.instance.backup_kind if self.instance is not None else "unknown"
        return point_kind(instance_kind, point.kind_evidence or None)

    def set_source(self, server: FlexServer | None) -> None:
        """The protected server as it is now (None: deleted since; the rules then say so)."""
        if server != self.source:
            self.source = server
            self._changed()

    def set_points(self, points: Iterable[RecoveryPoint], error_text: str = "") -> None:
        """The instance's points, newest first; v1 points are listed but can't be chosen."""
        self.points = sorted(points, key=lambda p: p.time, reverse=True)
        self.points_error = error_text
        if self.point is not None:
            same = [p for p in self.points if p.recovery_point_id == self.point.recovery_point_id]
            self.point = same[0] if same else self.point
        elif self.points:
            usable = [p for p in self.points if self.kind_of(p) != "v1"]
            self.point = usable[0] if usable else None
        self._changed()

    def choose_point(self, recovery_point_id: str) -> None:
        found = [p for p in self.points or () if p.recovery_point_id == recovery_point_id]
        point = found[0] if found else None
        if point != self.point:
            self.point = point
            self._changed()

    def set_targets(self, servers: Iterable[FlexServer], error_text: str = "") -> None:
        """Candidate servers: those in the vault's region, never the source itself."""
        region = normalize_region(self.vault.location) if self.vault is not None else ""
        offered: list[TargetChoice] = []
        self.other_region = 0
        for server in servers:
            if self.source_id and server.id.same_as(self.source_id):
                continue
            if region and normalize_region(server.location) != region:
                self.other_region += 1
                continue
            note = "Burstable" if server.sku_tier.lower() == "burstable" else ""
            offered.append(TargetChoice(server, note))
        self.targets = sorted(offered, key=lambda c: c.server.name.lower())
        self.targets_error = error_text
        if self.target is not None and not any(
            c.server.id.same_as(self.target.id) for c in self.targets
        ):
            self.target, self.checks = None, None
        self._changed()

    def choose_target(self, server_id: str) -> None:
        found = [
            c.server for c in self.targets or () if str(c.server.id).lower() == server_id.lower()
        ]
        target = found[0] if found else None
        if target == self.target:
            return
        self.target, self.checks, self.checks_error = target, None, ""
        self._changed()

    def set_checks(self, server_id: str, checks: list[TargetCheck], error_text: str = "") -> None:
        """The target's checks (ignored when the DBA has picked another target since)."""
        if self.target is None or str(self.target.id).lower() != server_id.lower():
            return
        self.checks, self.checks_error = list(checks), error_text
        self._changed()

    def set_grant_role(self, grant: bool) -> None:
        if grant != self.grant_role:
            self.grant_role = grant
            self._changed()

    # -- rules out ---------------------------------------------------------------------------
    @property
    def role_check(self) -> TargetCheck | None:
        return next((c for c in self.checks or () if c.key == "role"), None)

    @property
    def role_fixable(self) -> bool:
        """The missing role is all that stands in the way: the job may assign it first."""
        role = self.role_check
        if role is None or not role.blocks:
            return False
        return not any(c.blocks for c in self.checks or () if c.key != "role")

    def issues(self, step: ServerStep) -> list[Issue]:
        if step is ServerStep.POINT:
            return self._point_issues()
        if step is ServerStep.TARGET:
            return self._target_issues()
        return self._point_issues() + self._target_issues()

    def _point_issues(self) -> list[Issue]:
        if self.instance is None or self.vault is None:
            return [
                error(
                    "point",
                    "No backup instance is selected.",
                    "Start from a protected server, its backup instance or a recovery point.",
                )
            ]
        if self.points_error:
            return [error("point", f"The recovery points could not be listed: {self.points_error}")]
        if self.points is None:
            return [info("point", "Listing the recovery points…")]
        if not self.points:
            return [error("point", "This backup instance has no recovery point yet.")]
        if self.point is None:
            return [info("point", "Pick a recovery point.")]
        kind = self.kind_of(self.point)
        if kind == "v1":
            return [
                error(
                    "point",
                    "This is a v1 (logical) recovery point: it restores as files, not as a server.",
                    "Pick a v2 (physical) point, or use Restore… for this one.",
                )
            ]
        if kind == "unknown":
            return [
                warning(
                    "point",
                    "Whether this point is v2 (physical) is not documented for this instance. "
                    "Azure's validation decides before anything is restored.",
                )
            ]
        return []

    def _target_issues(self) -> list[Issue]:
        if self.targets_error:
            return [error("target", f"The servers could not be listed: {self.targets_error}")]
        if self.targets is None:
            return [info("target", "Listing the servers in the vault's region…")]
        if self.target is None:
            if not self.targets:
                return [
                    error(
                        "target",
                        "No flexible server is in the vault's region yet.",
                        target_needs(self.source, self.vault) + " Create one, then press Refresh.",
                    )
                ]
            return [info("target", "Pick the server to restore onto.")]
        if self.checks_error:
            return [
                error(
                    "target",
                    f"{self.target.name} could not be checked: {self.checks_error}",
                    "Press Refresh to check again.",
                )
            ]
        if self.checks is None:
            return [info("target", f"Checking {self.target.name} against the target rules…")]
        out: list[Issue] = []
        for check in self.checks:
            field = f"target.{check.key}"
            if check.status is CheckStatus.FAIL:
                if check.key == "role" and self.role_fixable and self.grant_role:
                    out.append(
                        info(
                            field,
                            f"The vault will be assigned '{ROLE_NAME}' on "
                            f"{self.target.name} before the restore.",
                        )
                    )
                elif check.key == "role" and self.role_fixable:
                    out.append(
                        error(
                            field,
                            check.message,
                            "Tick 'Assign the role' below, or assign it in the portal.",
                        )
                    )
                else:
                    out.append(error(field, check.message, check.remedy))
            elif check.status is CheckStatus.UNKNOWN:
                out.append(warning(field, check.message, check.remedy))
        return out

    def can_advance(self, step: ServerStep) -> bool:
        if step is ServerStep.POINT:
            return self.point is not None and not any(i.blocks for i in self._point_issues())
        if step is ServerStep.TARGET:
            return self.checks is not None and not any(i.blocks for i in self._target_issues())
        return self.can_advance(ServerStep.POINT) and self.can_advance(ServerStep.TARGET)

    def ready(self, step: ServerStep) -> bool:
        """False while a listing the step needs is still on its way."""
        if step is ServerStep.POINT:
            return self.points is not None or bool(self.points_error)
        if step is ServerStep.TARGET:
            return self.targets is not None and (self.target is None or self.checks is not None)
        return True

    def plan(self) -> ServerRestorePlan:
        """The plan the job (and ``pgflex restore --plan``) runs; InvalidPlan until possible."""
        blocking = [i for i in self.issues(ServerStep.SUMMARY) if i.blocks]
        if blocking:
            raise InvalidPlan(str(blocking[0]))
        if self.point is None or self.target is None or self.instance is None:
            raise InvalidPlan("Pick a recovery point and a target.")
        if self.checks is None:  # never a plan for a target whose rules were not checked
            raise InvalidPlan(f"{self.target.name} is still being checked.")
        plan = ServerRestorePlan(
            backup_instance_id=str(self.instance.id),
            recovery_point_id=self.point.recovery_point_id,
            target_server_id=str(self.target.id),
            source_server_id=self.source_id,
            grant_role=self.role_fixable and self.grant_role,
        )
        problems = plan.problems()
        if problems:
            raise InvalidPlan("; ".join(problems))
        return plan

    def summary_lines(self) -> list[str]:
        """What Restore will do, in order (the summary page)."""
        if self.point is None or self.target is None or self.vault is None:
            return []
        lines = [
            f"Restore the recovery point of {self.point.time:%Y-%m-%d %H:%M} UTC "
            f"(kind: {kind_words(self.kind_of(self.point))}) of {self.label}, from vault "
            f"{self.vault.name}, onto {self.target.name} ({self.target.location}).",
        ]
        if self.role_fixable and self.grant_role:
            lines.append(
                f"First assign '{ROLE_NAME}' on {self.target.name} to the vault's identity."
            )
        lines += [
            "Check every target rule again, then let Azure validate the restore, then start it "
            "and follow the Azure job to its end (large servers take hours).",
            f"Then list the databases on {self.target.name} and compare them with the source's.",
            "Not restored by Azure: server parameters, the extensions allow-list, firewall and "
            "network settings, Microsoft Entra admins, and protection (the new server is not "
            "backed up until you configure it).",
        ]
        return lines
