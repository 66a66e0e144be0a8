"""RestoreFlow: the restore wizard's rules without Qt."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import (
    BackupInstance,
    BlobContainer,
    FlexServer,
    ProtectionState,
    RecoveryPoint,
    RoleAssignment,
    StorageAccount,
    Vault,
)
from pgflex_gui.ui.wizards.restore.flow import (
    Fix,
    IncidentSource,
    InvalidPlan,
    ReadAccess,
    RestoreFlow,
    RestoreSource,
    Step,
)

TENANT = "11111111-1111-1111-1111-111111111111"
SUB = "aaaaaaaa-0000-0000-0000-000000000001"
SUB2 = "bbbbbbbb-0000-0000-0000-000000000002"
NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def vault(*, grs: bool = False, crr: bool = False, location: str = "westeurope") -> Vault:
    return Vault(
        ResourceId.build(SUB, "rg-backup", "Microsoft.DataProtection", "backupVaults", "v1"),
        location,
        TENANT,
        principal_id="vault-principal",
        redundancy="GeoRedundant" if grs else "LocallyRedundant",
        cross_region_restore=crr,
    )


def server(name: str = "pg-orders", version: str = "15") -> FlexServer:
    return FlexServer(
        ResourceId.build(SUB, "rg-db", "Microsoft.DBforPostgreSQL", "flexibleServers", name),
        "westeurope",
        version,
        "Ready",
        TENANT,
        sku_name="Standard_D4ds_v5",
        sku_tier="GeneralPurpose",
        storage_gb=256,
        administrator_login="dba",
        fqdn=f"{name}.postgres.database.azure.com",
    )


def source(v: Vault | None = None, s: FlexServer | None = None) -> RestoreSource:
    v = v or vault()
    s = s or server()
    bi = BackupInstance(
        v.id.child("backupInstances", "pg-orders-bi"),
        s.id,
        None,
        ProtectionState.PROTECTION_CONFIGURED,
    )
    return RestoreSource(v, bi, s)


def account(
    name: str, location: str = "westeurope", *, sub: str = SUB, xtr: bool = True
) -> StorageAccount:
    return StorageAccount(
        ResourceId.build(sub, "rg-st", "Microsoft.Storage", "storageAccounts", name),
        location,
        f"https://{name}.blob.core.windows.net/",
        allow_cross_tenant_replication=xtr,
    )


def point(rp: str, when: datetime, region: str = "") -> RecoveryPoint:
    bi = source().instance
    assert bi is not None
    return RecoveryPoint(bi.id.child("recoveryPoints", rp), rp, when, region=region)


def ready_flow(**kw: object) -> RestoreFlow:
    flow = RestoreFlow(source(), **kw)  # type: ignore[arg-type]
    flow.set_points([point("rp1", NOW - timedelta(days=1)), point("rp2", NOW)])
    flow.choose_point("rp1")
    flow.set_accounts([account("stweu")])
    flow.choose_account(flow.accounts[0].id)
    flow.set_containers(flow.accounts[0].id, [BlobContainer(flow.accounts[0].id, "restores", "")])
    flow.choose_container("restores", new=False)
    flow.update(download_dir="/var/tmp/restore")
    return flow


# -- source ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grs", "crr", "offered"),
    [(False, False, False), (True, False, False), (False, True, False), (True, True, True)],
)
def test_cross_region_offered_only_for_grs_with_crr(grs: bool, crr: bool, offered: bool) -> None:
    flow = RestoreFlow(source(vault(grs=grs, crr=crr)))
    assert flow.cross_region_offered is offered
    flow.set_secondary(True)
    assert flow.draft.secondary is offered


def test_cross_region_not_offered_from_unpaired_region() -> None:
    assert not RestoreFlow(
        source(vault(grs=True, crr=True, location="italynorth"))
    ).cross_region_offered


def test_source_needs_a_point_and_points_are_newest_first() -> None:
    flow = RestoreFlow(source())
    flow.set_points([point("old", NOW - timedelta(days=3)), point("new", NOW)])
    assert [p.recovery_point_id for p in flow.visible_points()] == ["new", "old"]
    assert not flow.can_advance(Step.SOURCE)
    assert any(i.field == "source.point" for i in flow.issues(Step.SOURCE))
    flow.choose_point("old")
    assert flow.can_advance(Step.SOURCE)


def _kind_source(instance_kind: str) -> RestoreSource:
    src = source()
    assert src.instance is not None
    bi = dataclasses.replace(src.instance, backup_kind=instance_kind)
    return RestoreSource(src.vault, bi, src.server)


def test_calendar_days_carry_the_kind_of_their_points_on_a_v2_instance() -> None:
    assert RestoreFlow(_kind_source("v1")).point_day_kinds() is None  # no marks on v1
    flow = RestoreFlow(_kind_source("v2"))
    old, mixed = NOW - timedelta(days=7), NOW - timedelta(days=14)
    flow.set_points(
        [
            dataclasses.replace(point("a", NOW), kind_evidence="v2"),
            dataclasses.replace(point("b", old), kind_evidence="v1"),
            dataclasses.replace(point("c", mixed), kind_evidence="v1"),
            dataclasses.replace(point("d", mixed + timedelta(minutes=1)), kind_evidence="v2"),
        ]
    )
    kinds = flow.point_day_kinds()
    assert kinds is not None
    day = lambda t: t.astimezone().date()  # noqa: E731
    assert kinds == {day(NOW): "v2", day(old): "v1", day(mixed): "unknown"}


@pytest.mark.parametrize(
    ("instance_kind", "evidence", "blocks", "warns"),
    [
        ("v1", "", False, False),  # a v1 instance: its points restore as files
        ("v2", "v2", True, False),  # a v2 point: Azure restores it only as a server
        ("v2", "v1", False, False),  # a v1 point kept in a migrated instance
        ("v2", "", False, True),  # undocumented: said so, Azure's validation decides
        ("unknown", "", False, True),
    ],
)
def test_a_v2_point_is_never_offered_as_files(
    instance_kind: str, evidence: str, blocks: bool, warns: bool
) -> None:
    flow = RestoreFlow(_kind_source(instance_kind))
    p = dataclasses.replace(point("rp", NOW), kind_evidence=evidence)
    flow.set_points([p])
    flow.choose_point("rp")
    kind = [i for i in flow.issues(Step.SOURCE) if i.field == "source.kind"]
    assert flow.can_advance(Step.SOURCE) is not blocks
    assert [i.blocks for i in kind] == ([True] if blocks else [False] if warns else [])
    # Everything else ready: only the point's kind decides whether a plan can be made.
    flow.set_accounts([account("stweu")])
    flow.choose_account(flow.accounts[0].id)
    flow.set_containers(flow.accounts[0].id, [BlobContainer(flow.accounts[0].id, "restores", "")])
    flow.choose_container("restores", new=False)
    flow.update(download_dir="/var/tmp/restore")
    if blocks:
        assert "only as a server" in kind[0].message
        with pytest.raises(InvalidPlan):
            flow.plan()  # nothing can start a restore-as-files of it
    else:
        assert flow.plan().source is not None


def test_secondary_points_are_separate_and_switching_clears_choice() -> None:
    flow = RestoreFlow(source(vault(grs=True, crr=True)))
    flow.set_points([point("p1", NOW)])
    flow.set_points([point("s1", NOW - timedelta(days=1), "northeurope")], secondary=True)
    flow.choose_point("p1")
    flow.set_secondary(True)
    assert flow.draft.recovery_point is None
    assert [p.recovery_point_id for p in flow.visible_points()] == ["s1"]
    assert flow.restore_region() == "northeurope"


def test_point_days_are_local_dates() -> None:
    flow = RestoreFlow(source())
    when = NOW - timedelta(days=2)
    flow.set_points([point("a", when)])
    assert flow.point_days() == {when.astimezone().date()}
    assert [p.recovery_point_id for p in flow.points_on(when.astimezone().date())] == ["a"]


def test_unprotected_source_blocks_unless_incident_mode() -> None:
    flow = RestoreFlow(RestoreSource(server=server()))
    assert not flow.can_advance(Step.SOURCE)
    flow.set_incident(IncidentSource.FOLDER, folder="/data/files")
    assert flow.can_advance(Step.SOURCE)


# -- container ------------------------------------------------------------------------------


def test_accounts_outside_vault_region_are_excluded_with_reason() -> None:
    flow = RestoreFlow(source())
    flow.set_accounts(
        [account("stweu"), account("stneu", "northeurope"), account("stus", "eastus")]
    )
    offered = [o.account.name for o in flow.offered_accounts()]
    excluded = {o.account.name: o.reason for o in flow.excluded_accounts()}
    assert offered == ["stweu"]
    assert set(excluded) == {"stneu", "stus"}
    assert "westeurope" in excluded["stus"]
    flow.choose_account(account("stus", "eastus").id)
    assert flow.selected_account() is None


def test_cross_region_offers_only_paired_region_accounts() -> None:
    flow = RestoreFlow(source(vault(grs=True, crr=True)))
    flow.set_accounts([account("stweu"), account("stneu", "northeurope")])
    flow.set_secondary(True)
    assert [o.account.name for o in flow.offered_accounts()] == ["stneu"]
    assert "northeurope" in flow.excluded_accounts()[0].reason


def test_other_tenant_account_is_excluded() -> None:
    flow = RestoreFlow(source(), tenant_of={SUB: TENANT, SUB2: "other-tenant"})
    flow.set_accounts([account("stother", sub=SUB2)])
    assert flow.offered_accounts() == []
    assert "tenant" in flow.excluded_accounts()[0].reason


def test_cross_tenant_replication_issue_and_fix() -> None:
    flow = ready_flow()
    flow.set_accounts([account("stweu", xtr=False)])
    assert Fix.CROSS_TENANT in flow.offered_fixes()
    assert not flow.can_advance(Step.CONTAINER)
    flow.toggle_fix(Fix.CROSS_TENANT, True)
    assert flow.can_advance(Step.CONTAINER)
    assert flow.commit_fixes() == [Fix.CROSS_TENANT]


def test_missing_role_blocks_until_grant_chosen() -> None:
    flow = ready_flow()
    acct = flow.accounts[0]
    flow.set_assignments(acct.id, [])
    assert any(i.field == "target.role" and i.blocks for i in flow.issues(Step.CONTAINER))
    flow.toggle_fix(Fix.GRANT_ROLE, True)
    assert flow.can_advance(Step.CONTAINER)
    assert flow.role_template()["resources"]
    granted = RoleAssignment(
        "ra",
        str(acct.id),
        "/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "vault-principal",
    )
    flow.set_assignments(acct.id, [granted])
    assert Fix.GRANT_ROLE not in flow.offered_fixes()


def test_new_container_needs_create_fix_and_valid_name() -> None:
    flow = ready_flow()
    flow.choose_container("Bad_Name", new=True)
    assert not flow.can_advance(Step.CONTAINER)
    flow.choose_container("new-restores", new=True)
    assert not flow.can_advance(Step.CONTAINER)
    flow.toggle_fix(Fix.CREATE_CONTAINER, True)
    assert flow.can_advance(Step.CONTAINER)


def test_sas_read_needs_a_pasted_sas_and_plan_names_only_the_entry() -> None:
    flow = ready_flow()
    flow.update(read_access=ReadAccess.SAS)
    assert not flow.can_advance(Step.CONTAINER)
    flow.update(sas_supplied=True)
    assert flow.can_advance(Step.CONTAINER)
    plan = flow.plan()
    assert plan.container.sas_entry == "sas:https://stweu.blob.core.windows.net/restores"


# -- incident mode --------------------------------------------------------------------------


def test_incident_mode_skips_azure_steps() -> None:
    flow = RestoreFlow(source())
    flow.set_incident(IncidentSource.CONTAINER, url="https://old.blob.core.windows.net/files")
    flow.update(sas_supplied=True, download_dir="/tmp/x")
    assert flow.steps() == [Step.SOURCE, Step.SERVER, Step.SUMMARY]
    assert flow.can_advance(Step.SOURCE)  # no recovery point needed
    assert flow.can_advance(Step.CONTAINER)  # no account, role or region checks
    plan = flow.plan()
    assert plan.source is None
    assert plan.incident_mode
    assert plan.container.url == "https://old.blob.core.windows.net/files"
    assert plan.container.sas_entry.startswith("sas:")


def test_incident_url_with_sas_in_it_is_refused() -> None:
    flow = RestoreFlow(source())
    flow.set_incident(IncidentSource.CONTAINER, url="https://a.blob.core.windows.net/c?sig=abc")
    assert not flow.can_advance(Step.SOURCE)


def test_incident_folder_needs_no_download_dir() -> None:
    flow = RestoreFlow(source())
    flow.set_incident(IncidentSource.FOLDER, folder="/data/dumps")
    plan = flow.plan()
    assert plan.container.local_dir == "/data/dumps"
    assert plan.source is None


# -- target server --------------------------------------------------------------------------


def test_defaults_come_from_source_server() -> None:
    flow = RestoreFlow(source())
    d = flow.draft
    assert (d.version, d.sku_name, d.storage_gb, d.admin_login) == (
        "15",
        "Standard_D4ds_v5",
        256,
        "dba",
    )
    assert d.server_name == "pg-orders-restored"


def test_version_rule_for_new_server() -> None:
    flow = ready_flow()
    assert flow.allowed_versions() == ["15", "16", "17", "18"]
    flow.update(version="14")
    assert any(i.field == "server.version" and i.blocks for i in flow.issues(Step.SERVER))
    flow.update(version="17")
    assert flow.can_advance(Step.SERVER)


def test_version_rule_for_existing_server_and_warning() -> None:
    flow = ready_flow()
    old, new = server("pg-old", "13"), server("pg-new", "16")
    flow.set_servers([old, new])
    flow.update(target_mode="existing", existing_server_id=old.id)
    assert not flow.can_advance(Step.SERVER)
    flow.update(existing_server_id=new.id)
    assert flow.can_advance(Step.SERVER)
    assert any("never overwritten" in i.message for i in flow.issues(Step.SERVER))


def test_new_server_name_must_be_free_and_valid() -> None:
    flow = ready_flow()
    flow.set_servers([server("taken")])
    flow.update(server_name="taken")
    assert not flow.can_advance(Step.SERVER)
    flow.update(server_name="No_Good")
    assert not flow.can_advance(Step.SERVER)


def test_roles_note_says_no_passwords() -> None:
    flow = ready_flow()
    flow.update(roles=True)
    assert any("no passwords" in i.message for i in flow.issues(Step.SERVER))


def test_low_free_space_warns() -> None:
    flow = ready_flow()
    flow.set_free_space("/var/tmp/restore", 10 * 1024**2)
    issues = flow.issues(Step.SERVER)
    assert any(i.field == "server.download" and not i.blocks for i in issues)
    flow.set_free_space("/elsewhere", 0)  # stale answer for another folder: ignored
    assert flow.free_bytes == 10 * 1024**2


# -- plan -----------------------------------------------------------------------------------


def test_plan_refused_while_blocking() -> None:
    with pytest.raises(InvalidPlan):
        RestoreFlow(source()).plan()


def test_plan_contents_and_no_secrets() -> None:
    flow = ready_flow()
    flow.update(databases=("orders",), roles=True, jobs=4, stop_on_first_failure=False)
    plan = flow.plan()
    assert plan.source is not None
    assert plan.source.recovery_point_id == "rp1"
    assert plan.source.vault_location == "westeurope"
    assert plan.container.url == "https://stweu.blob.core.windows.net/restores"
    assert plan.container.arm_id.endswith("/blobServices/default/containers/restores")
    assert plan.target.mode == "new"
    assert plan.target.server_id.endswith("/flexibleServers/pg-orders-restored")
    assert plan.target.password_entry.startswith("server-admin:")
    assert (plan.databases, plan.roles, plan.jobs) == (("orders",), True, 4)
    text = json.dumps(plan.to_json())  # to_json refuses secrets too
    assert "password" not in text.replace("password_entry", "")
    assert "sig=" not in text


def test_cross_region_plan() -> None:
    flow = RestoreFlow(source(vault(grs=True, crr=True)))
    flow.set_secondary(True)
    flow.set_points([point("s1", NOW, "northeurope")], secondary=True)
    flow.choose_point("s1")
    flow.set_accounts([account("stneu", "northeurope")])
    flow.choose_account(flow.accounts[0].id)
    flow.choose_container("restores", new=False)
    flow.update(download_dir="/tmp/r")
    plan = flow.plan()
    assert plan.source is not None
    assert plan.source.cross_region
    assert plan.source.vault_location == "northeurope"
    assert plan.source.source_region == "westeurope"


def test_flow_imports_no_qt() -> None:
    assert "pgflex_gui.ui.wizards.restore.flow" in sys.modules
    # flow.py itself must not import PySide6 (it may already be loaded by other tests).
    import pgflex_gui.ui.wizards.restore.flow as flow_module

    assert "PySide6" not in Path(flow_module.__file__).read_text(encoding="utf-8")


def test_listeners_fire_on_change() -> None:
    flow = RestoreFlow(source())
    seen: list[int] = []
    flow.subscribe(lambda: seen.append(1))
    flow.update(jobs=2)
    flow.update(jobs=2)
    assert seen == [1]


def test_times_show_local_and_utc_once_each() -> None:
    from datetime import timedelta, timezone

    from pgflex_gui.ui.wizards.restore.flow import describe_time

    when = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
    berlin_summer = timezone(timedelta(hours=2), "CEST")
    assert (
        describe_time(when, local_zone=berlin_summer)
        == "2026-06-01 14:30 CEST (2026-06-01 12:30 UTC)"
    )
    assert describe_time(when, local_zone=UTC) == "2026-06-01 12:30 UTC"
