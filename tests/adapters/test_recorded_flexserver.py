"""Replay of real recorded Flexible Server traffic through the app's own Azure layer.

The recordings are the Azure CLI's own (``Azure/azure-cli``, rdbms module, trimmed into
``tests/data/recordings/flexserver_*.json``; source path and commit in each file and in the
folder's README): a server's create, GETs and list; a firewall rule's create and update; a
parameter's show and set. :mod:`tests.adapters.recording_server` answers the SDK calls of
:class:`~pgflex_gui.azure.servers.TargetServerService` and
:class:`~pgflex_gui.azure.inventory.AzureInventory` with them. Checked:

* every recorded server answer parses into the domain ``FlexServer`` the app shows;
* the bodies the app sends equal the CLI's field by field, except the fields named in the
  ``*_INTENDED_DIFFERENCES`` maps, each with its reason;
* the sandbox answers the same calls in the recorded shape (202 with the operation body and
  Azure-AsyncOperation/Location headers, the operation status, rule and parameter bodies).

The recordings are from 2021 (api-versions 2020-02-14-preview and 2021-06-01); the SDK sends
2026-10-01, so the query string is ignored and newer fields the recordings lack (storage
type, replication role, isDynamicConfig ...) are checked as absent-is-default.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from pgflex_gui.azure import convert
from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.servers import ServerEndpoint, ServerSpec, TargetServerService
from pgflex_gui.domain.ids import ResourceId
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

SUB = "00000000-0000-0000-0000-000000000000"

# Fields of the app's firewall rule body that differ from the CLI's on purpose.
FIREWALL_INTENDED_DIFFERENCES = {
    "properties.endIpAddress": (
        "the app opens one address (the restoring machine's), so its rule ends where it "
        "starts; the CLI test opened a range"
    ),
}

# Fields of the app's create-server body that differ from the CLI's on purpose.
CREATE_INTENDED_DIFFERENCES = {
    "tags.created-by": "the app marks the servers it creates (tag created-by)",
    "tags.keys": "the CLI test's own tag",
    "properties.storage.autoGrow": (
        "the app names autoGrow Disabled explicitly: a restore target's size is chosen"
    ),
    "properties.network.publicNetworkAccess": (
        "the app asks for public access explicitly (the desktop connects over the internet); "
        "the CLI sent an empty network object and got Enabled, as recorded in its GET"
    ),
    "properties.backup.geoRedundantBackup": (
        "a restore target needs no geo-redundant backups (Disabled); the CLI test enabled them"
    ),
    "properties.maintenanceWindow": "the CLI test set a custom window; the app keeps Azure's",
    "properties.availabilityZone": "the CLI test pinned zone 1; the app lets Azure choose",
}


def _mgmt() -> list[dict[str, Any]]:
    return list(load_recording("flexserver_mgmt.json")["interactions"])


def _firewall() -> list[dict[str, Any]]:
    return list(load_recording("flexserver_firewall.json")["interactions"])


def _parameter() -> list[dict[str, Any]]:
    return list(load_recording("flexserver_parameter.json")["interactions"])


def _named(interactions: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    by_name = {i["name"]: i for i in interactions}
    return [by_name[n] for n in names]


def _server_id(uri: str) -> ResourceId:
    """The server a recorded URI addresses (``.../flexibleServers/{name}[/...]``)."""
    parts = path_of(uri).strip("/").split("/")
    return ResourceId.parse("/" + "/".join(parts[: parts.index("flexibleservers") + 2]))


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    with serve_replay(Path(tmp_path_factory.mktemp("replay-flex"))) as state:
        yield state


@pytest.fixture
def replay_factory(replay: Replay) -> Iterator[ClientFactory]:
    replay.reset()
    factory = replay_client_factory(replay)
    yield factory
    factory.close()


def test_recording_names_are_unique() -> None:
    """The tests pick interactions by name; a repeated name would hide one."""
    for interactions in (_mgmt(), _firewall(), _parameter()):
        names = [i["name"] for i in interactions]
        assert len(names) == len(set(names)), names


# -- servers: every recorded answer parses --------------------------------------------------

SERVER_GETS = (
    "server-get-created",
    "server-get-storage-256",
    "server-get-burstable",
    "server-get-restored",
)


@pytest.mark.parametrize("name", SERVER_GETS)
def test_recorded_server_parses_into_a_flex_server(
    replay: Replay, replay_factory: ClientFactory, name: str
) -> None:
    (rec,) = _named(_mgmt(), name)
    replay.load([rec])
    body = rec["body"]
    props = body["properties"]
    server = AzureInventory(replay_factory).get_server(ResourceId.parse(body["id"]))

    assert server.id.same_as(ResourceId.parse(body["id"]))
    assert server.name == body["name"]
    assert server.version == props["version"] == "12"  # a major; minorVersion "7" is apart
    assert server.sku_name == body["sku"]["name"]
    assert server.sku_tier == body["sku"]["tier"]
    assert server.sku_tier in ("GeneralPurpose", "Burstable")
    assert server.storage_gb == props["storage"]["storageSizeGB"]
    assert server.storage_type == ""  # not in a 2021 answer: unknown, not guessed
    assert server.ha_mode == props["highAvailability"]["mode"] == "Disabled"
    assert server.replication_role == ""  # not in a 2021 answer
    assert server.state == props["state"] == "Ready"
    assert server.fqdn == props["fullyQualifiedDomainName"]
    assert server.fqdn == f"{body['name']}.postgres.database.azure.com"
    # Recorded with the region's display name ("East US"); the app keeps the ARM name.
    assert body["location"] == "East US"
    assert server.location == "eastus"
    assert server.administrator_login == props["administratorLogin"] == "dbadmin"
    assert server.public_network_access is True
    assert server.encryption == "SystemManaged"  # no dataEncryption in the answer
    assert server.tags == tuple(sorted(body["tags"].items()))


def test_recorded_server_values_differ_where_the_recording_changed_them(
    replay: Replay, replay_factory: ClientFactory
) -> None:
    """The updates between the GETs (storage 128 -> 256, GeneralPurpose -> Burstable) show."""
    seen = []
    for name in SERVER_GETS[:3]:
        replay.reset()
        (rec,) = _named(_mgmt(), name)
        replay.load([rec])
        server = AzureInventory(replay_factory).get_server(ResourceId.parse(rec["body"]["id"]))
        seen.append((server.sku_name, server.sku_tier, server.storage_gb, server.tags))
    assert seen == [
        ("Standard_D2s_v3", "GeneralPurpose", 128, (("keys", "3"),)),
        ("Standard_D2s_v3", "GeneralPurpose", 256, (("keys", "3"),)),
        ("Standard_B1ms", "Burstable", 256, (("key", "3"),)),
    ]


def test_recorded_server_list_parses(replay: Replay, replay_factory: ClientFactory) -> None:
    (rec,) = _named(_mgmt(), "server-list-resource-group")
    # The CLI listed a resource group; the app lists the subscription. Same answer shape
    # (a ``value`` array, no nextLink), so the recorded page is served on the app's path.
    replay.load(
        [
            {
                **rec,
                "uri": f"https://management.azure.com/subscriptions/{SUB}/providers/"
                "Microsoft.DBforPostgreSQL/flexibleServers?api-version=2021-06-01",
            }
        ]
    )
    pages = list(AzureInventory(replay_factory).iter_servers(SUB))
    assert len(pages) == 1
    (server,) = pages[0]
    item = rec["body"]["value"][0]
    assert "maintenanceWindow" not in item["properties"]  # as recorded: the list leaves it out
    assert server.id.same_as(ResourceId.parse(item["id"]))
    assert (server.version, server.sku_tier, server.sku_name) == (
        "12",
        "Burstable",
        "Standard_B1ms",
    )
    assert (server.storage_gb, server.state, server.location) == (256, "Ready", "eastus")
    assert server.fqdn == "azuredbclitest-000002.postgres.database.azure.com"
    assert (server.ha_mode, server.replication_role, server.storage_type) == ("Disabled", "", "")
    assert [r[0] for r in replay.requests] == ["GET"]


def test_target_server_exists_and_endpoint(replay: Replay, replay_factory: ClientFactory) -> None:
    (rec,) = _named(_mgmt(), "server-get-created")
    replay.load([rec])
    service = TargetServerService(replay_factory)
    server_id = ResourceId.parse(rec["body"]["id"])
    assert service.exists(server_id)
    assert service.endpoint(server_id) == ServerEndpoint(
        "azuredbclitest-000002.postgres.database.azure.com", 5432, "require"
    )
    # Not recorded: the replay answers 404, which is "no such server", not an error.
    missing = rec["body"]["id"].rsplit("/", 1)[0] + "/not-there"
    assert not service.exists(ResourceId.parse(missing))


def test_create_server_body_matches_the_recording(
    replay: Replay, replay_factory: ClientFactory
) -> None:
    recs = _named(
        _mgmt(),
        "server-create",
        "server-create-status-inprogress",
        "server-create-status-succeeded",
        "server-get-created",
    )
    replay.load(recs)
    recorded = recs[0]["request_body"]
    spec = ServerSpec(
        location=recorded["location"],
        version=recorded["properties"]["version"],
        sku_name=recorded["sku"]["name"],
        sku_tier=recorded["sku"]["tier"],
        storage_gb=recorded["properties"]["storage"]["storageSizeGB"],
        admin_login=recorded["properties"]["administratorLogin"],
    )
    password = recorded["properties"]["administratorLoginPassword"]
    server_id = _server_id(recs[0]["uri"])

    TargetServerService(replay_factory).begin_create(server_id, spec, password).result(timeout=30)

    puts = [r for r in replay.requests if r[0] == "PUT"]
    assert [p[1].lower() for p in puts] == [path_of(recs[0]["uri"])]
    differences = diff(puts[0][2], recorded)
    assert sorted(differences) == sorted(CREATE_INTENDED_DIFFERENCES), differences
    # The poller followed the recorded Azure-AsyncOperation URL to Succeeded, then read the
    # server (a PUT's final state is the resource itself).
    gets = [r[1].lower() for r in replay.requests if r[0] == "GET"]
    status = path_of(recs[1]["uri"])
    assert gets == [status, status, path_of(recs[3]["uri"])]


# -- firewall rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "ip"),
    [
        (
            (
                "firewall-rule-create",
                "firewall-rule-create-status-succeeded",
                "firewall-rule-get",
            ),
            "10.10.10.10",
        ),
        (
            (
                "firewall-rule-update",
                "firewall-rule-update-status-inprogress",
                "firewall-rule-update-status-succeeded",
                "firewall-rule-get-updated",
            ),
            "9.9.9.9",
        ),
    ],
    ids=["create", "update-with-inprogress-poll"],
)
def test_firewall_rule_matches_the_recording(
    replay: Replay, replay_factory: ClientFactory, names: tuple[str, ...], ip: str
) -> None:
    recs = _named(_firewall(), *names)
    replay.load(recs)
    put = recs[0]
    rule = path_of(put["uri"]).rsplit("/", 1)[-1]
    assert rule == "firewall_test_rule"
    # The recorded path spells the provider "Microsoft.DBForPostgreSql": ARM paths are
    # case-insensitive, and the ids in the answers use the canonical spelling.
    assert "/Microsoft.DBForPostgreSql/" in put["uri"]
    assert "/Microsoft.DBforPostgreSQL/" in recs[-1]["body"]["id"]

    TargetServerService(replay_factory).begin_firewall_rule(
        _server_id(put["uri"]), rule, ip
    ).result(timeout=30)

    puts = [r for r in replay.requests if r[0] == "PUT"]
    assert [p[1].lower() for p in puts] == [path_of(put["uri"])]
    sent = puts[0][2]
    assert sent == {"properties": {"startIpAddress": ip, "endIpAddress": ip}}
    differences = diff(sent, put["request_body"])
    assert sorted(differences) == sorted(FIREWALL_INTENDED_DIFFERENCES), differences
    assert put["status"] == 202
    assert set(put["body"]) == {"operation", "startTime"}
    gets = [r[1].lower() for r in replay.requests if r[0] == "GET"]
    polls = [path_of(r["uri"]) for r in recs[1:-1]]
    assert gets == [*polls, path_of(recs[-1]["uri"])]


# -- server parameters --------------------------------------------------------------------


def test_recorded_parameter_reads(replay: Replay, replay_factory: ClientFactory) -> None:
    show, after = _named(_parameter(), "parameter-show", "parameter-get-after-set")
    replay.load([show, after])
    service = TargetServerService(replay_factory)
    server_id = _server_id(show["uri"])
    assert service.get_parameter(server_id, "lock_timeout") == "0"
    assert service.get_parameter(server_id, "lock_timeout") == "2000"
    # Recorded ids of configurations say "serversv2", not "flexibleServers": the app reads
    # only the value, never the id, of a configuration.
    assert "/serversv2/" in show["body"]["id"]


def test_recorded_empty_parameter_value_reads_as_empty(
    replay: Replay, replay_factory: ClientFactory
) -> None:
    (listing,) = _named(_parameter(), "parameter-list-excerpt")
    app_name = listing["body"]["value"][0]
    assert app_name["name"] == "application_name"
    assert app_name["properties"]["value"] == ""
    uri = listing["uri"].split("?", 1)[0] + "/application_name"
    replay.load([{"name": "x", "method": "GET", "uri": uri, "status": 200,
                  "headers": {"content-type": "application/json"}, "body": app_name}])  # fmt: skip
    service = TargetServerService(replay_factory)
    assert service.get_parameter(_server_id(uri), "application_name") == ""


def test_set_parameter_matches_the_recording(replay: Replay, replay_factory: ClientFactory) -> None:
    recs = _named(
        _parameter(), "parameter-set", "parameter-set-status-succeeded", "parameter-get-after-set"
    )
    # The 2021 CLI set a parameter with PATCH (configurations update); the app PUTs
    # (configurations.begin_put), as the current CLI and the docs do: a configuration has
    # no other writable field, so PUT and PATCH carry the same body. The recorded answer
    # is served to the app's PUT.
    assert recs[0]["method"] == "PATCH"
    replay.load([{**recs[0], "method": "PUT"}, *recs[1:]])
    server_id = _server_id(recs[0]["uri"])

    TargetServerService(replay_factory).begin_set_parameter(
        server_id, "lock_timeout", "2000"
    ).result(timeout=30)

    puts = [r for r in replay.requests if r[0] == "PUT"]
    assert [p[1].lower() for p in puts] == [path_of(recs[0]["uri"])]
    # Field by field as the CLI sent it, source "user-override" included; nothing differs.
    assert diff(puts[0][2], recs[0]["request_body"]) == []
    assert puts[0][2] == {"properties": {"value": "2000", "source": "user-override"}}
    gets = [r[1].lower() for r in replay.requests if r[0] == "GET"]
    assert gets == [path_of(recs[1]["uri"]), path_of(recs[2]["uri"])]


# -- the sandbox against the recorded shape ----------------------------------------------------


def _missing(recorded: Any, actual: Any, where: str = "") -> list[str]:
    """Paths of recorded dict keys the sandbox's answer lacks (extra keys are allowed).

    ``tags`` hold user data: only their presence is compared, not their keys.
    """
    if not isinstance(recorded, dict) or where.rsplit(".", 1)[-1] == "tags":
        return []
    if not isinstance(actual, dict):
        return [where or "."]
    out: list[str] = []
    for key, value in recorded.items():
        path = f"{where}.{key}" if where else key
        if key not in actual:
            out.append(path)
        else:
            out.extend(_missing(value, actual[key], path))
    return out


def test_missing_finds_a_missing_key() -> None:
    assert _missing({"a": {"b": 1, "c": 2}}, {"a": {"b": 1}, "d": 3}) == ["a.c"]
    assert _missing({"a": {"b": 1}}, {"a": 1}) == ["a"]
    assert _missing({"tags": {"k": "v"}}, {"tags": {}}) == []
    assert _missing({"tags": {"k": "v"}}, {}) == ["tags"]


def _type_mismatches(recorded: Any, actual: Any, where: str = "") -> list[str]:
    """Paths where both answers have a value of different JSON types (what parsers see)."""
    if isinstance(recorded, dict) and isinstance(actual, dict):
        out: list[str] = []
        for key in set(recorded) & set(actual):
            out.extend(
                _type_mismatches(recorded[key], actual[key], f"{where}.{key}" if where else key)
            )
        return sorted(out)
    return [] if type(recorded) is type(actual) else [where]


def test_type_mismatches_finds_a_changed_type() -> None:
    assert _type_mismatches({"a": {"b": 1, "c": "x"}}, {"a": {"b": "1", "d": 2}}) == ["a.b"]


class _Arm:
    """Raw calls to the sandbox's ARM with the app's token, as the SDK makes them."""

    def __init__(self, box: Sandbox, factory: ClientFactory) -> None:
        token = factory.credential.get_token(factory.cloud.credential_scope).token
        self.base = box.info.arm_endpoint.rstrip("/")
        self.ca = box.info.ca_bundle  # per request: REQUESTS_CA_BUNDLE would override
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        url = path if path.startswith("https://") else f"{self.base}{path}"
        if "api-version=" not in url:
            url += "?api-version=2026-10-01"
        return self.session.request(method, url, json=body, verify=self.ca)

    def finish(self, resp: requests.Response) -> list[dict[str, Any]]:
        """Poll an LRO's Azure-AsyncOperation URL until it ends; the status bodies seen."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = self.call("GET", resp.headers["Azure-AsyncOperation"]).json()
            seen.append(status)
            if status["status"] != "InProgress":
                return seen
            time.sleep(0.05)
        raise AssertionError(f"operation did not finish: {seen}")

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def arm(box: Sandbox, factory: ClientFactory) -> Iterator[_Arm]:
    client = _Arm(box, factory)
    yield client
    client.close()


