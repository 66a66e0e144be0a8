"""No secret leaves the keyring: a full protect → restore run, then scan everything it wrote.

Against the full sandbox (ARM stand-in, Azurite, real PostgreSQL), with ``PGFLEX_HOME`` in a
temporary folder, the app's file log (``logs.setup_logging``), an ``AuditLog``, saved settings
and the real OS keyring (run inside ``dbus-run-session`` with gnome-keyring, see
docs/recipes.md). Known secrets: the sandbox app's client secret, the target server's admin
password (the server is created through ARM with it), a container SAS and the storage
account key. The flow protects a server (``ProtectJob``), then drives the ``RestoreEngine``:
restore-as-files, SAS download with ``BlobDownloader``, ``pg_restore``,
verification and the report. Every child process's argv and environment is recorded as it
starts (a pass-through wrapper of ``Popen.__init__``: recording, not mocking).

Then: no secret (raw or URL-encoded) in any file under ``PGFLEX_HOME`` (logs, settings, audit
log, journal, report), nor in any argv the app gave a child, nor in any child's environment
except a pg tool's ``PGPASSWORD`` (its only channel: no pass file, which would outlive a
kill -9); no ``PGPASSFILE`` is ever written.
"""

from __future__ import annotations

import logging
import os
import secrets as pysecrets
import subprocess
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus

import pytest
from azure.identity import ClientSecretCredential
from azure.mgmt.dataprotection import DataProtectionMgmtClient
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from pgflex_gui import logs, paths
from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.azure.inventory import AzureInventory
from pgflex_gui.azure.protection import ProtectionService
from pgflex_gui.azure.servers import ServerSpec, TargetServerService
from pgflex_gui.domain.cloud import resolve_cloud
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.models import ProtectionState
from pgflex_gui.domain.preflight import GrantScope
from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JournalStore
from pgflex_gui.jobs.protect import ProtectionPlan, ProtectJob, RetryPolicy, ServerTarget
from pgflex_gui.jobs.protect import ServicePort as ProtectServicePort
from pgflex_gui.jobs.report import write_report
from pgflex_gui.jobs.restore_plan_file import (
    ContainerSpec,
    RestorePlanFile,
    SourceSpec,
    TargetSpec,
    save_plan,
)
from pgflex_gui.jobs.restore_wiring import build_engine_for
from pgflex_gui.keystore import Keystore, sas_key, server_admin_key, sp_key
from pgflex_gui.sandbox.arm.seed import IDS
from pgflex_gui.settings import Settings, load_settings, save_settings

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(300)]

BI_NAME = f"{IDS.SOURCE}-bi"
BI_ID = f"{IDS.vault_id(IDS.VAULT_GRS)}/backupInstances/{BI_NAME}"
TARGET = "pg-leak-target"
PG_TOOLS = frozenset({"pg_restore", "pg_dump", "psql", "pg_dumpall"})
SRC = Path(__file__).resolve().parents[2] / "src" / "pgflex_gui"
SANDBOX_SRC = SRC / "sandbox"


@dataclass(frozen=True)
class Child:
    """One child process as it was started."""

    argv: tuple[str, ...]
    env: dict[str, str]
    origin: str  # "app" (started by pgflex_gui outside sandbox/) or "other"
    caller: str


