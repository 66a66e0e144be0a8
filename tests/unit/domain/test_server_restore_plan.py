"""The restore-as-server plan file: parsed strictly, told apart from a v1 plan by its kind."""

from __future__ import annotations

from typing import Any

import pytest

from pgflex_gui.domain.server_restore_plan import (
    PLAN_KIND,
    ServerRestorePlan,
    is_server_restore_plan,
)

SUB = "/subscriptions/aaaaaaaa-0000-0000-0000-000000000001/resourceGroups/rg"
BI = f"{SUB}/providers/Microsoft.DataProtection/backupVaults/bv/backupInstances/pg-src-bi"
SRC = f"{SUB}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-src"
TGT = f"{SUB}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-tgt"


def data(**changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": 1,
        "kind": PLAN_KIND,
        "source": {"backup_instance_id": BI, "recovery_point_id": "rp1", "server_id": SRC},
        "target": {"server_id": TGT},
        "grant_role": True,
    }
    out.update(changes)
    return out


def test_round_trip_and_ids() -> None:
    plan = ServerRestorePlan.from_json(data())
    assert ServerRestorePlan.from_json(plan.to_json()) == plan
    assert plan.vault_id.name == "bv"
    assert plan.target_name == "pg-tgt"
    assert plan.grant_role


def test_only_its_kind_is_read() -> None:
    assert is_server_restore_plan(data())
    assert not is_server_restore_plan({"version": 1, "source": {}})  # a v1 (as files) plan
    with pytest.raises(ValueError, match="kind"):
        ServerRestorePlan.from_json({**data(), "kind": "restore-as-files"})


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"target": {"server_id": SRC}}, "must not be the source"),
        ({"target": {"server_id": BI}}, "flexible server's ARM id"),
        ({"source": {"backup_instance_id": SRC, "recovery_point_id": "rp1", "server_id": SRC}},
         "backup instance's ARM id"),
        ({"source": {"backup_instance_id": BI, "recovery_point_id": " ", "server_id": SRC}},
         "recovery_point_id is missing"),
        ({"source": {"backup_instance_id": BI, "recovery_point_id": "rp1"}},
         "protected flexible server"),
        ({"target": {"server_id": TGT, "password": "x"}}, "unknown field"),
        ({"version": 2}, "unsupported plan version"),
    ],
)  # fmt: skip
def test_bad_plans_say_why(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        ServerRestorePlan.from_json(data(**changes))
