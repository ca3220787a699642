"""Reading blobs: HEAD for presence and size, GET streamed and hashed while it streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dockyard.client.digests import StreamVerifier
from dockyard.client.errors import ClientError
from dockyard.client.transport import Transport

READ_CHUNK = 1024 * 1024


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


async def blob_size(transport: Transport, repository: str, digest: str) -> int | None:
    """The blob's size from a HEAD, or None when the repository does not have it."""
    response = await transport.request("HEAD", f"/v2/{repository}/blobs/{digest}",
                                       scope=pull_scope(repository), ok=(200, 404))
    await response.aclose()
    if response.status_code == 404:
        return None
    return int(response.headers.get("content-length", "0"))


@asynccontextmanager
async def blob_stream(transport: Transport, repository: str, digest: str
                      ) -> AsyncIterator[AsyncIterator[bytes]]:
    """Yield an iterator of the blob's chunks; it raises DigestMismatch after the last one.

    The consumer sees every chunk before the check, so a writer that must not keep bad bytes
    (a layout directory, an upload) commits only after the iterator finished without error.
    """
    response = await transport.request("GET", f"/v2/{repository}/blobs/{digest}",
                                       scope=pull_scope(repository), stream=True)
    verifier = StreamVerifier(digest, f"blob {digest[:19]}… of {repository}")

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in response.aiter_bytes(READ_CHUNK):
            verifier.update(chunk)
            yield chunk
        verifier.check()

    try:
        yield chunks()
    finally:
        await response.aclose()


async def read_small_blob(transport: Transport, repository: str, digest: str,
                          limit: int = 16 * 1024 * 1024) -> bytes:
    """A verified small blob (an image config) in memory; refuses more than ``limit`` bytes."""
    parts: list[bytes] = []
    total = 0
    async with blob_stream(transport, repository, digest) as chunks:
        async for chunk in chunks:
            total += len(chunk)
            if total > limit:
                raise ClientError(f"blob {digest} is larger than {limit} bytes")
            parts.append(chunk)
    return b"".join(parts)
