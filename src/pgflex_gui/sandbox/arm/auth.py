"""Token authority: issues HMAC-signed JWT-like tokens and verifies them for ARM."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

__all__ = ["TokenError", "issue_token", "verify_token"]

ARM_AUDIENCE = "https://management.azure.com/"


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
    key: bytes, *, issuer: str, tenant_id: str, oid: str, appid: str, lifetime: int = 3600
) -> tuple[str, int]:
    """Return ``(token, expires_in)`` for a service principal in ``tenant_id``."""
    now = int(time.time())
    header = {"typ": "JWT", "alg": "HS256", "kid": "sandbox"}
    claims = {
        "aud": ARM_AUDIENCE,
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


def verify_token(key: bytes, authorization: str | None) -> dict[str, Any]:
    """Check an ``Authorization`` header value; return the claims or raise TokenError."""
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
    return claims
