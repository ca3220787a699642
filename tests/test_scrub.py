"""``dockyard scrub`` and corrupt bytes: detected, quarantined, never served as valid."""

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import RunningServer
from tests.pushing import ACCEPT_ALL, digest_of, image_manifest, push_blob, put_manifest


def blob_file(root: Path, digest: str) -> Path:
    algorithm, hexpart = digest.split(":")
    return root / "docker/registry/v2/blobs" / algorithm / hexpart[:2] / hexpart / "data"


def run_scrub(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockyard", "scrub", *args,
                           str(server.config_path)], capture_output=True, text=True, timeout=120)


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_scrub_finds_quarantines_and_the_blob_can_be_pushed_again(
        server_factory: Callable[..., RunningServer]) -> None:
    server = server_factory()
    client = server.client
    body = image_manifest(client, "scrub/app")
    assert put_manifest(client, "scrub/app", "v1", body).status_code == 201
    layer = json.loads(body)["layers"][0]["digest"]
    original = blob_file(server.root, layer).read_bytes()

    clean = run_scrub(server)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 corrupt, 0 missing" in clean.stdout

    flip_a_byte(blob_file(server.root, layer))
    reported = run_scrub(server, "--report-only")
    assert reported.returncode == 1
    assert f"corrupt: {layer}" in reported.stdout
    assert blob_file(server.root, layer).exists()  # --report-only moves nothing

    found = run_scrub(server)
    assert found.returncode == 1 and f"quarantined: {layer}" in found.stdout
    assert not blob_file(server.root, layer).exists()
    assert client.head(f"/v2/scrub/app/blobs/{layer}").status_code == 404

    assert push_blob(client, "scrub/app", original) == layer  # clients push it again
    assert client.get(f"/v2/scrub/app/blobs/{layer}").content == original
    assert run_scrub(server).returncode == 0


def test_a_corrupt_manifest_is_not_served(server_factory: Callable[..., RunningServer]) -> None:
    first = server_factory()
    body = image_manifest(first.client, "scrub/m")
    assert put_manifest(first.client, "scrub/m", "v1", body).status_code == 201
    first.stop()
    flip_a_byte(blob_file(first.root, digest_of(body)))
    # A fresh server has nothing cached: it reads the bytes from disk, and they do not verify.
    second = server_factory({"storage.filesystem.rootdirectory": str(first.root)})
    response = second.client.get("/v2/scrub/m/manifests/v1", headers={"accept": ACCEPT_ALL})
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert run_scrub(second).returncode == 1


def test_a_corrupt_layer_is_never_served_complete(server_factory: Callable[..., RunningServer]
                                                  ) -> None:
    import httpx
    import pytest

    server = server_factory()
    client = server.client
    data = bytes(range(256)) * 12_000  # about 3 MiB: several read chunks
    digest = push_blob(client, "rot/app", data)
    flip_a_byte(blob_file(server.root, digest))  # rots before its first serve

    try:
        response = client.get(f"/v2/rot/app/blobs/{digest}")
    except httpx.HTTPError:
        pass  # A broken transfer: the client knows it did not get the blob.
    else:
        pytest.fail(f"a corrupt blob was served whole: {response.status_code}, "
                    f"{digest_of(response.content)}")
    assert client.head(f"/v2/rot/app/blobs/{digest}").status_code == 404

    assert push_blob(client, "rot/app", data) == digest  # the re-push heals it
    assert client.get(f"/v2/rot/app/blobs/{digest}").content == data
