"""Bytes of a push refused inside the transaction (after they reached ``blobs/``) are handed
to the online collector, which removes them unless a row records the digest."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from dockyard.metadata.records import NewManifest, QuotaExceeded
from dockyard.metadata.store import MetadataStore
from tests.pushing import digest_of
from tests.quota.helpers import assert_reconciled


def write_blob(root: Path, data: bytes) -> Path:
    hex_ = digest_of(data).split(":")[1]
    path = root / "docker/registry/v2/blobs/sha256" / hex_[:2] / hex_ / "data"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return path


def test_refused_bytes_go_unless_recorded(tmp_path: Path) -> None:
    root = tmp_path / "data"
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({"version": 0.1, "storage": {
        "filesystem": {"rootdirectory": str(root)}}, "dockyard": {"gc": {"delay": "0s"}}}))
    store = MetadataStore(f"sqlite:///{root}/dockyard/metadata.sqlite3")
    lone, shared, body = os.urandom(5000), os.urandom(6000), b'{"schemaVersion": 2}' * 100
    lone_file, shared_file = write_blob(root, lone), write_blob(root, shared)
    manifest_file = write_blob(root, body)
    store.link_blob("other/app", digest_of(shared), len(shared))
    kept = b'{"kept": true}'
    write_blob(root, kept)
    store.put_manifest(NewManifest(  # Tagged and referencing the shared blob: it stays.
        "other/app", digest_of(kept), "application/vnd.oci.image.manifest.v1+json", len(kept),
        None, None, None, (digest_of(shared),), (), "v1"))
    store.link_blob("team/app", digest_of(os.urandom(1)), 1)

    for data in (lone, shared):
        with pytest.raises(QuotaExceeded):
            store.link_blob("team/app", digest_of(data), len(data), quota=4000)
    with pytest.raises(QuotaExceeded):
        store.put_manifest(NewManifest(
            "team/app", digest_of(body), "application/vnd.oci.image.manifest.v1+json",
            len(body), None, None, None, (), (), "v1", quota=1000))
    with store.write_engine.connect() as conn:
        queued = set(conn.execute(text(
            "SELECT digest FROM gc_review_queue WHERE kind = 'file'")).scalars())
    assert queued == {digest_of(lone), digest_of(body)}  # The shared blob has a row.
    store.close()

    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    done = subprocess.run([sys.executable, "-m", "dockyard", "gc", "run", str(config)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not lone_file.exists() and not manifest_file.exists()
    assert shared_file.read_bytes() == shared
    store = MetadataStore(f"sqlite:///{root}/dockyard/metadata.sqlite3")
    assert assert_reconciled(store.write_engine)["other"].bytes == len(shared) + len(kept)
    store.close()
