"""The sweep phase: blob rows and blob files outside the mark set.

Rows go first (links, then the blob, in one guarded transaction), then the bytes; a crash in
between leaves files without rows, which the walk of ``blobs/`` removes on the next run, as
Distribution's sweep (which only walks storage) would.
"""

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from dockyard.core.digest import HEX_LENGTHS, Digest
from dockyard.metadata.gc_queries import blob_row_exists, iter_blobs, sweep_blobs
from dockyard.storage.filesystem import FilesystemBlobStore
from dockyard.storage.layout import Layout

# With --force a server may be committing an upload right now: its file is in place a moment
# before its row. Files without a row that changed this recently are left for the next run.
FORCE_GRACE_SECONDS = 600.0

Emit = Callable[[str], None]


@dataclass
class SweepResult:
    eligible: int = 0
    deleted: int = 0
    bytes_freed: int = 0
    errors: list[str] = field(default_factory=list)


def sweep(engine: Engine, root: Path, marked: set[str], dry_run: bool, force: bool,
          emit: Emit) -> SweepResult:
    """Delete (or with ``dry_run`` list) every blob not in ``marked``."""
    layout = Layout(root)
    result = SweepResult()
    rows: set[str] = set()
    candidates: list[str] = []
    for digest, _size in iter_blobs(engine):
        rows.add(digest)
        if digest not in marked:
            candidates.append(digest)
    orphans = [d for d in _stored_digests(layout) if d not in marked and d not in rows]
    result.eligible = len(candidates) + len(orphans)
    if dry_run:
        for digest in candidates + orphans:
            emit(f"blob eligible for deletion: {digest}")
            result.bytes_freed += _size_on_disk(layout, digest)
        return result
    doomed = sorted(sweep_blobs(engine, candidates))
    for digest in orphans:
        if blob_row_exists(engine, digest):
            continue  # Recorded since the walk: a --force run racing an upload.
        if force and _changed_recently(layout, digest):
            emit(f"keeping recently written blob without a record: {digest}")
            continue
        doomed.append(digest)
    asyncio.run(_delete(FilesystemBlobStore(root), layout, doomed, result, emit))
    return result


async def _delete(store: FilesystemBlobStore, layout: Layout, digests: list[str],
                  result: SweepResult, emit: Emit) -> None:
    for text in digests:
        digest = Digest.parse(text)
        size = _size_on_disk(layout, text)
        emit(f"Deleting blob: {layout.blob_dir(digest)}")
        try:
            await store.delete(digest)
        except OSError as error:
            result.errors.append(f"{text}: {error}")
            continue
        if os.path.lexists(layout.blob_dir(digest)):
            result.errors.append(f"{text}: {layout.blob_dir(digest)} could not be removed")
            continue
        result.deleted += 1
        result.bytes_freed += size


def _stored_digests(layout: Layout) -> list[str]:
    """``<alg>:<hex>`` of every ``blobs/<alg>/<hex[:2]>/<hex>/data`` on disk.

    Anything that does not look like a blob of Distribution's layout is left alone.
    """
    found: list[str] = []
    for algorithm, length in HEX_LENGTHS.items():
        for prefix in _listdir(layout.blobs / algorithm):
            if len(prefix) != 2:
                continue
            for hexpart in _listdir(layout.blobs / algorithm / prefix):
                if len(hexpart) != length or not hexpart.startswith(prefix) \
                        or any(c not in "0123456789abcdef" for c in hexpart):
                    continue
                if os.path.lexists(layout.blobs / algorithm / prefix / hexpart / "data"):
                    found.append(f"{algorithm}:{hexpart}")
    return sorted(found)


def _size_on_disk(layout: Layout, digest: str) -> int:
    try:
        return os.lstat(layout.blob_data(Digest.parse(digest))).st_size
    except OSError:
        return 0


def _changed_recently(layout: Layout, digest: str) -> bool:
    """A rename updates the file's ctime, so a just-committed upload counts as recent."""
    try:
        changed = os.lstat(layout.blob_data(Digest.parse(digest))).st_ctime
    except OSError:
        return False
    return time.time() - changed < FORCE_GRACE_SECONDS


def _listdir(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []
