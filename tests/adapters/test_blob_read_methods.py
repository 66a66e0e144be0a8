"""Reading the restored files, every way the app offers, against the sandbox (Azurite).

Tokens: the sandbox authority (like Entra ID) gives a token the audience of the requested
scope, so azure-storage-blob's ``https://storage.azure.com/.default`` token is accepted by
the Blob service, and ARM refuses it. The account key comes from ``listKeys`` through
azure-mgmt-storage and stays in memory; the SAS the app makes is read + list only.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.storage.blob import ContainerClient

from pgflex_gui.azure.blob_access import (
    SAS_LIFETIME,
    ContainerRef,
    DeferredDownloader,
    ReadMethod,
    make_read_sas,
    read_credential,
)
from pgflex_gui.azure.blobs import BlobDownloader
from pgflex_gui.domain.errors import AppError
from pgflex_gui.restore_cli import _sandbox_factory
from pgflex_gui.sandbox.arm.seed import IDS
from tests.sandbox_fixtures import sandbox_credential

pytestmark = pytest.mark.sandbox

CONTAINER = "read-methods"
STORAGE_SCOPE = "https://storage.azure.com/.default"


def _claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def test_token_audience_follows_the_requested_scope(sandbox_arm: Any) -> None:
    cred = sandbox_credential(sandbox_arm)
    storage = cred.get_token(STORAGE_SCOPE).token
    arm = cred.get_token("https://management.azure.com/.default").token
    own = cred.get_token(sandbox_arm.arm_endpoint.rstrip("/") + "/.default").token
    assert _claims(storage)["aud"] == "https://storage.azure.com"
    assert _claims(arm)["aud"] == "https://management.azure.com/"
    assert _claims(own)["aud"] == "https://management.azure.com/"
    account = cred.get_token("https://stpgrestoreweu.blob.core.windows.net/.default").token
    assert _claims(account)["aud"] == "https://stpgrestoreweu.blob.core.windows.net"
    with pytest.raises(ClientAuthenticationError, match="AADSTS500011"):
        cred.get_token("https://vault.azure.net/.default")
    # ARM refuses a Storage token, as Azure does.
    resp = requests.get(
        f"{sandbox_arm.arm_endpoint.rstrip('/')}/subscriptions?api-version=2022-12-01",
        headers={"Authorization": f"Bearer {storage}"},
        verify=sandbox_arm.info.ca_bundle,
        timeout=30,
    )
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"


@pytest.fixture(scope="module")
def world(sandbox: Any) -> dict[str, Any]:
    """A container with two blobs in the seeded account, and a ClientFactory as the CLI's."""
    ep = sandbox.dataplane.storage_endpoint(IDS.STORAGE)
    admin = ContainerClient(
        ep.blob_endpoint.rstrip("/"),
        CONTAINER,
        credential=AzureNamedKeyCredential(IDS.STORAGE, ep.key),
        connection_verify=sandbox.info.ca_bundle,
    )
    if not admin.exists():
        admin.create_container()
    admin.upload_blob("rp/p_database_sales.sql", b"x" * 1000, overwrite=True)
    admin.upload_blob("rp/p_roles.sql", b"CREATE ROLE a;\n", overwrite=True)
    factory, credential, verify = _sandbox_factory(Path(sandbox.workdir))
    account_id = (
        f"/subscriptions/{IDS.SUB}/resourceGroups/{IDS.RG_STORAGE}/providers/"
        f"Microsoft.Storage/storageAccounts/{IDS.STORAGE}"
    )
    ref = ContainerRef(
        ep.blob_endpoint.rstrip("/") + f"/{CONTAINER}",
        f"{account_id}/blobServices/default/containers/{CONTAINER}",
    )
    yield {"ref": ref, "factory": factory, "credential": credential, "verify": verify,
           "key": ep.key}  # fmt: skip
    factory.close()


def _names(world: dict[str, Any], read_with: Any) -> list[str]:
    dl = BlobDownloader.from_url(world["ref"].url, read_with, connection_verify=world["verify"])
    return [b.name for b in dl.list_blobs("rp/")]


