"""Microsoft.Authorization: role assignments (with inheritance) and built-in role definitions."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from pgflex_gui.sandbox.arm import roles
from pgflex_gui.sandbox.arm.context import now_iso
from pgflex_gui.sandbox.arm.http import ArmError, Request, Response, page
from pgflex_gui.sandbox.arm.state import norm

if TYPE_CHECKING:
    from pgflex_gui.sandbox.arm.context import ArmContext

__all__ = ["assignment_json", "register"]

Json = dict[str, Any]
_RA = r"(?P<scope>.*?)/providers/Microsoft\.Authorization/roleAssignments"
_RD = r"(?P<scope>.*?)/providers/Microsoft\.Authorization/roleDefinitions"


def assignment_json(
    scope: str, name: str, role_id: str, principal_id: str, principal_type: str, created: str
) -> Json:
    """ARM JSON of a role assignment."""
    sub = scope.split("/")[2] if scope.lower().startswith("/subscriptions/") else ""
    rd_scope = f"/subscriptions/{sub}" if sub else ""
    return {
        "id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": f"{rd_scope}/providers/Microsoft.Authorization/roleDefinitions/"
            f"{role_id}",
            "principalId": principal_id,
            "principalType": principal_type,
            "scope": scope or "/",
            "condition": None,
            "conditionVersion": None,
            "createdOn": created,
            "updatedOn": created,
            "createdBy": None,
            "updatedBy": None,
            "delegatedManagedIdentityResourceId": None,
            "description": None,
        },
    }


def _scope_of(raw: str) -> str:
    return "/" + raw.strip("/") if raw.strip("/") else "/"


def register(arm: ArmContext) -> None:
    """Register the Microsoft.Authorization routes."""
    state = arm.state

    def ra_list(req: Request, m: re.Match[str]) -> Response:
        scope = norm(_scope_of(m["scope"]))
        flt = req.query.get("$filter", "")
        at_scope = "atscope()" in flt.lower()
        principal = re.search(r"principalId\s+eq\s+'([^']+)'", flt, re.IGNORECASE)
        assignee = re.search(r"assignedTo\('([^']+)'\)", flt, re.IGNORECASE)
        items = []
        with state.lock:
            for ra in arm.assignments().values():
                ra_scope = norm(ra["properties"]["scope"])
                above = ra_scope in ("/", scope) or scope.startswith(ra_scope + "/")
                below = ra_scope.startswith(scope + "/") or scope == "/"
                if not (above or (below and not at_scope)):
                    continue
                who = principal or assignee
                if who and ra["properties"]["principalId"] != who.group(1):
                    continue
                items.append(copy.deepcopy(ra))
        items.sort(key=lambda r: (len(r["properties"]["scope"]), r["name"]))
        return page(req, items, arm.page_size)

    def ra_get(req: Request, m: re.Match[str]) -> Response:
        rid = (
            f"{_scope_of(m['scope']).rstrip('/')}/providers/Microsoft.Authorization/"
            f"roleAssignments/{m['name']}"
        )
        ra = arm.assignments().get(norm(rid))
        if ra is None:
            raise ArmError(
                404, "RoleAssignmentNotFound", f"The role assignment '{m['name']}' is not found."
            )
        return Response(200, copy.deepcopy(ra))

    def ra_put(req: Request, m: re.Match[str]) -> Response:
        scope = _scope_of(m["scope"])
        props = req.json().get("properties", {})
        role_id = str(props.get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1]
        principal = str(props.get("principalId", ""))
        if role_id not in roles.BUILTIN_ROLES:
            raise ArmError(
                400,
                "RoleDefinitionDoesNotExist",
                f"The specified role definition with ID '{role_id}' does not exist.",
            )
        if principal not in state.data["principals"]:
            raise ArmError(
                400,
                "PrincipalNotFound",
                f"Principal {principal.replace('-', '')} does not exist in the directory "
                f"{req.tenant}. Check that you have the correct principal ID.",
            )
        if scope != "/" and scope.count("/") > 2 and state.get(scope) is None:
            raise ArmError(404, "ResourceNotFound", f"The scope '{scope}' was not found.")
        with state.lock:
            for ra in arm.assignments().values():
                p = ra["properties"]
                if (
                    norm(p["scope"]) == norm(scope)
                    and p["principalId"] == principal
                    and p["roleDefinitionId"].rsplit("/", 1)[-1] == role_id
                ):
                    if ra["name"] == m["name"]:
                        return Response(201, copy.deepcopy(ra))
                    raise ArmError(
                        409, "RoleAssignmentExists", "The role assignment already exists."
                    )
            ptype = props.get("principalType") or state.data["principals"][principal].get(
                "type", "ServicePrincipal"
            )
            ra = assignment_json(scope, m["name"], role_id, principal, ptype, now_iso())
            ra["properties"]["createdBy"] = req.caller
            arm.assignments()[norm(ra["id"])] = ra
            state.save()
        return Response(201, copy.deepcopy(ra))

    def ra_delete(req: Request, m: re.Match[str]) -> Response:
        rid = (
            f"{_scope_of(m['scope']).rstrip('/')}/providers/Microsoft.Authorization/"
            f"roleAssignments/{m['name']}"
        )
        with state.lock:
            ra = arm.assignments().pop(norm(rid), None)
            state.save()
        if ra is None:
            return Response(204, None)
        return Response(200, ra)

    def rd_list(req: Request, m: re.Match[str]) -> Response:
        scope = _scope_of(m["scope"])
        flt = req.query.get("$filter", "")
        name = re.search(r"roleName\s+eq\s+'([^']+)'", flt, re.IGNORECASE)
        items = [roles.role_definition(scope, rid) for rid in roles.BUILTIN_ROLES]
        if name:
            items = [
                i for i in items if i["properties"]["roleName"].lower() == name.group(1).lower()
            ]
        return page(req, items, arm.page_size)

    def rd_get(req: Request, m: re.Match[str]) -> Response:
        if m["name"] not in roles.BUILTIN_ROLES:
            raise ArmError(
                404,
                "RoleDefinitionDoesNotExist",
                f"The specified role definition with ID '{m['name']}' does not exist.",
            )
        return Response(200, roles.role_definition(_scope_of(m["scope"]), m["name"]))

    r = arm.router
    r.add("GET", _RA, ra_list)
    r.add("GET", _RA + r"/(?P<name>[^/]+)", ra_get)
    r.add("PUT", _RA + r"/(?P<name>[^/]+)", ra_put)
    r.add("DELETE", _RA + r"/(?P<name>[^/]+)", ra_delete)
    r.add("GET", _RD, rd_list)
    r.add("GET", _RD + r"/(?P<name>[^/]+)", rd_get)
