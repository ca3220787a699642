"""``dockyard garbage-collect`` against storage a real server wrote, checked from the outside.

What must go is computed from what each test pushed and deleted, never from the command's
own view; the tree and the database are then read directly.
"""

import os
from collections.abc import Callable
from pathlib import Path

from tests.conftest import RunningServer
from tests.gc.helpers import (
    Pushed,
    assert_pulls,
    blob_dir,
    blob_rows,
    db_rows,
    deleted_blob_paths,
    disk_snapshot,
    eligible_blobs,
    link_rows,
    manifest_status,
    push_image,
    run_gc,
    stored_digests,
    summary,
)
from tests.pushing import digest_of, push_blob

Factory = Callable[..., RunningServer]


def _populate(server: RunningServer) -> tuple[list[Pushed], dict[str, bytes]]:
    """Push, then delete; returns (images that stay, {digest: bytes} of what must go)."""
    client = server.client
    shared = os.urandom(3000)  # In a kept and in a deleted image, across two repositories.
    kept_a1 = push_image(client, "gc/a", "v1", [shared, os.urandom(1100)])
    untagged_a2 = push_image(client, "gc/a", "v2", [shared, os.urandom(1200)])
    assert client.delete("/v2/gc/a/manifests/v2").status_code == 202  # Tag only: A2 stays.
    gone_a3 = push_image(client, "gc/a", "v3", [os.urandom(1300), os.urandom(1400)])
    assert client.delete(f"/v2/gc/a/manifests/{gone_a3.digest}").status_code == 202
    gone_b1 = push_image(client, "gc/b", "latest", [shared, os.urandom(1500)])
    assert client.delete(f"/v2/gc/b/manifests/{gone_b1.digest}").status_code == 202
    never_used = os.urandom(1600)
    push_blob(client, "gc/a", never_used)  # Uploaded, linked, referenced by no manifest.
    dropped: dict[str, bytes] = {gone_a3.digest: gone_a3.body, gone_b1.digest: gone_b1.body,
                                 digest_of(never_used): never_used}
    dropped |= gone_a3.blobs
    dropped |= {d: b for d, b in gone_b1.blobs.items() if b != shared}
    return [kept_a1, untagged_a2], dropped


def _plant_orphan(root: Path) -> tuple[str, int]:
    """A blob file with no database row, as a crash between commit and record leaves."""
    data = os.urandom(1700)
    digest = digest_of(data)
    directory = blob_dir(root, digest)
    directory.mkdir(parents=True)
    (directory / "data").write_bytes(data)
    return digest, len(data)


def test_dry_run_changes_nothing_then_sweep_frees_exactly_the_unreferenced(
        server_factory: Factory) -> None:
    server = server_factory()
    root, config = server.root, server.config_path
    kept, dropped = _populate(server)
    orphan, orphan_size = _plant_orphan(root)
    doomed = {*dropped, orphan}
    doomed_bytes = sum(map(len, dropped.values())) + orphan_size
    assert server.stop() == 0

    before_disk, before_db = disk_snapshot(root), db_rows(root)
    stored_before = stored_digests(root)
    assert doomed <= stored_before

    dry = run_gc(config, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert eligible_blobs(dry.stdout) == doomed
    assert "Deleting blob" not in dry.stdout
    _, eligible, would_free = summary(dry.stdout)
    assert (eligible, would_free) == (len(doomed), doomed_bytes)
    assert disk_snapshot(root) == before_disk
    assert db_rows(root) == before_db
    for image in kept:
        assert f"{image.repo}: marking manifest {image.digest}" in dry.stdout

    real = run_gc(config)
    assert real.returncode == 0, real.stderr
    marked, eligible, freed = summary(real.stdout)
    assert (eligible, freed) == (len(doomed), doomed_bytes)
    assert deleted_blob_paths(real.stdout) == {str(blob_dir(root, d)) for d in doomed}
    assert stored_digests(root) == stored_before - doomed
    assert not any(blob_dir(root, d).exists() for d in doomed)
    rows = blob_rows(root)
    assert not doomed & set(rows)
    assert set(rows) == stored_before - doomed  # Every surviving file still has its row.
    assert not {d for _, d in link_rows(root)} & doomed
    assert marked == len(stored_before - doomed)

    again = run_gc(config)
    assert again.returncode == 0, again.stderr
    assert summary(again.stdout)[1:] == (0, 0)

    restarted = server_factory({"storage.filesystem.rootdirectory": str(root)})
    for image in kept:
        assert_pulls(restarted.client, image)
    assert restarted.client.get(f"/v2/gc/b/blobs/{orphan}").status_code == 404
    # A freed blob pushed again is stored again (no stale "already exists").
    freed_layer = max(dropped.values(), key=len)
    again_image = push_image(restarted.client, "gc/b", "again", [freed_layer])
    assert_pulls(restarted.client, again_image)


def test_quiet_prints_only_the_summary(server_factory: Factory) -> None:
    server = server_factory()
    _populate(server)
    assert server.stop() == 0
    result = run_gc(server.config_path, "--quiet", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1
    summary(result.stdout)


def test_refuses_while_a_server_serves_writes_unless_forced(server_factory: Factory) -> None:
    server = server_factory()
    client = server.client
    kept = push_image(client, "gc/live", "v1", [os.urandom(900)])
    gone = push_image(client, "gc/live", "v2", [os.urandom(950)])
    assert client.delete(f"/v2/gc/live/manifests/{gone.digest}").status_code == 202
    before_disk, before_db = disk_snapshot(server.root), db_rows(server.root)

    refused = run_gc(server.config_path)
    assert refused.returncode == 1
    assert "serving writes" in refused.stderr and "--force" in refused.stderr
    assert refused.stdout == ""
    assert disk_snapshot(server.root) == before_disk
    assert db_rows(server.root) == before_db
    assert run_gc(server.config_path, "--dry-run").returncode == 1

    forced = run_gc(server.config_path, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "--force" in forced.stderr
    doomed = {gone.digest, *gone.blobs}
    assert summary(forced.stdout)[1:] == (len(doomed),
                                          len(gone.body) + sum(map(len, gone.blobs.values())))
    assert not doomed & stored_digests(server.root)
    assert_pulls(client, kept)
    assert manifest_status(client, gone) == 404


def test_a_read_only_server_does_not_block_collection(server_factory: Factory) -> None:
    writer = server_factory()
    root = writer.root
    kept = push_image(writer.client, "gc/ro", "v1", [os.urandom(800)])
    gone = push_image(writer.client, "gc/ro", "v2", [os.urandom(850)])
    assert writer.client.delete(f"/v2/gc/ro/manifests/{gone.digest}").status_code == 202
    assert writer.stop() == 0

    reader = server_factory({"storage.filesystem.rootdirectory": str(root),
                             "storage.maintenance.readonly.enabled": True})
    result = run_gc(writer.config_path)
    assert result.returncode == 0, result.stderr
    assert summary(result.stdout)[1] == 1 + len(gone.blobs)
    assert_pulls(reader.client, kept)
    assert not {gone.digest, *gone.blobs} & stored_digests(root)
