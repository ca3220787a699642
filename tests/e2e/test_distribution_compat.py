"""A registry:2 volume, served by Dockyard in place.

skopeo pushes a corpus into Debian's docker-registry (Distribution 2.8): a single-layer
image, a multi-layer image under two tags, a Docker-format image, a multi-arch index, plus
an artifact with a subject pushed over HTTP. registry:2 stops; Dockyard starts on the same
``rootdirectory`` and must serve every manifest byte-identical, every blob intact, the same
catalog and tag lists, the artifact through the referrers API, and take new pushes into the
same tree.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from images import (
    MANIFEST_ACCEPT,
    MT_OCI_CONFIG,
    MT_OCI_LAYER_GZIP,
    MT_OCI_MANIFEST,
    Image,
    Layer,
    canonical_json,
    descriptor,
    layout_ref_digest,
    make_image,
    make_index,
    read_layout,
    sha256_digest,
    write_layout,
)
from tests.conftest import RunningServer, start_server
from tests.gc.registry2 import Item, distribution, referrer

pytestmark = pytest.mark.e2e

KiB = 1024
TLS = ("--src-tls-verify=false", "--dest-tls-verify=false")


def _slug(name: str) -> str:
    """A directory name for an image name (``oci:`` references cannot hold ``:``)."""
    return name.replace("/", "_").replace(":", "-")


def _ref(host: str, name: str) -> str:
    return f"docker://{host}/{name}"


def _copy_out(tools, host: str, name: str, layout: Path, index: bool) -> tuple[str, dict]:
    """skopeo copy (``--all`` for an index) into an OCI layout: (top digest, blobs)."""
    extra = ["--all"] if index else []
    layout.parent.mkdir(parents=True, exist_ok=True)
    tools.skopeo("copy", *extra, "--preserve-digests", *TLS, _ref(host, name),
                 f"oci:{layout}:out")
    return layout_ref_digest(layout, "out"), read_layout(layout)[1]


def _listing(client, host_path: str) -> dict:
    response = client.get(host_path)
    assert response.status_code == 200, (host_path, response.text)
    return response.json()


def test_dockyard_serves_a_registry2_volume_in_place(tools, tmp_path) -> None:
    workdir = tmp_path / "registry2"
    root = workdir / "data"
    single = make_image((4 * KiB,))
    layered = make_image((4 * KiB, 64 * KiB, 256 * KiB))
    docker_src = make_image((8 * KiB, 16 * KiB))
    multi = make_index((("linux", "amd64"), ("linux", "arm64")), layer_sizes=(8 * KiB,))
    sources = {
        "compat/single:v1": (single, False),
        "compat/layered:v1": (layered, False),
        "compat/layered:latest": (layered, False),
        "compat/docker:v1": (docker_src, False),
        "compat/multiarch:v1": (multi, True),
    }
    expected_raw: dict[str, bytes] = {}
    expected_layouts: dict[str, tuple[str, dict]] = {}

    with distribution(workdir, root) as client:
        host = client.base_url.netloc.decode()
        for name, (item, is_index) in sources.items():
            layout = write_layout(tmp_path / "src" / _slug(name), "src", item)
            flags = ["--all", "--preserve-digests"] if is_index else ["--preserve-digests"]
            if name == "compat/docker:v1":
                flags = ["--format", "v2s2"]  # Converted: Docker schema2 media types.
            tools.skopeo("copy", *flags, *TLS, f"oci:{layout}:src", _ref(host, name))
        subject = Item("compat/single", single.digest, single.manifest, MT_OCI_MANIFEST)
        sbom = referrer(client, subject, b'{"sbom": "spdx"}')
        for name, (_item, is_index) in sources.items():
            expected_raw[name] = tools.raw_manifest(_ref(host, name))
            expected_layouts[name] = _copy_out(
                tools, host, name, tmp_path / "from-registry2" / _slug(name), is_index)
        catalog = _listing(client, "/v2/_catalog")
        tag_lists = {repo: _listing(client, f"/v2/{repo}/tags/list")
                     for repo in catalog["repositories"]}
    assert expected_raw["compat/single:v1"] == single.manifest
    assert json.loads(expected_raw["compat/docker:v1"])["mediaType"] == \
        "application/vnd.docker.distribution.manifest.v2+json"
    assert (root / "docker/registry/v2/repositories/compat/single/_layers").is_dir()

    (tmp_path / "dockyard").mkdir()
    (tmp_path / "dockyard-again").mkdir()
    dockyard = start_server(tmp_path / "dockyard",
                            {"storage.filesystem.rootdirectory": str(root)})
    try:
        _check_served(dockyard, tools, tmp_path, sources, expected_raw, expected_layouts,
                      catalog, tag_lists, sbom)
        _push_into_the_tree(dockyard, tools, tmp_path, layered)
    finally:
        assert dockyard.stop() == 0
    assert "indexed an existing registry:2 tree" in dockyard.log()

    # A restart finds nothing new to index, and everything still pulls.
    again = start_server(tmp_path / "dockyard-again",
                         {"storage.filesystem.rootdirectory": str(root)})
    try:
        assert "indexed an existing registry:2 tree" not in again.log()
        for name in sources:
            assert tools.raw_manifest(_ref(again.host, name)) == expected_raw[name]
    finally:
        again.stop()


def _check_served(dockyard: RunningServer, tools, tmp_path: Path, sources: dict,
                  expected_raw: dict, expected_layouts: dict, catalog: dict,
                  tag_lists: dict, sbom: Item) -> None:
    for name, (_item, is_index) in sources.items():
        raw = tools.raw_manifest(_ref(dockyard.host, name))
        assert raw == expected_raw[name], name
        assert sha256_digest(raw) == sha256_digest(expected_raw[name])
        repo, tag = name.split(":")
        response = dockyard.client.get(f"/v2/{repo}/manifests/{tag}",
                                       headers={"accept": MANIFEST_ACCEPT})
        assert response.headers["docker-content-digest"] == sha256_digest(raw)
        out = _copy_out(tools, dockyard.host, name, tmp_path / "from-dockyard" / _slug(name),
                        is_index)
        assert out == expected_layouts[name], f"{name}: copied-out layouts differ"
    assert _listing(dockyard.client, "/v2/_catalog") == catalog
    for repo, listed in tag_lists.items():
        assert _listing(dockyard.client, f"/v2/{repo}/tags/list") == listed
    referrers = _listing(dockyard.client, f"/v2/compat/single/referrers/{sbom.subject}")
    assert [m["digest"] for m in referrers["manifests"]] == [sbom.digest]


def _push_into_the_tree(dockyard: RunningServer, tools, tmp_path: Path, layered: Image) -> None:
    """New images (one reusing layers registry:2 stored) go into the same tree and pull."""
    fresh = make_image((32 * KiB,))
    sibling = _image_with(layered.layers[:2])
    for name, item in (("compat/new:v1", fresh), ("compat/layered:v2", sibling)):
        layout = write_layout(tmp_path / "new" / _slug(name), "src", item)
        tools.skopeo("copy", "--preserve-digests", *TLS, f"oci:{layout}:src",
                     _ref(dockyard.host, name))
        digest, blobs = _copy_out(tools, dockyard.host, name,
                                  tmp_path / "new-out" / _slug(name), False)
        assert digest == item.digest
        assert blobs == {**item.blobs, item.digest: item.manifest}
    assert "v2" in _listing(dockyard.client, "/v2/compat/layered/tags/list")["tags"]


def _image_with(layers: list[Layer]) -> Image:
    config = canonical_json({
        "architecture": "amd64", "os": "linux", "config": {"Entrypoint": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]}})
    manifest = canonical_json({
        "schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
        "config": descriptor(MT_OCI_CONFIG, config),
        "layers": [descriptor(MT_OCI_LAYER_GZIP, layer.blob) for layer in layers]})
    return Image(manifest=manifest, config=config, layers=layers)
