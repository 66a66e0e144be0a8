"""The vaulted backup v2 sandbox world shared by the v2 e2e modules: servers that break each
v2 rule, a vault, raw calls at api-version 2026-07-01 through the SDK's pipeline, and the
fixtures (module-scoped: each module gets its own sandbox)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.rest import HttpRequest
from azure.mgmt.dataprotection import DataProtectionMgmtClient

from pgflex_gui.sandbox.arm import roles
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


@pytest.fixture(scope="module")
def point(world: World, raw: Any, box: Sandbox) -> tuple[str, str]:
    """A protected v2 instance of the source and its one physical recovery point."""
    policy = f"{world.vault}/backupPolicies/daily"
    assert raw("PUT", policy, policy_body()).status_code == 200
    bi = f"{world.vault}/backupInstances/pg-v2-src-bi"
    assert (
        finish(raw, raw("PUT", bi, {"properties": bi_props(world.source, policy)}))["status"]
        == "Succeeded"
    )
    rule = {"backupRuleOptions": {"ruleName": "BackupDaily", "triggerOption": {}}}
    finish(raw, raw("POST", f"{bi}/backup", rule, api="2026-06-01"))
    box.wait_idle(120)
    points = raw("GET", f"{bi}/recoveryPoints").json()["value"]
    assert len(points) == 1
    return bi, str(points[0]["name"])
