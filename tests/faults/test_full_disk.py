"""A full disk: uploads and manifest puts fail with a clear error and leave nothing partial,
reads keep working, and writes work again once space returns.

The storage root is a real 32 MiB filesystem the test mounts (tmpfs, and ext4 on a loop
device), filled with a filler file. The
answer is 507 with the spec's catch-all code UNKNOWN (see docs/api.md, "Full storage").
"""

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer
from tests.faults.helpers import (
    assert_every_tag_whole,
    assert_full,
    blob_path,
    fill_disk,
    free_bytes,
    run_scrub,
    small_filesystem,
    upload_dirs,
)
from tests.pushing import (
    ACCEPT_ALL,
    digest_of,
    image_manifest,
    push_blob,
    push_image,
    put_manifest,
)

BIG = 3 * 1024 * 1024
DIRECTORIES = 64 * 1024  # far less than any of the discarded uploads


@pytest.fixture(params=["tmpfs", "ext4"])
def tmpfs(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A 32 MiB storage root: tmpfs, and ext4 (where a full disk also refuses new
    directories, so session and blob directories fail too)."""
    with small_filesystem(tmp_path / "disk", "32M", request.param) as mountpoint:
        yield mountpoint


def serve_app(server_factory: Callable[..., RunningServer], tmpfs: Path, size: int = BIG,
              overrides: dict[str, object] | None = None) -> tuple[RunningServer, bytes]:
    """A server storing on ``tmpfs`` holding full/app:v1 and a ``size``-byte blob in full/app
    (the blob :func:`assert_reads_work` reads back)."""
    server = server_factory({"storage.filesystem.rootdirectory": str(tmpfs), **(overrides or {})})
    layer = os.urandom(size)
    push_blob(server.client, "full/app", layer)
    push_image(server.client, "full/app", "v1")
    return server, layer


def assert_reads_work(client: httpx.Client, repo: str, tag: str, layer: bytes) -> None:
    manifest = client.get(f"/v2/{repo}/manifests/{tag}", headers={"accept": ACCEPT_ALL})
    assert manifest.status_code == 200, manifest.text
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == [tag]
    assert repo in client.get("/v2/_catalog").json()["repositories"]
    digest = digest_of(layer)
    assert client.get(f"/v2/{repo}/blobs/{digest}").content == layer
    ranged = client.get(f"/v2/{repo}/blobs/{digest}", headers={"range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == layer[10:20]
    assert client.head(f"/v2/{repo}/blobs/{digest}").status_code == 200


def test_uploads_on_a_full_disk_fail_cleanly_and_work_again_when_space_returns(
        tmpfs: Path, server_factory: Callable[..., RunningServer]) -> None:
    server, layer = serve_app(server_factory, tmpfs)
    client, root = server.client, server.root
    big = os.urandom(BIG)
    digest = digest_of(big)

    filler = fill_disk(tmpfs, leave=512 * 1024)
    before = free_bytes(tmpfs) - DIRECTORIES  # new repository directories may stay

    # A chunk that does not fit: the whole session goes, and its space with it.
    started = client.post("/v2/full/new/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    assert_full(client.patch(location, content=big))
    gone = client.get(location)
    assert gone.status_code == 404 and gone.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
    assert upload_dirs(root, "full/new") == []
    assert free_bytes(tmpfs) >= before

    # The same for a monolithic upload and for the closing PUT of a chunked one.
    assert_full(client.post("/v2/full/new/blobs/uploads/", params={"digest": digest},
                            content=big))
    started = client.post("/v2/full/new/blobs/uploads/")
    assert_full(client.put(started.headers["location"], params={"digest": digest},
                           content=big))
    assert upload_dirs(root, "full/new") == []
    assert free_bytes(tmpfs) >= before
    assert client.head(f"/v2/full/new/blobs/{digest}").status_code == 404
    assert not blob_path(root, digest).exists()

    assert_reads_work(client, "full/app", "v1", layer)

    filler.unlink()  # space returns
    assert push_blob(client, "full/new", big) == digest
    assert client.get(f"/v2/full/new/blobs/{digest}").content == big
    push_image(client, "full/new", "v1")
    assert_every_tag_whole(client)
    assert run_scrub(server.config_path).returncode == 0


def test_a_completely_full_disk_refuses_sessions_and_manifests_and_keeps_serving(
        tmpfs: Path, server_factory: Callable[..., RunningServer]) -> None:
    server, layer = serve_app(server_factory, tmpfs)
    client, root = server.client, server.root
    waiting = image_manifest(client, "full/app")  # its blobs are stored, it is not
    filler = fill_disk(tmpfs)

    assert_full(client.post("/v2/full/app/blobs/uploads/"))
    assert upload_dirs(root, "full/app") == []
    assert_full(put_manifest(client, "full/app", "v2", waiting))
    missing = client.get("/v2/full/app/manifests/v2", headers={"accept": ACCEPT_ALL})
    assert missing.status_code == 404
    by_digest = client.get(f"/v2/full/app/manifests/{digest_of(waiting)}",
                           headers={"accept": ACCEPT_ALL})
    assert by_digest.status_code == 404
    assert_reads_work(client, "full/app", "v1", layer)

    filler.unlink()
    assert put_manifest(client, "full/app", "v2", waiting).status_code == 201
    tags = assert_every_tag_whole(client)
    assert tags["full/app"]["v2"] == digest_of(waiting)
    assert json.loads(waiting)["layers"]
    assert run_scrub(server.config_path).returncode == 0


def test_the_storage_health_check_does_not_take_reads_down_on_a_full_disk(
        tmpfs: Path, server_factory: Callable[..., RunningServer]) -> None:
    """registry:2's stock config enables the storage health check. A full disk must not
    turn it into 503 for every request: reads still work, and each write answers 507."""
    server, layer = serve_app(server_factory, tmpfs, 64 * 1024, {
        "health.storagedriver": {"enabled": True, "interval": "20ms", "threshold": 1}})
    client = server.client
    filler = fill_disk(tmpfs)
    for _ in range(50):  # spans many probe intervals; any 503 fails
        assert_reads_work(client, "full/app", "v1", layer)
        time.sleep(0.02)
    assert_full(client.post("/v2/full/app/blobs/uploads/"))
    filler.unlink()
    push_image(client, "full/app", "v2")
