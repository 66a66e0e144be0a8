"""A DataPlane that keeps no real bytes: for fast ARM-only tests and metadata worlds."""

from __future__ import annotations

import base64
import hashlib
import threading

from pgflex_gui.sandbox.contract import (
    BackupResult,
    DataPlaneError,
    ServerEndpoint,
    StorageEndpoint,
)

__all__ = ["NullDataPlane", "ensure_container"]


class NullDataPlane:
    """Pretends: servers get fake ports, backups list fake files, restores list blob names."""

    def __init__(
        self,
        *,
        versions: tuple[str, ...] = ("15", "16", "17", "18"),
        blob_endpoint: str = "https://127.0.0.1:10000",
    ) -> None:
        self.versions = versions
        self.blob_endpoint = blob_endpoint
        self.connection_string = ""
        self._lock = threading.Lock()
        self._servers: dict[str, ServerEndpoint] = {}
        self._running: dict[str, bool] = {}
        self.config: dict[str, dict[str, str]] = {}
        self.backups: dict[str, BackupResult] = {}
        self.restores: list[tuple[str, str, str, str]] = []
        self.backup_delay = 0.0

    def start(self) -> None:
        """Nothing to start."""

    def close(self) -> None:
        """Nothing to stop."""

    def create_server(
        self, key: str, *, version: str, admin_login: str, admin_password: str
    ) -> ServerEndpoint:
        """Record a fake server; DataPlaneError for a major not in ``versions``."""
        major = str(version).split(".")[0]
        if major not in self.versions:
            raise DataPlaneError(
                "UnsupportedServerVersion",
                f"PostgreSQL version '{version}' is not available in this sandbox; installed: "
                f"{', '.join(self.versions)}.",
            )
        with self._lock:
            ep = ServerEndpoint("127.0.0.1", 40000 + len(self._servers), major)
            self._servers[key] = ep
            self._running[key] = True
        return ep

    def delete_server(self, key: str) -> None:
        """Forget a server."""
        with self._lock:
            self._servers.pop(key, None)

    def start_server(self, key: str) -> None:
        """Mark running."""
        self._running[key] = True

    def stop_server(self, key: str) -> None:
        """Mark stopped."""
        self._running[key] = False

    def endpoint(self, key: str) -> ServerEndpoint | None:
        """The fake endpoint."""
        return self._servers.get(key)

    def set_configuration(self, key: str, name: str, value: str) -> None:
        """Remember the value."""
        self.config.setdefault(key, {})[name] = value

    def list_databases(self, key: str) -> list[tuple[str, str]]:
        """A fixed list."""
        return [("postgres", "azure_pg_admin"), ("appdb", "pgadmin"), ("sales", "pgadmin")]

    def backup(self, key: str, recovery_point_id: str) -> BackupResult:
        """A fake backup of two databases."""
        if self.backup_delay:
            threading.Event().wait(self.backup_delay)
        result = BackupResult(
            recovery_point_id, ("appdb", "sales"), 4096, ("appdb.sql", "sales.sql", "roles.sql")
        )
        self.backups[recovery_point_id] = result
        return result

    def delete_recovery_point(self, recovery_point_id: str) -> None:
        """Forget a backup."""
        self.backups.pop(recovery_point_id, None)

    def create_storage_account(self, account: str) -> StorageEndpoint:
        """A fake Azurite account with a deterministic key."""
        key = base64.b64encode(hashlib.sha256(account.encode()).digest() * 2).decode()
        return StorageEndpoint(account, f"{self.blob_endpoint}/{account}/", key)

    def restore_as_files(
        self, recovery_point_id: str, *, account: str, container: str, prefix: str
    ) -> list[str]:
        """Record the restore; return the blob names it would write."""
        self.restores.append((recovery_point_id, account, container, prefix))
        files = self.backups.get(recovery_point_id)
        names = files.files if files else ("appdb.sql", "roles.sql")
        return [f"{prefix}{n}" if prefix else n for n in names]


def ensure_container(dataplane: object, account: str, container: str) -> None:
    """Create a blob container in the data plane's Azurite when it offers ``blob_service``."""
    factory = getattr(dataplane, "blob_service", None)
    if factory is None:
        return
    from azure.core.exceptions import ResourceExistsError

    try:
        factory(account).create_container(container)
    except ResourceExistsError:
        pass
