"""Token authority: issues HMAC-signed JWT-like tokens and verifies them for ARM.

As Entra ID does, a token's ``aud`` is the resource of the requested scope: a scope of
``https://management.azure.com/.default`` (or the sandbox ARM endpoint's own URL) gets the
ARM audience, ``https://storage.azure.com/.default`` gets ``https://storage.azure.com``
(what Azure Storage's data plane, and Azurite, accept), an account-specific
``https://{account}.blob.core.windows.net/.default`` gets that URL. ARM refuses a token for
another audience with ``InvalidAuthenticationTokenAudience``, as Azure does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Collection
from typing import Any

__all__ = [
    "ARM_AUDIENCE",
    "ARM_AUDIENCES",
    "STORAGE_AUDIENCE",
    "TokenError",
    "audience_for_scope",
    "issue_token",
    "verify_token",
]

ARM_AUDIENCE = "https://management.azure.com/"
ARM_AUDIENCES = frozenset(
    {
        "https://management.azure.com/",
        "https://management.azure.com",
        "https://management.core.windows.net/",
        "https://management.core.windows.net",
    }
)
STORAGE_AUDIENCE = "https://storage.azure.com"
_BLOB_ACCOUNT = re.compile(r"^https://[a-z0-9]{3,24}\.blob\.core\.windows\.net$")


def audience_for_scope(scope: str, *, arm_base_url: str = "") -> str | None:
    """The ``aud`` Entra ID puts in a token for ``scope``; None for an unknown resource."""
    for item in scope.split():
        resource = item.strip()
        if resource.endswith("/.default"):
            resource = resource[: -len("/.default")]
        low = resource.rstrip("/").lower()
        if not low or low in ("openid", "profile", "offline_access", "email"):
            continue
        if low + "/" in ARM_AUDIENCES or (arm_base_url and low == arm_base_url.rstrip("/").lower()):
            return ARM_AUDIENCE
        if low == STORAGE_AUDIENCE:
            return STORAGE_AUDIENCE
        if _BLOB_ACCOUNT.match(low):
            return low
        return None
    return None


class TokenError(Exception):
    """A bearer token ARM refuses; ``code`` is the Azure error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(
    key: bytes,
    *,
    issuer: str,
    tenant_id: str,
    oid: str,
    appid: str,
    lifetime: int = 3600,
    audience: str = ARM_AUDIENCE,
) -> tuple[str, int]:
    """Return ``(token, expires_in)`` for a service principal in ``tenant_id``."""
    now = int(time.time())
    header = {"typ": "JWT", "alg": "HS256", "kid": "sandbox"}
    claims = {
        "aud": audience,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "tid": tenant_id,
        "oid": oid,
        "sub": oid,
        "appid": appid,
        "idtyp": "app",
        "uti": uuid.uuid4().hex,
        "ver": "1.0",
    }
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    sig = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64(sig), lifetime


def verify_token(
    key: bytes, authorization: str | None, *, audiences: Collection[str] = ()
) -> dict[str, Any]:
    """Check an ``Authorization`` header value; return the claims or raise TokenError.

    ``audiences``: when given, the token's ``aud`` must be one of them.
    """
    if not authorization:
        raise TokenError(
            "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or token.count(".") != 2:
        raise TokenError(
            "InvalidAuthenticationToken",
            "The access token is invalid. The 'Authorization' header is not a bearer token.",
        )
    head, body, sig = token.split(".")
    expected = hmac.new(key, f"{head}.{body}".encode("ascii"), hashlib.sha256).digest()
    try:
        ok = hmac.compare_digest(expected, _unb64(sig))
        claims: dict[str, Any] = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenError("InvalidAuthenticationToken", "The access token is invalid.") from exc
    if not ok:
        raise TokenError(
            "InvalidAuthenticationToken",
            "The access token is invalid: signature validation failed.",
        )
    if int(claims.get("exp", 0)) < time.time():
        raise TokenError(
            "ExpiredAuthenticationToken",
            "The access token expiry UTC time is earlier than current UTC time.",
        )
    if audiences and claims.get("aud") not in audiences:
        allowed = ",".join(f"'{a}'" for a in sorted(audiences))
        raise TokenError(
            "InvalidAuthenticationTokenAudience",
            "The access token has been obtained for wrong audience or resource "
            f"'{claims.get('aud')}'. It should exactly match with one of the allowed audiences "
            f"{allowed}.",
        )
    return claims
