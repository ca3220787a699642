"""A registry repository as a copy source or destination (an adapter over RegistryClient).

Errors from the registry are rewritten into one line that says which side refused what
(``destination refused push: DENIED quota exceeded``), because a copy talks to two registries
and "registry refused" alone would not say which.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from dockyard.client.errors import ClientError, DigestMismatch, RegistryError
from dockyard.client.options import ClientOptions
from dockyard.client.reference import ImageReference, parse_image
from dockyard.client.registry import ALL_MANIFEST_TYPES, RegistryClient
from dockyard.client.transfer.endpoints import RegistryLocation
from dockyard.client.transfer.model import BlobOpener, ContentMismatch, Manifest, TransferError

T = TypeVar("T")


async def explained(role: str, action: str, step: Awaitable[T]) -> T:
    """Await ``step``; a client error becomes a TransferError naming the side and action."""
    try:
        return await step
    except DigestMismatch as error:
        raise ContentMismatch(f"{role}: {error}") from error
    except RegistryError as error:
        reason = " ".join(p for p in (error.code, error.message) if p) or f"HTTP {error.status}"
        raise TransferError(f"{role} {error.registry} refused {action}: {reason}") from error
    except ClientError as error:
        raise TransferError(f"{role}: {error}") from error


class _RegistryEndpoint:
    """What both sides share: the parsed reference and a client (owned or borrowed)."""

    def __init__(self, reference: str | ImageReference, options: ClientOptions | None,
                 client: RegistryClient | None) -> None:
        try:
            self.reference = (reference if isinstance(reference, ImageReference)
                              else parse_image(reference))
        except ValueError as error:
            raise TransferError(str(error)) from None
        self.location = RegistryLocation(self.reference.registry, self.reference.repository)
        self.description = str(self.reference)
        self.tag = self.reference.tag
        self.digest = self.reference.digest
        self._owned = client is None
        self.client = client or RegistryClient(self.reference.registry, options=options)

    @property
    def repository(self) -> str:
        return self.reference.repository

    async def aclose(self) -> None:
        if self._owned:
            await self.client.aclose()


class RegistrySource(_RegistryEndpoint):
    """Pulls an image: manifests verified by the client, blobs hashed while streaming."""

    def __init__(self, reference: str | ImageReference, options: ClientOptions | None = None,
                 client: RegistryClient | None = None) -> None:
        super().__init__(reference, options, client)

    async def get_manifest(self, digest: str | None = None) -> Manifest:
        wanted = digest or self.reference.reference
        fetched = await explained("source", "pull", self.client.get_manifest(
            self.repository, wanted, accept=ALL_MANIFEST_TYPES))
        return Manifest(fetched.body, fetched.media_type, fetched.digest)

    def open_blob(self, digest: str, offset: int = 0
                  ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        return self._open(digest, offset)

    @asynccontextmanager
    async def _open(self, digest: str, offset: int) -> AsyncIterator[AsyncIterator[bytes]]:
        # The client has no ranged GET: after a dropped upload the prefix is read again
        # (and hashed, so the whole blob is still verified) but not sent again.
        async with self.client.blob_stream(self.repository, digest) as chunks:
            yield _skip(chunks, offset)


async def _skip(chunks: AsyncIterator[bytes], offset: int) -> AsyncIterator[bytes]:
    seen = 0
    try:
        async for chunk in chunks:
            end = seen + len(chunk)
            if end > offset:
                yield chunk[max(0, offset - seen):]
            seen = end
    except DigestMismatch as error:
        raise ContentMismatch(f"source: {error}") from error


class RegistryDestination(_RegistryEndpoint):
    """Pushes an image: blobs (HEAD, mount or resumable upload), then manifests."""

    supports_index = True

    def __init__(self, reference: str | ImageReference, options: ClientOptions | None = None,
                 client: RegistryClient | None = None) -> None:
        super().__init__(reference, options, client)

    async def manifest_digest(self, tag: str) -> str | None:
        found = await explained("destination", "manifest HEAD",
                                self.client.head_manifest(self.repository, tag))
        return found[0] if found else None

    async def has_blob(self, digest: str) -> bool:
        size = await explained("destination", "blob HEAD",
                               self.client.blob_size(self.repository, digest))
        return size is not None

    async def mount_blob(self, digest: str, from_repository: str) -> bool:
        try:
            return await self.client.mount_blob(self.repository, digest, from_repository)
        except ClientError:
            return False  # no pull right on the other repository: upload instead

    async def put_blob(self, descriptor: dict[str, Any], open_from: BlobOpener) -> None:
        await explained("destination", "push", self.client.upload_blob_resumable(
            self.repository, str(descriptor["digest"]), int(descriptor["size"]), open_from))

    async def put_manifest(self, manifest: Manifest, tags: Sequence[str], *,
                           top: bool = False) -> None:
        references = list(tags) or [manifest.digest]
        for reference in references:
            await explained("destination", "push", self.client.put_manifest(
                self.repository, reference, manifest.body, manifest.media_type))

    async def commit(self) -> None:
        return None
