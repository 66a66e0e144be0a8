"""``pgflex inventory [--sandbox DIR] [--json]``: every server and its protection, for cron.

Signed in like ``pgflex restore``: ``--sandbox DIR`` uses the sandbox's own app identity (one
credential per tenant); otherwise the cloud in settings/environment with
``DefaultAzureCredential`` (Azure CLI login, environment, managed identity).

Listing goes through the fleet inventory: Azure Resource Graph first (servers, vaults and
backup instances in a few paged queries), ARM per subscription when Resource Graph is
unavailable or denied; the output says which (``source``). The newest recovery point of each
server's instance is read live through ARM (Resource Graph has no recovery points).

Per server: subscription, resource group, region, server state, protection state, vault,
backup type (``v1`` logical, ``v2`` physical, ``unknown``; ``-`` without an instance), the
newest recovery point (time and age) and the server's provisioned storage (``size_gb``;
ARM reports no recovery point size). ``status`` is ``ok``, ``unprotected`` (no instance, or
one that no longer protects: stopped, suspended, error, soft-deleted), ``overdue`` (no
recovery point in the last 8 days) or ``error`` (the recovery points could not be read).

Exit codes: 0 every server protected and within 8 days; 1 at least one server unprotected,
overdue or unreadable; 2 the inventory could not be listed (sign-in, a subscription's listing
failed, bad arguments).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.models import BackupInstance, FlexServer, ProtectionState
from pgflex_gui.domain.protection import STALE_AFTER, instance_rank, is_backup_stale

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_UNPROTECTED", "build_parser", "main"]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_UNPROTECTED = 1
EXIT_ERROR = 2
_WORKERS = 8
_PROTECTING = {
    ProtectionState.PROTECTION_CONFIGURED,
    ProtectionState.CONFIGURING_PROTECTION,
    ProtectionState.UPDATING_PROTECTION,
}
EXIT_CODES_HELP = (
    "exit codes: 0 every server protected with a recovery point in the last "
    f"{STALE_AFTER.days} days; 1 at least one server unprotected, overdue or unreadable; "
    "2 the inventory could not be listed (sign-in, a failed listing, bad arguments)"
)


@dataclass(frozen=True)
class Row:
    server: str
    id: str
    subscription: str
    resource_group: str
    location: str
    state: str
    protection: str
    vault: str
    backup_type: str
    last_recovery_point: str | None
    age_hours: float | None
    size_gb: int
    status: str


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(
        prog="pgflex inventory",
        description="Every PostgreSQL flexible server with its Azure Backup protection.",
        epilog=EXIT_CODES_HELP,
    )
    p.add_argument("--sandbox", type=Path, help="list the sandbox in this folder")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.add_argument(
        "--no-resource-graph", action="store_true", help="list through ARM per subscription only"
    )
    return p


# -- sign-in --------------------------------------------------------------------------------
class _TenantCredential:
    """A credential whose tokens come from one tenant (DefaultAzureCredential + tenant_id)."""

    def __init__(self, inner: Any, tenant_id: str) -> None:
        self._inner = inner
        self._tenant = tenant_id

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        kwargs.setdefault("tenant_id", self._tenant)
        return self._inner.get_token(*scopes, **kwargs)


def _sandbox_session(box: Path) -> tuple[Any, Any]:
    from pgflex_gui.restore_cli import sandbox_session

    factory, for_tenant, _ca = sandbox_session(box)
    return factory, for_tenant


def _azure_session() -> tuple[Any, Any]:
    from azure.identity import DefaultAzureCredential

    from pgflex_gui.azure.clients import ClientFactory
    from pgflex_gui.domain.cloud import resolve_cloud
    from pgflex_gui.settings import load_settings

    settings = load_settings()
    cloud = resolve_cloud(
        settings.cloud,
        arm_endpoint=settings.arm_endpoint,
        authority_host=settings.authority_host,
        ca_bundle=settings.ca_bundle,
        env=os.environ,
    )
    credential = DefaultAzureCredential(
        authority=cloud.authority_host, additionally_allowed_tenants=["*"]
    )

    def for_tenant(tenant_id: str) -> Any:
        return _TenantCredential(credential, tenant_id)

    return ClientFactory(cloud, credential, credential_for_tenant=for_tenant), for_tenant


# -- listing --------------------------------------------------------------------------------
def collect(inventory: Any, *, now: datetime | None = None) -> tuple[list[Row], list[str]]:
    """Rows for every server, and the listings that failed (as text)."""
    now = now or datetime.now(UTC)
    failures: list[str] = []
    subs = []
    for tenant in inventory.list_tenants():
        try:
            subs.extend(inventory.list_subscriptions(tenant.tenant_id))
        except AppError as err:
            failures.append(f"tenant {tenant.tenant_id}: {err.summary}")

    def per_sub(sub: Any) -> tuple[list[FlexServer], list[BackupInstance], list[str]]:
        errs: list[str] = []
        servers: list[FlexServer] = []
        instances: list[BackupInstance] = []
        try:
            servers = [s for page in inventory.iter_servers(sub.subscription_id) for s in page]
        except AppError as err:
            errs.append(f"servers of {sub.display_name}: {err.summary}")
        try:
            for page in inventory.iter_vaults(sub.subscription_id):
                for vault in page:
                    instances.extend(inventory.list_backup_instances(vault.id))
        except AppError as err:
            errs.append(f"vaults of {sub.display_name}: {err.summary}")
        return servers, instances, errs

    servers: list[FlexServer] = []
    instances: list[BackupInstance] = []
    with ThreadPoolExecutor(_WORKERS, thread_name_prefix="inventory") as pool:
        for found, bis, errs in pool.map(per_sub, subs):
            servers.extend(found)
            instances.extend(bis)
            failures.extend(errs)

    best: dict[str, BackupInstance] = {}
    for bi in instances:
        key = str(bi.datasource_id).lower()
        held = best.get(key)
        if held is None or instance_rank(bi.protection_state) < instance_rank(
            held.protection_state
        ):
            best[key] = bi

    since = now - timedelta(days=35)

    def newest(bi: BackupInstance) -> tuple[datetime | None, bool]:
        try:
            points = inventory.list_recovery_points(bi.id, start=since)
        except AppError as err:
            log.warning("recovery points of %s: %s", bi.name, err.summary)
            return None, False
        return max((p.time for p in points), default=None), True

    chosen = [best[k] for k in sorted(best)]
    with ThreadPoolExecutor(_WORKERS, thread_name_prefix="inventory-rp") as pool:
        last = dict(zip((str(b.id).lower() for b in chosen), pool.map(newest, chosen), strict=True))

    kind_of = getattr(inventory, "kind_of", None)
    rows: list[Row] = []
    for s in sorted(servers, key=lambda s: (s.id.subscription_id.lower(), str(s.id).lower())):
        inst = best.get(str(s.id).lower())
        when: datetime | None = None
        readable = True
        if inst is None:
            protection, vault, kind, status = ProtectionState.NOT_PROTECTED.value, "", "-", ""
        else:
            protection, vault = inst.protection_state.value, inst.vault_id.name
            kind = str(kind_of(inst.id)) if kind_of is not None else "unknown"
            when, readable = last.get(str(inst.id).lower(), (None, False))
            status = ""
        if inst is None or inst.protection_state not in _PROTECTING:
            status = "unprotected"
        elif not readable:
            status = "error"
        elif is_backup_stale(when, now=now):
            status = "overdue"
        else:
            status = "ok"
        age = round((now - when).total_seconds() / 3600, 1) if when is not None else None
        rows.append(
            Row(
                server=s.name,
                id=str(s.id),
                subscription=s.id.subscription_id,
                resource_group=s.id.resource_group,
                location=s.location,
                state=s.state,
                protection=protection,
                vault=vault,
                backup_type=kind,
                last_recovery_point=when.isoformat() if when is not None else None,
                age_hours=age,
                size_gb=s.storage_gb,
                status=status,
            )
        )
    return rows, failures


def _age(hours: float | None) -> str:
    if hours is None:
        return "-"
    if hours < 48:
        return f"{hours:.0f} h"
    return f"{hours / 24:.0f} d"


def _table(rows: list[Row], source: str, failures: list[str]) -> str:
    head = (
        "SERVER",
        "RESOURCE GROUP",
        "REGION",
        "STATE",
        "PROTECTION",
        "VAULT",
        "TYPE",
        "LAST RP",
        "SIZE",
        "STATUS",
    )
    body = [
        (
            r.server,
            r.resource_group,
            r.location,
            r.state,
            r.protection,
            r.vault or "-",
            r.backup_type,
            _age(r.age_hours),
            f"{r.size_gb} GB",
            r.status.upper() if r.status != "ok" else "ok",
        )
        for r in rows
    ]
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)
    ]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [head, *body]
    ]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no servers"
    lines.append("")
    lines.append(f"{len(rows)} servers: {summary}. Listed through {source}.")
    lines.extend(f"failed: {f}" for f in failures)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    from pgflex_gui.azure.inventory import AzureInventory
    from pgflex_gui.azure.inventory_fleet import FleetInventory

    try:
        factory, for_tenant = _sandbox_session(args.sandbox) if args.sandbox else _azure_session()
    except (OSError, ValueError, KeyError) as exc:
        print(f"pgflex inventory: cannot sign in: {exc}", file=sys.stderr)
        return EXIT_ERROR
    fleet = FleetInventory(
        AzureInventory(factory, credential_for_tenant=for_tenant),
        use_resource_graph=not args.no_resource_graph,
    )
    try:
        rows, failures = collect(fleet)
    except AppError as err:
        print(f"pgflex inventory: {err}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        fleet.close()
        factory.close()
    source = fleet.source
    if args.json:
        out = {
            "generated": datetime.now(UTC).isoformat(),
            "source": source,
            "overdue_after_days": STALE_AFTER.days,
            "servers": [asdict(r) for r in rows],
            "failures": failures,
        }
        print(json.dumps(out, indent=2))
    else:
        print(_table(rows, source, failures))
    if failures:
        return EXIT_ERROR
    return EXIT_OK if all(r.status == "ok" for r in rows) else EXIT_UNPROTECTED
