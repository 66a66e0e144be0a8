"""Replay of real recorded Azure traffic through the app's own Azure layer.

``tests/data/recordings/`` holds trimmed excerpts of public recordings of real Azure sessions
(source repository, path and commit in each file and in its README). A loopback HTTPS server
(a throwaway trustme CA, as the sandbox makes its own) answers the app's SDK calls with the
recorded responses, matched on method + path, case-insensitively: the recorded api-versions
(2023-11-01) differ from the SDK's (2026-06-01), so the query string is ignored. Checked:

* every recorded response the app reads parses into its domain values;
* the request bodies the app sends equal the recorded ones field by field, except the fields
  in ``INTENDED_DIFFERENCES``, each with its reason;
* the sandbox answers the same operation with the recorded shape (LRO status code, the
  Azure-AsyncOperation and Location URLs, the operation status fields).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.convert import parse_datetime
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.protection import ProtectionService, backup_instance_body
from pgflex_gui.azure.restore import RestoreService
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import FlexServer
from pgflex_gui.domain.restore_plan import build_restore_request
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import Sandbox
from tests.adapters.recording_server import (
    Replay,
    diff,
    load_recording,
    path_of,
    replay_client_factory,
    serve_replay,
)

# Fields of the app's validate-for-backup body that differ from the CLI's on purpose.
INTENDED_DIFFERENCES = {
    "backupInstance.dataSourceSetInfo": (
        "the app sends a DatasourceSet copy of dataSourceInfo, as the REST documentation and "
        "PowerShell (enableDataSourceSetInfo: true) do; the CLI leaves it out"
    ),
    "backupInstance.identityDetails": (
        "the app names the vault's system-assigned identity explicitly "
        "(useSystemAssignedIdentity: true); the CLI relies on the default"
    ),
}

_load = load_recording
_path = path_of
_diff = diff


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    with serve_replay(Path(tmp_path_factory.mktemp("replay"))) as state:
        yield state


@pytest.fixture
def replay_factory(replay: Replay) -> Iterator[ClientFactory]:
    replay.reset()
    factory = replay_client_factory(replay)
    yield factory
    factory.close()


def test_diff_finds_a_changed_field() -> None:
    """The comparison used below can fail: a changed value and a missing key are reported."""
    assert _diff({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}) == ["a.c"]
    assert _diff({"a": 1}, {"a": 1, "b": None}) == ["b"]


def _dp() -> dict[str, Any]:
    return _load("dataprotection_pgflex.json")


def _recorded_server(body: dict[str, Any]) -> FlexServer:
    info = body["backupInstance"]["dataSourceInfo"]
    return FlexServer(
        id=ResourceId.parse(info["resourceID"]),
        location=info["resourceLocation"],
        version="16",
        state="Ready",
    )


def test_validate_for_backup_body_matches_the_recording(
    replay: Replay, replay_factory: ClientFactory
) -> None:
    interactions = _dp()["interactions"]
    replay.load(interactions)
    recorded = interactions[0]["request_body"]
    vault_id = ResourceId.parse(_path(interactions[0]["uri"]).rsplit("/", 1)[0])
    policy_id = recorded["backupInstance"]["policyInfo"]["policyId"]
    body = backup_instance_body(_recorded_server(recorded), policy_id)

    ProtectionService(replay_factory).begin_validate_for_backup(vault_id, body).result(timeout=30)

    posts = [r for r in replay.requests if r[0] == "POST"]
    assert len(posts) == 1
    assert posts[0][1].lower() == _path(interactions[0]["uri"])
    differences = _diff(posts[0][2], recorded)
    # ARM ids compare case-insensitively; the app keeps the recorded spelling anyway.
    assert sorted(differences) == sorted(INTENDED_DIFFERENCES), differences
    # The poller followed the recorded Azure-AsyncOperation and Location URLs.
    gets = [r[1].lower() for r in replay.requests if r[0] == "GET"]
    assert _path(interactions[1]["uri"]) in gets
    assert _path(interactions[3]["uri"]) in gets


def test_recorded_backup_job_parses_into_a_domain_job(
    replay: Replay, replay_factory: ClientFactory
) -> None:
    interactions = _dp()["interactions"]
    replay.load(interactions)
    rec = next(i for i in interactions if i["name"] == "job-show")
    job = RestoreService(replay_factory).get_job(rec["body"]["id"])
    props = rec["body"]["properties"]
    assert job.job_id == "984f46df-cf32-4880-a934-5a4dbad70eab"
    assert job.operation == "Backup"
    assert job.status == props["status"] == "InProgress"
    assert job.in_progress
    assert job.start is not None
    assert job.start.isoformat().startswith("2024-04-10T10:19:22")
    assert job.end is None
    assert job.duration == "PT0S"
    assert job.datasource_name == "clitest-pgflex-server"
    assert job.backup_instance_id.lower() == props["backupInstanceId"].lower()
    assert job.policy_name == "pgflexpolicy"
    assert [(t.name, t.status) for t in job.subtasks] == [("Trigger Backup", "InProgress")]
    assert job.error_codes == ()


def test_job_listing_path_is_the_recorded_one(
    replay: Replay, replay_factory: ClientFactory
) -> None:
    """The app's job read and the recording address the same resource (method + path)."""
    interactions = _dp()["interactions"]
    replay.load(interactions)
    rec = next(i for i in interactions if i["name"] == "job-show")
    RestoreService(replay_factory).get_job(rec["body"]["id"])
    assert (replay.requests[-1][0], replay.requests[-1][1].lower()) == ("GET", _path(rec["uri"]))


