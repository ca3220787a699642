"""Online garbage collection rules, through real pushes and ``dockyard gc run`` on a live server.

The servers here run without their background collector (``dockyard.gc.enabled: false``) and
with a zero delay, so each test decides when a collection happens.
"""

import hashlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import RunningServer, free_port, start_server
from tests.gc.helpers import (
    Pushed,
    assert_pulls,
    blob_dir,
    manifest_status,
    push_image,
    push_index,
    push_referrer,
    stored_digests,
)
from tests.gc.online import NO_BACKGROUND, all_digests, assert_no_garbage, deleted, gc, gc_json
from tests.observability.helpers import samples, value
from tests.pushing import push_blob

Factory = Callable[..., RunningServer]


def _blob_status(server: RunningServer, repo: str, digest: str) -> int:
    return server.client.head(f"/v2/{repo}/blobs/{digest}").status_code


def _delete_tag(server: RunningServer, repo: str, tag: str) -> None:
    assert server.client.delete(f"/v2/{repo}/manifests/{tag}").status_code == 202


def test_tag_delete_frees_the_image_and_its_files(server_factory: Factory) -> None:
    server = server_factory(NO_BACKGROUND)
    kept = push_image(server.client, "app/one", "keep", [os.urandom(2048)])
    gone = push_image(server.client, "app/one", "old", [os.urandom(3000), os.urandom(10)])
    _delete_tag(server, "app/one", "old")

    document = gc_json(server.config_path)

    manifests, links, blobs = deleted(document)
    assert manifests == {f"app/one@{gone.digest}"}
    assert links == {f"app/one {d}" for d in gone.blobs}
    assert blobs == all_digests(gone)
    assert document["totals"]["bytes"] == len(gone.body) + sum(map(len, gone.blobs.values()))
    assert manifest_status(server.client, gone) == 404
    for digest in gone.blobs:
        assert _blob_status(server, "app/one", digest) == 404
        assert not blob_dir(server.root, digest).exists()
    assert not blob_dir(server.root, gone.digest).exists()
    assert_pulls(server.client, kept)
    assert_no_garbage(server.root)


def test_shared_layers_survive_until_the_last_reference(server_factory: Factory) -> None:
    server = server_factory(NO_BACKGROUND)
    shared = os.urandom(4096)
    first = push_image(server.client, "team/a", "v1", [shared, os.urandom(100)])
    second = push_image(server.client, "team/b", "v1", [shared])
    shared_digest = next(d for d, data in first.blobs.items() if data == shared)

    _delete_tag(server, "team/a", "v1")
    _, links, blobs = deleted(gc_json(server.config_path))
    assert f"team/a {shared_digest}" in links
    assert shared_digest not in blobs
    assert _blob_status(server, "team/a", shared_digest) == 404
    assert_pulls(server.client, second)

    _delete_tag(server, "team/b", "v1")
    _, _, blobs = deleted(gc_json(server.config_path))
    assert shared_digest in blobs
    assert shared_digest not in stored_digests(server.root)
    assert_no_garbage(server.root)


def test_index_children_and_referrers_of_kept_manifests_survive(
        server_factory: Factory) -> None:
    server = server_factory(NO_BACKGROUND)
    client = server.client
    amd = push_image(client, "multi/app", "tmp-amd", [os.urandom(500)])
    arm = push_image(client, "multi/app", "tmp-arm", [os.urandom(600)])
    index = push_index(client, "multi/app", "v1", [amd, arm])
    signature = push_referrer(client, "multi/app", index, b"signature")
    _delete_tag(server, "multi/app", "tmp-amd")
    _delete_tag(server, "multi/app", "tmp-arm")

    manifests, _, _ = deleted(gc_json(server.config_path))
    assert manifests == set()
    for image in (amd, arm, index, signature):
        assert_pulls(client, image)

    _delete_tag(server, "multi/app", "v1")  # Now the whole tree is garbage, in one run.
    manifests, _, blobs = deleted(gc_json(server.config_path))
    assert manifests == {f"multi/app@{m.digest}" for m in (amd, arm, index, signature)}
    assert blobs >= all_digests(amd) | all_digests(arm) | all_digests(signature)
    assert_no_garbage(server.root)


def test_tag_move_frees_the_old_image(server_factory: Factory) -> None:
    server = server_factory(NO_BACKGROUND)
    base = os.urandom(1000)
    old = push_image(server.client, "moving/app", "latest", [base, os.urandom(50)])
    new = push_image(server.client, "moving/app", "latest", [base, os.urandom(60)])

    manifests, _, blobs = deleted(gc_json(server.config_path))

    assert manifests == {f"moving/app@{old.digest}"}
    assert blobs == all_digests(old) - set(new.blobs)
    assert_pulls(server.client, new)
    assert_no_garbage(server.root)


