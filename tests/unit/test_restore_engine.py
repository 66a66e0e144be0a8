"""RestoreEngine with hand-written fakes: pipeline order, resume, refusal, isolation, cancel."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pgflex_gui.domain.errors import AppError, Cancelled
from pgflex_gui.jobs.job import CancelToken, JobContext
from pgflex_gui.jobs.journal import JournalStore
from pgflex_gui.jobs.report import render_html, report_json, write_report
from pgflex_gui.jobs.restore import ArmJob, FileInfo, PgTarget, RestoreEngine
from pgflex_gui.jobs.restore_plan_file import (
    ContainerSpec,
    PlanError,
    RestorePlanFile,
    SourceSpec,
    TargetSpec,
    load_plan,
    save_plan,
)
from pgflex_gui.keystore import MemoryKeystore
from pgflex_gui.postgres.dumps import DumpKind, Toc, TocEntry
from pgflex_gui.postgres.outcome import ProcessOutcome
from pgflex_gui.postgres.restore import ProgressEvent

BI = (
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v/"
    "backupInstances/bi"
)
SERVER = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/t"


def make_plan(tmp: Path, **kw: Any) -> RestorePlanFile:
    base: dict[str, Any] = {
        "container": ContainerSpec(url="https://acct.blob.core.windows.net/restores"),
        "target": TargetSpec(
            mode="new", server_id=SERVER, location="westeurope", version="16", firewall_ip="1.2.3.4"
        ),
        "source": SourceSpec(BI, "rp1", "westeurope"),
        "download_dir": str(tmp / "dl"),
        "source_counts": {"a": {"public.t": 3}},
    }
    base.update(kw)
    return RestorePlanFile(**base)


class Events:
    """A shared, ordered log of what the fakes saw."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def add(self, what: str, name: str = "") -> None:
        with self.lock:
            self.items.append((what, name))

    def index(self, what: str, name: str = "") -> int:
        return self.items.index((what, name))

    def names(self, what: str) -> list[str]:
        return [n for w, n in self.items if w == what]


class FakeArm:
    def __init__(self, ev: Events) -> None:
        self.ev = ev
        self.params: dict[str, str] = {"azure.extensions": "", "shared_preload_libraries": ""}
        self.exists = False
        self.polls = 0

    def validate_restore(self, plan: Any, request: Any, *, check: Any) -> None:
        self.ev.add("validate")

    def trigger_restore(self, plan: Any, request: Any, *, resume, on_token, check) -> str:
        self.ev.add("trigger", resume or "")
        if not resume:
            on_token("tok-1")
        return "job-1"

    def get_job(self, plan: Any, job_id: str) -> ArmJob:
        self.polls += 1
        return ArmJob("InProgress" if self.polls < 2 else "Completed", 10)

    def server_exists(self, target: Any) -> bool:
        return self.exists

    def create_server(self, target: Any, *, password, resume, on_token, check) -> None:
        assert password
        on_token("srv-tok")
        self.ev.add("create-server")
        self.exists = True

    def server_endpoint(self, target: Any) -> tuple[str, int, str]:
        return ("127.0.0.1", 5432, "")

    def ensure_firewall_rule(self, target: Any, name: str, ip: str, *, check: Any) -> None:
        self.ev.add("firewall", ip)

    def get_parameter(self, target: Any, name: str) -> str:
        return self.params.get(name, "")

    def set_parameter(self, target: Any, name: str, value: str, *, check) -> None:
        self.ev.add("set", f"{name}={value}")
        self.params[name] = value

    def restart_server(self, target: Any, *, check) -> None:
        self.ev.add("restart")


@dataclass(frozen=True)
class Blob:
    name: str
    size: int
    etag: str = ""


@dataclass(frozen=True)
class Got:
    name: str
    path: Path


@dataclass(frozen=True)
class Result:
    files: tuple[Got, ...]


class FakeDownloader:
    """Downloads take ``delay * size`` seconds; the last one waits for a restore to start."""

    def __init__(self, ev: Events, sizes: dict[str, int], *, delay: float = 0.0) -> None:
        self.ev = ev
        self.blobs = [Blob(f"p_database_{db}.sql", n) for db, n in sizes.items()]
        self.blobs.append(Blob("p_roles.sql", 1))
        self.delay = delay
        self.fail: set[str] = set()
        self.wait_for_restore: threading.Event | None = None

    def list_blobs(self, prefix: str = "") -> list[Blob]:
        return list(self.blobs)

    def check_free_space(self, blobs: Sequence[Any], dest_dir: Path) -> None:
        self.ev.add("space", str(len(blobs)))

    def download(self, blobs: Iterable[Any], dest_dir: Path, *, journal=None, progress=None,
                 check_cancelled: Callable[[], None] | None = None) -> Result:  # fmt: skip
        (blob,) = list(blobs)
        self.ev.add("download-start", blob.name)
        if check_cancelled:
            check_cancelled()
        if blob.name in self.fail:
            raise AppError(fault="network", summary="connection reset")  # type: ignore[arg-type]
        last = min(b.size for b in self.blobs if "_database_" in b.name)  # largest first
        if self.wait_for_restore is not None and blob.size == last:
            assert self.wait_for_restore.wait(5), "no restore started during the last download"
        time.sleep(self.delay * blob.size)
        path = dest_dir / blob.name
        path.write_text("x")
        if progress:
            progress(blob.size, blob.size)
        self.ev.add("download-end", blob.name)
        return Result((Got(blob.name, path),))


