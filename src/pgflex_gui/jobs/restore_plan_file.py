"""The restore plan file: what ``pgflex restore --plan FILE`` and the restore wizard run.

A plan is plain JSON with **no secrets**. Passwords and SAS tokens live in the keystore; the
plan names the keystore *entry* (``password_entry``, ``sas_entry``), never the value. A
container URL carrying a SAS signature (``sig=``) is refused on load and on save.

Example (version 1)::

    {"version": 1,
     "source": {"backup_instance_id": "/subscriptions/.../backupInstances/pg-src-bi",
                "recovery_point_id": "64c1...", "vault_location": "westeurope",
                "cross_region": false},
     "container": {"url": "https://acct.blob.core.windows.net/restores",
                   "arm_id": "/subscriptions/.../containers/restores", "prefix": "",
                   "file_prefix": "dummyprefix", "sas_entry": "", "local_dir": ""},
     "target": {"mode": "new", "server_id": "/subscriptions/.../flexibleServers/pg-restored",
                "location": "westeurope", "version": "16", "sku_name": "Standard_D2ds_v5",
                "sku_tier": "GeneralPurpose", "storage_gb": 128, "admin_login": "pgadmin",
                "firewall_ip": "127.0.0.1", "vcores": 2},
     "databases": [], "roles": false, "jobs": 0, "stop_on_first_failure": false,
     "parallel_restores": 2, "download_dir": "/var/tmp/pgflex-restore", "source_counts": {}}

``source`` is null in incident mode (start from an existing container or local folder).
``databases`` empty means every database found. ``jobs`` 0 means "the target's vCores,
shared by the databases restored at once" (``jobs.restore.db_restore_jobs``).
``parallel_restores`` databases are restored at once (default 2: one large database no longer
holds back the small ones while the others download and restore).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from pgflex_gui.domain.restore_options import RestoreOptions
from pgflex_gui.domain.restore_plan import DEFAULT_FILE_PREFIX
from pgflex_gui.domain.server_restore_plan import ServerRestorePlan
from pgflex_gui.domain.system_databases import postgres_target_problem

__all__ = [
    "PLAN_VERSION",
    "ContainerSpec",
    "PlanError",
    "RestorePlanFile",
    "SourceSpec",
    "TargetSpec",
    "load_plan",
    "save_plan",
]

PLAN_VERSION = 1
READ_ACCESS = ("", "entra", "account-key", "app-sas", "sas")
_SAS = re.compile(r"(?:^|[?&])sig=", re.IGNORECASE)
_SECRET_KEYS = re.compile(r"password$|^sas$|secret|token", re.IGNORECASE)


class PlanError(ValueError):
    """The plan file is malformed, or carries a secret."""


@dataclass(frozen=True)
class SourceSpec:
    """The backup to restore: a backup instance and one recovery point."""

    backup_instance_id: str
    recovery_point_id: str
    vault_location: str
    cross_region: bool = False
    source_region: str = ""  # the vault's (primary) region, for CRR requests

    @property
    def vault_id(self) -> str:
        """The vault ARM id (the backup instance's parent)."""
        return self.backup_instance_id.rsplit("/backupInstances/", 1)[0]


@dataclass(frozen=True)
class ContainerSpec:
    """Where the restored files land (or already are, in incident mode)."""

    url: str = ""
    arm_id: str = ""
    prefix: str = ""  # list only blobs under this prefix
    file_prefix: str = DEFAULT_FILE_PREFIX
    sas_entry: str = ""  # keystore entry holding a SAS for ``url`` (incident mode)
    # How the app reads the files: "entra" | "account-key" | "app-sas" | "sas";
    # "" (older plans) = "sas" when sas_entry is set, else "entra".
    read_access: str = ""
    local_dir: str = ""  # incident mode from a local folder: no download at all


@dataclass(frozen=True)
class TargetSpec:
    """The server the databases go into: a new one the app creates, or an existing one."""

    mode: str = "new"  # "new" | "existing"
    server_id: str = ""  # ARM id (needed for "new"; optional for "existing")
    location: str = ""
    version: str = ""
    sku_name: str = "Standard_D2ds_v5"
    sku_tier: str = "GeneralPurpose"
    storage_gb: int = 128
    admin_login: str = "pgadmin"
    firewall_ip: str = ""  # "" = no rule; the sandbox uses 127.0.0.1
    vcores: int = 2
    host: str = ""  # existing servers reached without ARM
    port: int = 5432
    sslmode: str = ""
    password_entry: str = ""  # keystore entry; default: keystore.server_admin_key(server_id)
    allow_configure: bool = True  # may add extensions to azure.extensions
    allow_restart: bool = False  # may restart an existing server for preload libraries
    # Restore-time server parameters (put back afterwards): "auto" = only on a server this
    # restore creates; "on" = also on an existing server (the user allows it); "off" = never.
    tuning: str = "auto"

    @property
    def server_name(self) -> str:
        """The last segment of ``server_id`` (or the host)."""
        return self.server_id.rstrip("/").rsplit("/", 1)[-1] if self.server_id else self.host


@dataclass(frozen=True)
class RestorePlanFile:
    """Everything a headless restore needs, minus secrets."""

    container: ContainerSpec
    target: TargetSpec
    source: SourceSpec | None = None
    databases: tuple[str, ...] = ()
    roles: bool = False
    # Restore the ``postgres`` file into this new database ("" = postgres is not restored;
    # it never goes into the target's own postgres). See domain.system_databases.
    postgres_as: str = ""
    # With roles: the admin is made a member of the roles owning restored objects (needed
    # on PostgreSQL 15, where the admin is not superuser); True revokes that at the end.
    revoke_owner_grants: bool = False
    jobs: int = 0
    stop_on_first_failure: bool = False
    download_dir: str = ""
    parallel_restores: int = 2  # databases restored at once (each with -j jobs)
    source_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # pgAdmin's options: sections, data/schema only, no owner/privileges, single
    # transaction, and per database only some schemas or tables.
    options: RestoreOptions = field(default_factory=RestoreOptions)
    version: int = PLAN_VERSION

    @property
    def incident_mode(self) -> bool:
        """True when no Azure Backup restore is triggered (container or folder given)."""
        return self.source is None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (checked for secrets)."""
        data = asdict(self)
        data["databases"] = list(self.databases)
        data["source_counts"] = {k: dict(v) for k, v in self.source_counts.items()}
        data["options"] = self.options.to_json()
        _refuse_secrets(data)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RestorePlanFile:
        """Parse a dict; PlanError when malformed or when it carries a secret."""
        if not isinstance(data, Mapping):
            raise PlanError("a plan must be a JSON object")
        _refuse_secrets(data)
        version = int(data.get("version", PLAN_VERSION))
        if version != PLAN_VERSION:
            raise PlanError(f"unsupported plan version {version} (this build reads {PLAN_VERSION})")
        try:
            source = data.get("source")
            plan = cls(
                container=ContainerSpec(**dict(data.get("container") or {})),
                target=TargetSpec(**dict(data.get("target") or {})),
                source=SourceSpec(**dict(source)) if source else None,
                databases=tuple(str(d) for d in data.get("databases") or ()),
                roles=bool(data.get("roles", False)),
                postgres_as=str(data.get("postgres_as", "")),
                revoke_owner_grants=bool(data.get("revoke_owner_grants", False)),
                jobs=int(data.get("jobs", 0)),
                stop_on_first_failure=bool(data.get("stop_on_first_failure", False)),
                download_dir=str(data.get("download_dir", "")),
                parallel_restores=max(1, int(data.get("parallel_restores", 2))),
                source_counts={
                    str(db): {str(t): int(n) for t, n in dict(tables).items()}
                    for db, tables in dict(data.get("source_counts") or {}).items()
                },
                options=RestoreOptions.from_json(data.get("options")),
                version=version,
            )
        except (TypeError, ValueError) as exc:
            raise PlanError(f"bad plan: {exc}") from exc
        problems = plan.problems()
        if problems:
            raise PlanError("; ".join(problems))
        return plan

    def problems(self) -> list[str]:
        """What makes this plan impossible to run, in words (empty when fine)."""
        out: list[str] = list(self.options.problems())
        c, t = self.container, self.target
        if self.source is None and not (c.url or c.local_dir):
            out.append("incident mode needs a container URL or a local folder")
        if self.source is not None and not c.url:
            out.append("a restore from a recovery point needs the target container URL")
        if t.mode not in ("new", "existing"):
            out.append(f"target.mode must be 'new' or 'existing', not {t.mode!r}")
        if t.mode == "new" and not (t.server_id and t.location and t.version):
            out.append("a new target server needs server_id, location and version")
        if t.mode == "existing" and not (t.server_id or t.host):
            out.append("an existing target server needs server_id or host")
        if self.jobs < 0:
            out.append("jobs must be 0 (automatic) or more")
        if t.tuning not in ("auto", "on", "off"):
            out.append(f"target.tuning must be 'auto', 'on' or 'off', not {t.tuning!r}")
        if self.postgres_as and (why := postgres_target_problem(self.postgres_as)):
            out.append(f"postgres_as: {why}")
        if c.read_access not in READ_ACCESS:
            out.append(f"container.read_access must be one of {', '.join(READ_ACCESS)}")
        if c.read_access == "account-key" and not c.arm_id:
            out.append("reading with the account key needs container.arm_id")
        if c.read_access == "sas" and not c.sas_entry:
            out.append("reading with a SAS needs container.sas_entry")
        return out

    def with_changes(self, **changes: Any) -> RestorePlanFile:
        """A copy with some fields replaced."""
        return replace(self, **changes)


def _refuse_secrets(data: Any, path: str = "") -> None:
    if isinstance(data, Mapping):
        for key, value in data.items():
            where = f"{path}{key}"
            if _SECRET_KEYS.search(str(key)) and value:
                raise PlanError(f"a plan file must not hold secrets ({where}); use the keystore")
            _refuse_secrets(value, where + ".")
    elif isinstance(data, list | tuple):
        for item in data:
            _refuse_secrets(item, path)
    elif isinstance(data, str) and _SAS.search(data):
        raise PlanError(f"a plan file must not hold a SAS ({path.rstrip('.')}); use sas_entry")


def load_plan(path: Path | str) -> RestorePlanFile:
    """Read a plan file; PlanError when it is malformed or holds a secret."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PlanError(f"{path} is not valid JSON: {exc}") from exc
    return RestorePlanFile.from_json(data)


def save_plan(plan: RestorePlanFile | ServerRestorePlan, path: Path | str) -> None:
    """Write a plan file atomically (as files or as a server; neither holds a secret)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(plan.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
