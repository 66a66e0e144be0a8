"""Tenant discovery: which tenants the signed-in identity can use, and their subscriptions.

:class:`TenantDirectory` lists tenants with the home credential, then each tenant's
subscriptions with a token issued by that tenant. A tenant that wants an interactive sign-in
(multi-factor, consent, conditional access: AADSTS50076, 50079, 65001 or
``interaction_required``) comes back as ``TenantAccess(state="sign-in required")`` with no
subscriptions, and the other tenants still load. Each tenant gets one token attempt per
discovery, and a "sign-in required" verdict is remembered until :meth:`sign_in_to` is called
for that tenant, so refreshing the tree does not hammer the token endpoint.

Methods block (call them from a worker lane) and return domain values only.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError

from pgflex_gui.azure import convert
from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.errors import azure_call, logged
from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.models import Subscription, Tenant

__all__ = [
    "FAILED",
    "LOADED",
    "SIGN_IN_REQUIRED",
    "TenantAccess",
    "TenantDirectory",
    "needs_interaction",
]

log = logging.getLogger(__name__)

LOADED = "loaded"
SIGN_IN_REQUIRED = "sign-in required"
FAILED = "failed"

# Codes meaning "a person has to sign in": MFA required (50076), MFA enrolment / strong auth
# (50079), consent missing (65001).
_INTERACTION_CODES = frozenset({"50076", "50079", "65001"})
_AADSTS = re.compile(r"\bAADSTS(\d+)\b")
_SIGN_IN_REASON = (
    "This tenant requires an interactive sign-in (for example multi-factor authentication "
    "or consent)."
)


@dataclass(frozen=True)
class TenantAccess:
    """One tenant as discovery saw it.

    ``state`` is ``"loaded"`` (``subscriptions`` holds the visible, filtered ones),
    ``"sign-in required"`` (``reason`` says why; ``azure_code`` is the AADSTS code when known)
    or ``"failed"`` (``error`` says what went wrong; retrying may help).
    """

    tenant: Tenant
    state: str
    subscriptions: tuple[Subscription, ...] = ()
    reason: str = ""
    azure_code: str | None = None
    error: AppError | None = field(default=None, compare=False)

    @property
    def tenant_id(self) -> str:
        """The tenant's id."""
        return self.tenant.tenant_id


def needs_interaction(exc: BaseException) -> str | None:
    """The AADSTS code (or ``"interaction_required"``) when ``exc`` asks for a user sign-in.

    Recognises azure-identity's ``ClientAuthenticationError`` and
    ``CredentialUnavailableError`` (a subclass) whose message carries AADSTS50076, 50079,
    65001 or ``interaction_required``; returns None for anything else.
    """
    if not isinstance(exc, ClientAuthenticationError):
        return None
    message = str(getattr(exc, "message", "") or exc)
    for match in _AADSTS.finditer(message):
        if match.group(1) in _INTERACTION_CODES:
            return f"AADSTS{match.group(1)}"
    if "interaction_required" in message.lower():
        return "interaction_required"
    return None


def _matches(subscription: Subscription, wanted: frozenset[str]) -> bool:
    return not wanted or subscription.subscription_id.lower() in wanted