def test_delay_keeps_candidates_until_due(server_factory: Factory) -> None:
    server = server_factory({"dockyard.gc.enabled": False, "dockyard.gc.delay": "1h"})
    image = push_image(server.client, "slow/app", "v1", [os.urandom(700)])
    _delete_tag(server, "slow/app", "v1")
    push_blob(server.client, "slow/app", os.urandom(300))  # An upload never referenced.

    document = gc_json(server.config_path)

    assert document["totals"] == {**document["totals"], "manifests": 0, "links": 0, "blobs": 0}
    status = gc(server.config_path, "status")
    assert "manifest: 1 queued, 0 due" in status.stdout, status.stdout
    assert manifest_status(server.client, image) == 200
    assert all_digests(image) <= stored_digests(server.root)


def test_untagged_false_keeps_untagged_but_frees_deleted_manifests(
        server_factory: Factory) -> None:
    server = server_factory({**NO_BACKGROUND, "dockyard.gc.untagged": False})
    untagged = push_image(server.client, "keep/app", "v1", [os.urandom(800)])
    removed = push_image(server.client, "keep/app", "v2", [os.urandom(900)])
    _delete_tag(server, "keep/app", "v1")
    response = server.client.delete(f"/v2/keep/app/manifests/{removed.digest}")
    assert response.status_code == 202

    manifests, _, blobs = deleted(gc_json(server.config_path))

    assert manifests == set()
    assert blobs == all_digests(removed)
    assert_pulls(server.client, untagged)


def test_dry_run_lists_exactly_what_the_run_deletes(server_factory: Factory) -> None:
    server = server_factory(NO_BACKGROUND)
    client = server.client
    shared = os.urandom(1500)
    images = [push_image(client, "dry/app", f"t{i}", [shared, os.urandom(100 + i)])
              for i in range(4)]
    child = push_image(client, "dry/app", "child", [os.urandom(300)])
    index = push_index(client, "dry/app", "multi", [child])
    _delete_tag(server, "dry/app", "child")  # Kept: a tagged index lists it.
    for tag in ("t0", "t2", "multi"):
        _delete_tag(server, "dry/app", tag)
    push_blob(client, "dry/app", os.urandom(64))
    before = stored_digests(server.root)

    preview = gc_json(server.config_path, "--dry-run")
    assert stored_digests(server.root) == before
    assert deleted(gc_json(server.config_path, "--dry-run")) == deleted(preview)  # Unconsumed
    real = gc_json(server.config_path)

    assert preview["dry_run"] and not real["dry_run"]
    assert deleted(preview) == deleted(real)
    assert {f"dry/app@{m.digest}" for m in (images[0], images[2], index, child)} \
        == deleted(real)[0]
    for image in (images[1], images[3]):
        assert_pulls(client, image)
    assert_no_garbage(server.root)


def test_upload_never_referenced_is_collected(server_factory: Factory) -> None:
    server = server_factory(NO_BACKGROUND)
    digest = push_blob(server.client, "up/app", os.urandom(5000))

    _, links, blobs = deleted(gc_json(server.config_path))

    assert links == {f"up/app {digest}"} and blobs == {digest}
    assert _blob_status(server, "up/app", digest) == 404
    assert digest not in stored_digests(server.root)


def test_blob_under_review_is_rescued_by_a_new_manifest(server_factory: Factory) -> None:
    server = server_factory(NO_BACKGROUND)
    layer = os.urandom(2500)
    old = push_image(server.client, "rescue/app", "v1", [layer])
    _delete_tag(server, "rescue/app", "v1")  # Queues the image, its links and blobs.
    new = push_image(server.client, "rescue/app", "v2", [layer])  # References the layer.

    manifests, _, blobs = deleted(gc_json(server.config_path))

    layer_digest = next(d for d, data in old.blobs.items() if data == layer)
    assert manifests == {f"rescue/app@{old.digest}"}
    assert layer_digest not in blobs
    assert_pulls(server.client, new)
    assert_no_garbage(server.root)


def test_blob_delete_and_manifest_delete_queue_their_content(server_factory: Factory) -> None:
    server = server_factory(NO_BACKGROUND)
    image = push_image(server.client, "api/app", "v1", [os.urandom(400)])
    loose = push_blob(server.client, "api/app", os.urandom(77))
    assert server.client.delete(f"/v2/api/app/blobs/{loose}").status_code == 202
    assert server.client.delete(f"/v2/api/app/manifests/{image.digest}").status_code == 202

    _, _, blobs = deleted(gc_json(server.config_path))

    assert blobs == all_digests(image) | {loose}
    assert_no_garbage(server.root)


