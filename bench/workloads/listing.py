"""Workload 5: page through 10,000 repositories (``_catalog``) and 10,000 tags (``tags/list``).

Populating is not timed (its duration is recorded as ``listing_populate``): one tiny image
(a config and one 1 KiB layer) is pushed to ``bench/seed``; then 8 client processes mount
its two blobs into ``bench/catalog/r-NNNNN`` and put its manifest there as ``v1``, for every
repository, and put the same manifest into ``bench/tagged`` under ``t-NNNNN``, for every tag.

Timed: one keep-alive client asks for ``?n=100`` and follows ``Link: <…>; rel="next"``
until there is none; the number of entries must come out exactly. Distribution 2.8
ignores ``n`` on ``tags/list`` and answers every tag in one page, so its tag listing is one
request (the ``pages`` metric shows it).
"""

from __future__ import annotations

import time

from harness import Context, Group, Step
from regclient import Client, RegistryError, make_image, push_image
from servers import Server

from workloads.images import pool
from workloads.images import teardown as images_teardown

SEED_REPO = "bench/seed"
TAGGED_REPO = "bench/tagged"
_SEED = make_image(seed=7, layers=1, layer_size=1024)
_CLIENTS: dict[int, Client] = {}


def _client(port: int) -> Client:
    if port not in _CLIENTS:
        _CLIENTS[port] = Client(port, timeout=300)
    return _CLIENTS[port]


def _populate(job: tuple[int, str, int, int]) -> int:
    port, kind, start, end = job
    client = _client(port)
    for i in range(start, end):
        if kind == "repos":
            repo = f"bench/catalog/r-{i:05d}"
            for _, digest in _SEED.blobs:
                client.mount_blob(repo, digest, SEED_REPO)
            client.put_manifest(repo, "v1", _SEED.manifest)
        else:
            client.put_manifest(TAGGED_REPO, f"t-{i:05d}", _SEED.manifest)
    return end - start


def prepare_server(ctx: Context, server: Server) -> None:
    sizes = ctx.sizes
    t0 = time.perf_counter()
    client = Client(server.port)
    push_image(client, SEED_REPO, "v1", _SEED)
    for _, digest in _SEED.blobs:
        client.mount_blob(TAGGED_REPO, digest, SEED_REPO)
    client.close()
    jobs = []
    for kind, count in (("repos", sizes.listing_repositories), ("tags", sizes.listing_tags)):
        for start in range(0, count, 50):
            jobs.append((server.port, kind, start, min(count, start + 50)))
    done = pool(ctx, sizes.populate_clients).map(_populate, jobs, chunksize=1)
    seconds = time.perf_counter() - t0
    ctx.record("listing_populate", server.name, "seconds", seconds)
    ctx.record("listing_populate", server.name, "items", sum(done))
    print(f"  populated {server.name}: {sizes.listing_repositories} repositories, "
          f"{sizes.listing_tags} tags in {seconds:.1f}s", flush=True)


def _page(path: str, key: str):  # type: ignore[no-untyped-def]
    def run(ctx: Context, server: Server) -> dict[str, float]:
        client = Client(server.port)
        t0 = time.perf_counter()
        pages, entries = client.page_through(path.format(n=ctx.sizes.page_size), key)
        seconds = time.perf_counter() - t0
        client.close()
        want = expected_count(ctx, key)
        if entries != want:
            raise RegistryError(f"{path}: {entries} entries in {pages} pages, wanted {want}")
        return {"seconds": seconds, "pages": pages, "entries": entries,
                "req_per_s": pages / seconds}
    return run


def expected_count(ctx: Context, key: str) -> int:
    if key == "repositories":  # plus bench/seed and bench/tagged
        return ctx.sizes.listing_repositories + 2
    return ctx.sizes.listing_tags


GROUP = Group(
    name="listing",
    description="repositories through _catalog and tags through tags/list, paged",
    prepare_server=prepare_server,
    teardown=images_teardown,
    steps=[
        Step("catalog_paging", _page("/v2/_catalog?n={n}", "repositories")),
        Step("tags_paging", _page(f"/v2/{TAGGED_REPO}/tags/list?n={{n}}", "tags")),
    ],
)
