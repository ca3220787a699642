"""The real Docker engine against the registry: push, verify over HTTP, pull back.

``docker_engine`` (``docker_engine.py``) is a private dockerd (Debian's
docker.io) with vfs storage and no network changes. Two images are built
offline in Python as a ``docker save`` archive and ``docker load``-ed:

* A: layers L1, L2;
* B: layers L1, L2, L3 (shares A's layers, adds one).

Then, with the registry on 127.0.0.1 (plain HTTP, insecure by default for
loopback in Docker):

1. ``docker push HOST/team/dockerimg:v1`` (A): every layer "Pushed"; the digest
   docker prints is the one the registry serves for ``GET .../manifests/v1``
   (``Docker-Content-Digest`` and the sha256 of the body), the manifest is a
   Docker schema 2 manifest whose config is A's image ID and whose layers
   gunzip to A's diff IDs;
2. ``docker push HOST/team/dockerimg:v2`` (B): L1 and L2 "Layer already exists",
   L3 "Pushed";
3. ``docker push HOST/team/otherimg:v1`` (B): every layer "Mounted from
   team/dockerimg" (cross-repository mount), same manifest digest as step 2;
4. every local image is removed, then ``docker pull`` by tag, by digest and
   from the mounted repository each download every layer ("Pull complete") and
   give back the original image ID and diff IDs.

Status words are docker's own progress lines; the digests and layer bytes are
checked over HTTP against the registry independently of them.
"""

from __future__ import annotations

import gzip
import io
import json
import platform
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from images import MANIFEST_ACCEPT, MT_DOCKER_MANIFEST, Layer, random_layer, sha256_digest

pytest_plugins = ["docker_engine"]
pytestmark = pytest.mark.e2e

KiB = 1024
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
PUSH_DIGEST = re.compile(
    r"^(?P<tag>\S+): digest: (?P<digest>sha256:[0-9a-f]{64}) size: (?P<size>\d+)$"
)
PROGRESS = re.compile(r"^(?P<id>[0-9a-f]{12}): (?P<status>.+)$")


def _go_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


@dataclass
class DockerImage:
    """A single-platform image as ``docker load`` sees it: config bytes and layers."""

    local_tag: str
    config: bytes
    layers: list[Layer]

    @property
    def id(self) -> str:
        """Docker's image ID: the digest of the config bytes, which push and pull keep."""
        return sha256_digest(self.config)

    @property
    def diff_ids(self) -> list[str]:
        return [layer.diff_id for layer in self.layers]


def make_docker_image(local_tag: str, layers: list[Layer]) -> DockerImage:
    config = json.dumps(
        {
            "architecture": _go_arch(),
            "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": {"Cmd": ["/bin/true"], "Labels": {"e2e": "dockyard-docker"}},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": [
                {"created": "2024-01-01T00:00:00Z", "created_by": f"dockyard e2e layer {i}"}
                for i in range(len(layers))
            ],
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    return DockerImage(local_tag=local_tag, config=config, layers=layers)


def write_docker_archive(path: Path, images: list[DockerImage]) -> Path:
    """A ``docker save``-format tar (manifest.json, config JSON, uncompressed layer tars)."""

    def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))

    manifest = []
    written: set[str] = set()
    with tarfile.open(path, "w") as tar:
        for image in images:
            config_name = f"{image.id.split(':')[1]}.json"
            add(tar, config_name, image.config)
            layer_names = []
            for layer in image.layers:
                name = f"{layer.diff_id.split(':')[1]}/layer.tar"
                if name not in written:
                    add(tar, name, gzip.decompress(layer.blob))
                    written.add(name)
                layer_names.append(name)
            manifest.append(
                {"Config": config_name, "RepoTags": [image.local_tag], "Layers": layer_names}
            )
        add(tar, "manifest.json", json.dumps(manifest).encode())
    return path


def progress(output: str) -> dict[str, list[str]]:
    """docker's non-TTY progress lines, ``<12 hex>: <status>``, grouped by id."""
    out: dict[str, list[str]] = {}
    for line in output.splitlines():
        m = PROGRESS.match(line.strip())
        if m:
            out.setdefault(m["id"], []).append(m["status"])
    return out


def short(digest: str) -> str:
    return digest.split(":", 1)[1][:12]


def pushed_digest(output: str, tag: str) -> tuple[str, int]:
    for line in output.splitlines():
        m = PUSH_DIGEST.match(line.strip())
        if m and m["tag"] == tag:
            return m["digest"], int(m["size"])
    raise AssertionError(f"no '{tag}: digest: ...' line in docker push output:\n{output}")


def assert_layer_statuses(output: str, expected: dict[str, str], what: str) -> None:
    """Each layer (by diff ID) ended with the expected status in a push's output."""
    seen = progress(output)
    for diff_id, status in expected.items():
        statuses = seen.get(short(diff_id))
        assert statuses, f"{what}: no progress line for layer {diff_id}:\n{output}"
        assert statuses[-1] == status, (
            f"{what}: layer {diff_id} ended with {statuses[-1]!r}, expected {status!r}:\n{output}"
        )


