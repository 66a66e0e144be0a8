"""Inventory listing: the tree's concurrent loading vs listing subscriptions one by one.

Run from the repository root::

    .venv/bin/python -m benchmarks.inventory [--latency-ms 150] [--page-size 50]
        [--arm-read N] [--fleet-servers 20000] [--fleet-subscriptions 200]
        [--fleet-sample N] [--tick-ms 5] [--no-fleet]

Starts a throwaway sandbox ARM in a child process, as ARM is remote (NullDataPlane, seed
``inventory``: 2,000 metadata-only servers in 20 subscriptions, plus the three small
subscriptions of the base world) with ``--latency-ms`` added to every request, then
measures, with the real ``ClientFactory`` and ``AzureInventory`` over HTTPS:

* ``tree``: the real ``ResourceTreeModel`` (``auto_load_servers=True``, as in the main
  window) on a real ``TaskManager`` with the app's lanes, offscreen. ``first_rows_s`` is the
  time from ``load_root()`` to the first server row; ``full_s`` to the moment every
  subscription's servers group is loaded with all 2,000 servers; ``idle_s`` to the end of the
  protection scans (vault listings) the tree runs alongside.
* ``sequential``: the same adapter listing tenants, subscriptions and every page of every
  subscription's servers one after another (the same requests the tree needs for its rows).

``ratio`` is ``full_s / sequential_s``. Targets: first rows within 1 s, ratio <= 0.2.

Then the fleet (#16.8): a second throwaway sandbox in its own process and a new temporary
folder (``sandbox/arm/fleet.py``: 20,000 metadata-only servers in 200 subscriptions, 20
vaults protecting 100 of them; never the default sandbox), same latency, measured side by
side:

* ``fleet`` Resource Graph: the real main window (tree, filter proxy, coverage chart) over
  ``FleetInventory`` (source ``Resource Graph``): time to the first server row and to all
  20,000, and the GUI event loop's tick gaps (``StallMeter`` of ``benchmarks.ui_stall``)
  from ``start()`` until the protection scans are shown;
* ``fleet`` ARM per subscription: today's parallel tree listing, as ``tree`` above;
* ``fleet`` sequential: as ``sequential`` above; over 3 minutes' worth (2 pages a
  subscription at the latency) only a sample of subscriptions is listed and the time is
  scaled, printed as EXTRAPOLATED with its sample (``--fleet-sample N`` forces a sample).

``fleet_ratio`` is the Resource Graph all-rows time / the sequential all-rows time.
Targets: fleet first rows within 1 s, fleet_ratio <= 0.05, stall p99 <= 50 ms; a missed one
is printed with the stage that took the time.

Nothing is patched. ``--arm-read N`` builds the ``TaskManager`` with N workers in the
``arm-read`` lane instead of the app's default, to measure a proposed change. Each run uses a
fresh factory (fresh clients and connections) and warm tokens. The last line is
machine-readable: ``inventory first_rows_s=… full_s=… sequential_s=… ratio=…
fleet_first_rows_s=… fleet_full_s=… fleet_arm_full_s=… fleet_sequential_s=… fleet_ratio=…
fleet_stall_p99_ms=…`` (the fleet keys absent with ``--no-fleet``).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from azure.identity import ClientSecretCredential
from PySide6.QtCore import QEvent, QEventLoop, QModelIndex, QTimer
from PySide6.QtWidgets import QApplication

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.inventory_fleet import RESOURCE_GRAPH, FleetInventory
from pgflex_gui.azure.resource_graph import ResourceGraphReader
from pgflex_gui.domain.cloud import CloudConfig, resolve_cloud
from pgflex_gui.domain.errors import AppError
from pgflex_gui.sandbox.arm.fleet import prepare_fleet_workdir
from pgflex_gui.sandbox.arm.nulldp import NullDataPlane
from pgflex_gui.sandbox.contract import SandboxInfo
from pgflex_gui.sandbox.runtime import Sandbox
from pgflex_gui.ui.tasks import DEFAULT_LANES, TaskManager
from pgflex_gui.ui.tree.model import ResourceTreeModel
from pgflex_gui.ui.tree.nodes import Failed, Loaded, NodeKind

SERVERS = 2000
SUBSCRIPTIONS = 20
FLEET_SERVERS = 20_000
FLEET_SUBSCRIPTIONS = 200
TIMEOUT_S = 300.0


class Credentials:
    """One real ClientSecretCredential per tenant, as a signed-in session would hold."""

    def __init__(self, info: SandboxInfo) -> None:
        self._info = info
        self._by_tenant: dict[str, ClientSecretCredential] = {}
        self.default = self.for_tenant(info.tenants[0].tenant_id)

    def for_tenant(self, tenant_id: str) -> ClientSecretCredential:
        key = tenant_id.lower()
        if key not in self._by_tenant:
            self._by_tenant[key] = ClientSecretCredential(
                tenant_id,
                self._info.client_id,
                self._info.client_secret,
                authority=self._info.authority,
                disable_instance_discovery=True,
                connection_verify=self._info.ca_bundle,
            )
        return self._by_tenant[key]

    def warm(self, scope: str) -> None:
        """Fetch every tenant's token now, so neither measurement pays for sign-in."""
        for tenant in self._info.tenants:
            self.for_tenant(tenant.tenant_id).get_token(scope)


