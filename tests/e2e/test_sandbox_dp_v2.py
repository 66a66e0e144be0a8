"""The sandbox's vaulted backup v2 routes (#16.2-#16.4 sandbox half): api-version 2026-07-01,
the PhysicalBackup marker, physical recovery points and restore as server onto an EMPTY
existing server, with an Azure-style error for each broken target rule."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.rest import HttpRequest
from azure.mgmt.dataprotection import DataProtectionMgmtClient

from pgflex_gui.sandbox.arm import roles
from pgflex_gui.sandbox.arm.routes_dp_v2 import add_daily_points
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import Sandbox
from tests.sandbox_fixtures import client_factory, reachable_by_server_user, sandbox_credential

V2 = "2026-07-01"
S = IDS.SUB
RG = "rg-v2"
PGT = "Microsoft.DBforPostgreSQL/flexibleServers"
MARKER = {
    "backupDatasourceParametersList": [
        {
            "objectType": "PostgreSqlFlexibleServerBackupDatasourceParameters",
            "backupSolutionType": "PhysicalBackup",
        }
    ]
}


class World:
    def __init__(self, box: Sandbox) -> None:
        self.box = box
        w = box.world
        w.add_resource_group(S, RG, "westeurope")
        self.source = w.add_server(
            S, RG, "pg-v2-src", location="westeurope", version="15", real=True
        )
        self.target = w.add_server(
            S, RG, "pg-v2-tgt", location="westeurope", version="15", real=True
        )
        self.burstable = w.add_server(
            S, RG, "pg-v2-burst", location="westeurope", version="15", sku="Standard_B1ms"
        )
        self.old = w.add_server(S, RG, "pg-v2-old", location="westeurope", version="14")
        self.full = w.add_server(
            S, RG, "pg-v2-full", location="westeurope", version="15", databases=["mine"]
        )
        self.v16 = w.add_server(S, RG, "pg-v2-v16", location="westeurope", version="16")
        self.vault = w.add_vault(S, RG, "bv-v2", location="westeurope")
        principal = w.vault_principal(self.vault)
        w.add_role_assignment(self.source, principal, roles.LTR_BACKUP)
        w.add_role_assignment(f"/subscriptions/{S}/resourceGroups/{RG}", principal, roles.READER)
        self.principal = principal
        box.dataplane.psql(  # type: ignore[attr-defined]
            w.server_key(self.source),
            "CREATE DATABASE v2data; ",
        )
        box.dataplane.psql(  # type: ignore[attr-defined]
            w.server_key(self.source),
            "CREATE TABLE t AS SELECT g AS n FROM generate_series(1, 1234) g;",
            db="v2data",
        )


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = Sandbox.start(
        reachable_by_server_user(Path(tmp_path_factory.mktemp("v2"))),
        seed="empty",
        page_size=5,
        retry_after=0,
        ephemeral=True,
    )
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def world(box: Sandbox) -> World:
    return World(box)


@pytest.fixture(scope="module")
def raw(box: Sandbox) -> Any:
    client = client_factory(box, sandbox_credential(box))(DataProtectionMgmtClient)

    def call(method: str, path: str, body: Any = None, *, api: str = V2) -> Any:
        url = path if "?" in path else f"{path}?api-version={api}"
        # The SDK's own authenticated pipeline (client.send_request formats the endpoint).
        return client.send_request(HttpRequest(method, url, json=body))

    return call


def finish(raw: Any, response: Any) -> dict[str, Any]:
    """Poll Azure-AsyncOperation to the end; the final status body."""
    assert response.status_code in (201, 202), response.text()
    url = response.headers["Azure-AsyncOperation"]
    for _ in range(600):
        status = raw("GET", url)
        body: dict[str, Any] = status.json()
        if body["status"].lower() != "inprogress":  # recorded: "Inprogress"
            return body
        time.sleep(0.1)
    raise AssertionError("operation did not finish")


def policy_body(period: str = "P1D") -> dict[str, Any]:
    store = {"objectType": "DataStoreInfoBase", "dataStoreType": "VaultStore"}
    return {
        "properties": {
            "objectType": "BackupPolicy",
            "datasourceTypes": [PGT],
            "policyRules": [
                {
                    "objectType": "AzureBackupRule",
                    "name": "BackupDaily",
                    "backupParameters": {"objectType": "AzureBackupParams", "backupType": "Full"},
                    "dataStore": store,
                    "trigger": {
                        "objectType": "ScheduleBasedTriggerContext",
                        "schedule": {
                            "repeatingTimeIntervals": [f"R/2026-10-01T02:00:00+00:00/{period}"],
                            "timeZone": "UTC",
                        },
                        "taggingCriteria": [
                            {
                                "isDefault": True,
                                "taggingPriority": 99,
                                "tagInfo": {"tagName": "Default"},
                            }
                        ],
                    },
                },
                {
                    "objectType": "AzureRetentionRule",
                    "name": "Default",
                    "isDefault": True,
                    "lifecycles": [
                        {
                            "sourceDataStore": store,
                            "deleteAfter": {
                                "objectType": "AbsoluteDeleteOption",
                                "duration": "P3M",
                            },
                            "targetDataStoreCopySettings": [],
                        }
                    ],
                },
            ],
        }
    }


def bi_props(server_id: str, policy_id: str, *, v2: bool = True) -> dict[str, Any]:
    name = server_id.rsplit("/", 1)[-1]
    ds = {
        "resourceID": server_id,
        "resourceName": name,
        "resourceType": PGT,
        "datasourceType": PGT,
        "resourceLocation": "westeurope",
        "resourceUri": server_id,
    }
    info: dict[str, Any] = {"policyId": policy_id}
    if v2:
        info["policyParameters"] = MARKER
    return {
        "objectType": "BackupInstance",
        "friendlyName": name,
        "dataSourceInfo": {"objectType": "Datasource", **ds},
        "policyInfo": info,
    }


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
