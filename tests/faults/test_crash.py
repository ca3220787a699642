"""``kill -9`` of the whole server (every worker) mid-upload, right after an upload's final
PUT, and during concurrent manifest puts; then a restart on the same storage must show no
partial blob, no tag pointing at missing content, uploads resumable or cleanly gone, a clean
scrub, and a registry that accepts new pushes.

Kill points come from the client side (a slow request stream, random delays over several
rounds); nothing in the server knows it is being tested, and nothing asserts on timing.
"""

import contextlib
import functools
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer
from tests.faults.helpers import (
    assert_blob_whole_or_absent,
    assert_every_tag_whole,
    kill_server,
    relaunch_with_workers,
    run_scrub,
    upload_dirs,
)
from tests.pushing import (
    OCI_INDEX,
    OCI_MANIFEST,
    descriptor,
    digest_of,
    image_manifest,
    push_blob,
    push_image,
    put_manifest,
)

CHUNK = 64 * 1024


def restart(server_factory: Callable[..., RunningServer], root: Path) -> RunningServer:
    return server_factory({"storage.filesystem.rootdirectory": str(root)})


def send_in_background(request: Callable[[], httpx.Response]) -> threading.Thread:
    """Run a request the server will die under; its outcome does not matter."""
    def run() -> None:
        with contextlib.suppress(httpx.HTTPError):
            request()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def resume_or_restart(server: RunningServer, root: Path, repo: str, location: str,
                      data: bytes) -> None:
    """The interrupted session either resumes from what it holds or is cleanly gone; either
    way the blob can then be pushed and reads back whole."""
    client = server.client
    digest = digest_of(data)
    state = client.get(location)
    if state.status_code == 404:
        assert state.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
        assert push_blob(client, repo, data) == digest
    else:
        assert state.status_code == 204, state.text
        held = int(state.headers["range"].split("-")[1]) + 1
        if held == 1:  # "0-0" is said for 0 bytes and for 1: look at the session itself
            session = location.rsplit("/", 1)[1]
            held = (root / "docker/registry/v2/repositories" / repo / "_uploads" / session
                    / "data").stat().st_size
        assert held <= len(data)
        rest = data[held:]
        if rest:
            patched = client.patch(location, content=rest, headers={
                "content-range": f"{held}-{len(data) - 1}",
                "content-type": "application/octet-stream"})
            assert patched.status_code == 202, patched.text
        done = client.put(location, params={"digest": digest})
        assert done.status_code == 201, done.text  # what it held was a prefix of the data
    assert client.get(f"/v2/{repo}/blobs/{digest}").content == data


def slow_body(data: bytes, after: int, reached: threading.Event) -> Iterator[bytes]:
    """Stream ``data`` in small pieces, slowly once ``after`` bytes are out."""
    for offset in range(0, len(data), CHUNK):
        yield data[offset:offset + CHUNK]
        if offset + CHUNK >= after:
            reached.set()
            time.sleep(0.02)


def index_of(manifest: bytes, note: str) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "annotations": {"n": note},
                       "manifests": [descriptor(OCI_MANIFEST, manifest, platform={
                           "architecture": "amd64", "os": "linux"})]}).encode()


def check_after_restart(server: RunningServer, probes: list[tuple[str, str]]) -> None:
    """No partial blob, no dangling tag, a clean scrub, new pushes accepted."""
    for repo, digest in probes:
        assert_blob_whole_or_absent(server.client, repo, digest)
    assert_every_tag_whole(server.client)
    scrub = run_scrub(server.config_path)
    assert scrub.returncode == 0, scrub.stdout + scrub.stderr
    assert " 0 corrupt, 0 missing" in scrub.stdout
    push_image(server.client, "crash/after", f"t{random.randrange(10**9)}")


