"""Inventory listing: the tree's concurrent loading vs listing subscriptions one by one.

Run from the repository root::

    .venv/bin/python -m benchmarks.inventory [--latency-ms 150] [--page-size 50]
        [--arm-read N]

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

Nothing is patched. ``--arm-read N`` builds the ``TaskManager`` with N workers in the
``arm-read`` lane instead of the app's default, to measure a proposed change. Each run uses a
fresh factory (fresh clients and connections) and warm tokens. The last line is
machine-readable: ``inventory first_rows_s=… full_s=… sequential_s=… ratio=…``.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from azure.identity import ClientSecretCredential
from PySide6.QtCore import QEvent, QEventLoop, QModelIndex, QTimer
from PySide6.QtWidgets import QApplication

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.domain.cloud import CloudConfig, resolve_cloud
from pgflex_gui.domain.errors import AppError
from pgflex_gui.sandbox.arm.nulldp import NullDataPlane
from pgflex_gui.sandbox.contract import SandboxInfo
from pgflex_gui.sandbox.runtime import Sandbox
from pgflex_gui.ui.tasks import DEFAULT_LANES, TaskManager
from pgflex_gui.ui.tree.model import ResourceTreeModel
from pgflex_gui.ui.tree.nodes import Failed, Loaded, NodeKind

SERVERS = 2000
SUBSCRIPTIONS = 20
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
    app: QApplication, inventory: AzureInventory, *, arm_read: int | None
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
            if done and counts["servers"] >= SERVERS:
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


def measure_sequential(inventory: AzureInventory) -> dict[str, float]:
    """Tenants, subscriptions and every server page, one request after another."""
    start = time.perf_counter()
    servers = pages = 0
    first: float | None = None
    failed: list[str] = []
    for tenant in inventory.list_tenants():
        for sub in inventory.list_subscriptions(tenant.tenant_id):
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

    ratio = tree["full"] / seq["full"]
    ok_first = tree["first"] <= 1.0
    ok_ratio = ratio <= 0.2
    print(
        f"targets: first rows <= 1 s: {'met' if ok_first else 'MISSED'}; "
        f"full <= 0.2 x sequential: {'met' if ok_ratio else 'MISSED'}"
    )
    print(
        f"inventory first_rows_s={tree['first']:.3f} full_s={tree['full']:.3f} "
        f"sequential_s={seq['full']:.3f} ratio={ratio:.3f}"
    )
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # After a run with a spawned child, the interpreter's final garbage collection aborted in
    # PySide6 ("bool_dealloc"); the sandbox child is already stopped and joined, so skip it.
    os._exit(code)
