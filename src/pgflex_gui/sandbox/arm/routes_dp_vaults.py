"""Microsoft.DataProtection: backup vaults and their backup policies."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from pgflex_gui.sandbox.arm.dpcontext import RG_PATH, SUB_PATH, VAULT_PATH, DpContext
from pgflex_gui.sandbox.arm.dpmodel import BI, POLICY, VAULT, validate_policy, vault_json
from pgflex_gui.sandbox.arm.http import ArmError, Request, Response, page
from pgflex_gui.sandbox.arm.state import norm, public

__all__ = ["ROUTES", "register"]

Json = dict[str, Any]
Route = Callable[[DpContext, Request, re.Match[str]], Response]


# -- vaults --------------------------------------------------------------------------
def v_list_sub(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    items = [public(v) for v in ctx.state.children(f"/subscriptions/{m['sub']}", VAULT)]
    return page(req, sorted(items, key=lambda v: v["id"].lower()), ctx.arm.page_size)


def v_list_rg(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    items = [
        public(v)
        for v in ctx.state.children(f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}", VAULT)
    ]
    return page(req, sorted(items, key=lambda v: v["id"].lower()), ctx.arm.page_size)


def v_get(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    return Response(200, public(ctx.load_vault(m)))


def v_put(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    existing = ctx.state.get(ctx.vault_id(m))
    if existing is not None:
        return v_patch(ctx, req, m, status=200)
    body = req.json()
    props = body.get("properties", {})
    if not body.get("location"):
        raise ArmError(400, "LocationRequired", "The location property is required.")
    settings = props.get("storageSettings") or []
    if not settings:
        raise ArmError(
            400,
            "UserErrorInvalidStorageSettings",
            "storageSettings with a VaultStore datastore type is required.",
        )
    feature = props.get("featureSettings") or {}
    security = props.get("securitySettings") or {}
    oid = str(uuid.uuid4())
    tenant = ctx.tenant_of(ctx.vault_id(m))
    vault = vault_json(
        m["sub"],
        m["rg"],
        m["vault"],
        location=body["location"],
        tenant_id=tenant,
        principal_id=oid,
        redundancy=settings[0].get("type", "LocallyRedundant"),
        crr=feature.get("crossRegionRestoreSettings", {}).get("state") == "Enabled",
        csr=feature.get("crossSubscriptionRestoreSettings", {}).get("state", "Enabled"),
        soft_delete=security.get("softDeleteSettings", {}).get("state", "On"),
        soft_delete_days=int(
            security.get("softDeleteSettings", {}).get("retentionDurationInDays", 14)
        ),
        immutability=security.get("immutabilitySettings", {}).get("state", "Disabled"),
        tags=body.get("tags"),
    )
    if (
        vault["properties"]["featureSettings"]["crossRegionRestoreSettings"]["state"] == "Enabled"
        and vault["properties"]["storageSettings"][0]["type"] != "GeoRedundant"
    ):
        raise ArmError(
            400,
            "UserErrorCrossRegionRestoreNotSupported",
            "Cross Region Restore can be enabled only for GeoRedundant vaults.",
        )
    vault["properties"]["provisioningState"] = "Provisioning"
    with ctx.state.batch():
        ctx.state.put(vault)
        ctx.state.data["principals"][oid] = {
            "tenantId": tenant,
            "type": "ServicePrincipal",
            "displayName": m["vault"],
            "managedIdentityResourceId": vault["id"],
        }

    def work() -> None:
        with ctx.state.lock:
            vault["properties"]["provisioningState"] = "Succeeded"
            ctx.state.save()

    return ctx.arm.lro(req, work, status=201, body=public(vault))


def v_patch(ctx: DpContext, req: Request, m: re.Match[str], status: int = 202) -> Response:
    vault = ctx.load_vault(m)
    body = req.json()
    props = body.get("properties", {})
    with ctx.state.lock:
        cur = vault["properties"]
        feature = props.get("featureSettings") or {}
        crr = feature.get("crossRegionRestoreSettings", {}).get("state")
        if crr:
            if crr == "Enabled" and cur["storageSettings"][0]["type"] != "GeoRedundant":
                raise ArmError(
                    400,
                    "UserErrorCrossRegionRestoreNotSupported",
                    "Cross Region Restore can be enabled only for GeoRedundant vaults.",
                )
            if (
                crr == "Disabled"
                and cur["featureSettings"]["crossRegionRestoreSettings"]["state"] == "Enabled"
            ):
                raise ArmError(
                    400,
                    "UserErrorCrossRegionRestoreCannotBeDisabled",
                    "Cross Region Restore cannot be disabled once enabled.",
                )
            cur["featureSettings"]["crossRegionRestoreSettings"]["state"] = crr
        csr = feature.get("crossSubscriptionRestoreSettings", {}).get("state")
        if csr:
            if (
                cur["featureSettings"]["crossSubscriptionRestoreSettings"]["state"]
                == "PermanentlyDisabled"
                and csr != "PermanentlyDisabled"
            ):
                raise ArmError(
                    400,
                    "UserErrorCrossSubscriptionRestorePermanentlyDisabled",
                    "Cross Subscription Restore is permanently disabled.",
                )
            cur["featureSettings"]["crossSubscriptionRestoreSettings"]["state"] = csr
        security = props.get("securitySettings") or {}
        soft = security.get("softDeleteSettings")
        if soft:
            old = cur["securitySettings"]["softDeleteSettings"]
            if old["state"] == "AlwaysOn" and soft.get("state", "AlwaysOn") != "AlwaysOn":
                raise ArmError(
                    400,
                    "UserErrorSoftDeleteCannotBeDisabled",
                    "Soft delete is AlwaysOn and can't be turned off.",
                )
            old.update(soft)
        immut = security.get("immutabilitySettings")
        if immut:
            old_i = cur["securitySettings"]["immutabilitySettings"]
            if old_i["state"] == "Locked" and immut.get("state") != "Locked":
                raise ArmError(
                    400,
                    "UserErrorImmutabilityLocked",
                    "Immutability is locked and can't be changed.",
                )
            old_i.update(immut)
        settings = props.get("storageSettings")
        if settings and settings[0].get("type") != cur["storageSettings"][0]["type"]:
            if ctx.state.children(vault["id"], BI):
                raise ArmError(
                    400,
                    "UserErrorStorageSettingsCannotBeChanged",
                    "Storage redundancy can't be changed once items are protected.",
                )
            cur["storageSettings"] = settings
        if "tags" in body:
            vault["tags"] = body["tags"] or {}
        ctx.state.save()
    if status == 200:
        return Response(200, public(vault))
    return ctx.arm.lro(req, lambda: None)


def v_delete(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    vault = ctx.load_vault(m)
    if ctx.state.children(vault["id"], BI):
        raise ArmError(
            400,
            "UserErrorBackupVaultContainsBackupInstances",
            "The vault has backup instances; remove them before deleting it.",
        )

    def work() -> None:
        with ctx.state.batch():
            ctx.state.delete(vault["id"])
            ctx.state.data["principals"].pop(ctx.principal(vault), None)

    return ctx.arm.lro(req, work)


# -- policies ------------------------------------------------------------------------
def p_list(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    ctx.load_vault(m)
    items = [public(p) for p in ctx.state.children(ctx.vault_id(m), POLICY)]
    return page(req, sorted(items, key=lambda p: p["name"].lower()), ctx.arm.page_size)


def p_get(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    ctx.load_vault(m)
    return Response(200, public(ctx.load(f"{ctx.vault_id(m)}/backupPolicies/{m['pol']}")))


def p_put(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    ctx.load_vault(m)
    body = req.json()
    validate_policy(body)
    props = copy.deepcopy(body["properties"])
    for rule in props.get("policyRules", []):
        for crit in rule.get("trigger", {}).get("taggingCriteria", []) or []:
            info = crit.setdefault("tagInfo", {})
            info.setdefault("id", f"{info.get('tagName', '')}_")
            info.setdefault("eTag", None)
    policy = {
        "id": f"{ctx.vault_id(m)}/backupPolicies/{m['pol']}",
        "name": m["pol"],
        "type": POLICY,
        "properties": props,
    }
    ctx.state.put(policy)
    return Response(200, public(policy))


def p_delete(ctx: DpContext, req: Request, m: re.Match[str]) -> Response:
    pid = norm(f"{ctx.vault_id(m)}/backupPolicies/{m['pol']}")
    for bi in ctx.state.children(ctx.vault_id(m), BI):
        if norm(bi["properties"]["policyInfo"].get("policyId", "")) == pid:
            raise ArmError(
                400,
                "UserErrorPolicyInUse",
                "The policy is in use by backup instances and can't be deleted.",
            )
    return Response(200 if ctx.state.delete(pid) else 204, None)


_POL = VAULT_PATH + r"/backupPolicies/(?P<pol>[^/]+)"
ROUTES: tuple[tuple[str, str, Route], ...] = (
    ("GET", SUB_PATH + r"/providers/Microsoft\.DataProtection/backupVaults", v_list_sub),
    ("GET", RG_PATH + r"/backupVaults", v_list_rg),
    ("GET", VAULT_PATH, v_get),
    ("PUT", VAULT_PATH, v_put),
    ("PATCH", VAULT_PATH, v_patch),
    ("DELETE", VAULT_PATH, v_delete),
    ("GET", VAULT_PATH + r"/backupPolicies", p_list),
    ("GET", _POL, p_get),
    ("PUT", _POL, p_put),
    ("DELETE", _POL, p_delete),
)


def register(ctx: DpContext) -> None:
    """Register these routes on the service's router."""
    for method, pattern, handler in ROUTES:
        ctx.arm.router.add(method, pattern, partial(handler, ctx))