class FakePg:
    def __init__(self, ev: Events) -> None:
        self.ev = ev
        self.dbs: dict[str, int] = {}  # name -> rows in public.t (existing = has data)
        self.fail: set[str] = set()
        self.restore_started = threading.Event()
        self.cancel_during: str | None = None
        self.token: CancelToken | None = None

    def classify(self, path: Path) -> FileInfo:
        return FileInfo(DumpKind.CUSTOM, 15)

    def toc(self, path: Path) -> Toc:
        exts = ("pgcrypto",) if "a.sql" in path.name else ()
        entries = [TocEntry(i, "EXTENSION", "", e, "") for i, e in enumerate(exts)]
        entries += [TocEntry(9, "TABLE", "public", "t", "o"), TocEntry(10, "TABLE DATA", "public", "t", "o")]  # fmt: skip
        return Toc(tuple(entries))

    def plain_extensions(self, path: Path) -> tuple[str, ...]:
        return ()

    def server_major(self, target: PgTarget) -> int:
        return 16

    def database_exists(self, target: PgTarget, name: str) -> bool:
        return name in self.dbs

    def database_is_empty(self, target: PgTarget, name: str) -> bool:
        return self.dbs.get(name, 0) == 0

    def create_database(self, target: PgTarget, name: str) -> None:
        assert target.password
        self.ev.add("create-db", name)
        self.dbs[name] = 0

    def create_schemas(self, target: PgTarget, name: str, schemas: Sequence[str]) -> None:
        self.ev.add("create-schemas", name)

    def drop_database(self, target: PgTarget, name: str) -> None:
        self.ev.add("drop-db", name)
        del self.dbs[name]

    def restore(self, target: PgTarget, name: str, path: Path, info: FileInfo, *, jobs: int,
                keep_owners: bool, keep_privileges: bool, toc: Toc | None,
                on_progress: Callable[[ProgressEvent], None],
                cancel: Callable[[], bool],
                on_output: Callable[[str], None] | None = None,
                extra_args: Sequence[str] = ()) -> ProcessOutcome:  # fmt: skip
        self.ev.add("restore-start", name)
        if on_output is not None:
            on_output(f"$ pg_restore -d {name} {path.name}")
        self.restore_started.set()
        on_progress(ProgressEvent(1, 2, "creating", "TABLE", "t"))
        if self.cancel_during == name and self.token is not None:
            self.token.cancel()
            return ProcessOutcome(exit_code=None, cancelled=True)
        if name in self.fail:
            line = 'pg_restore: error: could not execute query: ERROR:  syntax error at "x"'
            return ProcessOutcome(exit_code=1, error_lines=(line,), fatal_errors=(line,))
        self.dbs[name] = 3
        self.ev.add("restore-end", name)
        return ProcessOutcome(exit_code=0)

    def run_sql_file(self, target: PgTarget, path: Path, *, cancel) -> ProcessOutcome:
        self.ev.add("roles")
        return ProcessOutcome(exit_code=0)

    def sanitize_roles(self, raw: Path, cleaned: Path) -> tuple[int, bool]:
        cleaned.write_text("")
        return 2, False

    def vacuum_analyze(self, target: PgTarget, name: str) -> None:
        self.ev.add("analyze", name)

    def row_counts(self, target: PgTarget, name: str, tables: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:  # fmt: skip
        return {t: self.dbs.get(name, 0) for t in tables}


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    ev = Events()
    return {
        "ev": ev,
        "arm": FakeArm(ev),
        "dl": FakeDownloader(ev, {"a": 1, "b": 2, "c": 3}),
        "pg": FakePg(ev),
        "secrets": MemoryKeystore(),
        "audit": [],
        "store": JournalStore(tmp_path / "journal"),
    }


def run(world: dict[str, Any], plan: RestorePlanFile, *, token: CancelToken | None = None,
        job_id: str = "job1") -> Any:  # fmt: skip
    journal = world["store"].open_or_create(job_id=job_id, kind="restore", title="t")
    engine = RestoreEngine(
        plan,
        arm=world["arm"],
        downloader=world["dl"],
        pg=world["pg"],
        secrets=world["secrets"],
        audit=lambda a, t, d: world["audit"].append((a, t)),
        poll_s=0.01,
    )
    ctx = JobContext(token=token or CancelToken(), journal=journal)
    return engine, engine.run(ctx)


def test_happy_path_runs_all_stages_and_writes_a_report(world: dict[str, Any], tmp_path: Path) -> None:  # fmt: skip
    ev = world["ev"]
    _, res = run(world, make_plan(tmp_path))
    assert res.ok, res
    assert [d.name for d in res.databases] == ["c", "b", "a"]  # largest first
    assert (
        ev.index("validate") < ev.index("trigger") < ev.index("download-start", "p_database_a.sql")
    )
    assert ("firewall", "1.2.3.4") in ev.items
    assert ("set", "azure.extensions=pgcrypto") in ev.items
    assert ev.index("set", "azure.extensions=pgcrypto") < ev.index("restore-start", "a")
    assert res.azure_job_id == "job-1"
    # the password went to the secret store, never to the journal
    password = next(iter(world["secrets"].data.values()))
    journal_text = (tmp_path / "journal" / "job1.json").read_text()
    assert password not in journal_text
    assert json.loads(journal_text)["checkpoints"]["azure"]["continuation_token"] == "tok-1"
    actions = [a for a, _ in world["audit"]]
    assert actions[0] == "trigger-restore"
    assert actions.count("create-database") == 3
    out = write_report(res, tmp_path / "rep", title="t")
    html = out["html"].read_text()
    assert "<svg" in html
    assert "p_database_a.sql" in html
    assert report_json(res)["databases"][0]["row_counts"] == {"public.t": 3}
    assert render_html(res).startswith("<!DOCTYPE html>")


def test_a_restore_starts_before_the_last_download_ends(world: dict[str, Any], tmp_path: Path) -> None:  # fmt: skip
    ev = world["ev"]
    world["dl"].wait_for_restore = world["pg"].restore_started
    _, res = run(world, make_plan(tmp_path))
    assert res.ok
    first_restore = min(ev.index("restore-start", n) for n in ("c", "b"))
    assert first_restore < ev.index("download-end", "p_database_a.sql")


def test_resume_skips_finished_databases_and_redoes_the_interrupted_one(world: dict[str, Any], tmp_path: Path) -> None:  # fmt: skip
    ev, pg = world["ev"], world["pg"]
    pg.cancel_during = "b"
    token = CancelToken()
    pg.token = token
    with pytest.raises(Cancelled):
        run(world, make_plan(tmp_path), token=token)
    assert pg.dbs == {"c": 3, "b": 0}  # largest first
    ev.items.clear()
    pg.cancel_during = None
    _, res = run(world, make_plan(tmp_path))
    assert res.ok
    assert "c" not in ev.names("restore-start")  # finished: not redone
    assert ("drop-db", "b") in ev.items  # created by the app, interrupted: redone
    assert ("trigger", "") not in ev.items
    assert ("validate", "") not in ev.items
    assert ev.names("restore-start") == ["b", "a"]
    assert next(d for d in res.databases if d.name == "c").resumed


def test_resume_continues_the_azure_lro_from_its_token(world: dict[str, Any], tmp_path: Path) -> None:  # fmt: skip
    journal = world["store"].create(kind="restore", title="t", job_id="job1")
    from pgflex_gui.jobs.restore import plan_digest

    plan = make_plan(tmp_path)
    journal.update({"plan_digest": plan_digest(plan), "azure": {"continuation_token": "tok-1"}})
    _, res = run(world, plan)
    assert ("trigger", "tok-1") in world["ev"].items
    assert ("validate", "") not in world["ev"].items
    assert res.ok


def test_non_empty_target_database_is_refused_and_others_continue(world: dict[str, Any], tmp_path: Path) -> None:  # fmt: skip
    world["pg"].dbs["b"] = 7  # exists with data, not created by the app
    world["arm"].exists = False
    _, res = run(world, make_plan(tmp_path))
    by = {d.name: d for d in res.databases}
    assert by["b"].status == "refused"
    assert "holds data" in by["b"].message
    assert world["pg"].dbs["b"] == 7
    assert ("drop-db", "b") not in world["ev"].items
    assert by["a"].status == by["c"].status == "restored"
    assert not res.ok


def test_one_failed_database_does_not_stop_the_others(world: dict[str, Any], tmp_path: Path) -> None:  # fmt: skip
    world["pg"].fail = {"a"}
    world["dl"].fail = {"p_database_b.sql"}
    _, res = run(world, make_plan(tmp_path))
    by = {d.name: d for d in res.databases}
    assert by["a"].status == "failed"
    assert by["a"].error_lines
    assert by["b"].status == "failed"
    assert "Download failed" in by["b"].message
    assert by["c"].status == "restored"


def test_stop_on_first_failure(world: dict[str, Any], tmp_path: Path) -> None:
    world["pg"].fail = {"c"}  # the largest: restored first
    world["dl"].delay = 0.05
    _, res = run(world, make_plan(tmp_path, stop_on_first_failure=True))
    by = {d.name: d for d in res.databases}
    assert by["c"].status == "failed"
    assert by["a"].status == "skipped"


def test_cancel_before_start(world: dict[str, Any], tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run(world, make_plan(tmp_path), token=token)
    assert "restore-start" not in [w for w, _ in world["ev"].items]


def test_existing_server_not_created_by_app_is_refused_for_new_mode(world: dict[str, Any], tmp_path: Path) -> None:  # fmt: skip
    world["arm"].exists = True
    _, res = run(world, make_plan(tmp_path))
    assert all(d.status == "failed" for d in res.databases)
    assert "create-server" not in [w for w, _ in world["ev"].items]


def test_plan_file_round_trip_and_refuses_secrets(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, databases=("a",))
    save_plan(plan, tmp_path / "plan.json")
    assert load_plan(tmp_path / "plan.json") == plan
    bad = plan.to_json()
    bad["container"]["url"] = "https://a.blob.core.windows.net/c?sv=1&sig=abc"
    with pytest.raises(PlanError, match="SAS"):
        RestorePlanFile.from_json(bad)
    bad = plan.to_json()
    bad["target"]["admin_password"] = "x"
    with pytest.raises(PlanError, match="secrets"):
        RestorePlanFile.from_json(bad)
    with pytest.raises(PlanError, match="needs"):
        RestorePlanFile.from_json({"container": {}, "target": {"mode": "new"}})


def test_directory_dump_is_downloaded_whole_and_restored_as_a_folder(world: dict[str, Any], tmp_path: Path) -> None:  # fmt: skip
    from pgflex_gui.jobs.restore import LocalFolder

    src = tmp_path / "incident"
    (src / "dumps" / "a").mkdir(parents=True)
    (src / "dumps" / "a" / "toc.dat").write_bytes(b"PGDMP")
    (src / "dumps" / "a" / "3001.dat.gz").write_bytes(b"x" * 10)
    (src / "dumps" / "orphan").mkdir()
    (src / "dumps" / "orphan" / "3002.dat.gz").write_bytes(b"x")
    (src / "database_b.sql").write_bytes(b"PGDMP")
    seen: list[tuple[str, Path]] = []
    pg = world["pg"]
    original = pg.restore

    def restore(target: PgTarget, name: str, path: Path, info: FileInfo, **kw: Any) -> Any:
        seen.append((name, path))
        return original(target, name, path, info, **kw)

    pg.restore = restore
    world["dl"] = LocalFolder(src)
    plan = make_plan(tmp_path, source=None, container=ContainerSpec(local_dir=str(src)),
                     source_counts={})  # fmt: skip
    _, res = run(world, plan)
    assert res.ok, res
    assert sorted(seen) == [("a", src / "dumps" / "a"), ("b", src / "database_b.sql")]
    assert any("no toc.dat" in n for n in res.notes)


def test_cross_region_request_targets_the_secondary_region(world: dict[str, Any], tmp_path: Path) -> None:  # fmt: skip
    requests: list[Any] = []
    arm = world["arm"]
    arm.validate_restore = lambda plan, request, check: requests.append(request)
    source = SourceSpec(BI, "rp1", "northeurope", cross_region=True, source_region="westeurope")
    _, res = run(world, make_plan(tmp_path, source=source))
    assert res.ok, res
    (request,) = requests
    assert "crossRegionRestoreDetails" not in request  # the adapter wraps it for the CRR API
    assert request["restoreTargetInfo"]["restoreLocation"] == "northeurope"


@pytest.mark.parametrize(
    ("vcores", "in_use", "plan_jobs", "expected"),
    [
        (2, 0, 0, 2),  # the first (largest) database gets every vCore
        (2, 2, 0, 1),  # one beside it gets what is left, at least 1
        (8, 0, 0, 8),
        (8, 6, 0, 2),
        (8, 9, 0, 1),
        (4, 0, 3, 3),  # the plan's own choice wins...
        (4, 0, 16, 4),  # ...but never above the vCores
    ],
)
def test_pg_restore_jobs_share_the_target_vcores(
    tmp_path: Path, vcores: int, in_use: int, plan_jobs: int, expected: int
) -> None:
    from pgflex_gui.jobs.restore import db_restore_jobs

    target = TargetSpec(mode="existing", host="h", port=5432, vcores=vcores)
    plan = make_plan(tmp_path, target=target, jobs=plan_jobs)
    assert db_restore_jobs(plan, in_use) == expected
