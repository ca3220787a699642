"""Removing the bytes of blobs whose rows the collector deleted.

For each ``file`` entry of the queue: take the digest's stripe lock without waiting (a busy
stripe means a push of a blob in that stripe is committing: try again next round), re-read
that no blob row exists (an upload or manifest put may have recorded the digest again since
the row was deleted: then the bytes are live and stay), and rename the blob's directory into
``<root>/dockyard/gc-trash/``. The rename is one quick metadata operation, so the stripe is
held only for microseconds; the slow part (unlink frees the page cache of a large file,
50-400 ms) happens afterwards, in a background thread, on the trash, which nothing else can
reach.

Crash safety: the queue entry is deleted only after the rename, so a crash before it leaves
the entry, and the next run finds the file gone (or removes it). A crash after the rename
leaves a directory in the trash, which every run empties first.
"""

import logging
import os
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from dockyard.core.digest import Digest
from dockyard.gc.online.locks import BlobFileLocks
from dockyard.metadata.review_collect import blob_rows_among, forget_files, pending_files
from dockyard.storage.layout import Layout

TRASH_DIR = "gc-trash"
log = logging.getLogger("dockyard.gc")


@dataclass
class FileRound:
    """One pass over pending files."""

    removed: list[tuple[str, int]] = field(default_factory=list)  # (digest, bytes on disk)
    busy: int = 0
    settled: int = 0  # entries finished (removed, already gone, or recorded again)


class FileRemover:
    """Deletes the bytes behind ``file`` queue entries, safely against concurrent pushes."""

    def __init__(self, engine: Engine, root: Path):
        self._engine = engine
        self._layout = Layout(Path(root))
        self._locks = BlobFileLocks(Path(root))
        self.trash = Path(root) / "dockyard" / TRASH_DIR
        self._deleter = ThreadPoolExecutor(1, thread_name_prefix="gc-trash")
        self._emptying: Future[None] | None = None

    def empty_trash_later(self) -> None:
        """Empty the trash in the background, overlapping the next batches' SQL."""
        if self._emptying is None or self._emptying.done():
            self._emptying = self._deleter.submit(self.empty_trash)

    def finish(self) -> None:
        """Wait for the background deletes, then empty what arrived since."""
        if self._emptying is not None:
            self._emptying.result()
        self.empty_trash()
        self._deleter.shutdown()

    def empty_trash(self) -> None:
        """Delete whatever was moved aside (also by a previous, maybe killed, run)."""
        if self.trash.is_dir():
            for entry in os.listdir(self.trash):
                shutil.rmtree(self.trash / entry, ignore_errors=True)

    def run_round(self, limit: int, before_delete: Callable[[], None]) -> FileRound:
        """Handle up to ``limit`` pending files; ``before_delete`` runs first (cache marker).

        Each stripe is tried once (a second ``flock`` on it from this process would fail
        against the first), the rows of every digest whose stripe is held are re-read in one
        query, and the stripes are released as soon as the renames are done.
        """
        digests = pending_files(self._engine, limit)
        result = FileRound()
        if not digests:
            return result
        before_delete()
        held: dict[str, int] = {}
        settled: list[str] = []
        try:
            for digest in digests:
                stripe = self._locks.stripe_path(digest)
                if stripe not in held:
                    fd = self._locks.try_hold(digest)
                    if fd is None:
                        held[stripe] = -1
                    else:
                        held[stripe] = fd
                if held[stripe] < 0:
                    result.busy += 1
                else:
                    settled.append(digest)
            recorded = blob_rows_among(self._engine, settled)
            for digest in settled:
                if digest not in recorded:
                    size = self._move_to_trash(digest)
                    if size is not None:
                        result.removed.append((digest, size))
        finally:
            for fd in held.values():
                if fd >= 0:
                    self._locks.release(fd)
        forget_files(self._engine, settled)
        result.settled = len(settled)
        self.empty_trash_later()
        return result

    def _move_to_trash(self, text: str) -> int | None:
        """Bytes of the blob moved aside, or None when it was not on disk."""
        digest = Digest.parse(text)
        directory = self._layout.blob_dir(digest)
        try:
            size = os.lstat(directory / "data").st_size
        except FileNotFoundError:
            size = 0
        self.trash.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(directory, self.trash / f"{digest.hex}.{uuid.uuid4().hex}")
        except FileNotFoundError:
            return None
        except OSError as error:  # Another filesystem (EXDEV): delete in place, still locked.
            log.warning("cannot move %s to the trash (%s); deleting it in place", text, error)
            shutil.rmtree(directory)
        return size
