"""The restore target's server: create it, open its firewall, set parameters, restart it.

A small slice of ``Microsoft.DBforPostgreSQL/flexibleServers`` (azure-facts §8) for the restore
engine. Every call goes through :func:`~pgflex_gui.azure.errors.azure_call`, so callers only
see ``AppError``; long operations return an :class:`~pgflex_gui.azure.clients.Lro` whose
continuation token is available at once (the engine journals it).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from pgflex_gui.azure.clients import ClientFactory, Lro
from pgflex_gui.azure.errors import azure_call, logged
from pgflex_gui.domain.ids import ResourceId

__all__ = ["ServerEndpoint", "ServerSpec", "TargetServerService", "create_server_body"]

SANDBOX_PORT_TAG = "sandbox-port"  # the loopback sandbox serves each server on its own port


@dataclass(frozen=True)
class ServerSpec:
    """What a new restore-target server looks like (no secrets)."""

    location: str
    version: str
    sku_name: str = "Standard_D2ds_v5"
    sku_tier: str = "GeneralPurpose"
    storage_gb: int = 128
    admin_login: str = "pgadmin"


@dataclass(frozen=True)
class ServerEndpoint:
    """Where a ready server listens."""

    host: str
    port: int
    sslmode: str


def create_server_body(spec: ServerSpec, password: str) -> dict[str, Any]:
    """The ``PUT .../flexibleServers/{name}`` body (azure-facts §8, public access, no HA)."""
    return {
        "location": spec.location,
        "sku": {"name": spec.sku_name, "tier": spec.sku_tier},
        "tags": {"created-by": "pgflex-gui restore"},
        "properties": {
            "createMode": "Create",
            "version": spec.version,
            "administratorLogin": spec.admin_login,
            "administratorLoginPassword": password,
            "storage": {"storageSizeGB": spec.storage_gb, "autoGrow": "Disabled"},
            "network": {"publicNetworkAccess": "Enabled"},
            "backup": {"backupRetentionDays": 7, "geoRedundantBackup": "Disabled"},
            "highAvailability": {"mode": "Disabled"},
        },
    }


def _parts(server_id: ResourceId | str) -> tuple[str, str, str]:
    rid = ResourceId.parse(server_id) if isinstance(server_id, str) else server_id
    return rid.subscription_id, rid.resource_group, rid.name


def _json(body: Mapping[str, Any]) -> io.BytesIO:
    # Raw JSON: the 3.0.0 models moved fields under ``properties``; send the REST shape as is.
    return io.BytesIO(json.dumps(body).encode())


def _props(obj: Any) -> Any:
    return getattr(obj, "properties", None) or obj


class TargetServerService:
    """Create/configure/restart a flexible server. Methods block (or return Lro), raise AppError."""

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory

    def _client(self, subscription_id: str) -> Any:
        return self._factory.postgres(subscription_id)

    def exists(self, server_id: ResourceId | str) -> bool:
        """True when the server exists (a 404 is False, other errors raise AppError)."""
        sub, rg, name = _parts(server_id)
        try:
            self._client(sub).servers.get(rg, name)
        except ResourceNotFoundError:
            return False
        except HttpResponseError as exc:
            if exc.status_code == 404:
                return False
            raise logged(exc, f"read server {name}") from exc
        except Exception as exc:
            raise logged(exc, f"read server {name}") from exc
        return True

    def begin_create(
        self,
        server_id: ResourceId | str,
        spec: ServerSpec | None,
        password: str | None,
        *,
        continuation_token: str | None = None,
    ) -> Lro[None]:
        """Create the server (or, with ``continuation_token``, keep following its creation)."""
        sub, rg, name = _parts(server_id)
        client = self._client(sub)
        what = f"create server {name}"
        with azure_call(what):
            if continuation_token:
                poller = client.servers.begin_create_or_update(
                    rg, name, None, continuation_token=continuation_token
                )
            else:
                if spec is None or password is None:
                    raise ValueError("a new server needs its spec and admin password")
                poller = client.servers.begin_create_or_update(
                    rg, name, _json(create_server_body(spec, password))
                )
        return Lro(poller, what=what, convert=lambda _raw: None)

    def endpoint(self, server_id: ResourceId | str) -> ServerEndpoint:
        """(host, port, sslmode) of the server."""
        sub, rg, name = _parts(server_id)
        with azure_call(f"read server {name}"):
            server = self._client(sub).servers.get(rg, name)
        host = str(getattr(_props(server), "fully_qualified_domain_name", "") or "")
        tags = getattr(server, "tags", None) or {}
        if SANDBOX_PORT_TAG in tags:
            return ServerEndpoint(host or "127.0.0.1", int(tags[SANDBOX_PORT_TAG]), "")
        return ServerEndpoint(host, 5432, "require")

    def begin_firewall_rule(self, server_id: ResourceId | str, rule: str, ip: str) -> Lro[None]:
        """Create or update a single-address firewall rule (long-running)."""
        sub, rg, name = _parts(server_id)
        body = {"properties": {"startIpAddress": ip, "endIpAddress": ip}}
        what = f"add a firewall rule to {name}"
        with azure_call(what):
            poller = self._client(sub).firewall_rules.begin_create_or_update(
                rg, name, rule, _json(body)
            )
        return Lro(poller, what=what, convert=lambda _raw: None)

    def get_parameter(self, server_id: ResourceId | str, parameter: str) -> str:
        """A server parameter's current value ("" when unset)."""
        sub, rg, name = _parts(server_id)
        with azure_call(f"read {parameter} on {name}"):
            cfg = self._client(sub).configurations.get(rg, name, parameter)
        return str(getattr(_props(cfg), "value", "") or "")

    def begin_set_parameter(
        self, server_id: ResourceId | str, parameter: str, value: str
    ) -> Lro[None]:
        """Set a server parameter (``source: user-override``)."""
        sub, rg, name = _parts(server_id)
        body: Mapping[str, Any] = {"properties": {"value": value, "source": "user-override"}}
        what = f"set {parameter} on {name}"
        with azure_call(what):
            poller = self._client(sub).configurations.begin_put(rg, name, parameter, _json(body))
        return Lro(poller, what=what, convert=lambda _raw: None)

    def begin_delete(self, server_id: ResourceId | str) -> Lro[None]:
        """Delete the server (long-running); a server already gone is not an error."""
        sub, rg, name = _parts(server_id)
        what = f"delete server {name}"
        with azure_call(what):
            poller = self._client(sub).servers.begin_delete(rg, name)
        return Lro(poller, what=what, convert=lambda _raw: None)

    def begin_restart(self, server_id: ResourceId | str) -> Lro[None]:
        """Restart the server (static parameters such as shared_preload_libraries)."""
        sub, rg, name = _parts(server_id)
        what = f"restart {name}"
        with azure_call(what):
            poller = self._client(sub).servers.begin_restart(rg, name)
        return Lro(poller, what=what, convert=lambda _raw: None)
