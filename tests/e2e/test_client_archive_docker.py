"""docker-archive tars between ``dockyard copy`` and a real Docker engine: ``docker load``
reads what we write, and we read what ``docker save`` writes."""

from __future__ import annotations

import json

import pytest
from dockyard_cli import dockyard
from images import make_image, sha256_digest, write_layout

pytest_plugins = ["docker_engine"]
pytestmark = pytest.mark.e2e

KiB = 1024


def test_docker_loads_our_archive_and_we_read_docker_save(docker_engine, tools, registry,
                                                          tmp_path):
    image = make_image((8 * KiB, 96 * KiB))
    tools.skopeo("copy", "--preserve-digests", "--dest-tls-verify=false",
                 f"oci:{write_layout(tmp_path / 'src', 'v1', image)}:v1",
                 registry.ref("arcd/src:v1"))
    diff_ids = [layer.diff_id for layer in image.layers]

    ours = tmp_path / "ours.tar"
    dockyard(tmp_path, "copy", f"{registry.host}/arcd/src:v1",
             f"docker-archive:{ours}:dockyard-e2e/arcd:v1")
    docker_engine.run("load", "--input", ours)
    inspect = json.loads(docker_engine.run("image", "inspect", "dockyard-e2e/arcd:v1").stdout)[0]
    assert inspect["Id"] == sha256_digest(image.config)
    assert inspect["RootFS"]["Layers"] == diff_ids

    saved = tmp_path / "saved.tar"
    docker_engine.run("save", "--output", saved, "dockyard-e2e/arcd:v1")
    out = dockyard(tmp_path, "copy", "--json", f"docker-archive:{saved}:dockyard-e2e/arcd:v1",
                   f"{registry.host}/arcd/from-docker:v1").json()
    pushed = json.loads(tools.raw_manifest(registry.ref("arcd/from-docker:v1")))
    assert sha256_digest(tools.raw_manifest(registry.ref("arcd/from-docker:v1"))) == \
        out["digest"]
    assert pushed["config"]["digest"] == sha256_digest(image.config)
    assert [d["digest"] for d in pushed["layers"]] == diff_ids
    docker_engine.run("rmi", "dockyard-e2e/arcd:v1")
