"""The ARM service: HTTPS server, token authority, authorization, LROs and dispatch."""

from __future__ import annotations

import json
import logging
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pgflex_gui.sandbox.arm import (
    roles,
    routes_authz,
    routes_dp_instances,
    routes_dp_restores,
    routes_dp_v2,
    routes_dp_vaults,
    routes_identity,
    routes_pg,
    routes_resources,
    routes_rg,
    routes_storage,
)
from pgflex_gui.sandbox.arm.auth import ARM_AUDIENCES, TokenError, issue_token, verify_token
from pgflex_gui.sandbox.arm.context import now_iso
from pgflex_gui.sandbox.arm.dpcontext import DpContext
from pgflex_gui.sandbox.arm.faults import Faults
from pgflex_gui.sandbox.arm.http import ArmError, Request, Response, Router, new_id
from pgflex_gui.sandbox.arm.state import State, norm
from pgflex_gui.sandbox.contract import DataPlane, DataPlaneError

__all__ = ["ArmService", "now_iso"]

log = logging.getLogger(__name__)
Json = dict[str, Any]

_READ_POSTS = ("fetchsecondaryrecoverypoints", "fetchcrossregionrestorejob", "checkname")


def _register_routes(arm: ArmService) -> None:
    """Register every route module on ``arm.router``; the order is the matching order."""
    routes_dp_v2.register(arm)  # first: its v2 routes hand everything else on
    for module in (routes_resources, routes_authz, routes_pg, routes_storage):
        module.register(arm)
    dp = DpContext(arm)
    for dp_module in (routes_dp_vaults, routes_dp_instances, routes_dp_restores):
        dp_module.register(dp)
    routes_rg.register(arm)


