"""Run the sandbox in-process: TLS material, state, data plane, seeded world, ARM server."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme

from pgflex_gui.sandbox.arm.faults import Faults
from pgflex_gui.sandbox.arm.nulldp import NullDataPlane
from pgflex_gui.sandbox.arm.seed import seed as apply_seed
from pgflex_gui.sandbox.arm.server import ArmService
from pgflex_gui.sandbox.arm.state import State
from pgflex_gui.sandbox.arm.world import World
from pgflex_gui.sandbox.contract import DataPlane, SandboxInfo, SandboxTenant
from pgflex_gui.sandbox.workdir_lock import WorkdirBusy, WorkdirLock

__all__ = ["NullDataPlane", "Sandbox", "TlsFiles", "WorkdirBusy", "make_tls"]

log = logging.getLogger(__name__)


class TlsFiles:
    """Paths of the sandbox CA and the certificates it signed (ARM and Azurite)."""

    def __init__(self, workdir: Path) -> None:
        tls = workdir / "tls"
        self.dir = tls
        self.ca = tls / "ca.pem"
        self.ca_key = tls / "ca-key.pem"
        self.cert = tls / "arm.pem"
        self.key = tls / "arm-key.pem"
        self.azurite_cert = tls / "azurite.pem"
        self.azurite_key = tls / "azurite-key.pem"


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def make_tls(workdir: Path) -> TlsFiles:
    """Create (or reuse) a CA and certificates for 127.0.0.1/localhost in ``workdir/tls``."""
    files = TlsFiles(workdir)
    if files.ca.exists() and files.key.exists() and files.azurite_key.exists():
        return files
    files.dir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="pgflex-gui sandbox")
    ca.cert_pem.write_to_path(str(files.ca))
    _write_secret(files.ca_key, ca.private_key_pem.bytes())
    for cert_path, key_path in ((files.cert, files.key), (files.azurite_cert, files.azurite_key)):
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        cert_path.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        _write_secret(key_path, leaf.private_key_pem.bytes())
    return files


class Sandbox:
    """A running sandbox. Build with :meth:`start`; stop with :meth:`stop` or ``with``."""

    def __init__(
        self,
        workdir: Path,
        tls: TlsFiles,
        state: State,
        dataplane: Any,
        service: ArmService,
        world: World,
        *,
        owns_dataplane: bool,
        lock: WorkdirLock | None = None,
    ) -> None:
        self.workdir = workdir
        self.tls = tls
        self.state = state
        self.dataplane = dataplane
        self.service = service
        self.world = world
        self._owns_dataplane = owns_dataplane
        self._lock = lock

    @classmethod
    def start(
        cls,
        workdir: Path,
        *,
        seed: str = "default",
        dataplane: DataPlane | None = None,
        page_size: int = 50,
        latency_ms: int = 0,
        retry_after: int = 1,
        port: int = 0,
        lro_delay: float = 0.0,
        ephemeral: bool = False,
    ) -> Sandbox:
        """Start ARM (and, without ``dataplane``, a LocalDataPlane with Azurite) and seed.

        A workdir with a ``state.json`` is resumed (no reseeding). ``retry_after=0`` omits
        Retry-After on LROs so SDK ``polling_interval`` applies (fast tests). ``ephemeral``
        (tests) deletes the PostgreSQL clusters' data when the sandbox stops.
        """
        workdir = Path(workdir).expanduser().resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        lock = WorkdirLock(workdir)
        lock.acquire()  # WorkdirBusy while another live process serves this folder
        try:
            return cls._start_locked(
                workdir,
                lock,
                seed=seed,
                dataplane=dataplane,
                page_size=page_size,
                latency_ms=latency_ms,
                retry_after=retry_after,
                port=port,
                lro_delay=lro_delay,
                ephemeral=ephemeral,
            )
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _start_locked(
        cls,
        workdir: Path,
        lock: WorkdirLock,
        *,
        seed: str,
        dataplane: DataPlane | None,
        page_size: int,
        latency_ms: int,
        retry_after: int,
        port: int,
        lro_delay: float,
        ephemeral: bool,
    ) -> Sandbox:
        tls = make_tls(workdir)
        state_path = workdir / "state.json"
        fresh = not state_path.exists()
        state = State(state_path)
        owns = dataplane is None
        if dataplane is None:
            module = _load_dataplane_module()
            dataplane = module.LocalDataPlane(
                root=workdir / "data",
                tls_cert=tls.azurite_cert,
                tls_key=tls.azurite_key,
                ca_bundle=tls.ca,
                ephemeral=ephemeral,
            )
        world = World(state, dataplane)
        try:
            starter = getattr(dataplane, "start", None)
            if starter is not None:
                starter()
            _ = world.client_id
            if fresh:
                apply_seed(world, seed)
            else:
                _reattach(state, dataplane)
        except BaseException:
            closer = getattr(dataplane, "close", None)
            if owns and closer is not None:
                closer()
            raise
        faults = Faults()
        faults.global_latency_ms = latency_ms
        service = ArmService(
            state,
            dataplane,
            faults=faults,
            page_size=page_size,
            retry_after=retry_after,
            lro_delay=lro_delay,
        )
        service.serve(tls.cert, tls.key, port)
        box = cls(workdir, tls, state, dataplane, service, world, owns_dataplane=owns, lock=lock)
        _write_secret(workdir / "client_secret", world.client_secret.encode())
        connection = str(getattr(dataplane, "connection_string", "") or "")
        if connection:
            _write_secret(workdir / "azurite_connection_string", connection.encode())
        (workdir / "sandbox.json").write_text(json.dumps(box.info.to_json(), indent=2))
        return box

    # -- access --------------------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        """Fault rules, changeable at run time."""
        return self.service.faults

    @property
    def arm_endpoint(self) -> str:
        """``https://127.0.0.1:<port>``."""
        return self.service.base_url

    @property
    def info(self) -> SandboxInfo:
        """How to reach this sandbox (``ca_bundle`` is the path of the CA PEM file)."""
        data = self.state.data
        tenants = tuple(
            SandboxTenant(
                tid,
                t["displayName"],
                tuple(
                    sid for sid, s in sorted(data["subscriptions"].items()) if s["tenantId"] == tid
                ),
            )
            for tid, t in sorted(data["tenants"].items())
        )
        return SandboxInfo(
            arm_endpoint=self.arm_endpoint,
            authority=self.arm_endpoint,
            ca_bundle=str(self.tls.ca),
            client_id=self.world.client_id,
            client_secret=self.world.client_secret,
            tenants=tenants,
            blob_endpoint=str(getattr(self.dataplane, "blob_endpoint", "")),
            azurite_connection_string=str(getattr(self.dataplane, "connection_string", "")),
            workdir=str(self.workdir),
            token_command=f"{sys.executable} -m pgflex_gui.sandbox token --dir {self.workdir}",
        )

    def token(self, tenant_id: str | None = None) -> str:
        """A bearer token for the app principal in a tenant (default: the first)."""
        tid = tenant_id or sorted(self.state.data["tenants"])[0]
        return self.service.token_for(tid, self.world.client_id)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait for background LROs and jobs."""
        self.service.wait_idle(timeout)

    # -- lifecycle -------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop serving; stop the data plane if this sandbox created it; free the folder."""
        try:
            self.service.shutdown()
            if self._owns_dataplane:
                closer = getattr(self.dataplane, "close", None)
                if closer is not None:
                    closer()
        finally:
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _load_dataplane_module() -> Any:
    try:
        return importlib.import_module("pgflex_gui.sandbox.dataplane")
    except ImportError as exc:
        raise RuntimeError(
            "pgflex_gui.sandbox.dataplane (LocalDataPlane) is not available: " + str(exc)
        ) from exc


def _reattach(state: State, dataplane: Any) -> None:
    """After a restart: start real Ready servers and refresh ports and blob endpoints."""
    with state.batch():
        for res in state.resources.values():
            rtype = str(res.get("type", "")).lower()
            meta = res.get("_sandbox", {})
            if rtype == "microsoft.dbforpostgresql/flexibleservers" and meta.get("real"):
                try:
                    if res["properties"]["state"] == "Ready":
                        dataplane.start_server(meta["key"])
                    ep = dataplane.endpoint(meta["key"])
                except Exception:
                    log.exception("could not reattach server %s", res["id"])
                    continue
                if ep is not None:
                    res["tags"]["sandbox-port"] = str(ep.port)
            elif rtype == "microsoft.storage/storageaccounts":
                try:
                    ep = dataplane.create_storage_account(res["name"])
                except Exception:
                    log.exception("could not reattach account %s", res["id"])
                    continue
                res["properties"]["primaryEndpoints"]["blob"] = ep.blob_endpoint
                meta["key"] = ep.key
        state.save()
