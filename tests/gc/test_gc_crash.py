"""``kill -9`` of ``dockyard gc run``, or of a server whose background collector is working,
in the middle of collections: nothing a tag reaches is lost, no row is left without its
bytes, and the next run (or the restarted server) finishes the work."""

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.conftest import start_server
from tests.gc.helpers import blob_rows, stored_digests
from tests.gc.online import assert_no_garbage, build_store, gc_json, queue_rows
from tests.pushing import ACCEPT_ALL, digest_of


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "gc.yml"
    path.write_text(yaml.safe_dump({
        "version": 0.1,
        "storage": {"filesystem": {"rootdirectory": str(tmp_path / "data")}},
        "dockyard": {"gc": {"enabled": False, "delay": "0s", "batch": 10, "pause": "20ms"}},
    }))
    return path


def _kill_mid_run(config: Path, root: Path, after: float) -> None:
    """Start a collection, let it work for ``after`` seconds, SIGKILL its process group."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    queued = len(queue_rows(root))
    process = subprocess.Popen([sys.executable, "-m", "dockyard", "gc", "run", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    while len(queue_rows(root)) == queued and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.01)  # Wait for the first committed batch: the run is under way.
    time.sleep(after)
    assert process.poll() is None, "the collection finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _kept_content(root: Path) -> dict[str, set[str]]:
    """Per tagged manifest digest: every digest it needs (itself, config, layers)."""
    with sqlite3.connect(root / "dockyard" / "metadata.sqlite3") as conn:
        needed: dict[str, set[str]] = {}
        for digest, blob in conn.execute(
                "SELECT m.digest, b.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id "
                "LEFT JOIN manifest_blobs b ON b.manifest_id = m.id"):
            needed.setdefault(digest, {digest}).add(blob)
    return needed


def _assert_intact(root: Path, expected_tags: int) -> None:
    needed = _kept_content(root)
    assert len(needed) == expected_tags
    rows, files = set(blob_rows(root)), stored_digests(root)
    assert rows <= files, "a blob row lost its bytes"
    base = root / "docker" / "registry" / "v2" / "blobs" / "sha256"
    for digests in needed.values():
        assert digests <= rows
        for digest in digests:
            hexpart = digest.split(":")[1]
            data = (base / hexpart[:2] / hexpart / "data").read_bytes()
            assert hashlib.sha256(data).hexdigest() == hexpart


def test_kill_during_collection_then_resume(tmp_path: Path) -> None:
    root = tmp_path / "data"
    built = build_store(root, images=600)
    config = _config(tmp_path)

    for after in (0.2, 0.5, 0.9):
        _kill_mid_run(config, root, after)
        _assert_intact(root, len(built["kept"]))
    assert queue_rows(root), "nothing left to resume: the kills came too late"

    (tmp_path / "srv").mkdir()
    server = start_server(tmp_path / "srv", {
        "storage.filesystem.rootdirectory": str(root), "dockyard.gc.enabled": False})
    try:
        for repository, tag in built["kept"][::20]:
            response = server.client.get(f"/v2/{repository}/manifests/{tag}",
                                         headers={"accept": ACCEPT_ALL})
            assert response.status_code == 200
            document = response.json()
            for item in [document["config"], *document["layers"]]:
                blob = server.client.get(f"/v2/{repository}/blobs/{item['digest']}")
                assert blob.status_code == 200 and digest_of(blob.content) == item["digest"]
    finally:
        server.stop()

    gc_json(config)
    assert queue_rows(root) == []
    _assert_intact(root, len(built["kept"]))
    assert_no_garbage(root)
    assert len(blob_rows(root)) == built["blobs"] - built["untagged"] * 4
    assert not list((root / "dockyard" / "gc-trash").iterdir())


def test_kill_server_during_background_collection_then_resume(tmp_path: Path) -> None:
    """The issue's wording: ``kill -9`` of the server while its collector works, restart."""
    root = tmp_path / "data"
    built = build_store(root, images=300)
    overrides = {"storage.filesystem.rootdirectory": str(root), "dockyard.gc.delay": "0s",
                 "dockyard.gc.interval": "50ms", "dockyard.gc.batch": 10,
                 "dockyard.gc.pause": "20ms"}
    queued = len(queue_rows(root))
    (tmp_path / "first").mkdir()
    server = start_server(tmp_path / "first", overrides)
    deadline = time.monotonic() + 60
    while len(queue_rows(root)) == queued and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    server.stop(signal.SIGKILL)  # The whole process group, mid-collection.
    assert queue_rows(root), "the collection finished before the kill"
    _assert_intact(root, len(built["kept"]))

    (tmp_path / "second").mkdir()
    server = start_server(tmp_path / "second", overrides)
    try:
        deadline = time.monotonic() + 60
        while queue_rows(root) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert queue_rows(root) == []
        for repository, tag in built["kept"][::15]:
            response = server.client.get(f"/v2/{repository}/manifests/{tag}",
                                         headers={"accept": ACCEPT_ALL})
            assert response.status_code == 200
    finally:
        server.stop()
    _assert_intact(root, len(built["kept"]))
    assert_no_garbage(root)