class ArmService:
    """Everything behind the HTTPS port. Route modules register on :attr:`router`."""

    def __init__(
        self,
        state: State,
        dataplane: DataPlane,
        *,
        faults: Faults | None = None,
        page_size: int = 50,
        retry_after: int = 1,
        lro_delay: float = 0.0,
    ) -> None:
        self.state = state
        self.dataplane = dataplane
        self.faults = faults or Faults()
        self.page_size = page_size
        self.retry_after = retry_after
        self.lro_delay = lro_delay
        self.router = Router()
        self.base_url = ""
        settings = state.data["settings"]
        if "signing_key" not in settings:
            settings["signing_key"] = secrets.token_hex(32)
            state.save()
        self.key = bytes.fromhex(settings["signing_key"])
        self._threads: list[threading.Thread] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._serve_thread: threading.Thread | None = None
        self.busy: dict[str, str] = {}  # backup instance id -> job id running on it
        self.busy_lock = threading.Lock()
        _register_routes(self)

    # -- lifecycle ---------------------------------------------------------------------
    def serve(self, cert: Path, key: Path, port: int = 0) -> int:
        """Start serving HTTPS on 127.0.0.1 in a thread; return the port."""
        service = self

        class Handler(_Handler):
            arm = service

        httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        httpd.socket = ctx.wrap_socket(
            httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        self._httpd = httpd
        real_port = int(httpd.server_address[1])
        self.base_url = f"https://127.0.0.1:{real_port}"
        self._serve_thread = threading.Thread(
            target=httpd.serve_forever, name="sandbox-arm", daemon=True
        )
        self._serve_thread.start()
        return real_port

    def shutdown(self) -> None:
        """Stop serving and wait for background work (briefly)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        for thread in list(self._threads):
            thread.join(timeout=30)
        self.state.save()

    # -- background work ---------------------------------------------------------------
    def spawn(self, fn: Callable[[], None], name: str) -> None:
        """Run ``fn`` in a tracked background thread."""
        thread = threading.Thread(target=self._guard(fn), name=name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    @staticmethod
    def _guard(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except Exception:  # a background failure must not kill the service
                log.exception("sandbox background task failed")

        return run

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until background LROs and jobs have finished (tests, seeding)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    # -- LROs --------------------------------------------------------------------------
    def lro(
        self,
        req: Request,
        work: Callable[[], Json | None],
        *,
        status: int = 202,
        body: Json | None = None,
        status_root: str | None = None,
    ) -> Response:
        """Answer ``status`` with Azure-AsyncOperation/Location headers and run ``work``.

        ``work`` returns the operation's result body (served on the Location URL) or raises
        ArmError / DataPlaneError to fail the operation.
        """
        op_id = new_id()
        root = status_root or self._status_root(req.path)
        op: Json = {"id": op_id, "status": "InProgress", "startTime": now_iso(), "root": root}
        with self.state.lock:
            self.state.data["operations"][op_id] = op
            self.state.save()

        def run() -> None:
            if self.lro_delay:
                time.sleep(self.lro_delay)
            try:
                result = work()
            except ArmError as exc:
                self._finish(op_id, "Failed", error=exc.error_json())
            except DataPlaneError as exc:
                self._finish(op_id, "Failed", error={"code": exc.code, "message": exc.message})
            except Exception as exc:
                log.exception("LRO %s failed", op_id)
                self._finish(
                    op_id, "Failed", error={"code": "InternalServerError", "message": str(exc)}
                )
            else:
                self._finish(op_id, "Succeeded", result=result)

        self.spawn(run, f"lro-{op_id[:8]}")
        headers = self.lro_headers(op_id, root)
        return Response(status, body, headers)

    def lro_headers(self, op_id: str, root: str) -> dict[str, str]:
        """Azure-AsyncOperation, Location and Retry-After for an operation."""
        base = self.base_url
        status_kind = "azureAsyncOperation" if "/locations/" in root else "operationStatus"
        results_root = root
        parts = root.strip("/").split("/")
        if len(parts) > 2 and "backupvaults" in (p.lower() for p in parts):
            # As recorded (azure-cli-extensions, PG flex backup and restore run): a vault's
            # Location points at the region's operationResults, not at the vault.
            vault = self.state.get(root) or {}
            loc = str(vault.get("location") or "westeurope")
            results_root = f"/subscriptions/{parts[1]}/providers/Microsoft.DataProtection/" + (
                f"locations/{loc}"
            )
        headers = {
            "Azure-AsyncOperation": f"{base}{root}/{status_kind}/{op_id}?api-version=sandbox",
            "Location": f"{base}{results_root}/operationResults/{op_id}?api-version=sandbox",
        }
        if self.retry_after:
            headers["Retry-After"] = str(self.retry_after)
        return headers

    def _status_root(self, path: str) -> str:
        parts = path.strip("/").split("/")
        low = [p.lower() for p in parts]
        if "backupvaults" in low:
            i = low.index("backupvaults")
            return "/" + "/".join(parts[: i + 2])
        if "providers" in low and len(parts) >= 2:
            ns = parts[low.index("providers") + 1]
            loc = "westeurope"
            res = self.state.get("/".join(parts[: low.index("providers") + 4]))
            if res and res.get("location"):
                loc = str(res["location"])
            return f"/subscriptions/{parts[1]}/providers/{ns}/locations/{loc}"
        return f"/subscriptions/{parts[1]}/providers/Microsoft.Resources/locations/global"

    def _finish(
        self, op_id: str, status: str, *, result: Json | None = None, error: Json | None = None
    ) -> None:
        with self.state.lock:
            op = self.state.data["operations"].get(op_id)
            if op is None:
                return
            op.update(status=status, endTime=now_iso())
            if result is not None:
                op["result"] = result
            if error is not None:
                op["error"] = error
            self.state.save()

    def operation(self, req: Request, op_id: str, kind: str) -> Response:
        """GET an operation status (operationStatus/azureAsyncOperation) or result."""
        op = self.state.data["operations"].get(op_id)
        if op is None:
            raise ArmError(404, "OperationNotFound", f"Operation '{op_id}' was not found.")
        if kind.lower() == "operationresults":
            if op["status"] == "InProgress":
                return Response(202, None, self.lro_headers(op_id, op["root"]))
            if op["status"] == "Failed":
                err = op.get("error") or {}
                raise ArmError(400, err.get("code", "Failed"), err.get("message", ""))
            if op.get("result") is None:
                return Response(204, None)
            return Response(200, op["result"])
        body: Json = {
            "id": f"{op['root']}/{kind}/{op_id}",
            "name": op_id,
            "status": op["status"],
            "startTime": op["startTime"],
        }
        if op["status"] != "InProgress":
            body["endTime"] = op.get("endTime")
        elif "/microsoft.dataprotection/" in op["root"].lower():
            # As recorded (azure-cli-extensions, PG flex backup and restore run): a running
            # Data Protection operation reports .NET's DateTime.MinValue as its endTime, and
            # spells its status "Inprogress" (its jobs say "InProgress"; clients must compare
            # without case, as the SDK's poller does).
            body["endTime"] = "0001-01-01T00:00:00Z"
            body["status"] = "Inprogress"
        if op.get("error"):
            body["error"] = op["error"]
        if op.get("result") is not None:
            body["properties"] = op["result"]
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after else {}
        if op["status"] != "InProgress":
            headers = {}
        return Response(200, body, headers)

    # -- identities and roles ----------------------------------------------------------
    def assignments(self) -> dict[str, Json]:
        """The role assignment table (normalised id -> ARM JSON)."""
        return self.state.data.setdefault("roleAssignments", {})  # type: ignore[no-any-return]

    def has_role(self, principal: str, scope: str, role_ids: set[str]) -> bool:
        """True if ``principal`` holds one of ``role_ids`` at ``scope`` or above."""
        target = norm(scope)
        with self.state.lock:
            for ra in self.assignments().values():
                props = ra["properties"]
                if props["principalId"] != principal:
                    continue
                if props["roleDefinitionId"].rsplit("/", 1)[-1] not in role_ids:
                    continue
                ra_scope = norm(props["scope"])
                if ra_scope in ("/", target) or target.startswith(ra_scope + "/"):
                    return True
        return False

    def require(self, req: Request, scope: str, action: str, role_ids: set[str]) -> None:
        """403 AuthorizationFailed unless the caller holds one of ``role_ids`` on ``scope``."""
        if not self.has_role(req.caller, scope, role_ids):
            raise ArmError(
                403,
                "AuthorizationFailed",
                f"The client '{req.claims.get('appid', '')}' with object id '{req.caller}' does "
                f"not have authorization to perform action '{action}' over scope '{scope}' or "
                "the scope is invalid. If access was recently granted, please refresh your "
                "credentials.",
            )

    # -- dispatch ----------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        """Route one request (token routes, admin routes, ARM)."""
        try:
            return self._handle(req)
        except ArmError as exc:
            return Response(exc.status, exc.body(), dict(exc.headers))
        except DataPlaneError as exc:
            return Response(400, {"error": {"code": exc.code, "message": exc.message}})

    def _handle(self, req: Request) -> Response:
        low = req.path.lower()
        identity = routes_identity.handle(self, req)
        if identity is not None:
            return identity
        try:
            req.claims = verify_token(
                self.key, req.headers.get("authorization"), audiences=ARM_AUDIENCES
            )
        except TokenError as exc:
            raise ArmError(
                401,
                exc.code,
                exc.message,
                headers={
                    "WWW-Authenticate": f'Bearer authorization_uri="{self.base_url}", '
                    'error="invalid_token", error_description="' + exc.message + '"'
                },
            ) from exc
        if low.startswith("/_sandbox/"):
            return routes_identity.admin(self, req)
        self._precheck(req)
        found = self.router.find(req.method, req.path)
        if found is None:
            parts = low.strip("/").split("/")
            if "providers" in parts:
                ns = req.path.strip("/").split("/")[parts.index("providers") + 1 :][:1]
                known = (
                    "microsoft.dbforpostgresql",
                    "microsoft.dataprotection",
                    "microsoft.storage",
                    "microsoft.authorization",
                    "microsoft.resources",
                )
                if ns and ns[0].lower() not in known:
                    raise ArmError(
                        404,
                        "NoRegisteredProviderFound",
                        f"No registered resource provider found for location 'global' and "
                        f"API version '{req.query.get('api-version', '')}' for type "
                        f"'{ns[0]}'.",
                    )
            raise ArmError(
                404, "ResourceNotFound", f"The route '{req.method} {req.path}' was not found."
            )
        handler, match = found
        return handler(req, match)

    def _precheck(self, req: Request) -> None:
        """Subscription, tenant, resource group and coarse RBAC checks from the path."""
        parts = req.path.strip("/").split("/")
        low = [p.lower() for p in parts]
        if not parts or low[0] != "subscriptions" or len(parts) < 2:
            return
        sub = self.state.data["subscriptions"].get(low[1])
        if sub is None:
            raise ArmError(
                404, "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found."
            )
        if sub["tenantId"] != req.tenant:
            raise ArmError(
                401,
                "InvalidAuthenticationTokenTenant",
                f"The access token is from the wrong issuer 'https://sts.windows.net/"
                f"{req.tenant}/'. It must match the tenant 'https://sts.windows.net/"
                f"{sub['tenantId']}/' associated with this subscription. Please use the "
                "authority (URL) 'https://login.windows.net/" + sub["tenantId"] + "' to get "
                "the token.",
            )
        is_rg_put = len(parts) == 4 and low[2] == "resourcegroups" and req.method == "PUT"
        if len(parts) >= 4 and low[2] == "resourcegroups" and not is_rg_put:
            rg_id = "/".join(parts[:4])
            if self.state.get(rg_id) is None:
                raise ArmError(
                    404, "ResourceGroupNotFound", f"Resource group '{parts[3]}' could not be found."
                )
        scope = "/" + "/".join(parts)
        if ("providers" in low and low[-1] in {"roleassignments"}) or (
            "roleassignments" in low and req.method in ("PUT", "DELETE")
        ):
            i = low.index("providers")
            scope = "/" + "/".join(parts[:i])
            if req.method in ("PUT", "DELETE"):
                self.require(
                    req,
                    scope,
                    "Microsoft.Authorization/roleAssignments/write",
                    {roles.OWNER, roles.USER_ACCESS_ADMIN},
                )
                return
        anyrole = set(roles.BUILTIN_ROLES) - {roles.BLOB_DATA_CONTRIBUTOR, roles.BLOB_DATA_OWNER}
        write = req.method in ("PUT", "PATCH", "DELETE") or (
            req.method == "POST" and not any(k in low[-1] for k in _READ_POSTS)
        )
        if "roledefinitions" in low or "operationstatus" in low or "azureasyncoperation" in low:
            write = False
        if write:
            self.require(req, scope, f"{req.method} {req.path}", {roles.OWNER, roles.CONTRIBUTOR})
        elif not self.has_role(req.caller, scope, anyrole):
            self.require(req, scope, "read", anyrole)

    def principal_id_for(self, tenant_id: str, client_id: str) -> str | None:
        """The object id of an app registration's service principal in a tenant."""
        app = self.state.data["apps"].get(client_id)
        if not app:
            return None
        oid = app["principals"].get(tenant_id)
        return str(oid) if oid else None

    def token_for(self, tenant_id: str, client_id: str) -> str:
        """Issue a token directly (CLI ``token`` command, tests)."""
        oid = self.principal_id_for(tenant_id, client_id)
        if oid is None:
            raise KeyError(f"{client_id} has no principal in {tenant_id}")
        token, _ = issue_token(
            self.key,
            issuer=f"https://sts.windows.net/{tenant_id}/",
            tenant_id=tenant_id,
            oid=oid,
            appid=client_id,
        )
        return token


class _Handler(BaseHTTPRequestHandler):
    """Thin HTTP adapter around :meth:`ArmService.handle`."""

    arm: ArmService
    protocol_version = "HTTP/1.1"
    server_version = "pgflex-sandbox-arm"

    def log_message(self, format: str, *args: Any) -> None:
        """Route access logs to logging at debug level."""
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        split = urlsplit(self.path)
        path = "/" + unquote(split.path).lstrip("/")
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request_id = str(uuid.uuid4())
        correlation = headers.get("x-ms-correlation-request-id") or str(uuid.uuid4())
        rule = self.arm.faults.match(self.command, path)
        delay = self.arm.faults.global_latency_ms + (rule.latency_ms if rule else 0)
        if delay:
            time.sleep(delay / 1000)
        if rule is not None and rule.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        if rule is not None and rule.status:
            code = rule.code or {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(
                rule.status, "InternalServerError"
            )
            err = ArmError(rule.status, code, f"Injected fault ({rule.status}) by the sandbox.")
            resp = Response(rule.status, err.body())
            if rule.retry_after is not None:
                resp.headers["Retry-After"] = str(rule.retry_after)
        else:
            req = Request(self.command, path, query, headers, raw, self.arm.base_url)
            resp = self.arm.handle(req)
        data = b"" if resp.body is None else json.dumps(resp.body).encode("utf-8")
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.headers.pop("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", request_id)
        self.send_header("x-ms-correlation-request-id", correlation)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve
