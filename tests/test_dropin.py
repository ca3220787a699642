"""registry:2 recipes: persistent storage across restarts, read-only mode, env overrides."""

from collections.abc import Callable

from tests.conftest import RunningServer
from tests.pushing import ACCEPT_ALL, assert_error, digest_of, push_blob, push_image


def test_storage_survives_a_restart(server_factory: Callable[..., RunningServer]) -> None:
    first = server_factory()
    digest = push_image(first.client, "keep/app", "v1")
    first.stop()
    second = server_factory({"storage.filesystem.rootdirectory": str(first.root)})
    response = second.client.get("/v2/keep/app/manifests/v1", headers={"accept": ACCEPT_ALL})
    assert response.status_code == 200
    assert digest_of(response.content) == digest
    assert second.client.get("/v2/keep/app/tags/list").json()["tags"] == ["v1"]


def test_read_only_mode_serves_reads_and_refuses_writes(
        server_factory: Callable[..., RunningServer]) -> None:
    writable = server_factory()
    digest = push_image(writable.client, "ro/app", "v1")
    blob = push_blob(writable.client, "ro/app", b"layer")
    writable.stop()
    server = server_factory({"storage.filesystem.rootdirectory": str(writable.root),
                             "storage.maintenance.readonly.enabled": True})
    client = server.client
    assert client.get("/v2/ro/app/manifests/v1", headers={"accept": ACCEPT_ALL}
                      ).status_code == 200
    assert client.get(f"/v2/ro/app/blobs/{blob}").content == b"layer"
    assert client.get("/v2/ro/app/tags/list").json()["tags"] == ["v1"]
    assert client.get("/v2/_catalog").json()["repositories"] == ["ro/app"]
    refused = [
        client.post("/v2/ro/app/blobs/uploads/"),
        client.post("/v2/ro/app/blobs/uploads/", params={"digest": digest_of(b"x")},
                    content=b"x"),
        client.put("/v2/ro/app/manifests/v2", content=b"{}"),
        client.delete(f"/v2/ro/app/manifests/{digest}"),
        client.delete("/v2/ro/app/manifests/v1"),
        client.delete(f"/v2/ro/app/blobs/{blob}"),
        client.patch("/v2/ro/app/blobs/uploads/00000000-0000-4000-8000-000000000000",
                     content=b"x"),
    ]
    for response in refused:
        assert_error(response, 405, "UNSUPPORTED")
    assert client.get("/v2/ro/app/tags/list").json()["tags"] == ["v1"]


def test_registry_docs_overrides(server_factory: Callable[..., RunningServer], tmp_path) -> None:
    root = tmp_path / "elsewhere"
    server = server_factory(env={
        "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(root),
        "REGISTRY_STORAGE_DELETE_ENABLED": "true",
        "REGISTRY_HTTP_SECRET": "a-shared-secret",
        "REGISTRY_LOG_LEVEL": "debug",
        "REGISTRY_PROXY_REMOTEURL": "https://registry-1.docker.io",
    })
    digest = push_blob(server.client, "env/app", b"data")
    assert (root / "docker/registry/v2/blobs/sha256" / digest[7:9] / digest[7:] / "data"
            ).read_bytes() == b"data"
    assert server.client.delete(f"/v2/env/app/blobs/{digest}").status_code == 202
    # Keys Dockyard does not support are named at start, not silently dropped.
    assert "proxy" in server.log()
