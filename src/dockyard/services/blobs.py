"""Blob reads and deletes: a blob is reachable only through a repository that holds it."""

from dataclasses import dataclass

from dockyard.core.digest import Digest, InvalidDigest
from dockyard.core.errors import RegistryError
from dockyard.metadata.base import Metadata
from dockyard.services.settings import RegistrySettings
from dockyard.services.threads import in_thread
from dockyard.storage.base import BlobStore


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

    async def stat(self, repository: str, digest_text: str) -> BlobInfo:
        """The blob ``repository`` holds under ``digest_text``, or BLOB_UNKNOWN."""
        digest = parse_digest(digest_text)
        size = self._metadata.linked_blob_size(repository, str(digest))
        if size is None or await self._store.stat(digest) is None:
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": str(digest)})
        return BlobInfo(digest, size, self._store.local_path(digest))

    async def size(self, repository: str, digest: Digest) -> int:
        """The size of a blob the repository holds (0 when it has just gone)."""
        return self._metadata.linked_blob_size(repository, str(digest)) or 0

    def read(self, info: BlobInfo, start: int, length: int):  # type: ignore[no-untyped-def]
        """Stream part of a blob found by :meth:`stat`."""
        return self._store.read(info.digest, start, length)

    async def delete(self, repository: str, digest_text: str) -> None:
        """Unlink a blob from a repository; its bytes go when nothing else needs them."""
        if not self._settings.delete_enabled:
            raise RegistryError("UNSUPPORTED", "deletes are disabled (storage.delete.enabled)")
        digest = parse_digest(digest_text)
        if not await in_thread(self._metadata.unlink_blob, repository, str(digest)):
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": str(digest)})
