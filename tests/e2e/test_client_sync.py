"""``dockyard sync`` with a plan file: regex and semver filters, renames, idempotence, and a
failing repository that does not stop the others."""

from __future__ import annotations

import pytest
from dockyard_cli import blob_bytes_moved, dockyard
from images import make_image, sha256_digest, write_layout

from conftest import RecordingProxy

pytestmark = pytest.mark.e2e

KiB = 1024
WEB_TAGS = ["v1.0.0", "v1.2.0", "v1.9.3", "v2.0.0", "latest", "dev"]
API_TAGS = ["1.1", "1.5", "2.0", "nightly"]

PLAN = """
prefix: mirror/
repositories:
  - name: sync/web
    tags: {semver: ">=1.1,<2", names: [latest]}
  - name: sync/api
    destination: renamed/api
    tags: {regex: "1\\\\..*"}
"""


@pytest.fixture(scope="module")
def populated(tools, registry, tmp_path_factory):  # type: ignore[no-untyped-def]
    """sync/web and sync/api on Dockyard, two images spread over their tags."""
    base = tmp_path_factory.mktemp("sync-src")
    images = {"a": make_image((8 * KiB, 64 * KiB)), "b": make_image((4 * KiB,))}
    digests = {}
    for repo, tags in (("sync/web", WEB_TAGS), ("sync/api", API_TAGS)):
        for n, tag in enumerate(tags):
            image = images["ab"[n % 2]]
            layout = write_layout(base / f"{repo.replace('/', '-')}-{tag}", tag, image)
            tools.skopeo("copy", "--preserve-digests", "--dest-tls-verify=false",
                         f"oci:{layout}:{tag}", registry.ref(f"{repo}:{tag}"))
            digests[f"{repo}:{tag}"] = image.digest
    return digests


def tags_of(tools, ref):  # type: ignore[no-untyped-def]
    import json

    out = tools.skopeo("list-tags", "--tls-verify=false", ref, check=False)
    return sorted(json.loads(out.stdout)["Tags"]) if out.returncode == 0 else []


def test_sync_with_filters_then_nothing_to_do(tools, registry, distribution, populated,
                                              tmp_path):
    plan = tmp_path / "images.yaml"
    plan.write_text(PLAN)
    with RecordingProxy(distribution.host) as proxy:
        first = dockyard(tmp_path, "sync", "--json", "--file", plan, registry.host,
                         proxy.host).json()
        assert first["failed"] == [], first
        assert sorted(first["copied"]) == sorted(
            [f"{proxy.host}/mirror/sync/web:{t}" for t in ("v1.2.0", "v1.9.3", "latest")]
            + [f"{proxy.host}/mirror/renamed/api:{t}" for t in ("1.1", "1.5")]), first
        assert tags_of(tools, distribution.ref("mirror/sync/web")) == \
            ["latest", "v1.2.0", "v1.9.3"]
        assert tags_of(tools, distribution.ref("mirror/renamed/api")) == ["1.1", "1.5"]
        for tag in ("v1.9.3", "latest"):
            raw = tools.raw_manifest(distribution.ref(f"mirror/sync/web:{tag}"))
            assert sha256_digest(raw) == populated[f"sync/web:{tag}"]

        proxy.clear()
        second = dockyard(tmp_path, "sync", "--file", plan, registry.host, proxy.host)
        assert second.stdout.strip().startswith("0 copied, 5 skipped, 0 failed"), second
        assert blob_bytes_moved(proxy.snapshot()) == {"uploaded": 0, "blob_gets": 0}, \
            proxy.summary()
        assert {e.method for e in proxy.snapshot()} <= {"GET", "HEAD"}, proxy.summary()


def test_failing_repository_exits_1_and_others_are_copied(tools, registry, populated,
                                                          server_factory, tmp_path):
    destination = server_factory()
    run = dockyard(tmp_path, "sync", "--repo", "sync/absent", "--repo", "sync/api",
                   registry.host, destination.host, check=False)
    assert run.returncode == 1, run
    assert f"failed: {registry.host}/sync/absent" in run.stderr, run
    assert "NAME_UNKNOWN" in run.stderr, run
    assert run.stdout.strip().startswith("4 copied, 0 skipped, 1 failed"), run
    copied = tags_of(tools, f"docker://{destination.host}/sync/api")
    assert copied == sorted(API_TAGS)


def test_usage_errors_exit_2(registry, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("repositories: [{name: a, tags: {semver: 'soon'}}]")
    run = dockyard(tmp_path, "sync", "--file", bad, registry.host, registry.host, check=False)
    assert run.returncode == 2 and "repositories.0.tags.semver" in run.stderr, run
    neither = dockyard(tmp_path, "sync", registry.host, registry.host, check=False)
    assert neither.returncode == 2, neither
