"""Token authority routes (OpenID metadata, client-credentials token) and admin routes."""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from pgflex_gui.sandbox.arm.auth import audience_for_scope, issue_token
from pgflex_gui.sandbox.arm.http import ArmError, Request, Response

if TYPE_CHECKING:
    from pgflex_gui.sandbox.arm.context import ArmContext

__all__ = ["admin", "handle"]

Json = dict[str, Any]


def _aad_error(status: int, error: str, code: int, text: str, **extra: Any) -> Response:
    body: Json = {
        "error": error,
        "error_description": f"AADSTS{code}: {text}",
        "error_codes": [code],
        "timestamp": "2024-01-01 00:00:00Z",
        "trace_id": "00000000-0000-0000-0000-000000000000",
        "correlation_id": "00000000-0000-0000-0000-000000000000",
    }
    body.update(extra)
    return Response(status, body)


def _openid(arm: ArmContext, tenant: str) -> Json:
    base = f"{arm.base_url}/{tenant}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "oid", "tid"],
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }


def handle(arm: ArmContext, req: Request) -> Response | None:
    """Answer token-authority routes; None for anything else."""
    parts = req.path.strip("/").split("/")
    low = [p.lower() for p in parts]
    if req.method == "GET" and low[-3:] == ["v2.0", ".well-known", "openid-configuration"]:
        tenant = parts[0]
        if tenant.lower() not in arm.state.data["tenants"] and tenant.lower() not in (
            "common",
            "organizations",
        ):
            return _aad_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        return Response(200, _openid(arm, tenant))
    if req.method == "GET" and low[-2:] == ["discovery", "instance"]:
        return Response(
            200,
            {
                "tenant_discovery_endpoint": f"{arm.base_url}/{parts[0]}/v2.0/.well-known/"
                "openid-configuration",
                "api-version": "1.1",
                "metadata": [],
            },
        )
    if req.method == "POST" and low[1:] == ["oauth2", "v2.0", "token"]:
        return _token(arm, parts[0].lower(), req)
    return None


def _token(arm: ArmContext, tenant: str, req: Request) -> Response:
    form = dict(parse_qsl(req.raw_body.decode("utf-8"), keep_blank_values=True))
    tenants = arm.state.data["tenants"]
    if tenant not in tenants:
        return _aad_error(
            400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Check the tenant ID."
        )
    if form.get("grant_type") != "client_credentials":
        return _aad_error(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type. The sandbox issues client_credentials "
            "tokens only.",
        )
    client_id = form.get("client_id", "")
    app = arm.state.data["apps"].get(client_id)
    if app is None:
        return _aad_error(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory.",
        )
    if not hmac.compare_digest(str(app["secret"]), form.get("client_secret", "")):
        return _aad_error(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            "client secret value, not the client secret ID.",
        )
    if tenants[tenant].get("refuse_tokens"):
        return _aad_error(
            400,
            "interaction_required",
            50076,
            "Due to a configuration change made by your administrator, or because you moved to "
            "a new location, you must use multi-factor authentication to access "
            "'797f4846-ba00-4fd7-ba43-dac1f8f63013'.",
            suberror="basic_action",
            claims='{"access_token":{"capolids":{"essential":true}}}',
        )
    scope = form.get("scope", "")
    if not scope.strip():
        return _aad_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        )
    audience = audience_for_scope(scope, arm_base_url=arm.base_url)
    if audience is None:
        return _aad_error(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {scope.split()[0].removesuffix('/.default')} was not "
            f"found in the tenant named {tenant}. This can happen if the application has not "
            "been installed by the administrator of the tenant or consented to by any user in "
            "the tenant. You might have sent your authentication request to the wrong tenant.",
        )
    oid = app["principals"].get(tenant)
    if oid is None:
        return _aad_error(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
        )
    token, expires_in = issue_token(
        arm.key,
        issuer=f"https://sts.windows.net/{tenant}/",
        tenant_id=tenant,
        oid=oid,
        appid=client_id,
        audience=audience,
    )
    return Response(
        200,
        {
            "token_type": "Bearer",
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": token,
        },
    )


def admin(arm: ArmContext, req: Request) -> Response:
    """``/_sandbox/faults`` (GET, POST, DELETE) and ``/_sandbox/tenants/{t}`` (PATCH)."""
    parts = req.path.strip("/").split("/")
    if parts[1:2] == ["faults"]:
        if req.method == "GET":
            return Response(200, {"value": [r.to_json() for r in arm.faults.list()]})
        if req.method == "POST":
            body = req.json()
            rules = body.get("rules", [body])
            ids = [arm.faults.add_json(rule) for rule in rules]
            return Response(200, {"ids": ids})
        if req.method == "DELETE":
            if len(parts) > 2:
                arm.faults.remove(parts[2])
            else:
                arm.faults.clear()
            return Response(200, {"value": []})
    if parts[1:2] == ["tenants"] and len(parts) == 3 and req.method == "PATCH":
        body = req.json()
        with arm.state.lock:
            tenant = arm.state.data["tenants"].get(parts[2].lower())
            if tenant is None:
                raise ArmError(404, "TenantNotFound", f"Tenant '{parts[2]}' not found.")
            if "refuse_tokens" in body:
                tenant["refuse_tokens"] = bool(body["refuse_tokens"])
            arm.state.save()
        return Response(200, json.loads(json.dumps(tenant)))
    raise ArmError(404, "ResourceNotFound", f"No sandbox admin route {req.method} {req.path}.")
