"""End-to-end restore time: the pipelined engine vs the documented manual way.

Run from the repository root::

    .venv/bin/python -m benchmarks.restore [--dump-gb 1.0] [--jobs 2] [--parallel 2]

Builds a sandbox data plane (Azurite over HTTPS + real PostgreSQL): a source server with the
four seed databases plus bulk tables giving about ``--dump-gb`` GB of dumps in total, split
40/30/20/10 % (analytics, sales, inventory, hr; ``--mix`` to change), a vault backup
(pg_dump -Fc -Z1),
restore-as-files into a container, and two empty target servers. Then:

* ``engine``: ``RestoreEngine`` (incident mode: container URL + SAS, existing target) in a
  freshly spawned process: verified parallel downloads, each database's pg_restore -j
  starting as soon as its file is verified, ``--parallel`` databases at once; measured wall
  time and peak RSS (``ru_maxrss`` of that process, so the setup's memory is not counted);
* ``manual``: the documented way, one after another: ``download_blob`` each file, then
  ``pg_restore --no-owner -j N`` each database;
* download throughput of the engine's downloads vs ``curl`` and vs SDK
  ``download_blob(max_concurrency=8)`` of the same files.

Last line: ``restore e2e_s=… manual_s=… ratio=… download_vs_curl=… download_vs_sdk=…
peak_rss_mb=…`` where ``ratio`` is e2e_s / manual_s (the target is ≤ 0.6). The issue's shape is
``--dump-gb 2`` (about 12 minutes here, most of it seeding and dumping); the default 1.0
takes about 6.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import subprocess  # noqa: TID251 - a benchmark driving pg_restore and curl
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trustme

from pgflex_gui.sandbox.pgdata import BENCH_MIX, bulk_sql

PASSWORD = "Bench-Pass-1"
ACCOUNT = "benchacct"
CONTAINER = "restores"


def _tls(d: Path) -> dict[str, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"tls_cert": d / "cert.pem", "tls_key": d / "key.pem", "ca_bundle": d / "ca.pem"}
    paths["tls_cert"].write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(paths["tls_key"]))
    ca.cert_pem.write_to_path(str(paths["ca_bundle"]))
    return paths


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far (Linux ``/proc/stat``; else zeros)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _busy_since(start: tuple[int, int]) -> float:
    """Share of the machine's CPU time that was busy since ``start`` (0-100 %)."""
    busy, total = _cpu_jiffies()
    return 100.0 * (busy - start[0]) / max(1, total - start[1])


