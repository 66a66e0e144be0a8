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

from pgflex_gui.domain.payload import get

__all__ = [
    "PG_DATASOURCE_PARAMETERS",
    "BackupKind",
    "backup_kind_of",
    "backup_kind_of_solution",
    "instance_kind_of",
    "kind_explanation",
    "kind_words",
    "point_kind",
    "recovery_point_evidence",
    "recovery_point_kind",
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


# -- whole payloads, recovery points and words (the v2 half of #16) ------------------------

_PHYSICAL_TOKEN = "physicalbackup"
_LOGICAL_TOKEN = "logicalbackup"


def _get(data: object, *path: str) -> object:
    """``data[p0][p1]...`` with case-insensitive keys; None when anything is missing."""
    return get(data, *path)


def instance_kind_of(instance: Mapping[str, object] | None) -> BackupKind:
    """The kind of a backup instance from its REST JSON (the resource, or its ``properties``).

    Reads ``policyInfo.policyParameters.backupDatasourceParametersList`` (doc §1.3). Read it
    from a payload fetched at api-version 2026-07-01: what older api-versions return for a v2
    instance is UNCONFIRMED (doc §1.9 item 7).
    """
    if not isinstance(instance, Mapping):
        return "unknown"
    props = _get(instance, "properties")
    body = props if isinstance(props, Mapping) else instance
    params = _get(body, "policyInfo", "policyParameters", "backupDatasourceParametersList")
    if params is None:
        return "v1"
    if not isinstance(params, list | tuple):
        return "unknown"
    return backup_kind_of(params)


def _token_kind(text: str) -> BackupKind | None:
    low = text.lower()
    physical, logical = _PHYSICAL_TOKEN in low, _LOGICAL_TOKEN in low
    if physical and not logical:
        return "v2"
    if logical and not physical:
        return "v1"
    return None


def recovery_point_evidence(point: Mapping[str, object] | None) -> BackupKind | None:
    """What a recovery point's own JSON says about its kind: "v1", "v2" or None (nothing).

    INFERRED (doc §1.3): the field is UNCONFIRMED; the doc names ``recoveryPointType`` and
    ``recoveryPointDataStoresDetails[].metaData`` as the likely places. Only one of the enum
    words ``PhysicalBackup`` / ``LogicalBackup`` found there (any case; a JSON ``metaData``
    string or object with ``backupSolutionType``) counts; both or neither is None.
    """
    if not isinstance(point, Mapping):
        return None
    props = _get(point, "properties")
    body = props if isinstance(props, Mapping) else point
    found: set[BackupKind] = set()
    rp_type = _get(body, "recoveryPointType")
    if isinstance(rp_type, str) and (kind := _token_kind(rp_type)):
        found.add(kind)
    stores = _get(body, "recoveryPointDataStoresDetails")
    for store in stores if isinstance(stores, list | tuple) else ():
        meta = _get(store, "metaData")
        if isinstance(meta, str) and (kind := _token_kind(meta)):
            found.add(kind)
        elif isinstance(meta, Mapping):
            solution = _get(meta, "backupSolutionType")
            if isinstance(solution, str) and (kind := _token_kind(solution)):
                found.add(kind)
    return found.pop() if len(found) == 1 else None


def point_kind(instance_kind: str, evidence: str | None) -> BackupKind:
    """A recovery point's kind from its instance's kind and its own evidence.

    1. A point of an instance without the v2 marker is v1 (the doc's fallback heuristic).
    2. Otherwise the point's own evidence decides (see :func:`recovery_point_evidence`).
    3. Otherwise "unknown": after a migration one instance holds both kinds (doc §1.8), and
       no documented field tells them apart.
    """
    if instance_kind == "v1":
        return "v1"
    if evidence == "v2":
        return "v2"
    if evidence == "v1":
        return "v1"
    return "unknown"


def recovery_point_kind(instance_kind: str, point: Mapping[str, object] | None) -> BackupKind:
    """:func:`point_kind` straight from a recovery point's REST JSON."""
    return point_kind(instance_kind, recovery_point_evidence(point))


_WORDS: dict[str, str] = {
    "v1": "v1 (logical)",
    "v2": "v2 (physical)",
    "unknown": "unknown",
}

_EXPLAIN: dict[str, str] = {
    "v1": "Vaulted backup v1: pg_dump of each database; restores as files.",
    "v2": "Vaulted backup v2 (preview): physical disk snapshots; restores as a server.",
    "unknown": (
        "Azure does not document how a recovery point says whether it is v1 or v2 "
        "(doc §1.3, UNCONFIRMED). Points taken before the move to v2 are v1 and restore as "
        "files; later ones are v2 and restore as a server."
    ),
}


def kind_words(kind: str) -> str:
    """The kind as a short label: "v1 (logical)", "v2 (physical)" or "unknown"."""
    return _WORDS.get(kind, "unknown")


def kind_explanation(kind: str) -> str:
    """One sentence for a tooltip or the details pane."""
    return _EXPLAIN.get(kind, _EXPLAIN["unknown"])
