"""BlobDownloader against Azurite over HTTPS: verified, resumable, retried, bounded."""

from __future__ import annotations

import hashlib
import itertools
import os
import select
import socket
import struct
import threading
from pathlib import Path

import pytest
from azure.storage.blob import BlobBlock, ContainerClient, ContentSettings

from pgflex_gui.azure import blobs as blobs_mod
from pgflex_gui.azure.blobs import BlobDownloader, RemoteBlob, download_blob_sdk
from pgflex_gui.domain.errors import AppError, Cancelled, Fault
from pgflex_gui.jobs.journal import JournalStore
from tests.azurite_helper import AzuriteServer, azurite_fixture, free_port

pytestmark = pytest.mark.sandbox

azurite = azurite_fixture()

MiB = 1024 * 1024
RANGE = 1 * MiB  # small ranges: many of them, so resume and retry have something to do
NAME = "dl-test"


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


@pytest.fixture(scope="module")
def payload(azurite: AzuriteServer) -> dict[str, bytes]:
    """~50 MB in a few blobs: Content-MD5 on most, none on one, a wrong one on another."""
    rnd = os.urandom(48 * MiB + 12345)
    blobs = {
        "rp1/sales_database.sql": rnd[: 20 * MiB + 17],
        "rp1/hr/Database.sql": rnd[20 * MiB + 17 : 40 * MiB],
        "rp1/Roles.sql": b"CREATE ROLE app;\n" * 1000,
        "rp1/empty.marker": b"",
        "nomd5/big.sql": rnd[40 * MiB :],
        "corrupt/bad.sql": rnd[: 3 * MiB],
    }
    container = azurite.service_client().get_container_client(NAME)
    container.create_container()
    for name, data in blobs.items():
        if name.startswith("nomd5/"):
            # Put Block + Put Block List: the service records no Content-MD5.
            bc = container.get_blob_client(name)
            ids = []
            for k in range(0, len(data), 4 * MiB):
                block_id = f"{k:012d}"
                bc.stage_block(block_id, data[k : k + 4 * MiB])
                ids.append(BlobBlock(block_id))
            bc.commit_block_list(ids)
        elif name.startswith("corrupt/"):
            # Upload honestly, then record a wrong Content-MD5 (the service validates uploads).
            bc = container.upload_blob(name, data)
            bc.set_http_headers(ContentSettings(content_md5=bytearray(_md5(b"other"))))
        else:
            container.upload_blob(
                name, data, content_settings=ContentSettings(content_md5=bytearray(_md5(data)))
            )
    return blobs


@pytest.fixture
def downloader(azurite: AzuriteServer, payload: dict[str, bytes]) -> BlobDownloader:
    # Incident mode: a container SAS URL, no account key, no ARM.
    return BlobDownloader.from_url(
        azurite.container_sas_url(NAME),
        connection_verify=str(azurite.ca_path),
        range_size=RANGE,
        threads=4,
        backoff_s=0.05,
    )


def test_listing_reads_size_and_md5(downloader: BlobDownloader, payload: dict[str, bytes]) -> None:
    blobs = {b.name: b for b in downloader.list_blobs("rp1/")}
    assert set(blobs) == {n for n in payload if n.startswith("rp1/")}
    assert blobs["rp1/sales_database.sql"].size == len(payload["rp1/sales_database.sql"])
    assert blobs["rp1/Roles.sql"].content_md5 == _md5(payload["rp1/Roles.sql"])
    assert downloader.list_blobs("nomd5/")[0].content_md5 is None


