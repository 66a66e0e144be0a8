"""The crash-safe journal: atomic writes, resume listing, secret guard."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from pgflex_gui.jobs.journal import JobJournal, JournalSecretError, JournalState, JournalStore


def test_checkpoint_roundtrip_and_reopen(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    j = store.create(kind="download", title="Download db1", job_id="job1")
    j.checkpoint("ranges", [1, 2, 3])
    j.checkpoint("continuation_token", "abc")  # poller state is explicitly allowed
    again = store.open("job1")
    assert again.get("ranges") == [1, 2, 3]
    assert again.get("continuation_token") == "abc"
    assert again.get("missing", 7) == 7
    assert again.kind == "download"
    assert again.title == "Download db1"
    assert again.state is JournalState.RUNNING
    assert (tmp_path / "job1.json").stat().st_mode & 0o777 == 0o600


def test_write_is_atomic_old_content_survives_a_failed_replace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = JournalStore(tmp_path)
    j = store.create(kind="k", title="t", job_id="a")
    j.checkpoint("step", 1)

    def boom(self: Path, target: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        j.checkpoint("step", 2)
    monkeypatch.undo()
    # The file on disk still holds a complete, parseable previous checkpoint.
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["checkpoints"]["step"] == 1
    assert store.open("a").get("step") == 1


def test_no_tmp_files_left_and_concurrent_checkpoints(tmp_path: Path) -> None:
    j = JournalStore(tmp_path).create(kind="k", title="t", job_id="c")

    def writer(n: int) -> None:
        for i in range(20):
            j.checkpoint(f"w{n}", i)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]
    reopened = JournalStore(tmp_path).open("c")
    assert all(reopened.get(f"w{n}") == 19 for n in range(4))


def test_list_unfinished(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    store.create(kind="k", title="running", job_id="r")
    store.create(kind="k", title="done", job_id="d").set_state(JournalState.FINISHED)
    store.create(kind="k", title="failed", job_id="f").set_state(JournalState.FAILED, note="x")
    store.create(kind="k", title="cancelled", job_id="x").set_state(JournalState.CANCELLED)
    (tmp_path / "garbage.json").write_text("{not json")
    unfinished = store.list_unfinished()
    assert [e.job_id for e in unfinished] == ["r"]
    assert {e.job_id for e in store.entries()} == {"r", "d", "f", "x"}


def test_open_or_create_resumes_as_running(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    j = store.create(kind="k", title="t", job_id="j")
    j.checkpoint("n", 5)
    j.set_state(JournalState.CANCELLED)
    again = store.open_or_create(job_id="j", kind="k", title="t")
    assert again.get("n") == 5
    assert again.state is JournalState.RUNNING


@pytest.mark.parametrize(
    "key",
    ["password", "adminPassword", "pg_password", "client_secret", "sas", "sas_url", "token",
     "accessToken", "credential"],
)  # fmt: skip
def test_refuses_secret_like_keys(key: str) -> None:
    j = JobJournal.in_memory()
    with pytest.raises(JournalSecretError):
        j.checkpoint(key, "x")
    assert j.get(key) is None


def test_refuses_sas_values_and_nested_secrets() -> None:
    j = JobJournal.in_memory()
    with pytest.raises(JournalSecretError):
        j.checkpoint("url", "https://a.blob.core.windows.net/c?sv=2020&sig=abc")
    with pytest.raises(JournalSecretError):
        j.checkpoint("target", {"server": "s", "password": "p"})
    with pytest.raises(JournalSecretError):
        j.checkpoint("list", [{"nested": ["ok", {"token": "t"}]}])
    j.checkpoint("url", "https://a.blob.core.windows.net/c")
    j.checkpoint("keystore_entry", "pgflex/target-admin")


def test_bad_ids_and_unserialisable_values(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    with pytest.raises(ValueError, match="bad job id"):
        store.create(kind="k", title="t", job_id="../evil")
    j = store.create(kind="k", title="t", job_id="ok")
    with pytest.raises(TypeError):
        j.checkpoint("obj", object())
    assert j.get("obj") is None
