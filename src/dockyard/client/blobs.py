"""Reading blobs: HEAD for presence and size, GET streamed and hashed while it streams."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from dockyard.client.digests import StreamVerifier
from dockyard.client.errors import ClientError, TransportError
from dockyard.client.transport import Transport

log = logging.getLogger("dockyard.client")


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
    When the connection breaks mid-stream, the rest is asked for with ``Range: bytes=N-``
    (up to ``retries`` times) and hashed on: the caller sees one seamless stream.
    """
    path = f"/v2/{repository}/blobs/{digest}"
    scope = pull_scope(repository)
    verifier = StreamVerifier(digest, f"blob {digest[:19]}… of {repository}")
    state: dict[str, httpx.Response] = {
        "response": await transport.request("GET", path, scope=scope, stream=True)}

    async def chunks() -> AsyncIterator[bytes]:
        breaks = 0
        while True:
            try:
                # No chunk size: httpx would buffer up to it and drop the buffer when the
                # connection breaks, so the resume would re-fetch bytes already received.
                async for chunk in state["response"].aiter_bytes():
                    verifier.update(chunk)
                    yield chunk
                break
            except httpx.TransportError as error:
                breaks += 1
                if breaks > transport.options.retries:
                    raise TransportError(f"GET {path} broke at byte {verifier.size}: "
                                         f"{error}") from error
                await state["response"].aclose()
                state["response"] = await _rest(transport, path, scope, verifier.size)
                log.info("download of %s resumes at byte %d after: %r", digest[:19],
                         verifier.size, error)
        verifier.check()

    try:
        yield chunks()
    finally:
        await state["response"].aclose()


async def _rest(transport: Transport, path: str, scope: str, offset: int) -> httpx.Response:
    """The blob from ``offset`` on; a registry ignoring Range (200) is an error, not a restart
    that would feed the hash the first bytes twice."""
    response = await transport.request("GET", path, scope=scope, stream=True, ok=(206,),
                                       headers={"Range": f"bytes={offset}-"})
    start = response.headers.get("content-range", "").removeprefix("bytes ").split("-")[0]
    if start != str(offset):
        await response.aclose()
        raise TransportError(f"GET {path}: asked for bytes from {offset}, got "
                             f"{response.headers.get('content-range')!r}")
    return response


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
