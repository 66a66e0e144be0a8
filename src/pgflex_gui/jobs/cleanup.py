"""After a cancelled restore: delete exactly what it created, and nothing else.

The user picks from the list the restore kept (:class:`~pgflex_gui.domain.restore_progress.
Created`): the new server (and the admin password generated for it), downloaded files, and
databases made on an existing server. Each is checked against the plan and the restore's own
journal before it goes: a server only when the plan made it new and the journal says this
restore created it; a file only inside the plan's download folder; a database only on an
existing target where the journal says the restore created it. The restore's journal is then
updated so that a later Resume makes them again instead of trusting what is gone.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.restore_progress import Created, CreatedKind
from pgflex_gui.jobs.job import JobContext, Progress
from pgflex_gui.jobs.journal import JobJournal
from pgflex_gui.jobs.restore import PgTarget, RestoreEngine, db_journal_key, server_admin_entry
from pgflex_gui.postgres.psql import ConnParams

__all__ = ["CleanupJob", "CleanupResult", "refusal"]

log = logging.getLogger(__name__)


@dataclass
class CleanupResult:
    """What was deleted, and what was kept with the reason."""

    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # "words: reason"

    @property
    def message(self) -> str:
        n = len(self.deleted)
        out = f"Deleted {n} item{'s' if n != 1 else ''}"
        if self.kept:
            out += f"; kept {len(self.kept)}: " + "; ".join(self.kept)
        return out


def refusal(item: Created, engine: RestoreEngine, restore_journal: JobJournal) -> str:
    """Why ``item`` may not be deleted ("" when it may)."""
    plan, target = engine.plan, engine.plan.target
    if item.kind is CreatedKind.SERVER:
        if target.mode != "new" or item.name != target.server_name:
            return "not the server this restore was to create"
        if not dict(restore_journal.get("server") or {}).get("created_by_app"):
            return "this restore did not create it"
        if engine.arm is None:
            return "Azure access is needed to delete it"
        return ""
    if item.kind is CreatedKind.FILE:
        if not plan.download_dir:
            return "not in this restore's download folder"
        folder = Path(plan.download_dir).resolve()
        path = Path(item.name).resolve()
        if path == folder or folder not in path.parents:
            return "not in this restore's download folder"
        return ""
    if item.kind is CreatedKind.DATABASE:
        if target.mode == "new" or item.server != target.server_name:
            return "not on this restore's existing target server"
        if not dict(restore_journal.get(db_journal_key(item.name)) or {}).get("created_by_app"):
            return "this restore did not create it"
    return ""


class CleanupJob:
    """Delete the chosen things a cancelled restore created (arm-write lane)."""

    kind = "cleanup"

    def __init__(
        self,
        engine: RestoreEngine,
        items: Sequence[Created],
        restore_journal: JobJournal,
        *,
        title: str = "",
    ) -> None:
        self.engine = engine
        self.items = tuple(items)
        self.restore_journal = restore_journal
        self.title = title or f"Clean up after Restore into {engine.plan.target.server_name}"
        target = engine.plan.target
        # The tree follows: a deleted server leaves its subscription's list.
        self.touches = (target.server_id,) if target.server_id else ()

    def run(self, ctx: JobContext) -> CleanupResult:
        result = CleanupResult()
        # Databases first (they live on the server), then the server, then the files.
        order = {CreatedKind.DATABASE: 0, CreatedKind.SERVER: 1, CreatedKind.FILE: 2}
        items = sorted(self.items, key=lambda i: order.get(i.kind, 3))
        for n, item in enumerate(items):
            ctx.check_cancelled()
            ctx.report(Progress(n, len(items), f"Deleting {item.words}"))
            why = refusal(item, self.engine, self.restore_journal)
            if why:
                log.warning("cleanup: kept %s (%s)", item.words, why)
                result.kept.append(f"{item.words}: {why}")
                continue
            try:
                self._delete(ctx, item)
            except AppError as err:
                log.warning("cleanup: could not delete %s: %s", item.words, err.summary)
                result.kept.append(f"{item.words}: {err.summary}")
                continue
            result.deleted.append(item.words)
        ctx.report(Progress(len(items), len(items), result.message))
        if result.kept and not result.deleted:
            raise AppError(
                Fault.USER,
                f"Nothing was deleted: {'; '.join(result.kept)}.",
                "Delete what is left in the Azure portal or with psql, if you want it gone.",
            )
        return result

    def _delete(self, ctx: JobContext, item: Created) -> None:
        engine, target = self.engine, self.engine.plan.target
        if item.kind is CreatedKind.SERVER:
            assert engine.arm is not None
            engine.audit("delete-server", target.server_id, {"after": "cancelled restore"})
            engine.arm.delete_server(target, check=ctx.check_cancelled)
            entry = target.password_entry or server_admin_entry(target.server_id)
            engine.secrets.delete(entry)  # the generated password goes with its server
            self.restore_journal.checkpoint("server", {})  # a Resume creates it again
        elif item.kind is CreatedKind.FILE:
            path = Path(item.name)
            engine.audit("delete-file", str(path), {"after": "cancelled restore"})
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        else:  # a database
            engine.audit("drop-database", item.name, {"server": target.server_name})
            engine.pg.drop_database(self._pg_target(), item.name)
            self.restore_journal.checkpoint(db_journal_key(item.name), {})

    def _pg_target(self) -> PgTarget:
        engine, t = self.engine, self.engine.plan.target
        if engine.arm is not None and t.server_id:
            host, port, sslmode = engine.arm.server_endpoint(t)
        else:
            host, port, sslmode = t.host, t.port, t.sslmode
        entry = t.password_entry or (server_admin_entry(t.server_id) if t.server_id else "")
        password = engine.secrets.get(entry) if entry else None
        conn = ConnParams(host, port, t.admin_login, "postgres", sslmode or None)
        return PgTarget(conn, password)
