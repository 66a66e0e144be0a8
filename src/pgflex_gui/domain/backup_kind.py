"""Which kind of vaulted backup a backup instance takes: v1 (logical) or v2 (physical).

Pure and Qt-free; shared by the tree, the details, the restore wizard, the inventory and
``pgflex inventory``.

The documented marker (Data Protection api-version 2026-07-01, shared doc
``azure-v2-and-resource-graph.md`` §1.3) is an entry of
``properties.policyInfo.policyParameters.backupDatasourceParametersList`` with
``objectType == "PostgreSqlFlexibleServerBackupDatasourceParameters"`` and
``backupSolutionType == "PhysicalBackup"`` (any case). ``LogicalBackup`` is v1, and so is an
absent or empty list (INFERRED: v1 instances predate the property). Anything else, e.g. a
PG entry with an unknown ``backupSolutionType``, is ``"unknown"``: we detect, we do not guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

__all__ = [
    "PG_DATASOURCE_PARAMETERS",
    "BackupKind",
    "backup_kind_of",
    "backup_kind_of_solution",
]

BackupKind = Literal["v1", "v2", "unknown"]

PG_DATASOURCE_PARAMETERS = "PostgreSqlFlexibleServerBackupDatasourceParameters"
_PHYSICAL = "physicalbackup"
_LOGICAL = "logicalbackup"


def backup_kind_of_solution(solution: str | None) -> BackupKind:
    """Map one ``backupSolutionType`` value: Physical → v2, Logical or absent → v1."""
    if solution is None or not str(solution).strip():
        return "v1"
    text = str(solution).strip().lower()
    if text == _PHYSICAL:
        return "v2"
    if text == _LOGICAL:
        return "v1"
    return "unknown"


def backup_kind_of(params_list: Iterable[object] | None) -> BackupKind:
    """Tell v1 from v2 from a ``backupDatasourceParametersList`` (JSON dicts, camelCase keys).

    ``None`` or ``[]`` → ``"v1"``. A PG entry decides by its ``backupSolutionType``; other
    entries (e.g. blob parameters) are ignored; a list holding only entries of other object
    types, or non-dict entries, is ``"unknown"``.
    """
    if params_list is None:
        return "v1"
    entries = list(params_list)
    if not entries:
        return "v1"
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        object_type = str(entry.get("objectType") or entry.get("object_type") or "")
        if object_type.lower() != PG_DATASOURCE_PARAMETERS.lower():
            continue
        solution = entry.get("backupSolutionType", entry.get("backup_solution_type"))
        if solution is None:
            return "unknown"
        return backup_kind_of_solution(str(solution))
    return "unknown"
