"""The blob store interface every storage backend implements.

It is deliberately small: content-addressed blobs plus upload sessions. The store never
checks digests (that is the upload service's rule); it only promises that a committed blob
is durable and appears atomically, and that no partial blob is ever visible.
"""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from dockyard.core.digest import Digest


class UploadWriter(Protocol):
    """Appends bytes to an upload session; used inline on the event loop."""

    def write(self, data: bytes) -> None: ...

    def truncate(self, size: int) -> None: ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    """Content-addressed blob bytes and the upload sessions that produce them."""

    def local_path(self, digest: Digest) -> str | None:
        """A path the HTTP server may send directly (zero-copy), or None."""

    async def stat(self, digest: Digest) -> int | None:
        """The blob's size, or None when it is not stored."""

    def read(self, digest: Digest, start: int, length: int) -> AsyncIterator[bytes]:
        """Stream ``length`` bytes of the blob from ``start``."""

    async def read_all(self, digest: Digest, limit: int) -> bytes | None:
        """A small blob (a manifest) whole, or None; refuses blobs over ``limit``."""

    async def put(self, digest: Digest, data: bytes) -> None:
        """Store small verified bytes (a manifest) durably under ``digest``."""

    async def delete(self, digest: Digest) -> bool:
        """Remove a blob's bytes; False when it was not there."""

    def hold(self, digest: Digest) -> AbstractAsyncContextManager[None]:
        """Keep online garbage collection off this blob's bytes for the block.

        Held from "bytes in place" until "metadata row committed" (upload commit, mount,
        manifest put), so a collector that deleted the row cannot then delete bytes a new
        row is about to name (see :mod:`dockyard.gc.online.locks`).
        """

    async def create_upload(self, repository: str, upload_id: str) -> None:
        """Open an empty upload session."""

    async def upload_size(self, repository: str, upload_id: str) -> int | None:
        """Bytes received so far, or None when the session does not exist."""

    def open_upload(self, repository: str, upload_id: str) -> UploadWriter:
        """A writer appending to an existing session."""

    def iter_upload(self, repository: str, upload_id: str) -> AsyncIterator[bytes]:
        """Stream the bytes received so far (to re-hash a session another process wrote)."""

    async def commit_upload(self, repository: str, upload_id: str, digest: Digest) -> None:
        """Make the session's bytes durable and visible as blob ``digest``; end the session."""

    async def delete_upload(self, repository: str, upload_id: str) -> bool:
        """Cancel a session and drop its bytes; False when it did not exist."""

    async def purge_uploads(self, started_before: datetime, dry_run: bool = False) -> list[str]:
        """Delete sessions started before a time; returns ``repository/upload_id`` of each."""