def test_download_prefix_identical_and_md5_verified(
    downloader: BlobDownloader, payload: dict[str, bytes], tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    result = downloader.download_prefix(
        tmp_path, prefix="rp1/", progress=lambda d, t: seen.append((d, t))
    )
    names = [f.name for f in result.files]
    assert names == sorted(n for n in payload if n.startswith("rp1/"))
    for f in result.files:
        assert f.path == tmp_path.joinpath(*f.name.split("/"))
        assert f.path.read_bytes() == payload[f.name]
        assert f.verified_by == "content-md5"
    assert not list(tmp_path.rglob("*.part"))
    total = sum(len(v) for k, v in payload.items() if k.startswith("rp1/"))
    assert seen[-1] == (total, total)
    assert all(a <= b for (a, _), (b, _) in itertools.pairwise(seen))


def test_blob_without_md5_is_verified_by_length_and_range_hashes(
    downloader: BlobDownloader, payload: dict[str, bytes], tmp_path: Path
) -> None:
    result = downloader.download_prefix(tmp_path, prefix="nomd5/")
    (f,) = result.files
    assert f.verified_by == "crc32-ranges"
    assert f.path.read_bytes() == payload["nomd5/big.sql"]


def test_resume_fetches_only_missing_ranges(
    azurite: AzuriteServer, payload: dict[str, bytes], tmp_path: Path
) -> None:
    name = "rp1/sales_database.sql"
    n_ranges = -(-len(payload[name]) // RANGE)
    store = JournalStore(tmp_path / "journal")
    journal = store.create(kind="download", title="t", job_id="resume1")
    first = BlobDownloader.from_url(
        azurite.container_sas_url(NAME), connection_verify=str(azurite.ca_path),
        range_size=RANGE, threads=2,
    )  # fmt: skip
    count = 0

    def cancel_after_some() -> None:
        if first.stats.ranges_fetched >= 6:
            raise Cancelled()

    with pytest.raises(Cancelled):
        first.download([name], tmp_path / "out", journal=journal, check_cancelled=cancel_after_some)
    final = tmp_path / "out" / "rp1" / "sales_database.sql"
    assert not final.exists()
    assert final.with_name(final.name + ".part").exists()
    done_before = len(store.open("resume1").get(f"blob:{name}")["done"])
    assert 6 <= done_before < n_ranges
    count = first.stats.ranges_fetched

    # Simulate a crash that lost one journaled range's bytes: verification must catch it.
    part = final.with_name(final.name + ".part")
    with part.open("r+b") as fh:
        fh.seek(0)
        fh.write(b"\0" * 100)

    second = BlobDownloader.from_url(
        azurite.container_sas_url(NAME), connection_verify=str(azurite.ca_path),
        range_size=RANGE, threads=2,
    )  # fmt: skip
    result = second.download([name], tmp_path / "out", journal=store.open("resume1"))
    assert second.stats.ranges_resumed == done_before
    assert second.stats.ranges_fetched == n_ranges - done_before + 1  # +1: the damaged range
    assert second.stats.refetched_after_verify == 1
    assert count + second.stats.ranges_fetched - 1 >= n_ranges
    assert final.read_bytes() == payload[name]
    assert result.files[0].verified_by == "content-md5"

    # A third run finds it verified in the journal and fetches nothing.
    third = BlobDownloader.from_url(
        azurite.container_sas_url(NAME), connection_verify=str(azurite.ca_path), range_size=RANGE
    )
    third.download([name], tmp_path / "out", journal=store.open("resume1"))
    assert third.stats.ranges_fetched == 0


def test_not_enough_disk_space(downloader: BlobDownloader, tmp_path: Path) -> None:
    small = BlobDownloader(downloader.container, range_size=RANGE, free_space=lambda p: 5 * MiB)
    with pytest.raises(AppError) as info:
        small.download_prefix(tmp_path, prefix="rp1/")
    assert info.value.fault is Fault.USER
    assert "40.0 MiB" in info.value.summary
    assert "5.0 MiB is free" in info.value.summary
    assert not list(tmp_path.rglob("*.part"))


def test_md5_mismatch_is_never_renamed(downloader: BlobDownloader, tmp_path: Path) -> None:
    with pytest.raises(AppError) as info:
        downloader.download_prefix(tmp_path, prefix="corrupt/")
    assert info.value.fault is Fault.AZURE
    assert "Content-MD5" in info.value.summary
    assert not (tmp_path / "corrupt" / "bad.sql").exists()


def test_missing_blob_is_a_user_error(downloader: BlobDownloader, tmp_path: Path) -> None:
    with pytest.raises(AppError) as info:
        downloader.download(["rp1/nope.sql"], tmp_path)
    assert info.value.fault is Fault.USER


def test_sdk_baseline(azurite: AzuriteServer, payload: dict[str, bytes], tmp_path: Path) -> None:
    container = ContainerClient.from_container_url(
        azurite.container_sas_url(NAME), connection_verify=str(azurite.ca_path)
    )
    n = download_blob_sdk(container, "rp1/hr/Database.sql", tmp_path / "x")
    assert n == len(payload["rp1/hr/Database.sql"])
    assert (tmp_path / "x").read_bytes() == payload["rp1/hr/Database.sql"]


class ResettingProxy:
    """TCP proxy that drops the first connection passing ``after`` server→client bytes."""

    def __init__(self, target_port: int, after: int) -> None:
        self.target_port = target_port
        self.after = after
        self.resets = 0
        self._lock = threading.Lock()
        self.port = free_port()
        self._srv = socket.create_server(("127.0.0.1", self.port))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self) -> None:
        self._srv.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            t = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            t.start()
            self._threads.append(t)

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        """One thread per connection, so the reset is done by the only user of the sockets."""
        sent = 0
        peer = {client: upstream, upstream: client}
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select([client, upstream], [], [], 0.1)
                for src in readable:
                    data = src.recv(65536)
                    if not data:
                        return
                    if src is upstream:
                        sent += len(data)
                        with self._lock:
                            kill = self.resets == 0 and sent > self.after
                            if kill:
                                self.resets += 1
                        if kill:
                            linger = struct.pack("ii", 1, 0)
                            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                            return
                    peer[src].sendall(data)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self._stop.set()
        self._srv.close()


@pytest.mark.parametrize(
    "after",
    [
        0,  # reset during the TLS handshake of the first connection: our retry/backoff
        3 * MiB,  # reset mid-body: the SDK's body re-read or our retry, whichever sees it
    ],
)
def test_connection_reset_is_retried(
    azurite: AzuriteServer, payload: dict[str, bytes], tmp_path: Path, after: int
) -> None:
    proxy = ResettingProxy(azurite.port, after=after)
    try:
        url = azurite.container_sas_url(NAME).replace(f":{azurite.port}/", f":{proxy.port}/")
        dl = BlobDownloader.from_url(
            url, connection_verify=str(azurite.ca_path), range_size=RANGE, threads=2, backoff_s=0.05
        )
        name = "rp1/sales_database.sql"
        blob = RemoteBlob(name, len(payload[name]), "", _md5(payload[name]))
        result = dl.download([blob], tmp_path)
    finally:
        proxy.close()
    assert proxy.resets == 1
    if after == 0:
        assert dl.stats.retries >= 1
    assert result.files[0].path.read_bytes() == payload[name]


def test_shared_key_client_and_raw_readinto_path(
    azurite: AzuriteServer,
    payload: dict[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Data GETs go through the SDK pipeline (shared-key signing) and the raw readinto path."""
    used: list[bool] = []
    real = blobs_mod._raw_readinto

    def spy(http_response: object) -> object:
        fn = real(http_response)
        used.append(fn is not None)
        return fn

    monkeypatch.setattr(blobs_mod, "_raw_readinto", spy)
    container = azurite.service_client().get_container_client(NAME)  # account key, no SAS
    dl = BlobDownloader(container, range_size=RANGE, threads=3)
    name = "rp1/sales_database.sql"
    result = dl.download([name], tmp_path)
    assert result.files[0].path.read_bytes() == payload[name]
    assert result.files[0].verified_by == "content-md5"
    assert used
    assert all(used)


def test_transport_without_raw_body_falls_back_to_chunks(
    downloader: BlobDownloader,
    payload: dict[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(blobs_mod, "_raw_readinto", lambda http_response: None)
    result = downloader.download_prefix(tmp_path, prefix="rp1/")
    for f in result.files:
        assert f.path.read_bytes() == payload[f.name]
        assert f.verified_by == "content-md5"


def test_changed_blob_412_is_reported_as_changed(
    downloader: BlobDownloader, payload: dict[str, bytes], tmp_path: Path
) -> None:
    name = "rp1/hr/Database.sql"
    stale = RemoteBlob(name, len(payload[name]), '"0x8DEADBEEF0000"', _md5(payload[name]))
    with pytest.raises(AppError) as info:
        downloader.download([stale], tmp_path)
    assert "changed while it was being downloaded" in info.value.summary
    assert info.value.retryable
    assert "sig=" not in (info.value.details or "") or "sig=[REDACTED]" in info.value.details


def test_many_threads_share_buffers_without_mixing_ranges(
    azurite: AzuriteServer, payload: dict[str, bytes], tmp_path: Path
) -> None:
    """Small ranges, more threads than the 10-connection pool: MD5 from memory or read-back."""
    dl = BlobDownloader.from_url(
        azurite.container_sas_url(NAME),
        connection_verify=str(azurite.ca_path),
        range_size=256 * 1024,
        threads=12,
    )
    result = dl.download_prefix(tmp_path, prefix="rp1/")
    for f in result.files:
        assert f.path.read_bytes() == payload[f.name]
        assert f.verified_by == "content-md5"


def test_in_order_ranges_feed_the_md5_from_memory(
    azurite: AzuriteServer, payload: dict[str, bytes], tmp_path: Path
) -> None:
    """One worker: every range is next in line, so nothing is read back from disk."""
    dl = BlobDownloader.from_url(
        azurite.container_sas_url(NAME), connection_verify=str(azurite.ca_path),
        range_size=RANGE, threads=1,
    )  # fmt: skip
    result = dl.download(["rp1/sales_database.sql"], tmp_path)
    assert result.files[0].verified_by == "content-md5"
    assert dl.stats.ranges_fetched == 21
    assert dl.stats.ranges_read_back == 0


def test_ranges_ahead_of_a_slow_first_range_are_parked_then_read_back(
    azurite: AzuriteServer, payload: dict[str, bytes], tmp_path: Path
) -> None:
    """Range 0 lags until 8 later ranges are in: 3 wait in memory, the others are read back."""
    name = "rp1/sales_database.sql"
    dl = BlobDownloader.from_url(
        azurite.container_sas_url(NAME), connection_verify=str(azurite.ca_path),
        range_size=RANGE, threads=4,
    )  # fmt: skip
    real = dl._get_range_into
    ahead = threading.Semaphore(0)

    def first_range_lags(blob: RemoteBlob, offset: int, view: memoryview) -> None:
        if offset == 0:
            for _ in range(8):
                assert ahead.acquire(timeout=30)
        real(blob, offset, view)
        if offset != 0:
            ahead.release()

    dl._get_range_into = first_range_lags  # type: ignore[method-assign]
    result = dl.download([name], tmp_path)
    assert result.files[0].path.read_bytes() == payload[name]
    assert result.files[0].verified_by == "content-md5"
    # Measured: 6-9 read back with the 3 spare buffers, 16-18 without them.
    assert 8 - 3 <= dl.stats.ranges_read_back <= 13


def test_a_journal_with_another_range_hash_is_not_trusted(
    azurite: AzuriteServer, payload: dict[str, bytes], tmp_path: Path
) -> None:
    """A journal from the SHA-256 era: its ranges are fetched again, not mis-checked."""
    name = "rp1/hr/Database.sql"
    store = JournalStore(tmp_path / "journal")
    journal = store.create(kind="download", title="t", job_id="old")
    dl = BlobDownloader.from_url(
        azurite.container_sas_url(NAME), connection_verify=str(azurite.ca_path), range_size=RANGE
    )
    props = dl.blob_properties(name)
    part = tmp_path / "out" / "rp1" / "hr" / "Database.sql.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * props.size)
    journal.checkpoint(
        f"blob:{name}",
        {"size": props.size, "etag": props.etag, "range_size": RANGE,
         "done": {"0": hashlib.sha256(b"x").hexdigest()}},
    )  # fmt: skip
    result = dl.download([name], tmp_path / "out", journal=store.open("old"))
    assert dl.stats.ranges_resumed == 0
    assert result.files[0].path.read_bytes() == payload[name]
