"""The restore wizard's logic, Qt-free: the draft as immutable values, issues per step, the plan.

Pages bind widgets to a :class:`RestoreFlow`; background listings (recovery points, storage
accounts, containers, role assignments, free space) feed it through ``set_*`` methods. Every
rule comes from ``domain/``: the region, tenant and account rules from
:func:`~pgflex_gui.domain.restore_plan.restore_issues`, the version rule from
:func:`~pgflex_gui.domain.restore_plan.target_version_ok`.

The plan is a :class:`~pgflex_gui.jobs.restore_plan_file.RestorePlanFile`: it holds **no
secrets**. A pasted SAS goes to the keystore; the restore engine generates a new server's admin
password and keeps it there too. The plan names only the entries (``sas_entry``,
``password_entry``).
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import IntEnum, StrEnum
from typing import Any

from pgflex_gui.domain.backup_kind import BackupKind, point_kind
from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.issues import Issue, error, has_errors, info, warning
from pgflex_gui.domain.models import (
    BackupInstance,
    BlobContainer,
    FlexServer,
    RecoveryPoint,
    RoleAssignment,
    StorageAccount,
    Subscription,
    Vault,
)
from pgflex_gui.domain.preflight import arm_template_for_roles, missing_roles, restore_roles
from pgflex_gui.domain.regions import normalize_region, paired_region
from pgflex_gui.domain.restore_options import RestoreOptions
from pgflex_gui.domain.restore_plan import (
    DEFAULT_FILE_PREFIX,
    restore_issues,
    restore_location,
    target_version_ok,
)
from pgflex_gui.domain.restore_target import (
    PG_MAJOR_VERSIONS,
    existing_target_issues,
    existing_target_refusal,
    is_source_server,
    new_server_placement_issues,
)
from pgflex_gui.jobs.restore_plan_file import (
    ContainerSpec,
    RestorePlanFile,
    SourceSpec,
    TargetSpec,
)
from pgflex_gui.keystore import sas_key, server_admin_key

__all__ = [
    "PG_MAJOR_VERSIONS",
    "READ_ACCESS_WORDS",
    "AccountOption",
    "Fix",
    "IncidentSource",
    "InvalidPlan",
    "ReadAccess",
    "RestoreDraft",
    "RestoreFlow",
    "RestoreSource",
    "Step",
    "describe_time",
    "restore_file_prefix",
]

_EXCLUDING_FIELDS = frozenset({"target.region", "target.tenant", "target.subscription"})
_NAME_CHARS = set(string.ascii_lowercase + string.digits + "-")


class Step(IntEnum):
    """The wizard's pages, in order."""

    SOURCE = 0
    CONTAINER = 1
    SERVER = 2
    SUMMARY = 3


class ReadAccess(StrEnum):
    """How the app itself reads the restored blobs."""

    ENTRA = "entra"  # the signed-in identity's data role (Storage Blob Data Reader or more)
    ACCOUNT_KEY = "account-key"  # listKeys at download time, the key kept in memory only
    APP_SAS = "app-sas"  # a read+list SAS the app makes at download time (nothing stored)
    SAS = "sas"  # a pasted SAS, kept in the keystore

    @property
    def words(self) -> str:
        """How the summary and the job details name it."""
        return READ_ACCESS_WORDS[self]


READ_ACCESS_WORDS = {
    ReadAccess.ENTRA: "my Entra sign-in",
    ReadAccess.ACCOUNT_KEY: "the account key (listKeys, kept in memory)",
    ReadAccess.APP_SAS: "a short-lived read-only SAS the app makes",
    ReadAccess.SAS: "a SAS I pasted (in the keyring)",
}


class IncidentSource(StrEnum):
    """Incident mode: the files are already there, skip every Azure Backup step."""

    NONE = ""
    CONTAINER = "container"  # a container URL plus a SAS
    FOLDER = "folder"  # a local folder


class Fix(StrEnum):
    """Fixes the wizard can apply to the target account (at commit or via a button)."""

    CROSS_TENANT = "cross-tenant-replication"
    GRANT_ROLE = "grant-role"
    CREATE_CONTAINER = "create-container"


class InvalidPlan(ValueError):
    """:meth:`RestoreFlow.plan` was called while blocking issues remain."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(str(i) for i in self.issues))


@dataclass(frozen=True)
class RestoreSource:
    """What is restored: a backup instance in a vault, and its server when still known.

    ``recovery_point`` is the point the DBA started from (a recovery point node), if any.
    """

    vault: Vault | None = None
    instance: BackupInstance | None = None
    server: FlexServer | None = None
    recovery_point: RecoveryPoint | None = None

    @property
    def selected(self) -> bool:
        """False when nothing was selected (Tools > Restore… with an empty selection)."""
        return any(x is not None for x in (self.vault, self.instance, self.server))

    @property
    def label(self) -> str:
        """A short name for headings."""
        if self.server is not None:
            return self.server.name
        if self.instance is not None:
            return self.instance.friendly_name or self.instance.name
        return "no backup selected"

    @property
    def cross_region_offered(self) -> bool:
        """True when the vault is geo-redundant with Cross Region Restore on, and has a pair."""
        vault = self.vault
        return (
            vault is not None
            and vault.redundancy == "GeoRedundant"
            and vault.cross_region_restore
            and paired_region(vault.location) is not None
        )

    @property
    def source_major(self) -> str:
        """The source server's major version, or "" when unknown."""
        return self.server.version.split(".")[0] if self.server and self.server.version else ""


