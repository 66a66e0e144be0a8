"""TenantDirectory against the sandbox ARM: a tenant that wants MFA does not block the others."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.identity import ClientSecretCredential

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.tenants import (
    LOADED,
    SIGN_IN_REQUIRED,
    TenantAccess,
    TenantDirectory,
)
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import Sandbox
from tests.adapters.azure_helpers import sandbox_factory
from tests.sandbox_fixtures import sandbox_credential

pytestmark = pytest.mark.sandbox

SERVER_LOGGER = "pgflex_gui.sandbox.arm.server"


class CountingCredential:
    """Wraps a real ClientSecretCredential and counts the calls (recording, not mocking)."""

    def __init__(self, inner: ClientSecretCredential, tenant_id: str, calls: Counter[str]) -> None:
        self._inner = inner
        self._tenant_id = tenant_id
        self._calls = calls

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self._calls[self._tenant_id] += 1
        return self._inner.get_token(*scopes, **kwargs)

    def close(self) -> None:
        self._inner.close()


@pytest.fixture
def factory(sandbox_arm: Sandbox) -> Iterator[ClientFactory]:
    f = sandbox_factory(sandbox_arm)
    yield f
    f.close()


@pytest.fixture
def refusing_tenant2(sandbox_arm: Sandbox) -> Iterator[str]:
    sandbox_arm.world.set_tenant_flags(IDS.TENANT2, refuse_tokens=True)
    try:
        yield IDS.TENANT2
    finally:
        sandbox_arm.world.set_tenant_flags(IDS.TENANT2, refuse_tokens=False)


def _server_token_requests(caplog: pytest.LogCaptureFixture, tenant_id: str) -> int:
    """Token requests for ``tenant_id`` as the sandbox's access log saw them."""
    needle = f"/{tenant_id}/oauth2/v2.0/token"
    return sum(
        1
        for r in caplog.records
        if r.name == SERVER_LOGGER and needle in r.getMessage() and "POST" in r.getMessage()
    )


def _by_id(accesses: list[TenantAccess]) -> dict[str, TenantAccess]:
    return {a.tenant_id: a for a in accesses}


def test_refusing_tenant_is_sign_in_required_after_one_token_request_and_others_load(
    sandbox_arm: Sandbox,
    factory: ClientFactory,
    refusing_tenant2: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=SERVER_LOGGER)
    calls: Counter[str] = Counter()

    def credential_for_tenant(tenant_id: str) -> CountingCredential:
        return CountingCredential(sandbox_credential(sandbox_arm, tenant_id), tenant_id, calls)

    directory = TenantDirectory(factory, credential_for_tenant)

    # -- first discovery: exactly one token attempt for the refusing tenant ---------------
    first = _by_id(directory.discover())
    assert set(first) == {IDS.TENANT, IDS.TENANT2}
    fabrikam = first[IDS.TENANT2]
    assert fabrikam.state == SIGN_IN_REQUIRED
    assert fabrikam.subscriptions == ()
    assert fabrikam.azure_code == "AADSTS50076"
    assert "interactive sign-in" in fabrikam.reason
    assert fabrikam.tenant.display_name == "Fabrikam"
    contoso = first[IDS.TENANT]
    assert contoso.state == LOADED
    assert [s.subscription_id for s in contoso.subscriptions] == [IDS.SUB, IDS.SUB_READER]
    assert calls[IDS.TENANT2] == 1
    assert _server_token_requests(caplog, IDS.TENANT2) == 1
    assert [a.tenant_id for a in directory.pending_sign_ins()] == [IDS.TENANT2]

    # -- second discovery with a remembered filter: the verdict is cached, no new attempt -
    caplog.clear()
    second = _by_id(directory.discover(subscription_filter=(IDS.SUB.upper(), IDS.SUB2)))
    assert second[IDS.TENANT2].state == SIGN_IN_REQUIRED
    assert [s.subscription_id for s in second[IDS.TENANT].subscriptions] == [IDS.SUB]
    assert calls[IDS.TENANT2] == 1
    assert _server_token_requests(caplog, IDS.TENANT2) == 0

    # -- the user completes MFA (flag cleared) and signs in to that tenant ----------------
    sandbox_arm.world.set_tenant_flags(IDS.TENANT2, refuse_tokens=False)
    caplog.clear()
    access = directory.sign_in_to(IDS.TENANT2)
    assert access.state == LOADED
    assert access.tenant.display_name == "Fabrikam"
    assert [s.subscription_id for s in access.subscriptions] == [IDS.SUB2]
    assert all(s.tenant_id == IDS.TENANT2 for s in access.subscriptions)
    assert _server_token_requests(caplog, IDS.TENANT2) == 1
    assert directory.pending_sign_ins() == []

    third = _by_id(directory.discover(subscription_filter=(IDS.SUB, IDS.SUB2)))
    assert third[IDS.TENANT2].state == LOADED
    assert [s.subscription_id for s in third[IDS.TENANT2].subscriptions] == [IDS.SUB2]
    assert [s.subscription_id for s in third[IDS.TENANT].subscriptions] == [IDS.SUB]


def test_sign_in_to_with_a_fresh_credential_replaces_the_refused_one(
    sandbox_arm: Sandbox, factory: ClientFactory, refusing_tenant2: str
) -> None:
    directory = TenantDirectory(factory, lambda t: sandbox_credential(sandbox_arm, t))
    assert _by_id(directory.discover())[IDS.TENANT2].state == SIGN_IN_REQUIRED

    # still refusing: sign_in_to makes one new attempt and keeps the verdict
    again = directory.sign_in_to(IDS.TENANT2)
    assert again.state == SIGN_IN_REQUIRED

    sandbox_arm.world.set_tenant_flags(IDS.TENANT2, refuse_tokens=False)
    fresh = sandbox_credential(sandbox_arm, IDS.TENANT2)  # e.g. an interactive sign-in
    access = directory.sign_in_to(IDS.TENANT2, credential=fresh)
    assert access.state == LOADED
    assert [s.subscription_id for s in access.subscriptions] == [IDS.SUB2]
