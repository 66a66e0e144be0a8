"""ProtectionService, RestoreService and StorageService against a private sandbox ARM.

These tests change the world (roles, backup instances, restores), so they use their own
ARM-only sandbox instead of the shared session one.
"""

from __future__ import annotations

from typing import Any

import pytest

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.protection import ProtectionService, backup_instance_body
from pgflex_gui.azure.restore import RestoreService
from pgflex_gui.azure.storage import StorageService
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.sandbox.arm.seed import IDS

pytestmark = pytest.mark.sandbox

LTR_ROLE = "c088a766-074b-43ba-90d4-1fb21feae531"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


@pytest.fixture
def audit() -> list[dict[str, str]]:
    return []


@pytest.fixture
def protection(factory: ClientFactory, audit: list[dict[str, Any]]) -> ProtectionService:
    return ProtectionService(factory, lambda **kw: audit.append(kw))


@pytest.fixture
def restore(factory: ClientFactory, audit: list[dict[str, Any]]) -> RestoreService:
    return RestoreService(factory, lambda **kw: audit.append(kw))


def _vault(name: str = IDS.VAULT_LRS) -> ResourceId:
    return ResourceId.parse(IDS.vault_id(name))


def test_validate_without_roles_is_a_permission_error_then_protect_and_back_up(
    factory: ClientFactory, protection: ProtectionService, audit: list[dict[str, Any]]
) -> None:
    inventory = AzureInventory(factory)
    vault = inventory.get_vault(_vault())
    server = inventory.get_server(ResourceId.parse(IDS.server_id("pg-unprotected-weu")))
    policy_id = _vault().child("backupPolicies", IDS.POLICY)
    body = backup_instance_body(server, policy_id)

    with pytest.raises(AppError) as caught:
        protection.begin_validate_for_backup(vault.id, body).result(timeout=30)
    err = caught.value
    assert err.fault is Fault.PERMISSION
    assert "UserErrorMissingRequiredPermissions" in err.details
    assert err.azure_code in {"UserErrorMissingRequiredPermissions", "AuthorizationFailed"}
    assert err.request_id

    # grant the vault identity its two roles, as update-msi-permissions does
    before = protection.list_role_assignments(vault.principal_id, str(server.id))
    assert not any(a.role_guid == LTR_ROLE for a in before)
    protection.create_role_assignment(
        scope=str(server.id), role=LTR_ROLE, principal_id=vault.principal_id
    )
    protection.create_role_assignment(
        scope=server.id.resource_group_id, role=READER, principal_id=vault.principal_id
    )
    again = protection.create_role_assignment(  # already there: returned, not an error
        scope=str(server.id), role=LTR_ROLE, principal_id=vault.principal_id
    )
    assert again.role_guid == LTR_ROLE
    after = protection.list_role_assignments(vault.principal_id, str(server.id))
    assert {LTR_ROLE, READER} <= {a.role_guid for a in after}  # Reader is inherited from the RG

    # validate again, resuming the operation from its continuation token
    first = protection.begin_validate_for_backup(vault.id, body)
    token = first.continuation_token()
    assert token
    protection.begin_validate_for_backup(vault.id, body, continuation_token=token).result(
        timeout=30
    )

    lro = protection.begin_create_backup_instance(vault.id, "pg-unprotected-weu-bi", body)
    instance = lro.result(timeout=30)
    assert instance.datasource_id.same_as(server.id)
    assert instance.policy_id is not None
    assert instance.policy_id.same_as(policy_id)

    job_id = protection.begin_adhoc_backup(instance.id).result(timeout=30)
    assert job_id.startswith(str(vault.id))
    assert "/backupJobs/" in job_id

    whats = [(a["what"], a["result"]) for a in audit]
    assert ("configure protection", "started") in whats
    assert ("configure protection", "succeeded") in whats
    assert any(
        w == "validate the backup configuration" and r.startswith("failed") for w, r in whats
    )

    grs_body = backup_instance_body(
        server, _vault(IDS.VAULT_GRS).child("backupPolicies", IDS.POLICY)
    )
    with pytest.raises(AppError) as twice:
        protection.begin_validate_for_backup(_vault(IDS.VAULT_GRS), grs_body).result(timeout=30)
    assert twice.value.azure_code == "UserErrorDppDatasourceAlreadyProtected"


def test_restore_as_files_returns_the_full_job_id(
    factory: ClientFactory, restore: RestoreService
) -> None:
    inventory = AzureInventory(factory)
    bi_id = _vault(IDS.VAULT_GRS).child("backupInstances", f"{IDS.SOURCE}-bi")
    point = inventory.list_recovery_points(bi_id)[0]
    storage = StorageService(factory)
    accounts = {a.name: a for a in storage.list_storage_accounts([IDS.SUB])}
    account = accounts[IDS.STORAGE]
    container = {c.name: c for c in storage.list_containers(account)}[IDS.CONTAINER]
    request = {
        "objectType": "AzureBackupRecoveryPointBasedRestoreRequest",
        "recoveryPointId": point.recovery_point_id,
        "sourceDataStoreType": "VaultStore",
        "restoreTargetInfo": {
            "objectType": "RestoreFilesTargetInfo",
            "recoveryOption": "FailIfExists",
            "restoreLocation": "westeurope",
            "targetDetails": {
                "url": container.url,
                "filePrefix": "dummyprefix",
                "restoreTargetLocationType": "AzureBlobs",
                "targetResourceArmId": container.arm_id,
            },
        },
    }
    restore.begin_validate_restore(bi_id, request).result(timeout=30)
    lro = restore.begin_trigger_restore(bi_id, request)
    assert lro.continuation_token()
    while not lro.wait(timeout=1):
        pass
    job_id = lro.result()
    assert job_id.lower().startswith(IDS.vault_id(IDS.VAULT_GRS).lower() + "/backupjobs/")
    job = restore.get_job(job_id)
    assert job.operation.lower().startswith("restore")
    assert job.id.same_as(job_id)


def test_storage_account_update_and_container(factory: ClientFactory) -> None:
    storage = StorageService(factory)
    account_id = ResourceId.build(
        IDS.SUB, IDS.RG_STORAGE, "Microsoft.Storage", "storageAccounts", IDS.STORAGE_NO_XTR
    )
    before = storage.get_storage_account(account_id)
    assert before.allow_cross_tenant_replication is False
    vault_rule = (IDS.TENANT, IDS.vault_id())
    after = storage.update_account(
        account_id, allow_cross_tenant_replication=True, add_resource_access_rule=vault_rule
    )
    assert after.allow_cross_tenant_replication is True
    assert any(r.lower() == IDS.vault_id().lower() for r in after.resource_access_rule_ids)
    made = storage.create_container(after, "made-by-test")
    assert made.url.endswith("/made-by-test")
    assert "made-by-test" in {c.name for c in storage.list_containers(after)}
    assert storage.list_keys(account_id)