@pytest.mark.parametrize("method", [ReadMethod.ENTRA, ReadMethod.ACCOUNT_KEY, ReadMethod.APP_SAS])
def test_every_offered_method_lists_and_downloads(world: dict[str, Any], method: ReadMethod, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    read_with = read_credential(
        method, world["ref"], factory=world["factory"], credential=world["credential"]
    )
    assert _names(world, read_with) == ["rp/p_database_sales.sql", "rp/p_roles.sql"]
    dl = BlobDownloader.from_url(world["ref"].url, read_with, connection_verify=world["verify"])
    got = dl.download(dl.list_blobs("rp/p_roles"), tmp_path)
    assert Path(got.files[0].path).read_bytes() == b"CREATE ROLE a;\n"
    # The account key is never logged (nor written anywhere by this code path).
    assert world["key"] not in caplog.text
    assert world["key"] not in "".join(
        p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file()
    )


def test_the_app_made_sas_is_read_and_list_only_and_short_lived(world: dict[str, Any]) -> None:
    sas = make_read_sas(world["factory"], world["ref"], credential=world["credential"])
    query = parse_qs(sas)
    assert query["sp"] == ["rl"]
    assert query["sr"] == ["c"]  # this one container
    start = datetime.fromisoformat(query["st"][0].replace("Z", "+00:00"))
    expiry = datetime.fromisoformat(query["se"][0].replace("Z", "+00:00"))
    assert timedelta(hours=7) < expiry - start <= SAS_LIFETIME + timedelta(minutes=5)
    # Azurite 3.35 refuses user delegation SAS from this SDK (Azure/Azurite#2649): the app
    # probed it, saw the 403 and signed with the account key instead. On Azure (or
    # Azurite >= 3.37) the delegation SAS passes the probe and is used (``skoid`` set).
    assert _names(world, sas)
    writer = ContainerClient.from_container_url(
        world["ref"].url + "?" + sas, connection_verify=world["verify"]
    )
    with pytest.raises(HttpResponseError) as err:
        writer.upload_blob("rp/evil.sql", b"no", overwrite=True)
    assert err.value.status_code == 403


def test_the_app_made_sas_falls_back_to_the_account_key(world: dict[str, Any]) -> None:
    class NoDelegation:
        """A factory whose Blob service refuses delegation keys (as without a data role)."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def blob_service(self, url: str, credential: Any = None) -> Any:
            return self.inner.blob_service(url, AzureNamedKeyCredential(IDS.STORAGE, "AAAA"))

        def storage(self, sub: str) -> Any:
            return self.inner.storage(sub)

    sas = make_read_sas(NoDelegation(world["factory"]), world["ref"])
    query = parse_qs(sas)
    assert "skoid" not in query
    assert query["sp"] == ["rl"]
    assert _names(world, sas)


def test_account_key_without_an_arm_id_is_refused_in_words(world: dict[str, Any]) -> None:
    bare = ContainerRef(world["ref"].url)
    with pytest.raises(AppError, match="only by its URL"):
        read_credential(
            ReadMethod.ACCOUNT_KEY, bare, factory=world["factory"], credential=world["credential"]
        )


def test_a_deferred_downloader_fails_at_first_use(world: dict[str, Any]) -> None:
    built: list[int] = []

    def build() -> Any:
        built.append(1)
        raise AppError("user", "no key")  # type: ignore[arg-type]

    dl = DeferredDownloader(build)
    assert not built
    with pytest.raises(AppError, match="no key"):
        dl.list_blobs("rp/")


def test_the_storage_service_makes_the_wizards_sas(world: dict[str, Any]) -> None:
    from pgflex_gui.azure.storage import StorageService

    sas = StorageService(world["factory"]).make_read_sas(world["ref"].url, world["ref"].arm_id)
    assert parse_qs(sas)["sp"] == ["rl"]
    assert _names(world, sas) == ["rp/p_database_sales.sql", "rp/p_roles.sql"]