# -- the sandbox against the recorded shape ------------------------------------------------


@pytest.mark.sandbox
def test_sandbox_validate_for_backup_answers_in_the_recorded_shape(
    box: Sandbox, factory: ClientFactory
) -> None:
    rec = {i["name"]: i for i in _dp()["interactions"]}
    inventory = AzureInventory(factory)
    server = inventory.get_server(ResourceId.parse(IDS.server_id("pg-unprotected-weu")))
    vault = ResourceId.parse(IDS.vault_id(IDS.VAULT_LRS))
    body = {
        "backupInstance": backup_instance_body(server, vault.child("backupPolicies", IDS.POLICY))[
            "properties"
        ]
    }
    token = factory.credential.get_token(factory.cloud.credential_scope).token
    session = requests.Session()
    ca = box.info.ca_bundle  # per request: REQUESTS_CA_BUNDLE would override session.verify
    session.headers["Authorization"] = f"Bearer {token}"
    try:
        base = box.info.arm_endpoint.rstrip("/")
        resp = session.post(
            f"{base}{vault}/validateForBackup?api-version=2026-06-01", json=body, verify=ca
        )
        assert resp.status_code == rec["validate-for-backup"]["status"] == 202
        recorded_headers = rec["validate-for-backup"]["headers"]
        for name in ("azure-asyncoperation", "location"):
            assert name in {k.lower() for k in resp.headers}

        def shape(url: str) -> list[str]:
            """The URL's path with ids replaced by their kind: what must agree."""
            parts = _path(url).strip("/").split("/")
            kinds = {"subscriptions", "resourcegroups", "backupvaults", "locations",
                     "operationstatus", "operationresults", "providers"}  # fmt: skip
            return [p if i == 0 or parts[i - 1] not in kinds else "*" for i, p in enumerate(parts)]

        assert shape(resp.headers["Azure-AsyncOperation"]) == shape(
            recorded_headers["azure-asyncoperation"]
        )
        assert shape(resp.headers["Location"]) == shape(recorded_headers["location"])

        status = session.get(resp.headers["Azure-AsyncOperation"], verify=ca).json()
        recorded_status = rec["operation-status-inprogress"]["body"]
        assert {"id", "name", "status", "startTime"} <= set(status)
        assert set(status) - {"endTime", "error", "properties"} == set(recorded_status) - {
            "endTime"
        }
        assert status["id"].lower().endswith("/operationstatus/" + status["name"].lower())
        if status["status"].lower() == "inprogress":
            assert status["status"] == recorded_status["status"] == "Inprogress"  # as recorded
            # The recorded placeholder, which the app reads as "no end time yet".
            assert status["endTime"] == recorded_status["endTime"] == "0001-01-01T00:00:00Z"
    finally:
        session.close()


# -- restore as files (recovery points, validate, trigger, the restore job) ----------------

# Fields of the app's restore request that differ from the CLI's on purpose.
RESTORE_INTENDED_DIFFERENCES = {
    "restoreRequestObject.restoreTargetInfo.targetDetails.targetResourceArmId": (
        "the app names the container's ARM id, which the spec requires when Cross "
        "Subscription Restore is disabled; the CLI run left it out"
    ),
}
VALIDATE_INTENDED_DIFFERENCES = {
    "objectType": (
        "the app sends objectType ValidateRestoreRequestObject, as the REST documentation "
        "does; the CLI leaves it out"
    ),
    **RESTORE_INTENDED_DIFFERENCES,
}


def _dpr() -> dict[str, Any]:
    return _load("dataprotection_pgflex_restore.json")


