"""The one place that builds Azure SDK clients.

Every client gets the cloud's ARM endpoint as ``base_url``, the cloud's token scope, the
sandbox CA bundle when one is configured, a retry policy and an LRO polling interval suited to
the endpoint (short for a local stand-in), and the ``pgflex-gui/<version>`` user agent. Clients
are built once per (kind, subscription) and reused; building and lookup are thread-safe.
``--sandbox`` changes the :class:`CloudConfig`, never the classes built here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from azure.core.credentials import TokenCredential
from azure.core.pipeline.policies import RetryPolicy
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.dataprotection import DataProtectionMgmtClient
from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient
from azure.mgmt.storage import StorageManagementClient
from azure.storage.blob import BlobServiceClient, ContainerClient

from pgflex_gui import __version__
from pgflex_gui.azure.errors import azure_call
from pgflex_gui.domain.cloud import CloudConfig
from pgflex_gui.domain.errors import AppError

__all__ = ["USER_AGENT", "ClientFactory", "Lro"]

log = logging.getLogger(__name__)

USER_AGENT = f"pgflex-gui/{__version__}"

LOCAL_POLLING_INTERVAL = 0.2  # seconds; the sandbox finishes LROs in well under a second
REMOTE_POLLING_INTERVAL = 10.0  # Azure's Retry-After wins when it sends one

T = TypeVar("T")


class ClientFactory:
    """Builds and caches SDK clients for one cloud and one signed-in identity.

    ARM refuses a token issued by another tenant than the subscription's. Once a
    subscription's tenant is known (:meth:`register_subscriptions`, which the inventory calls
    as it lists them), its clients are built with ``credential_for_tenant(tenant)``; until
    then, and without that callable, with the home ``credential``.
    """

    def __init__(
        self,
        cloud: CloudConfig,
        credential: TokenCredential,
        *,
        credential_for_tenant: Callable[[str], TokenCredential] | None = None,
    ) -> None:
        self.cloud = cloud
        self.credential = credential
        self.credential_for_tenant = credential_for_tenant
        self._lock = threading.RLock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._tenant_of: dict[str, str] = {}
        self._closed = False

    # -- tenants -------------------------------------------------------------------------

    def register_subscriptions(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Remember ``(subscription_id, tenant_id)`` pairs for routing credentials."""
        with self._lock:
            for subscription_id, tenant_id in pairs:
                if tenant_id:
                    self._tenant_of[subscription_id.lower()] = tenant_id

    def credential_for(self, subscription_id: str) -> TokenCredential:
        """The credential whose tokens the subscription's tenant accepts."""
        with self._lock:
            tenant = self._tenant_of.get(subscription_id.lower())
        if tenant and self.credential_for_tenant is not None:
            return self.credential_for_tenant(tenant)
        return self.credential

    # -- configuration -------------------------------------------------------------------

    @property
    def polling_interval(self) -> float:
        """Seconds between LRO polls when the service sends no Retry-After."""
        return LOCAL_POLLING_INTERVAL if self.cloud.is_local else REMOTE_POLLING_INTERVAL

    def _retry_policy(self) -> Any:
        if self.cloud.is_local:
            return RetryPolicy(
                retry_total=2, retry_backoff_factor=0.05, retry_backoff_max=1, retry_connect=1
            )
        return RetryPolicy(retry_total=5, retry_backoff_factor=0.8, retry_backoff_max=60)

    def _transport_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"user_agent": USER_AGENT, "retry_policy": self._retry_policy()}
        if self.cloud.ca_bundle:
            kwargs["connection_verify"] = self.cloud.ca_bundle
        if self.cloud.is_local:
            kwargs["connection_timeout"] = 10
            kwargs["read_timeout"] = 60
        return kwargs

    def arm_kwargs(self) -> dict[str, Any]:
        """Keyword arguments every management client is built with."""
        return {
            "base_url": self.cloud.arm_endpoint,
            "credential_scopes": [self.cloud.credential_scope],
            "polling_interval": self.polling_interval,
            **self._transport_kwargs(),
        }

    # -- cache ---------------------------------------------------------------------------

    def _cached(self, kind: str, key: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            if self._closed:
                raise RuntimeError("the client factory is closed")
            client = self._clients.get((kind, key))
            if client is None:
                log.debug("Building %s client for %s at %s", kind, key, self.cloud.arm_endpoint)
                client = build()
                self._clients[(kind, key)] = client
            return client

    # -- management clients --------------------------------------------------------------

    def postgres(self, subscription_id: str) -> PostgreSQLManagementClient:
        """Flexible servers, firewall rules, configurations, databases."""
        return self._cached(  # type: ignore[no-any-return]
            "postgres",
            subscription_id,
            lambda: PostgreSQLManagementClient(
                self.credential_for(subscription_id), subscription_id, **self.arm_kwargs()
            ),
        )

    def dataprotection(self, subscription_id: str) -> DataProtectionMgmtClient:
        """Backup vaults, policies, instances, recovery points, jobs, restores."""
        return self._cached(  # type: ignore[no-any-return]
            "dataprotection",
            subscription_id,
            lambda: DataProtectionMgmtClient(
                self.credential_for(subscription_id), subscription_id, **self.arm_kwargs()
            ),
        )

    def storage(self, subscription_id: str) -> StorageManagementClient:
        """Storage accounts and blob containers (control plane)."""
        return self._cached(  # type: ignore[no-any-return]
            "storage",
            subscription_id,
            lambda: StorageManagementClient(
                self.credential_for(subscription_id), subscription_id, **self.arm_kwargs()
            ),
        )

    def resources(self, subscription_id: str) -> ResourceManagementClient:
        """Resource groups and generic resources."""
        return self._cached(  # type: ignore[no-any-return]
            "resources",
            subscription_id,
            lambda: ResourceManagementClient(
                self.credential_for(subscription_id), subscription_id, **self.arm_kwargs()
            ),
        )

    def subscriptions(self, credential: TokenCredential | None = None) -> SubscriptionClient:
        """Tenants, subscriptions and locations.

        ``credential`` is a token for one tenant (listing a tenant's subscriptions needs a
        token issued by that tenant); clients built for an explicit credential are not cached.
        """
        if credential is not None and credential is not self.credential:
            return SubscriptionClient(credential, **self.arm_kwargs())
        return self._cached(  # type: ignore[no-any-return]
            "subscriptions", "", lambda: SubscriptionClient(self.credential, **self.arm_kwargs())
        )

    def authorization(self, subscription_id: str) -> AuthorizationManagementClient:
        """Role assignments and definitions."""
        return self._cached(  # type: ignore[no-any-return]
            "authorization",
            subscription_id,
            lambda: AuthorizationManagementClient(
                self.credential_for(subscription_id), subscription_id, **self.arm_kwargs()
            ),
        )

    # -- data plane ----------------------------------------------------------------------

    def _blob_kwargs(self) -> dict[str, Any]:
        kwargs = self._transport_kwargs()
        kwargs.pop("retry_policy")
        if self.cloud.is_local:
            kwargs.update(retry_total=2, retry_backoff_factor=0.05)
        return kwargs

    def blob_service(self, account_url: str, credential: Any = None) -> BlobServiceClient:
        """A Blob service client; ``credential`` defaults to the signed-in identity.

        Clients for the factory's own credential are cached per account URL.
        """
        if credential is not None:
            return BlobServiceClient(account_url, credential=credential, **self._blob_kwargs())
        return self._cached(  # type: ignore[no-any-return]
            "blob",
            account_url.rstrip("/"),
            lambda: BlobServiceClient(
                account_url, credential=self.credential, **self._blob_kwargs()
            ),
        )

    def container(self, url: str, credential: Any = None) -> ContainerClient:
        """A container client from the container URL (not cached)."""
        return ContainerClient.from_container_url(
            url,
            credential=credential if credential is not None else self.credential,
            **self._blob_kwargs(),
        )

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Close every cached client; the factory can't be used afterwards."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
            self._closed = True
        for client in clients:
            try:
                client.close()
            except Exception:
                log.debug("Closing %r failed", client, exc_info=True)

    def __enter__(self) -> ClientFactory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Lro(Generic[T]):
    """A long-running Azure operation, SDK-free for callers.

    ``continuation_token`` is available as soon as the operation has started, so a job can
    journal it before waiting; :meth:`wait` returns after at most ``timeout`` seconds so the
    caller can check for cancellation between polls. Failures raise ``AppError``.
    """

    def __init__(
        self,
        poller: Any,
        *,
        what: str,
        convert: Callable[[Any], T],
        on_finish: Callable[[str], None] | None = None,
    ) -> None:
        self._poller = poller
        self._what = what
        self._convert = convert
        self._on_finish = on_finish
        self._finished = False
        self._token: str | None = None

    @property
    def what(self) -> str:
        """What the operation does, for logs and job rows."""
        return self._what

    def continuation_token(self) -> str:
        """A token that resumes polling after a restart (pass it back as ``continuation_token``)."""
        if self._token is None:
            with azure_call(f"{self._what} (continuation token)"):
                self._token = str(self._poller.continuation_token())
        return self._token

    def status(self) -> str:
        """The poller's status string (e.g. InProgress, Succeeded)."""
        try:
            return str(self._poller.status())
        except Exception:  # noqa: BLE001 - a status is informative only
            return "Unknown"

    def done(self) -> bool:
        """True once the operation has finished (successfully or not)."""
        return bool(self._poller.done())

    def wait(self, timeout: float = 1.0) -> bool:
        """Wait up to ``timeout`` seconds; True when finished. Raises AppError on failure."""
        try:
            with azure_call(self._what):
                self._poller.wait(timeout=timeout)
                finished = bool(self._poller.done())
                if finished:
                    self._poller.result(timeout=0)
        except AppError as err:
            self._finish(f"failed: {err.azure_code or err.summary}")
            raise
        if finished:
            self._finish("succeeded")
        return finished

    def result(self, timeout: float | None = None) -> T:
        """Block until done (or ``timeout``) and return the converted result."""
        try:
            with azure_call(self._what):
                raw = self._poller.result(timeout=timeout)
        except AppError as err:
            self._finish(f"failed: {err.azure_code or err.summary}")
            raise
        self._finish("succeeded")
        return self._convert(raw)

    def _finish(self, result: str) -> None:
        if self._finished:
            return
        self._finished = True
        if self._on_finish is not None:
            self._on_finish(result)
