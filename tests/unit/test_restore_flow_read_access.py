"""The restore flow's read methods: the plan carries the choice; only working ones offered."""

from __future__ import annotations

import pytest

from pgflex_gui.jobs.restore_plan_file import RestorePlanFile
from pgflex_gui.ui.wizards.restore.flow import IncidentSource, ReadAccess, RestoreFlow
from tests.unit.test_restore_flow import ready_flow, source


def test_the_default_is_the_entra_sign_in_and_the_plan_says_so() -> None:
    flow = ready_flow()
    assert flow.draft.read_access is ReadAccess.ENTRA
    plan = flow.plan()
    assert plan.container.read_access == "entra"
    assert plan.container.sas_entry == ""
    assert RestorePlanFile.from_json(plan.to_json()) == plan
    assert ("Read files with", "my Entra sign-in") in flow.summary()


@pytest.mark.parametrize("access", [ReadAccess.ACCOUNT_KEY, ReadAccess.APP_SAS])
def test_key_and_app_sas_reach_the_plan_with_the_account(access: ReadAccess) -> None:
    flow = ready_flow()
    flow.update(read_access=access)
    assert flow.can_advance(flow.steps()[1])
    plan = flow.plan()
    assert plan.container.read_access == access.value
    assert plan.container.arm_id.endswith("/containers/restores")
    assert not plan.problems()


def test_only_working_methods_are_offered() -> None:
    flow = ready_flow()
    for access in ReadAccess:
        assert flow.read_access_refusal(access) == ""
    assert "keyring" in flow.read_access_refusal(ReadAccess.SAS, keyring=False)
    incident = RestoreFlow(source())
    incident.set_incident(IncidentSource.CONTAINER, url="https://old.blob.core.windows.net/f")
    assert incident.read_access_refusal(ReadAccess.ACCOUNT_KEY)
    assert incident.read_access_refusal(ReadAccess.APP_SAS)
    incident.update(sas_supplied=True, download_dir="/tmp/x")
    assert incident.plan().container.read_access == "sas"


def test_account_key_is_not_offered_when_shared_key_access_is_off() -> None:
    import dataclasses

    flow = ready_flow()
    chosen = flow.selected_account()
    assert chosen is not None
    off = dataclasses.replace(chosen, allow_shared_key_access=False)
    flow.set_accounts([off, *[a for a in flow.accounts if a.id != chosen.id]])
    flow.choose_account(off.id)
    assert "allowSharedKeyAccess" in flow.read_access_refusal(ReadAccess.ACCOUNT_KEY)
    assert flow.read_access_refusal(ReadAccess.APP_SAS) == ""  # a delegation SAS still works
    flow.update(read_access=ReadAccess.ACCOUNT_KEY)
    assert any(i.field == "target.read" and i.blocks for i in flow.issues(flow.steps()[1]))


def test_storage_account_shared_key_flag_is_read() -> None:
    from pgflex_gui.azure.convert import storage_account

    base = {
        "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a",
        "location": "westeurope",
        "properties": {"primaryEndpoints": {"blob": "https://a.blob.core.windows.net/"}},
    }
    assert storage_account(base).allow_shared_key_access  # null means allowed
    base["properties"]["allowSharedKeyAccess"] = False  # type: ignore[index]
    assert not storage_account(base).allow_shared_key_access