def cloud_for(info: SandboxInfo) -> CloudConfig:
    """Azure's cloud with the sandbox's endpoints (the ``--arm-endpoint`` override)."""
    return resolve_cloud(
        "AzureCloud",
        arm_endpoint=info.arm_endpoint,
        authority_host=info.authority,
        ca_bundle=info.ca_bundle,
        env={},
    )


def make_inventory(info: SandboxInfo, creds: Credentials) -> tuple[AzureInventory, ClientFactory]:
    """A fresh factory and inventory, built the way the app builds them for a custom cloud."""
    factory = ClientFactory(cloud_for(info), creds.default)
    return AzureInventory(factory, credential_for_tenant=creds.for_tenant), factory


def measure_tree(
    app: QApplication,
    inventory: AzureInventory,
    *,
    arm_read: int | None,
    expected: int = SERVERS,
) -> dict[str, float]:
    """Load the real tree model until every server row is in, then until the tasks are idle."""
    lanes = dict(DEFAULT_LANES)
    if arm_read is not None:
        lanes["arm-read"] = arm_read
    tasks = TaskManager(lanes=lanes)
    model = ResourceTreeModel(inventory, tasks, auto_load_servers=True)
    loop = QEventLoop()
    marks: dict[str, float] = {}
    counts = {"servers": 0}

    def groups() -> list[Any]:
        return [n for n in model.root.walk() if n.kind is NodeKind.SERVERS_GROUP]

    def check() -> None:
        now = time.perf_counter()
        if "full" not in marks:
            gs = groups()
            done = bool(gs) and all(isinstance(g.load_state, Loaded | Failed) for g in gs)
            if done and counts["servers"] >= expected:
                marks["full"] = now
        if "full" in marks and tasks.pending == 0:
            marks["idle"] = now
            loop.quit()

    def on_rows(parent: QModelIndex, first: int, last: int) -> None:
        if model.node(parent).kind is NodeKind.SERVERS_GROUP:
            counts["servers"] += last - first + 1
            marks.setdefault("first", time.perf_counter())
        check()

    model.rowsInserted.connect(on_rows)
    model.node_loaded.connect(lambda _node: check())
    tasks.idle.connect(check)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    guard.start(int(TIMEOUT_S * 1000))

    start = time.perf_counter()
    model.load_root()
    loop.exec()
    guard.stop()
    failed = [
        f"{n.parent.label if n.parent else ''}/{n.label}: {n.load_state.error.summary}"
        for n in model.root.walk()
        if isinstance(n.load_state, Failed)
    ]
    tasks.shutdown(wait=True)
    app.processEvents()
    # Tear the Qt objects down now, while the application exists; left to the interpreter's
    # final garbage collection they crashed it (bool_dealloc) after the run.
    model.rowsInserted.disconnect(on_rows)
    model.deleteLater()
    tasks.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    if "full" not in marks:
        raise SystemExit(
            f"tree did not finish in {TIMEOUT_S:.0f} s: {counts['servers']} servers, "
            f"failed nodes {failed}"
        )
    if failed:
        print(f"warning: failed nodes in the tree: {failed}", file=sys.stderr)
    return {
        "first": marks["first"] - start,
        "full": marks["full"] - start,
        "idle": marks.get("idle", marks["full"]) - start,
        "servers": float(counts["servers"]),
    }


