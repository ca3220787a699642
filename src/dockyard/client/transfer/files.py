"""Local file I/O for the layout and archive endpoints: verified reads, atomic writes.

Reads and writes run in worker threads one chunk at a time, so a large layer never sits in
memory and the event loop keeps serving the other transfers.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from dockyard.client.transfer.model import CHUNK, ContentMismatch
from dockyard.core.durable import fsync_directory


@asynccontextmanager
async def open_verified(path: Path, digest: str | None, *, start: int = 0,
                        length: int | None = None, offset: int = 0,
                        what: str = "blob") -> AsyncIterator[AsyncIterator[bytes]]:
    """Chunks of ``length`` bytes of ``path`` from ``start``, yielded from ``offset`` on.

    The whole range is hashed (the part before ``offset`` is read but not yielded), and a
    :class:`ContentMismatch` is raised after the last chunk if it does not match ``digest``.
    """
    fd = await asyncio.to_thread(os.open, path, os.O_RDONLY)
    try:
        total = length if length is not None else os.fstat(fd).st_size - start
        yield _chunks(fd, digest, start, total, offset, f"{what} {digest} in {path}")
    finally:
        os.close(fd)


async def _chunks(fd: int, digest: str | None, start: int, total: int, offset: int,
                  what: str) -> AsyncIterator[bytes]:
    hasher = hashlib.sha256()
    position = 0
    while position < total:
        data = await asyncio.to_thread(os.pread, fd, min(CHUNK, total - position),
                                       start + position)
        if not data:
            raise ContentMismatch(f"{what}: file is shorter than expected")
        hasher.update(data)
        end = position + len(data)
        if end > offset:
            yield data[max(0, offset - position):]
        position = end
    if digest is not None and "sha256:" + hasher.hexdigest() != digest:
        raise ContentMismatch(f"{what}: content hashes to sha256:{hasher.hexdigest()}")


async def file_digest(path: Path, start: int = 0, length: int | None = None) -> str:
    """sha256 of a byte range of a file, streamed."""
    hasher = hashlib.sha256()
    async with open_verified(path, None, start=start, length=length) as chunks:
        async for data in chunks:
            hasher.update(data)
    return "sha256:" + hasher.hexdigest()


class AtomicWriter:
    """A file that appears under its final name only once complete and on disk.

    Written to a temporary name in the same directory, fsynced, renamed, then the directory
    is fsynced: a crash leaves either the old file or the new one, never half of one.
    """

    def __init__(self, final: Path) -> None:
        self.final = final
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".tmp-", dir=final.parent)
        self.path = Path(name)
        self.file = os.fdopen(fd, "w+b")

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self.file.write, data)

    async def commit(self) -> None:
        await asyncio.to_thread(self._commit)

    def _commit(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.path, self.final)
        fsync_directory(self.final.parent)

    def discard(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.path.unlink(missing_ok=True)


async def write_file_atomically(final: Path, data: bytes) -> None:
    """Small files (index.json, manifests): whole bytes, atomically."""
    writer = AtomicWriter(final)
    try:
        await writer.write(data)
        await writer.commit()
    except BaseException:
        writer.discard()
        raise
