"""``dockyard copy`` against real registries and real skopeo.

Dockyard (``registry``) and Distribution (``distribution``) trade a multi-arch index both
ways with identical digests; a second copy moves no blob byte (seen by a recording proxy);
a copy within one registry mounts instead of moving bytes; OCI layouts and docker-archive
tars go both ways between dockyard and skopeo.
"""

from __future__ import annotations

import gzip
import json

import pytest
from dockyard_cli import blob_bytes_moved, dockyard
from images import make_image, make_index, sha256_digest, write_layout

from conftest import RecordingProxy

pytestmark = pytest.mark.e2e

KiB = 1024


def push(tools, layout, tag, ref):  # type: ignore[no-untyped-def]
    tools.skopeo("copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
                 f"oci:{layout}:{tag}", ref)


def raw_digest(tools, ref):  # type: ignore[no-untyped-def]
    return sha256_digest(tools.raw_manifest(ref))


@pytest.fixture
def source_index(tools, registry, tmp_path):  # type: ignore[no-untyped-def]
    """A fresh two-platform index, pushed by skopeo to Dockyard as copy/src:v1."""
    index = make_index(layer_sizes=(16 * KiB, 256 * KiB))
    push(tools, write_layout(tmp_path / "src", "v1", index), "v1", registry.ref("copy/src:v1"))
    return index


def test_multiarch_between_dockyard_and_distribution(tools, registry, distribution, tmp_path,
                                                     source_index):
    index = source_index
    with RecordingProxy(distribution.host) as proxy:
        out = dockyard(tmp_path, "copy", "--json", f"{registry.host}/copy/src:v1",
                       f"{proxy.host}/mirror/app:v1").json()
        assert out["digest"] == index.digest and out["blobs_copied"] == 6, out
        assert raw_digest(tools, distribution.ref("mirror/app:v1")) == index.digest
        for child in index.children.values():
            assert raw_digest(tools, distribution.ref(f"mirror/app@{child.digest}")) == \
                child.digest
        first = blob_bytes_moved(proxy.snapshot())
        assert first["uploaded"] >= sum(len(b) for c in index.children.values()
                                         for b in c.blobs.values())

        proxy.clear()
        again = dockyard(tmp_path, "copy", "--json", f"{registry.host}/copy/src:v1",
                         f"{proxy.host}/mirror/app:v1").json()
        assert again["upToDate"] and again["bytes_copied"] == 0, again
        assert blob_bytes_moved(proxy.snapshot()) == {"uploaded": 0, "blob_gets": 0}, \
            proxy.summary()

    # ...and back from Distribution into another Dockyard repository, digests unchanged.
    dockyard(tmp_path, "copy", f"docker://{distribution.host}/mirror/app:v1",
             f"docker://{registry.host}/copy/back:v2")
    assert raw_digest(tools, registry.ref("copy/back:v2")) == index.digest


def test_platform_copies_one_child_only(tools, registry, distribution, tmp_path, source_index):
    arm, amd = source_index.children["linux/arm64"], source_index.children["linux/amd64"]
    dockyard(tmp_path, "copy", "--platform", "linux/arm64", f"{registry.host}/copy/src:v1",
             f"{distribution.host}/one/arm:v1")
    assert raw_digest(tools, distribution.ref("one/arm:v1")) == arm.digest
    missing = tools.skopeo("inspect", "--raw", "--tls-verify=false",
                           distribution.ref(f"one/arm@{amd.digest}"), check=False)
    assert missing.returncode != 0, missing


def test_second_tag_and_mount_within_one_registry(tools, registry, tmp_path, source_index):
    index = source_index
    layers = {la.digest for c in index.children.values() for la in c.layers}
    with RecordingProxy(registry.host) as proxy:
        dockyard(tmp_path, "copy", "--tag", "extra", f"{proxy.host}/copy/src:v1",
                 f"{proxy.host}/copy/mounted:v1")
        exchanges = proxy.snapshot()
    mounts = {e.query["mount"][0]: e for e in exchanges
              if e.method == "POST" and e.query.get("mount")}
    assert layers <= set(mounts), proxy.summary()
    assert all(mounts[d].status == 201 and mounts[d].query["from"] == ["copy/src"]
               for d in layers), proxy.summary()
    assert blob_bytes_moved(exchanges) == {"uploaded": 0, "blob_gets": 0}, proxy.summary()
    assert raw_digest(tools, registry.ref("copy/mounted:extra")) == index.digest


