"""Images, indexes and referrers pushed through the plain HTTP API (no client under test)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import httpx

from tests.pushing import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    descriptor,
    digest_of,
    put_manifest,
)

EMPTY = b"{}"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
SBOM_TYPE = "application/spdx+json"
SIGNATURE_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"


def push_blob(client: httpx.Client, repo: str, data: bytes) -> str:
    """POST + PUT, keeping the Location's own query (Distribution signs it in ``_state``)."""
    digest = digest_of(data)
    started = client.post(f"/v2/{repo}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = httpx.URL(str(client.base_url)).join(started.headers["location"])
    done = client.put(location.copy_merge_params({"digest": digest}), content=data,
                      headers={"Content-Type": "application/octet-stream"})
    assert done.status_code == 201, done.text
    return digest


@dataclass
class Pushed:
    digest: str
    body: bytes
    media_type: str

    @property
    def descriptor(self) -> dict[str, Any]:
        return descriptor(self.media_type, self.body)


def push_image(client: httpx.Client, repo: str, tag: str | None = None, *, os_name: str = "linux",
               arch: str = "amd64", variant: str | None = None, layer_sizes: tuple[int, ...]
               = (1500, 2500)) -> Pushed:
    """An OCI image with a real-looking config (entrypoint, env, labels)."""
    config = {"architecture": arch, "os": os_name, "created": "2026-01-02T03:04:05Z",
              "config": {"Entrypoint": ["/bin/app"], "Cmd": ["--serve"],
                         "Env": ["PATH=/usr/bin", f"ARCH={arch}"],
                         "Labels": {"org.opencontainers.image.title": "app"}},
              "rootfs": {"type": "layers", "diff_ids": []}, "nonce": os.urandom(8).hex()}
    if variant:
        config["variant"] = variant
    config_bytes = json.dumps(config).encode()
    push_blob(client, repo, config_bytes)
    layers = [os.urandom(size) for size in layer_sizes]
    for layer in layers:
        push_blob(client, repo, layer)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": descriptor(OCI_CONFIG, config_bytes),
                       "layers": [descriptor(OCI_LAYER, b) for b in layers]}).encode()
    reference = tag or digest_of(body)
    response = put_manifest(client, repo, reference, body)
    assert response.status_code == 201, response.text
    return Pushed(digest_of(body), body, OCI_MANIFEST)


def push_index(client: httpx.Client, repo: str, tag: str,
               platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64/v8")
               ) -> tuple[Pushed, list[Pushed]]:
    """A multi-arch index under ``tag`` whose children are pushed by digest only."""
    children, entries = [], []
    for text in platforms:
        os_name, arch, *rest = text.split("/")
        variant = rest[0] if rest else None
        child = push_image(client, repo, os_name=os_name, arch=arch, variant=variant)
        platform = {"os": os_name, "architecture": arch, **({"variant": variant}
                                                             if variant else {})}
        children.append(child)
        entries.append({**child.descriptor, "platform": platform})
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "manifests": entries}).encode()
    response = put_manifest(client, repo, tag, body, OCI_INDEX)
    assert response.status_code == 201, response.text
    return Pushed(digest_of(body), body, OCI_INDEX), children


def push_referrer(client: httpx.Client, repo: str, subject: Pushed, artifact_type: str,
                  payload: bytes, *, fallback_tag: bool = False) -> Pushed:
    """An artifact manifest whose ``subject`` is ``subject``; with ``fallback_tag`` the
    ``sha256-<hex>`` index is maintained too, as clients do for a registry without the API."""
    push_blob(client, repo, EMPTY)
    push_blob(client, repo, payload)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "artifactType": artifact_type, "config": descriptor(EMPTY_TYPE, EMPTY),
                       "layers": [descriptor(artifact_type, payload)],
                       "subject": subject.descriptor,
                       "annotations": {"org.example.kind": artifact_type}}).encode()
    digest = digest_of(body)
    response = put_manifest(client, repo, digest, body)
    assert response.status_code == 201, response.text
    pushed = Pushed(digest, body, OCI_MANIFEST)
    if fallback_tag:
        tag = subject.digest.replace(":", "-")
        existing = client.get(f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_INDEX})
        manifests = existing.json()["manifests"] if existing.status_code == 200 else []
        manifests.append({**pushed.descriptor, "artifactType": artifact_type})
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                            "manifests": manifests}).encode()
        assert put_manifest(client, repo, tag, index, OCI_INDEX).status_code == 201
    return pushed