def _lro_shape(url: str) -> list[str]:
    """An LRO URL's path with ids replaced by "*": what must agree with the recording."""
    parts = path_of(url).strip("/").split("/")
    kinds = {"subscriptions", "locations", "azureasyncoperation", "operationresults",
             "providers"}  # fmt: skip
    return [p if i == 0 or parts[i - 1] not in kinds else "*" for i, p in enumerate(parts)]


def _sandbox_server() -> str:
    return IDS.server_id("pg-unprotected-weu")


def _assert_accepted_like(resp: requests.Response, recorded: dict[str, Any]) -> None:
    """202 with the operation body and the LRO headers, as ``recorded`` was answered."""
    assert resp.status_code == recorded["status"] == 202
    body = resp.json()
    assert set(body) == set(recorded["body"]) == {"operation", "startTime"}
    assert body["operation"] == recorded["body"]["operation"]
    assert convert.parse_datetime(body["startTime"]) is not None
    for header in ("azure-asyncoperation", "location"):
        assert _lro_shape(resp.headers[header]) == _lro_shape(recorded["headers"][header])


@pytest.mark.sandbox
def test_sandbox_server_get_has_the_recorded_shape(arm: _Arm) -> None:
    recorded = _named(_mgmt(), "server-get-created")[0]["body"]
    body = arm.call("GET", _sandbox_server()).json()
    assert _missing(recorded, body) == []
    assert body["type"] == recorded["type"] == "Microsoft.DBforPostgreSQL/flexibleServers"
    # Same JSON types where both answer (storageSizeGB an int, version a string ...).
    assert _type_mismatches(recorded, body) == []
    # Both spellings of a region parse to the ARM name (the recording says "East US", the
    # sandbox "westeurope"; newer answers vary too), so the app shows the same either way.
    assert convert.flex_server(body).location == "westeurope"
    assert convert.flex_server(recorded).location == "eastus"

    listing = arm.call(
        "GET", f"/subscriptions/{IDS.SUB}/providers/Microsoft.DBforPostgreSQL/flexibleServers"
    ).json()
    recorded_list = _named(_mgmt(), "server-list-resource-group")[0]["body"]
    assert set(recorded_list) <= set(listing) <= {"value", "nextLink"}
    assert _missing(recorded_list["value"][0], listing["value"][0]) == []


