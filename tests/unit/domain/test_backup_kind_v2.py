"""The v2 half of backup_kind: whole instance payloads, recovery points, and the converters."""

from __future__ import annotations

import json

import pytest

from pgflex_gui.azure import convert
from pgflex_gui.domain.backup_kind import (
    instance_kind_of,
    kind_words,
    point_kind,
    recovery_point_evidence,
    recovery_point_kind,
)

PG = "PostgreSqlFlexibleServerBackupDatasourceParameters"
BI_ID = (
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v"
    "/backupInstances/bi"
)


def _bi(params: object) -> dict[str, object]:
    policy: dict[str, object] = {"policyId": f"{BI_ID}/../backupPolicies/p"}
    if params is not ...:
        policy["policyParameters"] = {"backupDatasourceParametersList": params}
    return {"id": BI_ID, "properties": {"objectType": "BackupInstance", "policyInfo": policy}}


def _rp(*, rp_type: str = "Full", meta: object = None) -> dict[str, object]:
    return {
        "id": f"{BI_ID}/recoveryPoints/1",
        "properties": {
            "objectType": "AzureBackupDiscreteRecoveryPoint",
            "recoveryPointId": "1",
            "recoveryPointTime": "2026-12-01T02:00:00Z",
            "recoveryPointType": rp_type,
            "recoveryPointDataStoresDetails": [{"type": "VaultStore", "metaData": meta}],
        },
    }


@pytest.mark.parametrize(
    ("params", "kind"),
    [
        (..., "v1"),  # no policyParameters at all: a v1 instance made before the property
        (None, "v1"),
        ([{"objectType": PG, "backupSolutionType": "PhysicalBackup"}], "v2"),
        ([{"objectType": PG.upper(), "backupSolutionType": "PHYSICALBACKUP"}], "v2"),
        ([{"objectType": PG, "backupSolutionType": "LogicalBackup"}], "v1"),
        ([{"objectType": PG, "backupSolutionType": "Other"}], "unknown"),
        ("not a list", "unknown"),
    ],
)
def test_instance_kind_of_reads_the_documented_path(params: object, kind: str) -> None:
    assert instance_kind_of(_bi(params)) == kind
    assert instance_kind_of(_bi(params)["properties"]) == kind  # type: ignore[arg-type]


def test_instance_kind_of_a_non_mapping_is_unknown() -> None:
    assert instance_kind_of(None) == "unknown"


def test_points_of_a_v1_instance_are_v1_whatever_they_say() -> None:
    assert recovery_point_kind("v1", _rp(meta='{"backupSolutionType": "PhysicalBackup"}')) == "v1"


@pytest.mark.parametrize(
    ("point", "evidence"),
    [
        (_rp(), None),  # what real v1 points look like: metaData null, type Full
        (_rp(meta='{"backupSolutionType": "PhysicalBackup"}'), "v2"),
        (_rp(meta={"backupSolutionType": "logicalbackup"}), "v1"),
        (_rp(rp_type="PhysicalBackup"), "v2"),
        (_rp(rp_type="PhysicalBackup", meta="LogicalBackup"), None),  # contradictory: no verdict
        (_rp(meta="PhysicalBackup and LogicalBackup"), None),
    ],
)
def test_recovery_point_evidence(point: dict[str, object], evidence: str | None) -> None:
    assert recovery_point_evidence(point) == evidence


def test_points_of_a_v2_instance_without_evidence_are_unknown() -> None:
    assert recovery_point_kind("v2", _rp()) == "unknown"
    assert recovery_point_kind("unknown", _rp()) == "unknown"
    assert (
        recovery_point_kind("v2", _rp(meta=json.dumps({"backupSolutionType": "PhysicalBackup"})))
        == "v2"
    )
    assert point_kind("v2", "v1") == "v1"
    assert point_kind("v2", "") == "unknown"


def test_kind_words() -> None:
    assert kind_words("v2") == "v2 (physical)"
    assert kind_words("v1") == "v1 (logical)"
    assert kind_words("anything") == "unknown"


def test_converters_carry_the_kind() -> None:
    bi = convert.backup_instance(_bi([{"objectType": PG, "backupSolutionType": "PhysicalBackup"}]))
    assert bi.backup_kind == "v2"
    assert convert.backup_instance(_bi(...)).backup_kind == "v1"
    point = convert.recovery_point(_rp(meta='{"backupSolutionType":"PhysicalBackup"}'))
    assert point.kind_evidence == "v2"
    assert point_kind(bi.backup_kind, point.kind_evidence) == "v2"
    assert convert.recovery_point(_rp()).kind_evidence == ""


def test_flex_server_storage_type_and_replication_role() -> None:
    server = convert.flex_server(
        {
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/"
            "flexibleServers/pg",
            "location": "westeurope",
            "properties": {
                "version": "16",
                "storage": {"storageSizeGB": 128, "type": "PremiumV2_LRS"},
                "replicationRole": "GeoAsyncReplica",
            },
        }
    )
    assert (server.storage_type, server.replication_role) == ("PremiumV2_LRS", "GeoAsyncReplica")
