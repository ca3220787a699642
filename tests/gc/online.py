"""Helpers for the online garbage collection tests: run ``dockyard gc``, read the queue."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.gc.helpers import Pushed, blob_rows, stored_digests

NO_BACKGROUND = {"dockyard.gc.enabled": False, "dockyard.gc.delay": "0s"}


def gc(config: Path, *flags: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    return subprocess.run([sys.executable, "-m", "dockyard", "gc", *flags, str(config)],
                          capture_output=True, text=True, env=env, timeout=timeout)


def gc_json(config: Path, *flags: str) -> dict[str, Any]:
    """``dockyard gc run --json``'s document; the run must succeed."""
    done = gc(config, "run", "--json", *flags)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def deleted(document: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """(manifests as repo@digest, links as repo digest, blob digests) of a run."""
    return ({f"{m['repository']}@{m['digest']}" for m in document["manifests"]},
            {f"{m['repository']} {m['digest']}" for m in document["links"]},
            {b["digest"] for b in document["blobs"]})


def queue_rows(root: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(root / "dockyard" / "metadata.sqlite3") as conn:
        return sorted(conn.execute("SELECT kind, digest FROM gc_review_queue").fetchall())


def referenced_digests(root: Path) -> set[str]:
    """Every digest a manifest row is, references or lists (what must stay stored)."""
    with sqlite3.connect(root / "dockyard" / "metadata.sqlite3") as conn:
        return {row[0] for row in conn.execute(
            "SELECT digest FROM manifests UNION SELECT digest FROM manifest_blobs "
            "UNION SELECT child_digest FROM manifest_children "
            "UNION SELECT digest FROM repository_blobs")}


def assert_no_garbage(root: Path) -> None:
    """No blob row or file that nothing references, and no row without its file."""
    rows = set(blob_rows(root))
    files = stored_digests(root)
    live = referenced_digests(root)
    assert rows - live == set(), "unreferenced blob rows remain"
    assert files - live == set(), "unreferenced blob files remain"
    assert rows - files == set(), "blob rows without their bytes"


def all_digests(image: Pushed) -> set[str]:
    return {image.digest, *image.blobs}


def build_store(root: Path, images: int, layers: int = 2, repositories: int = 10,
                untag_every: int = 2) -> dict[str, Any]:
    """A registry with ``images`` tagged images written straight into the database and
    ``blobs/`` (thousands per second, unlike pushes), then every ``untag_every``-th tag
    deleted through the metadata store, which queues those images for review.

    Each image has a unique config and ``layers`` unique layers (small random bytes with
    their real digests) and a real OCI manifest, so everything kept still pulls and hashes.
    Returns the counts and the (repository, tag) pairs that must keep pulling.
    """
    import hashlib
    import time as clock

    from dockyard.metadata.store import MetadataStore
    from tests.pushing import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST

    url = f"sqlite:///{root / 'dockyard' / 'metadata.sqlite3'}"
    store = MetadataStore(url)
    now = clock.time()
    blobs_dir = root / "docker" / "registry" / "v2" / "blobs" / "sha256"

    def write(data: bytes) -> tuple[str, int]:
        hexpart = hashlib.sha256(data).hexdigest()
        directory = blobs_dir / hexpart[:2] / hexpart
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "data").write_bytes(data)
        return f"sha256:{hexpart}", len(data)

    rows: dict[str, list[tuple[Any, ...]]] = {k: [] for k in (
        "repositories", "blobs", "links", "manifests", "manifest_blobs", "tags")}
    for number in range(1, repositories + 1):
        rows["repositories"].append((number, f"synthetic/repo{number}", now))
    tagged: list[tuple[str, str]] = []
    for image in range(1, images + 1):
        repository = image % repositories + 1
        config = write(os.urandom(48))
        parts = [write(os.urandom(64 + i)) for i in range(layers)]
        document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": config[0], "size": config[1]},
                    "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": s}
                               for d, s in parts]}
        manifest = write(json.dumps(document).encode())
        for digest, size in (config, *parts, manifest):
            rows["blobs"].append((digest, size, now))
        for digest, _size in (config, *parts):
            rows["links"].append((repository, digest, now))
            rows["manifest_blobs"].append((image, digest))
        rows["manifests"].append((image, repository, manifest[0], OCI_MANIFEST, manifest[1],
                                  now))
        rows["tags"].append((repository, f"t{image}", image, now))
        tagged.append((f"synthetic/repo{repository}", f"t{image}"))
    database = root / "dockyard" / "metadata.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.executemany("INSERT INTO repositories (id, name, created_at) VALUES (?, ?, ?)",
                         rows["repositories"])
        conn.executemany("INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)",
                         rows["blobs"])
        conn.executemany("INSERT INTO repository_blobs (repository_id, digest, created_at) "
                         "VALUES (?, ?, ?)", rows["links"])
        conn.executemany("INSERT INTO manifests (id, repository_id, digest, media_type, size, "
                         "created_at) VALUES (?, ?, ?, ?, ?, ?)", rows["manifests"])
        conn.executemany("INSERT INTO manifest_blobs (manifest_id, digest) VALUES (?, ?)",
                         rows["manifest_blobs"])
        conn.executemany("INSERT INTO tags (repository_id, name, manifest_id, updated_at) "
                         "VALUES (?, ?, ?, ?)", rows["tags"])
    kept: list[tuple[str, str]] = []
    for number, (repository_name, tag) in enumerate(tagged):
        if number % untag_every == 0:
            assert store.delete_tag(repository_name, tag)
        else:
            kept.append((repository_name, tag))
    store.close()
    return {"blobs": len(rows["blobs"]), "images": images, "untagged": images - len(kept),
            "bytes": sum(size for _d, size, _t in rows["blobs"]), "kept": kept}
