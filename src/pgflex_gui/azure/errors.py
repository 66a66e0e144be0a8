"""The one translator from Azure SDK exceptions to :class:`AppError`.

Every adapter in ``azure/`` wraps its SDK calls in :func:`azure_call`, so callers only ever
see ``AppError`` (or ``Cancelled``). The plain-language text for known Azure error codes lives
in :mod:`pgflex_gui.domain.error_codes`; this module extracts the code, inner codes, message and
request ids from the exception and the HTTP response.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from pgflex_gui.domain.errors import AppError, Cancelled, Fault
from pgflex_gui.logs import redact

__all__ = ["ErrorInfo", "azure_call", "error_info", "logged", "translate"]

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-ms-request-id"
CORRELATION_ID_HEADER = "x-ms-correlation-request-id"
_AADSTS = re.compile(r"\bAADSTS(\d+)\b")
_MAX_DETAILS = 4000


class ErrorInfo:
    """What an HTTP error says, pulled out of the body and headers (never raises)."""

    def __init__(
        self,
        *,
        status: int | None,
        code: str,
        message: str,
        inner_codes: Sequence[str],
        request_id: str | None,
        correlation_id: str | None,
        recommended: Sequence[str] = (),
        retryable_hint: bool | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.inner_codes = tuple(inner_codes)
        self.request_id = request_id
        self.correlation_id = correlation_id
        self.recommended = tuple(recommended)
        self.retryable_hint = retryable_hint


def _header(exc: HttpResponseError, name: str) -> str | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        value = headers.get(name)
    except Exception:  # noqa: BLE001 - headers of an odd transport; ids are optional
        return None
    return str(value) if value else None


def _body(exc: HttpResponseError) -> dict[str, Any]:
    """The ``error`` object of the response body (ARM, LRO status monitor or bare)."""
    response = getattr(exc, "response", None)
    text = ""
    if response is not None:
        try:
            text = response.text()
        except Exception:  # noqa: BLE001 - a body we cannot read is simply absent
            text = ""
    data: Any = None
    if text:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            return err
        if "code" in data or "message" in data:
            return data
    return {}


def _inner_codes(err: dict[str, Any], outer: str) -> list[str]:
    """Codes in ``details`` and ``innerError`` chains, most specific last, without repeats."""
    found: list[str] = []

    def visit(node: Any, depth: int) -> None:
        if depth > 6 or not isinstance(node, dict):
            return
        code = node.get("code")
        if isinstance(code, str) and code and code != outer and code not in found:
            found.append(code)
        for key in ("innerError", "innererror", "embeddedInnerError"):
            visit(node.get(key), depth + 1)
        details = node.get("details")
        if isinstance(details, list):
            for item in details:
                visit(item, depth + 1)

    for key in ("innerError", "innererror"):
        visit(err.get(key), 0)
    details = err.get("details")
    if isinstance(details, list):
        for item in details:
            visit(item, 0)
    return found


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def error_info(exc: HttpResponseError) -> ErrorInfo:
    """Pull code, message, inner codes and ids out of an HTTP error."""
    err = _body(exc)
    odata = getattr(exc, "error", None)
    code = str(err.get("code") or getattr(odata, "code", None) or "")
    message = str(err.get("message") or getattr(odata, "message", None) or "")
    if not message:
        message = str(getattr(exc, "message", "") or exc.reason or "")
    inner = _inner_codes(err, code)
    if not inner and odata is not None:
        for detail in getattr(odata, "details", None) or []:
            dcode = getattr(detail, "code", None)
            if dcode and dcode != code and dcode not in inner:
                inner.append(str(dcode))
    recommended = err.get("recommendedAction") or []
    if isinstance(recommended, str):
        recommended = [recommended]
    return ErrorInfo(
        status=getattr(exc, "status_code", None),
        code=code,
        message=message,
        inner_codes=inner,
        request_id=_header(exc, REQUEST_ID_HEADER),
        correlation_id=_header(exc, CORRELATION_ID_HEADER),
        recommended=[str(r) for r in recommended if r],
        retryable_hint=_as_bool(err.get("isRetryable")),
    )


def _describe(code: str, message: str, inner: Sequence[str], request_id: str | None) -> AppError:
    """The catalog's plain-language error, or a minimal fallback while it is missing."""
    try:
        from pgflex_gui.domain.error_codes import describe_azure_error
    except ImportError:  # pragma: no cover - the catalog ships with the app
        details = "\n".join(x for x in (f"Code: {code}", message) if x)
        return AppError(
            fault=Fault.AZURE,
            summary=f"Azure reported {code or 'an error'}: {message}".strip(),
            azure_code=code or None,
            request_id=request_id,
            details=details,
        )
    return describe_azure_error(code, message, inner, request_id=request_id)


def _by_status(status: int | None) -> tuple[Fault, str, bool] | None:
    """Fault, remedy and retryability from the HTTP status, for codes the catalog lacks."""
    if status is None:
        return None
    if status == 401:
        return Fault.PERMISSION, "Sign in again.", False
    if status == 403:
        return Fault.PERMISSION, "Ask for a role that allows this operation, then retry.", False
    if status == 404:
        return Fault.USER, "Refresh the view; the resource may have been deleted.", False
    if status == 409:
        return Fault.USER, "Another operation is changing this resource; retry later.", True
    if status == 429:
        return Fault.NETWORK, "Azure is throttling requests; wait a moment and retry.", True
    if status >= 500:
        return Fault.AZURE, "Retry in a few minutes.", True
    if 400 <= status < 500:
        return Fault.USER, "", False
    return None


