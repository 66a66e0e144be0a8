"""Manage jobs (change policy, stop, resume, delete) and their confirmations, with fakes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from pgflex_gui.azure.protection import allows_action, token_object_id
from pgflex_gui.domain.errors import AppError, Cancelled
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import BackupInstance, FlexServer, ProtectionState, Vault
from pgflex_gui.jobs.job import CancelToken, JobContext, Progress
from pgflex_gui.jobs.journal import JobJournal
from pgflex_gui.jobs.manage import (
    ChangePolicyJob,
    DeleteInstanceJob,
    ResumeProtectionJob,
    StopMode,
    StopProtectionJob,
    delete_confirmation,
    server_endpoint,
    stop_confirmation,
)

SUB = "aaaaaaaa-0000-0000-0000-000000000001"
VAULT_ID = ResourceId.build(SUB, "rg-bk", "Microsoft.DataProtection", "backupVaults", "bv1")
BI_ID = VAULT_ID.child("backupInstances", "pg1-bi")
SERVER_ID = ResourceId.build(SUB, "rg-db", "Microsoft.DBforPostgreSQL", "flexibleServers", "pg1")


class FakeLro:
    """Finishes after ``polls`` waits; remembers the token it was resumed with."""

    def __init__(self, token: str, polls: int = 2) -> None:
        self.token = token
        self.polls = polls
        self.waits = 0

    def continuation_token(self) -> str:
        return self.token

    def wait(self, timeout: float = 1.0) -> bool:
        assert timeout == 1.0
        self.waits += 1
        return self.waits >= self.polls

    def result(self, timeout: float | None = None) -> None:
        assert self.waits >= self.polls
        return None


class FakeManage:
    """A ManagePort recording the begin_* calls and the tokens they were resumed with."""

    def __init__(self, polls: int = 2) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.polls = polls
        self.state = ProtectionState.PROTECTION_CONFIGURED
        self.policy = VAULT_ID.child("backupPolicies", "old")
        self.on_wait: Any = None

    def _lro(self, what: str, token: str | None) -> FakeLro:
        self.calls.append((what, token))
        lro = FakeLro(f"token-{what}", self.polls)
        if self.on_wait is not None:
            original = lro.wait

            def wait(timeout: float = 1.0) -> bool:
                self.on_wait()
                return original(timeout)

            lro.wait = wait  # type: ignore[method-assign]
        return lro

    def begin_stop_protection(
        self, instance_id: ResourceId, *, continuation_token: str | None = None
    ) -> FakeLro:
        self.state = ProtectionState.PROTECTION_STOPPED
        return self._lro("stop", continuation_token)

    def begin_resume_protection(
        self, instance_id: ResourceId, *, continuation_token: str | None = None
    ) -> FakeLro:
        self.state = ProtectionState.PROTECTION_CONFIGURED
        return self._lro("resume", continuation_token)

    def begin_delete_instance(
        self, instance_id: ResourceId, *, continuation_token: str | None = None
    ) -> FakeLro:
        return self._lro("delete", continuation_token)

    def begin_change_policy(
        self,
        instance_id: ResourceId,
        policy_id: ResourceId | str,
        *,
        continuation_token: str | None = None,
    ) -> FakeLro:
        self.policy = ResourceId.parse(str(policy_id))
        return self._lro("change", continuation_token)

    def get_backup_instance(self, instance_id: ResourceId) -> BackupInstance:
        self.calls.append(("get", None))
        return BackupInstance(
            id=instance_id,
            datasource_id=SERVER_ID,
            policy_id=self.policy,
            protection_state=self.state,
        )


def make_ctx(token: CancelToken | None = None) -> tuple[JobContext, list[Progress]]:
    seen: list[Progress] = []
    journal = JobJournal.in_memory()
    return JobContext(token=token or CancelToken(), journal=journal, report=seen.append), seen


def vault(**kw: Any) -> Vault:
    return Vault(id=VAULT_ID, location="westeurope", **kw)


# -- jobs ------------------------------------------------------------------------------------


def test_stop_retain_journals_token_waits_and_rereads() -> None:
    svc = FakeManage(polls=3)
    ctx, seen = make_ctx()
    result = StopProtectionJob(svc, BI_ID, label="pg1").run(ctx)
    assert svc.calls == [("stop", None), ("get", None)]
    assert ctx.journal.get("lro") == "token-stop"
    assert result.instance is not None
    assert result.instance.protection_state is ProtectionState.PROTECTION_STOPPED
    assert "recovery points were kept" in result.message
    assert seen[-1].done == seen[-1].total


def test_stop_delete_data_deletes_and_does_not_reread() -> None:
    svc = FakeManage()
    ctx, _ = make_ctx()
    job = StopProtectionJob(svc, BI_ID, mode=StopMode.DELETE_DATA, label="pg1")
    result = job.run(ctx)
    assert svc.calls == [("delete", None)]
    assert result.instance is None
    assert "deleted" in result.message
    assert job.kind == "stop-protection"


def test_delete_instance_job() -> None:
    svc = FakeManage()
    ctx, _ = make_ctx()
    job = DeleteInstanceJob(svc, BI_ID, label="pg1")
    assert job.title == "Delete backup instance: pg1"
    job.run(ctx)
    assert svc.calls == [("delete", None)]


def test_resume_job_reports_configured() -> None:
    svc = FakeManage()
    svc.state = ProtectionState.PROTECTION_STOPPED
    ctx, _ = make_ctx()
    result = ResumeProtectionJob(svc, BI_ID).run(ctx)
    assert result.instance is not None
    assert result.instance.protection_state is ProtectionState.PROTECTION_CONFIGURED


def test_change_policy_job() -> None:
    svc = FakeManage()
    ctx, _ = make_ctx()
    new = VAULT_ID.child("backupPolicies", "new")
    result = ChangePolicyJob(svc, BI_ID, new, label="pg1").run(ctx)
    assert result.instance is not None
    assert result.instance.policy_id == new
    assert "existing recovery points keep their retention" in result.message


def test_change_policy_refuses_a_policy_of_another_vault() -> None:
    other = ResourceId.build(SUB, "rg-bk", "Microsoft.DataProtection", "backupVaults", "bv2")
    with pytest.raises(AppError, match="not in the vault"):
        ChangePolicyJob(FakeManage(), BI_ID, other.child("backupPolicies", "p"))


def test_rerun_resumes_with_the_journaled_token() -> None:
    svc = FakeManage()
    ctx, _ = make_ctx()
    ctx.journal.checkpoint("lro", "token-from-before")
    ResumeProtectionJob(svc, BI_ID).run(ctx)
    assert svc.calls[0] == ("resume", "token-from-before")
    assert ctx.journal.get("lro") == "token-from-before"


def test_cancel_while_waiting() -> None:
    token = CancelToken()
    svc = FakeManage(polls=10)
    svc.on_wait = token.cancel
    ctx, _ = make_ctx(token)
    with pytest.raises(Cancelled):
        StopProtectionJob(svc, BI_ID).run(ctx)
    assert ctx.journal.get("lro") == "token-stop", "the token survives for a later resume"
    assert ("get", None) not in svc.calls


def test_cancel_before_start_touches_nothing() -> None:
    token = CancelToken()
    token.cancel()
    svc = FakeManage()
    ctx, _ = make_ctx(token)
    with pytest.raises(Cancelled):
        DeleteInstanceJob(svc, BI_ID).run(ctx)
    assert svc.calls == []


# -- confirmations ---------------------------------------------------------------------------


def test_stop_retain_confirmation_names_server_and_vault() -> None:
    c = stop_confirmation("pg1", vault(), StopMode.RETAIN_DATA)
    assert "pg1" in c.text
    assert "bv1" in c.text
    assert c.allowed
    assert "Nothing is deleted" in c.irreversible


def test_delete_data_with_soft_delete_on_says_how_many_days() -> None:
    c = stop_confirmation("pg1", vault(soft_delete="On", soft_delete_days=21), StopMode.DELETE_DATA)
    assert c.allowed
    assert "21 days" in c.irreversible
    assert "undeleted" in c.irreversible


def test_delete_with_soft_delete_off_is_immediate_and_final() -> None:
    c = delete_confirmation("pg1", vault(soft_delete="Off"))
    assert c.allowed
    assert "at once" in c.irreversible
    assert "never be recovered" in c.irreversible
    assert c.title == "Delete backup instance"


def test_locked_immutability_blocks_delete_data() -> None:
    locked = vault(immutability="Locked", soft_delete="AlwaysOn")
    for c in (
        stop_confirmation("pg1", locked, StopMode.DELETE_DATA),
        delete_confirmation("pg1", locked),
    ):
        assert not c.allowed
        assert "immutable and locked" in c.irreversible
        assert "retain data" in c.irreversible
    assert stop_confirmation("pg1", locked, StopMode.RETAIN_DATA).allowed


def test_unlocked_immutability_is_mentioned() -> None:
    c = delete_confirmation("pg1", vault(immutability="Unlocked", soft_delete="AlwaysOn"))
    assert c.allowed
    assert "unlocked" in c.text
    assert "always on" in c.irreversible


# -- endpoints, role rights -----------------------------------------------------------------


def test_server_endpoint_azure_and_sandbox() -> None:
    azure = FlexServer(
        id=SERVER_ID, location="westeurope", version="16", state="Ready", fqdn="pg1.postgres.x"
    )
    assert server_endpoint(azure) == ("pg1.postgres.x", 5432, "require")
    box = FlexServer(
        id=SERVER_ID,
        location="westeurope",
        version="16",
        state="Ready",
        fqdn="pg1.sandbox.local",
        tags=(("sandbox-port", "55432"),),
    )
    assert server_endpoint(box) == ("127.0.0.1", 55432, None)


def test_allows_action_wildcards_and_not_actions() -> None:
    write = "Microsoft.Authorization/roleAssignments/write"
    assert allows_action(["*"], [], write)
    assert allows_action(["*/read", "Microsoft.Authorization/*"], [], write)
    assert not allows_action(["*/read"], [], write)
    assert not allows_action(["*"], ["Microsoft.Authorization/*/Write"], write)


def test_token_object_id() -> None:
    payload = base64.urlsafe_b64encode(json.dumps({"oid": "abc"}).encode()).rstrip(b"=")
    assert token_object_id(f"h.{payload.decode()}.s") == "abc"
    assert token_object_id("garbage") == ""