@dataclass(frozen=True)
class AccountOption:
    """A storage account and what restore_issues says about it."""

    account: StorageAccount
    issues: tuple[Issue, ...] = ()

    @property
    def offered(self) -> bool:
        """False when the region, tenant or subscription rules exclude the account."""
        return not any(i.blocks and i.field in _EXCLUDING_FIELDS for i in self.issues)

    @property
    def reason(self) -> str:
        """Why the account is excluded ("" when offered)."""
        return " ".join(
            str(i) for i in self.issues if i.blocks and i.field in _EXCLUDING_FIELDS
        ).strip()


@dataclass(frozen=True)
class RestoreDraft:
    """Everything the DBA chose so far. Never holds a secret."""

    # source
    recovery_point: RecoveryPoint | None = None
    secondary: bool = False
    incident: IncidentSource = IncidentSource.NONE
    incident_url: str = ""
    incident_folder: str = ""
    # container
    account_id: ResourceId | None = None
    container: str = ""
    new_container: bool = False
    prefix: str = ""
    file_prefix: str = DEFAULT_FILE_PREFIX
    read_access: ReadAccess = ReadAccess.ENTRA
    sas_supplied: bool = False
    fixes: frozenset[Fix] = frozenset()
    # target server
    target_mode: str = "new"  # "new" | "existing"
    server_name: str = ""
    server_subscription: str = ""
    server_resource_group: str = ""
    location: str = ""
    version: str = ""
    sku_name: str = "Standard_D2ds_v5"
    sku_tier: str = "GeneralPurpose"
    storage_gb: int = 128
    admin_login: str = "pgadmin"
    existing_server_id: ResourceId | None = None
    allow_source_target: bool = False  # the DBA confirmed restoring into the source server
    databases: tuple[str, ...] = ()  # () = every database found
    roles: bool = False
    jobs: int = 0  # 0 = target vCores
    stop_on_first_failure: bool = True
    download_dir: str = ""
    options: RestoreOptions = field(default_factory=RestoreOptions)  # pgAdmin's options
    options_error: str = ""  # what the typed schema/table selection could not be read as


def _valid_server_name(name: str) -> bool:
    return (
        3 <= len(name) <= 63
        and set(name) <= _NAME_CHARS
        and not name.startswith("-")
        and not name.endswith("-")
    )


def _valid_container_name(name: str) -> bool:
    return (
        3 <= len(name) <= 63
        and set(name) <= _NAME_CHARS
        and name[0] != "-"
        and name[-1] != "-"
        and "--" not in name
    )


