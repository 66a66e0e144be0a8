"""Azure error catalog."""

import pytest

from pgflex_gui.domain.error_codes import AZURE_ERROR_CATALOG, describe_azure_error, lookup
from pgflex_gui.domain.errors import Fault

REQUIRED = [
    "UserErrorMissingRequiredPermissions",
    "UserErrorDppDatasourceAlreadyProtected",
    "AuthorizationFailed",
    "PostgreSQLFlexOperationFailedUserError",
    "ServerNotReadyForLongTermBackup",
    "ResourceGroupNotFound",
    "ResourceNotFound",
    "UserErrorMaxConcurrentOperationLimitReached",
    "UserErrorMSIMissingPermissions",
    "UserErrorGenericResourceNotFound",
    "InvalidAuthenticationToken",
    "ExpiredAuthenticationToken",
    "TooManyRequests",
    "429",
    "InternalServerError",
]


@pytest.mark.parametrize("code", REQUIRED)
def test_every_code_has_words(code: str) -> None:
    entry = AZURE_ERROR_CATALOG[code]
    assert entry.summary.endswith(".")
    assert entry.remedy.endswith(".")
    assert isinstance(entry.fault, Fault)


def test_inner_code_wins_and_lookup_ignores_case() -> None:
    err = describe_azure_error(
        "PostgreSQLFlexOperationFailedUserError",
        "server stopped",
        ["", "servernotreadyforlongtermbackup"],
        request_id="r1",
    )
    assert err.azure_code == "ServerNotReadyForLongTermBackup"
    assert err.retryable
    assert err.fault is Fault.USER
    assert err.request_id == "r1"
    assert "Inner codes: servernotreadyforlongtermbackup" in err.details
    assert lookup(" authorizationfailed ") == (
        "AuthorizationFailed",
        AZURE_ERROR_CATALOG["AuthorizationFailed"],
    )
    assert lookup("Nope") is None
    outer = describe_azure_error("UserErrorMSIMissingPermissions", "m", ["SomethingNew"])
    assert outer.fault is Fault.PERMISSION
    assert "Storage Blob Data Contributor" in outer.remedy


def test_unknown_code_keeps_code_and_message() -> None:
    err = describe_azure_error("BrandNewCode", "Something odd happened.")
    assert err.fault is Fault.AZURE
    assert err.azure_code == "BrandNewCode"
    assert "BrandNewCode" in err.summary
    assert "Something odd happened." in err.summary
    assert "Something odd happened." in err.report()
    blank = describe_azure_error("", "")
    assert blank.azure_code is None
    assert blank.summary == "Azure reported an error:"


def test_specific_outer_code_beats_a_generic_inner_one() -> None:
    err = describe_azure_error(
        "UserErrorMissingRequiredPermissions",
        "vault identity lacks roles",
        ["AuthorizationFailed"],
    )
    assert err.azure_code == "UserErrorMissingRequiredPermissions"
    assert err.fault is Fault.PERMISSION


def test_unknown_outer_code_falls_back_to_a_known_inner_one() -> None:
    err = describe_azure_error("SomethingNew", "m", ["ResourceNotFound"])
    assert err.azure_code == "ResourceNotFound"


@pytest.mark.parametrize(
    ("code", "inner", "fault", "named"),
    [
        # v2 restore-as-server target rules: codes Azure does not document (sandbox's own).
        (
            "UserErrorRestoreTargetServerNotEmpty",
            (),
            Fault.USER,
            "UserErrorRestoreTargetServerNotEmpty",
        ),
        (
            "BadRequest",
            ("UserErrorBurstableTierNotSupported",),
            Fault.USER,
            "UserErrorBurstableTierNotSupported",
        ),
        ("usererrorsomethingnew", (), Fault.USER, "usererrorsomethingnew"),
        ("InternalError", (), Fault.AZURE, "InternalError"),  # not the caller's doing
    ],
)
def test_an_uncatalogued_user_error_code_is_the_callers_to_fix(
    code: str, inner: tuple[str, ...], fault: Fault, named: str
) -> None:
    err = describe_azure_error(code, "The target server holds databases.", inner)
    assert err.fault is fault
    assert err.azure_code == named
    assert "The target server holds databases." in err.summary
    if fault is Fault.USER:
        assert not err.retryable
        assert err.remedy