@pytest.mark.sandbox
def test_sandbox_firewall_rule_answers_in_the_recorded_shape(arm: _Arm) -> None:
    rec = {i["name"]: i for i in _firewall()}
    put_rec = rec["firewall-rule-create"]
    path = f"{_sandbox_server()}/firewallRules/firewall_test_rule"

    resp = arm.call("PUT", path, put_rec["request_body"])
    _assert_accepted_like(resp, put_rec)
    statuses = arm.finish(resp)
    recorded_status = rec["firewall-rule-create-status-succeeded"]["body"]
    assert statuses[-1]["status"] == recorded_status["status"] == "Succeeded"
    assert {s["status"] for s in statuses} <= {"InProgress", "Succeeded"}
    assert set(recorded_status) <= set(statuses[-1])
    assert (
        statuses[-1]["name"]
        == resp.headers["Azure-AsyncOperation"].split("?")[0].rsplit("/", 1)[-1]
    )

    rule = arm.call("GET", path).json()
    recorded_rule = rec["firewall-rule-get"]["body"]
    assert set(rule) == set(recorded_rule)
    assert rule["properties"] == recorded_rule["properties"]
    assert rule["type"] == recorded_rule["type"]
    assert rule["name"] == recorded_rule["name"]
    # The provider spelled as the 2021 CLI did reaches the same rule (paths are case-blind).
    odd = path.replace("Microsoft.DBforPostgreSQL", "Microsoft.DBForPostgreSql")
    assert arm.call("GET", odd).json()["id"] == rule["id"]

    update = arm.call("PUT", path, rec["firewall-rule-update"]["request_body"])
    _assert_accepted_like(update, rec["firewall-rule-update"])
    arm.finish(update)
    updated = arm.call("GET", path).json()
    assert updated["properties"] == rec["firewall-rule-get-updated"]["body"]["properties"]