def _origin(stack: list[traceback.FrameSummary]) -> tuple[str, str]:
    app = [f for f in stack if f.filename.startswith(str(SRC))]
    if app and not any(f.filename.startswith(str(SANDBOX_SRC)) for f in stack):
        return "app", f"{app[-1].filename}:{app[-1].lineno}"
    last = stack[-1] if stack else None
    return "other", f"{last.filename}:{last.lineno}" if last else "?"


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> list[Child]:
    """Record argv and environment of every ``subprocess.Popen`` (then really start it)."""
    seen: list[Child] = []
    lock = threading.Lock()
    original = subprocess.Popen.__init__

    def recording_init(self: Any, args: Any, *a: Any, **kw: Any) -> None:
        argv = (args,) if isinstance(args, str | bytes | os.PathLike) else tuple(args)
        env = dict(kw["env"]) if kw.get("env") is not None else dict(os.environ)
        origin, caller = _origin(traceback.extract_stack()[:-1])
        with lock:
            seen.append(Child(tuple(map(str, argv)), env, origin, caller))
        original(self, args, *a, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", recording_init)
    return seen


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``PGFLEX_HOME`` in a temporary folder, with the app's file log set up there."""
    root = tmp_path / "pgflex-home"
    monkeypatch.setenv(paths.HOME_ENV, str(root))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    setup = logs.setup_logging(level=logging.DEBUG, azure_level=logging.INFO)
    try:
        yield root
    finally:
        setup.close()


def _forms(secret: str) -> set[str]:
    """The secret as written, URL-encoded, and (for a SAS) its signature alone."""
    out = {secret, quote(secret, safe=""), quote_plus(secret)}
    if "sig=" in secret:
        for sig in parse_qs(secret).get("sig", []):
            out |= {sig, quote(sig, safe=""), quote_plus(sig)}
    return {s for s in out if len(s) >= 8}


def _scan_files(root: Path, known: dict[str, str]) -> list[str]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for name, secret in known.items():
            for form in _forms(secret):
                if form.encode() in data:
                    found.append(f"{name} in {path.relative_to(root)}")
    return found


def _scan_children(kids: list[Child], known: dict[str, str]) -> list[str]:
    found = []
    for kid in kids:
        text = "\0".join(kid.argv)
        # A pg tool's PGPASSWORD is the one intended channel (asserted on its own below).
        allowed = {"PGPASSWORD"} if Path(kid.argv[0]).name in PG_TOOLS else set()
        env_text = "\0".join(f"{k}={v}" for k, v in kid.env.items() if k not in allowed)
        for name, secret in known.items():
            for form in _forms(secret):
                if form in text:
                    found.append(f"{name} in argv of {kid.argv[0]} ({kid.caller})")
                if form in env_text:
                    found.append(f"{name} in environment of {kid.argv[0]} ({kid.caller})")
    return found


def _container(sandbox: Any) -> tuple[str, str]:
    acct = sandbox.state.get(
        f"/subscriptions/{IDS.SUB}/resourceGroups/{IDS.RG_STORAGE}/providers/"
        f"Microsoft.Storage/storageAccounts/{IDS.STORAGE}"
    )
    url = acct["properties"]["primaryEndpoints"]["blob"].rstrip("/") + f"/{IDS.CONTAINER}"
    return url, f"{acct['id']}/blobServices/default/containers/{IDS.CONTAINER}"


def _recovery_point(make_client: Any) -> str:
    dp = make_client(DataProtectionMgmtClient)
    points = list(dp.recovery_points.list(IDS.RG_BACKUP, IDS.VAULT_GRS, BI_NAME))
    points.sort(key=lambda p: p.properties.recovery_point_time, reverse=True)
    return str(points[0].name)


def _protect(factory: ClientFactory, audit: logs.AuditLog) -> None:
    inventory = AzureInventory(factory)
    service = ProtectionService(factory, audit.record)
    vault_id = ResourceId.parse(IDS.vault_id(IDS.VAULT_LRS))
    server = inventory.get_server(ResourceId.parse(IDS.server_id("pg-unprotected-weu")))
    plan = ProtectionPlan(
        vault_id=vault_id,
        policy_id=vault_id.child("backupPolicies", IDS.POLICY),
        targets=(ServerTarget.new(server),),
        vault=inventory.get_vault(vault_id),
        grant=GrantScope.RESOURCE,
        reference_date=date(2025, 6, 2),
    )
    journal = JournalStore(paths.journal_dir()).open_or_create(
        job_id="leak-protect", kind="protect", title="protect"
    )
    retry = RetryPolicy(initial_s=0.2, max_s=0.5, total_s=30, follow_interval_s=0.2)
    ctx = JobContext(token=CancelToken(), journal=journal)
    result = ProtectJob(plan, ProtectServicePort(service, inventory), retry=retry).run(ctx)
    assert result.instances[0].protection_state is ProtectionState.PROTECTION_CONFIGURED


def test_no_secret_in_files_argv_or_environment(
    sandbox: Any, make_client: Any, home: Path, children: list[Child], tmp_path: Path
) -> None:
    info = sandbox.info
    keystore = Keystore()
    if keystore.session_only:
        pytest.fail(f"a real OS keyring is needed (dbus-run-session): {keystore.reason}")
    url, arm_id = _container(sandbox)
    account_key = sandbox.dataplane.storage_endpoint(IDS.STORAGE).key
    sas = generate_container_sas(
        IDS.STORAGE,
        IDS.CONTAINER,
        account_key=account_key,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    password = f"Leak-{pysecrets.token_urlsafe(12)}-7a!"
    target_id = IDS.server_id(TARGET)
    known = {
        "client secret": info.client_secret,
        "admin password": password,
        "SAS": sas,
        "account key": account_key,
    }

    # -- what the app stores: settings (no secrets) and the keyring (the secrets) ----------
    save_settings(
        Settings(
            cloud="Custom",
            arm_endpoint=info.arm_endpoint,
            authority_host=info.authority,
            ca_bundle=info.ca_bundle,
            sign_in_method="service_principal_secret",
            tenant_id=IDS.TENANT,
            client_id=info.client_id,
            subscription_filter=(IDS.SUB,),
            download_dir=str(tmp_path / "download"),
        )
    )
    settings = load_settings()
    keystore.set(sp_key(IDS.TENANT, info.client_id), info.client_secret)
    keystore.set(server_admin_key(target_id), password)
    keystore.set(sas_key(url), sas)

    cloud = resolve_cloud(
        "AzureCloud",
        env={"PGFLEX_ARM_ENDPOINT": info.arm_endpoint, "PGFLEX_CA_BUNDLE": info.ca_bundle},
    )
    credential = ClientSecretCredential(
        IDS.TENANT,
        info.client_id,
        keystore.get(sp_key(IDS.TENANT, info.client_id)) or "",
        authority=info.authority,
        disable_instance_discovery=True,
        connection_verify=info.ca_bundle,
    )
    factory = ClientFactory(cloud, credential)
    audit = logs.AuditLog()
    try:
        # -- protect a server ----------------------------------------------------------------
        _protect(factory, audit)

        # -- the restore target, created through ARM with the known password -------------------
        servers = TargetServerService(factory)
        spec = ServerSpec(location="westeurope", version="15", admin_login="pgadmin")
        servers.begin_create(target_id, spec, keystore.get(server_admin_key(target_id))).result(
            timeout=120
        )
        servers.begin_firewall_rule(target_id, "pgflex-restore-client", "127.0.0.1").result(
            timeout=60
        )

        # -- restore as files → SAS download → pg_restore (PGPASSFILE) → verify → report -------
        counts = sandbox.dataplane.seeded_counts(
            sandbox.world.server_key(IDS.server_id(IDS.SOURCE))
        )
        plan = RestorePlanFile(
            container=ContainerSpec(
                url=url, arm_id=arm_id, prefix="leak", file_prefix="leak", sas_entry=sas_key(url)
            ),
            target=TargetSpec(
                mode="existing",
                server_id=target_id,
                location="westeurope",
                version="15",
                admin_login="pgadmin",
            ),
            source=SourceSpec(BI_ID, _recovery_point(make_client), "westeurope"),
            databases=("sales",),
            download_dir=str(settings.effective_download_dir()),
            source_counts={"sales": counts["sales"]},
        )
        save_plan(plan, paths.data_dir() / "leak-plan.json")
        engine = build_engine_for(
            plan,
            factory=factory,
            credential=credential,
            secrets=keystore,
            audit=audit,
            connection_verify=info.ca_bundle,
            poll_s=0.2,
        )
        journal = JournalStore(paths.journal_dir()).open_or_create(
            job_id="leak-restore", kind="restore", title="restore"
        )
        result = engine.run(JobContext(token=CancelToken(), journal=journal))
        write_report(engine.result, paths.journal_dir() / "leak-restore-report", title="leak")
        assert result.ok, [(d.name, d.status, d.message) for d in result.databases]
    finally:
        factory.close()
        keystore.delete(sp_key(IDS.TENANT, info.client_id))
        keystore.delete(server_admin_key(target_id))
        keystore.delete(sas_key(url))
        for handler in logging.getLogger().handlers:
            handler.flush()

    # -- the run wrote what we expect to scan ----------------------------------------------------
    written = {p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file()}
    assert "config/settings.json" in written
    assert "logs/pgflex-gui.log" in written
    assert "data/audit.jsonl" in written
    assert "data/journal/leak-restore.json" in written
    assert any(p.endswith("report.json") for p in written)
    assert audit.entries()

    app_kids = [k for k in children if k.origin == "app"]
    # pg tools that connect to a server (``--version`` probes don't)
    pg_kids = [k for k in app_kids if Path(k.argv[0]).name in PG_TOOLS and "-h" in k.argv[1:]]
    assert any(Path(k.argv[0]).name == "pg_restore" for k in pg_kids), [k.argv for k in app_kids]

    # -- 0 secrets anywhere ------------------------------------------------------------------------
    leaks = _scan_files(home, known) + _scan_children(app_kids, known)
    assert leaks == []

    # -- pg tools: the password in the child's environment only, never a pass file ---------------
    for kid in pg_kids:
        assert "-w" in kid.argv, kid.argv  # never prompts
        assert "PGPASSFILE" not in kid.env, kid.argv
        assert kid.env.get("PGPASSWORD"), f"{kid.argv[0]} got no password ({kid.caller})"
        if Path(kid.argv[0]).name == "pg_restore":  # into the new server: its admin password
            assert kid.env["PGPASSWORD"] == password
    assert "PGPASSWORD" not in os.environ
