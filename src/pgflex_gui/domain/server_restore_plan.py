"""The restore-as-server plan (vaulted backup v2): what ``pgflex restore --plan`` runs.

Pure and Qt-free. A v2 recovery point is restored by Azure Backup onto a flexible server that
exists already and is empty (doc ``azure-v2-and-resource-graph.md`` §1.6; the rules are
``domain.restore_as_server.target_checks``). The app may grant the vault identity its role on
the target first (``grant_role``). Like the v1 plan (``jobs.restore_plan_file``) it is plain
JSON with **no secrets**, told apart from a v1 plan by ``kind`` (:data:`PLAN_KIND`)::

    {"version": 1, "kind": "restore-as-server",
     "source": {"backup_instance_id": "/subscriptions/.../backupInstances/pg-ledger-bi",
                "recovery_point_id": "9f3c...",
                "server_id": "/subscriptions/.../flexibleServers/pg-ledger-weu"},
     "target": {"server_id": "/subscriptions/.../flexibleServers/pg-ledger-restored"},
     "grant_role": true}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pgflex_gui.domain.ids import ResourceId

__all__ = [
    "PLAN_KIND",
    "ServerRestorePlan",
    "is_server_restore_plan",
]

PLAN_KIND = "restore-as-server"
PLAN_VERSION = 1
_FLEX = "microsoft.dbforpostgresql/flexibleservers"
_BI = "microsoft.dataprotection/backupvaults/backupinstances"


def is_server_restore_plan(data: object) -> bool:
    """True when a parsed plan file is a restore-as-server plan (by its ``kind``)."""
    return isinstance(data, Mapping) and data.get("kind") == PLAN_KIND


def _id_of(text: str, kind: str) -> ResourceId | None:
    try:
        rid = ResourceId.parse(text)
    except ValueError:
        return None
    return rid if rid.resource_type.lower() == kind else None


@dataclass(frozen=True)
class ServerRestorePlan:
    """Restore one v2 recovery point onto an existing, empty flexible server."""

    backup_instance_id: str
    recovery_point_id: str
    target_server_id: str
    source_server_id: str = ""  # the protected server (may be deleted by now); required
    grant_role: bool = False  # assign the vault identity its role on the target first
    version: int = PLAN_VERSION
    kind: str = PLAN_KIND

    @property
    def instance_id(self) -> ResourceId:
        return ResourceId.parse(self.backup_instance_id)

    @property
    def vault_id(self) -> ResourceId:
        parent = self.instance_id.parent
        assert parent is not None
        return parent

    @property
    def target_id(self) -> ResourceId:
        return ResourceId.parse(self.target_server_id)

    @property
    def target_name(self) -> str:
        return self.target_server_id.rstrip("/").rsplit("/", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "kind": self.kind,
            "source": {
                "backup_instance_id": self.backup_instance_id,
                "recovery_point_id": self.recovery_point_id,
                "server_id": self.source_server_id,
            },
            "target": {"server_id": self.target_server_id},
            "grant_role": self.grant_role,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServerRestorePlan:
        """Parse a dict; ValueError naming every problem."""
        if not is_server_restore_plan(data):
            raise ValueError(f"not a {PLAN_KIND} plan (its 'kind' must be {PLAN_KIND!r})")
        version = int(data.get("version", PLAN_VERSION))
        if version != PLAN_VERSION:
            raise ValueError(f"unsupported plan version {version} (this build reads 1)")
        source = data.get("source") or {}
        target = data.get("target") or {}
        if not isinstance(source, Mapping) or not isinstance(target, Mapping):
            raise ValueError("'source' and 'target' must be JSON objects")
        unknown = sorted(set(source) - {"backup_instance_id", "recovery_point_id", "server_id"})
        unknown += sorted(f"target.{k}" for k in set(target) - {"server_id"})
        if unknown:
            raise ValueError(f"unknown field(s) in the plan: {', '.join(unknown)}")
        plan = cls(
            backup_instance_id=str(source.get("backup_instance_id", "")),
            recovery_point_id=str(source.get("recovery_point_id", "")),
            target_server_id=str(target.get("server_id", "")),
            source_server_id=str(source.get("server_id", "")),
            grant_role=bool(data.get("grant_role", False)),
        )
        problems = plan.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return plan

    def problems(self) -> list[str]:
        """What makes the plan impossible to run, in words (empty when fine)."""
        out: list[str] = []
        if _id_of(self.backup_instance_id, _BI) is None:
            out.append("source.backup_instance_id must be a backup instance's ARM id")
        if not self.recovery_point_id.strip():
            out.append("source.recovery_point_id is missing")
        if _id_of(self.target_server_id, _FLEX) is None:
            out.append("target.server_id must be a flexible server's ARM id")
        if _id_of(self.source_server_id, _FLEX) is None:
            out.append("source.server_id must be the protected flexible server's ARM id")
        if self.source_server_id.lower() == (self.target_server_id.lower()):
            out.append("the target must not be the source server (Azure restores onto another)")
        return out

    def digest_fields(self) -> dict[str, Any]:
        """What identifies this restore for its journal."""
        return asdict(self)
