"""Workloads 1 and 2: push a big random blob (monolithic, chunked), pull it, Range-read it.

* Two random blobs of ``blob_bytes`` are written once per run into the run's temporary
  directory (A for the monolithic push and the pulls, B for the chunked push, so neither
  push finds its blob already stored) and read once, so the client reads them from the page
  cache.
* ``push_monolithic``: POST, then one ``curl -T`` PUT of the whole file with ``?digest=``
  (``Expect:`` cleared, as docker-era clients and the stack measurement did).
* ``push_chunked``: POST, PATCHes of 16 MiB with ``Content-Range`` over one keep-alive
  connection (``http.client``, the body sent with sendfile(2) from the page cache, so the
  client costs almost nothing), then ``PUT ?digest=`` with an empty body.
* ``push_monolithic`` on the ``ceiling`` server: the same curl PUT into ``bench/ceiling.py``
  (receive, sha256, write, fsync under granian), in the same rotation as the registries:
  what one core can do, for "Dockyard as % of the ceiling".
* ``pull``: ``curl -o /dev/null`` of A, ``pulls`` times; MiB/s over their summed curl
  transfer times.
* ``pull_range``: ``range_reads`` reads of ``range_bytes`` at random offsets (the same
  offsets for every server), all from one curl process over one connection.

``sync`` runs (untimed) before each push, so the dirty pages of the previous push are not
written back during the next one (Distribution does not fsync; Dockyard and the ceiling do).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import tools
from harness import Context, Group, MiB, Step
from regclient import Client, RegistryError, write_random_file
from servers import Server

REPO = "bench/big"


def prepare_run(ctx: Context) -> None:
    size = ctx.sizes.blob_bytes
    for key in ("A", "B"):
        path = ctx.tmp_dir / f"blob-{key}.bin"
        t0 = time.perf_counter()
        digest = write_random_file(str(path), size)
        with open(path, "rb") as f:  # warm the page cache
            while f.read(16 * MiB):
                pass
        ctx.shared[f"blob{key}"] = (path, digest)
        print(f"  blob {key}: {size / MiB:.0f} MiB {digest[:19]}… in "
              f"{time.perf_counter() - t0:.1f}s", flush=True)


def _blob(ctx: Context, key: str) -> tuple[Path, str]:
    value: tuple[Path, str] = ctx.shared[f"blob{key}"]  # type: ignore[assignment]
    return value


def _curl_put(ctx: Context, server: Server, path: Path, digest: str, url: str
              ) -> dict[str, float]:
    size = ctx.sizes.blob_bytes
    t0 = time.perf_counter()
    run = tools.curl_upload(url, path, timeout=600)
    wall = time.perf_counter() - t0
    transfers = tools.curl_transfers(run)
    if run.returncode != 0 or not transfers or transfers[0][0] != 201:
        raise RegistryError(f"PUT {url}: curl rc={run.returncode} {run.stdout.strip()} "
                            f"{run.stderr.strip()[:300]}")
    if transfers[0][1] != size:
        raise RegistryError(f"curl uploaded {transfers[0][1]} of {size} bytes")
    return {"put_s": wall, "client_cpu_s": run.client_cpu_s}


def push_monolithic(ctx: Context, server: Server) -> dict[str, float]:
    if server.name == "ceiling":
        return push_ceiling(ctx, server)
    path, digest = _blob(ctx, "A")
    t0 = time.perf_counter()
    client = Client(server.port)
    location = client.start_upload(REPO)
    client.close()
    url = server.base + Client.with_query(location, digest=digest)
    result = _curl_put(ctx, server, path, digest, url)
    seconds = time.perf_counter() - t0
    _check_stored(server, digest, ctx.sizes.blob_bytes)
    return {"MiB_per_s": ctx.sizes.blob_bytes / MiB / seconds, "seconds": seconds, **result}


def push_ceiling(ctx: Context, server: Server) -> dict[str, float]:
    path, digest = _blob(ctx, "A")
    t0 = time.perf_counter()
    result = _curl_put(ctx, server, path, digest, f"{server.base}/upload")
    seconds = time.perf_counter() - t0
    for leftover in server.storage.iterdir():  # untimed: keep the disk free
        leftover.unlink()
    return {"MiB_per_s": ctx.sizes.blob_bytes / MiB / seconds, "seconds": seconds, **result}


def push_chunked(ctx: Context, server: Server) -> dict[str, float]:
    path, digest = _blob(ctx, "B")
    size = ctx.sizes.blob_bytes
    cpu0 = os.times()
    t0 = time.perf_counter()
    client = Client(server.port)
    patches = client.push_file_chunked(REPO, str(path), size, digest, ctx.sizes.chunk_bytes)
    seconds = time.perf_counter() - t0
    cpu1 = os.times()
    client.close()
    _check_stored(server, digest, size)
    return {"MiB_per_s": size / MiB / seconds, "seconds": seconds, "patches": patches,
            "client_cpu_s": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)}


def _check_stored(server: Server, digest: str, size: int) -> None:
    client = Client(server.port)
    r = client.request("HEAD", f"/v2/{REPO}/blobs/{digest}")
    client.close()
    if int(r.headers.get("content-length", -1)) != size:
        raise RegistryError(f"HEAD after push: Content-Length {r.headers.get('content-length')}"
                            f", wanted {size}")


def pull(ctx: Context, server: Server) -> dict[str, float]:
    _, digest = _blob(ctx, "A")
    size = ctx.sizes.blob_bytes
    url = f"{server.base}/v2/{REPO}/blobs/{digest}"
    seconds = cpu = 0.0
    for _ in range(ctx.sizes.pulls):
        run = tools.curl_download(url, timeout=600)
        transfers = tools.curl_transfers(run)
        if run.returncode != 0 or not transfers or transfers[0][:1] != (200,) \
                or transfers[0][2] != size:
            raise RegistryError(f"GET {url}: curl rc={run.returncode} {run.stdout.strip()} "
                                f"{run.stderr.strip()[:300]}")
        seconds += transfers[0][3]
        cpu += run.client_cpu_s
    return {"MiB_per_s": ctx.sizes.pulls * size / MiB / seconds, "seconds": seconds,
            "client_cpu_s": cpu}


def pull_range(ctx: Context, server: Server) -> dict[str, float]:
    _, digest = _blob(ctx, "A")
    size, length = ctx.sizes.blob_bytes, ctx.sizes.range_bytes
    rnd = random.Random(4)
    ranges = []
    for _ in range(ctx.sizes.range_reads):
        start = rnd.randrange(0, size - length + 1)
        ranges.append((start, start + length - 1))
    url = f"{server.base}/v2/{REPO}/blobs/{digest}"
    run = tools.curl_ranges(url, ranges, ctx.tmp_dir / f"ranges-{server.name}.curlrc",
                            timeout=600)
    transfers = tools.curl_transfers(run)
    bad = [t for t in transfers if t[0] != 206 or t[2] != length]
    if run.returncode != 0 or len(transfers) != len(ranges) or bad:
        raise RegistryError(f"Range reads: curl rc={run.returncode}, {len(transfers)} "
                            f"transfers, {len(bad)} bad (first: {bad[:1]}) "
                            f"{run.stderr.strip()[:300]}")
    return {"MiB_per_s": len(ranges) * length / MiB / run.wall_s, "seconds": run.wall_s,
            "client_cpu_s": run.client_cpu_s}


GROUP = Group(
    name="blobs",
    description="big blob: push (monolithic, chunked, ceiling), pull, Range reads",
    prepare_run=prepare_run,
    servers=("dockyard", "distribution", "ceiling"),
    steps=[
        Step("push_monolithic", push_monolithic, sync_first=True,
             servers=("dockyard", "distribution", "ceiling")),
        Step("push_chunked", push_chunked, sync_first=True),
        Step("pull", pull),
        Step("pull_range", pull_range),
    ],
)
