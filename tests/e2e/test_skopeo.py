"""skopeo against the registry: byte-exact round trips of images and indexes."""

from __future__ import annotations

import json

import pytest
from images import (
    MANIFEST_ACCEPT,
    MT_OCI_INDEX,
    MT_OCI_MANIFEST,
    layout_ref_digest,
    make_image,
    make_index,
    read_layout,
    sha256_digest,
    write_layout,
)

pytestmark = pytest.mark.e2e

KiB = 1024


def test_skopeo_roundtrip_multilayer_image(registry, tools, http, tmp_path):
    """oci layout -> registry -> oci layout keeps manifest and every blob byte-identical."""
    image = make_image((4 * KiB, 256 * KiB, 1024 * KiB))
    assert len(image.layers) == 3
    src = write_layout(tmp_path / "src", "v1", image)
    ref = registry.ref("team/app:v1")

    tools.skopeo("copy", "--preserve-digests", "--dest-tls-verify=false", f"oci:{src}:v1", ref)

    # What skopeo reads back is exactly what was pushed.
    raw = tools.raw_manifest(ref)
    assert sha256_digest(raw) == image.digest
    assert raw == image.manifest
    assert tools.raw_manifest(registry.ref(f"team/app@{image.digest}")) == image.manifest

    # The registry itself reports the right digest/type, and serves every blob intact.
    r = http.get(f"{registry.url}/v2/team/app/manifests/v1", headers={"Accept": MANIFEST_ACCEPT})
    assert r.status_code == 200, r.text
    assert r.headers["Docker-Content-Digest"] == image.digest
    assert r.headers["Content-Type"].split(";")[0] == MT_OCI_MANIFEST
    assert r.content == image.manifest
    for digest, data in image.blobs.items():
        r = http.get(f"{registry.url}/v2/team/app/blobs/{digest}")
        assert r.status_code == 200, (digest, r.status_code)
        assert r.content == data, f"blob {digest} differs"

    # And back into a fresh layout.
    dst = tmp_path / "dst"
    tools.skopeo("copy", "--preserve-digests", "--src-tls-verify=false", ref, f"oci:{dst}:v1")
    assert layout_ref_digest(dst, "v1") == image.digest
    _, blobs = read_layout(dst)
    expected = {**image.blobs, image.digest: image.manifest}
    assert sorted(blobs) == sorted(expected)
    for digest, data in expected.items():
        assert blobs[digest] == data, f"blob {digest} not byte-identical after round trip"


def test_skopeo_copy_all_multiarch_index(registry, tools, http, tmp_path):
    """copy --all of a linux/amd64 + linux/arm64 OCI index, in and out, digests preserved."""
    index = make_index((("linux", "amd64"), ("linux", "arm64")))
    src = write_layout(tmp_path / "src", "multi", index)
    ref = registry.ref("team/multi:v1")

    tools.skopeo(
        "copy", "--all", "--preserve-digests", "--dest-tls-verify=false", f"oci:{src}:multi", ref
    )

    raw = tools.raw_manifest(ref)
    assert sha256_digest(raw) == index.digest
    assert raw == index.index
    pushed = json.loads(raw)
    assert pushed["mediaType"] == MT_OCI_INDEX
    children = {
        f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
        for m in pushed["manifests"]
    }
    assert children == {p: img.digest for p, img in index.children.items()}

    r = http.get(f"{registry.url}/v2/team/multi/manifests/v1", headers={"Accept": MANIFEST_ACCEPT})
    assert r.status_code == 200
    assert r.headers["Docker-Content-Digest"] == index.digest
    assert r.headers["Content-Type"].split(";")[0] == MT_OCI_INDEX

    for platform, image in index.children.items():
        # Each child manifest is addressable by digest and byte-identical ...
        assert tools.raw_manifest(registry.ref(f"team/multi@{image.digest}")) == image.manifest
        # ... and a client selecting the platform through the index gets its config.
        os_name, arch = platform.split("/")
        config = tools.skopeo(
            "--override-os",
            os_name,
            "--override-arch",
            arch,
            "inspect",
            "--config",
            "--raw",
            "--tls-verify=false",
            ref,
        ).stdout_bytes
        assert config == image.config, f"{platform}: wrong config through the index"

    dst = tmp_path / "dst"
    tools.skopeo(
        "copy", "--all", "--preserve-digests", "--src-tls-verify=false", ref, f"oci:{dst}:multi"
    )
    assert layout_ref_digest(dst, "multi") == index.digest
    _, blobs = read_layout(dst)
    expected = {index.digest: index.index}
    for image in index.children.values():
        expected.update(image.blobs)
        expected[image.digest] = image.manifest
    assert sorted(blobs) == sorted(expected)
    for digest, data in expected.items():
        assert blobs[digest] == data, f"blob {digest} not byte-identical after round trip"


def test_copy_to_and_from_reference_peer(registry, distribution, tools, tmp_path):
    """Registry <-> Distribution (reference peer) copies keep every digest.

    The registry is exercised as a *destination* fed by another registry and
    as a *source* read by skopeo for another registry.
    """
    index = make_index((("linux", "amd64"), ("linux", "arm64")), layer_sizes=(16 * KiB,))
    src = write_layout(tmp_path / "src", "peer", index)
    tools.skopeo(
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        f"oci:{src}:peer",
        distribution.ref("peer/multi:v1"),
    )

    tls = ("--src-tls-verify=false", "--dest-tls-verify=false")
    tools.skopeo(
        "copy",
        "--all",
        "--preserve-digests",
        *tls,
        distribution.ref("peer/multi:v1"),
        registry.ref("peer/multi:v1"),
    )
    assert tools.raw_manifest(registry.ref("peer/multi:v1")) == index.index

    tools.skopeo(
        "copy",
        "--all",
        "--preserve-digests",
        *tls,
        registry.ref("peer/multi:v1"),
        distribution.ref("peer/back:v1"),
    )
    assert tools.raw_manifest(distribution.ref("peer/back:v1")) == index.index
    for image in index.children.values():
        ref = distribution.ref(f"peer/back@{image.digest}")
        assert tools.raw_manifest(ref) == image.manifest