def check_manifest(http, registry, repo: str, tag: str, digest: str, size: int, image):
    """GET the manifest by tag and by digest; it must be the one docker pushed."""
    by_tag = http.get(
        f"{registry.url}/v2/{repo}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT}
    )
    assert by_tag.status_code == 200, by_tag.text
    assert by_tag.headers.get("docker-content-digest") == digest
    assert sha256_digest(by_tag.content) == digest
    assert len(by_tag.content) == size
    assert by_tag.headers.get("content-type") == MT_DOCKER_MANIFEST
    manifest = json.loads(by_tag.content)
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == MT_DOCKER_MANIFEST
    assert manifest["config"]["mediaType"] == MT_DOCKER_CONFIG
    assert manifest["config"]["digest"] == image.id
    assert [layer["mediaType"] for layer in manifest["layers"]] == [MT_DOCKER_LAYER] * len(
        image.layers
    )

    by_digest = http.get(
        f"{registry.url}/v2/{repo}/manifests/{digest}", headers={"Accept": MANIFEST_ACCEPT}
    )
    assert by_digest.status_code == 200, by_digest.text
    assert by_digest.content == by_tag.content

    config = http.get(f"{registry.url}/v2/{repo}/blobs/{image.id}")
    assert config.status_code == 200
    assert config.content == image.config
    # docker compressed the layers itself: the blobs must gunzip to our tars.
    for descriptor, diff_id in zip(manifest["layers"], image.diff_ids, strict=True):
        blob = http.get(f"{registry.url}/v2/{repo}/blobs/{descriptor['digest']}")
        assert blob.status_code == 200
        assert len(blob.content) == descriptor["size"]
        assert sha256_digest(blob.content) == descriptor["digest"]
        assert sha256_digest(gzip.decompress(blob.content)) == diff_id
    return manifest


def local_image_ids(docker) -> set[str]:
    out = docker.run("images", "--all", "--no-trunc", "--quiet").stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


def pull_and_check(docker, ref: str, image: DockerImage, manifest: dict, digest: str) -> None:
    """Pull ``ref`` into an empty engine: every layer is downloaded, the image is intact."""
    assert local_image_ids(docker) == set(), "the engine should hold no image before a pull"
    out = docker.run("pull", ref).stdout
    assert f"Digest: {digest}" in out, out
    statuses = progress(out)
    for layer in manifest["layers"]:
        assert "Pull complete" in statuses.get(short(layer["digest"]), []), (
            f"layer {layer['digest']} was not downloaded:\n{out}"
        )
    inspect = json.loads(docker.run("image", "inspect", ref).stdout)[0]
    assert inspect["Id"] == image.id
    assert inspect["RootFS"]["Layers"] == image.diff_ids
    repo = ref.split("@")[0] if "@" in ref else ref.rsplit(":", 1)[0]
    assert f"{repo}@{digest}" in inspect["RepoDigests"]
    docker.run("rmi", ref)
    assert local_image_ids(docker) == set()


def test_docker_push_pull_roundtrip(docker_engine, registry, http, tmp_path):
    docker = docker_engine
    host = registry.host
    l1, l2, l3 = (random_layer(size) for size in (8 * KiB, 96 * KiB, 256 * KiB))
    image_a = make_docker_image("dockyard-e2e/img-a:latest", [l1, l2])
    image_b = make_docker_image("dockyard-e2e/img-b:latest", [l1, l2, l3])

    archive = write_docker_archive(tmp_path / "images.tar", [image_a, image_b])
    docker.run("load", "--input", archive)
    for image in (image_a, image_b):
        inspect = json.loads(docker.run("image", "inspect", image.local_tag).stdout)[0]
        assert inspect["Id"] == image.id
        assert inspect["RootFS"]["Layers"] == image.diff_ids

    # 1. A to team/dockerimg:v1: everything is new.
    ref_a = f"{host}/team/dockerimg:v1"
    docker.run("tag", image_a.local_tag, ref_a)
    out = docker.run("push", ref_a).stdout
    assert_layer_statuses(out, {d: "Pushed" for d in image_a.diff_ids}, "push v1")
    digest_a, size_a = pushed_digest(out, "v1")
    manifest_a = check_manifest(http, registry, "team/dockerimg", "v1", digest_a, size_a, image_a)

    # 2. B to team/dockerimg:v2: A's layers are already in the repository.
    ref_b = f"{host}/team/dockerimg:v2"
    docker.run("tag", image_b.local_tag, ref_b)
    out = docker.run("push", ref_b).stdout
    assert_layer_statuses(
        out,
        {
            l1.diff_id: "Layer already exists",
            l2.diff_id: "Layer already exists",
            l3.diff_id: "Pushed",
        },
        "push v2",
    )
    digest_b, size_b = pushed_digest(out, "v2")
    manifest_b = check_manifest(http, registry, "team/dockerimg", "v2", digest_b, size_b, image_b)
    assert manifest_b["layers"][:2] == manifest_a["layers"]  # the very same blobs

    # 3. B to another repository: docker mounts every layer from team/dockerimg.
    ref_other = f"{host}/team/otherimg:v1"
    docker.run("tag", image_b.local_tag, ref_other)
    out = docker.run("push", ref_other).stdout
    assert_layer_statuses(
        out, {d: "Mounted from team/dockerimg" for d in image_b.diff_ids}, "push otherimg"
    )
    digest_other, size_other = pushed_digest(out, "v1")
    assert digest_other == digest_b
    check_manifest(http, registry, "team/otherimg", "v1", digest_other, size_other, image_b)

    tags = http.get(f"{registry.url}/v2/team/dockerimg/tags/list")
    assert tags.status_code == 200
    assert sorted(tags.json()["tags"]) == ["v1", "v2"]

    # 4. Remove everything locally, then pull back.
    docker.run("rmi", image_a.local_tag, image_b.local_tag, ref_a, ref_b, ref_other)
    assert local_image_ids(docker) == set()

    pull_and_check(docker, ref_a, image_a, manifest_a, digest_a)
    pull_and_check(docker, f"{host}/team/dockerimg@{digest_a}", image_a, manifest_a, digest_a)
    pull_and_check(docker, ref_other, image_b, manifest_b, digest_b)
