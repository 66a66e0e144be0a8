"""Sandbox responses carry every field of the official REST example, with the same JSON types.

Each ``tests/data/rest_examples/<operation>.json`` holds a skeleton of the response body of an
example in Azure/azure-rest-api-specs (``_source`` names path and commit). The sandbox answer
for the same operation is fetched as raw JSON over HTTPS and compared field path by field path.
``_ignore`` lists paths (and everything below them) that do not apply to PG flex, with a reason.

Rules: a ``null`` in the example matches anything; ``tags`` objects are user data, so only
their type is compared; numbers match numbers (int or float); an
array element of the example is checked against every element of the sandbox array (matched
by ``objectType`` when the element has one); an array that is non-empty in the example must be
non-empty in the sandbox at least once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import NullDataPlane, Sandbox

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "rest_examples"
V = IDS.vault_id
GRS = V(IDS.VAULT_GRS)
LRS = V(IDS.VAULT_LRS)
BI = f"{GRS}/backupInstances/{IDS.SOURCE}-bi"
STORAGE = (
    f"/subscriptions/{IDS.SUB}/resourceGroups/{IDS.RG_STORAGE}/providers/"
    f"Microsoft.Storage/storageAccounts/{IDS.STORAGE}"
)


class Arm:
    """Raw JSON access to the sandbox with a bearer token."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {box.token(IDS.TENANT)}"

    def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        url = path if path.startswith("https://") else self.box.arm_endpoint + path
        params = None if "api-version=" in url else {"api-version": "2025-09-01"}
        resp = self.session.request(
            method, url, params=params, json=body, timeout=30, verify=self.box.info.ca_bundle
        )
        assert resp.status_code in ok, (method, path, resp.status_code, resp.text)
        return resp

    def get(self, path: str) -> Any:
        return self.call("GET", path).json()

    def wait(self, resp: requests.Response) -> Any:
        """Poll an LRO's Azure-AsyncOperation until it ends; return the final status JSON."""
        url = resp.headers["Azure-AsyncOperation"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = self.get(url)
            if status["status"].lower() != "inprogress":  # recorded: "Inprogress"
                assert status["status"] == "Succeeded", status
                return status
            time.sleep(0.05)
        raise AssertionError(f"operation {url} did not finish")


@pytest.fixture(scope="module")
def arm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arm]:
    box = Sandbox.start(
        tmp_path_factory.mktemp("conformance"),
        seed="minimal",
        dataplane=NullDataPlane(),
        retry_after=0,
    )
    yield Arm(box)
    box.stop()


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), "other")


class Comparer:
    """Walks an example skeleton against an actual body and collects the differences."""

    def __init__(self, ignore: list[str]) -> None:
        self.ignore = ignore
        self.problems: list[str] = []
        self.empty: set[str] = set()
        self.filled: set[str] = set()

    def ignored(self, path: str) -> bool:
        return any(path == p or path.startswith((p + ".", p + "[")) for p in self.ignore)

    def check(self, example: Any, actual: Any, path: str) -> None:
        if example is None or self.ignored(path):
            return
        if _kind(example) != _kind(actual):
            self.problems.append(f"{path}: expected {_kind(example)}, got {_kind(actual)}")
            return
        if isinstance(example, dict) and not path.endswith("tags"):
            for key, sub in example.items():
                child = f"{path}.{key}" if path else key
                if self.ignored(child):
                    continue
                if key not in actual:
                    self.problems.append(f"{child}: missing")
                else:
                    self.check(sub, actual[key], child)
        elif isinstance(example, list) and example:
            child = f"{path}[]"
            if self.ignored(child):
                return
            for element in example:
                candidates = actual
                if isinstance(element, dict) and "objectType" in element:
                    candidates = [
                        a
                        for a in actual
                        if isinstance(a, dict) and a.get("objectType") == element["objectType"]
                    ]
                (self.filled if candidates else self.empty).add(child)
                for candidate in candidates:
                    self.check(element, candidate, child)

    def finish(self) -> list[str]:
        unique = list(dict.fromkeys(self.problems))
        return unique + [f"{p}: always empty" for p in sorted(self.empty - self.filled)]


def _conform(name: str, *bodies: Any) -> None:
    doc = json.loads((EXAMPLES / f"{name}.json").read_text())
    assert doc["_source"]["repo"] == "Azure/azure-rest-api-specs"
    assert len(doc["_source"]["commit"]) == 40
    comparer = Comparer([i["path"] for i in doc.get("_ignore", [])])
    for body in bodies:
        comparer.check(doc["body"], body, "")
    problems = comparer.finish()
    assert not problems, f"{name} vs {doc['_source']['path']}:\n" + "\n".join(problems)


def test_every_example_has_a_test() -> None:
    names = {p.stem for p in EXAMPLES.glob("*.json")}
    tested = {n.removeprefix("test_") for n in globals() if n.startswith("test_")}
    assert names <= tested


def test_flexible_servers_get(arm: Arm) -> None:
    _conform("flexible_servers_get", arm.get(IDS.server_id(IDS.SOURCE)))


def test_flexible_servers_list_by_subscription(arm: Arm) -> None:
    body = arm.get(f"/subscriptions/{IDS.SUB}/providers/Microsoft.DBforPostgreSQL/flexibleServers")
    assert len(body["value"]) >= 3
    _conform("flexible_servers_list_by_subscription", body)


