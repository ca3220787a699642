"""Untagged cleanup: old manifests no tag reaches go; index children and referrers of kept
manifests stay; blobs are left for the collector."""

import os
from collections.abc import Callable

from tests.conftest import RunningServer
from tests.gc.helpers import Pushed, push_image, push_index, push_referrer, stored_digests
from tests.retention.helpers import age_manifests, run_json

Factory = Callable[..., RunningServer]
REPO = "team/multi"


def untag(server: RunningServer, *tags: str) -> None:
    for tag in tags:
        assert server.client.delete(f"/v2/{REPO}/manifests/{tag}").status_code == 202


def status(server: RunningServer, image: Pushed) -> int:
    return server.client.head(f"/v2/{REPO}/manifests/{image.digest}").status_code


def test_old_untagged_go_children_and_referrers_of_kept_stay(server_factory: Factory) -> None:
    server = server_factory({"dockyard.retention": {"untagged": {"olderthan": "7d"}}})
    client = server.client
    child_1 = push_image(client, REPO, "tmp-1", [os.urandom(500)])
    child_2 = push_image(client, REPO, "tmp-2", [os.urandom(501)])
    index = push_index(client, REPO, "v1.0.0", [child_1, child_2])
    sbom = push_referrer(client, REPO, index, os.urandom(100))
    signature = push_referrer(client, REPO, sbom, os.urandom(101))
    orphan = push_image(client, REPO, "tmp-3", [os.urandom(502)])
    orphan_sbom = push_referrer(client, REPO, orphan, os.urandom(102))
    old_child = push_image(client, REPO, "tmp-4", [os.urandom(503)])
    old_index = push_index(client, REPO, "tmp-5", [old_child])
    untag(server, "tmp-1", "tmp-2", "tmp-3", "tmp-4", "tmp-5")
    age_manifests(server.root, REPO, days=30)
    fresh = push_image(client, REPO, "tmp-6", [os.urandom(504)])
    untag(server, "tmp-6")
    kept = [child_1, child_2, index, sbom, signature, fresh]
    doomed = [orphan, orphan_sbom, old_child, old_index]
    blobs_before = stored_digests(server.root)

    dry = run_json(server.config_path, "run", "--dry-run")
    assert {(d["repository"], d["digest"]) for d in dry["deleted"]} == \
        {(REPO, image.digest) for image in doomed}
    assert all(d["kind"] == "manifest" for d in dry["deleted"])
    listed = [d["digest"] for d in dry["deleted"]]
    assert listed.index(old_index.digest) < listed.index(old_child.digest)
    assert listed.index(orphan_sbom.digest) < listed.index(orphan.digest)
    assert all(status(server, image) == 200 for image in kept + doomed)

    real = run_json(server.config_path, "run")
    assert real["deleted"] == dry["deleted"] and real["skipped"] == []
    assert [status(server, image) for image in kept] == [200] * len(kept)
    assert [status(server, image) for image in doomed] == [404] * len(doomed)
    assert stored_digests(server.root) == blobs_before  # Blobs are the collector's job.
    history = run_json(server.config_path, "history")
    assert history[0]["manifests_deleted"] == len(doomed) and history[0]["tags_deleted"] == 0
