"""The sandbox's vaulted backup v2 routes (#16.2-#16.4 sandbox half): api-version 2026-07-01,
the PhysicalBackup marker, physical recovery points and restore as server onto an EMPTY
existing server, with an Azure-style error for each broken target rule."""

from __future__ import annotations

from typing import Any

import pytest

from pgflex_gui.sandbox.arm import roles
from pgflex_gui.sandbox.arm.routes_dp_v2 import add_daily_points
from pgflex_gui.sandbox.runtime import Sandbox
from tests.e2e.v2_world import MARKER, PGT, V2, World, bi_props, finish, policy_body


def restore_body(rp: str, source: str, target: str) -> dict[str, Any]:
    name = target.rsplit("/", 1)[-1]
    return {
        "objectType": "AzureBackupRecoveryPointBasedRestoreRequest",
        "recoveryPointId": rp,
        "sourceDataStoreType": "VaultStore",
        "sourceResourceId": source,
        "restoreTargetInfo": {
            "objectType": "RestoreTargetInfo",
            "recoveryOption": "FailIfExists",
            "restoreLocation": "westeurope",
            "datasourceInfo": {
                "objectType": "Datasource",
                "resourceID": target,
                "resourceName": name,
                "resourceType": PGT,
                "datasourceType": PGT,
                "resourceLocation": "westeurope",
                "resourceUri": target,
            },
        },
        "identityDetails": {"useSystemAssignedIdentity": True},
    }


def test_daily_policy_only_at_2026_07_01(world: World, raw: Any) -> None:
    path = f"{world.vault}/backupPolicies/daily"
    old = raw("PUT", path, policy_body(), api="2026-06-01")
    assert old.status_code == 400
    assert old.json()["error"]["code"] == "UserErrorUnsupportedBackupFrequency"
    new = raw("PUT", path, policy_body())
    assert new.status_code == 200, new.text()
    assert new.json()["properties"]["policyRules"][0]["trigger"]["schedule"][
        "repeatingTimeIntervals"
    ][0].endswith("/P1D")


@pytest.mark.parametrize(
    ("attr", "code"),
    [
        ("burstable", "UserErrorBurstableTierNotSupported"),
        ("old", "UserErrorPostgreSqlVersionNotSupported"),
    ],
)
def test_v2_eligibility_errors(world: World, raw: Any, attr: str, code: str) -> None:
    raw("PUT", f"{world.vault}/backupPolicies/daily", policy_body())
    body = {"backupInstance": bi_props(getattr(world, attr), f"{world.vault}/backupPolicies/daily")}
    answer = raw("POST", f"{world.vault}/validateForBackup", body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]


def test_v1_instance_with_a_daily_policy_is_refused(world: World, raw: Any) -> None:
    raw("PUT", f"{world.vault}/backupPolicies/daily", policy_body())
    body = {"backupInstance": bi_props(world.v16, f"{world.vault}/backupPolicies/daily", v2=False)}
    answer = raw("POST", f"{world.vault}/validateForBackup", body)
    assert answer.json()["error"]["code"] == "UserErrorUnsupportedBackupFrequency"


