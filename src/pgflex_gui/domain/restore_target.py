"""Rules for the server a restore goes into: a new one's placement, an existing one's fitness.

Pure functions returning :class:`~pgflex_gui.domain.issues.Issue` lists, so the restore
wizard's flow (and anything else) shows them inline:

* a new server needs a subscription, a valid resource group name and a region, each asked
  for on its own (never one message that stays after one of them is given);
* an existing server must be running (``Ready``), sit in the region the files are restored
  to (when that is known) and is never the source server itself unless the DBA confirmed it
  separately.
"""

from __future__ import annotations

import re

from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.issues import Issue, error, warning
from pgflex_gui.domain.models import FlexServer
from pgflex_gui.domain.regions import normalize_region

__all__ = [
    "PG_MAJOR_VERSIONS",
    "READY_STATE",
    "existing_target_issues",
    "existing_target_refusal",
    "is_source_server",
    "new_server_placement_issues",
    "resource_group_problem",
]

PG_MAJOR_VERSIONS = ("11", "12", "13", "14", "15", "16", "17", "18")
"""Major versions Azure offers for new flexible servers (newest last)."""

READY_STATE = "ready"

# Azure: 1-90 characters, letters, digits, underscores, hyphens, periods and parentheses;
# may not end with a period.
_RG_CHARS = re.compile(r"^[-\w.()]{1,90}$")


def resource_group_problem(name: str) -> str:
    """Why ``name`` can't be a resource group name ("" when it can)."""
    if not name:
        return "Type the resource group for the new server."
    if not _RG_CHARS.match(name) or name.endswith("."):
        return (
            f"{name!r} is not a valid resource group name: use up to 90 letters, digits, "
            "'-', '_', '.', '(' or ')', not ending with '.'."
        )
    return ""


def new_server_placement_issues(
    subscription: str, resource_group: str, location: str
) -> list[Issue]:
    """What is missing or wrong in where a new server goes, one issue per field."""
    found: list[Issue] = []
    if not subscription:
        found.append(error("server.subscription", "Choose the subscription for the new server."))
    problem = resource_group_problem(resource_group.strip())
    if problem:
        found.append(error("server.resource_group", problem))
    if not location:
        found.append(error("server.location", "Choose the region for the new server."))
    return found


def is_source_server(server: FlexServer, source_server_id: ResourceId | None) -> bool:
    """True when ``server`` is the server the backup was taken of."""
    return source_server_id is not None and server.id.same_as(source_server_id)


def existing_target_refusal(server: FlexServer, *, restore_region: str) -> str:
    """Why ``server`` can't take a restore at all ("" when it can): stopped, or wrong region.

    ``restore_region`` is where the files are restored to ("" when unknown: no region rule).
    """
    state = server.state or "unknown"
    if state.lower() != READY_STATE:
        return f"{server.name} is {state.lower()}: start it first, or pick a running server."
    region = normalize_region(restore_region) if restore_region else ""
    if region and normalize_region(server.location) != region:
        return (
            f"{server.name} is in {normalize_region(server.location)}, not in {region} where "
            "the files are restored."
        )
    return ""


def existing_target_issues(
    server: FlexServer,
    *,
    restore_region: str,
    source_server_id: ResourceId | None,
    source_confirmed: bool,
) -> list[Issue]:
    """Blocking issues for restoring into ``server`` (and a warning for the source itself)."""
    found: list[Issue] = []
    refusal = existing_target_refusal(server, restore_region=restore_region)
    if refusal:
        found.append(error("server.existing", refusal))
    if is_source_server(server, source_server_id):
        if source_confirmed:
            found.append(
                warning(
                    "server.source",
                    f"{server.name} is the server this backup was taken of: the restored "
                    "databases go next to its live ones.",
                )
            )
        else:
            found.append(
                error(
                    "server.source",
                    f"{server.name} is the server this backup was taken of.",
                    "Confirm restoring into the source server itself, or pick another one.",
                )
            )
    return found
