"""Azure region names and the static region-pair table (azure-facts §4).

The table comes from MicrosoftDocs/reliability-docs ``regions-list.md`` (09/2025). Some pairs
are one-way: ``westus3`` pairs with ``eastus`` but ``eastus`` pairs with ``westus``. Runtime
metadata (``Region.paired`` from the locations API) overrides the table when given.
"""

from __future__ import annotations

from collections.abc import Iterable

from pgflex_gui.domain.models import Region

__all__ = [
    "NO_PAIR_REGIONS",
    "REGION_PAIRS",
    "RESTRICTED_REGIONS",
    "normalize_region",
    "paired_region",
]

_SYMMETRIC = (
    ("australiacentral", "australiacentral2"),
    ("australiaeast", "australiasoutheast"),
    ("canadacentral", "canadaeast"),
    ("centralindia", "southindia"),
    ("centralus", "eastus2"),
    ("eastus", "westus"),
    ("northcentralus", "southcentralus"),
    ("westcentralus", "westus2"),
    ("eastasia", "southeastasia"),
    ("japaneast", "japanwest"),
    ("koreacentral", "koreasouth"),
    ("francecentral", "francesouth"),
    ("germanywestcentral", "germanynorth"),
    ("northeurope", "westeurope"),
    ("norwayeast", "norwaywest"),
    ("southafricanorth", "southafricawest"),
    ("switzerlandnorth", "switzerlandwest"),
    ("uaenorth", "uaecentral"),
    ("uksouth", "ukwest"),
)
_ONE_WAY = (
    ("brazilsouth", "southcentralus"),
    ("brazilsoutheast", "brazilsouth"),
    ("westindia", "southindia"),
    ("westus3", "eastus"),
    ("swedencentral", "swedensouth"),
)

REGION_PAIRS: dict[str, str] = {
    **dict(_SYMMETRIC),
    **{b: a for a, b in _SYMMETRIC},
    **dict(_ONE_WAY),
}
"""Region → its paired (secondary) region."""

RESTRICTED_REGIONS = frozenset(
    {
        "australiacentral2",
        "brazilsoutheast",
        "francesouth",
        "germanynorth",
        "norwaywest",
        "southafricawest",
        "swedensouth",
        "switzerlandwest",
        "uaecentral",
    }
)
"""Regions open only to some customers (mostly as the secondary of a pair)."""

NO_PAIR_REGIONS = frozenset(
    {
        "austriaeast",
        "belgiumcentral",
        "chilecentral",
        "denmarkeast",
        "indonesiacentral",
        "israelcentral",
        "italynorth",
        "malaysiawest",
        "mexicocentral",
        "newzealandnorth",
        "polandcentral",
        "qatarcentral",
        "spaincentral",
    }
)
"""Regions without a pair: no cross-region restore from vaults there."""


def normalize_region(name: str) -> str:
    """``"West Europe"`` → ``"westeurope"``: lower case, spaces removed."""
    return "".join(name.split()).lower()


def paired_region(name: str, regions: Iterable[Region] = ()) -> str | None:
    """The paired region of ``name``; None for unpaired or unknown regions.

    ``regions`` (from the locations API) takes precedence over the static table.
    """
    key = normalize_region(name)
    for region in regions:
        if normalize_region(region.name) == key and region.paired:
            return normalize_region(region.paired[0])
    return REGION_PAIRS.get(key)
