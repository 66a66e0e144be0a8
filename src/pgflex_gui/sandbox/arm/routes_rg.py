"""Azure Resource Graph stand-in: ``POST /providers/Microsoft.ResourceGraph/resources``.

**This is not a KQL engine.** It recognises the app's own queries by their stable marker, a
real KQL column ``| extend pgflexQuery = 'pgflex.<kind>.v1'`` (kinds ``servers``, ``vaults``,
``instances``), and answers them from the sandbox's state with the rows such a query returns
in Azure: the ARM record of each resource (``id``, ``name``, lower-case ``type``,
``tenantId``, ``subscriptionId``, ``resourceGroup``, ``location``, ``tags``, ``sku``,
``identity``, ``properties``) plus the marker column, and for instances the ``vaultId``,
``protectionState`` and ``protectionStatus`` columns the query extends, ordered by id. Every
other query gets Azure's 400 ``BadRequest`` with an ``InvalidQuery`` detail.

What it does emulate (shared doc ``azure-v2-and-resource-graph.md`` §2.4-2.6):

* scopes: ``subscriptions`` in the body, else every subscription of the token's tenant; only
  subscriptions the caller holds a role on are read (ARG returns what RBAC lets you read;
  finer, resource-level grants are not modelled);
* paging: ``options.$top`` (1..1000, default 1000), ``$skip``, ``$skipToken`` (opaque, bound
  to the query text; another query's token is a 400), ``totalRecords``, ``count``,
  ``resultTruncated`` as the string ``"false"``; ``resultFormat`` ``objectArray`` or ``table``;
* the per-user quota: ``quota`` queries per ``window_s`` seconds per caller (15 / 5 s, the
  documented example); every answer carries ``x-ms-user-quota-remaining`` and
  ``x-ms-user-quota-resets-after`` (``hh:mm:ss``); over quota: 429 ``RateLimiting`` with
  ``Retry-After`` (whole seconds, rounded up);
* denial: ``arm.faults`` rules on this route (403 ``AuthorizationFailed``, 404, 503 ...) as
  for any other route; ``arm.rg_enabled = False`` answers 404 ``NoRegisteredProviderFound``,
  as a cloud without Resource Graph would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import threading
import time
from typing import TYPE_CHECKING, Any

from pgflex_gui.sandbox.arm import roles
from pgflex_gui.sandbox.arm.http import ArmError, Request, Response
from pgflex_gui.sandbox.arm.state import public

if TYPE_CHECKING:
    from pgflex_gui.sandbox.arm.context import ArmContext

__all__ = ["QuotaWindow", "register"]

Json = dict[str, Any]

_MARKER = re.compile(r"pgflexQuery\s*=\s*'pgflex\.(servers|vaults|instances)\.v1'")
_TYPES = {
    "servers": "microsoft.dbforpostgresql/flexibleservers",
    "vaults": "microsoft.dataprotection/backupvaults",
    "instances": "microsoft.dataprotection/backupvaults/backupinstances",
}
# The table each kind must be asked of (the instances live in RecoveryServicesResources).
_TABLES = {"servers": "resources", "vaults": "resources", "instances": "recoveryservicesresources"}


class QuotaWindow:
    """``quota`` queries per ``window_s`` seconds per caller, in fixed windows."""

    def __init__(self, quota: int = 15, window_s: float = 5.0) -> None:
        self.quota = quota
        self.window_s = window_s
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def take(self, caller: str) -> tuple[bool, int, float]:
        """(allowed, remaining after this one, seconds until the window resets)."""
        now = time.monotonic()
        with self._lock:
            start, used = self._windows.get(caller, (now, 0))
            if now - start >= self.window_s:
                start, used = now, 0
            resets = max(0.0, self.window_s - (now - start))
            if used >= self.quota:
                self._windows[caller] = (start, used)
                return False, 0, resets
            used += 1
            self._windows[caller] = (start, used)
            return True, self.quota - used, resets


def _hhmmss(seconds: float) -> str:
    whole = math.ceil(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _invalid_query(message: str) -> ArmError:
    return ArmError(
        400,
        "BadRequest",
        "Please provide below info when asking for support: timestamp, correlation id. "
        "Query is invalid. Please refer to the documentation for the Azure Resource Graph "
        "service and fix the error before retrying.",
        details=[{"code": "InvalidQuery", "message": message}],
    )


def _token(query: str, offset: int) -> str:
    digest = hashlib.sha256(query.encode()).hexdigest()[:16]
    raw = json.dumps({"o": offset, "q": digest}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset(token: str, query: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        offset = int(data["o"])
        same = data["q"] == hashlib.sha256(query.encode()).hexdigest()[:16]
    except (ValueError, KeyError, TypeError):
        same, offset = False, 0
    if not same or offset < 0:
        raise ArmError(
            400,
            "BadRequest",
            "The $skipToken is invalid for this query.",
            details=[{"code": "InvalidSkipToken", "message": "The skip token is invalid."}],
        )
    return offset


def register(arm: ArmContext) -> None:
    """Register the Microsoft.ResourceGraph route."""
    state = arm.state
    anyrole = set(roles.BUILTIN_ROLES) - {roles.BLOB_DATA_CONTRIBUTOR, roles.BLOB_DATA_OWNER}
    arm.rg_quota = QuotaWindow()  # type: ignore[attr-defined]
    arm.rg_enabled = True  # type: ignore[attr-defined]
    arm.rg_queries = 0  # type: ignore[attr-defined]

    def readable(req: Request, wanted: list[str] | None) -> set[str]:
        subs = state.data["subscriptions"]
        if wanted is None:
            ids = [k for k, s in subs.items() if s["tenantId"] == req.tenant]
        else:
            ids = [str(w).lower() for w in wanted if str(w).lower() in subs]
        return {s for s in ids if arm.has_role(req.caller, f"/subscriptions/{s}", anyrole)}

    def row(resource: Json, kind: str) -> Json:
        r = public(resource)
        parts = str(r["id"]).split("/")
        sub = parts[2].lower()
        out: Json = {
            "id": r["id"],
            "name": r.get("name", parts[-1]),
            "type": _TYPES[kind],
            "tenantId": state.data["subscriptions"].get(sub, {}).get("tenantId", ""),
            "kind": "",
            "location": r.get("location", ""),
            "resourceGroup": parts[4].lower() if len(parts) > 4 else "",
            "subscriptionId": sub,
            "managedBy": "",
            "sku": r.get("sku"),
            "plan": None,
            "properties": r.get("properties", {}),
            "tags": r.get("tags", {}),
            "identity": r.get("identity"),
            "zones": None,
            "extendedLocation": None,
            "pgflexQuery": f"pgflex.{kind}.v1",
        }
        if kind == "instances":
            props = out["properties"] or {}
            out["vaultId"] = "/".join(parts[:9])
            out["protectionState"] = str(props.get("currentProtectionState", ""))
            out["protectionStatus"] = str((props.get("protectionStatus") or {}).get("status", ""))
        return out

    def rows_for(kind: str, subs: set[str], offset: int, top: int) -> tuple[int, list[Json]]:
        """(how many rows the query has, the rows of one page of it, ordered by id).

        Only the page's rows are built (copied): a fleet of 20,000 servers is paged 20 times.
        """
        wanted = _TYPES[kind]
        with state.lock:
            found = [
                r
                for r in state.resources.values()
                if str(r.get("type", "")).lower() == wanted
                and str(r.get("id", "")).split("/")[2:3]
                and str(r["id"]).split("/")[2].lower() in subs
            ]
            if kind == "instances":
                found = [
                    r
                    for r in found
                    if str(
                        r.get("properties", {}).get("dataSourceInfo", {}).get("datasourceType", "")
                    ).lower()
                    == "microsoft.dbforpostgresql/flexibleservers"
                ]
            found.sort(key=lambda r: str(r["id"]).lower())
            return len(found), [row(r, kind) for r in found[offset : offset + top]]

    def as_table(rows: list[Json]) -> Json:
        if not rows:
            return {"columns": [], "rows": []}
        names = list(rows[0])

        def col_type(value: Any) -> str:
            if isinstance(value, bool):
                return "boolean"
            if isinstance(value, int):
                return "integer"
            if isinstance(value, float):
                return "number"
            if isinstance(value, dict | list) or value is None:
                return "object"
            return "string"

        return {
            "columns": [{"name": n, "type": col_type(rows[0][n])} for n in names],
            "rows": [[r.get(n) for n in names] for r in rows],
        }

    def resources(req: Request, _m: re.Match[str]) -> Response:
        if not arm.rg_enabled:  # type: ignore[attr-defined]
            raise ArmError(
                404,
                "NoRegisteredProviderFound",
                "No registered resource provider found for location 'global' and API version "
                f"'{req.query.get('api-version', '')}' for type 'resources'.",
            )
        quota: QuotaWindow = arm.rg_quota  # type: ignore[attr-defined]
        allowed, remaining, resets = quota.take(req.caller)
        headers = {
            "x-ms-user-quota-remaining": str(remaining),
            "x-ms-user-quota-resets-after": _hhmmss(resets),
        }
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(resets)))
            raise ArmError(
                429,
                "RateLimiting",
                "Client application has been throttled and should not attempt to repeat the "
                "request until an amount of time has elapsed. Please see "
                "https://aka.ms/resourcegraph-throttling for help.",
                headers=headers,
            )
        arm.rg_queries += 1  # type: ignore[attr-defined]
        body = req.json()
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise _invalid_query("The query is missing.")
        found = _MARKER.search(query)
        if found is None:
            raise _invalid_query(
                "The sandbox answers only pgflex-gui's own Resource Graph queries "
                "(it is not a KQL engine)."
            )
        kind = found.group(1)
        first = query.strip().split("|", 1)[0].strip().lower()
        if first != _TABLES[kind] or _TYPES[kind] not in query.lower():
            raise _invalid_query(f"Table or type filter does not fit the {kind} query.")
        options = body.get("options") or {}
        top = int(options.get("$top") or 1000)
        if not 1 <= top <= 1000:
            raise _invalid_query("$top must be between 1 and 1000.")
        token = options.get("$skipToken")
        offset = _offset(str(token), query) if token else int(options.get("$skip") or 0)
        subs_in = body.get("subscriptions")
        wanted = [str(s) for s in subs_in] if isinstance(subs_in, list) else None
        total, chunk = rows_for(kind, readable(req, wanted), offset, top)
        fmt = str(options.get("resultFormat") or "objectArray")
        data: Any = as_table(chunk) if fmt.lower() == "table" else chunk
        out: Json = {
            "totalRecords": total,
            "count": len(chunk),
            "resultTruncated": "false",
            "facets": [],
            "data": data,
        }
        if offset + top < total:
            out["$skipToken"] = _token(query, offset + top)
        return Response(200, out, headers)

    arm.router.add("POST", r"/providers/Microsoft\.ResourceGraph/resources", resources)
