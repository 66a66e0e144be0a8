"""Clean-up after a cancelled restore deletes exactly what it made, and refuses the rest."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from pgflex_gui.domain.errors import AppError
from pgflex_gui.domain.restore_progress import Created, CreatedKind
from pgflex_gui.jobs.cleanup import CleanupJob, refusal
from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JobJournal
from pgflex_gui.jobs.restore_plan_file import ContainerSpec, RestorePlanFile, TargetSpec
from pgflex_gui.keystore import MemoryKeystore

SERVER_ID = (
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-new"
)


class Arm:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    def delete_server(self, target: TargetSpec, *, check: Any) -> None:
        check()
        self.deleted.append(target.server_id)

    def server_endpoint(self, target: TargetSpec) -> tuple[str, int, str]:
        return "127.0.0.1", 5432, ""


class Pg:
    def __init__(self) -> None:
        self.dropped: list[tuple[str, str | None]] = []

    def drop_database(self, target: Any, name: str) -> None:
        self.dropped.append((name, target.password))


def engine(tmp_path: Path, mode: str = "new", arm: Arm | None = None) -> Any:
    plan = RestorePlanFile(
        container=ContainerSpec(url="https://a.blob.core.windows.net/c"),
        target=TargetSpec(mode=mode, server_id=SERVER_ID, location="westeurope"),
        download_dir=str(tmp_path / "dl"),
    )
    secrets = MemoryKeystore({f"server-admin:{SERVER_ID.lower()}": "Generated-1"})
    return cast(Any, SimpleNamespace(plan=plan, arm=arm or Arm(), pg=Pg(), secrets=secrets,
                                     audit=lambda *a: None))  # fmt: skip


def ctx() -> JobContext:
    return JobContext(token=CancelToken(), journal=JobJournal(job_id="cleanup"))


def test_refusals_protect_what_the_restore_did_not_make(tmp_path: Path) -> None:
    journal = JobJournal(job_id="r")
    new = engine(tmp_path)
    server = Created(CreatedKind.SERVER, "pg-new", "Server pg-new")
    assert refusal(server, new, journal) == "this restore did not create it"
    journal.checkpoint("server", {"created_by_app": True})
    assert refusal(server, new, journal) == ""
    other = Created(CreatedKind.SERVER, "pg-src", "Server pg-src")
    assert refusal(other, new, journal) == "not the server this restore was to create"
    outside = Created(CreatedKind.FILE, str(tmp_path / "dl" / ".." / "x.sql"), "Downloaded x")
    assert refusal(outside, new, journal) == "not in this restore's download folder"
    folder = Created(CreatedKind.FILE, str(tmp_path / "dl"), "the folder itself")
    assert refusal(folder, new, journal) == "not in this restore's download folder"
    db = Created(CreatedKind.DATABASE, "sales", "Database sales", server="pg-new")
    assert refusal(db, new, journal) == "not on this restore's existing target server"
    existing = engine(tmp_path, mode="existing")
    assert refusal(db, existing, journal) == "this restore did not create it"
    journal.checkpoint("db:sales", {"created_by_app": True})
    assert refusal(db, existing, journal) == ""
    assert refusal(server, existing, journal) == "not the server this restore was to create"


def test_deletes_the_chosen_server_and_file_and_keeps_the_rest(tmp_path: Path) -> None:
    e = engine(tmp_path)
    journal = JobJournal(job_id="r")
    journal.checkpoint("server", {"created_by_app": True, "ready": True})
    (tmp_path / "dl").mkdir()
    inside, outside = tmp_path / "dl" / "a.sql", tmp_path / "b.sql"
    inside.write_text("x")
    outside.write_text("y")
    items = [
        Created(CreatedKind.FILE, str(inside), "Downloaded a"),
        Created(CreatedKind.FILE, str(outside), "Downloaded b"),
        Created(CreatedKind.SERVER, "pg-new", "Server pg-new"),
    ]
    result = CleanupJob(e, items, journal).run(ctx())
    assert result.deleted == ["Server pg-new", "Downloaded a"]  # server first, then files
    assert result.kept == ["Downloaded b: not in this restore's download folder"]
    assert e.arm.deleted == [SERVER_ID]
    assert e.secrets.get(f"server-admin:{SERVER_ID.lower()}") is None
    assert journal.get("server") == {}  # a Resume creates the server again
    assert not inside.exists()
    assert outside.exists()


def test_drops_a_database_it_made_on_an_existing_server(tmp_path: Path) -> None:
    e = engine(tmp_path, mode="existing")
    journal = JobJournal(job_id="r")
    journal.checkpoint("db:sales", {"created_by_app": True, "status": "restoring"})
    db = Created(CreatedKind.DATABASE, "sales", "Database sales", server="pg-new")
    CleanupJob(e, [db], journal).run(ctx())
    assert e.pg.dropped == [("sales", "Generated-1")]
    assert journal.get("db:sales") == {}


def test_nothing_allowed_is_an_error_that_says_why(tmp_path: Path) -> None:
    e = engine(tmp_path)
    server = Created(CreatedKind.SERVER, "pg-new", "Server pg-new")
    with pytest.raises(AppError) as err:
        CleanupJob(e, [server], JobJournal(job_id="r")).run(ctx())
    assert "Nothing was deleted: Server pg-new: this restore did not create it" in err.value.summary
    assert e.arm.deleted == []
