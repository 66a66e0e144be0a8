"""The seam between the sandbox ARM service (control plane) and its data plane.

The ARM service keeps resources as JSON; whatever has real bytes behind it (PostgreSQL
clusters, vault store dumps, Azurite accounts) lives behind :class:`DataPlane`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["BackupResult", "DataPlane", "DataPlaneError", "ServerEndpoint", "StorageEndpoint"]


class DataPlaneError(Exception):
    """A data-plane failure the ARM service turns into an Azure error body.

    ``code`` is an Azure error code (e.g. ``UserErrorMSIMissingPermissions``).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ServerEndpoint:
    host: str  # 127.0.0.1
    port: int
    version: str  # major, "15" or "18"


@dataclass(frozen=True)
class StorageEndpoint:
    account: str
    blob_endpoint: str  # https://127.0.0.1:10000/<account>/ (Azurite, path style)
    key: str  # base64 account key


@dataclass(frozen=True)
class BackupResult:
    recovery_point_id: str
    databases: tuple[str, ...]  # databases included (not those owned by azuresu/azure_pg_admin)
    size_bytes: int
    files: tuple[str, ...] = field(default=())  # names inside the vault store


class DataPlane(Protocol):
    """What the ARM service needs from real servers and storage. Methods block."""

    def create_server(
        self, key: str, *, version: str, admin_login: str, admin_password: str
    ) -> ServerEndpoint:
        """Start a new empty cluster set up like Azure's; DataPlaneError if the major is missing."""
        ...

    def delete_server(self, key: str) -> None: ...

    def start_server(self, key: str) -> None: ...

    def stop_server(self, key: str) -> None: ...

    def endpoint(self, key: str) -> ServerEndpoint | None: ...

    def set_configuration(self, key: str, name: str, value: str) -> None:
        """Apply a server parameter (azure.extensions, shared_preload_libraries, ...)."""
        ...

    def list_databases(self, key: str) -> list[tuple[str, str]]:
        """(database, owner) pairs, for the ARM databases listing."""
        ...

    def backup(self, key: str, recovery_point_id: str) -> BackupResult:
        """pg_dump -Fc each covered database plus a roles dump into the vault store."""
        ...

    def delete_recovery_point(self, recovery_point_id: str) -> None: ...

    def create_storage_account(self, account: str) -> StorageEndpoint: ...

    def restore_as_files(
        self, recovery_point_id: str, *, account: str, container: str, prefix: str
    ) -> list[str]:
        """Copy a recovery point's files into an Azurite container; return the blob names."""
        ...


@dataclass(frozen=True)
class SandboxTenant:
    tenant_id: str
    display_name: str
    subscriptions: tuple[str, ...]  # subscription ids


@dataclass(frozen=True)
class SandboxInfo:
    """How to reach a running sandbox: what ``pgflex sandbox status --json`` prints.

    ``client_secret`` is the sandbox app registration's secret; it is a local, throw-away
    credential, but it is still handled as a secret (never logged, never on a command line).
    """

    arm_endpoint: str  # https://127.0.0.1:<port>  (ARM)
    authority: str  # https://127.0.0.1:<port>  (token endpoint: /{tenant}/oauth2/v2.0/token)
    ca_bundle: str  # PEM of the sandbox CA (ARM and Azurite certificates chain to it)
    client_id: str
    client_secret: str = field(repr=False)
    tenants: tuple[SandboxTenant, ...] = ()
    blob_endpoint: str = ""  # Azurite, e.g. https://127.0.0.1:<port>/devstoreaccount1
    azurite_connection_string: str = field(default="", repr=False)
    workdir: str = ""
    token_command: str = ""  # prints a bearer token the sandbox accepts

    def to_json(self, *, include_secrets: bool = False) -> dict[str, object]:
        """A JSON-able dict; secrets only when asked (status --json names the secret file)."""
        data: dict[str, object] = {
            "arm_endpoint": self.arm_endpoint,
            "authority": self.authority,
            "ca_bundle": self.ca_bundle,
            "client_id": self.client_id,
            "tenants": [
                {
                    "tenant_id": t.tenant_id,
                    "display_name": t.display_name,
                    "subscriptions": list(t.subscriptions),
                }
                for t in self.tenants
            ],
            "blob_endpoint": self.blob_endpoint,
            "workdir": self.workdir,
            "token_command": self.token_command,
        }
        if include_secrets:
            data["client_secret"] = self.client_secret
            data["azurite_connection_string"] = self.azurite_connection_string
        return data
