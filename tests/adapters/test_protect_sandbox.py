"""ProtectJob through ServicePort(ProtectionService) against a private sandbox ARM."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.protection import ProtectionService
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import ProtectionState
from pgflex_gui.domain.policy import PolicyDraft
from pgflex_gui.domain.preflight import GrantScope
from pgflex_gui.domain.schedule import WeeklySchedule
from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JobJournal
from pgflex_gui.jobs.protect import (
    ProtectionPlan,
    ProtectJob,
    RetryPolicy,
    ServerTarget,
    ServicePort,
)
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import NullDataPlane, Sandbox
from tests.adapters.azure_helpers import sandbox_factory

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = Sandbox.start(
        Path(tmp_path_factory.mktemp("protect-job")),
        seed="minimal",
        dataplane=NullDataPlane(),
        page_size=2,
        retry_after=0,
    )
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def factory(box: Sandbox) -> Iterator[ClientFactory]:
    f = sandbox_factory(box)
    yield f
    f.close()


def test_roles_granted_then_validated_and_configured(factory: ClientFactory) -> None:
    audit: list[dict[str, Any]] = []
    inventory = AzureInventory(factory)
    service = ProtectionService(factory, lambda **kw: audit.append(kw))
    vault_id = ResourceId.parse(IDS.vault_id(IDS.VAULT_LRS))
    vault = inventory.get_vault(vault_id)
    server = inventory.get_server(ResourceId.parse(IDS.server_id("pg-unprotected-weu")))
    draft = PolicyDraft(name="pgflex-job-test", schedule=WeeklySchedule(6, time(2, 0), "UTC"))
    plan = ProtectionPlan(
        vault_id=vault_id,
        policy_id=vault_id.child("backupPolicies", draft.name),
        targets=(ServerTarget.new(server),),
        vault=vault,
        policy_draft=draft,
        grant=GrantScope.RESOURCE,
        reference_date=date(2025, 6, 2),
    )
    ctx = JobContext(token=CancelToken(), journal=JobJournal.in_memory())
    retry = RetryPolicy(initial_s=0.2, max_s=0.5, total_s=30, follow_interval_s=0.2)
    result = ProtectJob(plan, ServicePort(service, inventory), retry=retry).run(ctx)
    assert result.instances[0].protection_state is ProtectionState.PROTECTION_CONFIGURED
    assert result.created_policy
    assert audit, "every write is audited"
