"""Shared helpers for the azure/ adapter tests: a ClientFactory pointed at a sandbox."""

from __future__ import annotations

from azure.identity import ClientSecretCredential

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.domain.cloud import resolve_cloud
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.sandbox.runtime import Sandbox


def sandbox_factory(box: Sandbox, tenant_id: str = IDS.TENANT) -> ClientFactory:
    """A factory resolved the way the app does it: env-style overrides on AzureCloud."""
    info = box.info
    cloud = resolve_cloud(
        "AzureCloud",
        env={"PGFLEX_ARM_ENDPOINT": info.arm_endpoint, "PGFLEX_CA_BUNDLE": info.ca_bundle},
    )
    credential = ClientSecretCredential(
        tenant_id,
        info.client_id,
        info.client_secret,
        authority=info.authority,
        disable_instance_discovery=True,
        connection_verify=info.ca_bundle,
    )
    return ClientFactory(cloud, credential)
