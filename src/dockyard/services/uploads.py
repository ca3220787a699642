"""Blob uploads: sessions, chunks, digest verification and commit, and mounts.

Each chunk is hashed as it is written, so closing an upload costs no second read; when a
session's hash state is not in this process (another worker took the earlier chunks, or the
server restarted) the bytes received so far are re-hashed once at the end. Nothing is stored
under a digest before the bytes are proven to hash to it.

A full disk discards the whole session (its bytes are deleted, so the space comes back, and
the session then answers 404 BLOB_UPLOAD_UNKNOWN): clients restart a failed blob upload from
the beginning anyway, and a session kept at its last good offset would hold on to space the
registry has run out of.
"""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from dockyard.core.digest import Digest
from dockyard.core.errors import RegistryError, StorageFull, is_out_of_space
from dockyard.core.reference import is_valid_name
from dockyard.metadata.base import Metadata
from dockyard.metadata.records import QuotaExceeded
from dockyard.observability.metrics import track_upload
from dockyard.quota.limits import QuotaLimits, quota_denied
from dockyard.services.blobs import parse_digest
from dockyard.services.threads import in_thread
from dockyard.storage.base import BlobStore, UploadWriter

MAX_TRACKED_SESSIONS = 4096
_UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?([0-9]{1,19})-([0-9]{1,19})(?:/(?:[0-9]{1,19}|\*))?",
                            re.ASCII)


@dataclass(slots=True)
class _HashState:
    """The running sha256 of a session, valid while ``offset`` equals the bytes on disk."""

    hasher: Any
    offset: int


@dataclass(frozen=True, slots=True)
class Chunk:
    """A PATCH/PUT body and the headers that describe it."""

    body: AsyncIterator[bytes]
    content_range: str | None = None
    content_length: int | None = None


