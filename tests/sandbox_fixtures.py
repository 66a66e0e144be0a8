"""Pytest plugin: sandbox fixtures (loaded by tests/conftest.py).

- ``sandbox_arm``: ARM only, NullDataPlane, seed "minimal", page size 2, no Retry-After.
- ``sandbox``: the full sandbox (LocalDataPlane: Azurite + real PostgreSQL), seed "minimal".
- ``arm_credential`` / ``make_arm_client``: real ClientSecretCredential and SDK clients
  against ``sandbox_arm``; ``credential`` / ``make_client`` do the same for ``sandbox``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential

from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import NullDataPlane, Sandbox

ARM_SCOPE = "https://management.azure.com/.default"


def reachable_by_server_user(path: Path) -> Path:
    """As root, let the PostgreSQL server user walk into ``path`` (pytest makes it 0700), so
    sandbox clusters keep their data inside it rather than beside the folder in /tmp."""
    if os.geteuid() == 0:
        path.chmod(0o711)
    return path


def sandbox_credential(box: Sandbox, tenant_id: str = IDS.TENANT) -> ClientSecretCredential:
    """A real azure-identity credential for the sandbox app in ``tenant_id``."""
    info = box.info
    return ClientSecretCredential(
        tenant_id,
        info.client_id,
        info.client_secret,
        authority=info.authority,
        disable_instance_discovery=True,
        connection_verify=info.ca_bundle,
    )


def client_factory(box: Sandbox, credential: Any) -> Callable[..., Any]:
    """``make(cls, subscription_id=None)`` building any mgmt client against ``box``."""

    def make(cls: type, subscription_id: str | None = IDS.SUB, **kwargs: Any) -> Any:
        options: dict[str, Any] = {
            "base_url": box.arm_endpoint,
            "connection_verify": box.info.ca_bundle,
            "credential_scopes": [ARM_SCOPE],
            "retry_backoff_factor": 0.05,
        }
        options.update(kwargs)
        if subscription_id is None:
            return cls(credential, **options)
        return cls(credential, subscription_id, **options)

    return make


@pytest.fixture(scope="session")
def sandbox_arm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A fast ARM-only sandbox (no real bytes)."""
    box = Sandbox.start(
        tmp_path_factory.mktemp("sandbox-arm"),
        seed="minimal",
        dataplane=NullDataPlane(),
        page_size=2,
        retry_after=0,
    )
    yield box
    box.stop()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The full sandbox with the real LocalDataPlane; errors (never skips) when missing."""
    try:
        importlib.import_module("pgflex_gui.sandbox.dataplane")
    except ImportError as exc:
        pytest.fail(f"pgflex_gui.sandbox.dataplane is missing: {exc}", pytrace=False)
    box = Sandbox.start(
        reachable_by_server_user(tmp_path_factory.mktemp("sandbox")),
        seed="minimal",
        page_size=5,
        retry_after=0,
        ephemeral=True,  # no cluster data left behind (it may live outside pytest's tmp)
    )
    yield box
    box.stop()


@pytest.fixture(scope="session")
def arm_credential(sandbox_arm: Sandbox) -> ClientSecretCredential:
    """Credential for ``sandbox_arm`` (tenant Contoso)."""
    return sandbox_credential(sandbox_arm)


@pytest.fixture
def make_arm_client(sandbox_arm: Sandbox, arm_credential: ClientSecretCredential) -> Any:
    """``make_arm_client(cls, subscription_id=IDS.SUB, **kw)`` against ``sandbox_arm``."""
    return client_factory(sandbox_arm, arm_credential)


@pytest.fixture(scope="session")
def credential(sandbox: Sandbox) -> ClientSecretCredential:
    """Credential for the full ``sandbox`` (tenant Contoso)."""
    return sandbox_credential(sandbox)


@pytest.fixture
def make_client(sandbox: Sandbox, credential: ClientSecretCredential) -> Any:
    """``make_client(cls, subscription_id=IDS.SUB, **kw)`` against the full ``sandbox``."""
    return client_factory(sandbox, credential)


@contextmanager
def restored_files_plane(
    d: Path, *, admin: str, target_password: str, prefix: str, version: str = "15"
) -> Iterator[dict[str, Any]]:
    """A data plane with a seeded source "src", an empty target "dst" set up like a flexible
    server, and the source's restore-as-files downloaded to ``d / "files"``.

    Yields ``{"plane", "files", "names", "tmp"}``; the plane is closed afterwards.
    """
    import trustme

    from pgflex_gui.sandbox.dataplane import LocalDataPlane

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    tls = {"tls_cert": d / "cert.pem", "tls_key": d / "key.pem", "ca_bundle": d / "ca.pem"}
    tls["tls_cert"].write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(tls["tls_key"]))
    ca.cert_pem.write_to_path(str(tls["ca_bundle"]))
    plane = LocalDataPlane(d / "plane", **tls, ephemeral=True)
    try:
        plane.start()
        plane.create_server("src", version=version, admin_login=admin, admin_password="Src.Pass-1")
        plane.create_server("dst", version=version, admin_login=admin,
                            admin_password=target_password)  # fmt: skip
        plane.seed_source_databases("src", scale=0)
        plane.set_configuration("dst", "azure.extensions", "pgcrypto,hstore")
        plane.backup("src", f"rp-{prefix}")
        plane.create_storage_account(f"{prefix}acct")
        container = plane.blob_service(f"{prefix}acct").create_container("restored")
        names = plane.restore_as_files(f"rp-{prefix}", account=f"{prefix}acct",
                                       container="restored", prefix=prefix)  # fmt: skip
        files = d / "files"
        files.mkdir()
        for name in names:
            (files / name).write_bytes(container.download_blob(name).readall())
        yield {"plane": plane, "files": files, "names": names, "tmp": d}
    finally:
        plane.close()