def _run_engine(plan: Any, url: str, ca: str, out: Any, session_secrets: dict[str, str]) -> None:
    """Child process: run the engine; send (result, wall seconds, peak RSS in MB) or an error.

    ``session_secrets`` arrive through the spawn pipe when there is no keyring service (the
    parent's secrets then live in its memory only); with a keyring they are already there.
    """
    from pgflex_gui.azure.blobs import BlobDownloader
    from pgflex_gui.jobs.job import CancelToken, JobContext
    from pgflex_gui.jobs.journal import JobJournal
    from pgflex_gui.jobs.restore import RestoreEngine
    from pgflex_gui.jobs.restore_adapters import LocalPgRunner
    from pgflex_gui.keystore import Keystore

    try:
        secrets = Keystore()
        for key, value in session_secrets.items():
            secrets.set(key, value)
        downloader = BlobDownloader.from_url(url, secrets.get("sas"), connection_verify=ca)
        engine = RestoreEngine(
            plan, arm=None, downloader=downloader, pg=LocalPgRunner(), secrets=secrets
        )
        t = time.monotonic()
        result = engine.run(JobContext(token=CancelToken(), journal=JobJournal.in_memory()))
        e2e = time.monotonic() - t
        out.send((result, e2e, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as text
        out.send(f"{type(exc).__name__}: {exc}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the summary line."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dump-gb", type=float, default=1.0, help="approximate GB of dumps")
    ap.add_argument(
        "--mix",
        default=",".join(f"{k}={v:g}" for k, v in BENCH_MIX.items()),
        help="share of the dump bytes per database",
    )
    ap.add_argument("--jobs", type=int, default=2, help="pg_restore -j (target vCores)")
    ap.add_argument("--parallel", type=int, default=2, help="databases restored at once")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args(argv)

    from azure.storage.blob import ContainerClient, ContainerSasPermissions, generate_container_sas

    from pgflex_gui.azure.blobs import download_blob_sdk
    from pgflex_gui.jobs.restore_plan_file import ContainerSpec, RestorePlanFile, TargetSpec
    from pgflex_gui.keystore import Keystore
    from pgflex_gui.sandbox.dataplane import LocalDataPlane
    from pgflex_gui.sandbox.pgcluster import installed_majors

    work = Path(tempfile.mkdtemp(prefix="pgflex-bench-restore-"))
    # Traversable by the postgres user, so the clusters live (and are removed) under ``work``
    # instead of leaking ~1.5 GB per run into /tmp/pgflex-sandbox-pg.
    work.chmod(0o711)
    plane = LocalDataPlane(work / "dp", **_tls(work))
    try:
        plane.start()
        t = time.monotonic()
        plane.create_server("src", version="15", admin_login="pgadmin", admin_password=PASSWORD)
        for key in ("dst1", "dst2"):
            plane.create_server(key, version="15", admin_login="pgadmin", admin_password=PASSWORD)
        mix = {k: float(v) for k, v in (kv.split("=") for kv in args.mix.split(","))}
        plane.seed_source_databases("src", scale=0)

        def bulk(db: str) -> None:
            sql = bulk_sql(db, args.dump_gb * 1000 * mix[db] / sum(mix.values()))
            plane.psql("src", "SET ROLE pgadmin;\n" + sql, db=db)

        # Seeding alone runs without durability; the targets are durable like a flexible server.
        with plane.fast_writes("src"), ThreadPoolExecutor(2) as pool:  # 2 cores
            list(pool.map(bulk, sorted(mix, key=mix.__getitem__, reverse=True)))
        source_counts = {db: plane.table_counts("src", db) for db in mix}
        print(f"seeded {time.monotonic() - t:.1f} s", flush=True)
        for key in ("dst1", "dst2"):  # incident mode has no ARM to allow-list extensions
            plane.set_configuration(key, "azure.extensions", "pgcrypto,hstore")
        plane.backup("src", "rp-bench")
        ep = plane.create_storage_account(ACCOUNT)
        plane.blob_service(ACCOUNT).create_container(CONTAINER)
        names = plane.restore_as_files("rp-bench", account=ACCOUNT, container=CONTAINER, prefix="")
        print(f"setup {time.monotonic() - t:.1f} s, blobs: {names}", flush=True)
        ca = str(work / "ca.pem")
        url = ep.blob_endpoint.rstrip("/") + "/" + CONTAINER
        sas = generate_container_sas(
            ACCOUNT, CONTAINER, account_key=ep.key,
            permission=ContainerSasPermissions(read=True, list=True),
            expiry=datetime.now(UTC) + timedelta(hours=3),
        )  # fmt: skip
        secrets = Keystore()
        secrets.set("sas", sas)
        secrets.set("pw", PASSWORD)
        dbs = [n for n in names if "_database_" in n or n.startswith("database_")]

        # 1. the engine
        dst1 = plane.endpoint("dst1")
        assert dst1 is not None
        plan = RestorePlanFile(
            container=ContainerSpec(url=url, sas_entry="sas"),
            target=TargetSpec(
                mode="existing",
                host=dst1.host,
                port=dst1.port,
                password_entry="pw",
                vcores=args.jobs,
            ),
            download_dir=str(work / "engine-dl"),
            parallel_restores=args.parallel,
            source_counts=source_counts,
        )
        # In a fresh (spawned) process, so its peak RSS is the engine's, not the setup's.
        spawn = multiprocessing.get_context("spawn")
        parent_end, child_end = spawn.Pipe()
        passed = {"sas": sas, "pw": PASSWORD} if secrets.session_only else {}
        child = spawn.Process(target=_run_engine, args=(plan, url, ca, child_end, passed))
        cpu0 = _cpu_jiffies()
        child.start()
        while not parent_end.poll(1.0):
            if not child.is_alive():  # died before sending anything (e.g. an import error)
                raise SystemExit(f"engine process died with exit code {child.exitcode}")
        outcome = parent_end.recv()
        child.join()
        engine_busy = _busy_since(cpu0)
        if isinstance(outcome, str):
            raise SystemExit(f"engine failed: {outcome}")
        result, e2e, peak_rss = outcome
        assert result.ok, [(d.name, d.status, d.message) for d in result.databases]
        dl_bars = [b for b in result.timeline if b.lane == "download" and b.end]
        dl_s = max(b.end for b in dl_bars) - min(b.start for b in dl_bars)
        total = sum(d.size for d in result.databases)
        ours_mbs = total / 1e6 / dl_s
        print("engine stages (s from start: start-end = length):", flush=True)
        for b in result.timeline:
            a, z = b.start - result.started, (b.end or b.start) - result.started
            print(f"  {b.lane:8} {b.label:10} {a:6.1f}-{z:6.1f} = {z - a:5.1f}", flush=True)
        for d in result.databases:
            print(f"  {d.name}: {d.size / 1e6:.0f} MB, {len(d.row_counts)} tables verified")

        # 2. the manual way: download everything, then pg_restore each, one by one
        bin_dir = installed_majors()["15"]
        dst2 = plane.endpoint("dst2")
        assert dst2 is not None
        client = ContainerClient.from_container_url(url, credential=sas, connection_verify=ca)
        man = work / "manual"
        man.mkdir()
        t = time.monotonic()
        cpu0 = _cpu_jiffies()
        for name in dbs:
            download_blob_sdk(client, name, man / name, max_concurrency=1)
        man_dl = time.monotonic() - t
        env = {"PGPASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"}
        man_steps = []
        for name in dbs:
            t1 = time.monotonic()
            db = name.split("_database_", 1)[-1].removesuffix(".sql")
            base = ["-h", dst2.host, "-p", str(dst2.port), "-U", "pgadmin"]
            subprocess.run([str(bin_dir / "psql"), *base, "-d", "postgres", "-c",
                            f'create database "{db}"'], env=env, check=True,
                           capture_output=True)  # fmt: skip
            subprocess.run([str(bin_dir / "pg_restore"), *base, "-d", db, "--no-owner",
                            "-j", str(args.jobs), str(man / name)], env=env, check=False,
                           capture_output=True)  # fmt: skip
            man_steps.append(f"{db} {time.monotonic() - t1:.1f}")
        manual = time.monotonic() - t
        manual_busy = _busy_since(cpu0)
        print(f"manual: download {man_dl:.1f} s, pg_restore {', '.join(man_steps)}", flush=True)

        # 3. download baselines: SDK max_concurrency=8 and curl
        sdk_dir = work / "sdk"
        sdk_dir.mkdir()
        t = time.monotonic()
        for name in dbs:
            download_blob_sdk(client, name, sdk_dir / name, max_concurrency=8)
        sdk_mbs = total / 1e6 / (time.monotonic() - t)
        curl = shutil.which("curl")
        curl_mbs = float("nan")
        if curl:
            t = time.monotonic()
            for name in dbs:
                out = str(sdk_dir / (name + ".c"))
                subprocess.run([curl, "-sS", "-f", "--cacert", ca, "-o", out,
                                f"{url}/{name}?{sas}"], check=True)  # fmt: skip
            curl_mbs = total / 1e6 / (time.monotonic() - t)
        # On a saturated machine overlap cannot help: the manual way already keeps the cores
        # busy during pg_restore -j, so e2e is bounded by the total CPU work.
        print(
            f"cpu busy ({os.cpu_count()} cores): engine {engine_busy:.0f} %, "
            f"manual {manual_busy:.0f} %",
            flush=True,
        )
        print(f"databases: {[d.name for d in result.databases]}, {total / 1e6:.0f} MB of dumps")
        print(f"engine {e2e:.1f} s (download {dl_s:.1f} s, {ours_mbs:.0f} MB/s); manual "
              f"{manual:.1f} s; sdk {sdk_mbs:.0f} MB/s; curl {curl_mbs:.0f} MB/s")  # fmt: skip
        print(
            f"restore e2e_s={e2e:.1f} manual_s={manual:.1f} ratio={e2e / manual:.2f} "
            f"download_vs_curl={ours_mbs / curl_mbs:.2f} download_vs_sdk={ours_mbs / sdk_mbs:.2f} "
            f"peak_rss_mb={peak_rss:.0f}"
        )
    finally:
        plane.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
