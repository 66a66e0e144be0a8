"""The fleet inventory: Resource Graph first, the per-subscription ARM listing as the fallback.

:class:`FleetInventory` implements ``InventoryPort`` over an :class:`AzureInventory`. The
first server (or vault) listing of a tenant starts one Resource Graph snapshot of that
tenant's subscriptions on a background thread: the servers query streams pages (ordered by
id, so a subscription is complete as soon as a later one's rows arrive, and its servers are
handed to the tree at once), then the vaults and backup instances queries. Tenants and
subscriptions, recovery points, jobs, single reads and every write stay live ARM calls:
expanding a node still fetches live detail.

When Resource Graph is unavailable or denied (:class:`ResourceGraphUnavailable`: 403, 404
``NoRegisteredProviderFound``, an invalid query, a 5xx, no SDK) for a tenant, that tenant is
listed through ARM per subscription as before. :attr:`FleetInventory.source` says which was
used ("Resource Graph" / "ARM per subscription (…why…)"); it is logged and handed to
``on_source`` (the app shows it under Help > About).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from pgflex_gui.azure import convert
from pgflex_gui.azure.errors import azure_call
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.resource_graph import (
    InstanceRow,
    ResourceGraphReader,
    ResourceGraphUnavailable,
    kind_of_instance,
)
from pgflex_gui.domain.backup_kind import BackupKind
from pgflex_gui.domain.errors import Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import (
    BackupInstance,
    BackupJob,
    FlexServer,
    PolicyInfo,
    RecoveryPoint,
    Region,
    Subscription,
    Tenant,
    Vault,
)

__all__ = ["RESOURCE_GRAPH", "FleetInventory"]

log = logging.getLogger(__name__)

RESOURCE_GRAPH = "Resource Graph"
ARM = "ARM per subscription"
_WAIT_S = 600.0


class _Snapshot:
    """One tenant's Resource Graph answer, filled by a loader thread."""

    def __init__(self, subscriptions: list[str]) -> None:
        self.subscriptions = sorted(s.lower() for s in subscriptions)
        self.cond = threading.Condition()
        self.servers: dict[str, list[list[FlexServer]]] = {}
        self.last_sub = ""  # the highest subscription id seen in the servers rows so far
        self.servers_done = False
        self.vaults: dict[str, list[Vault]] | None = None
        self.instances: dict[str, list[InstanceRow]] | None = None  # by vault id (lower)
        self.failed: ResourceGraphUnavailable | None = None
        self.done = False

    def server_pages(self, sub: str) -> Iterator[list[FlexServer]]:
        """Pages of ``sub`` as soon as they are complete; raises the failure if any."""
        sent = 0
        while True:
            with self.cond:
                while True:
                    pages = self.servers.get(sub, [])
                    complete = self.servers_done or self.last_sub > sub
                    if self.failed is not None and not self.servers_done:
                        raise self.failed
                    if len(pages) > sent or complete:
                        break
                    if not self.cond.wait(_WAIT_S):
                        raise TimeoutError("Resource Graph snapshot did not progress")
                new = pages[sent:]
                sent = len(pages)
            yield from (p for p in new if p)
            if complete and sent == len(self.servers.get(sub, [])):
                return

    def wait_protection(self) -> None:
        with self.cond:
            while not self.done:
                if not self.cond.wait(_WAIT_S):
                    raise TimeoutError("Resource Graph snapshot did not finish")
            if self.failed is not None:
                raise self.failed