class UploadService:
    """The push rules for blobs."""

    def __init__(self, metadata: Metadata, store: BlobStore, quotas: QuotaLimits | None = None):
        self._metadata = metadata
        self._store = store
        self._quotas = quotas
        self._hashes: dict[tuple[str, str], _HashState] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def start(self, repository: str) -> str:
        """Open a session; returns its id."""
        upload_id = str(uuid.uuid4())
        await self._store.create_upload(repository, upload_id)
        self._remember_hash(repository, upload_id, _HashState(Digest("sha256", "").hasher(), 0))
        return upload_id

    async def size(self, repository: str, upload_id: str) -> int:
        """Bytes received so far, or BLOB_UPLOAD_UNKNOWN."""
        self._check_id(upload_id)
        size = await self._store.upload_size(repository, upload_id)
        if size is None:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id})
        return size

    async def append(self, repository: str, upload_id: str, chunk: Chunk) -> int:
        """Append one chunk; returns the session's new size."""
        async with self._lock(repository, upload_id):
            try:
                return await self._append(repository, upload_id, chunk)
            except Exception as exc:
                await self._discard_if_full(repository, upload_id, exc)
                raise

    async def finish(self, repository: str, upload_id: str, digest_text: str | None,
                     chunk: Chunk) -> Digest:
        """Append the last chunk, verify the whole blob against the digest and commit it."""
        digest = parse_digest(digest_text)
        async with self._lock(repository, upload_id):
            try:
                return await self._finish(repository, upload_id, digest, chunk)
            except Exception as exc:
                await self._discard_if_full(repository, upload_id, exc)
                raise

    async def _finish(self, repository: str, upload_id: str, digest: Digest, chunk: Chunk
                      ) -> Digest:
        size = await self._append(repository, upload_id, chunk)
        actual = await self._digest_of(repository, upload_id, digest.algorithm)
        if actual != digest.hex:
            await self._drop(repository, upload_id)
            raise RegistryError("DIGEST_INVALID", detail={
                "expected": str(digest), "actual": f"{digest.algorithm}:{actual}"})
        quota = self._quota(repository)
        if quota is not None:
            await self._refuse_over_quota(repository, upload_id, str(digest), size, quota)
        async with self._store.hold(digest):  # Online GC: bytes and row appear together.
            stored = await self._store.stat(digest) is not None
            await self._store.commit_upload(repository, upload_id, digest)
            self._forget(repository, upload_id)
            try:
                await self._link(repository, str(digest), size, quota)
            except Exception:  # Rolled back: bytes this commit created are nobody's (the
                if not stored:  # held lock keeps any other push of the digest waiting).
                    await self._store.delete(digest)
                raise
        return digest

    async def upload_whole(self, repository: str, digest_text: str, chunk: Chunk) -> Digest:
        """A monolithic ``POST ?digest=``: a session opened and finished in one request."""
        parse_digest(digest_text)
        upload_id = await self.start(repository)
        try:
            return await self.finish(repository, upload_id, digest_text, chunk)
        except BaseException:
            await self._drop(repository, upload_id)
            raise

    async def cancel(self, repository: str, upload_id: str) -> None:
        """Drop a session and its bytes."""
        self._check_id(upload_id)
        async with self._lock(repository, upload_id):
            if not await self._drop(repository, upload_id):
                raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id})

    async def mount(self, repository: str, digest_text: str, source: str | None) -> Digest | None:
        """Link a blob ``source`` holds into ``repository``; None when it cannot be mounted."""
        digest = parse_digest(digest_text)
        if not source or not is_valid_name(source) or source == repository:
            return None
        size = self._metadata.linked_blob_size(source, str(digest))
        if size is None:
            return None
        async with self._store.hold(digest):  # Online GC removes bytes only between holds.
            if await self._store.stat(digest) is None:
                return None
            await self._link(repository, str(digest), size, self._quota(repository))
        return digest

    def _quota(self, repository: str) -> int | None:
        """The namespace's limit; None (and no quota work at all) when none is configured."""
        return None if self._quotas is None else self._quotas.limit_for(repository)

    async def _refuse_over_quota(self, repository: str, upload_id: str, digest: str, size: int,
                                 quota: int) -> None:
        """Checked before the bytes move into ``blobs/``, so a refused upload leaves no file."""
        try:
            self._metadata.check_quota(repository, digest, size, quota)
        except QuotaExceeded as exceeded:
            await self._drop(repository, upload_id)
            raise quota_denied(exceeded) from None

    async def _link(self, repository: str, digest: str, size: int, quota: int | None) -> None:
        """Record the blob, checking the quota again inside the transaction.

        Only a concurrent push into the same namespace can use the room between the early
        check and this one; the refused blob's file then has no row and garbage collection
        sweeps it (deleting it here could race another push of the same digest).
        """
        try:
            await in_thread(self._metadata.link_blob, repository, digest, size, quota)
        except QuotaExceeded as exceeded:
            raise quota_denied(exceeded) from None

    async def _append(self, repository: str, upload_id: str, chunk: Chunk) -> int:
        with track_upload():
            return await self._append_tracked(repository, upload_id, chunk)

    async def _append_tracked(self, repository: str, upload_id: str, chunk: Chunk) -> int:
        size = await self.size(repository, upload_id)
        expected = self._expected_length(chunk, size, repository, upload_id)
        state = self._hash_state(repository, upload_id, size)
        writer = self._store.open_upload(repository, upload_id)
        written = 0
        try:
            async for data in chunk.body:
                writer.write(data)
                written += len(data)
                if state is not None:
                    state.hasher.update(data)
                    state.offset += len(data)
        finally:
            if expected is not None and written != expected:
                self._discard_chunk(writer, repository, upload_id, size)
            writer.close()
        if expected is not None and written != expected:
            raise RegistryError("SIZE_INVALID", f"chunk declared {expected} bytes, "
                                f"{written} arrived; the chunk was discarded")
        return size + written

    def _discard_chunk(self, writer: UploadWriter, repository: str, upload_id: str,
                       size: int) -> None:
        """A ranged chunk lands whole or not at all: cut the session back to ``size``."""
        writer.truncate(size)
        self._hashes.pop((repository, upload_id), None)

    @staticmethod
    def _expected_length(chunk: Chunk, size: int, repository: str, upload_id: str) -> int | None:
        """Check ``Content-Range`` against the session; the length the chunk must have."""
        if chunk.content_range is None:
            return None
        match = _CONTENT_RANGE.fullmatch(chunk.content_range.strip())
        if match is None:
            raise RegistryError("BLOB_UPLOAD_INVALID",
                                f"malformed Content-Range {chunk.content_range[:100]!r}")
        start, end = int(match.group(1)), int(match.group(2))
        if start != size or end < start:
            location = f"/v2/{repository}/blobs/uploads/{upload_id}".encode()
            raise RegistryError(
                "RANGE_INVALID",
                f"chunk {start}-{end} does not continue the upload, which has {size} bytes",
                headers=[(b"location", location), (b"range", f"0-{max(size - 1, 0)}".encode()),
                         (b"docker-upload-uuid", upload_id.encode())])
        length = end - start + 1
        if chunk.content_length is not None and chunk.content_length != length:
            raise RegistryError("SIZE_INVALID", f"Content-Length {chunk.content_length} does "
                                f"not match Content-Range {start}-{end}")
        return length

    def _hash_state(self, repository: str, upload_id: str, size: int) -> _HashState | None:
        state = self._hashes.get((repository, upload_id))
        if state is not None and state.offset == size:
            return state
        if size == 0:
            state = _HashState(Digest("sha256", "").hasher(), 0)
            self._remember_hash(repository, upload_id, state)
            return state
        self._hashes.pop((repository, upload_id), None)
        return None

    async def _digest_of(self, repository: str, upload_id: str, algorithm: str) -> str:
        size = await self.size(repository, upload_id)
        state = self._hashes.get((repository, upload_id))
        if algorithm == "sha256" and state is not None and state.offset == size:
            return str(state.hasher.hexdigest())
        hasher = Digest(algorithm, "").hasher()
        async for data in self._store.iter_upload(repository, upload_id):
            hasher.update(data)
        return str(hasher.hexdigest())

    async def _discard_if_full(self, repository: str, upload_id: str, error: Exception) -> None:
        """On a full disk, delete the session (and its bytes) and say so; else do nothing.

        Also covers the metadata database filling up after the blob was committed: the blob
        file then has no row, is invisible through the API, and garbage collection sweeps it.
        """
        if isinstance(error, StorageFull) or is_out_of_space(error):
            await self._drop(repository, upload_id)
            raise StorageFull("the upload was discarded") from error

    async def _drop(self, repository: str, upload_id: str) -> bool:
        self._forget(repository, upload_id)
        return await self._store.delete_upload(repository, upload_id)

    def _forget(self, repository: str, upload_id: str) -> None:
        self._hashes.pop((repository, upload_id), None)
        self._locks.pop((repository, upload_id), None)

    def _remember_hash(self, repository: str, upload_id: str, state: _HashState) -> None:
        """Keep a session's running hash; abandoned sessions must not grow this forever.

        Dropping a state is always safe: the session is then re-hashed from disk at the end.
        """
        if len(self._hashes) >= MAX_TRACKED_SESSIONS:
            del self._hashes[next(iter(self._hashes))]
        self._hashes[(repository, upload_id)] = state

    def _lock(self, repository: str, upload_id: str) -> asyncio.Lock:
        self._check_id(upload_id)
        if len(self._locks) >= MAX_TRACKED_SESSIONS:
            for key in [k for k, lock in self._locks.items() if not lock.locked()]:
                del self._locks[key]
        return self._locks.setdefault((repository, upload_id), asyncio.Lock())

    @staticmethod
    def _check_id(upload_id: str) -> None:
        if _UPLOAD_ID.fullmatch(upload_id) is None:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": upload_id[:100]})
