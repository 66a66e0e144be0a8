"""Where a restore goes: a new server's placement, an existing server's fitness (domain and flow)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from pgflex_gui.domain.models import Subscription
from pgflex_gui.domain.restore_target import (
    existing_target_issues,
    existing_target_refusal,
    new_server_placement_issues,
    resource_group_problem,
)
from pgflex_gui.ui.wizards.restore.flow import IncidentSource, RestoreFlow, RestoreSource, Step
from tests.unit.test_restore_flow import NOW, SUB, TENANT, point, ready_flow, server, source


def test_each_missing_placement_field_is_asked_for_on_its_own() -> None:
    fields = [i.field for i in new_server_placement_issues("", "", "")]
    assert fields == ["server.subscription", "server.resource_group", "server.location"]
    assert [i.field for i in new_server_placement_issues(SUB, "rg-x", "")] == ["server.location"]
    assert new_server_placement_issues(SUB, "rg-x", "westeurope") == []


def test_resource_group_names() -> None:
    assert resource_group_problem("rg-pg_(1).x") == ""
    assert "not a valid" in resource_group_problem("rg.")
    assert "not a valid" in resource_group_problem("rg pg")
    assert "not a valid" in resource_group_problem("r" * 91)


def test_existing_targets_must_run_in_the_restore_region() -> None:
    ready = server("pg-ok")
    stopped = dataclasses.replace(server("pg-off"), state="Stopped")
    far = dataclasses.replace(server("pg-far"), location="East US")
    assert existing_target_refusal(ready, restore_region="westeurope") == ""
    assert "stopped" in existing_target_refusal(stopped, restore_region="westeurope")
    assert "eastus" in existing_target_refusal(far, restore_region="westeurope")
    assert existing_target_refusal(far, restore_region="") == ""  # region unknown: no rule


def test_the_source_server_needs_its_own_confirmation() -> None:
    src = server()
    blocked = existing_target_issues(
        src, restore_region="westeurope", source_server_id=src.id, source_confirmed=False
    )
    assert [i.blocks for i in blocked] == [True]
    confirmed = existing_target_issues(
        src, restore_region="westeurope", source_server_id=src.id, source_confirmed=True
    )
    assert [i.blocks for i in confirmed] == [False]


def test_flow_offers_the_source_server_only_after_confirmation() -> None:
    flow = ready_flow()
    src = flow.source.server
    assert src is not None
    other, stopped = server("pg-other"), dataclasses.replace(server("pg-off"), state="Stopped")
    flow.set_servers([src, other, stopped])
    names = {s.name: why for s, why in flow.existing_choices()}
    assert set(names) == {"pg-other", "pg-off"}
    assert names["pg-other"] == ""
    assert "stopped" in names["pg-off"]
    flow.update(target_mode="existing", existing_server_id=stopped.id)
    assert not flow.can_advance(Step.SERVER)
    flow.set_allow_source_target(True)
    assert {s.name for s, _ in flow.existing_choices()} == {"pg-orders", "pg-other", "pg-off"}
    flow.update(existing_server_id=src.id)
    assert flow.can_advance(Step.SERVER)
    assert any(i.field == "server.source" and not i.blocks for i in flow.issues(Step.SERVER))
    flow.set_allow_source_target(False)  # taking the confirmation back drops the choice
    assert flow.draft.existing_server_id is None
    assert not flow.can_advance(Step.SERVER)


def test_nothing_selected_starts_in_incident_mode_and_places_a_new_server() -> None:
    flow = RestoreFlow(RestoreSource())
    assert not flow.source.selected
    assert flow.draft.incident is IncidentSource.CONTAINER
    assert flow.steps() == [Step.SOURCE, Step.SERVER, Step.SUMMARY]
    flow.set_incident(IncidentSource.FOLDER, folder="/data/files")
    flow.update(server_name="pg-from-files")
    issues = {i.field for i in flow.issues(Step.SERVER) if i.blocks}
    assert issues == {"server.subscription", "server.resource_group", "server.location",
                      "server.version"}  # fmt: skip
    flow.set_subscriptions([Subscription(SUB, "Production", TENANT)])
    assert flow.draft.server_subscription == SUB  # the only one is the default
    flow.set_regions(SUB, ["westeurope", "northeurope"])
    assert flow.region_choices() == ["northeurope", "westeurope"]
    flow.update(server_resource_group="rg-db")  # typing it clears its issue at once
    assert {i.field for i in flow.issues(Step.SERVER) if i.blocks} == {
        "server.location",
        "server.version",
    }
    flow.update(location="westeurope", version="18")
    assert flow.can_advance(Step.SERVER), flow.issues(Step.SERVER)
    assert flow.plan().target.server_id.endswith("/resourceGroups/rg-db/providers/"
                                                 "Microsoft.DBforPostgreSQL/flexibleServers/pg-from-files")  # fmt: skip


def test_a_recovery_point_node_preselects_its_point() -> None:
    base = source()
    rp = point("rp-old", NOW - timedelta(days=7))
    flow = RestoreFlow(dataclasses.replace(base, recovery_point=rp))
    assert flow.draft.recovery_point == rp
    flow.set_points([point("rp-new", NOW), point("rp-old", NOW - timedelta(days=7))])
    assert flow.draft.recovery_point is not None
    assert flow.draft.recovery_point.recovery_point_id == "rp-old"
    assert not any(i.field == "source.point" for i in flow.issues(Step.SOURCE))


def test_each_restore_names_its_files_and_reads_only_those() -> None:
    flow = ready_flow(now=lambda: NOW)
    assert flow.draft.file_prefix == "pg-orders-20250602-120000"
    plan = flow.plan()
    assert plan.container.file_prefix == "pg-orders-20250602-120000"
    assert plan.container.prefix == "pg-orders-20250602-120000_"  # not an earlier restore's
    later = ready_flow(now=lambda: NOW + timedelta(seconds=1))
    assert later.draft.file_prefix != flow.draft.file_prefix
