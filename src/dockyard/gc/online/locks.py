"""The two locks of online collection, both ``flock`` on files under ``<root>/dockyard/``.

**The collector lock** (``gc.lock``): one collection per storage at a time, whoever runs it
(a worker's background task or ``dockyard gc run``). ``flock`` belongs to the open file, so
a killed collector releases it with its process: there is never a stale lock.

**Blob file locks** (``locks/blob-<xx>.lock``, 256 stripes by the digest's first hex byte):
they close the one race the database cannot. An upload commit renames the verified file into
``blobs/`` *before* the transaction that records the blob; a collector that had just deleted
the blob's row would otherwise delete the fresh file after the rename, leaving a row without
bytes. So the writers that make a blob file appear and record it (upload commit, mount,
manifest put) hold the digest's stripe across "file in place" and "row committed", and the
collector removes a file only while holding the stripe and only after re-reading that no row
exists. The collector never waits for a stripe while it holds the database write lock (it
tries, and leaves a busy digest for the next round), so the two locks cannot deadlock.

Async holders poll with a short sleep instead of blocking a pool thread in ``flock``: many
requests waiting for one stripe must not use up the threads the holder needs to commit.
Stripe files are created once and never deleted, so no holder can lock an unlinked inode.
"""

import asyncio
import contextlib
import fcntl
import os
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

from dockyard.gc.lock import exclusive

LOCK_FILE = "gc.lock"
STRIPES_DIR = "locks"
MAX_POLL_SECONDS = 0.02


def collector_lock_path(root: Path) -> Path:
    """``<root>/dockyard/gc.lock``."""
    return Path(root) / "dockyard" / LOCK_FILE


def collector_lock(root: Path, wait: bool) -> IO[bytes] | None:
    """The collector lock (close the file to release it); None when busy and not ``wait``."""
    return exclusive(collector_lock_path(root), wait)


class BlobFileLocks:
    """Per-digest (striped) cross-process locks between blob files and their removal."""

    def __init__(self, root: Path):
        self.directory = Path(root) / "dockyard" / STRIPES_DIR
        # Per event loop (a lock is bound to one): one waiter per stripe and loop.
        self._local: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                               dict[str, asyncio.Lock]] = \
            weakref.WeakKeyDictionary()

    def stripe_path(self, digest: str) -> str:
        hexpart = digest.partition(":")[2]
        return f"{self.directory}/blob-{hexpart[:2]}.lock"

    def try_hold(self, digest: str) -> int | None:
        """The stripe's lock as an fd to pass to :meth:`release`, or None when it is busy."""
        path = self.stripe_path(digest)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def release(fd: int) -> None:
        os.close(fd)  # Closing the only descriptor of the open file drops its flock.

    @contextlib.asynccontextmanager
    async def hold(self, digest: str) -> AsyncIterator[None]:
        """Hold the digest's stripe for the block (an upload commit, a manifest put)."""
        stripe = self.stripe_path(digest)
        locks = self._local.setdefault(asyncio.get_running_loop(), {})
        async with locks.setdefault(stripe, asyncio.Lock()):  # Other local waiters queue here.
            fd = self.try_hold(digest)
            pause = 0.001
            while fd is None:
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_POLL_SECONDS)
                fd = self.try_hold(digest)
            try:
                yield
            finally:
                self.release(fd)
