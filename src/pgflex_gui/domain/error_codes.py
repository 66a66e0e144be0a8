"""Plain-language meaning of Azure error codes seen with PG flex backup (azure-facts §9)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from pgflex_gui.domain.errors import AppError, Fault

__all__ = ["AZURE_ERROR_CATALOG", "CatalogEntry", "describe_azure_error", "lookup"]


class CatalogEntry(NamedTuple):
    """What a code means and what to do."""

    fault: Fault
    summary: str
    remedy: str
    retryable: bool


_ROLES = (
    "Grant the vault's identity 'PostgreSQL Flexible Server Long Term Retention Backup Role' on "
    "the server and 'Reader' on the server's resource group, wait a minute, then retry."
)

AZURE_ERROR_CATALOG: dict[str, CatalogEntry] = {
    "UserErrorMissingRequiredPermissions": CatalogEntry(
        Fault.PERMISSION,
        "The backup vault's identity lacks the roles it needs on the server.",
        _ROLES,
        True,
    ),
    "UserErrorDppDatasourceAlreadyProtected": CatalogEntry(
        Fault.USER,
        "This server is already protected by a backup vault; a server can have only one.",
        "Use the existing backup instance, or stop protection and delete it first (including "
        "any soft-deleted instance).",
        False,
    ),
    "AuthorizationFailed": CatalogEntry(
        Fault.PERMISSION,
        "Azure refused the operation: a role assignment is missing.",
        "Check your own roles and the vault identity's (Reader on the server's resource group "
        "is a common gap), then retry.",
        False,
    ),
    "PostgreSQLFlexOperationFailedUserError": CatalogEntry(
        Fault.USER,
        "The PostgreSQL flexible server refused the backup operation.",
        "Read the inner error for the cause; typically the server is not Ready or a role is "
        "missing.",
        False,
    ),
    "ServerNotReadyForLongTermBackup": CatalogEntry(
        Fault.USER,
        "The server is not in the Ready state (for example stopped or updating).",
        "Start the server or wait until it is Ready, then retry.",
        True,
    ),
    "ResourceGroupNotFound": CatalogEntry(
        Fault.USER,
        "The resource group no longer exists.",
        "If the server was deleted, stop protection for it.",
        False,
    ),
    "ResourceNotFound": CatalogEntry(
        Fault.USER,
        "The resource no longer exists.",
        "Refresh the view; if the server was deleted, stop protection for it.",
        False,
    ),
    "UserErrorMaxConcurrentOperationLimitReached": CatalogEntry(
        Fault.AZURE,
        "Another backup or restore is running on this backup instance.",
        "Wait until it finishes, then retry.",
        True,
    ),
    "UserErrorMSIMissingPermissions": CatalogEntry(
        Fault.PERMISSION,
        "The backup vault's identity can't write to the target storage account.",
        "Grant the vault's identity 'Storage Blob Data Contributor' on the storage account, "
        "then retry.",
        True,
    ),
    "UserErrorGenericResourceNotFound": CatalogEntry(
        Fault.AZURE,
        "Azure Backup could not find a resource it needs (seen with user-assigned identities).",
        "Use the vault's system-assigned identity and check that the server still exists.",
        False,
    ),
    "InvalidAuthenticationToken": CatalogEntry(
        Fault.PERMISSION,
        "Azure did not accept the sign-in token.",
        "Sign in again.",
        False,
    ),
    "ExpiredAuthenticationToken": CatalogEntry(
        Fault.PERMISSION,
        "The sign-in expired.",
        "Sign in again.",
        True,
    ),
    "TooManyRequests": CatalogEntry(
        Fault.NETWORK,
        "Azure is throttling requests.",
        "Wait a moment; the app retries automatically.",
        True,
    ),
    "InternalServerError": CatalogEntry(
        Fault.AZURE,
        "Azure had an internal error.",
        "Retry in a few minutes; if it persists, open a support case with the request id.",
        True,
    ),
}
AZURE_ERROR_CATALOG["429"] = AZURE_ERROR_CATALOG["TooManyRequests"]
AZURE_ERROR_CATALOG["500"] = AZURE_ERROR_CATALOG["InternalServerError"]

_BY_LOWER = {k.lower(): k for k in AZURE_ERROR_CATALOG}


def lookup(code: str) -> tuple[str, CatalogEntry] | None:
    """The catalog's spelling of ``code`` and its entry (case-insensitive), or None."""
    key = _BY_LOWER.get(code.strip().lower())
    return (key, AZURE_ERROR_CATALOG[key]) if key else None


GENERIC_WRAPPER_CODES = frozenset(
    {"PostgreSQLFlexOperationFailedUserError", "InternalServerError", "BadRequest", "Conflict"}
)
"""Outer codes that only say "something inside failed": their inner code says what."""


def describe_azure_error(
    code: str, message: str, inner_codes: Iterable[str] = (), request_id: str | None = None
) -> AppError:
    """An :class:`AppError` for an Azure error.

    A specific outer code (``UserErrorMissingRequiredPermissions``) is kept even when the
    service nests a generic one (``AuthorizationFailed``) inside it; inner codes are read
    first only when the outer code is a generic wrapper or unknown.
    """
    inner = [c for c in inner_codes if c]
    outer = lookup(code)
    wrapper = outer is None or outer[0] in GENERIC_WRAPPER_CODES
    candidates = [*inner, code] if wrapper else [code, *inner]
    chosen = None
    for candidate in candidates:
        chosen = lookup(candidate)
        if chosen:
            break
    details = "\n".join(
        [f"Code: {code}", *([f"Inner codes: {', '.join(inner)}"] if inner else []), message]
    ).strip()
    if chosen is None:
        user_side = next((c for c in candidates if c.lower().startswith("usererror")), "")
        if user_side:
            # Not in the catalog (e.g. the v2 restore-as-server target rules, whose codes
            # Azure does not document), but Azure Backup's "UserError…" codes all name a
            # cause on the caller's side: the request, the target or a role, not an outage.
            return AppError(
                fault=Fault.USER,
                summary=f"Azure refused the request ({user_side}): {message}".strip(),
                remedy="Its message says what to change; fix that and try again.",
                retryable=False,
                azure_code=user_side,
                request_id=request_id,
                details=details,
            )
        return AppError(
            fault=Fault.AZURE,
            summary=f"Azure reported {code or 'an error'}: {message}".strip(),
            azure_code=code or None,
            request_id=request_id,
            details=details,
        )
    name, entry = chosen
    return AppError(
        fault=entry.fault,
        summary=entry.summary,
        remedy=entry.remedy,
        retryable=entry.retryable,
        azure_code=name,
        request_id=request_id,
        details=details,
    )
