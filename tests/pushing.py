"""Small helpers that push blobs and manifests through the real HTTP API in tests."""

import hashlib
import json
import os
import uuid
from typing import Any

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT_ALL = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def unique_repo(prefix: str = "test") -> str:
    return f"{prefix}/r{uuid.uuid4().hex[:12]}"


def push_blob(client: httpx.Client, repo: str, data: bytes) -> str:
    """POST + PUT upload; returns the digest."""
    digest = digest_of(data)
    started = client.post(f"/v2/{repo}/blobs/uploads/")
    assert started.status_code == 202, started.text
    done = client.put(started.headers["location"], params={"digest": digest}, content=data)
    assert done.status_code == 201, done.text
    return digest


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data), **extra}


def image_manifest(client: httpx.Client, repo: str, layers: int = 2,
                   media_type: str = OCI_MANIFEST, **extra: Any) -> bytes:
    """Push a config and random layers; return the manifest bytes (not yet pushed)."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "nonce": uuid.uuid4().hex}).encode()
    push_blob(client, repo, config)
    layer_blobs = [os.urandom(1024 + i) for i in range(layers)]
    for blob in layer_blobs:
        push_blob(client, repo, blob)
    config_type = OCI_CONFIG if media_type == OCI_MANIFEST else \
        "application/vnd.docker.container.image.v1+json"
    layer_type = OCI_LAYER if media_type == OCI_MANIFEST else \
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    document = {"schemaVersion": 2, "mediaType": media_type,
                "config": descriptor(config_type, config),
                "layers": [descriptor(layer_type, b) for b in layer_blobs], **extra}
    return json.dumps(document).encode()


def put_manifest(client: httpx.Client, repo: str, reference: str, body: bytes,
                 media_type: str = OCI_MANIFEST) -> httpx.Response:
    return client.put(f"/v2/{repo}/manifests/{reference}", content=body,
                      headers={"content-type": media_type})


def push_image(client: httpx.Client, repo: str, tag: str = "latest", **extra: Any) -> str:
    """Push a small OCI image under ``tag``; returns its manifest digest."""
    body = image_manifest(client, repo, **extra)
    response = put_manifest(client, repo, tag, body)
    assert response.status_code == 201, response.text
    return digest_of(body)


def error_codes(response: httpx.Response) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    """The response is the spec's error envelope with exactly ``code`` and ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["docker-distribution-api-version"] == "registry/2.0"
    assert response.headers["content-type"].startswith("application/json")
    errors = response.json()["errors"]
    assert [e["code"] for e in errors] == [code], errors
    for entry in errors:
        assert set(entry) == {"code", "message", "detail"}, entry
        assert isinstance(entry["message"], str) and entry["message"]
