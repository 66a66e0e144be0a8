"""What a route module may use of the ARM service: a Protocol, so routes never import the server.

``server.ArmService`` satisfies :class:`ArmContext`; ``server.py`` imports the route modules and
registers them, and the route modules import only this module (and their own helpers).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pgflex_gui.sandbox.arm.faults import Faults
    from pgflex_gui.sandbox.arm.http import Request, Response, Router
    from pgflex_gui.sandbox.arm.state import State
    from pgflex_gui.sandbox.contract import DataPlane

__all__ = ["ArmContext", "now_iso"]

Json = dict[str, Any]


def now_iso() -> str:
    """Current UTC time in ARM's ISO format."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ArmContext(Protocol):
    """The service surface the route modules see (state, router, LROs, roles, jobs)."""

    state: State
    dataplane: DataPlane
    faults: Faults
    router: Router
    page_size: int
    base_url: str
    key: bytes
    busy: dict[str, str]  # backup instance id -> job id running on it
    busy_lock: threading.Lock

    def spawn(self, fn: Callable[[], None], name: str) -> None:
        """Run ``fn`` in a tracked background thread."""

    def lro(
        self,
        req: Request,
        work: Callable[[], Json | None],
        *,
        status: int = 202,
        body: Json | None = None,
        status_root: str | None = None,
    ) -> Response:
        """Answer with Azure-AsyncOperation/Location headers and run ``work`` in the background."""

    def operation(self, req: Request, op_id: str, kind: str) -> Response:
        """GET an operation status or result."""

    def assignments(self) -> dict[str, Json]:
        """The role assignment table (normalised id -> ARM JSON)."""

    def has_role(self, principal: str, scope: str, role_ids: set[str]) -> bool:
        """True if ``principal`` holds one of ``role_ids`` at ``scope`` or above."""

    def require(self, req: Request, scope: str, action: str, role_ids: set[str]) -> None:
        """403 AuthorizationFailed unless the caller holds one of ``role_ids`` on ``scope``."""