class RestoreFlow:
    """The restore wizard's state and rules.

    Args:
        source: the backup to restore (vault, backup instance, server when known).
        tenant_of: subscription id → tenant id, for the same-tenant rule (optional).
        now: the clock, for the free-space and calendar defaults.
    """

    def __init__(
        self,
        source: RestoreSource,
        *,
        tenant_of: Mapping[str, str] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.source = source
        self._tenant_of = {k.lower(): v for k, v in (tenant_of or {}).items()}
        self._now = now or (lambda: datetime.now(UTC))
        server = source.server
        vault = source.vault
        defaults: dict[str, Any] = {}
        if server is not None:
            defaults = {
                "server_name": f"{server.name}-restored"[:63],
                "server_subscription": server.id.subscription_id,
                "server_resource_group": server.id.resource_group,
                "location": normalize_region(server.location),
                "version": source.source_major,
                "sku_name": server.sku_name or RestoreDraft.sku_name,
                "sku_tier": server.sku_tier or RestoreDraft.sku_tier,
                "storage_gb": server.storage_gb or RestoreDraft.storage_gb,
                "admin_login": server.administrator_login or RestoreDraft.admin_login,
            }
        elif vault is not None:
            defaults = {
                "server_subscription": vault.id.subscription_id,
                "server_resource_group": vault.id.resource_group,
                "location": normalize_region(vault.location),
            }
        if source.recovery_point is not None:
            defaults["recovery_point"] = source.recovery_point
        # Azure refuses to write over blobs of an earlier restore (FailIfExists), and the
        # engine reads every blob the listing finds: each restore gets names of its own.
        defaults["file_prefix"] = restore_file_prefix(
            source.server.name if source.server else "", self._now()
        )
        if not source.selected:
            # Nothing selected: the natural incident route, "I already have the files".
            defaults["incident"] = IncidentSource.CONTAINER
        self.draft = RestoreDraft(**defaults)
        self.points: tuple[RecoveryPoint, ...] = ()
        self.secondary_points: tuple[RecoveryPoint, ...] = ()
        self.points_error: AppError | None = None
        self.accounts: tuple[StorageAccount, ...] = ()
        self.accounts_loaded = False
        self.accounts_error: AppError | None = None
        self.containers: dict[str, tuple[BlobContainer, ...]] = {}
        self.role_missing: dict[str, bool] = {}
        self.servers: tuple[FlexServer, ...] = ()
        self.subscriptions: tuple[Subscription, ...] = ()
        self.regions: dict[str, tuple[str, ...]] = {}  # subscription id (lower) -> regions
        self.known_databases: tuple[str, ...] = ()
        self.free_bytes: int | None = None
        self.free_path = ""
        self._listeners: list[Callable[[], None]] = []

    # -- change notification ------------------------------------------------------------------
    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every change."""
        self._listeners.append(listener)

    def clear_listeners(self) -> None:
        """Forget every listener (the wizard closed; late listings only update the draft)."""
        self._listeners.clear()

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def update(self, **changes: Any) -> None:
        """Replace draft fields (a new immutable draft each time)."""
        new = dataclasses.replace(self.draft, **changes)
        if new != self.draft:
            self.draft = new
            self._changed()

    # -- source ------------------------------------------------------------------------------
    @property
    def incident_mode(self) -> bool:
        """True when the DBA already has the files: no Azure Backup step runs."""
        return self.draft.incident is not IncidentSource.NONE

    @property
    def cross_region_offered(self) -> bool:
        return self.source.cross_region_offered

    def set_points(self, points: Iterable[RecoveryPoint], *, secondary: bool = False) -> None:
        """Recovery points arrived (primary or, for CRR, secondary region)."""
        ordered = tuple(sorted(points, key=lambda p: p.time, reverse=True))
        if secondary:
            self.secondary_points = ordered
        else:
            self.points = ordered
        self.points_error = None
        chosen = self.draft.recovery_point
        if chosen is not None and secondary == self.draft.secondary:
            same = next(
                (p for p in ordered if p.recovery_point_id == chosen.recovery_point_id), None
            )
            if same is not None and same != chosen:
                self.draft = dataclasses.replace(self.draft, recovery_point=same)
        self._changed()

    def set_points_failed(self, exc: AppError) -> None:
        self.points_error = exc
        self._changed()

    def set_secondary(self, on: bool) -> None:
        """Switch between primary and secondary-region points (only when CRR is offered)."""
        on = on and self.cross_region_offered
        if on != self.draft.secondary:
            self.update(secondary=on, recovery_point=None, account_id=None, container="")

    def visible_points(self) -> tuple[RecoveryPoint, ...]:
        """The points of the region currently chosen."""
        return self.secondary_points if self.draft.secondary else self.points

    def point_days(self) -> frozenset[date]:
        """Local calendar days that have at least one recovery point (for the calendar)."""
        return frozenset(p.time.astimezone().date() for p in self.visible_points())

    def point_day_kinds(self) -> dict[date, BackupKind] | None:
        """Per local day, the kind of its points (days mixing kinds: "unknown"); None for a
        v1 instance, whose points are all v1 (the calendar then needs no kind marks)."""
        instance = self.source.instance
        if instance is None or instance.backup_kind == "v1":
            return None
        kinds: dict[date, BackupKind] = {}
        for p in self.visible_points():
            day, kind = p.time.astimezone().date(), self.point_kind(p)
            kinds[day] = kind if kinds.get(day, kind) == kind else "unknown"
        return kinds

    def points_on(self, day: date) -> list[RecoveryPoint]:
        """The visible points whose local date is ``day``."""
        return [p for p in self.visible_points() if p.time.astimezone().date() == day]

    def choose_point(self, recovery_point_id: str | None) -> None:
        point = next(
            (p for p in self.visible_points() if p.recovery_point_id == recovery_point_id), None
        )
        self.update(recovery_point=point)

    def point_kind(self, point: RecoveryPoint) -> BackupKind:
        """v1/v2/unknown of ``point``: its own evidence joined with its instance's kind."""
        instance = self.source.instance
        return point_kind(
            instance.backup_kind if instance is not None else "unknown",
            point.kind_evidence or None,
        )

    def set_incident(
        self, kind: IncidentSource, *, url: str | None = None, folder: str | None = None
    ) -> None:
        """Enter or leave incident mode ("I already have the files")."""
        changes: dict[str, Any] = {"incident": kind}
        if url is not None:
            changes["incident_url"] = url.strip()
        if folder is not None:
            changes["incident_folder"] = folder.strip()
        self.update(**changes)

    # -- container ---------------------------------------------------------------------------
    def restore_region(self) -> str:
        """Where the vault restores to: its region, or the paired one for CRR."""
        if self.source.vault is None:
            return ""
        try:
            return restore_location(self.source.vault, cross_region=self.draft.secondary)
        except ValueError:
            return ""

    def set_accounts(self, accounts: Iterable[StorageAccount]) -> None:
        """Storage accounts the DBA can see (merged: one call per subscription may arrive)."""
        known = {str(a.id).lower(): a for a in self.accounts}
        for account in accounts:
            known[str(account.id).lower()] = account
        self.accounts = tuple(sorted(known.values(), key=lambda a: a.name.lower()))
        self.accounts_loaded = True
        self._changed()

    def set_accounts_failed(self, exc: AppError) -> None:
        self.accounts_error = exc
        self._changed()

    def _same_tenant(self, account: StorageAccount) -> bool:
        vault = self.source.vault
        tenant = self._tenant_of.get(account.id.subscription_id.lower())
        if vault is None or not vault.tenant_id or tenant is None:
            return True  # listed from the vault tenant's subscriptions
        return tenant.lower() == vault.tenant_id.lower()

    def account_options(self) -> list[AccountOption]:
        """Every known account, with its issues; ``offered`` says whether it can be chosen."""
        vault = self.source.vault
        if vault is None:
            return []
        return [
            AccountOption(
                account,
                tuple(
                    restore_issues(
                        vault,
                        self.source.server,
                        account,
                        cross_region=self.draft.secondary,
                        same_tenant=self._same_tenant(account),
                    )
                ),
            )
            for account in self.accounts
        ]

    def offered_accounts(self) -> list[AccountOption]:
        return [o for o in self.account_options() if o.offered]

    def excluded_accounts(self) -> list[AccountOption]:
        return [o for o in self.account_options() if not o.offered]

    def selected_account(self) -> StorageAccount | None:
        wanted = self.draft.account_id
        if wanted is None:
            return None
        for option in self.offered_accounts():
            if option.account.id.same_as(wanted):
                return option.account
        return None

    def choose_account(self, account_id: ResourceId | None) -> None:
        self.update(account_id=account_id, container="", fixes=frozenset())

    def set_containers(self, account_id: ResourceId, containers: Iterable[BlobContainer]) -> None:
        self.containers[str(account_id).lower()] = tuple(containers)
        self._changed()

    def account_containers(self) -> tuple[BlobContainer, ...]:
        account = self.selected_account()
        return self.containers.get(str(account.id).lower(), ()) if account else ()

    def choose_container(self, name: str, *, new: bool) -> None:
        self.update(container=name.strip(), new_container=new)

    def set_assignments(
        self, account_id: ResourceId, assignments: Iterable[RoleAssignment]
    ) -> None:
        """Role assignments on the account: is the vault identity's data role there?"""
        vault = self.source.vault
        account = next((a for a in self.accounts if a.id.same_as(account_id)), None)
        if vault is None or account is None:
            return
        missing = missing_roles(restore_roles(account, vault), assignments, vault.principal_id)
        self.role_missing[str(account_id).lower()] = bool(missing)
        self._changed()

    def toggle_fix(self, fix: Fix, on: bool) -> None:
        fixes = set(self.draft.fixes)
        if on:
            fixes.add(fix)
        else:
            fixes.discard(fix)
        self.update(fixes=frozenset(fixes))

    def offered_fixes(self) -> list[Fix]:
        """Fixes that apply to the selected account and container."""
        account = self.selected_account()
        if account is None:
            return []
        out: list[Fix] = []
        if not account.allow_cross_tenant_replication:
            out.append(Fix.CROSS_TENANT)
        if self.role_missing.get(str(account.id).lower()):
            out.append(Fix.GRANT_ROLE)
        if self.draft.container and self.draft.new_container:
            out.append(Fix.CREATE_CONTAINER)
        return out

    def role_template(self) -> dict[str, Any]:
        """An ARM template granting the vault identity the data role on the account."""
        account = self.selected_account()
        vault = self.source.vault
        if account is None or vault is None:
            return {}
        return arm_template_for_roles(restore_roles(account, vault), vault.principal_id)

    def container_url(self) -> str:
        account = self.selected_account()
        if account is None or not self.draft.container:
            return ""
        return f"{account.blob_endpoint.rstrip('/')}/{self.draft.container}"

    def read_access_refusal(self, access: ReadAccess, *, keyring: bool = True) -> str:
        """Why ``access`` can't be used now ("" when it can): only working ways are offered."""
        if access is ReadAccess.SAS and not keyring:
            return "No keyring is available to keep a pasted SAS."
        if access in (ReadAccess.ACCOUNT_KEY, ReadAccess.APP_SAS) and self.incident_mode:
            return "The storage account is not known for a container given by its URL."
        account = self.selected_account()
        if access is ReadAccess.ACCOUNT_KEY and account and not account.allow_shared_key_access:
            return f"Shared key access is disabled on {account.name} (allowSharedKeyAccess)."
        return ""

    def sas_entry(self) -> str:
        """The keystore entry name for a pasted SAS ("" when none is used)."""
        if not self.draft.sas_supplied:
            return ""
        if self.incident_mode and self.draft.incident is IncidentSource.CONTAINER:
            return sas_key(self.draft.incident_url) if self.draft.incident_url else ""
        if self.draft.read_access is ReadAccess.SAS and self.container_url():
            return sas_key(self.container_url())
        return ""

    # -- target server -----------------------------------------------------------------------
    def set_servers(self, servers: Iterable[FlexServer]) -> None:
        """Existing servers the DBA may restore into."""
        known = {str(s.id).lower(): s for s in self.servers}
        for server in servers:
            known[str(server.id).lower()] = server
        self.servers = tuple(sorted(known.values(), key=lambda s: s.name.lower()))
        self._changed()

    def set_subscriptions(self, subscriptions: Iterable[Subscription]) -> None:
        """Subscriptions a new server may go into (the first is the default when none is set)."""
        known = {s.subscription_id.lower(): s for s in self.subscriptions}
        for sub in subscriptions:
            known[sub.subscription_id.lower()] = sub
        self.subscriptions = tuple(
            sorted(known.values(), key=lambda s: (s.display_name.lower(), s.subscription_id))
        )
        if not self.draft.server_subscription and self.subscriptions:
            self.draft = dataclasses.replace(
                self.draft, server_subscription=self.subscriptions[0].subscription_id
            )
        self._changed()

    def set_regions(self, subscription_id: str, regions: Iterable[str]) -> None:
        """Regions of a subscription (for the new server's region)."""
        names = sorted({normalize_region(r) for r in regions if r})
        self.regions[subscription_id.lower()] = tuple(names)
        self._changed()

    def region_choices(self) -> list[str]:
        """Regions offered for the new server: the subscription's, plus the one already set."""
        names = set(self.regions.get(self.draft.server_subscription.lower(), ()))
        if self.draft.location:
            names.add(self.draft.location)
        return sorted(names)

    def set_allow_source_target(self, on: bool) -> None:
        """The separate confirmation to restore into the source server itself."""
        changes: dict[str, Any] = {"allow_source_target": on}
        chosen = self.existing_server()
        source_id = self.source.server.id if self.source.server else None
        if not on and chosen is not None and is_source_server(chosen, source_id):
            changes["existing_server_id"] = None
        self.update(**changes)

    def existing_region_rule(self) -> str:
        """The region an existing target must be in ("" = no rule: files already there)."""
        return "" if self.incident_mode else self.restore_region()

    def existing_choices(self) -> list[tuple[FlexServer, str]]:
        """Servers to show for "restore into an existing server", each with why it's refused.

        The source server is left out until the DBA confirmed restoring into it.
        """
        source_id = self.source.server.id if self.source.server else None
        rule = self.existing_region_rule()
        return [
            (s, existing_target_refusal(s, restore_region=rule))
            for s in self.servers
            if self.draft.allow_source_target or not is_source_server(s, source_id)
        ]

    def set_known_databases(self, names: Iterable[str]) -> None:
        """Database names of the source (for the checkboxes)."""
        self.known_databases = tuple(sorted(set(names)))
        self._changed()

    def set_free_space(self, path: str, free_bytes: int | None) -> None:
        if path == self.draft.download_dir:
            self.free_path = path
            self.free_bytes = free_bytes
            self._changed()

    def allowed_versions(self) -> list[str]:
        """Major versions a new server may have (same as the source or newer)."""
        major = self.source.source_major
        if not major:
            return list(PG_MAJOR_VERSIONS)
        return [v for v in PG_MAJOR_VERSIONS if target_version_ok(major, v)]

    def existing_server(self) -> FlexServer | None:
        wanted = self.draft.existing_server_id
        if wanted is None:
            return None
        return next((s for s in self.servers if s.id.same_as(wanted)), None)

    def new_server_id(self) -> ResourceId | None:
        d = self.draft
        if not (d.server_subscription and d.server_resource_group and d.server_name):
            return None
        return ResourceId.build(
            d.server_subscription,
            d.server_resource_group,
            "Microsoft.DBforPostgreSQL",
            "flexibleServers",
            d.server_name,
        )

    def target_server_id(self) -> ResourceId | None:
        if self.draft.target_mode == "existing":
            return self.draft.existing_server_id
        return self.new_server_id()

    def password_entry(self) -> str:
        target = self.target_server_id()
        return server_admin_key(str(target)) if target is not None else ""

    # -- issues --------------------------------------------------------------------------------
    def issues(self, step: Step) -> list[Issue]:
        """Findings for one page, blocking ones first."""
        found = {
            Step.SOURCE: self._source_issues,
            Step.CONTAINER: self._container_issues,
            Step.SERVER: self._server_issues,
            Step.SUMMARY: self._all_issues,
        }[step]()
        return sorted(found, key=lambda i: (not i.blocks,))

    def steps(self) -> list[Step]:
        """The pages in use: incident mode skips the container page (no Azure step)."""
        if self.incident_mode:
            return [Step.SOURCE, Step.SERVER, Step.SUMMARY]
        return list(Step)

    def can_advance(self, step: Step) -> bool:
        return not has_errors(self.issues(step))

    def _all_issues(self) -> list[Issue]:
        problems = self.draft.options.problems()
        if self.draft.options_error:  # never restore everything when a selection was meant
            problems = [self.draft.options_error, *problems]
        options = [error("options", f"Restore options: {p}.") for p in problems]
        return self._source_issues() + self._container_issues() + self._server_issues() + options

    def _source_issues(self) -> list[Issue]:
        d = self.draft
        if self.incident_mode:
            return self._incident_issues()
        found: list[Issue] = []
        if not self.source.selected:
            found.append(
                error(
                    "source",
                    "No backup is selected.",
                    "Tick 'I already have the files' for a container or folder holding them, "
                    "or pick a protected server or recovery point in the tree first.",
                )
            )
            return found
        if self.source.vault is None or self.source.instance is None:
            found.append(
                error(
                    "source",
                    f"{self.source.label} is not protected by a backup vault I can see.",
                    "Pick a protected server or a backup instance in the tree, or use "
                    "'I already have the files'.",
                )
            )
            return found
        if self.points_error is not None:
            found.append(
                error("source.points", self.points_error.summary, self.points_error.remedy)
            )
        if d.secondary and not self.cross_region_offered:
            found.append(error("source.secondary", "Cross Region Restore is not available."))
        if d.recovery_point is None:
            found.append(error("source.point", "Choose a recovery point."))
        else:
            found += _kind_issues(self.point_kind(d.recovery_point))
        if d.secondary:
            found.append(
                info(
                    "source.secondary",
                    "Secondary-region points reach the paired region up to 12 hours after the "
                    f"backup; the files go to a storage account in {self.restore_region()}.",
                )
            )
        return found

    def _container_issues(self) -> list[Issue]:
        d = self.draft
        if self.incident_mode:
            return []  # the container page is skipped
        found: list[Issue] = []
        if self.accounts_error is not None:
            found.append(
                warning("target.accounts", self.accounts_error.summary, self.accounts_error.remedy)
            )
        account = self.selected_account()
        if account is None:
            region = self.restore_region()
            found.append(
                error(
                    "target.account",
                    "Choose a storage account" + (f" in {region}." if region else "."),
                )
            )
            return found
        option = next(o for o in self.offered_accounts() if o.account.id.same_as(account.id))
        for issue in option.issues:
            if issue.field == "target.account" and Fix.CROSS_TENANT in d.fixes:
                found.append(
                    info(
                        "target.account",
                        f"Cross-tenant replication will be enabled on {account.name}.",
                    )
                )
            else:
                found.append(issue)
        missing = self.role_missing.get(str(account.id).lower())
        if missing and Fix.GRANT_ROLE in d.fixes:
            found.append(
                info(
                    "target.role",
                    "Storage Blob Data Contributor will be granted to the vault identity.",
                )
            )
        elif missing:
            vault_name = self.source.vault.name if self.source.vault else "the vault"
            found.append(
                error(
                    "target.role",
                    f"Vault {vault_name}'s identity has no Storage Blob Data Contributor role "
                    f"on {account.name}.",
                    "Grant it here, or export the template for an administrator.",
                )
            )
        if not d.container:
            found.append(error("target.container", "Choose a container or type a new name."))
        elif not _valid_container_name(d.container):
            found.append(
                error(
                    "target.container",
                    f"{d.container!r} is not a valid container name.",
                    "Use 3-63 lower-case letters, digits and single hyphens.",
                )
            )
        elif d.new_container and Fix.CREATE_CONTAINER not in d.fixes:
            found.append(
                error(
                    "target.container",
                    f"Container {d.container} does not exist yet.",
                    "Let the wizard create it.",
                )
            )
        refused = self.read_access_refusal(d.read_access)
        if refused:
            found.append(error("target.read", refused, "Pick another way to read the files."))
        if d.read_access is ReadAccess.SAS and not d.sas_supplied:
            found.append(
                error("target.read", "Paste a SAS for the container, or pick another way.")
            )
        if not d.file_prefix.strip():
            found.append(error("target.prefix", "The file prefix may not be empty."))
        return found

    def _incident_issues(self) -> list[Issue]:
        d = self.draft
        if d.incident is IncidentSource.FOLDER:
            if not d.incident_folder:
                return [error("incident.folder", "Choose the folder holding the files.")]
            return []
        found: list[Issue] = []
        url = d.incident_url
        if not url.lower().startswith("https://"):
            found.append(
                error(
                    "incident.url",
                    "Type the container URL (https://<account>.blob.core.windows.net/<container>).",
                )
            )
        elif "?" in url:
            found.append(
                error(
                    "incident.url",
                    "Paste the SAS into its own field, not into the URL.",
                )
            )
        if not d.sas_supplied:
            found.append(
                warning(
                    "incident.sas",
                    "No SAS given: the app will use your Entra sign-in to read the container.",
                )
            )
        return found

    def _server_issues(self) -> list[Issue]:
        d = self.draft
        found: list[Issue] = []
        if d.target_mode == "existing":
            server = self.existing_server()
            if server is None:
                found.append(error("server.existing", "Choose the server to restore into."))
            else:
                found.extend(
                    existing_target_issues(
                        server,
                        restore_region=self.existing_region_rule(),
                        source_server_id=self.source.server.id if self.source.server else None,
                        source_confirmed=d.allow_source_target,
                    )
                )
                major = self.source.source_major
                if major and not target_version_ok(major, server.version):
                    found.append(
                        error(
                            "server.version",
                            f"{server.name} runs PostgreSQL {server.version}, older than the "
                            f"source's {major}.",
                            "Choose a server of the same or a newer major version.",
                        )
                    )
                found.append(
                    warning(
                        "server.existing",
                        f"Databases on {server.name} that already hold data are refused, never "
                        "overwritten.",
                    )
                )
        else:
            if not _valid_server_name(d.server_name):
                found.append(
                    error(
                        "server.name",
                        f"{d.server_name!r} is not a valid server name.",
                        "Use 3-63 lower-case letters, digits and hyphens.",
                    )
                )
            elif any(s.name.lower() == d.server_name.lower() for s in self.servers):
                found.append(
                    error(
                        "server.name",
                        f"A server named {d.server_name} already exists.",
                        "Pick another name, or restore into the existing server.",
                    )
                )
            found.extend(
                new_server_placement_issues(
                    d.server_subscription, d.server_resource_group, d.location
                )
            )
            major = self.source.source_major
            if not d.version:
                found.append(error("server.version", "Choose a PostgreSQL major version."))
            elif major and not target_version_ok(major, d.version):
                found.append(
                    error(
                        "server.version",
                        f"PostgreSQL {d.version} is older than the source's {major}.",
                        f"Choose {major} or newer.",
                    )
                )
        if d.roles:
            found.append(
                info(
                    "server.roles",
                    "Azure's roles file has no passwords: restored roles need new passwords "
                    "before anyone can log in with them.",
                )
            )
        if d.jobs < 0:
            found.append(error("server.jobs", "Parallel jobs must be 0 (automatic) or more."))
        if not d.download_dir and not (self.incident_mode and d.incident is IncidentSource.FOLDER):
            found.append(error("server.download", "Choose a download folder."))
        elif self.free_bytes is not None and self.free_bytes < 1024**3:
            found.append(
                warning(
                    "server.download",
                    f"Only {self.free_bytes / 1024**3:.1f} GiB free in {d.download_dir}.",
                )
            )
        return found

    # -- plan --------------------------------------------------------------------------------
    def plan(self) -> RestorePlanFile:
        """The plan for the restore engine. Holds no secrets.

        Raises:
            InvalidPlan: while any page has a blocking issue.
        """
        blocking = [i for i in self._all_issues() if i.blocks]
        if blocking:
            raise InvalidPlan(blocking)
        d = self.draft
        source: SourceSpec | None = None
        if self.incident_mode:
            if d.incident is IncidentSource.FOLDER:
                container = ContainerSpec(local_dir=d.incident_folder)
            else:
                entry = self.sas_entry()
                container = ContainerSpec(
                    url=d.incident_url.rstrip("/"),
                    prefix=d.prefix,
                    sas_entry=entry,
                    read_access=(ReadAccess.SAS if entry else ReadAccess.ENTRA).value,
                )
        else:
            vault, instance, point = self.source.vault, self.source.instance, d.recovery_point
            assert vault is not None
            assert instance is not None
            assert point is not None
            source = SourceSpec(
                backup_instance_id=str(instance.id),
                recovery_point_id=point.recovery_point_id,
                vault_location=self.restore_region(),
                cross_region=d.secondary,
                source_region=normalize_region(vault.location),
            )
            account = self.selected_account()
            assert account is not None
            blob_container = BlobContainer(account.id, d.container, self.container_url())
            container = ContainerSpec(
                url=blob_container.url,
                arm_id=blob_container.arm_id,
                prefix=d.prefix or f"{d.file_prefix}_",  # only this restore's files
                file_prefix=d.file_prefix,
                sas_entry=self.sas_entry(),
                read_access=d.read_access.value,
            )
        if d.target_mode == "existing":
            server = self.existing_server()
            assert server is not None
            target = TargetSpec(
                mode="existing",
                server_id=str(server.id),
                location=normalize_region(server.location),
                version=server.version,
                sku_name=server.sku_name or TargetSpec.sku_name,
                sku_tier=server.sku_tier or TargetSpec.sku_tier,
                storage_gb=server.storage_gb or TargetSpec.storage_gb,
                admin_login=server.administrator_login or TargetSpec.admin_login,
                host=server.fqdn,
                password_entry=self.password_entry(),
            )
        else:
            target = TargetSpec(
                mode="new",
                server_id=str(self.new_server_id()),
                location=d.location,
                version=d.version,
                sku_name=d.sku_name,
                sku_tier=d.sku_tier,
                storage_gb=d.storage_gb,
                admin_login=d.admin_login,
                password_entry=self.password_entry(),
            )
        return RestorePlanFile(
            container=container,
            target=target,
            source=source,
            databases=d.databases,
            roles=d.roles,
            jobs=d.jobs,
            stop_on_first_failure=d.stop_on_first_failure,
            download_dir=d.incident_folder if self._reads_a_folder else d.download_dir,
            options=d.options,
        )

    @property
    def _reads_a_folder(self) -> bool:
        """The files are in a local folder: nothing is downloaded."""
        return self.incident_mode and self.draft.incident is IncidentSource.FOLDER

    @property
    def reads_a_folder(self) -> bool:
        """The files are in a local folder (their tables of contents can be read now)."""
        return self._reads_a_folder

    def commit_fixes(self) -> list[Fix]:
        """The fixes to run before the restore starts (in this order)."""
        order = (Fix.CROSS_TENANT, Fix.CREATE_CONTAINER, Fix.GRANT_ROLE)
        offered = set(self.offered_fixes())
        return [f for f in order if f in self.draft.fixes and f in offered]

    def summary(self) -> list[tuple[str, str]]:
        """Label/value rows for the summary page."""
        d = self.draft
        rows: list[tuple[str, str]] = []
        if self.incident_mode:
            where = d.incident_folder if d.incident is IncidentSource.FOLDER else d.incident_url
            rows.append(("Files", f"already there: {where}"))
        else:
            point = d.recovery_point
            rows.append(("Backup", self.source.label))
            if point is not None:
                rows.append(("Recovery point", describe_time(point.time)))
            if d.secondary:
                rows.append(("Region", f"secondary ({self.restore_region()})"))
            rows.append(("Container", self.container_url() or "-"))
            rows.append(("File names", f"{d.file_prefix}_database_<name>.sql, …"))
            rows.append(("Read files with", d.read_access.words))
            fixes = self.commit_fixes()
            if fixes:
                rows.append(("Fixes before restore", ", ".join(f.value for f in fixes)))
        if d.target_mode == "existing":
            server = self.existing_server()
            rows.append(("Target server", f"existing: {server.name if server else '-'}"))
        else:
            rows.append(
                (
                    "Target server",
                    f"new: {d.server_name} (PostgreSQL {d.version}, {d.sku_name}, "
                    f"{d.storage_gb} GB, {d.location})",
                )
            )
        rows.append(("Databases", ", ".join(d.databases) if d.databases else "all found"))
        rows.append(("Roles", "restore" if d.roles else "skip"))
        rows.append(("Parallel jobs", str(d.jobs) if d.jobs else "automatic"))
        rows.append(("Stop on first failure", "yes" if d.stop_on_first_failure else "no"))
        rows.append(("Options", "; ".join(d.options.words()) or "restore everything"))
        if d.download_dir and not self._reads_a_folder:
            rows.append(("Download folder", d.download_dir))
        return rows


def restore_file_prefix(source_name: str, when: datetime) -> str:
    """``pg-orders-20250601-143000``: the names Azure gives this restore's files."""
    slug = "".join(c if c in _NAME_CHARS else "-" for c in source_name.lower()).strip("-")
    return f"{slug or 'restore'}-{when.astimezone(UTC):%Y%m%d-%H%M%S}"


def describe_time(when: datetime, *, local_zone: tzinfo | None = None) -> str:
    """``2025-06-01 14:30 CEST (12:30 UTC)``: local time first, then UTC (once if the same)."""
    local = when.astimezone(local_zone)
    utc = when.astimezone(UTC)
    if local.utcoffset() == timedelta(0):
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    return f"{local:%Y-%m-%d %H:%M %Z} ({utc:%Y-%m-%d %H:%M} UTC)"


def _kind_issues(kind: BackupKind) -> list[Issue]:
    """A v2 (physical) point never restores as files: Azure refuses it (doc §1.6)."""
    if kind == "v2":
        return [
            error(
                "source.kind",
                "This is a vaulted backup v2 (physical) recovery point: Azure Backup restores it "
                "only as a server, never as files, so this wizard can't restore it.",
                "Restore it as a server onto an empty flexible server you created (same "
                "PostgreSQL version, disk size and type, in the vault's region, no high "
                "availability): press Restore as a server…, or run pgflex restore --plan with "
                "a restore-as-server plan (see the README). Or pick a v1 (logical) point.",
            )
        ]
    if kind == "unknown":
        return [
            warning(
                "source.kind",
                "Whether this point is v1 (logical) or v2 (physical) is not documented for "
                "this backup instance. A v1 point restores as files; Azure refuses a v2 point "
                "here, and the restore then stops at the validation, before anything is made.",
            )
        ]
    return []