def test_mount_from_hint_across_registries(tools, registry, distribution, tmp_path,
                                          source_index):
    """Source on Distribution, destination Dockyard already holding the blobs in another
    repository: --mount-from turns every blob into a mount and nothing is downloaded."""
    dockyard(tmp_path, "copy", f"{registry.host}/copy/src:v1", f"{distribution.host}/hint/a:v1")
    with RecordingProxy(registry.host) as proxy:
        dockyard(tmp_path, "copy", "--mount-from", "copy/src", f"{distribution.host}/hint/a:v1",
                 f"{proxy.host}/copy/hinted:v1")
        exchanges = proxy.snapshot()
    mounted = [e for e in exchanges if e.method == "POST" and e.query.get("mount")]
    assert len(mounted) == 6 and all(e.status == 201 for e in mounted), proxy.summary()
    assert blob_bytes_moved(exchanges)["uploaded"] == 0, proxy.summary()
    assert raw_digest(tools, registry.ref("copy/hinted:v1")) == source_index.digest


def test_oci_layout_both_ways_with_skopeo(tools, registry, distribution, tmp_path,
                                          source_index):
    index = source_index
    out = tmp_path / "ours"
    dockyard(tmp_path, "copy", f"{registry.host}/copy/src:v1", f"oci:{out}:v1")
    raw = tools.skopeo("inspect", "--raw", f"oci:{out}:v1").stdout_bytes
    assert sha256_digest(raw) == index.digest
    tools.skopeo("inspect", f"oci:{out}:v1")  # skopeo resolves the index to an image
    tools.skopeo("copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
                 f"oci:{out}:v1", distribution.ref("from/ours:v1"))
    assert raw_digest(tools, distribution.ref("from/ours:v1")) == index.digest

    theirs = tmp_path / "theirs"
    tools.skopeo("copy", "--all", "--src-tls-verify=false", registry.ref("copy/src:v1"),
                 f"oci:{theirs}:t1")
    dockyard(tmp_path, "copy", f"oci:{theirs}:t1", f"{registry.host}/copy/from-skopeo:v1")
    assert raw_digest(tools, registry.ref("copy/from-skopeo:v1")) == index.digest


def test_docker_archive_both_ways_with_skopeo(tools, registry, tmp_path):
    image = make_image((8 * KiB, 128 * KiB))
    push(tools, write_layout(tmp_path / "src", "v1", image), "v1", registry.ref("arc/src:v1"))

    ours = tmp_path / "ours.tar"
    dockyard(tmp_path, "copy", f"{registry.host}/arc/src:v1",
             f"docker-archive:{ours}:arc/src:v1")
    layout = tmp_path / "via-skopeo"
    tools.skopeo("copy", f"docker-archive:{ours}", f"oci:{layout}:v1")
    manifest = json.loads(tools.skopeo("inspect", "--raw", f"oci:{layout}:v1").stdout)
    # skopeo re-serialises the config when it converts to OCI; its content is the same.
    config = json.loads((layout / "blobs" / "sha256" / manifest["config"]["digest"][7:])
                        .read_bytes())
    assert config["rootfs"] == json.loads(image.config)["rootfs"]
    for descriptor, layer in zip(manifest["layers"], image.layers, strict=True):
        blob = (layout / "blobs" / "sha256" / descriptor["digest"][7:]).read_bytes()
        plain = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
        assert sha256_digest(plain) == layer.diff_id

    theirs = tmp_path / "theirs.tar"
    tools.skopeo("copy", "--src-tls-verify=false", registry.ref("arc/src:v1"),
                 f"docker-archive:{theirs}:arc/src:v1")
    out = dockyard(tmp_path, "copy", "--json", f"docker-archive:{theirs}",
                   f"{registry.host}/arc/from-skopeo:v1").json()
    pushed = json.loads(tools.raw_manifest(registry.ref("arc/from-skopeo:v1")))
    assert sha256_digest(tools.raw_manifest(registry.ref("arc/from-skopeo:v1"))) == out["digest"]
    assert pushed["config"]["digest"] == sha256_digest(image.config)
    assert [d["digest"] for d in pushed["layers"]] == [la.diff_id for la in image.layers]


