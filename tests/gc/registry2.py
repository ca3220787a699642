"""A registry:2 storage tree written by the real thing: Debian's docker-registry
(CNCF Distribution 2.8), started on a temporary root and fed over HTTP, then stopped."""

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import free_port
from tests.pushing import (
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    descriptor,
    digest_of,
)

DISTRIBUTION = "/usr/bin/docker-registry"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@dataclass
class Item:
    """A manifest pushed to registry:2 and every blob it needs."""

    repo: str
    digest: str
    body: bytes
    media_type: str
    blobs: dict[str, bytes] = field(default_factory=dict)
    subject: str | None = None


@contextmanager
def distribution(workdir: Path, root: Path) -> Iterator[httpx.Client]:
    """Run ``docker-registry serve`` on ``root`` until the block ends."""
    if not os.access(DISTRIBUTION, os.X_OK):
        pytest.fail(f"{DISTRIBUTION} not found: apt-get install docker-registry")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = workdir / "registry2.yml"
    config.write_text(yaml.safe_dump({
        "version": 0.1, "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(root)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}"}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    with open(workdir / "registry2.log", "ab") as log:
        process = subprocess.Popen([DISTRIBUTION, "serve", str(config)], stdout=log,
                                   stderr=subprocess.STDOUT, env=env, start_new_session=True)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        _wait(client, process, workdir)
        yield client
    finally:
        client.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(client: httpx.Client, process: subprocess.Popen[bytes], workdir: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if client.get("/v2/").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    log = (workdir / "registry2.log").read_text(errors="replace")
    raise RuntimeError(f"docker-registry did not come up:\n{log}")


def push_blob(client: httpx.Client, repo: str, data: bytes) -> str:
    """Monolithic upload; registry:2's Location carries a signed ``_state`` query to keep."""
    digest = digest_of(data)
    started = client.post(f"/v2/{repo}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    separator = "&" if "?" in location else "?"
    done = client.put(f"{location}{separator}digest={digest}", content=data,
                      headers={"content-type": "application/octet-stream"})
    assert done.status_code == 201, done.text
    return digest


def put(client: httpx.Client, item: Item, reference: str) -> Item:
    response = client.put(f"/v2/{item.repo}/manifests/{reference}", content=item.body,
                          headers={"content-type": item.media_type})
    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == item.digest
    return item


def image(client: httpx.Client, repo: str, reference: str | None, layers: list[bytes],
          docker: bool = False) -> Item:
    """An image pushed under ``reference`` (None: by its digest, untagged)."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"},
                         "nonce": os.urandom(8).hex()}).encode()
    blobs = {push_blob(client, repo, config): config}
    for layer in layers:
        blobs[push_blob(client, repo, layer)] = layer
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    document = {"schemaVersion": 2, "mediaType": media_type,
                "config": descriptor(DOCKER_CONFIG if docker else OCI_CONFIG, config),
                "layers": [descriptor(DOCKER_LAYER if docker else OCI_LAYER, layer)
                           for layer in layers]}
    body = json.dumps(document, indent=3).encode()
    item = Item(repo, digest_of(body), body, media_type, blobs)
    return put(client, item, reference or item.digest)


def index(client: httpx.Client, repo: str, reference: str, children: list[Item]) -> Item:
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {**descriptor(child.media_type, child.body),
         "platform": {"os": "linux", "architecture": arch}}
        for child, arch in zip(children, ("amd64", "arm64", "riscv64"), strict=False)]}
    body = json.dumps(document).encode()
    return put(client, Item(repo, digest_of(body), body, OCI_INDEX), reference)


def referrer(client: httpx.Client, subject: Item, payload: bytes) -> Item:
    """An SBOM-like artifact whose ``subject`` is ``subject``, pushed by digest."""
    empty = b"{}"
    blobs = {push_blob(client, subject.repo, empty): empty,
             push_blob(client, subject.repo, payload): payload}
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.example.sbom",
                "config": descriptor("application/vnd.oci.empty.v1+json", empty),
                "layers": [descriptor("application/vnd.example.sbom.v1+json", payload)],
                "subject": descriptor(subject.media_type, subject.body)}
    body = json.dumps(document).encode()
    item = Item(subject.repo, digest_of(body), body, OCI_MANIFEST, blobs, subject.digest)
    return put(client, item, item.digest)


@dataclass
class Corpus:
    """What was pushed into the tree, and what registry:2 listed before it stopped."""

    root: Path
    items: dict[str, Item]
    tags: dict[str, dict[str, str]]  # repo -> tag -> digest
    links: dict[str, set[str]]  # repo -> every blob digest uploaded into it
    catalog: list[str]
    deleted: list[Item]
    unreferenced: str

    def copy(self, tmp: Path) -> Path:
        """A private copy of the tree at ``tmp/data`` for one test to change."""
        root = tmp / "data"
        shutil.copytree(self.root, root, symlinks=True)
        return root


def build_corpus(workdir: Path) -> Corpus:
    """Images, a moved tag, nested names, an index, a referrer, a deleted manifest."""
    root = workdir / "data"
    links: dict[str, set[str]] = {}
    with distribution(workdir, root) as client:
        shared = os.urandom(4096)
        a1 = image(client, "library/alpine", "3.19", [shared, os.urandom(2048)])
        put(client, a1, "latest")
        a2 = image(client, "library/alpine", "3.18", [shared, os.urandom(2049)])
        a3 = image(client, "library/alpine", "3.18", [os.urandom(2050)])  # A2 now untagged.
        sbom = referrer(client, a1, os.urandom(500))
        docker = image(client, "library/alpine", "docker", [os.urandom(1500)], docker=True)
        unreferenced = push_blob(client, "library/alpine", os.urandom(700))
        app = image(client, "team/app", "v1", [shared])
        api = image(client, "team/app/api", "v1", [os.urandom(1024)])
        children = [image(client, "multi/arch", None, [os.urandom(900 + i)]) for i in range(2)]
        multi = index(client, "multi/arch", "latest", children)
        gone = image(client, "gone/repo", "v1", [os.urandom(1100)])
        assert client.delete(f"/v2/gone/repo/manifests/{gone.digest}").status_code == 202
        catalog = client.get("/v2/_catalog").json()["repositories"]
        items = {i.digest: i for i in [a1, a2, a3, sbom, docker, app, api, *children, multi]}
        for item in [*items.values(), gone]:
            links.setdefault(item.repo, set()).update(item.blobs)
        links["library/alpine"].add(unreferenced)
        tags = {repo: {} for repo in catalog}
        for repo in catalog:
            listed = client.get(f"/v2/{repo}/tags/list").json().get("tags") or []
            for tag in listed:
                got = client.head(f"/v2/{repo}/manifests/{tag}", headers={
                    "accept": f"{OCI_MANIFEST}, {OCI_INDEX}, {DOCKER_MANIFEST}"})
                tags[repo][tag] = got.headers["docker-content-digest"]
    assert tags["library/alpine"] == {"3.19": a1.digest, "latest": a1.digest,
                                      "3.18": a3.digest, "docker": docker.digest}
    return Corpus(root, items, tags, links, catalog, [gone], unreferenced)
