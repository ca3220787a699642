"""Workload 4: 200 small images pushed, then pulled, by 8 parallel clients: images/s.

An image is 3 random layers of 10 KiB, a config and an OCI image manifest, in its own
repository ``bench/images/app-NNN`` tagged ``v1``. The images are made once per run (the
same bytes for every server).

The 8 clients are 8 processes, forked once per repetition before any clock starts, each
with one keep-alive ``http.client`` connection: Python threads would serialise the clients
on the GIL, and httpx costs several times the CPU per request. Each takes the next image
from a shared queue.

* push, per blob: ``HEAD`` (404), ``POST`` (202), ``PUT ?digest=`` with the body (201);
  then ``PUT`` the manifest by tag: 13 requests an image.
* pull: ``GET`` the manifest by tag (with the Accept header of ``docker pull``), then the
  config and the layers, each checked against its digest: 5 requests an image.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from harness import Context, Group, Step
from regclient import Client, Image, make_image, push_image
from servers import Server

_IMAGES: list[Image] = []
_CLIENTS: dict[int, Client] = {}


def repo_name(i: int) -> str:
    return f"bench/images/app-{i:03d}"


def _client(port: int) -> Client:
    if port not in _CLIENTS:
        _CLIENTS[port] = Client(port, timeout=120)
    return _CLIENTS[port]


def _push(job: tuple[int, int]) -> tuple[int, float]:
    port, i = job
    cpu = time.process_time()
    client = _client(port)
    before = client.requests
    push_image(client, repo_name(i), "v1", _IMAGES[i])
    return client.requests - before, time.process_time() - cpu


def _pull(job: tuple[int, int]) -> tuple[int, float]:
    port, i = job
    cpu = time.process_time()
    client = _client(port)
    before = client.requests
    client.pull_image(repo_name(i), "v1")
    return client.requests - before, time.process_time() - cpu


def _warm(port: int) -> int:
    _client(port).request("GET", "/v2/")
    time.sleep(0.05)  # so that each worker gets one of the warm-up jobs
    return os.getpid()


def prepare_run(ctx: Context) -> None:
    _IMAGES[:] = [make_image(seed=1000 + i, layers=3, layer_size=ctx.sizes.layer_bytes)
                  for i in range(ctx.sizes.images)]


def pool(ctx: Context, workers: int) -> Any:
    """The client processes, forked once per repetition while nothing else runs."""
    if "pool" not in ctx.shared:
        ctx.shared["pool"] = multiprocessing.get_context("fork").Pool(
            workers, initializer=_worker_signals)
    return ctx.shared["pool"]


def _worker_signals() -> None:
    """The harness turns SIGTERM into KeyboardInterrupt to clean up; a client process must
    just die on it (``Pool.terminate``), and leave Ctrl-C to the harness."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def prepare_server(ctx: Context, server: Server) -> None:
    pool(ctx, ctx.sizes.image_clients)


def teardown(ctx: Context) -> None:
    p: Any = ctx.shared.pop("pool", None)
    if p is not None:
        p.terminate()
        p.join()


def parallel(ctx: Context, server: Server, fn: Callable[[tuple[int, int]], tuple[int, float]],
             jobs: int, workers: int) -> dict[str, float]:
    """``fn((port, i))`` for every i < jobs on the client processes; the clock runs from the
    first job handed out to the last one done."""
    p = pool(ctx, workers)
    p.map(_warm, [server.port] * workers, chunksize=1)
    t0 = time.perf_counter()
    done = p.map(fn, [(server.port, i) for i in range(jobs)], chunksize=1)
    seconds = time.perf_counter() - t0
    requests = sum(r for r, _ in done)
    return {"seconds": seconds, "requests": requests, "req_per_s": requests / seconds,
            "client_cpu_s": sum(c for _, c in done)}


def images_push(ctx: Context, server: Server) -> dict[str, float]:
    n = ctx.sizes.images
    result = parallel(ctx, server, _push, n, ctx.sizes.image_clients)
    return {"images_per_s": n / result["seconds"], **result}


def images_pull(ctx: Context, server: Server) -> dict[str, float]:
    n = ctx.sizes.images
    result = parallel(ctx, server, _pull, n, ctx.sizes.image_clients)
    return {"images_per_s": n / result["seconds"], **result}


GROUP = Group(
    name="images",
    description="small images pushed, then pulled, by parallel clients",
    prepare_run=prepare_run,
    prepare_server=prepare_server,
    teardown=teardown,
    steps=[Step("images_push", images_push), Step("images_pull", images_pull)],
)
