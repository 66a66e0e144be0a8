"""Download throughput: BlobDownloader vs SDK ``download_blob(max_concurrency=8)`` vs curl.

Run from the repository root::

    .venv/bin/python -m benchmarks.download [--mb 512] [--blobs 2] [--threads 6] [--range-mb 8]

Starts a throwaway Azurite over HTTPS (``tests/azurite_helper.py``), uploads ``--mb`` MB of
random data as ``--blobs`` block blobs twice (with and without a Content-MD5; whether the
restore-as-files blobs carry one is unconfirmed), then downloads them four ways, each in its
own child process (imports done before the clock starts) so that peak RSS (``ru_maxrss``) is
that method's alone:

* ``ours``: ``BlobDownloader`` on the Content-MD5 blobs (parallel 8 MiB ranged GETs + pwrite
  + whole-file MD5 verification);
* ``plain``: ``BlobDownloader`` on the blobs without one (length + per-range CRC-32);
* ``sdk``: ``download_blob(max_concurrency=8).readinto(file)`` per blob (no verification);
* ``curl``: ``curl --cacert`` on a container-SAS URL per blob, one after another.

Throughput is MB/s (10^6 bytes) over wall time of the download phase. The last line is
machine-readable: ``download ours_mbs=... sdk_mbs=... curl_mbs=... vs_sdk=... vs_curl=...
plain_vs_curl=... peak_rss_mb=...``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess  # noqa: TID251 - a benchmark driving child processes and curl
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
CONTAINER = "bench"


def _upload(az: object, total_mb: int, n_blobs: int, *, md5_header: bool = True) -> list[str]:
    from azure.storage.blob import BlobBlock, ContentSettings

    svc = az.service_client()  # type: ignore[attr-defined]
    container = svc.get_container_client(CONTAINER)
    if not container.exists():
        container.create_container()
    per_blob = total_mb * MiB // n_blobs
    names = []
    block = 8 * MiB
    for k in range(n_blobs):
        name = f"{'rp' if md5_header else 'nomd5'}/db{k}_database.sql"
        bc = container.get_blob_client(name)
        md5 = hashlib.md5(usedforsecurity=False)
        ids = []
        left, i = per_blob, 0
        while left > 0:
            chunk = os.urandom(min(block, left))
            md5.update(chunk)
            block_id = f"{i:08d}"
            bc.stage_block(block_id, chunk)
            ids.append(BlobBlock(block_id))
            left -= len(chunk)
            i += 1
        settings = ContentSettings(content_md5=bytearray(md5.digest())) if md5_header else None
        bc.commit_block_list(ids, content_settings=settings)
        names.append(name)
    return names


def _child(args: argparse.Namespace) -> None:
    """Run one method, print JSON {seconds, bytes, maxrss_mb} on stdout."""
    names = args.names.split(",")
    dest = Path(args.dest)
    # Imports first: the SDK takes ~0.35 s to import, which is not download time.
    from azure.storage.blob import ContainerClient

    from pgflex_gui.azure.blobs import BlobDownloader, download_blob_sdk

    impl: Any = BlobDownloader
    if args.child == "ours" and args.ours_from:  # another implementation (before/after runs)
        import importlib.util

        spec = importlib.util.spec_from_file_location("blobs_other", args.ours_from)
        assert spec is not None
        assert spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod  # dataclasses look their module up
        spec.loader.exec_module(mod)
        impl = mod.BlobDownloader
    t0 = time.perf_counter()
    nbytes = 0
    if args.child == "ours":
        dl = impl.from_url(
            args.url,
            connection_verify=args.ca,
            range_size=args.range_mb * MiB,
            threads=args.threads,
        )
        result = dl.download(names, dest)
        nbytes = sum(f.size for f in result.files)
        assert all(f.verified_by == args.expect for f in result.files)
    elif args.child == "sdk":
        container = ContainerClient.from_container_url(args.url, connection_verify=args.ca)
        for name in names:
            nbytes += download_blob_sdk(container, name, dest / name, max_concurrency=8)
    else:  # pragma: no cover - argparse limits choices
        raise SystemExit(f"unknown method {args.child}")
    seconds = time.perf_counter() - t0
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "bytes": nbytes, "maxrss_mb": maxrss_kb / 1024}))


def _run_child(
    method: str, url: str, ca: Path, names: list[str], dest: Path, args: argparse.Namespace
) -> dict[str, float]:
    argv = [
        sys.executable, "-m", "benchmarks.download", "--child", method, "--url", url,
        "--ca", str(ca), "--dest", str(dest), "--names", ",".join(names),
        "--threads", str(args.threads), "--range-mb", str(args.range_mb),
    ]  # fmt: skip
    if method == "plain":  # ours, on blobs without a Content-MD5 (verified by range CRCs)
        argv[4] = "ours"
        argv += ["--expect", "crc32-ranges"]
    if method == "base":
        argv[4] = "ours"
        argv += ["--ours-from", str(Path(args.base).resolve())]
        if args.base_threads:
            argv[argv.index("--threads") + 1] = str(args.base_threads)
        if args.base_range_mb:
            argv[argv.index("--range-mb") + 1] = str(args.base_range_mb)
    out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"{method} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _run_curl(base: str, sas: str, ca: Path, names: list[str], dest: Path) -> dict[str, float]:
    curl = shutil.which("curl")
    if curl is None:
        return {"seconds": float("nan"), "bytes": 0, "maxrss_mb": float("nan")}
    t0 = time.perf_counter()
    nbytes = 0
    peak_kb = 0
    for name in names:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            curl,
            "-sS",
            "--fail",
            "--cacert",
            str(ca),
            "-o",
            str(target),
            f"{base}/{name}?{sas}",
        ]
        proc = subprocess.Popen(argv)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"curl failed with {proc.returncode}")
        peak_kb = max(peak_kb, usage.ru_maxrss)
        nbytes += target.stat().st_size
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "bytes": nbytes, "maxrss_mb": peak_kb / 1024}


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=int, default=512, help="total MiB to upload (default 512)")
    p.add_argument("--blobs", type=int, default=2, help="number of blobs (default 2)")
    p.add_argument("--threads", type=int, default=6, help="our parallel ranged GETs")
    p.add_argument("--range-mb", type=int, default=8, help="our range size in MiB")
    p.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported")
    p.add_argument(
        "--base",
        help="also run the BlobDownloader of this blobs.py (e.g. the previous version) as 'base'",
    )
    p.add_argument("--base-threads", type=int, help="--threads for 'base' (default: same)")
    p.add_argument("--base-range-mb", type=int, help="--range-mb for 'base' (default: same)")
    p.add_argument("--child", choices=["ours", "sdk"], help=argparse.SUPPRESS)
    p.add_argument("--ours-from", help=argparse.SUPPRESS)
    p.add_argument("--expect", default="content-md5", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--ca", help=argparse.SUPPRESS)
    p.add_argument("--dest", help=argparse.SUPPRESS)
    p.add_argument("--names", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args)
        return 0

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.azurite_helper import AzuriteServer

    methods = ["ours", "plain", "sdk", "curl"] + (["base"] if args.base else [])
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    work = Path(tempfile.mkdtemp(prefix="bench-download-"))
    try:
        with AzuriteServer.start(work / "azurite") as az:
            t0 = time.perf_counter()
            names = _upload(az, args.mb, args.blobs)
            plain_names = _upload(az, args.mb, args.blobs, md5_header=False)
            print(
                f"uploaded {args.mb} MiB as {len(names)} blobs in {time.perf_counter() - t0:.1f}s"
            )
            url = az.container_sas_url(CONTAINER)
            base, sas = url.split("?", 1)
            for round_no in range(args.repeat):
                # Rotate the order each round so no method always runs first (warm caches).
                order = methods[round_no % len(methods) :] + methods[: round_no % len(methods)]
                for method in order:
                    dest = work / f"out-{method}"
                    dest.mkdir()
                    if method == "curl":
                        r = _run_curl(base, sas, az.ca_path, names, dest)
                    else:
                        r = _run_child(
                            method, url, az.ca_path,
                            plain_names if method == "plain" else names, dest, args,
                        )  # fmt: skip
                    shutil.rmtree(dest, ignore_errors=True)
                    r["mbs"] = r["bytes"] / 1e6 / r["seconds"] if r["seconds"] else float("nan")
                    runs[method].append(r)
                    print(
                        f"[{round_no + 1}] {method:5s} {r['bytes'] / 1e6:8.1f} MB in "
                        f"{r['seconds']:6.2f}s = {r['mbs']:7.1f} MB/s  "
                        f"peak RSS {r['maxrss_mb']:6.1f} MiB"
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {m: statistics.median(r["mbs"] for r in rs) for m, rs in runs.items()}
    rss = {m: max(r["maxrss_mb"] for r in rs) for m, rs in runs.items()}
    for m in methods:
        print(f"median {m:5s} {med[m]:7.1f} MB/s  max peak RSS {rss[m]:6.1f} MiB")
    if args.base:
        print(f"ours/base={med['ours'] / med['base']:.2f}")
    ours, sdk, curl = med["ours"], med["sdk"], med["curl"]
    print(
        f"download ours_mbs={ours:.1f} sdk_mbs={sdk:.1f} curl_mbs={curl:.1f} "
        f"vs_sdk={ours / sdk:.2f} vs_curl={ours / curl:.2f} "
        f"plain_vs_curl={med['plain'] / curl:.2f} "
        f"peak_rss_mb={max(rss['ours'], rss['plain']):.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
