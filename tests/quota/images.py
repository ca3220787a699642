"""Realistic pushes for the quota tests: images of several layers, tagged as a CI would."""

import json
import os
from dataclasses import dataclass, field

import httpx

from tests.pushing import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, digest_of, push_blob


# The seed's tagging strategy: semver, its minor, an environment, the git sha, a timestamp.
def ci_tags(version: str, environment: str, sha: str, stamp: str) -> list[str]:
    major, minor, _ = version.lstrip("v").split(".")
    return [version, f"{major}.{minor}", environment, f"sha-{sha}", stamp]


@dataclass
class Image:
    """A manifest and the blobs it references (bytes by digest)."""

    body: bytes
    blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return digest_of(self.body)


def build(layers: list[bytes], **annotations: str) -> Image:
    """An OCI image manifest over ``layers`` with a unique config; nothing pushed yet."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "nonce": os.urandom(8).hex()}).encode()
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": descriptor(OCI_CONFIG, config),
                "layers": [descriptor(OCI_LAYER, layer) for layer in layers]}
    if annotations:
        document["annotations"] = annotations
    image = Image(json.dumps(document).encode())
    image.blobs = {digest_of(b): b for b in [config, *layers]}
    return image


def push(client: httpx.Client, repo: str, image: Image, tags: list[str]) -> None:
    """Upload every blob (even ones the repository has), then the manifest under each tag."""
    for data in image.blobs.values():
        push_blob(client, repo, data)
    for tag in tags:
        response = client.put(f"/v2/{repo}/manifests/{tag}", content=image.body,
                              headers={"content-type": OCI_MANIFEST})
        assert response.status_code == 201, response.text