def test_backup_vaults_get(arm: Arm) -> None:
    _conform("backup_vaults_get", arm.get(LRS), arm.get(GRS))


def test_backup_policies_get(arm: Arm) -> None:
    _conform("backup_policies_get", arm.get(f"{GRS}/backupPolicies/{IDS.POLICY}"))


def test_backup_instances_get(arm: Arm) -> None:
    _conform("backup_instances_get", arm.get(BI))


def test_recovery_points_get(arm: Arm) -> None:
    first = arm.get(f"{BI}/recoveryPoints")["value"][0]
    _conform("recovery_points_get", arm.get(f"{BI}/recoveryPoints/{first['name']}"))


def test_recovery_points_list(arm: Arm) -> None:
    _conform("recovery_points_list", arm.get(f"{BI}/recoveryPoints"))


def _adhoc_backup(arm: Arm) -> tuple[Any, str]:
    resp = arm.call(
        "POST",
        f"{BI}/backup",
        {"backupRuleOptions": {"ruleName": "BackupWeekly", "triggerOption": {}}},
        ok=(202,),
    )
    status = arm.wait(resp)
    return resp, status["properties"]["jobId"]


def test_jobs_get(arm: Arm) -> None:
    _, job_id = _adhoc_backup(arm)
    arm.box.wait_idle()
    _conform("jobs_get", arm.get(job_id))


def test_operation_status_vault_context(arm: Arm) -> None:
    resp, _ = _adhoc_backup(arm)
    url = resp.headers["Azure-AsyncOperation"]
    assert "/backupVaults/" in url
    assert "/operationStatus/" in url
    _conform("operation_status_vault_context", arm.get(url))
    arm.box.wait_idle()


def test_fetch_cross_region_restore_job(arm: Arm) -> None:
    rp = arm.get(f"{BI}/recoveryPoints")["value"][0]["name"]
    account = arm.get(STORAGE.replace(IDS.STORAGE, IDS.STORAGE_PAIRED))
    url = account["properties"]["primaryEndpoints"]["blob"].rstrip("/") + f"/{IDS.CONTAINER}"
    restore = {
        "objectType": "AzureBackupRecoveryPointBasedRestoreRequest",
        "recoveryPointId": rp,
        "sourceDataStoreType": "VaultStore",
        "restoreTargetInfo": {
            "objectType": "RestoreFilesTargetInfo",
            "recoveryOption": "FailIfExists",
            "restoreLocation": "northeurope",
            "targetDetails": {
                "url": url,
                "filePrefix": "dummyprefix",
                "restoreTargetLocationType": "AzureBlobs",
            },
        },
    }
    loc = f"/subscriptions/{IDS.SUB}/resourceGroups/{IDS.RG_BACKUP}/providers/Microsoft.DataProtection/locations/northeurope"
    details = {"sourceBackupInstanceId": BI, "sourceRegion": "westeurope"}
    resp = arm.call(
        "POST",
        f"{loc}/crossRegionRestore",
        {"restoreRequestObject": restore, "crossRegionRestoreDetails": details},
        ok=(202,),
    )
    job_id = arm.wait(resp)["properties"]["jobId"]
    arm.box.wait_idle()
    body = arm.call(
        "POST",
        f"{loc}/fetchCrossRegionRestoreJob",
        {
            "sourceRegion": "westeurope",
            "sourceBackupVaultId": GRS,
            "jobId": job_id.rsplit("/", 1)[-1],
        },
    ).json()
    _conform("fetch_cross_region_restore_job", body)


def test_deleted_backup_instances_get(arm: Arm) -> None:
    bi = f"{LRS}/backupInstances/pg-orders-weu-bi"
    arm.wait(arm.call("DELETE", bi, ok=(202,)))
    _conform(
        "deleted_backup_instances_get", arm.get(f"{LRS}/deletedBackupInstances/pg-orders-weu-bi")
    )


def test_storage_accounts_get_properties(arm: Arm) -> None:
    _conform("storage_accounts_get_properties", arm.get(STORAGE))


def test_storage_accounts_list_keys(arm: Arm) -> None:
    _conform("storage_accounts_list_keys", arm.call("POST", f"{STORAGE}/listKeys").json())


def test_blob_containers_get(arm: Arm) -> None:
    _conform(
        "blob_containers_get",
        arm.get(f"{STORAGE}/blobServices/default/containers/{IDS.CONTAINER}"),
    )


def _assignments(arm: Arm) -> Any:
    return arm.get(f"/subscriptions/{IDS.SUB}/providers/Microsoft.Authorization/roleAssignments")


def test_role_assignments_get(arm: Arm) -> None:
    first = _assignments(arm)["value"][0]
    _conform("role_assignments_get", arm.get(first["id"]))


def test_role_assignments_list_for_scope(arm: Arm) -> None:
    _conform("role_assignments_list_for_scope", _assignments(arm))


def test_subscriptions_get(arm: Arm) -> None:
    listed = arm.get("/subscriptions?api-version=2022-12-01")["value"]
    assert listed
    _conform("subscriptions_get", arm.get(f"/subscriptions/{IDS.SUB}"), *listed)


def test_locations_list(arm: Arm) -> None:
    _conform(
        "locations_list", arm.get(f"/subscriptions/{IDS.SUB}/locations?api-version=2022-12-01")
    )


def test_tenants_list(arm: Arm) -> None:
    _conform("tenants_list", arm.get("/tenants?api-version=2022-12-01"))
