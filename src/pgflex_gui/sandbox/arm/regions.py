"""Azure regions and their real pairs (azure-facts.md §4)."""

from __future__ import annotations

__all__ = ["PAIRS", "REGIONS", "paired_region"]

# programmatic name -> (display name, geography)
REGIONS: dict[str, tuple[str, str]] = {
    "australiacentral": ("Australia Central", "Australia"),
    "australiacentral2": ("Australia Central 2", "Australia"),
    "australiaeast": ("Australia East", "Australia"),
    "australiasoutheast": ("Australia Southeast", "Australia"),
    "brazilsouth": ("Brazil South", "Brazil"),
    "brazilsoutheast": ("Brazil Southeast", "Brazil"),
    "canadacentral": ("Canada Central", "Canada"),
    "canadaeast": ("Canada East", "Canada"),
    "centralindia": ("Central India", "India"),
    "southindia": ("South India", "India"),
    "westindia": ("West India", "India"),
    "centralus": ("Central US", "United States"),
    "eastus": ("East US", "United States"),
    "eastus2": ("East US 2", "United States"),
    "westus": ("West US", "United States"),
    "westus2": ("West US 2", "United States"),
    "westus3": ("West US 3", "United States"),
    "northcentralus": ("North Central US", "United States"),
    "southcentralus": ("South Central US", "United States"),
    "westcentralus": ("West Central US", "United States"),
    "eastasia": ("East Asia", "Asia Pacific"),
    "southeastasia": ("Southeast Asia", "Asia Pacific"),
    "japaneast": ("Japan East", "Japan"),
    "japanwest": ("Japan West", "Japan"),
    "koreacentral": ("Korea Central", "Korea"),
    "koreasouth": ("Korea South", "Korea"),
    "francecentral": ("France Central", "France"),
    "francesouth": ("France South", "France"),
    "germanywestcentral": ("Germany West Central", "Germany"),
    "germanynorth": ("Germany North", "Germany"),
    "northeurope": ("North Europe", "Europe"),
    "westeurope": ("West Europe", "Europe"),
    "norwayeast": ("Norway East", "Norway"),
    "norwaywest": ("Norway West", "Norway"),
    "southafricanorth": ("South Africa North", "South Africa"),
    "southafricawest": ("South Africa West", "South Africa"),
    "swedencentral": ("Sweden Central", "Sweden"),
    "swedensouth": ("Sweden South", "Sweden"),
    "switzerlandnorth": ("Switzerland North", "Switzerland"),
    "switzerlandwest": ("Switzerland West", "Switzerland"),
    "uaenorth": ("UAE North", "UAE"),
    "uaecentral": ("UAE Central", "UAE"),
    "uksouth": ("UK South", "United Kingdom"),
    "ukwest": ("UK West", "United Kingdom"),
    "italynorth": ("Italy North", "Italy"),
    "polandcentral": ("Poland Central", "Poland"),
    "spaincentral": ("Spain Central", "Spain"),
    "israelcentral": ("Israel Central", "Israel"),
    "mexicocentral": ("Mexico Central", "Mexico"),
    "qatarcentral": ("Qatar Central", "Qatar"),
}

_SYMMETRIC = [
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
]
_ASYMMETRIC = [
    ("brazilsouth", "southcentralus"),
    ("brazilsoutheast", "brazilsouth"),
    ("westindia", "southindia"),
    ("westus3", "eastus"),
    ("swedencentral", "swedensouth"),
]

PAIRS: dict[str, str] = {}
for _a, _b in _SYMMETRIC:
    PAIRS[_a] = _b
    PAIRS[_b] = _a
for _a, _b in _ASYMMETRIC:
    PAIRS[_a] = _b


def paired_region(region: str) -> str | None:
    """The region's Azure pair, or None when it has none."""
    return PAIRS.get(region.lower().replace(" ", ""))