def _from_http(exc: HttpResponseError) -> AppError:
    info = error_info(exc)
    code = info.code or (str(info.status) if info.status else "")
    err = _describe(code, info.message, info.inner_codes, info.request_id)
    known = bool(err.remedy)
    if not known:
        guess = _by_status(info.status)
        if guess is not None:
            fault, remedy, retryable = guess
            err = replace(err, fault=fault, remedy=remedy, retryable=retryable)
        if info.recommended:
            err = replace(err, remedy=" ".join(info.recommended))
        if info.retryable_hint is not None:
            err = replace(err, retryable=info.retryable_hint)
    extra = dict(err.extra)
    if info.status is not None:
        extra["status"] = str(info.status)
    if info.correlation_id:
        extra["correlation_id"] = info.correlation_id
    lines = [err.details] if err.details else []
    if info.status is not None:
        lines.append(f"HTTP status: {info.status}")
    if info.correlation_id:
        lines.append(f"Correlation id: {info.correlation_id}")
    return replace(err, details="\n".join(lines)[:_MAX_DETAILS], extra=extra)


def _from_credential(exc: ClientAuthenticationError) -> AppError:
    message = str(getattr(exc, "message", "") or exc)
    from azure.identity import CredentialUnavailableError

    if isinstance(exc, CredentialUnavailableError):
        return AppError(
            fault=Fault.PERMISSION,
            summary="You are not signed in to Azure with this account.",
            remedy="Sign in again.",
            details=message[:_MAX_DETAILS],
        )
    match = _AADSTS.search(message)
    code = f"AADSTS{match.group(1)}" if match else None
    lower = message.lower()
    if "interaction_required" in lower or "multi-factor" in lower or code == "AADSTS50076":
        summary = "This tenant requires an interactive sign-in (for example multi-factor)."
        remedy = "Sign in to this tenant interactively, then retry."
    elif "invalid_client" in lower or ("secret" in lower and "invalid" in lower):
        summary = "Azure sign-in refused the application's credentials."
        remedy = "Check the client id and secret, or sign in again."
    else:
        summary = "Azure did not accept the sign-in."
        remedy = "Sign in again."
    return AppError(
        fault=Fault.PERMISSION,
        summary=summary,
        remedy=remedy,
        azure_code=code,
        details=message[:_MAX_DETAILS],
    )


def translate(exc: BaseException, *, what: str = "") -> AppError:
    """Turn any exception raised by an Azure SDK call into an :class:`AppError`.

    ``what`` (e.g. "list vaults") is added to the details and ``extra["operation"]``.
    An ``AppError`` is returned unchanged. Summary and details pass the log redaction (SAS
    signatures, tokens, keys, passwords): they reach the Details box and the clipboard.
    """
    if isinstance(exc, AppError):
        return exc
    err = _translate(exc, what=what)
    err.summary = redact(err.summary)
    err.details = redact(err.details)
    return err


def _translate(exc: BaseException, *, what: str) -> AppError:
    if isinstance(exc, ClientAuthenticationError) and (
        getattr(exc, "response", None) is None or exc.status_code is None
    ):
        err = _from_credential(exc)
    elif isinstance(exc, HttpResponseError):
        err = _from_http(exc)
    elif isinstance(exc, ServiceRequestError | ServiceResponseError):
        err = AppError(
            fault=Fault.NETWORK,
            summary="Azure could not be reached.",
            remedy="Check the network connection (proxy, VPN, firewall) and retry.",
            retryable=True,
            details=str(exc)[:_MAX_DETAILS],
        )
    elif isinstance(exc, AzureError):
        err = AppError(
            fault=Fault.AZURE,
            summary="An Azure operation failed.",
            remedy="Retry; if it keeps failing, copy the details into a support request.",
            retryable=True,
            details=str(exc)[:_MAX_DETAILS],
        )
    elif isinstance(exc, TimeoutError | ConnectionError):
        err = AppError(
            fault=Fault.NETWORK,
            summary="Azure could not be reached.",
            remedy="Check the network connection and retry.",
            retryable=True,
            details=str(exc)[:_MAX_DETAILS],
        )
    else:
        err = AppError(
            fault=Fault.APP,
            summary="pgflex-gui hit an unexpected problem.",
            remedy="Copy the details into a bug report.",
            details=f"{type(exc).__name__}: {exc}"[:_MAX_DETAILS],
        )
    if what:
        extra = {**err.extra, "operation": what}
        details = f"While trying to {what}.\n{err.details}".strip()
        err = replace(err, extra=extra, details=details)
    return err


@contextmanager
def azure_call(what: str) -> Iterator[None]:
    """Log and translate whatever an Azure call inside the block raises.

    Usable as ``with azure_call("list vaults"):`` or as a decorator ``@azure_call("...")``.
    ``AppError`` and ``Cancelled`` pass through untouched.
    """
    try:
        yield
    except (AppError, Cancelled):
        raise
    except Exception as exc:
        raise logged(exc, what) from exc


def logged(exc: BaseException, what: str) -> AppError:
    """Translate ``exc`` and log it once, with the request and correlation ids."""
    err = translate(exc, what=what)
    log.warning(
        "Azure call failed: %s: %s (code=%s, request id=%s, correlation id=%s)",
        what,
        err.summary,
        err.azure_code,
        err.request_id,
        err.extra.get("correlation_id"),
    )
    return err