class FleetInventory:
    """InventoryPort: Resource Graph for the fleet's lists, ARM for the rest and as fallback.

    ``reader_for_tenant(tenant_id)`` builds the :class:`ResourceGraphReader` of a tenant
    (default: over ``inner``'s factory with that tenant's credential). ``use_resource_graph``
    False lists through ARM only (today's behaviour).
    """

    def __init__(
        self,
        inner: AzureInventory,
        *,
        reader_for_tenant: Callable[[str], ResourceGraphReader] | None = None,
        on_source: Callable[[str], None] | None = None,
        use_resource_graph: bool = True,
    ) -> None:
        self._inner = inner
        self._reader_for_tenant = reader_for_tenant or self._default_reader
        self._on_source = on_source
        self._use_rg = use_resource_graph
        self._lock = threading.Lock()
        self._subs_of_tenant: dict[str, list[str]] = {}
        self._tenant_of_sub: dict[str, str] = {}
        self._snapshots: dict[str, _Snapshot] = {}
        # What a snapshot has answered once: a second listing is a refresh (F5, or the tree
        # following a job) and goes to ARM, which is live; the snapshot would repeat what
        # Resource Graph said at start-up (and Resource Graph itself lags ARM).
        self._served: set[tuple[str, str]] = set()
        self._kinds: dict[str, BackupKind] = {}
        self._readers: list[ResourceGraphReader] = []
        self._threads: list[threading.Thread] = []
        self.source = RESOURCE_GRAPH if use_resource_graph else ARM
        self.fallback_reason = ""

    def _default_reader(self, tenant_id: str) -> ResourceGraphReader:
        factory = self._inner._factory
        route = factory.credential_for_tenant
        credential = route(tenant_id) if route is not None and tenant_id else None
        return ResourceGraphReader(factory, credential)

    # -- source -----------------------------------------------------------------------------
    def _set_source(self, source: str) -> None:
        with self._lock:
            changed = source != self.source
            self.source = source
        if changed or source == RESOURCE_GRAPH:
            log.info("Inventory source: %s", source)
        if self._on_source is not None:
            self._on_source(source)

    def kind_of(self, instance_id: ResourceId | str) -> BackupKind:
        """v1/v2/unknown of an instance seen by a listing ("unknown" if not seen)."""
        with self._lock:
            return self._kinds.get(str(instance_id).lower(), "unknown")

    # -- tenants and subscriptions (ARM, live) ---------------------------------------------
    def list_tenants(self) -> list[Tenant]:
        return self._inner.list_tenants()

    def list_subscriptions(self, tenant_id: str) -> list[Subscription]:
        subs = self._inner.list_subscriptions(tenant_id)
        with self._lock:
            known = self._subs_of_tenant.setdefault(tenant_id.lower(), [])
            for s in subs:
                key = s.subscription_id.lower()
                if key not in known:
                    known.append(key)
                self._tenant_of_sub[key] = tenant_id.lower()
        return subs

    def list_locations(self, subscription_id: str) -> list[Region]:
        return self._inner.list_locations(subscription_id)

    # -- snapshots --------------------------------------------------------------------------
    def _first_time(self, what: str, key: str) -> bool:
        """True the first time ``what`` of ``key`` is listed (later ones are refreshes)."""
        with self._lock:
            if (what, key.lower()) in self._served:
                return False
            self._served.add((what, key.lower()))
            return True

    def _snapshot(self, subscription_id: str) -> _Snapshot | None:
        if not self._use_rg:
            return None
        sub = subscription_id.lower()
        with self._lock:
            tenant = self._tenant_of_sub.get(sub)
            if tenant is None:
                return None  # not listed through us: nothing to scope a query with
            snap = self._snapshots.get(tenant)
            if snap is None:
                snap = _Snapshot(self._subs_of_tenant.get(tenant, []))
                self._snapshots[tenant] = snap
                thread = threading.Thread(
                    target=self._load, args=(tenant, snap), name="resource-graph", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        if snap.failed is not None and snap.done:
            return None
        return snap

    def _load(self, tenant: str, snap: _Snapshot) -> None:
        try:
            reader = self._reader_for_tenant(tenant)
            with self._lock:
                self._readers.append(reader)
            for page in reader.servers(snap.subscriptions):
                by_sub: dict[str, list[FlexServer]] = {}
                for s in page:
                    by_sub.setdefault(s.id.subscription_id.lower(), []).append(s)
                with snap.cond:
                    for sub, servers in by_sub.items():
                        snap.servers.setdefault(sub, []).append(servers)
                    if by_sub:
                        snap.last_sub = max(snap.last_sub, *by_sub)
                    snap.cond.notify_all()
            with snap.cond:
                snap.servers_done = True
                snap.cond.notify_all()
            self._set_source(RESOURCE_GRAPH)
            vaults: dict[str, list[Vault]] = {}
            for v in reader.vaults(snap.subscriptions):
                vaults.setdefault(v.id.subscription_id.lower(), []).append(v)
            instances: dict[str, list[InstanceRow]] = {}
            for row in reader.instances(snap.subscriptions):
                instances.setdefault(str(row.instance.vault_id).lower(), []).append(row)
            with self._lock:
                for rows in instances.values():
                    for row in rows:
                        self._kinds[str(row.instance.id).lower()] = row.kind
            with snap.cond:
                snap.vaults, snap.instances = vaults, instances
            log.info(
                "Resource Graph snapshot of tenant %s: %d servers, %d vaults, %d instances "
                "(%d queries, %d throttled)",
                tenant,
                sum(len(p) for pages in snap.servers.values() for p in pages),
                sum(len(v) for v in vaults.values()),
                sum(len(i) for i in instances.values()),
                reader.queries,
                reader.throttled,
            )
        except ResourceGraphUnavailable as err:
            log.warning("Resource Graph failed for tenant %s: %s", tenant, err.summary)
            self.fallback_reason = err.summary
            with snap.cond:
                snap.failed = err
            self._set_source(f"{ARM} ({err.summary})")
        except Exception as exc:
            log.exception("Resource Graph snapshot failed for tenant %s", tenant)
            failure = ResourceGraphUnavailable(
                Fault.AZURE, f"Resource Graph is not available: {exc!r}."
            )
            self.fallback_reason = failure.summary
            with snap.cond:
                snap.failed = failure
            self._set_source(f"{ARM} ({failure.summary})")
        finally:
            with snap.cond:
                snap.done = True
                snap.cond.notify_all()

    # -- servers and vaults -----------------------------------------------------------------
    def iter_servers(self, subscription_id: str) -> Iterator[list[FlexServer]]:
        first = self._first_time("servers", subscription_id)
        snap = self._snapshot(subscription_id) if first else None
        if snap is not None:
            try:
                yield from snap.server_pages(subscription_id.lower())
                return
            except ResourceGraphUnavailable:
                pass  # nothing was yielded for this subscription yet: list it through ARM
        yield from self._inner.iter_servers(subscription_id)

    def iter_vaults(self, subscription_id: str) -> Iterator[list[Vault]]:
        first = self._first_time("vaults", subscription_id)
        snap = self._snapshot(subscription_id) if first else None
        if snap is not None:
            try:
                snap.wait_protection()
            except ResourceGraphUnavailable:
                snap = None
        if snap is not None and snap.vaults is not None:
            found = snap.vaults.get(subscription_id.lower(), [])
            yield found
            return
        yield from self._inner.iter_vaults(subscription_id)

    def list_backup_instances(self, vault_id: ResourceId) -> list[BackupInstance]:
        first = self._first_time("instances", str(vault_id))
        snap = self._snapshot(vault_id.subscription_id) if first else None
        if snap is not None and snap.done and snap.failed is None and snap.instances is not None:
            return [r.instance for r in snap.instances.get(str(vault_id).lower(), [])]
        sub, rg, name = vault_id.subscription_id, vault_id.resource_group, vault_id.name
        factory = self._inner._factory
        with azure_call("list backup instances"):
            raw = list(factory.dataprotection(sub).backup_instances.list(rg, name))
        out: list[BackupInstance] = []
        with self._lock:
            for r in raw:
                bi = convert.backup_instance(r)
                if convert.has_id(bi):
                    self._kinds[str(bi.id).lower()] = kind_of_instance(r)
                    out.append(bi)
        return out

    # -- live detail (ARM) ------------------------------------------------------------------
    def get_vault(self, vault_id: ResourceId) -> Vault:
        return self._inner.get_vault(vault_id)

    def get_server(self, server_id: ResourceId) -> FlexServer:
        return self._inner.get_server(server_id)

    def list_policies(self, vault_id: ResourceId) -> list[PolicyInfo]:
        return self._inner.list_policies(vault_id)

    def get_backup_instance(self, instance_id: ResourceId) -> BackupInstance:
        return self._inner.get_backup_instance(instance_id)

    def list_recovery_points(
        self,
        backup_instance_id: ResourceId,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[RecoveryPoint]:
        return self._inner.list_recovery_points(backup_instance_id, start=start, end=end)

    def list_jobs(self, vault_id: ResourceId) -> list[BackupJob]:
        return self._inner.list_jobs(vault_id)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    def close(self, timeout: float = 5.0) -> None:
        """Wait briefly for loader threads and close the Resource Graph clients."""
        with self._lock:
            threads, readers = list(self._threads), list(self._readers)
        for t in threads:
            t.join(timeout)
        for r in readers:
            r.close()
