"""Pure parts of the services: filters, bodies, scopes, the factory cache, Lro."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError

from pgflex_gui.azure.clients import ClientFactory, Lro
from pgflex_gui.azure.inventory import recovery_point_filter
from pgflex_gui.azure.protection import backup_instance_body, is_scope_within, role_definition_id
from pgflex_gui.domain.cloud import resolve_cloud
from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import FlexServer

V1 = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v1"
SRV = "/subscriptions/s/resourceGroups/rgpg/providers/Microsoft.DBforPostgreSQL/flexibleServers/Pg1"


class _Token:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("t", 2**31)


def test_recovery_point_filter() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = datetime(2024, 2, 1, 12, tzinfo=UTC)
    assert recovery_point_filter(start, end) == (
        "startDate eq '2024-01-01T00:00:00' and endDate eq '2024-02-01T12:00:00'"
    )
    assert recovery_point_filter(None, None) is None


def test_backup_instance_body_per_fact_sheet() -> None:
    server = FlexServer(ResourceId.parse(SRV), "westeurope", "16", "Ready")
    body = backup_instance_body(server, f"{V1}/backupPolicies/p")
    props = body["properties"]
    assert props["objectType"] == "BackupInstance"
    assert props["dataSourceInfo"]["resourceID"] == SRV
    assert props["dataSourceInfo"]["datasourceType"] == "Microsoft.DBforPostgreSQL/flexibleServers"
    assert props["dataSourceSetInfo"]["objectType"] == "DatasourceSet"
    assert props["policyInfo"]["policyId"].endswith("/backupPolicies/p")
    assert props["identityDetails"] == {"useSystemAssignedIdentity": True}
    assert "datasourceAuthCredentials" not in props


def test_scopes_and_role_ids() -> None:
    assert is_scope_within(SRV, "/subscriptions/S/resourceGroups/RGPG")
    assert is_scope_within(SRV, SRV.upper())
    assert not is_scope_within("/subscriptions/s/resourceGroups/rgpg", SRV)
    assert not is_scope_within(SRV, "/subscriptions/s/resourceGroups/rg")
    assert role_definition_id("s", "abc") == (
        "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/abc"
    )


def test_factory_caches_per_kind_and_subscription_thread_safely() -> None:
    cloud = resolve_cloud("AzureCloud", env={"PGFLEX_ARM_ENDPOINT": "https://127.0.0.1:1"})
    factory = ClientFactory(cloud, _Token())
    assert factory.polling_interval < 1
    seen: list[Any] = []
    threads = [
        threading.Thread(target=lambda: seen.append(factory.postgres("s1"))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(c is seen[0] for c in seen)
    assert factory.postgres("s2") is not seen[0]
    assert factory.dataprotection("s1") is not seen[0]
    assert factory.arm_kwargs()["base_url"] == "https://127.0.0.1:1"
    factory.close()
    with pytest.raises(RuntimeError):
        factory.postgres("s1")


class _Poller:
    def __init__(self, result: Any = None, error: Exception | None = None) -> None:
        self._result = result
        self._error = error

    def continuation_token(self) -> str:
        return "tok"

    def status(self) -> str:
        return "Succeeded"

    def done(self) -> bool:
        return True

    def wait(self, timeout: float | None = None) -> None:
        if self._error:
            raise self._error

    def result(self, timeout: float | None = None) -> Any:
        if self._error:
            raise self._error
        return self._result


def test_lro_converts_and_reports_once() -> None:
    finished: list[str] = []
    lro = Lro(
        _Poller({"jobId": "j"}), what="x", convert=lambda r: r["jobId"], on_finish=finished.append
    )
    assert lro.continuation_token() == "tok"
    assert lro.wait(0.1)
    assert lro.result() == "j"
    assert finished == ["succeeded"]
    failing = Lro(
        _Poller(error=HttpResponseError("bad")),
        what="y",
        convert=lambda r: r,
        on_finish=finished.append,
    )
    with pytest.raises(AppError):
        failing.result()
    assert finished[-1].startswith("failed")
