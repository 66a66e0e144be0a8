"""Region names and pairs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgflex_gui.domain.models import Region
from pgflex_gui.domain.regions import (
    NO_PAIR_REGIONS,
    REGION_PAIRS,
    RESTRICTED_REGIONS,
    normalize_region,
    paired_region,
)

ONE_WAY = {
    "brazilsouth": "southcentralus",
    "brazilsoutheast": "brazilsouth",
    "westindia": "southindia",
    "westus3": "eastus",
    "swedencentral": "swedensouth",
}


def test_normalisation() -> None:
    assert normalize_region("West Europe") == "westeurope"
    assert normalize_region("  westus3 ") == "westus3"
    assert normalize_region("North Europe") == normalize_region("northeurope")


@pytest.mark.parametrize(
    ("region", "pair"),
    [
        ("West Europe", "northeurope"),
        ("northeurope", "westeurope"),
        ("eastus", "westus"),
        ("westus3", "eastus"),
        ("brazilsouth", "southcentralus"),
        ("southcentralus", "northcentralus"),
        ("Germany West Central", "germanynorth"),
        ("italynorth", None),
        ("atlantis", None),
    ],
)
def test_paired_region(region: str, pair: str | None) -> None:
    assert paired_region(region) == pair


def test_table_shape() -> None:
    for a, b in REGION_PAIRS.items():
        assert a == normalize_region(a)
        assert b == normalize_region(b)
        assert a != b
        if a in ONE_WAY:
            assert ONE_WAY[a] == b
        else:
            assert REGION_PAIRS[b] == a, (a, b)  # symmetric except the one-way pairs
    for a, b in ONE_WAY.items():
        assert REGION_PAIRS.get(b) != a
    assert not NO_PAIR_REGIONS & set(REGION_PAIRS)
    assert set(REGION_PAIRS) | set(REGION_PAIRS.values()) >= RESTRICTED_REGIONS


def test_runtime_metadata_overrides_the_table() -> None:
    regions = [Region("westeurope", "West Europe", ("francecentral",)), Region("eastus")]
    assert paired_region("West Europe", regions) == "francecentral"
    assert paired_region("eastus", regions) == "westus"  # empty metadata falls back
    assert paired_region("France Central", regions) == REGION_PAIRS["francecentral"]


def test_pairs_are_not_always_symmetric() -> None:
    assert paired_region("westeurope") == "northeurope"
    assert paired_region("westus3") == "eastus"
    assert paired_region("eastus") != "westus3"  # asymmetric
    assert paired_region("italynorth") is None


@given(st.sampled_from(sorted(REGION_PAIRS)))
def test_paired_region_ignores_case_and_spacing(a: str) -> None:
    assert paired_region(a.upper()) == REGION_PAIRS[a]
    assert paired_region(f"  {a.title()} ") == REGION_PAIRS[a]
