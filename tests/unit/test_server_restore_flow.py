"""The restore-as-server wizard's flow (Qt-free): what it offers, what blocks, the plan."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from pgflex_gui.domain.models import RecoveryPoint
from pgflex_gui.domain.restore_as_server import CheckStatus, TargetCheck
from pgflex_gui.ui.wizards.restore_server.flow import InvalidPlan, ServerRestoreFlow, ServerStep
from tests.unit.domain.factories import instance, server, vault

SRC = server("pg-src", version="15", storage_gb=128, storage_type="Premium_LRS")
VAULT = vault("bv")
BI = dataclasses.replace(instance(SRC, VAULT), backup_kind="v2")


def _point(rp: str, day: int, evidence: str = "") -> RecoveryPoint:
    return RecoveryPoint(
        id=BI.id.child("recoveryPoints", rp),
        recovery_point_id=rp,
        time=datetime(2026, 12, day, 2, tzinfo=UTC),
        kind_evidence=evidence,
    )


def _check(key: str, status: CheckStatus) -> TargetCheck:
    return TargetCheck(key, key, status, f"{key} {status.value}", f"fix {key}")


def _flow() -> ServerRestoreFlow:
    flow = ServerRestoreFlow(VAULT, BI, SRC)
    flow.set_points([_point("old", 1), _point("v1", 6, "v1"), _point("new", 5)])
    return flow


def test_newest_usable_point_is_preselected_and_a_v1_point_blocks() -> None:
    flow = _flow()
    assert flow.point is not None
    assert flow.point.recovery_point_id == "new"  # the v1 point (newer) restores as files
    assert flow.can_advance(ServerStep.POINT)
    flow.choose_point("v1")
    assert not flow.can_advance(ServerStep.POINT)
    assert "restores as files" in flow.issues(ServerStep.POINT)[0].message


def test_targets_are_the_vault_region_servers_except_the_source() -> None:
    flow = _flow()
    flow.set_targets(
        [
            SRC,
            server("pg-weu", version="15"),
            server("pg-neu", location="northeurope"),
            server("pg-burst", sku_tier="Burstable"),
        ]
    )
    assert [c.server.name for c in flow.targets or ()] == ["pg-burst", "pg-weu"]
    assert flow.other_region == 1
    assert "Burstable" in (flow.targets or [])[0].label


def test_checks_of_a_target_picked_before_are_ignored() -> None:
    flow = _flow()
    flow.set_targets([server("a"), server("b")])
    flow.choose_target(str(server("a").id))
    flow.choose_target(str(server("b").id))
    flow.set_checks(str(server("a").id), [_check("exists", CheckStatus.PASS)])
    assert flow.checks is None  # still waiting for b's
    assert not flow.can_advance(ServerStep.TARGET)


def test_a_missing_role_alone_is_fixable_and_goes_into_the_plan() -> None:
    flow = _flow()
    target = server("pg-tgt", version="15")
    flow.set_targets([target])
    flow.choose_target(str(target.id))
    with pytest.raises(InvalidPlan):
        flow.plan()  # not checked yet
    flow.set_checks(
        str(target.id),
        [
            _check("empty", CheckStatus.PASS),
            _check("disk_size", CheckStatus.UNKNOWN),
            _check("role", CheckStatus.FAIL),
        ],
    )
    assert flow.role_fixable
    assert flow.can_advance(ServerStep.TARGET)  # ticked by default
    severities = [i.severity.value for i in flow.issues(ServerStep.TARGET)]
    assert severities == ["warning", "info"]  # unknown disk size warns; the role is planned
    plan = flow.plan()
    assert plan.grant_role
    assert plan.target_server_id == str(target.id)
    assert plan.source_server_id == str(SRC.id)
    assert plan.recovery_point_id == "new"
    flow.set_grant_role(False)
    assert not flow.can_advance(ServerStep.TARGET)
    with pytest.raises(InvalidPlan, match="role fail"):
        flow.plan()


def test_another_broken_rule_makes_the_role_not_fixable() -> None:
    flow = _flow()
    target = server("pg-full", version="15")
    flow.set_targets([target])
    flow.choose_target(str(target.id))
    flow.set_checks(
        str(target.id), [_check("empty", CheckStatus.FAIL), _check("role", CheckStatus.FAIL)]
    )
    assert not flow.role_fixable
    assert not flow.can_advance(ServerStep.TARGET)
    issues = flow.issues(ServerStep.TARGET)
    assert (issues[0].message, issues[0].remedy) == ("empty fail", "fix empty")


def test_no_server_in_the_region_says_what_to_create() -> None:
    flow = _flow()
    flow.set_targets([server("pg-neu", location="northeurope")])
    issue = flow.issues(ServerStep.TARGET)[0]
    assert issue.blocks
    assert "PostgreSQL 15" in issue.remedy
    assert "128 GB Premium SSD" in issue.remedy
    assert "westeurope" in issue.remedy
