"""Restore time into Azure-configured targets: the engine, the manual way, and the floor.

Run from the repository root::

    .venv/bin/python -m benchmarks.restore [--dump-gb 0.3] [--jobs 2] [--parallel 2]

Builds a sandbox data plane (Azurite over HTTPS + real PostgreSQL 15): a source server with the
four seed databases plus bulk tables giving about ``--dump-gb`` GB of dumps in total, split
40/30/20/10 % (analytics, sales, inventory, hr; ``--mix`` to change), a vault backup
(pg_dump -Fc -Z1), restore-as-files into a container, and three empty target servers. The
targets run with a flexible server's defaults (``sandbox/pgcluster.py``: fsync,
full_page_writes and synchronous_commit on, checkpoint_timeout 600 s, max_wal_size 12288 MB,
maintenance_work_mem 216064 kB, autovacuum on); only the source's seeding runs without
durability. Then, in one run:

* ``engine``: ``RestoreEngine`` (incident mode: container URL + SAS, an existing target the
  user lets it tune) in a freshly spawned process: verified parallel downloads, each
  database's pg_restore starting as soon as its file is verified, ``--parallel`` databases
  at once, Microsoft's restore parameters (``domain/restore_tuning.py``) set before the load
  and put back after it, VACUUM ANALYZE of what was loaded, row counts verified. The
  parameters go through a stand-in for ARM that does what the sandbox's ARM does for a
  configuration PUT (``ALTER SYSTEM`` + reload). Wall time and peak RSS (``ru_maxrss`` of
  that process, so the setup's memory is not counted);
* ``manual``: the public runbooks' way: download every file (SDK ``download_blob``), then
  ``pg_restore --no-owner -j N`` each database, one after another, default parameters;
* ``floor``: restore only: the files already local, the tuned parameters, the engine's
  schedule (largest first, ``--parallel`` at once sharing ``-j`` vCores) and its VACUUM
  ANALYZE; nothing downloaded, nothing verified;
* each tuning alone: the floor's schedule with default parameters, then with exactly one
  tuned parameter, so each parameter's effect is measured on its own;
* download throughput of the engine's downloads vs ``curl`` and vs SDK
  ``download_blob(max_concurrency=8)`` of the same files.

Targets: ``ratio`` (e2e_s / manual_s) ≤ 0.7, ``vs_floor`` (e2e_s / floor_s) ≤ 1.1, peak RSS
≤ 150 MB. A missed target prints the measured reason. Last line::

    restore e2e_s=… manual_s=… ratio=… floor_s=… vs_floor=… peak_rss_mb=…

About 4 minutes here at the default ``--dump-gb 0.3`` (11 restores of every database).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import subprocess  # noqa: TID251 - a benchmark driving pg_restore, psql and curl
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trustme

from pgflex_gui.sandbox.pgdata import BENCH_MIX, bulk_sql

PASSWORD = "Bench-Pass-1"
ACCOUNT = "benchacct"
CONTAINER = "restores"
SERVER_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/bench/providers/"
    "Microsoft.DBforPostgreSQL/flexibleServers/"
)
TARGETS = {"ratio": 0.7, "vs_floor": 1.1, "peak_rss_mb": 150.0}


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


def _sql_as_superuser(psql: str, conn_args: Sequence[str], sql: str, db: str = "postgres") -> str:
    argv = [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", *conn_args, "-d", db]
    proc = subprocess.run(argv, input=sql, text=True, capture_output=True, check=False,
                          env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"psql failed: {proc.stderr.strip()}")
    return proc.stdout


def _db_of(blob: str) -> str:
    """The database of a ``{prefix}_database_{db}.sql`` file ("" for any other file)."""
    if "_database_" not in blob and not blob.startswith("database_"):
        return ""
    return blob.split("_database_", 1)[-1].removeprefix("database_").removesuffix(".sql")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class ParamArm:
    """The slice of the engine's ``RestoreArm`` port an existing, tunable target needs.

    Its endpoint, and server parameters read and set the way the sandbox's ARM serves a
    ``configurations`` GET/PUT (``pg_settings`` in the parameter's base unit; ``ALTER
    SYSTEM`` + reload as the bootstrap superuser over the cluster's socket). Nothing else of
    ARM is used in incident mode.
    """

    def __init__(self, psql: str, conn_args: Sequence[str], host: str, port: int) -> None:
        self._psql, self._conn = psql, list(conn_args)
        self._host, self._port = host, port
        self.sets: list[tuple[str, str]] = []

    def _sql(self, sql: str) -> str:
        return _sql_as_superuser(self._psql, self._conn, sql)

    def server_endpoint(self, target: Any) -> tuple[str, int, str]:
        return self._host, self._port, ""

    def get_parameter(self, target: Any, name: str) -> str:
        out = self._sql(f"SELECT setting FROM pg_settings WHERE name = {_quote(name)};").strip()
        if not out:
            out = self._sql(f"SELECT current_setting({_quote(name)}, true);").strip()
        return out

    def set_parameter(self, target: Any, name: str, value: str, *, check: Any) -> None:
        self.sets.append((name, value))
        self._sql(f"ALTER SYSTEM SET {name} = {_quote(value)};\nSELECT pg_reload_conf();\n")

    def _no(self, *_: Any, **__: Any) -> Any:
        raise NotImplementedError("not used by an incident-mode restore into an existing server")

    validate_restore = trigger_restore = get_job = server_exists = _no
    create_server = ensure_firewall_rule = restart_server = _no


def _run_engine(
    plan: Any, url: str, ca: str, out: Any, session_secrets: dict[str, str], arm_args: tuple
) -> None:
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
        arm = ParamArm(*arm_args)
        engine = RestoreEngine(
            plan,
            arm=arm,  # type: ignore[arg-type]
            downloader=downloader,
            pg=LocalPgRunner(),
            secrets=secrets,
        )
        t = time.monotonic()
        result = engine.run(JobContext(token=CancelToken(), journal=JobJournal.in_memory()))
        e2e = time.monotonic() - t
        out.send((result, e2e, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as text
        out.send(f"{type(exc).__name__}: {exc}")


class LocalRestorer:
    """Restores the local files into one target, as the engine schedules them."""

    def __init__(
        self,
        plane: Any,
        key: str,
        bin_dir: Path,
        files: Mapping[str, Path],
        *,
        jobs: int,
        parallel: int,
    ) -> None:
        self.plane, self.key, self.bin_dir = plane, key, bin_dir
        self.files = dict(sorted(files.items(), key=lambda kv: -kv[1].stat().st_size))
        self.jobs, self.parallel = jobs, parallel
        ep = plane.endpoint(key)
        self.base = ["-h", ep.host, "-p", str(ep.port), "-U", "pgadmin"]
        self.env = {"PGPASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"}

    def set_parameters(self, params: Mapping[str, str], names: Sequence[str]) -> None:
        """Reset ``names`` to the server's defaults, then set ``params``; reload."""
        sql = "".join(f"ALTER SYSTEM RESET {n};\n" for n in names)
        sql += "".join(f"ALTER SYSTEM SET {n} = {_quote(v)};\n" for n, v in params.items())
        self.plane.psql(self.key, sql + "SELECT pg_reload_conf();\n")
        time.sleep(0.2)  # the postmaster passes the reload on to new backends

    def _client(self, tool: str, *args: str, check: bool = True) -> None:
        subprocess.run([str(self.bin_dir / tool), *self.base, *args], env=self.env,
                       check=check, capture_output=True)  # fmt: skip

    def restore_all(self, *, analyze: bool) -> float:
        """Restore every database (+ VACUUM ANALYZE); seconds. Drops them again afterwards."""
        lock = threading.Lock()
        in_use = [0]

        def one(item: tuple[str, Path]) -> None:
            db, path = item
            with lock:
                jobs = max(1, self.jobs - in_use[0])
                in_use[0] += jobs
            try:
                self._client("psql", "-d", "postgres", "-c", f'create database "{db}"')
                self._client("pg_restore", "-d", db, "--no-owner", "--no-privileges",
                             "-j", str(jobs), str(path), check=False)  # fmt: skip
            finally:
                with lock:
                    in_use[0] -= jobs
            if analyze:
                self._client("psql", "-d", db, "-c", "vacuum (analyze)")

        t = time.monotonic()
        with ThreadPoolExecutor(self.parallel) as pool:
            list(pool.map(one, self.files.items()))
        took = time.monotonic() - t
        self.drop_all()
        return took

    def drop_all(self) -> None:
        for db in self.files:
            self.plane.psql(self.key, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE);')
        self.plane.psql(self.key, "CHECKPOINT;")  # every run starts from the same WAL state


def _reasons(
    *,
    ratio: float,
    vs_floor: float,
    peak_rss: float,
    e2e: float,
    manual: float,
    man_dl: float,
    floor: float,
    default_sched: float,
    manual_busy: float,
    engine_busy: float,
    stages: Mapping[str, float],
) -> list[str]:
    """Why a target was missed, in measured numbers (empty when every target is met)."""
    out = []
    if ratio > TARGETS["ratio"]:
        restore_only = manual - man_dl
        out.append(
            f"ratio {ratio:.2f} > {TARGETS['ratio']}: the manual way spends {man_dl:.1f} s "
            f"downloading and {restore_only:.1f} s in pg_restore with the cores "
            f"{manual_busy:.0f} % busy ({os.cpu_count()} cores shared by the servers, Azurite "
            f"and the clients). Overlapping the downloads can save at most {man_dl:.1f} s; the "
            f"engine's schedule with default parameters restores in {default_sched:.1f} s and "
            f"the tuned parameters bring that to {floor:.1f} s, so even a free download and no "
            f"verification would give {floor / manual:.2f} x the manual way."
        )
    if vs_floor > TARGETS["vs_floor"]:
        extra = ", ".join(f"{k} {v:.1f} s" for k, v in stages.items() if v >= 0.05)
        out.append(
            f"vs_floor {vs_floor:.2f} > {TARGETS['vs_floor']}: the engine does more than the "
            f"floor ({extra}); cores {engine_busy:.0f} % busy during the engine run."
        )
    if peak_rss > TARGETS["peak_rss_mb"]:
        out.append(f"peak RSS {peak_rss:.0f} MB > {TARGETS['peak_rss_mb']:.0f} MB")
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the summary line."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dump-gb", type=float, default=0.3, help="approximate GB of dumps")
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
    from pgflex_gui.domain.restore_tuning import (
        TUNED_PARAMETERS,
        memory_gib_for_sku,
        restore_tuning,
    )
    from pgflex_gui.jobs.restore_plan_file import ContainerSpec, RestorePlanFile, TargetSpec
    from pgflex_gui.keystore import Keystore
    from pgflex_gui.sandbox.dataplane import LocalDataPlane
    from pgflex_gui.sandbox.pgcluster import installed_majors

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="pgflex-bench-restore-"))
    # Traversable by the postgres user, so the clusters live (and are removed) under ``work``
    # instead of leaking ~1.5 GB per run into /tmp/pgflex-sandbox-pg.
    work.chmod(0o711)
    plane = LocalDataPlane(work / "dp", **_tls(work))
    try:
        plane.start()
        t = time.monotonic()
        for key in ("src", "dst1", "dst2", "dst3"):
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
        for key in ("dst1", "dst2", "dst3"):  # as the engine would allow-list them
            plane.set_configuration(key, "azure.extensions", "pgcrypto,hstore")
        defaults = {n: plane.psql("dst1", f"SELECT setting FROM pg_settings WHERE name = "
                                  f"'{n}';").strip() for n in TUNED_PARAMETERS}  # fmt: skip
        print("target defaults (flexible server): "
              + ", ".join(f"{k}={v}" for k, v in defaults.items()), flush=True)  # fmt: skip
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
        dbs = [n for n in names if _db_of(n) in mix]  # not the system databases' files

        # 1. the engine, tuning an existing target the user allows it to change
        dst1 = plane.endpoint("dst1")
        assert dst1 is not None
        plan = RestorePlanFile(
            container=ContainerSpec(url=url, sas_entry="sas"),
            target=TargetSpec(
                mode="existing",
                server_id=SERVER_ID + "dst1",
                host=dst1.host,
                port=dst1.port,
                password_entry="pw",
                vcores=args.jobs,
                tuning="on",
            ),
            download_dir=str(work / "engine-dl"),
            parallel_restores=args.parallel,
            source_counts=source_counts,
        )
        c1 = plane._cluster("dst1")  # the benchmark's own sandbox
        arm_args = (c1.tool("psql"), c1.conn_args(), dst1.host, dst1.port)
        # In a fresh (spawned) process, so its peak RSS is the engine's, not the setup's.
        spawn = multiprocessing.get_context("spawn")
        parent_end, child_end = spawn.Pipe()
        passed = {"sas": sas, "pw": PASSWORD} if secrets.session_only else {}
        child = spawn.Process(target=_run_engine, args=(plan, url, ca, child_end, passed, arm_args))
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
        assert result.tuning, "the engine did not tune the target"
        assert result.tuning_reverted, "the engine did not put the parameters back"
        after = {n: plane.psql("dst1", f"SELECT setting FROM pg_settings WHERE name = "
                               f"'{n}';").strip() for n in TUNED_PARAMETERS}  # fmt: skip
        assert after == defaults, f"parameters not put back: {after} != {defaults}"
        dl_bars = [b for b in result.timeline if b.lane == "download" and b.end]
        dl_s = max(b.end for b in dl_bars) - min(b.start for b in dl_bars)
        total = sum(d.size for d in result.databases)
        ours_mbs = total / 1e6 / dl_s
        print("engine stages (s from start: start-end = length):", flush=True)
        stages: dict[str, float] = {}
        first_restore = min(
            (b.start for b in result.timeline if b.lane == "restore"), default=result.started
        )
        stages["before the first pg_restore"] = first_restore - result.started
        for b in result.timeline:
            a, z = b.start - result.started, (b.end or b.start) - result.started
            print(f"  {b.lane:8} {b.label:32} {a:6.1f}-{z:6.1f} = {z - a:5.1f}", flush=True)
            if b.lane == "verify":
                kind = "VACUUM ANALYZE" if b.label.startswith("VACUUM") else "row-count checks"
                stages[kind] = stages.get(kind, 0.0) + (z - a)
            elif b.lane == "server":
                stages["parameters"] = stages.get("parameters", 0.0) + (z - a)
        for d in result.databases:
            print(f"  {d.name}: {d.size / 1e6:.0f} MB, {len(d.row_counts)} tables verified")
        print("  tuning: " + "; ".join(c.line for c in result.tuning) + " (put back)")

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
            db = _db_of(name)
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

        # 3. the floor and each tuning alone: the files already local, the engine's schedule
        files = {_db_of(n): man / n for n in dbs}
        local = LocalRestorer(plane, "dst3", bin_dir, files, jobs=args.jobs,
                              parallel=args.parallel)  # fmt: skip
        tuned = {
            c.name: c.tuned
            for c in restore_tuning(
                defaults, vcores=args.jobs, memory_gib=memory_gib_for_sku("Standard_D2ds_v5",
                                                                          args.jobs)
            )
        }  # fmt: skip
        local.set_parameters(tuned, TUNED_PARAMETERS)
        floor = local.restore_all(analyze=True)
        local.set_parameters({}, TUNED_PARAMETERS)
        default_sched = local.restore_all(analyze=True)
        print(f"floor (local files, tuned, engine's schedule, + VACUUM ANALYZE): {floor:.1f} s; "
              f"same with default parameters {default_sched:.1f} s", flush=True)  # fmt: skip
        print("each tuning alone (restore + VACUUM ANALYZE, vs default parameters):", flush=True)
        for name, value in tuned.items():
            local.set_parameters({name: value}, TUNED_PARAMETERS)
            took = local.restore_all(analyze=True)
            # Time against default parameters: negative = this tuning alone made it faster.
            change = 100.0 * (took - default_sched) / default_sched
            words = "faster" if change < 0 else "slower"
            print(f"  {name} {defaults[name]} -> {value}: {took:.1f} s "
                  f"({change:+.0f} % time, {abs(change):.0f} % {words})",
                  flush=True)  # fmt: skip
        local.set_parameters({}, TUNED_PARAMETERS)

        # 4. download baselines: SDK max_concurrency=8 and curl
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
        print(
            f"cpu busy ({os.cpu_count()} cores): engine {engine_busy:.0f} %, "
            f"manual {manual_busy:.0f} %",
            flush=True,
        )
        print(f"databases: {[d.name for d in result.databases]}, {total / 1e6:.0f} MB of dumps")
        print(f"download: engine {ours_mbs:.0f} MB/s ({dl_s:.1f} s), sdk {sdk_mbs:.0f} MB/s, "
              f"curl {curl_mbs:.0f} MB/s: download_vs_curl={ours_mbs / curl_mbs:.2f} "
              f"download_vs_sdk={ours_mbs / sdk_mbs:.2f}")  # fmt: skip
        ratio, vs_floor = e2e / manual, e2e / floor
        reasons = _reasons(
            ratio=ratio, vs_floor=vs_floor, peak_rss=peak_rss, e2e=e2e, manual=manual,
            man_dl=man_dl, floor=floor, default_sched=default_sched, manual_busy=manual_busy,
            engine_busy=engine_busy, stages=stages,
        )  # fmt: skip
        for line in reasons:
            print("target missed: " + line)
        print(f"benchmark ran {time.monotonic() - started:.0f} s", flush=True)
        print(
            f"restore e2e_s={e2e:.1f} manual_s={manual:.1f} ratio={ratio:.2f} "
            f"floor_s={floor:.1f} vs_floor={vs_floor:.2f} peak_rss_mb={peak_rss:.0f}"
        )
    finally:
        plane.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
