"""Blob reads and deletes: a blob is reachable only through a repository that holds it."""

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

    async def stat(self, repository: str, digest_text: str) -> BlobInfo:
        """The blob ``repository`` holds under ``digest_text``, or BLOB_UNKNOWN."""
        digest = parse_digest(digest_text)
        size = self._metadata.linked_blob_size(repository, str(digest))
        if size is None or str(digest) in self._corrupt or \
                await self._store.stat(digest) is None:
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": str(digest)})
        return BlobInfo(digest, size, self._store.local_path(digest))

    async def size(self, repository: str, digest: Digest) -> int:
        """The size of a blob the repository holds (0 when it has just gone)."""
        return self._metadata.linked_blob_size(repository, str(digest)) or 0

    def read(self, info: BlobInfo, start: int, length: int):  # type: ignore[no-untyped-def]
        """Stream part of a blob found by :meth:`stat`."""
        return self._store.read(info.digest, start, length)

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
            self._corrupt.add(key)
            log.error("stored blob does not hash to its digest; answering 404 until it is "
                      "pushed again (run dockyard scrub)", extra={"digest": key})
            raise CorruptBlob(key)
        if len(self._verified) >= MAX_VERIFIED:
            self._verified.clear()
        self._verified.add(key)
        yield held

    def forget_corruption(self, digest: Digest) -> None:
        """A verified upload of ``digest`` was just committed: its bytes are good again."""
        self._corrupt.discard(str(digest))
        self._verified.discard(str(digest))

    async def delete(self, repository: str, digest_text: str) -> None:
        """Unlink a blob from a repository; its bytes go when nothing else needs them."""
        if not self._settings.delete_enabled:
            raise RegistryError("UNSUPPORTED", "deletes are disabled (storage.delete.enabled)")
        digest = parse_digest(digest_text)
        if not await in_thread(self._metadata.unlink_blob, repository, str(digest)):
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": str(digest)})
