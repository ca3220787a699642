"""``garbage-collect --delete-untagged``: what no tag reaches goes, index children and the
referrers of kept manifests stay (Distribution's -m drops both: pain points #3178 and the
signature/SBOM hazard)."""

import os
import re
from collections.abc import Callable

from tests.conftest import RunningServer
from tests.gc.helpers import (
    Pushed,
    assert_pulls,
    db_rows,
    disk_snapshot,
    manifest_status,
    push_image,
    push_index,
    push_referrer,
    run_gc,
    stored_digests,
    summary,
)
from tests.pushing import OCI_INDEX

Factory = Callable[..., RunningServer]
REPO = "gc/untagged"


def _listed(output: str, prefix: str) -> set[str]:
    return set(re.findall(rf"^{prefix} (\S+@\S+)$", output, re.MULTILINE))


def _ref(image: Pushed) -> str:
    return f"{image.repo}@{image.digest}"


def test_delete_untagged_keeps_children_and_referrers_of_tagged(
        server_factory: Factory) -> None:
    server = server_factory()
    client = server.client
    shared = os.urandom(2000)

    # Kept: a tagged index, its untagged children, referrers of the index and of a child,
    # and a referrer of that referrer (a signature on an SBOM).
    child_1 = push_image(client, REPO, "tmp-c1", [os.urandom(1000)])
    child_2 = push_image(client, REPO, "tmp-c2", [os.urandom(1001)])
    index = push_index(client, REPO, "multi", [child_1, child_2])
    sbom = push_referrer(client, REPO, index, os.urandom(300))
    child_sbom = push_referrer(client, REPO, child_1, os.urandom(301))
    signature = push_referrer(client, REPO, sbom, os.urandom(302))
    tagged = push_image(client, REPO, "v1", [os.urandom(1002)])
    # Dropped: untagged images (one by digest, one whose tag was deleted), a referrer of a
    # dropped image, and an untagged index with its child.
    by_digest = push_image(client, REPO, "tmp-u1", [shared, os.urandom(1003)])
    orphan_sbom = push_referrer(client, REPO, by_digest, os.urandom(303))
    untagged = push_image(client, REPO, "old", [os.urandom(1004)])
    lone_child = push_image(client, REPO, "tmp-c3", [os.urandom(1005)])
    lone_index = push_index(client, REPO, "tmp-i2", [lone_child])
    for tag in ("tmp-c1", "tmp-c2", "tmp-u1", "old", "tmp-c3", "tmp-i2"):
        assert client.delete(f"/v2/{REPO}/manifests/{tag}").status_code == 202
    # The shared layer is also in a tagged image of another repository: it stays.
    elsewhere = push_image(client, "gc/elsewhere", "v1", [shared])

    kept = [child_1, child_2, index, sbom, child_sbom, signature, tagged, elsewhere]
    dropped = [by_digest, orphan_sbom, untagged, lone_child, lone_index]
    kept_digests = {d for image in kept for d in (image.digest, *image.blobs)}
    doomed = {d for image in dropped for d in (image.digest, *image.blobs)} - kept_digests
    assert server.stop() == 0

    before_disk, before_db = disk_snapshot(server.root), db_rows(server.root)
    dry = run_gc(server.config_path, "--dry-run", "--delete-untagged")
    assert dry.returncode == 0, dry.stderr
    assert _listed(dry.stdout, "manifest eligible for deletion:") == set(map(_ref, dropped))
    assert summary(dry.stdout)[1] == len(doomed)
    assert disk_snapshot(server.root) == before_disk
    assert db_rows(server.root) == before_db

    real = run_gc(server.config_path, "--delete-untagged")
    assert real.returncode == 0, real.stderr
    assert _listed(real.stdout, "deleting manifest") == set(map(_ref, dropped))
    assert "5 untagged manifests deleted" in real.stdout
    assert summary(real.stdout)[1] == len(doomed)
    stored = stored_digests(server.root)
    assert kept_digests <= stored
    assert not doomed & stored

    restarted = server_factory({"storage.filesystem.rootdirectory": str(server.root)})
    for image in kept:
        assert_pulls(restarted.client, image)
    for image in dropped:
        assert manifest_status(restarted.client, image) == 404
    listed = restarted.client.get(f"/v2/{REPO}/referrers/{index.digest}").json()
    assert [m["digest"] for m in listed["manifests"]] == [sbom.digest]
    assert restarted.client.get(f"/v2/{REPO}/tags/list").json()["tags"] == ["multi", "v1"]
    response = restarted.client.get(f"/v2/{REPO}/manifests/multi",
                                    headers={"accept": OCI_INDEX})
    assert response.status_code == 200 and response.content == index.body


def test_without_delete_untagged_untagged_manifests_stay(server_factory: Factory) -> None:
    server = server_factory()
    image = push_image(server.client, REPO, "v1", [os.urandom(1000)])
    assert server.client.delete(f"/v2/{REPO}/manifests/v1").status_code == 202
    assert server.stop() == 0
    result = run_gc(server.config_path)
    assert result.returncode == 0, result.stderr
    assert summary(result.stdout)[1] == 0
    assert {image.digest, *image.blobs} <= stored_digests(server.root)
