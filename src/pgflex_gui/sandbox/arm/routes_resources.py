"""Microsoft.Resources: tenants, subscriptions, locations, resource groups; LRO statuses."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pgflex_gui.sandbox.arm import roles
from pgflex_gui.sandbox.arm.http import ArmError, Request, Response, page
from pgflex_gui.sandbox.arm.regions import PAIRS, REGIONS
from pgflex_gui.sandbox.arm.state import public

if TYPE_CHECKING:
    from pgflex_gui.sandbox.arm.context import ArmContext

__all__ = ["register", "rg_json", "subscription_json"]

Json = dict[str, Any]
SUB = r"/subscriptions/(?P<sub>[^/]+)"
RG = SUB + r"/resourceGroups/(?P<rg>[^/]+)"


def subscription_json(sub: Json) -> Json:
    """ARM JSON of a subscription record."""
    return {
        "id": f"/subscriptions/{sub['subscriptionId']}",
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": sub["subscriptionId"],
        "tenantId": sub["tenantId"],
        "displayName": sub["displayName"],
        "state": sub.get("state", "Enabled"),
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
        "tags": dict(sub.get("tags") or {}),
    }


def rg_json(sub: str, name: str, location: str, tags: dict[str, str] | None = None) -> Json:
    """ARM JSON of a resource group."""
    return {
        "id": f"/subscriptions/{sub}/resourceGroups/{name}",
        "name": name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": location,
        "tags": tags or {},
        "properties": {"provisioningState": "Succeeded"},
    }


def _location_json(sub: str, name: str) -> Json:
    display, geography = REGIONS[name]
    pair = PAIRS.get(name)
    paired = (
        [{"name": pair, "id": f"/subscriptions/{sub}/locations/{pair}", "subscriptionId": sub}]
        if pair
        else []
    )
    return {
        "id": f"/subscriptions/{sub}/locations/{name}",
        "name": name,
        "type": "Region",
        "displayName": display,
        "regionalDisplayName": f"({geography}) {display}",
        "metadata": {
            "regionType": "Physical",
            "regionCategory": "Recommended",
            "geography": geography,
            "geographyGroup": geography,
            "physicalLocation": display,
            "pairedRegion": paired,
            "longitude": "0",
            "latitude": "0",
        },
        "availabilityZoneMappings": [
            {"logicalZone": str(z), "physicalZone": f"{name}-az{z}"} for z in (1, 2, 3)
        ],
    }


def register(arm: ArmContext) -> None:
    """Register the Microsoft.Resources routes."""
    state = arm.state
    anyrole = set(roles.BUILTIN_ROLES)

    def visible_subs(req: Request) -> list[Json]:
        out = []
        for sub in state.data["subscriptions"].values():
            if sub["tenantId"] != req.tenant:
                continue
            if arm.has_role(req.caller, f"/subscriptions/{sub['subscriptionId']}", anyrole):
                out.append(subscription_json(sub))
        return sorted(out, key=lambda s: s["displayName"])

    def tenants(req: Request, m: re.Match[str]) -> Response:
        appid = str(req.claims.get("appid", ""))
        app = state.data["apps"].get(appid, {"principals": {}})
        items = [
            {
                "id": f"/tenants/{t['tenantId']}",
                "tenantId": t["tenantId"],
                "tenantCategory": "Home",
                "displayName": t["displayName"],
                "defaultDomain": t.get("defaultDomain", ""),
                "domains": [t.get("defaultDomain", "")],
                "tenantType": "AAD",
                "country": "NL",
                "countryCode": "NL",
            }
            for tid, t in sorted(state.data["tenants"].items())
            if tid in app["principals"]
        ]
        return page(req, items, arm.page_size)

    def subscriptions(req: Request, m: re.Match[str]) -> Response:
        return page(req, visible_subs(req), arm.page_size)

    def subscription(req: Request, m: re.Match[str]) -> Response:
        return Response(200, subscription_json(state.data["subscriptions"][m["sub"].lower()]))

    def locations(req: Request, m: re.Match[str]) -> Response:
        items = [_location_json(m["sub"], name) for name in sorted(REGIONS)]
        return Response(200, {"value": items})

    def rg_list(req: Request, m: re.Match[str]) -> Response:
        items = [
            public(r)
            for r in state.children(
                f"/subscriptions/{m['sub']}", "Microsoft.Resources/resourceGroups"
            )
        ]
        return page(req, sorted(items, key=lambda r: r["name"].lower()), arm.page_size)

    def rg_get(req: Request, m: re.Match[str]) -> Response:
        found = state.get(f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}")
        assert found is not None  # precheck
        return Response(200, public(found))

    def rg_head(req: Request, m: re.Match[str]) -> Response:
        return Response(204, None)

    def rg_put(req: Request, m: re.Match[str]) -> Response:
        body = req.json()
        if not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required.")
        rid = f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}"
        existing = state.get(rid)
        res = rg_json(
            m["sub"],
            m["rg"],
            existing["location"] if existing else body["location"],
            body.get("tags"),
        )
        state.put(res)
        return Response(200 if existing else 201, public(res))

    def rg_delete(req: Request, m: re.Match[str]) -> Response:
        rid = f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}"

        def work() -> None:
            state.delete(rid)

        return arm.lro(req, work)

    def op_status(req: Request, m: re.Match[str]) -> Response:
        return arm.operation(req, m["op"], m["kind"])

    r = arm.router
    r.add("GET", r"/tenants", tenants)
    r.add("GET", r"/subscriptions", subscriptions)
    r.add("GET", SUB, subscription)
    r.add("GET", SUB + r"/locations", locations)
    r.add("GET", SUB + r"/resourceGroups", rg_list)
    r.add("GET", RG, rg_get)
    r.add("HEAD", RG, rg_head)
    r.add("PUT", RG, rg_put)
    r.add("DELETE", RG, rg_delete)
    r.add(
        "GET",
        r"/subscriptions/.+/(?P<kind>operationStatus|azureAsyncOperation|operationResults)"
        r"/(?P<op>[^/]+)",
        op_status,
    )
