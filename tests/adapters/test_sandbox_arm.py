"""The sandbox ARM service through the real Azure SDK clients (NullDataPlane, fast)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.dataprotection import DataProtectionMgmtClient
from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.storage.models import StorageAccountUpdateParameters

from pgflex_gui.sandbox.arm import roles
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.arm.world import default_policy_body
from pgflex_gui.sandbox.runtime import Sandbox
from tests.sandbox_fixtures import sandbox_credential

POLL = {"polling_interval": 0.05}
PG = "Microsoft.DBforPostgreSQL/flexibleServers"


def _bi_body(server_id: str, policy_id: str) -> dict[str, Any]:
    name = server_id.rsplit("/", 1)[-1]
    ds = {
        "objectType": "Datasource",
        "resourceID": server_id,
        "resourceName": name,
        "resourceType": PG,
        "datasourceType": PG,
        "resourceLocation": "westeurope",
    }
    return {
        "objectType": "BackupInstance",
        "friendlyName": name,
        "dataSourceInfo": ds,
        "policyInfo": {"policyId": policy_id},
    }


def test_subscriptions_tenants_and_region_pairs(make_arm_client: Any) -> None:
    subs = make_arm_client(SubscriptionClient, None)
    names = sorted(s.display_name for s in subs.subscriptions.list())
    assert names == ["Contoso Production", "Contoso Shared"]
    assert {t.tenant_id for t in subs.tenants.list()} == {IDS.TENANT, IDS.TENANT2}
    locs = {loc.name: loc for loc in subs.subscriptions.list_locations(IDS.SUB)}
    assert [p.name for p in locs["westeurope"].metadata.paired_region] == ["northeurope"]
    assert [p.name for p in locs["westus3"].metadata.paired_region] == ["eastus"]
    assert locs["italynorth"].metadata.paired_region == []


def test_servers_page_across_next_links(make_arm_client: Any, sandbox_arm: Sandbox) -> None:
    pg = make_arm_client(PostgreSQLManagementClient)
    pages = list(pg.servers.list_by_subscription().by_page())
    servers = [s for p in pages for s in p]
    assert len(pages) >= 2  # page size 2
    assert {"pg-src-weu", "pg-stopped-weu"} <= {s.name for s in servers}
    stopped = pg.servers.get(IDS.RG_PG, "pg-stopped-weu")
    assert stopped.properties.state == "Stopped"
    assert stopped.properties.version == "16"


def test_missing_things_are_azure_404s(make_arm_client: Any) -> None:
    pg = make_arm_client(PostgreSQLManagementClient)
    with pytest.raises(HttpResponseError) as err:
        pg.servers.get(IDS.RG_PG, "nope")
    assert err.value.status_code == 404
    assert err.value.error.code == "ResourceNotFound"
    with pytest.raises(HttpResponseError) as err:
        pg.servers.get("rg-missing", "nope")
    assert err.value.error.code == "ResourceGroupNotFound"
    assert err.value.response.headers["x-ms-request-id"]


def test_create_server_lro_start_stop_and_missing_major(make_arm_client: Any) -> None:
    pg = make_arm_client(PostgreSQLManagementClient)
    name = f"pg-new-{uuid.uuid4().hex[:6]}"
    body = {
        "location": "westeurope",
        "sku": {"name": "Standard_D2ds_v5", "tier": "GeneralPurpose"},
        "properties": {
            "createMode": "Create",
            "version": "16",
            "administratorLogin": "dba",
            "administratorLoginPassword": "S3cret-pass!",
            "storage": {"storageSizeGB": 64},
        },
    }
    server = pg.servers.begin_create_or_update(IDS.RG_PG, name, body, **POLL).result()
    assert server.properties.state == "Ready"
    assert server.properties.fully_qualified_domain_name == "127.0.0.1"
    assert int(server.tags["sandbox-port"]) > 0
    pg.servers.begin_stop(IDS.RG_PG, name, **POLL).result()
    assert pg.servers.get(IDS.RG_PG, name).properties.state == "Stopped"
    pg.servers.begin_start(IDS.RG_PG, name, **POLL).result()
    assert pg.servers.get(IDS.RG_PG, name).properties.state == "Ready"
    pg.configurations.begin_put(
        IDS.RG_PG,
        name,
        "azure.extensions",
        {"properties": {"value": "pgcrypto", "source": "user-override"}},
        **POLL,
    ).result()
    assert pg.configurations.get(IDS.RG_PG, name, "azure.extensions").properties.value == "pgcrypto"
    pg.servers.begin_delete(IDS.RG_PG, name, **POLL).result()
    body["properties"]["version"] = "11"
    with pytest.raises(HttpResponseError) as err:
        pg.servers.begin_create_or_update(IDS.RG_PG, name + "x", body, **POLL).result()
    assert err.value.error.code == "UnsupportedServerVersion"


def test_vault_lro_identity_and_policies(make_arm_client: Any) -> None:
    dp = make_arm_client(DataProtectionMgmtClient)
    name = f"bv-{uuid.uuid4().hex[:6]}"
    body = {
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "storageSettings": [{"datastoreType": "VaultStore", "type": "GeoRedundant"}],
            "featureSettings": {"crossRegionRestoreSettings": {"state": "Enabled"}},
        },
    }
    vault = dp.backup_vaults.begin_create_or_update(IDS.RG_BACKUP, name, body, **POLL).result()
    assert vault.identity.principal_id
    assert vault.identity.tenant_id == IDS.TENANT
    assert vault.properties.feature_settings.cross_region_restore_settings.state == "Enabled"
    ok = dp.backup_policies.create_or_update(IDS.RG_BACKUP, name, "p1", default_policy_body())
    assert ok.properties.datasource_types == [PG]
    cases = {
        "UserErrorUnsupportedBackupFrequency": ("repeatingTimeIntervals", "P1D"),
        "UserErrorInvalidRetentionDuration": ("duration", "P3D"),
        "UserErrorDatasourceTypeNotSupported": ("datasourceTypes", None),
    }
    for code, (field, value) in cases.items():
        bad = default_policy_body()
        props = bad["properties"]
        if field == "repeatingTimeIntervals":
            sched = props["policyRules"][0]["trigger"]["schedule"]
            sched[field] = [sched[field][0].replace("P1W", value)]
        elif field == "duration":
            props["policyRules"][1]["lifecycles"][0]["deleteAfter"]["duration"] = value
        else:
            props["datasourceTypes"] = ["Microsoft.Compute/disks"]
        with pytest.raises(HttpResponseError) as err:
            dp.backup_policies.create_or_update(IDS.RG_BACKUP, name, "bad", bad)
        assert err.value.status_code == 400
        assert err.value.error.code == code
    monthly = default_policy_body()
    monthly["properties"]["policyRules"].append(
        {
            "name": "Monthly",
            "objectType": "AzureRetentionRule",
            "isDefault": False,
            "lifecycles": [
                {
                    "deleteAfter": {"objectType": "AbsoluteDeleteOption", "duration": "P1Y"},
                    "sourceDataStore": {
                        "dataStoreType": "VaultStore",
                        "objectType": "DataStoreInfoBase",
                    },
                    "targetDataStoreCopySettings": [],
                }
            ],
        }
    )
    with pytest.raises(HttpResponseError) as err:
        dp.backup_policies.create_or_update(IDS.RG_BACKUP, name, "bad", monthly)
    assert err.value.error.code == "UserErrorMissingTaggingCriteria"


def test_protect_needs_roles_then_passes(make_arm_client: Any, sandbox_arm: Sandbox) -> None:
    world = sandbox_arm.world
    dp = make_arm_client(DataProtectionMgmtClient)
    auth = make_arm_client(AuthorizationManagementClient)
    server_id = world.add_server(
        IDS.SUB, IDS.RG_PG, f"pg-p-{uuid.uuid4().hex[:6]}", location="westeurope"
    )
    vault = dp.backup_vaults.get(IDS.RG_BACKUP, IDS.VAULT_LRS)
    policy_id = f"{vault.id}/backupPolicies/{IDS.POLICY}"
    request = {"backupInstance": _bi_body(server_id, policy_id)}
    with pytest.raises(HttpResponseError) as err:
        dp.backup_instances.begin_validate_for_backup(
            IDS.RG_BACKUP, IDS.VAULT_LRS, request, **POLL
        ).result()
    assert err.value.error.code == "UserErrorMissingRequiredPermissions"
    oid = vault.identity.principal_id
    rg_scope = "/".join(server_id.split("/")[:5])
    for scope, role in ((server_id, roles.LTR_BACKUP), (rg_scope, roles.READER)):
        held = auth.role_assignments.list_for_scope(scope, filter=f"principalId eq '{oid}'")
        if any(r.role_definition_id.endswith(role) for r in held):
            continue  # inherited or already there (the seed granted Reader on the RG)
        auth.role_assignments.create(
            scope,
            str(uuid.uuid4()),
            {
                "properties": {
                    "roleDefinitionId": f"/subscriptions/{IDS.SUB}/providers/Microsoft.Authorization/"
                    f"roleDefinitions/{role}",
                    "principalId": oid,
                    "principalType": "ServicePrincipal",
                }
            },
        )
    inherited = list(
        auth.role_assignments.list_for_scope(server_id, filter=f"principalId eq '{oid}'")
    )
    assert {r.role_definition_id.rsplit("/", 1)[-1] for r in inherited} >= {
        roles.LTR_BACKUP,
        roles.READER,
    }
    dp.backup_instances.begin_validate_for_backup(
        IDS.RG_BACKUP, IDS.VAULT_LRS, request, **POLL
    ).result()
    bi_name = server_id.rsplit("/", 1)[-1] + "-bi"
    bi = dp.backup_instances.begin_create_or_update(
        IDS.RG_BACKUP,
        IDS.VAULT_LRS,
        bi_name,
        {"properties": _bi_body(server_id, policy_id)},
        **POLL,
    ).result()
    assert bi.properties.current_protection_state == "ProtectionConfigured"
    with pytest.raises(HttpResponseError) as err:
        dp.backup_instances.begin_validate_for_backup(
            IDS.RG_BACKUP,
            IDS.VAULT_GRS,
            {
                "backupInstance": _bi_body(
                    server_id, f"{IDS.vault_id(IDS.VAULT_GRS)}/backupPolicies/{IDS.POLICY}"
                )
            },
            **POLL,
        )
    assert err.value.status_code == 400
    assert err.value.error.code == "UserErrorDppDatasourceAlreadyProtected"
    # ad-hoc backup -> job -> recovery point
    op = dp.backup_instances.begin_adhoc_backup(
        IDS.RG_BACKUP,
        IDS.VAULT_LRS,
        bi_name,
        {
            "backupRuleOptions": {
                "ruleName": "BackupWeekly",
                "triggerOption": {"retentionTagOverride": "Default"},
            }
        },
        **POLL,
    ).result()
    job_name = op.job_id.rsplit("/", 1)[-1]
    deadline = time.monotonic() + 10
    while (job := dp.jobs.get(IDS.RG_BACKUP, IDS.VAULT_LRS, job_name)).properties.status in (
        "Started",
        "InProgress",
    ) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.properties.status == "Completed"
    points = list(dp.recovery_points.list(IDS.RG_BACKUP, IDS.VAULT_LRS, bi_name))
    assert len(points) == 1


def test_stopped_server_not_ready(make_arm_client: Any, sandbox_arm: Sandbox) -> None:
    world = sandbox_arm.world
    vault_id = IDS.vault_id(IDS.VAULT_LRS)
    server_id = IDS.server_id("pg-stopped-weu")
    world.grant_backup_roles(vault_id, server_id)
    dp = make_arm_client(DataProtectionMgmtClient)
    with pytest.raises(HttpResponseError) as err:
        dp.backup_instances.begin_validate_for_backup(
            IDS.RG_BACKUP,
            IDS.VAULT_LRS,
            {"backupInstance": _bi_body(server_id, f"{vault_id}/backupPolicies/{IDS.POLICY}")},
            **POLL,
        ).result()
    assert err.value.error.code == "PostgreSQLFlexOperationFailedUserError"
    assert err.value.error.details[0].code == "ServerNotReadyForLongTermBackup"


def test_restore_checks_and_job(make_arm_client: Any) -> None:
    dp = make_arm_client(DataProtectionMgmtClient)
    bi_name = f"{IDS.SOURCE}-bi"
    point = next(iter(dp.recovery_points.list(IDS.RG_BACKUP, IDS.VAULT_GRS, bi_name)))

    def request(account: str) -> dict[str, Any]:
        return {
            "objectType": "AzureBackupRecoveryPointBasedRestoreRequest",
            "recoveryPointId": point.name,
            "sourceDataStoreType": "VaultStore",
            "restoreTargetInfo": {
                "objectType": "RestoreFilesTargetInfo",
                "recoveryOption": "FailIfExists",
                "restoreLocation": "westeurope",
                "targetDetails": {
                    "url": f"https://127.0.0.1:10000/{account}/restores",
                    "filePrefix": "dummyprefix",
                    "restoreTargetLocationType": "AzureBlobs",
                },
            },
        }

    with pytest.raises(HttpResponseError) as err:
        dp.backup_instances.begin_validate_for_restore(
            IDS.RG_BACKUP,
            IDS.VAULT_GRS,
            bi_name,
            {
                "objectType": "ValidateRestoreRequestObject",
                "restoreRequestObject": request(IDS.STORAGE_NO_XTR),
            },
            **POLL,
        ).result()
    assert err.value.error.code == "UserErrorMSIMissingPermissions"
    dp.backup_instances.begin_validate_for_restore(
        IDS.RG_BACKUP,
        IDS.VAULT_GRS,
        bi_name,
        {
            "objectType": "ValidateRestoreRequestObject",
            "restoreRequestObject": request(IDS.STORAGE),
        },
        **POLL,
    ).result()
    op = dp.backup_instances.begin_trigger_restore(
        IDS.RG_BACKUP, IDS.VAULT_GRS, bi_name, request(IDS.STORAGE), **POLL
    ).result()
    job_name = op.job_id.rsplit("/", 1)[-1]
    deadline = time.monotonic() + 10
    while (job := dp.jobs.get(IDS.RG_BACKUP, IDS.VAULT_GRS, job_name)).properties.status in (
        "Started",
        "InProgress",
    ) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.properties.status == "Completed"
    assert job.properties.operation_category == "Restore"
    assert job.properties.extended_info.sub_tasks[0].task_name == "Trigger Restore"
    # CRR: secondary points in the paired region
    secondary = list(
        dp.fetch_secondary_recovery_points.list(
            IDS.RG_BACKUP,
            "northeurope",
            {
                "sourceBackupInstanceId": f"{IDS.vault_id(IDS.VAULT_GRS)}/backupInstances/{bi_name}",
                "sourceRegion": "westeurope",
            },
        )
    )
    assert point.name in {p.name for p in secondary}


def test_throttling_and_server_errors(make_arm_client: Any, sandbox_arm: Sandbox) -> None:
    pg = make_arm_client(PostgreSQLManagementClient)
    rule = sandbox_arm.faults.add(
        r"GET .*/flexibleServers/pg-src-weu$", status=429, retry_after=1, times=1
    )
    started = time.monotonic()
    assert pg.servers.get(IDS.RG_PG, IDS.SOURCE).name == IDS.SOURCE
    assert time.monotonic() - started >= 0.9  # Retry-After honoured
    assert sandbox_arm.faults.list()[-1].hits == 1
    sandbox_arm.faults.remove(rule)
    no_retry = make_arm_client(PostgreSQLManagementClient, retry_total=0)
    sandbox_arm.faults.add(r"GET .*/flexibleServers/pg-src-weu$", status=500, times=1)
    with pytest.raises(HttpResponseError) as err:
        no_retry.servers.get(IDS.RG_PG, IDS.SOURCE)
    assert err.value.status_code == 500
    assert err.value.error.code == "InternalServerError"
    sandbox_arm.faults.clear()


def test_fault_admin_endpoint_at_runtime(sandbox_arm: Sandbox) -> None:
    import json
    import ssl
    import urllib.request

    ctx = ssl.create_default_context(cafile=sandbox_arm.info.ca_bundle)
    body = json.dumps({"pattern": r"GET /subscriptions$", "status": 503, "times": 1}).encode()
    req = urllib.request.Request(
        f"{sandbox_arm.arm_endpoint}/_sandbox/faults",
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {sandbox_arm.token()}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(req, context=ctx) as resp:
        assert json.load(resp)["ids"]
    assert any(r.status == 503 for r in sandbox_arm.faults.list())
    sandbox_arm.faults.clear()


def test_reader_subscription_cannot_assign_roles(
    make_arm_client: Any, sandbox_arm: Sandbox
) -> None:
    auth = make_arm_client(AuthorizationManagementClient, IDS.SUB_READER)
    scope = f"/subscriptions/{IDS.SUB_READER}/resourceGroups/rg-shared"
    with pytest.raises(HttpResponseError) as err:
        auth.role_assignments.create(
            scope,
            str(uuid.uuid4()),
            {
                "properties": {
                    "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/"
                    f"{roles.READER}",
                    "principalId": sandbox_arm.world.vault_principal(IDS.vault_id()),
                }
            },
        )
    assert err.value.status_code == 403
    assert err.value.error.code == "AuthorizationFailed"
    rd = auth.role_definitions.get(scope, roles.LTR_BACKUP)
    assert rd.role_name == "PostgreSQL Flexible Server Long Term Retention Backup Role"


def test_storage_keys_containers_and_rgs(make_arm_client: Any) -> None:
    st = make_arm_client(StorageManagementClient)
    keys = st.storage_accounts.list_keys(IDS.RG_STORAGE, IDS.STORAGE)
    assert keys.keys_property[0].value
    acc = st.storage_accounts.get_properties(IDS.RG_STORAGE, IDS.STORAGE_NO_XTR)
    assert acc.allow_cross_tenant_replication is False
    st.storage_accounts.update(
        IDS.RG_STORAGE,
        IDS.STORAGE_NO_XTR,
        StorageAccountUpdateParameters(allow_cross_tenant_replication=True),
    )
    assert (
        st.storage_accounts.get_properties(
            IDS.RG_STORAGE, IDS.STORAGE_NO_XTR
        ).allow_cross_tenant_replication
        is True
    )
    st.storage_accounts.update(
        IDS.RG_STORAGE,
        IDS.STORAGE_NO_XTR,
        StorageAccountUpdateParameters(allow_cross_tenant_replication=False),
    )
    assert acc.primary_endpoints.blob.endswith(f"/{IDS.STORAGE_NO_XTR}/")
    assert [c.name for c in st.blob_containers.list(IDS.RG_STORAGE, IDS.STORAGE)] == [IDS.CONTAINER]
    rm = make_arm_client(ResourceManagementClient)
    rm.resource_groups.create_or_update("rg-made", {"location": "uksouth"})
    assert rm.resource_groups.get("rg-made").location == "uksouth"


def test_tokens_bad_tenant_and_refusal(sandbox_arm: Sandbox, make_arm_client: Any) -> None:
    other = sandbox_credential(sandbox_arm, IDS.TENANT2)
    pg = make_arm_client(PostgreSQLManagementClient)
    pg_other = PostgreSQLManagementClient(
        other,
        IDS.SUB,
        base_url=sandbox_arm.arm_endpoint,
        connection_verify=sandbox_arm.info.ca_bundle,
        credential_scopes=["https://management.azure.com/.default"],
    )
    with pytest.raises(HttpResponseError) as err:
        pg_other.servers.get(IDS.RG_PG, IDS.SOURCE)
    assert err.value.status_code == 401
    assert err.value.error.code == "InvalidAuthenticationTokenTenant"
    assert pg.servers.get(IDS.RG_PG, IDS.SOURCE)
    sandbox_arm.world.set_tenant_flags(IDS.TENANT2, refuse_tokens=True)
    try:
        with pytest.raises(ClientAuthenticationError, match="AADSTS50076"):
            sandbox_credential(sandbox_arm, IDS.TENANT2).get_token(
                "https://management.azure.com/.default"
            )
    finally:
        sandbox_arm.world.set_tenant_flags(IDS.TENANT2, refuse_tokens=False)