def test_kill_during_a_streaming_patch(server_factory: Callable[..., RunningServer]) -> None:
    server = server_factory()
    push_image(server.client, "crash/base", "v1")
    data = os.urandom(6 * 1024 * 1024)
    location = server.client.post("/v2/crash/up/blobs/uploads/").headers["location"]
    reached = threading.Event()
    client = server.client
    sender = send_in_background(lambda: client.patch(
        location, content=slow_body(data, 2 * 1024 * 1024, reached)))
    assert reached.wait(60)
    kill_server(server)
    sender.join(60)

    again = restart(server_factory, server.root)
    resume_or_restart(again, server.root, "crash/up", location, data)
    assert upload_dirs(server.root, "crash/up") == []
    check_after_restart(again, [("crash/up", digest_of(data))])


def test_kill_right_after_the_final_put(server_factory: Callable[..., RunningServer]) -> None:
    """Several rounds, each killing at a different moment around the commit."""
    server = server_factory()
    root = server.root
    push_image(server.client, "crash/base", "v1")
    for delay in (0.0, 0.002, 0.01, 0.03, 0.08):
        data = os.urandom(4 * 1024 * 1024)
        client = server.client
        location = client.post("/v2/crash/put/blobs/uploads/").headers["location"]
        half = len(data) // 2
        assert client.patch(location, content=data[:half]).status_code == 202
        reached = threading.Event()
        final = functools.partial(client.put, location, params={"digest": digest_of(data)},
                                  content=slow_body(data[half:], len(data) - half, reached))
        sender = send_in_background(final)
        assert reached.wait(60)
        time.sleep(delay)
        kill_server(server)
        sender.join(60)

        server = restart(server_factory, root)
        assert_blob_whole_or_absent(server.client, "crash/put", digest_of(data))
        resume_or_restart(server, root, "crash/put", location, data)
    check_after_restart(server, [])


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_during_concurrent_manifest_puts(server_factory: Callable[..., RunningServer],
                                              workers: int) -> None:
    """With two workers, two processes write the database when the group is killed."""
    server = server_factory()
    if workers > 1:
        server = relaunch_with_workers(server, workers)
    try:
        acknowledged = _put_concurrently_until_killed(server)
    finally:
        server.stop()
    again = restart(server_factory, server.root)
    assert acknowledged, "no manifest put finished before the kill"
    tags = assert_every_tag_whole(again.client)
    for (repo, tag), digest in acknowledged.items():  # an acknowledged put is durable
        assert tags[repo][tag] == digest, f"{repo}:{tag} acknowledged, then lost"
    check_after_restart(again, [])


def _put_concurrently_until_killed(server: RunningServer) -> dict[tuple[str, str], str]:
    """Eight clients put manifests and indexes until the server is killed at random."""
    client = server.client
    bodies = [(f"crash/m{i % 3}", image_manifest(client, f"crash/m{i % 3}", layers=2))
              for i in range(24)]
    acknowledged: dict[tuple[str, str], str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def pusher(worker: int) -> None:
        own = httpx.Client(base_url=server.url, timeout=30)
        rounds = 0
        try:
            while not stop.is_set():
                repo, body = bodies[(worker + rounds) % len(bodies)]
                tag = f"w{worker}-r{rounds}"
                rounds += 1
                response = put_manifest(own, repo, tag, body)
                if response.status_code == 201:
                    with lock:
                        acknowledged[(repo, tag)] = digest_of(body)
                put_manifest(own, repo, "latest", body)  # one tag moved by everyone
                index = index_of(body, tag)  # a new index naming the manifest just put
                if put_manifest(own, repo, f"{tag}-i", index, OCI_INDEX).status_code == 201:
                    with lock:
                        acknowledged[(repo, f"{tag}-i")] = digest_of(index)
        except httpx.HTTPError:
            pass
        finally:
            own.close()

    with ThreadPoolExecutor(8) as pool:
        for worker in range(8):
            pool.submit(pusher, worker)
        time.sleep(random.uniform(0.3, 1.5))
        kill_server(server)
        stop.set()
    return acknowledged