def test_read_only_registry_is_not_collected(server_factory: Factory) -> None:
    server = server_factory({**NO_BACKGROUND,
                             "storage.maintenance.readonly.enabled": True})
    done = gc(server.config_path, "run")
    assert done.returncode == 1
    assert "read-only" in done.stderr


def test_background_collector_collects_while_serving(server_factory: Factory) -> None:
    debug = free_port()
    server = server_factory({"dockyard.gc.delay": "0s", "dockyard.gc.interval": "200ms",
                             "http.debug": {"addr": f"127.0.0.1:{debug}",
                                            "prometheus": {"enabled": True}}})
    image: Pushed = push_image(server.client, "bg/app", "v1", [os.urandom(900)])
    _delete_tag(server, "bg/app", "v1")

    deadline = time.monotonic() + 30
    while all_digests(image) & stored_digests(server.root) and time.monotonic() < deadline:
        time.sleep(0.1)

    assert not all_digests(image) & stored_digests(server.root)
    assert manifest_status(server.client, image) == 404
    assert "garbage collection" in server.log()
    metrics = samples(httpx.get(f"http://127.0.0.1:{debug}/metrics", timeout=10).text)
    assert value(metrics, "dockyard_gc_deleted_total", kind="blob") == len(all_digests(image))
    assert value(metrics, "dockyard_gc_deleted_total", kind="manifest") == 1
    freed = sum(map(len, image.blobs.values())) + len(image.body)
    assert value(metrics, "dockyard_gc_freed_bytes_total") == freed


def test_orphan_walk_removes_files_no_row_names(server_factory: Factory) -> None:
    server = server_factory(NO_BACKGROUND)
    kept = push_image(server.client, "orphan/app", "v1", [os.urandom(300)])
    data = os.urandom(1234)  # As if the server died between an upload's rename and its link.
    orphan = f"sha256:{hashlib.sha256(data).hexdigest()}"
    blob_dir(server.root, orphan).mkdir(parents=True)
    (blob_dir(server.root, orphan) / "data").write_bytes(data)

    preview = gc_json(server.config_path, "--orphans", "--dry-run")
    assert preview["orphans"] == [orphan]
    assert orphan in stored_digests(server.root)

    real = gc_json(server.config_path, "--orphans")
    assert real["orphans"] == [orphan]
    assert real["files_removed"] == [{"digest": orphan, "size": len(data)}]
    assert orphan not in stored_digests(server.root)
    assert_pulls(server.client, kept)
    assert_no_garbage(server.root)


def test_two_workers_share_one_queue(tmp_path: Path) -> None:
    """``serve --workers 2``: both run the background task; the collector lock takes turns."""
    server = start_server(tmp_path, {"dockyard.gc": {"delay": "2s", "interval": "100ms"}},
                          serve_args=("--workers", "2"))
    try:
        images = [push_image(server.client, "workers/app", f"t{i}", [os.urandom(100)])
                  for i in range(6)]
        for i in range(6):
            _delete_tag(server, "workers/app", f"t{i}")
        garbage = set().union(*(all_digests(image) for image in images))
        deadline = time.monotonic() + 30
        while garbage & stored_digests(server.root) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not garbage & stored_digests(server.root)
        assert all(manifest_status(server.client, image) == 404 for image in images)
    finally:
        server.stop()
    summaries = re.findall(r"garbage collection: deleted (\d+) manifests", server.log())
    assert sum(map(int, summaries)) == 6  # Each manifest deleted once, by one of the two.
    assert "Traceback" not in server.log()


def test_dry_run_does_not_wait_for_the_write_lock(server_factory: Factory) -> None:
    """The preview runs on a copy: a push holding the write lock neither waits nor blocks it."""
    server = server_factory(NO_BACKGROUND)
    image = push_image(server.client, "preview/app", "v1", [os.urandom(100)])
    _delete_tag(server, "preview/app", "v1")
    writer = sqlite3.connect(server.root / "dockyard" / "metadata.sqlite3",
                             isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # As a manifest put in progress holds it.
        done = gc(server.config_path, "run", "--dry-run", "--json", timeout=25)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert done.returncode == 0, done.stderr
    assert f"preview/app@{image.digest}" in deleted(json.loads(done.stdout))[0]
