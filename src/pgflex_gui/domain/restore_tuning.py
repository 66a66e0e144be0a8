"""Server parameters for a fast pg_restore into a flexible server, and putting them back.

Microsoft's best practices for pg_restore into a new or non-production flexible server
(MicrosoftDocs/azure-databases-docs ``articles/postgresql/troubleshoot/how-to-pgdump-restore.md``)
set, before the load: ``work_mem`` 32 MB, ``max_wal_size`` 64 GB, ``checkpoint_timeout`` 60 min,
``maintenance_work_mem`` 2 GB ("on a small server with 2, 4 or 8 vCores, set accordingly"),
``autovacuum`` off, ``wal_compression`` on, ``max_parallel_maintenance_workers`` relative to
the vCores; and afterwards "make sure all these parameters are updated as per workload
requirements" and analyze every table. This module computes the tuned values and the
original values to restore; the engine applies them through ARM, journaled.

Values are in each parameter's base unit, as ARM takes them (kB, MB, s).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "TUNED_PARAMETERS",
    "ParameterChange",
    "memory_gib_for_sku",
    "restore_tuning",
]

TUNED_PARAMETERS = (
    "max_wal_size",
    "checkpoint_timeout",
    "maintenance_work_mem",
    "work_mem",
    "autovacuum",
    "wal_compression",
    "max_parallel_maintenance_workers",
)

_MWM_MAX_KB = 2_097_151  # the documented 2 GB (the parameter's maximum on flex)

# GiB of memory per vCore by the SKU's series letter (Burstable B, General Purpose D,
# Memory Optimized E).
_GIB_PER_VCORE = {"B": 2.0, "D": 4.0, "E": 8.0}


@dataclass(frozen=True)
class ParameterChange:
    """One parameter: the value it had, and the value it gets for the restore."""

    name: str
    original: str
    tuned: str

    @property
    def line(self) -> str:
        """``name: original -> tuned``."""
        return f"{self.name}: {self.original or '(default)'} -> {self.tuned}"


def memory_gib_for_sku(sku_name: str, vcores: int) -> float:
    """The memory of a flexible server SKU such as ``Standard_D2ds_v5`` (an estimate)."""
    series = sku_name.removeprefix("Standard_")[:1].upper()
    return max(1.0, _GIB_PER_VCORE.get(series, 4.0) * max(1, vcores))


def _tuned_values(*, vcores: int, memory_gib: float) -> dict[str, str]:
    # 2 GB on big servers; an eighth of memory on small ones (8 GiB -> 1 GiB).
    mwm_kb = min(_MWM_MAX_KB, int(memory_gib * 1024 * 1024 / 8))
    return {
        "max_wal_size": "65536",
        "checkpoint_timeout": "3600",
        "maintenance_work_mem": str(mwm_kb),
        "work_mem": "32768",
        "autovacuum": "off",
        "wal_compression": "on",
        "max_parallel_maintenance_workers": str(max(1, min(4, vcores))),
    }


def _same(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def restore_tuning(
    current: Mapping[str, str], *, vcores: int, memory_gib: float
) -> list[ParameterChange]:
    """The changes to make, given the server's ``current`` values (unknown ones are left).

    A parameter already at (or above, for sizes) its tuned value is left alone, so only what
    the engine really changed is put back.
    """
    out: list[ParameterChange] = []
    for name, tuned in _tuned_values(vcores=vcores, memory_gib=memory_gib).items():
        if name not in current:
            continue
        now = current[name]
        if _same(now, tuned):
            continue
        if name in {"max_wal_size", "checkpoint_timeout", "maintenance_work_mem", "work_mem"}:
            try:
                if int(now) >= int(tuned):
                    continue
            except ValueError:
                pass  # a value with a unit (e.g. "12GB"): change it, put it back as it was
        out.append(ParameterChange(name, now, tuned))
    return out
