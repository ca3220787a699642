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
