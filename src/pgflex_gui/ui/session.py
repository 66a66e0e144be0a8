"""The Qt-side session: which cloud, which credential, which account, and the inventory over it.

:class:`SessionController` signs in and out off the GUI thread (through the Task bridge), keeps
the current :class:`Session`, and tells the window through signals. Secrets typed into the
sign-in dialog travel in a :class:`SignInRequest` (``repr=False``) straight to the keystore on
a worker thread; settings only ever get the method, tenant, client id and cloud endpoints.

:class:`SwitchableInventory` is what the window's tree holds: after a sign-in (or sign-out)
its target is replaced and the tree reloads, so widgets never need rebuilding.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from pgflex_gui.domain.cloud import CUSTOM, CloudConfig, resolve_cloud
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ports import InventoryPort
from pgflex_gui.ui.tasks import TaskManager

__all__ = [
    "KeystoreProvider",
    "Session",
    "SessionController",
    "SignInRequest",
    "SwitchableInventory",
    "not_signed_in_error",
]

log = logging.getLogger(__name__)

SIGN_IN_KEY = ("session", "sign-in")


def not_signed_in_error() -> AppError:
    return AppError(
        Fault.USER,
        "Not signed in to Azure.",
        remedy="Use File > Sign in…, or start with --sandbox.",
    )


class _Unavailable:
    """An InventoryPort whose every call raises ``error``."""

    def __init__(self, error: AppError) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def fail(*_args: Any, **_kwargs: Any) -> Any:
            raise self.error

        return fail


class SwitchableInventory:
    """Delegates every InventoryPort call to a target that sign-in and sign-out replace."""

    def __init__(self, target: InventoryPort | None = None) -> None:
        self._lock = threading.Lock()
        self._target: Any = target if target is not None else _Unavailable(not_signed_in_error())

    @property
    def target(self) -> Any:
        with self._lock:
            return self._target

    def switch(self, target: InventoryPort | None) -> None:
        """Use ``target`` from now on (None: "not signed in")."""
        with self._lock:
            self._target = target if target is not None else _Unavailable(not_signed_in_error())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.target, name)


class KeystoreProvider:
    """Builds the :class:`~pgflex_gui.keystore.Keystore` once, on first use.

    Building probes the keyring in a child process (up to a few seconds), so :meth:`get`
    must only be called from worker threads.
    """

    def __init__(self, factory: Callable[[], Any] | None = None) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._keystore: Any = None

    def get(self) -> Any:
        with self._lock:
            if self._keystore is None:
                if self._factory is None:
                    from pgflex_gui.keystore import Keystore

                    self._keystore = Keystore()
                else:
                    self._keystore = self._factory()
            return self._keystore

    @property
    def ready(self) -> Any:
        """The keystore if already built, else None (never blocks)."""
        return self._keystore

    def describe(self) -> str:
        """``Keyring: <backend>. <where secrets live>`` (blocks: call from a worker)."""
        keystore = self.get()
        return f"Keyring backend: {keystore.backend_name}. {keystore.describe()}"


@dataclass(frozen=True)
class SignInRequest:
    """What the sign-in dialog asks for. ``secret`` never reaches settings or logs."""

    method: str  # a SignInMethod value
    cloud: str = "AzureCloud"
    tenant_id: str | None = None
    client_id: str | None = None
    secret: str | None = field(default=None, repr=False)
    certificate_path: str | None = None
    arm_endpoint: str | None = None
    authority_host: str | None = None
    ca_bundle: str | None = None
    tenant_only: bool = False  # a tenant-specific sign-in (MFA or consent); keeps the session


@dataclass(frozen=True)
class Session:
    """A signed-in session. ``credential`` is an azure-identity credential."""

    cloud: CloudConfig
    credential: Any = field(repr=False)
    account: str
    method: str
    tenant_id: str | None = None
    client_id: str | None = None
    inventory: Any = field(default=None, repr=False)


Connect = Callable[[CloudConfig, Any, Callable[[str], Any] | None], InventoryPort]


class SessionController(QObject):
    """Signs in and out off the GUI thread; holds the current session.

    Args:
        tasks: the Task bridge.
        keystores: where secrets go (built lazily on a worker).
        connect: ``(cloud, credential, credential_for_tenant) -> InventoryPort``; app.py builds
            a ClientFactory and an AzureInventory here.
        load_settings: returns the current ``Settings`` (called on workers).
        save_settings: saves a ``Settings`` (called on workers).
        overrides: command-line ``arm_endpoint`` / ``authority_host`` / ``ca_bundle``; they win
            over the environment, which wins over what the dialog saves.
        env: the environment (``PGFLEX_ARM_ENDPOINT``, ``PGFLEX_CA_BUNDLE``, …).
        sign_in_fn: ``(credential, scope) -> AuthenticationRecord | None``; azure.auth.sign_in.
        sign_out_fn: azure.auth.sign_out.

    Signals:
        signed_in(object): a :class:`Session`, after a successful sign-in.
        signed_out(): after sign-out finished.
        sign_in_failed(object): an ``AppError``, to show inline.
        tenant_signed_in(str): a tenant-specific sign-in succeeded (reload that tenant).
        device_code(str, str): ``(verification_uri, user_code)`` to show in the dialog.
        busy_changed(bool): a sign-in or sign-out is running.
        identity_changed(str, str): ``(cloud, account)`` for the status bar ("" when signed
            out); may be emitted from a worker (delivered on the GUI thread).
    """

    signed_in = Signal(object)
    signed_out = Signal()
    sign_in_failed = Signal(object)
    tenant_signed_in = Signal(str)
    device_code = Signal(str, str)
    busy_changed = Signal(bool)
    identity_changed = Signal(str, str)

    def __init__(
        self,
        *,
        tasks: TaskManager,
        keystores: KeystoreProvider,
        connect: Connect,
        load_settings: Callable[[], Any],
        save_settings: Callable[[Any], object],
        overrides: Mapping[str, str | None] | None = None,
        env: Mapping[str, str] | None = None,
        sign_in_fn: Callable[[Any, str], Any] | None = None,
        sign_out_fn: Callable[..., Any] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self.keystores = keystores
        self._connect = connect
        self._load_settings = load_settings
        self._save_settings = save_settings
        self._overrides = dict(overrides or {})
        self._env = dict(os.environ if env is None else env)
        self._sign_in_fn = sign_in_fn
        self._sign_out_fn = sign_out_fn
        self._lock = threading.Lock()
        self._tenant_credentials: dict[str, Any] = {}
        self.session: Session | None = None
        self.busy = False

    # -- state ------------------------------------------------------------------------------
    @property
    def account(self) -> str:
        return self.session.account if self.session else ""

    @property
    def cloud_name(self) -> str:
        return self.session.cloud.name if self.session else ""

    def adopt(self, session: Session) -> None:
        """Take a session built elsewhere (app start, sandbox) without signalling a sign-in.

        Safe to call from a worker thread.
        """
        self.session = session
        self.identity_changed.emit(session.cloud.name, session.account)

    def credential_for_tenant(self, tenant_id: str) -> Any:
        """The credential to list ``tenant_id`` with (a tenant-specific one if signed in)."""
        with self._lock:
            specific = self._tenant_credentials.get(tenant_id.lower())
        if specific is not None:
            return specific
        return self.session.credential if self.session else None

    def resolve(self, request: SignInRequest) -> CloudConfig:
        """The cloud for ``request``: command line, then environment, then the dialog."""
        try:
            return resolve_cloud(
                request.cloud,
                arm_endpoint=self._overrides.get("arm_endpoint"),
                authority_host=self._overrides.get("authority_host"),
                ca_bundle=self._overrides.get("ca_bundle"),
                env=self._env,
                saved={
                    k: v
                    for k, v in (
                        ("arm_endpoint", request.arm_endpoint),
                        ("authority_host", request.authority_host),
                        ("ca_bundle", request.ca_bundle),
                    )
                    if v
                },
            )
        except ValueError as exc:
            raise AppError(
                Fault.USER, f"The cloud settings are not usable: {exc}.", remedy="Fix them."
            ) from exc

    # -- sign in ------------------------------------------------------------------------------
    def sign_in(self, request: SignInRequest) -> None:
        """Start signing in; ends with ``signed_in`` (or ``tenant_signed_in``) or
        ``sign_in_failed``."""
        self._tasks.invalidate(SIGN_IN_KEY)
        self._set_busy(True)
        self._tasks.task(self._sign_in_work, request).keyed(SIGN_IN_KEY).on_success(
            self._on_task_signed_in
        ).on_failure(self._on_task_sign_in_failed).in_lane("sign-in").start()

    def cancel_sign_in(self) -> None:
        """Drop the result of a sign-in still running (azure-identity cannot be interrupted)."""
        self._tasks.invalidate(SIGN_IN_KEY)
        self._set_busy(False)

    def _prompt(self, verification_uri: str, user_code: str, _expires_on: Any) -> None:
        """azure-identity's device-code callback (on the worker): hand it to the dialog."""
        self.device_code.emit(verification_uri, user_code)

    def _store_secret(self, keystore: Any, request: SignInRequest) -> None:
        from pgflex_gui.azure.auth import SignInMethod
        from pgflex_gui.keystore import sp_cert_key, sp_key

        method = SignInMethod(request.method)
        tenant, client = request.tenant_id or "", request.client_id or ""
        if method is SignInMethod.SERVICE_PRINCIPAL_SECRET and request.secret:
            keystore.set(sp_key(tenant, client), request.secret)
            log.info("client secret for %s stored in the keystore", client)
        elif method is SignInMethod.SERVICE_PRINCIPAL_CERTIFICATE and request.certificate_path:
            try:
                pem = Path(request.certificate_path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise AppError(
                    Fault.USER,
                    "The certificate file cannot be read.",
                    remedy="Choose a PEM file holding the certificate and its private key.",
                    details=str(exc),
                ) from exc
            if "PRIVATE KEY" not in pem:
                raise AppError(
                    Fault.USER,
                    "The certificate file has no private key.",
                    remedy="Choose a PEM file holding the certificate and its private key.",
                )
            keystore.set(sp_cert_key(tenant, client), pem)
            log.info("certificate for %s stored in the keystore", client)

    def _sign_in_work(self, request: SignInRequest) -> tuple[SignInRequest, Session]:
        from pgflex_gui.azure import auth

        cloud = self.resolve(request)
        keystore = self.keystores.get()
        self._store_secret(keystore, request)
        credential = auth.build_credential(
            request.method,
            cloud.authority_host,
            tenant_id=request.tenant_id,
            client_id=request.client_id,
            keystore=keystore,
            ca_bundle=cloud.ca_bundle,
            prompt_callback=self._prompt,
        )
        sign_in_fn = self._sign_in_fn or auth.sign_in
        try:
            record = sign_in_fn(credential, cloud.credential_scope)
        except AppError:
            raise
        except Exception as exc:
            from pgflex_gui.azure.errors import translate

            raise translate(exc, what="sign in") from exc
        method = auth.SignInMethod(request.method)
        account = (
            getattr(record, "username", None)
            or (request.client_id if not method.interactive else None)
            or method.label
        )
        inventory = None
        if not request.tenant_only:
            inventory = self._connect(cloud, credential, self.credential_for_tenant)
            self._remember(request)
        session = Session(
            cloud=cloud,
            credential=credential,
            account=str(account),
            method=method.value,
            tenant_id=request.tenant_id,
            client_id=request.client_id,
            inventory=inventory,
        )
        log.info("signed in to %s as %s (%s)", cloud.name, account, method.value)
        return request, session

    def _remember(self, request: SignInRequest) -> None:
        """Save the choice (never the secret) so the next start signs in silently."""
        settings = self._load_settings()
        custom = request.cloud == CUSTOM
        updated = settings.replace(
            cloud=request.cloud,
            sign_in_method=request.method,
            tenant_id=request.tenant_id or None,
            client_id=request.client_id or None,
            arm_endpoint=request.arm_endpoint if custom else settings.arm_endpoint,
            authority_host=request.authority_host if custom else settings.authority_host,
            ca_bundle=request.ca_bundle or None,
        )
        self._save_settings(updated)

    def _on_task_signed_in(self, result: tuple[SignInRequest, Session]) -> None:
        request, session = result
        self._set_busy(False)
        if request.tenant_only and request.tenant_id:
            with self._lock:
                self._tenant_credentials[request.tenant_id.lower()] = session.credential
            self.tenant_signed_in.emit(request.tenant_id)
            return
        with self._lock:
            self._tenant_credentials.clear()
        self.session = session
        self.signed_in.emit(session)
        self.identity_changed.emit(session.cloud.name, session.account)

    def _on_task_sign_in_failed(self, error: AppError) -> None:
        self._set_busy(False)
        log.warning("sign-in failed: %s", error.summary)
        self.sign_in_failed.emit(error)

    # -- sign out -----------------------------------------------------------------------------
    def sign_out(self) -> None:
        """Forget the record, the token cache and the stored secrets; then ``signed_out``."""
        session = self.session
        self.session = None
        with self._lock:
            self._tenant_credentials.clear()
        self._tasks.invalidate(SIGN_IN_KEY)
        self._set_busy(True)
        self._tasks.task(self._sign_out_work, session).on_success(
            self._on_task_signed_out
        ).on_failure(self._on_task_sign_out_failed).in_lane("sign-in").start()

    def _sign_out_work(self, session: Session | None) -> list[str]:
        from pgflex_gui.azure import auth

        sign_out_fn = self._sign_out_fn or auth.sign_out
        settings = self._load_settings()
        tenant = session.tenant_id if session else settings.tenant_id
        client = session.client_id if session else settings.client_id
        removed = sign_out_fn(self.keystores.get(), tenant_id=tenant, client_id=client)
        self._save_settings(settings.replace(sign_in_method=None))
        return list(removed or [])

    def _on_task_signed_out(self, _removed: list[str]) -> None:
        self._set_busy(False)
        self.signed_out.emit()
        self.identity_changed.emit("", "")

    def _on_task_sign_out_failed(self, error: AppError) -> None:
        self._set_busy(False)
        log.warning("sign-out did not finish: %s", error.summary)
        self.signed_out.emit()
        self.identity_changed.emit("", "")

    def _set_busy(self, busy: bool) -> None:
        if busy != self.busy:
            self.busy = busy
            self.busy_changed.emit(busy)