def measure_sequential(inventory: AzureInventory, *, sample: int = 0) -> dict[str, float]:
    """Tenants, subscriptions and every server page, one request after another.

    ``sample`` > 0 lists the servers of only the first ``sample`` subscriptions (of all
    tenants); ``subscriptions`` and ``listed`` in the result say how many there were and
    how many were listed, so the caller can scale.
    """
    start = time.perf_counter()
    servers = pages = 0
    first: float | None = None
    failed: list[str] = []
    subs_total = listed = 0
    for tenant in inventory.list_tenants():
        subs = inventory.list_subscriptions(tenant.tenant_id)
        subs_total += len(subs)
        for sub in subs:
            if sample and listed >= sample:
                continue
            listed += 1
            try:  # a failed subscription becomes an error node in the tree; go on here too
                for page in inventory.iter_servers(sub.subscription_id):
                    pages += 1
                    servers += len(page)
                    if page and first is None:
                        first = time.perf_counter() - start
            except AppError as err:
                failed.append(f"{sub.display_name}: {err.summary}")
    for line in failed:
        print(f"warning: sequential listing failed for {line}", file=sys.stderr)
    return {
        "full": time.perf_counter() - start,
        "first": first or 0.0,
        "servers": float(servers),
        "pages": float(pages),
        "subscriptions": float(subs_total),
        "listed": float(listed),
    }


