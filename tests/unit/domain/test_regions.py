"""Region names and pairs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgflex_gui.domain.models import Region
from pgflex_gui.domain.regions import (
    NO_PAIR_REGIONS,
    REGION_PAIRS,
    RESTRICTED_REGIONS,
    is_restore_region_allowed,
    normalize_region,
    paired_region,
    same_region,
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
    assert same_region("North Europe", "northeurope")


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
    assert is_restore_region_allowed("westeurope", "France Central", regions)


def test_restore_region_rules() -> None:
    assert is_restore_region_allowed("westeurope", "West Europe")
    assert is_restore_region_allowed("westeurope", "northeurope")
    assert not is_restore_region_allowed("westeurope", "eastus")
    assert is_restore_region_allowed("westus3", "eastus")
    assert not is_restore_region_allowed("eastus", "westus3")  # asymmetric
    assert not is_restore_region_allowed("italynorth", "westeurope")


@given(st.sampled_from(sorted(REGION_PAIRS)), st.sampled_from(sorted(REGION_PAIRS)))
def test_restore_allowed_iff_same_or_pair(a: str, b: str) -> None:
    assert is_restore_region_allowed(a, b) == (a == b or REGION_PAIRS[a] == b)
    assert is_restore_region_allowed(a.upper(), b.title()) == is_restore_region_allowed(a, b)
