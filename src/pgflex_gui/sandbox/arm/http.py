"""Request, response, errors and routing shared by every route module."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

__all__ = ["ArmError", "Request", "Response", "Router", "not_found", "page"]

Json = dict[str, Any]


class ArmError(Exception):
    """An Azure-shaped error answer: ``{"error": {"code", "message", "details"}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[Json] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def body(self) -> Json:
        """The ARM error body."""
        return {"error": self.error_json()}

    def error_json(self) -> Json:
        """The inner ``error`` object (also used in failed operation statuses)."""
        return {"code": self.code, "message": self.message, "details": self.details}


def not_found(resource_id: str) -> ArmError:
    """The 404 Azure returns for a missing resource."""
    parts = resource_id.strip("/").split("/")
    if "providers" in parts:
        i = parts.index("providers")
        rtype = "/".join(parts[i + 1 :: 2][:1] + parts[i + 2 :: 2][:-1])
        name = parts[-1]
        rg = parts[3] if len(parts) > 3 and parts[2].lower() == "resourcegroups" else ""
        return ArmError(
            404,
            "ResourceNotFound",
            f"The Resource '{rtype}/{name}' under resource group '{rg}' was not found. "
            "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
        )
    return ArmError(404, "ResourceNotFound", f"The resource '{resource_id}' was not found.")


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw_body: bytes
    base_url: str
    claims: Json = field(default_factory=dict)

    def json(self) -> Json:
        """The JSON body ({} when empty); 400 InvalidRequestContent when not JSON."""
        if not self.raw_body:
            return {}
        try:
            data = json.loads(self.raw_body)
        except ValueError as exc:
            raise ArmError(
                400, "InvalidRequestContent", f"The request content was invalid: {exc}"
            ) from exc
        if not isinstance(data, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content must be an object.")
        return data

    @property
    def caller(self) -> str:
        """The calling principal's object id."""
        return str(self.claims.get("oid", ""))

    @property
    def tenant(self) -> str:
        """The calling token's tenant id."""
        return str(self.claims.get("tid", ""))


@dataclass
class Response:
    """An answer: status, JSON body (or None), headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request, "re.Match[str]"], Response]


class Router:
    """Regex routes on ``METHOD`` + path, matched case-insensitively."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, methods: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for space-separated ``methods`` and a full-match ``pattern``."""
        compiled = re.compile(pattern, re.IGNORECASE)
        for method in methods.split():
            self.routes.append((method.upper(), compiled, handler))

    def find(self, method: str, path: str) -> tuple[Handler, re.Match[str]] | None:
        """The first route matching, or None."""
        for m, pattern, handler in self.routes:
            if m != method:
                continue
            match = pattern.fullmatch(path)
            if match:
                return handler, match
        return None


def page(request: Request, items: list[Json], page_size: int) -> Response:
    """One page of ``items`` with ``nextLink`` continuing via ``$skiptoken``."""
    try:
        start = int(request.query.get("$skiptoken", "0") or 0)
    except ValueError:
        raise ArmError(400, "InvalidSkipToken", "The skip token is invalid.") from None
    chunk = items[start : start + page_size]
    body: Json = {"value": chunk}
    if start + page_size < len(items):
        query = dict(request.query)
        query["$skiptoken"] = str(start + page_size)
        body["nextLink"] = f"{request.base_url}{request.path}?{urlencode(query)}"
    return Response(200, body)


def new_id() -> str:
    """A fresh GUID string."""
    return str(uuid.uuid4())