def _recorded_restore_request(body: dict[str, Any]) -> dict[str, Any]:
    details = body["restoreTargetInfo"]["targetDetails"]
    url = details["url"]
    account = urlsplit(url).hostname.split(".", 1)[0]  # type: ignore[union-attr]
    container = url.rstrip("/").rsplit("/", 1)[-1]
    arm = (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/clitest-dpp-ecy-rg"
        f"/providers/Microsoft.Storage/storageAccounts/{account}/blobServices/default"
        f"/containers/{container}"
    )
    return build_restore_request(
        body["recoveryPointId"],
        url,
        arm,
        body["restoreTargetInfo"]["restoreLocation"],
        file_prefix=details["filePrefix"],
    )


def test_recorded_recovery_points_parse(replay: Replay, replay_factory: ClientFactory) -> None:
    interactions = _dpr()["interactions"]
    replay.load(interactions)
    rec = next(i for i in interactions if i["name"] == "recovery-point-list")
    instance = ResourceId.parse(_path(rec["uri"]).rsplit("/", 1)[0])
    points = AzureInventory(replay_factory).list_recovery_points(instance)
    assert [p.recovery_point_id for p in points] == ["64c119855c104fa3ac83d46c9b96647a"]
    point = points[0]
    assert point.time.isoformat().startswith("2024-04-10T10:30:46.230387")
    assert point.recovery_point_type == "Full"
    assert point.policy_name == "pgflexpolicy"
    assert point.retention_tag == "default"
    assert point.expiry is None
    assert point.state == "Completed"


def test_validate_and_trigger_restore_match_the_recording(
    replay: Replay, replay_factory: ClientFactory
) -> None:
    rec = {i["name"]: i for i in _dpr()["interactions"]}
    replay.load(_dpr()["interactions"])
    instance = ResourceId.parse(_path(rec["trigger-restore"]["uri"]).rsplit("/", 1)[0])
    request = _recorded_restore_request(rec["trigger-restore"]["request_body"])
    service = RestoreService(replay_factory)

    service.begin_validate_restore(instance, request).result(timeout=30)
    job_id = service.begin_trigger_restore(instance, request).result(timeout=30)

    posts = [r for r in replay.requests if r[0] == "POST"]
    assert [p[1].lower() for p in posts] == [
        _path(rec["validate-for-restore"]["uri"]),
        _path(rec["trigger-restore"]["uri"]),
    ]
    validate_diff = _diff(posts[0][2], rec["validate-for-restore"]["request_body"])
    assert sorted(validate_diff) == sorted(VALIDATE_INTENDED_DIFFERENCES), validate_diff
    trigger_diff = _diff(
        {"restoreRequestObject": posts[1][2]},
        {"restoreRequestObject": rec["trigger-restore"]["request_body"]},
    )
    assert sorted(trigger_diff) == sorted(RESTORE_INTENDED_DIFFERENCES), trigger_diff
    # The recorded jobId spells "resourcegroups" and "BackupVaults"; it is still the job.
    assert ResourceId.parse(job_id).same_as(
        ResourceId.parse(_path(rec["restore-job-completed"]["uri"]))
    )


def test_recorded_restore_job_parses(replay: Replay, replay_factory: ClientFactory) -> None:
    rec = {i["name"]: i for i in _dpr()["interactions"]}
    replay.load(_dpr()["interactions"])
    service = RestoreService(replay_factory)
    job_id = rec["trigger-restore-results"]["body"]["jobId"]
    running = service.get_job(job_id)
    done = service.get_job(job_id)
    assert running.operation == done.operation == "Restore"
    assert running.in_progress
    assert running.end is None
    assert running.recovery_point_id == "64c119855c104fa3ac83d46c9b96647a"
    assert (
        running.restore_destination
        == "https://clitestecysa.blob.core.windows.net/clitestpgflexblob"
    )
    assert [(t.name, t.status) for t in running.subtasks] == [("Trigger Restore", "InProgress")]
    assert not done.in_progress
    assert done.status == "Completed"
    assert done.end is not None
    assert done.end.isoformat().startswith("2024-04-10T10:36:08")
    assert done.duration == "PT2M5.6503519S"
    assert done.data_transferred_bytes == 70384
    assert done.error_codes == ()


def test_placeholder_times_are_not_times() -> None:
    """Azure's "0001-01-01T00:00:00Z" (operation status endTime while running) means unset."""
    status = next(
        i for i in _dpr()["interactions"] if i["name"] == "trigger-restore-status-inprogress"
    )
    assert status["body"]["status"] == "Inprogress"
    assert parse_datetime(status["body"]["endTime"]) is None
    assert parse_datetime("0001-01-01T00:00:00") is None
    assert parse_datetime(status["body"]["startTime"]) is not None
