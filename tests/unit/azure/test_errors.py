"""errors.translate: Azure exceptions to AppError with codes and request ids."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.identity import CredentialUnavailableError

from pgflex_gui.azure.errors import azure_call, translate
from pgflex_gui.domain.errors import AppError, Cancelled, Fault


class _Response:
    """The HTTP response surface HttpResponseError reads (status, reason, headers, text)."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.reason = "Reason"
        self.headers = headers or {}
        self._text = body if isinstance(body, str) else json.dumps(body)
        self.request = None

    def text(self, encoding: str | None = None) -> str:
        return self._text


IDS = {"x-ms-request-id": "req-1", "x-ms-correlation-request-id": "corr-1"}


def _http(status: int, body: Any, cls: type[HttpResponseError] = HttpResponseError) -> Any:
    return cls(response=_Response(status, body, IDS))


def test_missing_permissions_with_inner_details() -> None:
    body = {
        "error": {
            "code": "UserErrorMissingRequiredPermissions",
            "message": "Appropriate permissions to perform the operation is missing.",
            "details": [{"code": "AuthorizationFailed", "message": "no roleAssignments/read"}],
        }
    }
    err = translate(_http(400, body), what="validate the backup configuration")
    assert err.fault is Fault.PERMISSION
    assert err.request_id == "req-1"
    assert err.extra["correlation_id"] == "corr-1"
    assert err.extra["status"] == "400"
    assert err.extra["operation"] == "validate the backup configuration"
    assert "UserErrorMissingRequiredPermissions" in err.details
    assert "AuthorizationFailed" in err.details
    assert err.remedy


def test_inner_code_in_dataprotection_inner_error() -> None:
    body = {
        "error": {
            "code": "PostgreSQLFlexOperationFailedUserError",
            "message": "failed",
            "innerError": {"code": "ServerNotReadyForLongTermBackup"},
        }
    }
    err = translate(_http(400, body))
    assert err.azure_code == "ServerNotReadyForLongTermBackup"
    assert err.retryable


def test_lro_status_monitor_body() -> None:
    body = {"status": "Failed", "error": {"code": "UserErrorMSIMissingPermissions", "message": "m"}}
    err = translate(_http(200, body))
    assert err.azure_code == "UserErrorMSIMissingPermissions"
    assert err.fault is Fault.PERMISSION


def test_unknown_code_falls_back_to_status_and_service_hints() -> None:
    body = {
        "error": {
            "code": "SomethingNew",
            "message": "new failure",
            "recommendedAction": ["Do the thing."],
            "isRetryable": "true",
        }
    }
    err = translate(_http(409, body))
    assert err.azure_code == "SomethingNew"
    assert err.remedy == "Do the thing."
    assert err.retryable
    assert err.fault is Fault.USER


def test_not_found_and_server_errors_without_json() -> None:
    err = translate(
        _http(
            404, {"error": {"code": "ResourceNotFound", "message": "gone"}}, ResourceNotFoundError
        )
    )
    assert err.fault is Fault.USER
    assert err.azure_code == "ResourceNotFound"
    boom = translate(_http(503, "<html>bad gateway</html>"))
    assert boom.fault is Fault.AZURE
    assert boom.retryable
    assert boom.request_id == "req-1"
    throttled = translate(_http(429, ""))
    assert throttled.fault is Fault.NETWORK
    assert throttled.retryable


def test_network_errors_are_retryable() -> None:
    for exc in (ServiceRequestError("connection refused"), ServiceResponseError("reset")):
        err = translate(exc)
        assert err.fault is Fault.NETWORK
        assert err.retryable


def test_credential_errors() -> None:
    unavailable = translate(CredentialUnavailableError("no account"))
    assert unavailable.fault is Fault.PERMISSION
    assert "Sign in" in unavailable.remedy
    mfa = translate(
        ClientAuthenticationError(
            "AADSTS50076: Due to a configuration change ... interaction_required"
        )
    )
    assert mfa.azure_code == "AADSTS50076"
    assert "interactive" in mfa.summary
    arm_401 = translate(
        _http(
            401,
            {"error": {"code": "InvalidAuthenticationToken", "message": "x"}},
            ClientAuthenticationError,
        )
    )
    assert arm_401.azure_code == "InvalidAuthenticationToken"
    assert arm_401.request_id == "req-1"


def test_unexpected_exception_is_an_app_fault() -> None:
    err = translate(KeyError("x"))
    assert err.fault is Fault.APP
    assert "KeyError" in err.details
    same = AppError(Fault.USER, "s")
    assert translate(same) is same


def test_azure_call_translates_logs_and_passes_through(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.WARNING, "pgflex_gui.azure.errors"),
        pytest.raises(AppError) as caught,
        azure_call("list vaults"),
    ):
        raise _http(403, {"error": {"code": "AuthorizationFailed", "message": "no"}})
    assert caught.value.fault is Fault.PERMISSION
    assert isinstance(caught.value.__cause__, HttpResponseError)
    assert "req-1" in caplog.text
    with pytest.raises(Cancelled), azure_call("x"):
        raise Cancelled()

    @azure_call("decorated")
    def fails() -> None:
        raise ServiceRequestError("down")

    with pytest.raises(AppError, match="could not be reached"):
        fails()


def test_translated_errors_carry_no_sas_signature() -> None:
    from azure.core.exceptions import ServiceRequestError

    from pgflex_gui.azure.errors import translate

    url = "https://acct.blob.core.windows.net/c/db.sql?sv=2025-01-01&sig=SECRETSIGNATURE123"
    err = translate(ServiceRequestError(f"connection reset while reading {url}"), what="download")
    assert "SECRETSIGNATURE123" not in err.summary
    assert "SECRETSIGNATURE123" not in err.details
    assert "sig=" in err.details  # the place is still shown, only the value is gone
