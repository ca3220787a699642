"""Rotten bytes on disk are never served as valid, and a re-push of the same content heals
them: layers (flipped byte or wrong length) and manifests."""

import json
import os
from collections.abc import Callable

from tests.conftest import RunningServer
from tests.faults.helpers import blob_path, run_scrub
from tests.pushing import (
    ACCEPT_ALL,
    assert_error,
    digest_of,
    image_manifest,
    push_blob,
    put_manifest,
)


def test_a_blob_whose_length_changed_answers_404_even_to_head(
        server_factory: Callable[..., RunningServer]) -> None:
    server = server_factory()
    client = server.client
    data = os.urandom(200_000)
    digest = push_blob(client, "rot/len", data)
    path = blob_path(server.root, digest)
    with open(path, "ab") as handle:
        handle.write(b"tail")
    assert client.head(f"/v2/rot/len/blobs/{digest}").status_code == 404
    assert_error(client.get(f"/v2/rot/len/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    os.truncate(path, 1000)
    assert_error(client.get(f"/v2/rot/len/blobs/{digest}"), 404, "BLOB_UNKNOWN")

    assert push_blob(client, "rot/len", data) == digest
    assert client.get(f"/v2/rot/len/blobs/{digest}").content == data
    assert run_scrub(server.config_path).returncode == 0


def test_a_corrupt_manifest_is_healed_by_pushing_it_again(
        server_factory: Callable[..., RunningServer]) -> None:
    first = server_factory()
    body = image_manifest(first.client, "rot/man")
    assert put_manifest(first.client, "rot/man", "v1", body).status_code == 201
    first.stop()
    path = blob_path(first.root, digest_of(body))
    rotten = bytearray(body)
    rotten[len(rotten) // 2] ^= 0x01
    path.write_bytes(bytes(rotten))

    second = server_factory({"storage.filesystem.rootdirectory": str(first.root)})
    client = second.client
    url = "/v2/rot/man/manifests/v1"
    assert_error(client.get(url, headers={"accept": ACCEPT_ALL}), 404, "MANIFEST_UNKNOWN")
    assert put_manifest(client, "rot/man", "v1", body).status_code == 201
    healed = client.get(url, headers={"accept": ACCEPT_ALL})
    assert healed.status_code == 200, healed.text
    assert healed.content == body
    assert json.loads(healed.content)["layers"]
    assert run_scrub(second.config_path).returncode == 0