class TimedReader(ResourceGraphReader):
    """The app's Resource Graph reader, noting when each page arrived and how long it waited."""

    def __init__(self, factory: ClientFactory, credential: Any) -> None:
        super().__init__(factory, credential, sleep=self._wait)
        self.pages_at: list[tuple[str, float, int]] = []  # (query kind, perf_counter, rows)
        self.waited_s = 0.0
        self.started_at: dict[str, float] = {}  # query kind -> when its first page was asked

    def _wait(self, seconds: float) -> None:
        self.waited_s += seconds
        time.sleep(seconds)

    def pages(
        self, query: str, subscriptions: Sequence[str] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        found = re.search(r"pgflex\.(\w+)\.v1", query)
        kind = found.group(1) if found else "?"
        self.started_at.setdefault(kind, time.perf_counter())
        for rows in super().pages(query, subscriptions):
            self.pages_at.append((kind, time.perf_counter(), len(rows)))
            yield rows


def measure_fleet_window(
    app: QApplication,
    fleet: FleetInventory,
    *,
    expected: int,
    tick_ms: int,
    settings_path: Path,
) -> dict[str, Any]:
    """The main window (tree, filters, coverage chart) filling from the fleet inventory.

    Marks as :func:`measure_tree`; the GUI thread's tick gaps are measured from
    ``window.start()`` until the protection scans are done (``StallMeter`` of
    ``benchmarks.ui_stall``, which also samples where the GUI thread was on a late tick).
    """
    from PySide6.QtCore import QSettings

    from benchmarks.ui_stall import StallMeter
    from pgflex_gui.ui.main_window import MainWindow

    tasks = TaskManager()
    settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
    window = MainWindow(inventory=fleet, tasks=tasks, settings=settings)
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    model = window.model
    loop = QEventLoop()
    marks: dict[str, float] = {}
    counts = {"servers": 0}

    def check() -> None:
        now = time.perf_counter()
        if "full" not in marks:
            gs = [n for n in model.root.walk() if n.kind is NodeKind.SERVERS_GROUP]
            done = bool(gs) and all(isinstance(g.load_state, Loaded | Failed) for g in gs)
            if done and counts["servers"] >= expected:
                marks["full"] = now
        if "full" in marks and tasks.pending == 0:
            marks["idle"] = now
            loop.quit()

    def on_rows(parent: QModelIndex, first: int, last: int) -> None:
        if model.node(parent).kind is NodeKind.SERVERS_GROUP:
            counts["servers"] += last - first + 1
            marks.setdefault("first", time.perf_counter())
            if counts["servers"] >= expected:
                check()

    model.rowsInserted.connect(on_rows)
    model.node_loaded.connect(lambda node: check() if node.kind is NodeKind.SERVERS_GROUP else None)
    tasks.idle.connect(check)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    guard.start(int(TIMEOUT_S * 1000))
    meter = StallMeter(tick_ms)
    with meter.measuring():
        start = time.perf_counter()
        window.start()
        loop.exec()
    guard.stop()
    stall = meter.figures()
    where = meter.where.most_common(5)
    failed = [
        f"{n.label}: {n.load_state.error.summary}"
        for n in model.root.walk()
        if isinstance(n.load_state, Failed)
    ]
    model.rowsInserted.disconnect(on_rows)
    window.close()
    tasks.shutdown(wait=True)
    app.processEvents()
    window.deleteLater()
    tasks.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    if "full" not in marks:
        raise SystemExit(
            f"the fleet tree did not finish in {TIMEOUT_S:.0f} s: {counts['servers']} servers, "
            f"failed nodes {failed[:5]}"
        )
    if failed:
        print(f"warning: failed nodes in the fleet tree: {failed[:5]}", file=sys.stderr)
    return {
        "start": start,
        "first": marks["first"] - start,
        "full": marks["full"] - start,
        "idle": marks.get("idle", marks["full"]) - start,
        "servers": float(counts["servers"]),
        "stall": stall,
        "where": where,
    }


def _serve_fleet(
    conn: Any, workdir: str, page_size: int, latency_ms: int, servers: int, subscriptions: int
) -> None:
    """Child process: seed the fleet into a new folder, then serve it until told to stop."""
    t = time.perf_counter()
    made = prepare_fleet_workdir(Path(workdir), servers=servers, subscriptions=subscriptions)
    seeded = time.perf_counter() - t
    box = Sandbox.start(
        Path(workdir),
        dataplane=NullDataPlane(),
        page_size=page_size,
        latency_ms=latency_ms,
        retry_after=0,
    )
    try:
        conn.send((box.info, made, seeded))
        conn.recv()
    except EOFError:
        pass
    finally:
        box.stop()


def run_fleet(app: QApplication, args: argparse.Namespace, ctx: Any, tmp: str) -> dict[str, float]:
    """The fleet scenario: Resource Graph vs parallel ARM vs sequential, and the GUI stall."""
    workdir = Path(tmp) / "fleet-sandbox"
    t = time.perf_counter()
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=_serve_fleet,
        args=(
            child,
            str(workdir),
            args.page_size,
            args.latency_ms,
            args.fleet_servers,
            args.fleet_subscriptions,
        ),
        daemon=True,
    )
    proc.start()
    try:
        if not parent.poll(300):
            raise SystemExit("the fleet sandbox did not start within 300 s")
        info, made, seeded = parent.recv()
        print(
            f"fleet sandbox (own process, {workdir.name} in a temporary folder): "
            f"{made['subscriptions']} subscriptions, {made['servers']} servers, "
            f"{made['vaults']} vaults with {made['instances']} protected servers, "
            f"page size {args.page_size}, +{args.latency_ms} ms per request "
            f"(seeded in {seeded:.1f} s, serving after {time.perf_counter() - t:.1f} s)"
        )
        expected = int(made["servers"])
        creds = Credentials(info)
        creds.warm(cloud_for(info).credential_scope)

        # (a) Resource Graph, in the main window, with the stall meter running.
        inner, factory = make_inventory(info, creds)
        readers: list[TimedReader] = []

        def reader_for(tenant_id: str) -> TimedReader:
            reader = TimedReader(factory, creds.for_tenant(tenant_id))
            readers.append(reader)
            return reader

        fleet = FleetInventory(inner, reader_for_tenant=reader_for)
        try:
            rg = measure_fleet_window(
                app,
                fleet,
                expected=expected,
                tick_ms=args.tick_ms,
                settings_path=Path(tmp) / "qt.ini",
            )
        finally:
            fleet.close()
            factory.close()
        if fleet.source != RESOURCE_GRAPH:
            raise SystemExit(f"the fleet inventory did not use Resource Graph: {fleet.source}")
        server_pages = [p for r in readers for p in r.pages_at if p[0] == "servers"]
        rg_first_page = server_pages[0][1] - rg["start"] if server_pages else 0.0
        rg_last_page = server_pages[-1][1] - rg["start"] if server_pages else 0.0
        asked = [r.started_at["servers"] for r in readers if "servers" in r.started_at]
        rg_asked = (asked[0] - rg["start"]) if asked else 0.0
        per_page = (rg_last_page - rg_asked) / max(1, len(server_pages))
        queries = sum(r.queries for r in readers)
        throttled = sum(r.throttled for r in readers)
        waited = sum(r.waited_s for r in readers)
        stall = rg["stall"]
        print(
            f"fleet, Resource Graph (main window): first server rows {rg['first']:.2f} s, "
            f"all {rg['servers']:.0f} servers {rg['full']:.2f} s, protection shown "
            f"{rg['idle']:.2f} s; {len(server_pages)} server pages (first in "
            f"{rg_first_page:.2f} s, last in {rg_last_page:.2f} s), {queries} queries in all, "
            f"{throttled} throttled (429), {waited:.1f} s waited for the quota"
        )
        print(
            f"  GUI stall while it filled ({args.tick_ms} ms ticks, until protection shown): "
            f"ticks {stall['ticks']:.0f}, p50 {stall['p50']:.2f} ms, p99 {stall['p99']:.2f} ms, "
            f"max {stall['max']:.1f} ms, {stall['over_50']:.0f} ticks > 50 ms"
        )
        for place, n in rg["where"]:
            print(f"    {n:4d} late-tick samples in {place}")

        # (b) today's parallel per-subscription ARM listing, in the tree model.
        inner, factory = make_inventory(info, creds)
        try:
            arm = measure_tree(app, inner, arm_read=args.arm_read, expected=expected)
        finally:
            factory.close()
        lanes = args.arm_read or DEFAULT_LANES["arm-read"]
        print(
            f"fleet, ARM per subscription (tree, arm-read={lanes}): "
            f"first server rows {arm['first']:.2f} s, all {arm['servers']:.0f} servers "
            f"{arm['full']:.2f} s, protection scans done {arm['idle']:.2f} s"
        )

        # (c) sequential listing, or a sample of it scaled to every subscription.
        sample = args.fleet_sample
        if sample == 0 and made["subscriptions"] * 2 * args.latency_ms / 1000 > 180:
            sample = max(1, made["subscriptions"] // 10)
        inner, factory = make_inventory(info, creds)
        try:
            seq = measure_sequential(inner, sample=sample)
        finally:
            factory.close()
        seq_full = seq["full"]
        if seq["listed"] < seq["subscriptions"]:
            seq_full = seq["full"] * seq["subscriptions"] / max(1.0, seq["listed"])
            print(
                f"fleet, sequential: EXTRAPOLATED from a sample of {seq['listed']:.0f} of "
                f"{seq['subscriptions']:.0f} subscriptions ({seq['servers']:.0f} servers, "
                f"{seq['pages']:.0f} pages in {seq['full']:.2f} s) to {seq_full:.1f} s"
            )
        else:
            print(
                f"fleet, sequential: {seq['servers']:.0f} servers in {seq['pages']:.0f} pages "
                f"of {seq['subscriptions']:.0f} subscriptions, first rows {seq['first']:.2f} s, "
                f"all {seq['full']:.2f} s"
            )
    finally:
        parent.send("stop")
        proc.join(60)

    ratio = rg["full"] / seq_full
    ok_first = rg["first"] <= 1.0
    ok_ratio = ratio <= 0.05
    ok_stall = stall["p99"] <= 50
    print(
        f"fleet targets: first rows <= 1 s: {'met' if ok_first else 'MISSED'}; "
        f"Resource Graph all rows <= 0.05 x sequential: {'met' if ok_ratio else 'MISSED'} "
        f"({ratio:.3f}; ARM per subscription {arm['full'] / seq_full:.3f}); "
        f"stall p99 <= 50 ms: {'met' if ok_stall else 'MISSED'}"
    )
    if not ok_first:
        print(
            f"why (first rows): tenants and {made['subscriptions']} subscriptions are listed "
            f"through ARM first ({-(-made['subscriptions'] // args.page_size)} pages of "
            f"{args.page_size}): the servers query was sent {rg_asked:.2f} s after start; its "
            f"first page came {rg_first_page - rg_asked:.2f} s later and was in the tree "
            f"{rg['first'] - rg_first_page:.2f} s after that"
        )
    if not ok_ratio:
        print(
            f"why (ratio): {len(server_pages)} pages of 1,000 rows, one after another "
            f"({per_page:.2f} s a page: {args.latency_ms} ms latency, the sandbox building "
            "the page and the SDK deserializing every value of its rows on this 2-core "
            f"machine); {queries} queries against a quota of 15 per 5 s, {throttled} "
            f"throttled, {waited:.1f} s waited for the quota; the last server page came "
            f"{rg_last_page:.2f} s after start, the tree had every row "
            f"{rg['full'] - rg_last_page:.2f} s later"
        )
    if not ok_stall:
        top = rg["where"][0][0] if rg["where"] else "no sample"
        expected_ticks = rg["idle"] * 1000 / args.tick_ms
        print(
            f"why (stall): the GUI thread ran {stall['ticks']:.0f} of about "
            f"{expected_ticks:.0f} ticks; most late ticks were in {top} (see the samples "
            "above: inserting 20,000 rows through the filter proxy into the view, the "
            "coverage chart)"
        )
    return {
        "first": rg["first"],
        "full": rg["full"],
        "ratio": ratio,
        "stall_p99": stall["p99"],
        "arm_full": arm["full"],
        "sequential": seq_full,
    }


def _serve_sandbox(conn: Any, workdir: str, page_size: int, latency_ms: int) -> None:
    """Child process: run the sandbox until the parent says stop (or goes away)."""
    box = Sandbox.start(
        Path(workdir),
        seed="inventory",
        dataplane=NullDataPlane(),
        page_size=page_size,
        latency_ms=latency_ms,
        retry_after=0,
    )
    try:
        conn.send(box.info)
        conn.recv()
    except EOFError:
        pass
    finally:
        box.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a summary and the machine-readable last line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latency-ms", type=int, default=150, help="added to every ARM request")
    p.add_argument("--page-size", type=int, default=50, help="sandbox page size (nextLink)")
    p.add_argument(
        "--arm-read", type=int, default=None, help="arm-read workers (default: the app's)"
    )
    p.add_argument("--fleet-servers", type=int, default=FLEET_SERVERS)
    p.add_argument("--fleet-subscriptions", type=int, default=FLEET_SUBSCRIPTIONS)
    p.add_argument(
        "--fleet-sample",
        type=int,
        default=0,
        help="list only N fleet subscriptions sequentially and scale (default: all, unless "
        "that would take over 3 minutes)",
    )
    p.add_argument("--tick-ms", type=int, default=5, help="GUI stall meter tick (fleet)")
    p.add_argument("--no-fleet", action="store_true", help="skip the fleet scenario")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="pgflex-bench-inventory-") as tmp:
        t = time.perf_counter()
        # The stand-in runs in its own process, as ARM would: its CPU and GIL are not the app's.
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_serve_sandbox, args=(child, tmp, args.page_size, args.latency_ms), daemon=True
        )
        proc.start()
        try:
            if not parent.poll(120):
                raise SystemExit("the sandbox did not start within 120 s")
            info: SandboxInfo = parent.recv()
            app = QApplication.instance() or QApplication([])
            assert isinstance(app, QApplication)
            n_subs = sum(len(ten.subscriptions) for ten in info.tenants)
            print(
                f"sandbox (own process): {n_subs} subscriptions, {SERVERS} servers in "
                f"{SUBSCRIPTIONS} of them, page size {args.page_size}, "
                f"+{args.latency_ms} ms per request (started in {time.perf_counter() - t:.1f} s)"
            )
            creds = Credentials(info)
            creds.warm(cloud_for(info).credential_scope)

            inventory, factory = make_inventory(info, creds)
            lanes = args.arm_read or DEFAULT_LANES["arm-read"]
            try:
                tree = measure_tree(app, inventory, arm_read=args.arm_read)
            finally:
                factory.close()
            print(
                f"tree (arm-read={lanes}): first server rows {tree['first']:.2f} s, "
                f"all {tree['servers']:.0f} servers {tree['full']:.2f} s, "
                f"protection scans done {tree['idle']:.2f} s"
            )

            inventory, factory = make_inventory(info, creds)
            try:
                seq = measure_sequential(inventory)
            finally:
                factory.close()
            print(
                f"sequential: {seq['servers']:.0f} servers in {seq['pages']:.0f} pages, "
                f"first rows {seq['first']:.2f} s, all {seq['full']:.2f} s"
            )
        finally:
            parent.send("stop")
            proc.join(30)
        fleet = None if args.no_fleet else run_fleet(app, args, ctx, tmp)

    ratio = tree["full"] / seq["full"]
    ok_first = tree["first"] <= 1.0
    ok_ratio = ratio <= 0.2
    print(
        f"targets: first rows <= 1 s: {'met' if ok_first else 'MISSED'}; "
        f"full <= 0.2 x sequential: {'met' if ok_ratio else 'MISSED'}"
    )
    last = (
        f"inventory first_rows_s={tree['first']:.3f} full_s={tree['full']:.3f} "
        f"sequential_s={seq['full']:.3f} ratio={ratio:.3f}"
    )
    if fleet is not None:
        last += (
            f" fleet_first_rows_s={fleet['first']:.3f} fleet_full_s={fleet['full']:.3f} "
            f"fleet_arm_full_s={fleet['arm_full']:.3f} "
            f"fleet_sequential_s={fleet['sequential']:.3f} fleet_ratio={fleet['ratio']:.3f} "
            f"fleet_stall_p99_ms={fleet['stall_p99']:.2f}"
        )
    print(last)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # After a run with a spawned child, the interpreter's final garbage collection aborted in
    # PySide6 ("bool_dealloc"); the sandbox child is already stopped and joined, so skip it.
    os._exit(code)