def test_errors_are_one_line_naming_the_image(registry, tmp_path):
    run = dockyard(tmp_path, "copy", f"{registry.host}/copy/absent:v1", f"oci:{tmp_path}/x:v1",
                   check=False)
    assert run.returncode == 1, run
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run
    assert lines[0].startswith(f"copy {registry.host}/copy/absent:v1 to oci:"), run
    assert f"source {registry.host} refused pull: NAME_UNKNOWN" in lines[0], run
    usage = dockyard(tmp_path, "copy", "--platform", "linux", f"{registry.host}/a:v1",
                     f"oci:{tmp_path}/y", check=False)
    assert usage.returncode == 2, usage


# ---------------------------------------------------------------------------- auth


@pytest.fixture
def htpasswd_dockyard(server_factory, tmp_path):  # type: ignore[no-untyped-def]
    import bcrypt

    path = tmp_path / "htpasswd"
    path.write_text(f"copier:{bcrypt.hashpw(b'sekret', bcrypt.gensalt(4)).decode()}\n")
    return server_factory({"auth": {"htpasswd": {"realm": "copy", "path": str(path)}}})


@pytest.fixture
def token_dockyard(server_factory, tmp_path):  # type: ignore[no-untyped-def]
    from test_auth import ISSUER, SERVICE, TokenIssuer
    from tests.auth.tokens import Issuer, write_bundle

    with TokenIssuer(Issuer.new("copy-signer"), "reader", "pass") as issuer:
        bundle = tmp_path / "bundle.pem"
        write_bundle(bundle, issuer.signer)
        yield server_factory({"auth": {"token": {
            "realm": issuer.realm, "service": SERVICE, "issuer": ISSUER,
            "rootcertbundle": str(bundle)}}}), issuer


def test_copy_from_token_registry_into_htpasswd_registry(tools, htpasswd_dockyard,
                                                         token_dockyard, tmp_path):
    token_registry, issuer = token_dockyard
    image = make_image((8 * KiB, 32 * KiB))
    tools.skopeo("copy", "--preserve-digests", "--dest-tls-verify=false", "--dest-creds",
                 "reader:pass", f"oci:{write_layout(tmp_path / 'src', 'v1', image)}:v1",
                 f"docker://{token_registry.host}/team/app:v1")
    source = f"{token_registry.host}/team/app:v1"
    target = f"{htpasswd_dockyard.host}/team/app:v1"

    refused = dockyard(tmp_path, "copy", source, target, "--src-creds", "reader:pass",
                       "--dest-creds", "copier:wrong", check=False)
    assert refused.returncode == 1, refused
    assert f"destination {htpasswd_dockyard.host}" in refused.stderr, refused
    assert "UNAUTHORIZED" in refused.stderr or "authentication required" in refused.stderr, \
        refused

    issuer.requests.clear()
    dockyard(tmp_path, "copy", source, target, "--src-creds", "reader:pass",
             "--dest-creds", "copier:sekret")
    assert "repository:team/app:pull" in issuer.scopes(), issuer.requests
    raw = tools.skopeo("inspect", "--raw", "--tls-verify=false", "--creds", "copier:sekret",
                       f"docker://{target}").stdout_bytes
    assert sha256_digest(raw) == image.digest


# ---------------------------------------------------------------------------- interruptions


def _present(server, repository, digests):  # type: ignore[no-untyped-def]
    return {d for d in digests
            if server.client.head(f"/v2/{repository}/blobs/{d}").status_code == 200}


