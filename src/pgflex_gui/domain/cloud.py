"""Which Azure cloud the app talks to: endpoints, token scope, portal, storage suffix.

Pure: the environment is passed in as a mapping, nothing is read from the process here.
Precedence when resolving: explicit (command-line) arguments, then the environment
(``PGFLEX_ARM_ENDPOINT``, ``PGFLEX_AUTHORITY_HOST``, ``PGFLEX_CA_BUNDLE``), then saved settings,
then the named cloud's defaults. Overriding only the ARM endpoint of a named cloud keeps that
cloud's token scope (azure-cli's resource-manager override); a ``Custom`` cloud asks for
``<arm endpoint>/.default``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import quote, urlsplit

__all__ = [
    "AZURE_CHINA_CLOUD",
    "AZURE_CLOUD",
    "AZURE_US_GOVERNMENT",
    "CUSTOM",
    "ENV_ARM_ENDPOINT",
    "ENV_AUTHORITY_HOST",
    "ENV_CA_BUNDLE",
    "KNOWN_CLOUDS",
    "CloudConfig",
    "portal_link",
    "resolve_cloud",
]

ENV_ARM_ENDPOINT = "PGFLEX_ARM_ENDPOINT"
ENV_AUTHORITY_HOST = "PGFLEX_AUTHORITY_HOST"
ENV_CA_BUNDLE = "PGFLEX_CA_BUNDLE"
CUSTOM = "Custom"

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


@dataclass(frozen=True)
class CloudConfig:
    """Endpoints of one Azure cloud (or a stand-in for it)."""

    name: str
    arm_endpoint: str
    authority_host: str
    credential_scope: str
    portal_url: str = ""
    ca_bundle: str | None = None
    storage_suffix: str = "core.windows.net"

    @property
    def is_local(self) -> bool:
        """True when ARM is on this machine (the sandbox): poll fast, retry little."""
        host = (urlsplit(self.arm_endpoint).hostname or "").lower()
        return host in _LOCAL_HOSTS

    def portal_link(self, resource_id: str) -> str:
        """A browser link to the resource in this cloud's portal; "" when there is no portal."""
        return portal_link(resource_id, self)


def _scope_for(arm_endpoint: str) -> str:
    return arm_endpoint.rstrip("/") + "/.default"


AZURE_CLOUD = CloudConfig(
    name="AzureCloud",
    arm_endpoint="https://management.azure.com",
    authority_host="https://login.microsoftonline.com",
    credential_scope="https://management.azure.com/.default",
    portal_url="https://portal.azure.com",
    storage_suffix="core.windows.net",
)
AZURE_US_GOVERNMENT = CloudConfig(
    name="AzureUSGovernment",
    arm_endpoint="https://management.usgovcloudapi.net",
    authority_host="https://login.microsoftonline.us",
    credential_scope="https://management.usgovcloudapi.net/.default",
    portal_url="https://portal.azure.us",
    storage_suffix="core.usgovcloudapi.net",
)
AZURE_CHINA_CLOUD = CloudConfig(
    name="AzureChinaCloud",
    arm_endpoint="https://management.chinacloudapi.cn",
    authority_host="https://login.chinacloudapi.cn",
    credential_scope="https://management.chinacloudapi.cn/.default",
    portal_url="https://portal.azure.cn",
    storage_suffix="core.chinacloudapi.cn",
)

KNOWN_CLOUDS: Mapping[str, CloudConfig] = {
    c.name: c for c in (AZURE_CLOUD, AZURE_US_GOVERNMENT, AZURE_CHINA_CLOUD)
}


def _normalize_url(text: str, what: str) -> str:
    url = text.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"{what} must be an https URL, got {text!r}")
    return url


def _first(*values: str | None) -> str | None:
    for value in values:
        if value is not None and value.strip():
            return value.strip()
    return None


def resolve_cloud(
    name: str | None,
    *,
    arm_endpoint: str | None = None,
    authority_host: str | None = None,
    ca_bundle: str | None = None,
    env: Mapping[str, str],
    saved: Mapping[str, str] | None = None,
) -> CloudConfig:
    """Resolve the cloud to use.

    Args:
        name: a known cloud name (case-insensitive), ``Custom``, or None for AzureCloud.
        arm_endpoint: command-line override of the ARM endpoint.
        authority_host: command-line override of the sign-in authority.
        ca_bundle: command-line path of a PEM bundle to trust (sandbox, TLS proxies).
        env: the process environment (or any mapping standing in for it).
        saved: values from settings: ``arm_endpoint``, ``authority_host``, ``ca_bundle``.

    Raises:
        ValueError: unknown cloud name, a Custom cloud without an ARM endpoint, or a
            malformed URL.
    """
    saved = saved or {}
    wanted = (name or AZURE_CLOUD.name).strip()
    base: CloudConfig | None = None
    for known in KNOWN_CLOUDS.values():
        if known.name.lower() == wanted.lower():
            base = known
    if base is None and wanted.lower() != CUSTOM.lower():
        choices = ", ".join([*KNOWN_CLOUDS, CUSTOM])
        raise ValueError(f"unknown Azure cloud {name!r}; choose one of {choices}")

    arm = _first(arm_endpoint, env.get(ENV_ARM_ENDPOINT), saved.get("arm_endpoint"))
    authority = _first(authority_host, env.get(ENV_AUTHORITY_HOST), saved.get("authority_host"))
    bundle = _first(ca_bundle, env.get(ENV_CA_BUNDLE), saved.get("ca_bundle"))

    if base is None:
        if arm is None:
            raise ValueError("a Custom cloud needs an ARM endpoint")
        arm = _normalize_url(arm, "ARM endpoint")
        return CloudConfig(
            name=CUSTOM,
            arm_endpoint=arm,
            authority_host=_normalize_url(authority, "authority host")
            if authority
            else AZURE_CLOUD.authority_host,
            credential_scope=_scope_for(arm),
            portal_url="",
            ca_bundle=bundle,
            storage_suffix=AZURE_CLOUD.storage_suffix,
        )

    cloud = base
    if arm is not None:
        cloud = replace(cloud, arm_endpoint=_normalize_url(arm, "ARM endpoint"))
    if authority is not None:
        cloud = replace(cloud, authority_host=_normalize_url(authority, "authority host"))
    if bundle is not None:
        cloud = replace(cloud, ca_bundle=bundle)
    return cloud


def portal_link(resource_id: str, cloud: CloudConfig = AZURE_CLOUD) -> str:
    """``https://portal.azure.com/#@/resource/<id>``; "" for a cloud without a portal."""
    if not cloud.portal_url or not resource_id:
        return ""
    rid = "/" + resource_id.strip().lstrip("/")
    return f"{cloud.portal_url.rstrip('/')}/#@/resource{quote(rid, safe='/-_.~')}"
