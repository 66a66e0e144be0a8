"""Hand-written fakes for UI tests: an InventoryPort with canned data, delays and failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import (
    BackupInstance,
    BackupJob,
    FlexServer,
    PolicyInfo,
    ProtectionState,
    RecoveryPoint,
    Region,
    RetentionRuleInfo,
    Subscription,
    Tenant,
    Vault,
)

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
TENANT = "11111111-1111-1111-1111-111111111111"
SUB_A = "aaaaaaaa-0000-0000-0000-000000000001"
SUB_B = "bbbbbbbb-0000-0000-0000-000000000002"
SUB_BAD = "cccccccc-0000-0000-0000-000000000003"

PG = "Microsoft.DBforPostgreSQL"
DP = "Microsoft.DataProtection"


def server_id(sub: str, name: str, rg: str = "rg-db") -> ResourceId:
    return ResourceId.build(sub, rg, PG, "flexibleServers", name)


def vault_id(sub: str, name: str, rg: str = "rg-backup") -> ResourceId:
    return ResourceId.build(sub, rg, DP, "backupVaults", name)


def _server(sub: str, name: str, **kw: object) -> FlexServer:
    defaults: dict[str, object] = {
        "location": "westeurope",
        "version": "16",
        "state": "Ready",
        "tenant_id": TENANT,
        "sku_name": "Standard_D2ds_v5",
        "sku_tier": "GeneralPurpose",
        "storage_gb": 128,
    }
    defaults.update(kw)
    return FlexServer(id=server_id(sub, name), **defaults)  # type: ignore[arg-type]


class FakeInventory:
    """An InventoryPort over canned data.

    ``delay`` (seconds) makes every call wait on an Event (so a test can also ``release()``
    early); ``fail`` maps a method name or subscription/vault name to an AppError raised.
    ``page_size`` splits server and vault listings into pages.
    """

    def __init__(
        self,
        *,
        delay: float = 0.0,
        page_size: int = 2,
        fail: dict[str, AppError] | None = None,
        now: datetime = NOW,
    ) -> None:
        self.delay = delay
        self.page_size = page_size
        self.fail = dict(fail or {})
        self.now = now
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._gate = threading.Event()
        self.tenants = [Tenant(TENANT, "Contoso", "contoso.onmicrosoft.com")]
        self.subscriptions = {
            TENANT: [
                Subscription(SUB_A, "Production", TENANT),
                Subscription(SUB_B, "Development", TENANT),
            ]
        }
        self.servers: dict[str, list[FlexServer]] = {
            SUB_A: [
                _server(SUB_A, "pg-orders"),
                _server(SUB_A, "pg-billing", version="15", storage_gb=6144, location="northeurope"),
                _server(SUB_A, "pg-legacy", version="13", state="Stopped"),
                _server(SUB_A, "pg-broken"),
                _server(SUB_A, "pg-stale", storage_gb=512),
            ],
            SUB_B: [_server(SUB_B, "pg-dev", sku_tier="Burstable", sku_name="Standard_B1ms")],
        }
        va = Vault(
            vault_id(SUB_A, "vault-weu"),
            "westeurope",
            TENANT,
            principal_id="p-1",
            redundancy="GeoRedundant",
            cross_region_restore=True,
        )
        vb = Vault(vault_id(SUB_B, "vault-dev"), "westeurope", TENANT)
        self.vaults = {SUB_A: [va], SUB_B: [vb]}
        policy = PolicyInfo(
            va.id.child("backupPolicies", "weekly-sunday"),
            repeating_intervals=("R/2025-01-05T02:00:00+00:00/P1W",),
            retention=(RetentionRuleInfo("Default", "P3M", is_default=True),),
        )
        self.policies = {str(va.id): [policy], str(vb.id): []}

        def bi(
            vault: Vault, server: FlexServer, state: ProtectionState, msg: str = ""
        ) -> BackupInstance:
            return BackupInstance(
                id=vault.id.child("backupInstances", f"{server.name}-bi"),
                datasource_id=server.id,
                policy_id=policy.id,
                protection_state=state,
                friendly_name=server.name,
                datasource_location=server.location,
                error_message=msg or None,
            )

        s = self.servers[SUB_A]
        self.instances = {
            str(va.id): [
                bi(va, s[0], ProtectionState.PROTECTION_CONFIGURED),
                bi(va, s[1], ProtectionState.PROTECTION_CONFIGURED),
                bi(va, s[3], ProtectionState.PROTECTION_ERROR, "UserErrorMSIMissingPermissions"),
                bi(va, s[4], ProtectionState.PROTECTION_CONFIGURED),
            ],
            str(vb.id): [],
        }
        self.points: dict[str, list[RecoveryPoint]] = {}
        for inst, age in zip(self.instances[str(va.id)], (1, 2, 20, 12), strict=True):
            when = now - timedelta(days=age)
            self.points[str(inst.id)] = [
                RecoveryPoint(
                    inst.id.child("recoveryPoints", f"rp{i}"),
                    f"rp{i}",
                    when - timedelta(days=7 * i),
                    policy_name=policy.name,
                    expiry=when + timedelta(days=90),
                )
                for i in range(3)
            ]

    # -- controls -----------------------------------------------------------------------
    def release(self) -> None:
        """Let every delayed call through at once."""
        self._gate.set()

    def _call(self, method: str, arg: str) -> None:
        with self._lock:
            self.calls.append((method, arg))
        if self.delay:
            self._gate.wait(self.delay)
        for name in (method, arg):
            for key, err in self.fail.items():
                if key and key in name:
                    raise err

    # -- InventoryPort ----------------------------------------------------------------------
    def list_tenants(self) -> list[Tenant]:
        self._call("list_tenants", "")
        return list(self.tenants)

    def list_subscriptions(self, tenant_id: str) -> list[Subscription]:
        self._call("list_subscriptions", tenant_id)
        return list(self.subscriptions.get(tenant_id, []))

    def list_locations(self, subscription_id: str) -> list[Region]:
        self._call("list_locations", subscription_id)
        return [Region("westeurope", "West Europe", ("northeurope",))]

    def iter_servers(self, subscription_id: str) -> Iterator[list[FlexServer]]:
        self._call("iter_servers", subscription_id)
        items = self.servers.get(subscription_id, [])
        for i in range(0, len(items), self.page_size):
            yield items[i : i + self.page_size]

    def iter_vaults(self, subscription_id: str) -> Iterator[list[Vault]]:
        self._call("iter_vaults", subscription_id)
        items = self.vaults.get(subscription_id, [])
        for i in range(0, len(items), self.page_size):
            yield items[i : i + self.page_size]

    def list_policies(self, vault_id: ResourceId) -> list[PolicyInfo]:
        self._call("list_policies", str(vault_id))
        return list(self.policies.get(str(vault_id), []))

    def list_backup_instances(self, vault_id: ResourceId) -> list[BackupInstance]:
        self._call("list_backup_instances", str(vault_id))
        return list(self.instances.get(str(vault_id), []))

    def list_recovery_points(
        self,
        backup_instance_id: ResourceId,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[RecoveryPoint]:
        self._call("list_recovery_points", str(backup_instance_id))
        points = self.points.get(str(backup_instance_id), [])
        return [
            p
            for p in points
            if (start is None or p.time >= start) and (end is None or p.time <= end)
        ]

    def list_jobs(self, vault_id: ResourceId) -> list[BackupJob]:
        self._call("list_jobs", str(vault_id))
        return [
            BackupJob(
                vault_id.child("backupJobs", "job-1"),
                "Backup",
                "Completed",
                start=self.now - timedelta(days=1),
                end=self.now - timedelta(days=1, hours=-1),
                duration="PT1H",
                datasource_name="pg-orders",
            ),
            BackupJob(
                vault_id.child("backupJobs", "job-2"),
                "Backup",
                "Failed",
                start=self.now - timedelta(days=3),
                datasource_name="pg-broken",
                error_codes=(
                    ("UserErrorMSIMissingPermissions", "The vault identity lacks a role."),
                ),
            ),
        ]


def permission_error(what: str = "subscription") -> AppError:
    return AppError(
        fault=Fault.PERMISSION,
        summary=f"You cannot read this {what}.",
        remedy="Ask for the Reader role on it.",
        azure_code="AuthorizationFailed",
    )