class TenantDirectory:
    """Tenants and their subscriptions, tolerant of tenants that need an interactive sign-in.

    ``credential_for_tenant(tenant_id)`` returns a credential whose tokens are issued by that
    tenant (for a service principal: the same app in another tenant; for a user: the same
    account with ``tenant_id=``). The factory's own credential lists the tenants.
    """

    def __init__(
        self,
        factory: ClientFactory,
        credential_for_tenant: Callable[[str], TokenCredential],
    ) -> None:
        self._factory = factory
        self._credential_for_tenant = credential_for_tenant
        self._lock = threading.Lock()
        self._verdicts: dict[str, TenantAccess] = {}  # tenant id (lower) -> sign-in required
        self._credentials: dict[str, TokenCredential] = {}

    # -- public --------------------------------------------------------------------------

    def list_tenants(self) -> list[Tenant]:
        """Tenants the signed-in identity belongs to (home credential). Raises AppError."""
        with azure_call("list tenants"):
            client = self._factory.subscriptions()
            tenants = [convert.tenant(t) for t in client.tenants.list()]
        return sorted(
            (t for t in tenants if t.tenant_id),
            key=lambda t: (t.display_name or t.tenant_id).lower(),
        )

    def discover(self, subscription_filter: Iterable[str] = ()) -> list[TenantAccess]:
        """Every tenant with its subscriptions, narrowed to ``subscription_filter`` (ids).

        An empty filter shows all subscriptions. A tenant that needs an interactive sign-in,
        or fails for another reason, does not stop the others. Raises AppError only when the
        tenants themselves can't be listed.
        """
        wanted = frozenset(s.lower() for s in subscription_filter)
        return [self._load(tenant, wanted) for tenant in self.list_tenants()]

    def sign_in_to(
        self,
        tenant: Tenant | str,
        *,
        credential: TokenCredential | None = None,
        subscription_filter: Iterable[str] = (),
    ) -> TenantAccess:
        """Forget a tenant's "sign-in required" verdict and load it again (one token attempt).

        ``credential`` replaces the tenant's credential, e.g. one the user has just signed in
        with interactively; without it ``credential_for_tenant`` is asked again.
        """
        if isinstance(tenant, str):
            tenant = Tenant(tenant_id=tenant)
        key = tenant.tenant_id.lower()
        with self._lock:
            previous = self._verdicts.pop(key, None)
            if credential is not None:
                self._credentials[key] = credential
            else:
                self._credentials.pop(key, None)
        if previous is not None and not tenant.display_name:
            tenant = previous.tenant
        log.info("Signing in to tenant %s again", tenant.tenant_id)
        return self._load(tenant, frozenset(s.lower() for s in subscription_filter))

    def pending_sign_ins(self) -> list[TenantAccess]:
        """Tenants currently remembered as "sign-in required"."""
        with self._lock:
            return list(self._verdicts.values())

    # -- internals -----------------------------------------------------------------------

    def _credential(self, tenant_id: str) -> TokenCredential:
        key = tenant_id.lower()
        with self._lock:
            credential = self._credentials.get(key)
        if credential is None:
            credential = self._credential_for_tenant(tenant_id)
            with self._lock:
                credential = self._credentials.setdefault(key, credential)
        return credential

    def _load(self, tenant: Tenant, wanted: frozenset[str]) -> TenantAccess:
        key = tenant.tenant_id.lower()
        with self._lock:
            cached = self._verdicts.get(key)
        if cached is not None:
            log.debug("Tenant %s still needs an interactive sign-in", tenant.tenant_id)
            return TenantAccess(
                tenant, SIGN_IN_REQUIRED, reason=cached.reason, azure_code=cached.azure_code
            )
        try:
            credential = self._credential(tenant.tenant_id)
            # One explicit token request: a refusal stops here, before any SDK pipeline
            # (and its retries) is involved. On success the credential caches the token and
            # the listing below reuses it.
            credential.get_token(self._factory.cloud.credential_scope)
        except Exception as exc:  # noqa: BLE001 - one tenant's failure must not stop the rest
            code = needs_interaction(exc)
            if code is None:
                err = logged(exc, f"sign in to tenant {tenant.tenant_id}")
                return TenantAccess(tenant, FAILED, reason=err.summary, error=err)
            return self._remember_sign_in(tenant, code)
        try:
            with azure_call(f"list the subscriptions of tenant {tenant.tenant_id}"):
                client = self._factory.subscriptions(credential)
                subs = [
                    convert.subscription(s, tenant.tenant_id) for s in client.subscriptions.list()
                ]
        except AppError as err:
            # the token can still be refused later (expired, new conditional-access policy)
            code = needs_interaction(err.__cause__) if err.__cause__ is not None else None
            if code is not None:
                return self._remember_sign_in(tenant, code)
            return TenantAccess(tenant, FAILED, reason=err.summary, error=err)
        mine = [
            s
            for s in subs
            if s.subscription_id
            and (not s.tenant_id or s.tenant_id.lower() == key)
            and _matches(s, wanted)
        ]
        mine.sort(key=lambda s: s.display_name.lower())
        return TenantAccess(tenant, LOADED, subscriptions=tuple(mine))

    def _remember_sign_in(self, tenant: Tenant, code: str) -> TenantAccess:
        verdict = TenantAccess(
            tenant,
            SIGN_IN_REQUIRED,
            reason=_SIGN_IN_REASON,
            azure_code=code if code.startswith("AADSTS") else None,
        )
        with self._lock:
            self._verdicts[tenant.tenant_id.lower()] = verdict
        log.warning(
            "Tenant %s needs an interactive sign-in (%s); its subscriptions are not listed",
            tenant.tenant_id,
            code,
        )
        return verdict
