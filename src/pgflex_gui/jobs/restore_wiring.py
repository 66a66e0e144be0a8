"""Wiring a restore engine over the app's Azure layer: one place for the GUI and the CLI.

``backends`` (the GUI's restore jobs) and ``restore_cli`` (``pgflex restore --plan``) both
build their engines here, from one ``ClientFactory``: the restore-as-files engine with the
container reader the plan asks for (:func:`build_engine_for`), the restore-as-server (v2)
engine (:func:`build_server_engine_for`), and either plan read from its file
(:func:`load_any_plan`, told apart by ``kind``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.server_restore_plan import ServerRestorePlan, is_server_restore_plan
from pgflex_gui.jobs.restore import LocalFolder, RestoreEngine
from pgflex_gui.jobs.restore_adapters import LocalPgRunner, SdkRestoreArm
from pgflex_gui.jobs.restore_as_server import SdkServerRestoreArm, ServerRestoreEngine
from pgflex_gui.jobs.restore_plan_file import PlanError, RestorePlanFile, load_plan

__all__ = [
    "AnyPlan",
    "audit_into",
    "build_engine_for",
    "build_server_engine_for",
    "load_any_plan",
    "plan_target_name",
]

log = logging.getLogger(__name__)

AnyPlan = RestorePlanFile | ServerRestorePlan


def load_any_plan(path: Path | str) -> AnyPlan:
    """A restore-as-files plan, or a restore-as-server (v2) one (told apart by ``kind``).

    Raises PlanError (or ValueError naming every problem of a v2 plan) and OSError.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PlanError(f"{path} is not valid JSON: {exc}") from exc
    if is_server_restore_plan(data):
        return ServerRestorePlan.from_json(data)
    return load_plan(path)


def plan_target_name(plan: AnyPlan) -> str:
    """The target server's name, for job titles."""
    if isinstance(plan, ServerRestorePlan):
        return plan.target_name
    return plan.target.server_name


def plan_target_id(plan: AnyPlan) -> str:
    """The target server's ARM id ("" when the plan names none)."""
    if isinstance(plan, ServerRestorePlan):
        return plan.target_server_id
    return plan.target.server_id or ""


def _log_audit(action: str, target: str, details: Any) -> None:
    logging.getLogger("pgflex_gui.audit").info("%s %s %s", action, target, dict(details))


def audit_into(audit_log: Any) -> Callable[[str, str, Mapping[str, Any]], None]:
    """The engine's ``audit(action, target, details)`` onto an ``AuditLog`` (None: the log)."""
    if audit_log is None:
        return _log_audit

    def audit(action: str, target: str, details: Any) -> None:
        audit_log.record(what=action, target=target, result="done", details=dict(details))

    return audit


def _downloader(
    plan: RestorePlanFile, secrets: Any, credential: Any, verify: str | bool, factory: Any = None
) -> Any:
    """The container reader for the plan's read method (``azure.blob_access``).

    Built on first use, after the Azure restore job: an account key (``listKeys``, kept in
    memory) or a fresh read+list SAS is obtained only then, and a failure to get one is a
    failure at the download stage.
    """
    from pgflex_gui.azure.blob_access import (
        ContainerRef,
        DeferredDownloader,
        ReadMethod,
        read_credential,
    )
    from pgflex_gui.azure.blobs import BlobDownloader

    c = plan.container
    if c.local_dir:
        return LocalFolder(Path(c.local_dir))
    method = ReadMethod(c.read_access or ("sas" if c.sas_entry else "entra"))

    def build() -> Any:
        sas = None
        if method is ReadMethod.SAS:
            sas = secrets.get(c.sas_entry) if c.sas_entry else None
            if not sas:
                raise AppError(
                    Fault.USER,
                    f"The SAS for {c.url} is not in the keyring (entry {c.sas_entry!r}).",
                    remedy="Paste the SAS again in the restore wizard, or pick another read "
                    "method.",
                )
        read_with = read_credential(
            method, ContainerRef(c.url, c.arm_id), factory=factory, credential=credential, sas=sas
        )
        return BlobDownloader.from_url(c.url, read_with, connection_verify=verify)

    return DeferredDownloader(build)


def build_engine_for(
    plan: RestorePlanFile,
    *,
    factory: Any,
    credential: Any,
    secrets: Any,
    audit: Any = None,
    connection_verify: str | bool | None = None,
    poll_s: float | None = None,
    pg_tool_paths: Mapping[str, str] | None = None,
) -> RestoreEngine:
    """The restore-as-files engine over the app's one ClientFactory (the wizard and the CLI).

    ``credential`` reads the container when the plan names no SAS entry; ``poll_s`` is the
    backup-job poll interval (default: the factory's LRO polling interval);
    ``pg_tool_paths`` are the user's pg tool folders per major version (Settings), searched
    before PATH and the standard places. ``audit`` is an ``AuditLog`` or None.
    """
    from pgflex_gui.postgres.tools import discover

    verify = connection_verify
    if verify is None:
        verify = getattr(getattr(factory, "cloud", None), "ca_bundle", None) or True
    poll = poll_s if poll_s is not None else getattr(factory, "polling_interval", 1.0)
    needs_arm = plan.source is not None or bool(plan.target.server_id)
    arm = SdkRestoreArm(factory) if needs_arm else None
    return RestoreEngine(
        plan,
        arm=arm,
        downloader=_downloader(plan, secrets, credential, verify, factory),
        pg=LocalPgRunner(discover(pg_tool_paths or {})),
        secrets=secrets,
        audit=audit_into(audit),
        poll_s=poll,
    )


def build_server_engine_for(
    plan: ServerRestorePlan, *, factory: Any, audit: Any = None, poll_s: float | None = None
) -> ServerRestoreEngine:
    """The restore-as-server (v2) engine over the app's one ClientFactory."""
    # The Azure services record their writes themselves (``AuditLog.record`` keywords).
    record = getattr(audit, "record", None)
    return ServerRestoreEngine(
        plan,
        SdkServerRestoreArm(factory, audit=record),
        audit=audit_into(audit),
        poll_s=poll_s if poll_s is not None else getattr(factory, "polling_interval", 2.0),
    )
