"""Signing in to Azure (and to the local sandbox) with azure-identity.

* :class:`SignInMethod` names the ways a DBA can sign in; :func:`build_credential` turns
  one into an azure-identity ``TokenCredential``. Secrets (client secrets, certificates)
  come from the :class:`~pgflex_gui.keystore.Keystore`, never from settings.
* Tokens are cached persistently (``TokenCachePersistenceOptions``, encrypted by DPAPI,
  Keychain or libsecret) only where that works: on Linux it needs PyGObject and libsecret,
  detected by :func:`persistent_cache_support`; otherwise the cache stays in memory and a
  warning is logged. ``allow_unencrypted_storage`` is never set.
* After an interactive sign-in, :func:`sign_in` saves the ``AuthenticationRecord`` (account
  and tenant ids, not a secret) as JSON in the config folder, so the next start is silent.
* :func:`sign_out` removes the record, empties the persistent cache and deletes the
  keystore entries of that identity.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import sys
import threading
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pgflex_gui import paths
from pgflex_gui.domain.cloud import AZURE_CLOUD, KNOWN_CLOUDS
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.keystore import Keystore, sandbox_key, sp_cert_key, sp_key

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.identity import AuthenticationRecord

__all__ = [
    "CACHE_NAME",
    "SignInMethod",
    "build_credential",
    "load_authentication_record",
    "persistent_cache_support",
    "save_authentication_record",
    "sign_in",
    "sign_out",
]

log = logging.getLogger(__name__)

CACHE_NAME = "pgflex-gui"
DEVELOPER_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # azure-identity's default app


class SignInMethod(StrEnum):
    INTERACTIVE_BROWSER = "interactive_browser"
    DEVICE_CODE = "device_code"
    AZURE_CLI = "azure_cli"
    SERVICE_PRINCIPAL_SECRET = "service_principal_secret"
    SERVICE_PRINCIPAL_CERTIFICATE = "service_principal_certificate"
    MANAGED_IDENTITY = "managed_identity"
    SANDBOX = "sandbox"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def interactive(self) -> bool:
        """Methods that may open a browser or show a code, and that keep a sign-in record."""
        return self in (SignInMethod.INTERACTIVE_BROWSER, SignInMethod.DEVICE_CODE)


_LABELS = {
    SignInMethod.INTERACTIVE_BROWSER: "Web browser",
    SignInMethod.DEVICE_CODE: "Device code (another device's browser)",
    SignInMethod.AZURE_CLI: "Azure CLI (az login)",
    SignInMethod.SERVICE_PRINCIPAL_SECRET: "Service principal with a client secret",
    SignInMethod.SERVICE_PRINCIPAL_CERTIFICATE: "Service principal with a certificate",
    SignInMethod.MANAGED_IDENTITY: "Managed identity (Azure VM)",
    SignInMethod.SANDBOX: "Local sandbox",
}


_KNOWN_AUTHORITIES = {
    c.authority_host.removeprefix("https://").rstrip("/") for c in KNOWN_CLOUDS.values()
}


# --- persistent token cache ----------------------------------------------------------------


@functools.cache
def persistent_cache_support(timeout: float = 5.0) -> tuple[bool, str]:
    """Whether an encrypted persistent token cache works here, and why (cached per process).

    Windows (DPAPI) and macOS (Keychain) always can; Linux needs PyGObject with libsecret
    and an unlocked Secret Service. The libsecret trial runs in a thread with a timeout so
    a locked keyring cannot hang sign-in.
    """
    if importlib.util.find_spec("msal_extensions") is None:
        return False, "msal-extensions is not installed"
    if sys.platform.startswith("win") or sys.platform == "darwin":
        return True, "protected by the operating system"
    if not sys.platform.startswith("linux"):
        return False, f"no encrypted token cache on {sys.platform}"
    if importlib.util.find_spec("gi") is None:
        return False, "PyGObject (gi) with libsecret is not installed"
    outcome: list[tuple[bool, str]] = []

    def trial() -> None:
        try:
            from msal_extensions.libsecret import trial_run

            trial_run()
            outcome.append((True, "libsecret"))
        except Exception as exc:  # noqa: BLE001 - any failure means "not here"
            outcome.append((False, f"libsecret is not usable: {exc}"))

    worker = threading.Thread(target=trial, name="token-cache-trial", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        return False, f"libsecret did not answer within {timeout:g} s (locked keyring?)"
    return outcome[0]


def _cache_options(enabled: bool, name: str = CACHE_NAME) -> Any | None:
    if not enabled:
        return None
    supported, reason = persistent_cache_support()
    if not supported:
        log.warning("token cache kept in memory only (sign-in needed each start): %s", reason)
        return None
    from azure.identity import TokenCachePersistenceOptions

    return TokenCachePersistenceOptions(name=name)  # never allow_unencrypted_storage


# --- authentication record -----------------------------------------------------------------


def load_authentication_record(path: Path | None = None) -> AuthenticationRecord | None:
    from azure.identity import AuthenticationRecord

    target = path or paths.auth_record_path()
    try:
        return AuthenticationRecord.deserialize(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - a damaged record only costs a sign-in
        log.warning("ignoring the damaged sign-in record %s: %s", target, exc)
        return None


def save_authentication_record(record: AuthenticationRecord, path: Path | None = None) -> Path:
    target = path or paths.auth_record_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(record.serialize(), encoding="utf-8")
    tmp.replace(target)
    return target


def _matching_record(
    record_path: Path | None, authority: str, tenant_id: str | None, client_id: str
) -> AuthenticationRecord | None:
    record = load_authentication_record(record_path)
    if record is None:
        return None
    host = authority.removeprefix("https://").rstrip("/")
    if record.client_id != client_id or record.authority.rstrip("/") != host:
        return None
    if tenant_id and tenant_id not in ("organizations", "common") and record.tenant_id != tenant_id:
        return None
    return record


# --- credentials ---------------------------------------------------------------------------


def _need(value: str | None, what: str, method: SignInMethod) -> str:
    if not value:
        raise AppError(
            Fault.USER,
            f"{method.label} sign-in needs a {what}.",
            remedy=f"Enter the {what} in Settings > Sign-in.",
        )
    return value


def _secret(keystore: Keystore, key: str, what: str) -> str:
    value = keystore.get(key)
    if not value:
        raise AppError(
            Fault.USER,
            f"No {what} is stored for this sign-in.",
            remedy=f"Enter the {what} in Settings > Sign-in; it is kept in the system keyring.",
        )
    return value


def _authority_url(host: str) -> str:
    return host if host.startswith("https://") else f"https://{host}"


def build_credential(
    method: SignInMethod | str,
    cloud_authority_host: str,
    *,
    tenant_id: str | None,
    client_id: str | None,
    keystore: Keystore,
    ca_bundle: str | None = None,
    cache_persistence: bool = True,
    prompt_callback: Callable[[str, str, Any], None] | None = None,
    record_path: Path | None = None,
) -> TokenCredential:
    """An azure-identity credential for ``method``.

    ``cloud_authority_host`` is a host (``login.microsoftonline.com``) or an https URL (the
    sandbox's authority). ``prompt_callback(verification_uri, user_code, expires_on)`` shows
    a device code. Raises :class:`AppError` (USER) when a needed id or secret is missing.
    """
    import azure.identity as ai

    method = SignInMethod(method)
    authority = _authority_url(cloud_authority_host)
    common: dict[str, Any] = {}
    if ca_bundle:
        common["connection_verify"] = ca_bundle
    if cloud_authority_host.removeprefix("https://").rstrip("/") not in _KNOWN_AUTHORITIES:
        common["disable_instance_discovery"] = True  # sandbox, Azure Stack, private authority

    if method is SignInMethod.SANDBOX:
        tenant = _need(tenant_id, "tenant id", method)
        app = _need(client_id, "client id", method)
        secret = _secret(keystore, sandbox_key(app), "sandbox client secret")
        return ai.ClientSecretCredential(
            tenant,
            app,
            secret,
            authority=authority,
            disable_instance_discovery=True,
            connection_verify=ca_bundle,
        )

    if method is SignInMethod.AZURE_CLI:
        return ai.AzureCliCredential(tenant_id=tenant_id or "", process_timeout=30)

    if method is SignInMethod.MANAGED_IDENTITY:
        kwargs = {k: v for k, v in common.items() if k == "connection_verify"}
        if client_id:
            return ai.ManagedIdentityCredential(client_id=client_id, **kwargs)
        return ai.ManagedIdentityCredential(**kwargs)

    cache = _cache_options(cache_persistence)
    if cache is not None:
        common["cache_persistence_options"] = cache

    if method is SignInMethod.SERVICE_PRINCIPAL_SECRET:
        tenant = _need(tenant_id, "tenant id", method)
        app = _need(client_id, "client (application) id", method)
        secret = _secret(keystore, sp_key(tenant, app), "client secret")
        return ai.ClientSecretCredential(tenant, app, secret, authority=authority, **common)

    if method is SignInMethod.SERVICE_PRINCIPAL_CERTIFICATE:
        tenant = _need(tenant_id, "tenant id", method)
        app = _need(client_id, "client (application) id", method)
        pem = _secret(keystore, sp_cert_key(tenant, app), "certificate (PEM with private key)")
        return ai.CertificateCredential(
            tenant, app, certificate_data=pem.encode("utf-8"), authority=authority, **common
        )

    app = client_id or DEVELOPER_CLIENT_ID
    record = _matching_record(record_path, authority, tenant_id, app) if cache else None
    if record is not None:
        common["authentication_record"] = record
    if tenant_id:
        common["tenant_id"] = tenant_id
    if method is SignInMethod.INTERACTIVE_BROWSER:
        return ai.InteractiveBrowserCredential(client_id=app, authority=authority, **common)
    if method is SignInMethod.DEVICE_CODE:
        if prompt_callback is not None:
            common["prompt_callback"] = prompt_callback
        return ai.DeviceCodeCredential(client_id=app, authority=authority, **common)
    raise AssertionError(f"unhandled sign-in method {method}")  # pragma: no cover


def sign_in(
    credential: Any, scope: str = AZURE_CLOUD.credential_scope, record_path: Path | None = None
) -> AuthenticationRecord | None:
    """Sign in now (may open a browser or show a device code); keep the record if any.

    Credentials without ``authenticate`` (service principals, CLI, managed identity) just
    fetch a token to prove the sign-in works; they return None.
    """
    if hasattr(credential, "authenticate"):
        record: AuthenticationRecord = credential.authenticate(scopes=[scope])
        saved = save_authentication_record(record, record_path)
        log.info("signed in as %s; sign-in record saved to %s", record.username, saved)
        return record
    credential.get_token(scope)
    return None


def _clear_persistent_cache(name: str) -> bool:
    supported, _reason = persistent_cache_support()
    if not supported:
        return False
    try:
        from azure.identity._constants import CACHE_CAE_SUFFIX, CACHE_NON_CAE_SUFFIX
        from azure.identity._persistent_cache import _get_persistence

        for suffix in (CACHE_NON_CAE_SUFFIX, CACHE_CAE_SUFFIX):
            _get_persistence(False, "MSALCache", name + suffix).save("{}")
    except Exception as exc:  # noqa: BLE001 - private API; report, do not crash sign-out
        log.warning("could not empty the token cache %s: %s", name, exc)
        return False
    return True


def sign_out(
    keystore: Keystore | None = None,
    *,
    tenant_id: str | None = None,
    client_id: str | None = None,
    forget_secrets: bool = True,
    record_path: Path | None = None,
    cache_name: str = CACHE_NAME,
) -> list[str]:
    """Forget the sign-in: the record, the persistent token cache and (by default) the
    stored secrets of ``tenant_id``/``client_id``. Returns what was removed, for the log."""
    removed: list[str] = []
    target = record_path or paths.auth_record_path()
    if target.exists():
        target.unlink()
        removed.append(f"sign-in record {target}")
    if _clear_persistent_cache(cache_name):
        removed.append(f"token cache {cache_name}")
    if keystore is not None and forget_secrets and client_id:
        keys = [sandbox_key(client_id)]
        if tenant_id:
            keys += [sp_key(tenant_id, client_id), sp_cert_key(tenant_id, client_id)]
        removed.extend(f"keystore entry {key}" for key in keys if keystore.delete(key))
    log.info("signed out: %s", ", ".join(removed) or "nothing to remove")
    return removed
