"""Blob reads and deletes: a blob is reachable only through a repository that holds it."""

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from dockyard.core.digest import Digest, InvalidDigest
from dockyard.core.errors import RegistryError
from dockyard.metadata.base import Metadata
from dockyard.services.settings import RegistrySettings
from dockyard.services.threads import in_thread
from dockyard.storage.base import BlobStore

MAX_VERIFIED = 100_000
log = logging.getLogger("dockyard.blobs")


class CorruptBlob(Exception):
    """A stored blob's bytes do not hash to its digest."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What a blob HEAD/GET answers with."""

    digest: Digest
    size: int
    local_path: str | None


def parse_digest(text: str | None) -> Digest:
    """A digest from a URL or query, or DIGEST_INVALID saying why."""
    if not text:
        raise RegistryError("DIGEST_INVALID", "a digest is required")
    try:
        return Digest.parse(text)
    except InvalidDigest as exc:
        raise RegistryError("DIGEST_INVALID", str(exc)) from None


class BlobService:
    """Looks blobs up through repository links, never by digest alone."""

    def __init__(self, metadata: Metadata, store: BlobStore, settings: RegistrySettings):
        self._metadata = metadata
        self._store = store
        self._settings = settings
        self._verified: set[str] = set()  # Hashed right since this process started.
        self._corrupt: set[str] = set()   # Found corrupt: 404 until pushed again.
        self._verifying: dict[str, asyncio.Task[None]] = {}  # Hashes in flight, shared.

    async def stat(self, repository: str, digest_text: str) -> BlobInfo:
        """The blob ``repository`` holds under ``digest_text``, or BLOB_UNKNOWN."""
        digest = parse_digest(digest_text)
        size = self._metadata.linked_blob_size(repository, str(digest))
        if size is None or str(digest) in self._corrupt:
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": str(digest)})
        stored = await self._store.stat(digest)
        if stored != size:
            if stored is not None:  # Truncated or grown since it was verified and stored.
                self._mark_corrupt(str(digest))
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": str(digest)})
        return BlobInfo(digest, size, self._store.local_path(digest))

    async def size(self, repository: str, digest: Digest) -> int:
        """The size of a blob the repository holds (0 when it has just gone)."""
        return self._metadata.linked_blob_size(repository, str(digest)) or 0

    def read(self, info: BlobInfo, start: int, length: int):  # type: ignore[no-untyped-def]
        """Stream part of a blob found by :meth:`stat`; call :meth:`verify` first."""
        return self._store.read(info.digest, start, length)

    async def verify(self, info: BlobInfo) -> None:
        """Hash the whole blob once since start before any part of it is served.

        A range cannot be checked on its own, and holding back its last chunk (as
        :meth:`read_whole` does) proves nothing about the bytes in it, so the first ranged
        read of a blob hashes all of it in a worker thread, streaming, before the 206 goes
        out. Requests for the same blob share one hash. The verdict is kept like the whole
        GET's: verified blobs are served at once afterwards; a corrupt one answers 404
        BLOB_UNKNOWN until a verified push replaces it.
        """
        key = str(info.digest)
        while key not in self._verified:
            if key in self._corrupt:
                raise RegistryError("BLOB_UNKNOWN", detail={"digest": key})
            task = self._verifying.get(key)
            if task is None:
                task = asyncio.ensure_future(self._check(info))
                self._verifying[key] = task
            await asyncio.shield(task)  # A client leaving does not stop the shared hash.

    async def _check(self, info: BlobInfo) -> None:
        """Hash the blob and record the verdict, unless a verified push replaced it meanwhile
        (then :meth:`forget_corruption` took this task out, and the waiters hash again)."""
        key = str(info.digest)
        try:
            good = await self._hash_matches(info)
        finally:
            current = self._verifying.get(key) is asyncio.current_task()
            if current:
                del self._verifying[key]
        if current and good:
            self._remember_verified(key)
        elif current:
            self._mark_corrupt(key)

    async def _hash_matches(self, info: BlobInfo) -> bool:
        stored = await self._store.stat(info.digest)
        if stored is None:
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": str(info.digest)})
        if stored != info.size:  # Truncated or grown: corrupt without reading a byte.
            return False
        hasher = info.digest.hasher()
        try:
            async for chunk in self._store.read(info.digest, 0, info.size):
                await asyncio.to_thread(hasher.update, chunk)
        except FileNotFoundError:
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": str(info.digest)}) from None
        return bool(hasher.hexdigest() == info.digest.hex)

    async def read_whole(self, info: BlobInfo) -> AsyncIterator[bytes]:
        """The whole blob; the first time after start, hashed while it streams.

        The last chunk is held back until the hash is known: when the bytes do not match the
        digest, it is never sent and :class:`CorruptBlob` is raised instead, so the client
        sees a broken transfer, never a complete response with wrong bytes.
        """
        key = str(info.digest)
        if key in self._verified:
            async for chunk in self._store.read(info.digest, 0, info.size):
                yield chunk
            return
        hasher = info.digest.hasher()
        held = b""
        async for chunk in self._store.read(info.digest, 0, info.size):
            if held:
                yield held
            hasher.update(chunk)
            held = chunk
        if hasher.hexdigest() != info.digest.hex:
            self._mark_corrupt(key)
            raise CorruptBlob(key)
        self._remember_verified(key)
        yield held

    def _remember_verified(self, key: str) -> None:
        if len(self._verified) >= MAX_VERIFIED:
            self._verified.clear()
        self._verified.add(key)

    def _mark_corrupt(self, key: str) -> None:
        self._corrupt.add(key)
        self._verified.discard(key)
        log.error("stored blob does not hash to its digest; answering 404 until it is "
                  "pushed again (run dockyard scrub)", extra={"digest": key})

    def forget_corruption(self, digest: Digest) -> None:
        """A verified upload of ``digest`` was just committed: its bytes are good again."""
        self._corrupt.discard(str(digest))
        self._verified.discard(str(digest))
        self._verifying.pop(str(digest), None)

    async def delete(self, repository: str, digest_text: str) -> None:
        """Unlink a blob from a repository; its bytes go when nothing else needs them."""
        if not self._settings.delete_enabled:
            raise RegistryError("UNSUPPORTED", "deletes are disabled (storage.delete.enabled)")
        digest = parse_digest(digest_text)
        if not await in_thread(self._metadata.unlink_blob, repository, str(digest)):
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": str(digest)})
