"""buildah: build from scratch, push, inspect what landed in the registry."""

from __future__ import annotations

import json
import os

import pytest
from images import MT_OCI_MANIFEST, gunzip_tar_members, sha256_digest

pytestmark = pytest.mark.e2e


def test_buildah_push_from_scratch(registry, tools, http, tmp_path):
    payload = os.urandom(64 * 1024)
    (tmp_path / "app.bin").write_bytes(payload)
    entrypoint = ["/srv/app.bin", "--serve"]
    local = "localhost/e2e-buildah:v1"
    policy = ("--signature-policy", tools.policy)

    ctr = tools.buildah("from", *policy, "scratch").stdout.strip()
    try:
        tools.buildah("copy", ctr, tmp_path / "app.bin", "/srv/app.bin")
        tools.buildah(
            "config", "--entrypoint", json.dumps(entrypoint), "--label", "e2e.test=buildah", ctr
        )
        tools.buildah("commit", *policy, "--format", "oci", ctr, local)
    finally:
        tools.buildah("rm", ctr)
    image_id = tools.buildah(
        "inspect", "--type", "image", "--format", "{{.FromImageID}}", local
    ).stdout.strip()
    assert len(image_id) == 64

    digestfile = tmp_path / "pushed.digest"
    ref = registry.ref("team/buildah:v1")
    tools.buildah("push", *policy, "--tls-verify=false", "--digestfile", digestfile, local, ref)
    pushed = digestfile.read_text().strip()

    raw = tools.raw_manifest(ref)
    assert sha256_digest(raw) == pushed
    manifest = json.loads(raw)
    assert manifest["mediaType"] == MT_OCI_MANIFEST
    assert manifest["config"]["digest"] == f"sha256:{image_id}"
    assert len(manifest["layers"]) == 1

    info = json.loads(tools.skopeo("inspect", "--tls-verify=false", ref).stdout)
    assert info["Digest"] == pushed
    assert info["RepoTags"] == ["v1"]
    assert info["Labels"]["e2e.test"] == "buildah"
    assert info["Layers"] == [manifest["layers"][0]["digest"]]

    config_raw = tools.skopeo(
        "inspect", "--config", "--raw", "--tls-verify=false", ref
    ).stdout_bytes
    assert sha256_digest(config_raw) == f"sha256:{image_id}"
    assert json.loads(config_raw)["config"]["Entrypoint"] == entrypoint

    # The layer the registry serves contains the file we copied in.
    layer = manifest["layers"][0]
    r = http.get(f"{registry.url}/v2/team/buildah/blobs/{layer['digest']}")
    assert r.status_code == 200
    assert sha256_digest(r.content) == layer["digest"] and len(r.content) == layer["size"]
    assert gunzip_tar_members(r.content)["srv/app.bin"] == payload