@pytest.mark.sandbox
def test_sandbox_configuration_answers_in_the_recorded_shape(arm: _Arm) -> None:
    rec = {i["name"]: i for i in _parameter()}
    recorded = rec["parameter-show"]["body"]
    path = f"{_sandbox_server()}/configurations/work_mem"

    body = arm.call("GET", path).json()
    assert _missing(recorded, body) == []
    assert body["type"] == recorded["type"]
    props = body["properties"]
    assert props["source"] == "system-default" == recorded["properties"]["source"]
    assert props["dataType"] == "Integer" == recorded["properties"]["dataType"]
    # Integer ranges are "min-max" ("0-2147483647" recorded; "-1-100" for negative minimums).
    assert re.fullmatch(r"-?\d+--?\d+", props["allowedValues"])
    assert re.fullmatch(r"-?\d+--?\d+", recorded["properties"]["allowedValues"])
    # Newer api-versions add these; the 2021 answers lack them (the app reads none).
    assert isinstance(props["isDynamicConfig"], bool)
    assert isinstance(props["isConfigPendingRestart"], bool)
    assert "isDynamicConfig" not in recorded["properties"]

    # Every dataType the sandbox answers is one Azure uses (recorded, or "Set" for the
    # comma-separated lists such as azure.extensions in newer api-versions).
    recorded_types = {
        i["properties"]["dataType"] for i in rec["parameter-list-excerpt"]["body"]["value"]
    }
    listing = arm.call("GET", f"{_sandbox_server()}/configurations").json()
    types = {c["properties"]["dataType"] for c in listing["value"]}
    assert types - {"Set"} <= recorded_types | {"Numeric"}
    for item in listing["value"]:
        assert _missing(rec["parameter-list-excerpt"]["body"]["value"][0], item) == []
        if item["properties"]["dataType"] == "Boolean":
            assert item["properties"]["allowedValues"] == "on,off"  # as recorded

    # Set as the CLI did (PATCH, its body), and as the app does (PUT).
    for method, value in (("PATCH", "8192"), ("PUT", "16384")):
        sent = {"properties": {"value": value, "source": "user-override"}}
        resp = arm.call(method, path, sent)
        _assert_accepted_like(resp, rec["parameter-set"])
        assert arm.finish(resp)[-1]["status"] == "Succeeded"
        after = arm.call("GET", path).json()["properties"]
        assert after["value"] == value
        assert after["source"] == rec["parameter-get-after-set"]["body"]["properties"]["source"]
        assert after["defaultValue"] == props["defaultValue"]
        assert after["isConfigPendingRestart"] is False  # work_mem is dynamic