def test_killed_copy_resumes_and_skips_what_arrived(tools, registry, server_factory,
                                                    tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from dockyard_cli import cli_env
    from tcp_faults import FaultyProxy

    image = make_image((1024 * KiB,) * 4)
    push(tools, write_layout(tmp_path / "src", "v1", image), "v1", registry.ref("kill/src:v1"))
    target = server_factory()
    layers = [la.digest for la in image.layers]
    with FaultyProxy(target.host, rate=1024 * KiB) as slow:  # ~4 s for the whole image
        process = subprocess.Popen(
            [sys.executable, "-m", "dockyard", "copy", "--jobs", "1",
             f"{registry.host}/kill/src:v1", f"{slow.host}/kill/dst:v1"],
            env=cli_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            arrived: set[str] = set()
            deadline = time.monotonic() + 60
            while not arrived and process.poll() is None and time.monotonic() < deadline:
                arrived = _present(target, "kill/dst", layers)
                time.sleep(0.02)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
    assert arrived and len(arrived) < len(layers), "the copy was not caught mid-way"
    assert target.client.get("/v2/kill/dst/manifests/v1").status_code == 404

    with RecordingProxy(target.host) as proxy:
        out = dockyard(tmp_path, "copy", "--json", f"{registry.host}/kill/src:v1",
                       f"{proxy.host}/kill/dst:v1").json()
        exchanges = proxy.snapshot()
    assert out["blobs_skipped"] >= len(arrived), out
    for digest in arrived:
        assert not [e for e in exchanges if e.query.get("digest") == [digest]], proxy.summary()
    assert raw_digest(tools, f"docker://{target.host}/kill/dst:v1") == image.digest


def test_dropped_connection_mid_blob_resumes(tools, registry, server_factory, tmp_path):
    """Uploads go in PATCH chunks; a connection cut in the middle resumes from the offset
    the registry reports, so only the unfinished chunk is sent again."""
    import asyncio

    from tcp_faults import FaultyProxy

    from dockyard.client.options import ClientOptions
    from dockyard.client.transfer.copy import copy_image
    from dockyard.client.transfer.registry_endpoint import RegistryDestination, RegistrySource

    image = make_image((3 * 1024 * KiB,))
    push(tools, write_layout(tmp_path / "src", "v1", image), "v1", registry.ref("cut/src:v1"))
    target = server_factory()
    size = len(image.layers[0].blob)
    chunk = 256 * KiB
    with FaultyProxy(target.host, cut_after=size // 2) as cutter:
        options = ClientOptions(chunk_size=chunk, backoff=0.01)

        async def run():  # type: ignore[no-untyped-def]
            source = RegistrySource(f"{registry.host}/cut/src:v1")
            destination = RegistryDestination(f"{cutter.host}/cut/dst:v1", options)
            try:
                return await copy_image(source, destination)
            finally:
                await source.aclose()
                await destination.aclose()

        result = asyncio.run(run())
        assert cutter.cuts == 1
        resent = cutter.sent
    assert result.digest == image.digest
    assert raw_digest(tools, f"docker://{target.host}/cut/dst:v1") == image.digest
    # Only the chunk in flight at the cut went twice (plus config and manifest bytes).
    assert size < resent < size + 2 * chunk, (resent, size)


def test_quota_refusal_is_one_line(tools, registry, server_factory, tmp_path):
    """The destination's own reason reaches the user: side, registry, code and message."""
    image = make_image((64 * KiB, 256 * KiB))
    push(tools, write_layout(tmp_path / "src", "v1", image), "v1", registry.ref("quota/src:v1"))
    target = server_factory({"dockyard.quotas": {"namespaces": {"small": "100KiB"}}})
    run = dockyard(tmp_path, "copy", f"{registry.host}/quota/src:v1",
                   f"{target.host}/small/app:v1", check=False)
    assert run.returncode == 1, run
    line = run.stderr.strip().splitlines()[-1]  # after the per-blob progress lines
    assert line.startswith(f"copy {registry.host}/quota/src:v1 to {target.host}/small/app:v1: "
                           f"destination {target.host} refused push: DENIED quota exceeded"), run


def test_corrupted_source_bytes_never_reach_the_destination(tools, registry, server_factory,
                                                            tmp_path):
    """One byte flipped on the way from the source: the copy stops on the source's digest
    check before the upload is closed, so the destination never stores the blob."""
    from tcp_faults import FaultyProxy

    image = make_image((1024 * KiB,))
    push(tools, write_layout(tmp_path / "src", "v1", image), "v1", registry.ref("flip/src:v1"))
    target = server_factory()
    with FaultyProxy(registry.host, flip_at=512 * KiB) as flipper:
        run = dockyard(tmp_path, "copy", "--jobs", "1", f"{flipper.host}/flip/src:v1",
                       f"{target.host}/flip/dst:v1", check=False)
        assert flipper.flips == 1, run
    assert run.returncode == 1, run
    line = run.stderr.strip().splitlines()[-1]
    assert "source" in line and "digest mismatch" in line, run
    layer = image.layers[0].digest
    assert target.client.head(f"/v2/flip/dst/blobs/{layer}").status_code == 404
    assert target.client.get("/v2/flip/dst/manifests/v1").status_code == 404