def test_protect_back_up_and_restore_as_server(world: World, raw: Any, box: Sandbox) -> None:
    policy = f"{world.vault}/backupPolicies/daily"
    assert raw("PUT", policy, policy_body()).status_code == 200
    props = bi_props(world.source, policy)
    assert (
        finish(raw, raw("POST", f"{world.vault}/validateForBackup", {"backupInstance": props}))[
            "status"
        ]
        == "Succeeded"
    )
    bi = f"{world.vault}/backupInstances/pg-v2-src-bi"
    assert finish(raw, raw("PUT", bi, {"properties": props}))["status"] == "Succeeded"
    got = raw("GET", bi).json()
    assert got["properties"]["policyInfo"]["policyParameters"] == MARKER
    # An older api-version still shows it in the sandbox (UNCONFIRMED for Azure, doc 1.9.7).
    assert raw("GET", bi, api="2026-06-01").json()["properties"]["policyInfo"]["policyParameters"]
    started = finish(
        raw,
        raw(
            "POST",
            f"{bi}/backup",
            {"backupRuleOptions": {"ruleName": "BackupDaily", "triggerOption": {}}},
            api="2026-06-01",
        ),
    )
    job_id = started["properties"]["jobId"]
    box.wait_idle(120)
    job = raw("GET", job_id).json()
    assert job["properties"]["status"] == "Completed", job
    points = raw("GET", f"{bi}/recoveryPoints").json()["value"]
    assert len(points) == 1
    rp = points[0]["name"]
    add_daily_points(box.service, bi, 3)
    assert len(raw("GET", f"{bi}/recoveryPoints").json()["value"]) == 4

    def validate(target: str) -> dict[str, Any]:
        body = {
            "objectType": "ValidateRestoreRequestObject",
            "restoreRequestObject": restore_body(rp, world.source, target),
        }
        return finish(raw, raw("POST", f"{bi}/validateRestore", body))

    # The target's role is missing first, then every other rule is met.
    failed = validate(world.target)
    assert failed["error"]["code"] == "UserErrorMissingRequiredPermissions"
    box.world.add_role_assignment(world.target, world.principal, roles.LTR_BACKUP)
    for srv, code in (
        (world.burstable, "UserErrorRestoreTargetServerTierNotSupported"),
        (world.v16, "UserErrorRestoreTargetServerVersionMismatch"),
        (f"{world.target}x", "UserErrorRestoreTargetServerNotFound"),
    ):
        assert validate(srv)["error"]["code"] == code
    box.world.add_role_assignment(world.full, world.principal, roles.LTR_BACKUP)
    assert validate(world.full)["error"]["code"] == "UserErrorRestoreTargetServerNotEmpty"
    assert validate(world.target)["status"] == "Succeeded"
    # A v1 body at the v1 api-version is still answered by the v1 routes.
    v1 = raw(
        "POST", f"{bi}/restore", restore_body(rp, world.source, world.target), api="2026-06-01"
    )
    assert finish(raw, v1)["status"] == "Failed"
    done = finish(raw, raw("POST", f"{bi}/restore", restore_body(rp, world.source, world.target)))
    assert done["status"] == "Succeeded", done
    box.wait_idle(300)
    job = raw("GET", done["properties"]["jobId"]).json()
    assert job["properties"]["status"] == "Completed", job
    assert job["properties"]["extendedInfo"]["recoveryDestination"] == world.target
    dp = box.dataplane
    key = box.world.server_key(world.target)
    assert dp.psql(key, "SELECT count(*) FROM t;", db="v2data").strip() == "1234"  # type: ignore[attr-defined]
    # The target is no longer empty: a second restore is refused.
    assert validate(world.target)["error"]["code"] == "UserErrorRestoreTargetServerNotEmpty"


def test_a_v2_point_is_refused_as_files_at_any_api_version(
    world: World, raw: Any, box: Sandbox
) -> None:
    policy = f"{world.vault}/backupPolicies/daily"
    assert raw("PUT", policy, policy_body()).status_code == 200
    box.world.add_role_assignment(world.v16, world.principal, roles.LTR_BACKUP)
    bi = f"{world.vault}/backupInstances/pg-v2-v16-bi"
    done = finish(raw, raw("PUT", bi, {"properties": bi_props(world.v16, policy)}))
    assert done["status"] == "Succeeded", done
    add_daily_points(box.service, bi, 1)
    rp = raw("GET", f"{bi}/recoveryPoints").json()["value"][0]["name"]
    files = {
        "objectType": "AzureBackupRecoveryPointBasedRestoreRequest",
        "recoveryPointId": rp,
        "sourceDataStoreType": "VaultStore",
        "restoreTargetInfo": {
            "objectType": "RestoreFilesTargetInfo",
            "recoveryOption": "FailIfExists",
            "restoreLocation": "westeurope",
            "targetDetails": {
                "objectType": "TargetDetails",
                "filePrefix": "x",
                "restoreTargetLocationType": "AzureBlobs",
                "url": "https://st.blob.core.windows.net/restores",
            },
        },
    }
    for api in (V2, "2026-06-01"):
        for path, body in (
            (f"{bi}/restore", files),
            (
                f"{bi}/validateRestore",
                {"objectType": "ValidateRestoreRequestObject", "restoreRequestObject": files},
            ),
        ):
            answer = raw("POST", path, body, api=api)
            assert answer.status_code == 400, (path, api, answer.text())
            assert answer.json()["error"]["code"] == "UserErrorRestoreTargetNotSupported"
