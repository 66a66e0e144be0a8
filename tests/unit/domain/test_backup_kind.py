"""backup_kind_of: the documented v2 marker, v1 when absent, unknown otherwise."""

from __future__ import annotations

import pytest

from pgflex_gui.domain.backup_kind import backup_kind_of, backup_kind_of_solution

PG = "PostgreSqlFlexibleServerBackupDatasourceParameters"


@pytest.mark.parametrize(
    ("params", "kind"),
    [
        (None, "v1"),
        ([], "v1"),
        ([{"objectType": PG, "backupSolutionType": "PhysicalBackup"}], "v2"),
        ([{"objectType": PG.lower(), "backupSolutionType": "physicalbackup"}], "v2"),
        ([{"objectType": PG, "backupSolutionType": "LogicalBackup"}], "v1"),
        ([{"objectType": PG, "backupSolutionType": "SnapshotBackup"}], "unknown"),
        ([{"objectType": PG}], "unknown"),
        ([{"objectType": "BlobBackupDatasourceParameters", "containersList": []}], "unknown"),
        (
            [
                {"objectType": "BlobBackupDatasourceParameters"},
                {"objectType": PG, "backupSolutionType": "PhysicalBackup"},
            ],
            "v2",
        ),
        (["not a dict"], "unknown"),
    ],
)
def test_backup_kind_of(params: list[object] | None, kind: str) -> None:
    assert backup_kind_of(params) == kind


def test_backup_kind_of_solution() -> None:
    assert backup_kind_of_solution(None) == "v1"
    assert backup_kind_of_solution("") == "v1"
    assert backup_kind_of_solution("PhysicalBackup") == "v2"
    assert backup_kind_of_solution("LOGICALBACKUP") == "v1"
    assert backup_kind_of_solution("Other") == "unknown"
