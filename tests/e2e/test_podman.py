"""podman build (offline, FROM scratch) -> push -> rmi -> pull, compared by digest and ID."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from images import sha256_digest

pytestmark = pytest.mark.e2e


def _inspect(tools, name: str) -> dict:
    return json.loads(tools.podman("image", "inspect", name).stdout)[0]


def test_podman_push_pull_roundtrip(registry, tools, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    payload = os.urandom(256 * 1024)
    (ctx / "payload.bin").write_bytes(payload)
    (ctx / "hello.txt").write_text("hello from dockyard e2e\n")
    (ctx / "Containerfile").write_text(
        "FROM scratch\n"
        "COPY payload.bin /opt/payload.bin\n"
        "COPY hello.txt /etc/hello.txt\n"
        'ENTRYPOINT ["/opt/payload.bin"]\n'
    )
    name = f"{registry.host}/team/podman:v1"
    policy = ("--signature-policy", tools.policy)

    tools.podman(
        "build", "--pull=never", "--format", "oci", "-t", name, "-f", ctx / "Containerfile", ctx
    )
    built = _inspect(tools, name)
    image_id = built["Id"]
    assert len(built["RootFS"]["Layers"]) == 2

    digestfile = tmp_path / "pushed.digest"
    tools.podman("push", "--tls-verify=false", *policy, "--digestfile", digestfile, name)
    pushed = digestfile.read_text().strip()
    assert pushed.startswith("sha256:")

    # The registry holds exactly what podman says it pushed.
    raw = tools.raw_manifest(f"docker://{name}")
    assert sha256_digest(raw) == pushed
    manifest = json.loads(raw)
    assert manifest["config"]["digest"] == f"sha256:{image_id}"
    assert len(manifest["layers"]) == 2

    # Forget it locally, pull it back.
    tools.podman("rmi", name)
    assert tools.podman("image", "exists", name, check=False).returncode == 1
    tools.podman("pull", "--tls-verify=false", *policy, name)

    pulled = _inspect(tools, name)
    assert pulled["Id"] == image_id, "image ID (config digest) changed through the registry"
    assert pulled["Digest"] == pushed, "pulled manifest digest differs from the pushed one"
    assert f"{registry.host}/team/podman@{pushed}" in pulled["RepoDigests"]
    assert pulled["RootFS"]["Layers"] == built["RootFS"]["Layers"]  # diff IDs

    # And the pulled filesystem has the content we built.
    mountpoint = Path(tools.podman("image", "mount", name).stdout.strip())
    try:
        assert (mountpoint / "opt" / "payload.bin").read_bytes() == payload
        assert (mountpoint / "etc" / "hello.txt").read_text() == "hello from dockyard e2e\n"
    finally:
        tools.podman("image", "unmount", name)

    # Pull by digest resolves to the same image.
    by_digest = f"{registry.host}/team/podman@{pushed}"
    tools.podman("pull", "--tls-verify=false", *policy, by_digest)
    assert _inspect(tools, by_digest)["Id"] == image_id
