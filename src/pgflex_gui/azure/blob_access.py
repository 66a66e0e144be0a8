"""How the app itself reads the restored files: Entra token, account key, or a SAS.

* **Entra sign-in**: the signed-in ``TokenCredential`` goes to azure-storage-blob, which asks
  for the Storage data-plane scope ``https://storage.azure.com/.default`` (the token's
  audience is ``https://storage.azure.com``); the identity needs a data role such as
  Storage Blob Data Reader on the account or container.
* **Account key**: ``listKeys`` through azure-mgmt-storage, then the key as an
  ``AzureNamedKeyCredential`` for azure-storage-blob. The key lives only in memory: it is
  never written to a file, a log, a setting or a command line.
* **A SAS the app makes**: short-lived, read + list only, for one container. Signed with a
  user delegation key (Entra sign-in, no key ever leaves Azure) when the identity may get
  one, else with the account key from ``listKeys``. Nothing is stored; a rerun makes a new
  one.
* **A pasted SAS** (kept in the OS keyring by the caller).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import AzureError
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from pgflex_gui.azure import convert
from pgflex_gui.azure.errors import azure_call, translate
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId

__all__ = [
    "SAS_LIFETIME",
    "ContainerRef",
    "DeferredDownloader",
    "ReadMethod",
    "account_key",
    "make_read_sas",
    "read_credential",
]

log = logging.getLogger(__name__)

SAS_LIFETIME = timedelta(hours=8)  # long enough for a large download, short enough to lapse
_CLOCK_SKEW = timedelta(minutes=5)


class ReadMethod(StrEnum):
    """The plan's ``container.read_access`` values."""

    ENTRA = "entra"
    ACCOUNT_KEY = "account-key"
    APP_SAS = "app-sas"  # a short-lived read+list SAS the app makes at download time
    SAS = "sas"  # a SAS from the keyring (pasted, or made by the app in the wizard)


@dataclass(frozen=True)
class ContainerRef:
    """A container by URL, with its ARM id when known (needed for listKeys)."""

    url: str
    arm_id: str = ""

    @property
    def name(self) -> str:
        """The container name (last path segment of the URL)."""
        return urlsplit(self.url).path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def account_url(self) -> str:
        """The blob service URL (the container URL without the container)."""
        return self.url.rstrip("/").rsplit("/", 1)[0]

    @property
    def account_id(self) -> ResourceId | None:
        """The storage account's ARM id, from the container's ARM id."""
        if not self.arm_id:
            return None
        head = self.arm_id.split("/blobServices/", 1)[0]
        return ResourceId.parse(head)

    @property
    def account_name(self) -> str:
        """The storage account name (ARM id, else the URL's host or first path segment)."""
        account = self.account_id
        if account is not None:
            return account.name
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if host.count(".") >= 2 and not host.replace(".", "").isdigit():
            return host.split(".", 1)[0]
        return parts.path.strip("/").split("/", 1)[0]


def account_key(factory: Any, container: ContainerRef) -> str:
    """The first access key of the container's account, via ``listKeys`` (keep in memory)."""
    account = container.account_id
    if account is None:
        raise AppError(
            Fault.USER,
            "The account key can't be read for a container given only by its URL.",
            "Choose the storage account in the restore wizard, or use a SAS.",
        )
    with azure_call("list the storage account keys"):
        raw = factory.storage(account.subscription_id).storage_accounts.list_keys(
            account.resource_group, account.name
        )
    listed = convert.get(convert.as_dict(raw), "keys", default=[])
    keys = [k["value"] for k in listed if isinstance(k, dict) and k.get("value")]
    if not keys:
        raise AppError(
            Fault.PERMISSION,
            f"Storage account {account.name} returned no access key.",
            "Shared key access may be disabled on the account; use the Entra sign-in instead.",
        )
    log.info("Read the access key of storage account %s (kept in memory)", account.name)
    return str(keys[0])


def make_read_sas(
    factory: Any,
    container: ContainerRef,
    *,
    credential: Any = None,
    lifetime: timedelta = SAS_LIFETIME,
    now: datetime | None = None,
) -> str:
    """A read + list SAS for ``container``, valid for ``lifetime``; never stored.

    A user delegation SAS (signed-in identity) first; the account key (``listKeys``) when no
    delegation key can be had and the container's account is known.
    """
    start = (now or datetime.now(UTC)) - _CLOCK_SKEW
    expiry = start + _CLOCK_SKEW + lifetime
    permission = ContainerSasPermissions(read=True, list=True)
    first: AppError | None = None
    try:
        service = factory.blob_service(container.account_url, credential)
        udk = service.get_user_delegation_key(start, expiry)
        sas = generate_container_sas(
            container.account_name,
            container.name,
            user_delegation_key=udk,
            permission=permission,
            start=start,
            expiry=expiry,
        )
        _probe(factory, container, sas)
        log.info("Made a read+list user delegation SAS for container %s", container.name)
        return str(sas)
    except AzureError as exc:
        first = translate(exc, what="read the container with a user delegation SAS")
        log.info("No user delegation SAS for %s: %s", container.name, first.summary)
    if container.account_id is None:
        raise first
    key = account_key(factory, container)
    log.info("Made a read+list account-key SAS for container %s", container.name)
    return generate_container_sas(
        container.account_name,
        container.name,
        account_key=key,
        permission=permission,
        start=start,
        expiry=expiry,
    )


def _probe(factory: Any, container: ContainerRef, sas: str) -> None:
    """List one blob with ``sas``: a SAS the service refuses is not handed on.

    (Azurite before 3.37 refuses user delegation SAS signed by current SDKs, Azure/Azurite
    #2649; a service that refuses one gets the account-key SAS instead.)
    """
    client = factory.container(container.url, sas)
    try:
        next(iter(client.list_blobs(results_per_page=1).by_page()), None)
    finally:
        client.close()


def read_credential(
    method: ReadMethod | str,
    container: ContainerRef,
    *,
    factory: Any,
    credential: Any,
    sas: str | None = None,
) -> Any:
    """The credential azure-storage-blob reads ``container`` with, for ``method``."""
    method = ReadMethod(method)
    if method is ReadMethod.SAS:
        if not sas:
            raise AppError(
                Fault.USER,
                f"No SAS for {container.url} is in the keyring.",
                "Paste the SAS again in the restore wizard, or pick another read method.",
            )
        return sas
    if method is ReadMethod.ACCOUNT_KEY:
        return AzureNamedKeyCredential(container.account_name, account_key(factory, container))
    if method is ReadMethod.APP_SAS:
        return make_read_sas(factory, container, credential=credential)
    return credential


class DeferredDownloader:
    """A downloader built on first use, so the credential (a key, a fresh SAS) is obtained
    only once the Azure restore job has finished, and its failure is a download failure."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._inner: Any = None

    def _get(self) -> Any:
        with self._lock:
            if self._inner is None:
                self._inner = self._build()
            return self._inner

    def list_blobs(self, prefix: str = "") -> Any:
        """As the built downloader's."""
        return self._get().list_blobs(prefix)

    def check_free_space(self, blobs: Any, dest_dir: Any) -> None:
        """As the built downloader's."""
        self._get().check_free_space(blobs, dest_dir)

    def download(self, blobs: Any, dest_dir: Any, **kwargs: Any) -> Any:
        """As the built downloader's."""
        return self._get().download(blobs, dest_dir, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._get(), name)
