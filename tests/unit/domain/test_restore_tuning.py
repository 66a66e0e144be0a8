"""Restore-time server parameters: what is changed, to what, and what goes back."""

from __future__ import annotations

from pgflex_gui.domain.restore_tuning import (
    TUNED_PARAMETERS,
    ParameterChange,
    memory_gib_for_sku,
    restore_tuning,
)

DEFAULTS = {
    "max_wal_size": "12288",
    "checkpoint_timeout": "600",
    "maintenance_work_mem": "216064",
    "work_mem": "4096",
    "autovacuum": "on",
    "wal_compression": "off",
    "max_parallel_maintenance_workers": "2",
}


def test_microsofts_values_scaled_to_a_small_server() -> None:
    changes = {c.name: c for c in restore_tuning(DEFAULTS, vcores=2, memory_gib=8)}
    assert {n: c.tuned for n, c in changes.items()} == {
        "max_wal_size": "65536",
        "checkpoint_timeout": "3600",
        "maintenance_work_mem": "1048576",  # an eighth of 8 GiB, not the documented 2 GB
        "work_mem": "32768",
        "autovacuum": "off",
        "wal_compression": "on",
    }
    assert all(c.original == DEFAULTS[n] for n, c in changes.items())
    assert changes["autovacuum"].line == "autovacuum: on -> off"


def test_big_servers_get_the_documented_2_gb_and_4_workers() -> None:
    changes = {c.name: c.tuned for c in restore_tuning(DEFAULTS, vcores=16, memory_gib=128)}
    assert changes["maintenance_work_mem"] == "2097151"
    assert changes["max_parallel_maintenance_workers"] == "4"


def test_values_already_high_enough_or_unknown_are_left_alone() -> None:
    current = {**DEFAULTS, "max_wal_size": "65536", "work_mem": "65536", "autovacuum": "OFF"}
    del current["wal_compression"]
    names = {c.name for c in restore_tuning(current, vcores=2, memory_gib=8)}
    assert names == {"checkpoint_timeout", "maintenance_work_mem"}
    # A value with a unit is changed and put back exactly as it was read.
    [change] = restore_tuning({"max_wal_size": "12GB"}, vcores=2, memory_gib=8)
    assert change == ParameterChange("max_wal_size", "12GB", "65536")
    assert ParameterChange("work_mem", "", "32768").line == "work_mem: (default) -> 32768"
    assert set(TUNED_PARAMETERS) == set(DEFAULTS)


def test_memory_of_a_sku() -> None:
    assert memory_gib_for_sku("Standard_D2ds_v5", 2) == 8
    assert memory_gib_for_sku("Standard_E4ds_v5", 4) == 32
    assert memory_gib_for_sku("Standard_B1ms", 1) == 2
    assert memory_gib_for_sku("Custom", 0) == 4
