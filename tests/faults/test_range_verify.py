"""A ranged GET never hands out bytes of a blob that does not hash to its digest.

A range cannot be verified on its own, so the first ranged read of a blob since the server
started hashes the whole blob before the 206 goes out; a corrupt blob answers 404
BLOB_UNKNOWN (and keeps answering it, for HEAD and whole GETs too, until a verified re-push).
"""

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import RunningServer
from tests.faults.helpers import blob_path
from tests.pushing import assert_error, push_blob

SIZE = 3 * 1024 * 1024 + 17  # several 1 MiB read chunks


def corrupt(path: os.PathLike[str], offset: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x40]))


def test_a_range_of_a_corrupt_blob_is_refused_even_where_the_bytes_are_intact(
        server_factory: Callable[..., RunningServer]) -> None:
    server = server_factory()
    client = server.client
    data = os.urandom(SIZE)
    digest = push_blob(client, "rng/app", data)
    corrupt(blob_path(server.root, digest), SIZE - 10)  # far from the range asked for

    ranged = client.get(f"/v2/rng/app/blobs/{digest}", headers={"range": "bytes=0-99"})
    assert_error(ranged, 404, "BLOB_UNKNOWN")
    assert client.head(f"/v2/rng/app/blobs/{digest}").status_code == 404
    assert_error(client.get(f"/v2/rng/app/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert_error(client.get(f"/v2/rng/app/blobs/{digest}", headers={"range": "bytes=-5"}),
                 404, "BLOB_UNKNOWN")

    assert push_blob(client, "rng/app", data) == digest  # a verified re-push heals it
    healed = client.get(f"/v2/rng/app/blobs/{digest}", headers={"range": "bytes=100-199"})
    assert healed.status_code == 206
    assert healed.content == data[100:200]


def test_a_truncated_blob_is_refused_for_ranges(server_factory: Callable[..., RunningServer]
                                                ) -> None:
    server = server_factory()
    data = os.urandom(SIZE)
    digest = push_blob(server.client, "rng/cut", data)
    os.truncate(blob_path(server.root, digest), SIZE // 2)
    ranged = server.client.get(f"/v2/rng/cut/blobs/{digest}", headers={"range": "bytes=0-9"})
    assert_error(ranged, 404, "BLOB_UNKNOWN")


def test_concurrent_first_ranges_all_get_the_verdict(
        server_factory: Callable[..., RunningServer]) -> None:
    """Requests racing on a blob's first hash share it; each gets 206 good bytes or 404."""
    server = server_factory()
    client = server.client
    good, bad = os.urandom(SIZE), os.urandom(SIZE)
    good_digest = push_blob(client, "rng/many", good)
    bad_digest = push_blob(client, "rng/many", bad)
    corrupt(blob_path(server.root, bad_digest), 12345)

    def fetch(job: tuple[str, int]) -> tuple[str, int, bytes]:
        digest, start = job
        response = client.get(f"/v2/rng/many/blobs/{digest}",
                              headers={"range": f"bytes={start}-{start + 999}"})
        return digest, response.status_code, response.content

    jobs = [(d, start) for start in range(0, 16_000, 1000) for d in (good_digest, bad_digest)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetch, jobs))
    for (digest, start), (_, status, content) in zip(jobs, results, strict=True):
        if digest == good_digest:
            assert status == 206 and content == good[start:start + 1000]
        else:
            assert status == 404, f"range {start} of a corrupt blob answered {status}"


def test_a_good_blob_is_served_by_range_on_first_read_after_a_restart(
        server_factory: Callable[..., RunningServer]) -> None:
    first = server_factory()
    data = os.urandom(SIZE)
    digest = push_blob(first.client, "rng/ok", data)
    first.stop()
    second = server_factory({"storage.filesystem.rootdirectory": str(first.root)})
    for header, expected in (("bytes=1048570-1048585", data[1048570:1048586]),
                             ("bytes=-3", data[-3:]), ("bytes=0-", data)):
        response = second.client.get(f"/v2/rng/ok/blobs/{digest}", headers={"range": header})
        assert response.status_code == 206, response.text
        assert response.content == expected
