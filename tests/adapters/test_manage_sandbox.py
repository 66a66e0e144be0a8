"""Manage jobs through ProtectionService and the real SDK against a private sandbox ARM;
the caller's right to assign roles; listing a real server's databases (full sandbox)."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.protection import ProtectionService
from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import ProtectionState
from pgflex_gui.domain.policy import PolicyDraft, build_policy_body
from pgflex_gui.domain.schedule import WeeklySchedule
from pgflex_gui.domain.vault_rules import VaultDraft, build_vault_body
from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JobJournal
from pgflex_gui.jobs.manage import (
    ChangePolicyJob,
    DeleteInstanceJob,
    ResumeProtectionJob,
    StopMode,
    StopProtectionJob,
    list_databases,
    server_endpoint,
)
from pgflex_gui.jobs.protect import ServicePort
from pgflex_gui.postgres.psql import ConnParams
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.pgdata import AZURE_OWNED_DB
from pgflex_gui.sandbox.runtime import Sandbox
from pgflex_gui.ui.wizards.policy.flow import PolicyFlow, Step
from tests.adapters.azure_helpers import sandbox_factory

pytestmark = pytest.mark.sandbox

ORDERS_BI = "pg-orders-weu-bi"


def ctx() -> JobContext:
    return JobContext(token=CancelToken(), journal=JobJournal.in_memory())


def lrs() -> ResourceId:
    return ResourceId.parse(IDS.vault_id(IDS.VAULT_LRS))


def test_stop_resume_change_policy_delete(factory: ClientFactory) -> None:
    audit: list[dict[str, Any]] = []
    service = ProtectionService(factory, lambda **kw: audit.append(kw))
    inventory = AzureInventory(factory)
    bi_id = lrs().child("backupInstances", ORDERS_BI)

    c = ctx()
    stopped = StopProtectionJob(service, bi_id, mode=StopMode.RETAIN_DATA, label="orders").run(c)
    assert stopped.instance is not None
    assert stopped.instance.protection_state is ProtectionState.PROTECTION_STOPPED
    assert c.journal.get("lro"), "the continuation token was journaled"

    resumed = ResumeProtectionJob(service, bi_id).run(ctx())
    assert resumed.instance is not None
    assert resumed.instance.protection_state is ProtectionState.PROTECTION_CONFIGURED

    draft = PolicyDraft(name="weekly-wed-manage", schedule=WeeklySchedule(2, time(3, 0), "UTC"))
    policy = service.create_policy(lrs(), draft.name, build_policy_body(draft, date(2025, 6, 2)))
    changed = ChangePolicyJob(service, bi_id, policy.id).run(ctx())
    assert changed.instance is not None
    assert changed.instance.policy_id is not None
    assert changed.instance.policy_id.same_as(policy.id)
    assert service.get_backup_instance(bi_id).policy_id == changed.instance.policy_id

    DeleteInstanceJob(service, bi_id).run(ctx())
    assert ORDERS_BI not in {bi.name for bi in inventory.list_backup_instances(lrs())}
    with pytest.raises(AppError):
        service.get_backup_instance(bi_id)

    whats = [a["what"] for a in audit if a["result"] == "succeeded"]
    for what in (
        "stop protection",
        "resume protection",
        "change the backup policy",
        "delete the backup instance",
    ):
        assert what in whats


def test_stop_with_delete_data_goes_to_soft_delete(box: Sandbox, factory: ClientFactory) -> None:
    service = ProtectionService(factory)
    server = box.world.add_server(IDS.SUB, IDS.RG_PG, "pg-manage-sd-weu", location="westeurope")
    vault = box.world.add_vault(IDS.SUB, IDS.RG_BACKUP, "bv-manage-sd", location="westeurope")
    policy = box.world.add_policy(vault, "weekly")
    bi = box.world.add_backup_instance(vault, server, policy, name="pg-manage-sd-bi")
    result = StopProtectionJob(
        service, ResourceId.parse(bi), mode=StopMode.DELETE_DATA, label="pg-manage-sd-weu"
    ).run(ctx())
    assert result.instance is None
    client: Any = factory.dataprotection(IDS.SUB)
    deleted = [d.name for d in client.deleted_backup_instances.list(IDS.RG_BACKUP, "bv-manage-sd")]
    assert deleted == ["pg-manage-sd-bi"]


def test_vault_with_locked_immutability_and_csr_disabled(factory: ClientFactory) -> None:
    service = ProtectionService(factory)
    inventory = AzureInventory(factory)
    vault_id = ResourceId.parse(IDS.vault_id("bv-manage-locked"))
    draft = VaultDraft(
        name="bv-manage-locked",
        location="westeurope",
        immutability="Locked",
        cross_subscription_restore="PermanentlyDisabled",
        soft_delete="AlwaysOn",
    )
    port = ServicePort(service, inventory)
    port.attach(ctx())
    vault = port.create_vault(vault_id, build_vault_body(draft))
    assert vault.principal_id
    again = inventory.get_vault(vault_id)
    assert again.immutability == "Locked"
    assert again.cross_subscription_restore == "PermanentlyDisabled"
    assert again.soft_delete == "AlwaysOn"


def test_can_assign_roles_owner_yes_reader_no(factory: ClientFactory) -> None:
    service = ProtectionService(factory)
    assert service.signed_in_object_id(IDS.SUB)
    assert service.can_assign_roles(IDS.server_id("pg-unprotected-weu"))
    shared = IDS.server_id("pg-shared-weu", rg="rg-shared", sub=IDS.SUB_READER)
    assert not service.can_assign_roles(shared)


# -- the full sandbox: list a real server's databases ----------------------------------------


def test_list_databases_feeds_the_preflight(sandbox: Sandbox) -> None:
    f = sandbox_factory(sandbox)
    try:
        server = AzureInventory(f).get_server(ResourceId.parse(IDS.server_id(IDS.SOURCE)))
    finally:
        f.close()
    host, port, sslmode = server_endpoint(server)
    conn = ConnParams(host, port, server.administrator_login, "postgres", sslmode)
    rows = list_databases(conn, password=IDS.ADMIN_PASSWORD)
    owners = dict(rows)
    assert owners[AZURE_OWNED_DB] == "azure_pg_admin"
    assert "postgres" in owners

    flow = PolicyFlow([server], today=date(2025, 6, 2))
    flow.set_protecting_instances([])
    flow.set_databases(server.id, rows)
    text = " ".join(i.message for i in flow.issues(Step.PREFLIGHT))
    assert AZURE_OWNED_DB in text
    assert "postgres" in text


def test_list_databases_wrong_password_is_an_app_error(sandbox: Sandbox) -> None:
    f = sandbox_factory(sandbox)
    try:
        server = AzureInventory(f).get_server(ResourceId.parse(IDS.server_id(IDS.SOURCE)))
    finally:
        f.close()
    host, port, sslmode = server_endpoint(server)
    conn = ConnParams(host, port, server.administrator_login, "postgres", sslmode)
    with pytest.raises(AppError) as info:
        list_databases(conn, password="wrong-password")
    assert "wrong-password" not in str(info.value)
