"""Pushing blobs: one streamed PUT for small blobs, PATCH chunks that resume for big ones.

A chunked upload sends ``Content-Range`` PATCHes. When the connection drops, the client asks
the session where it stands (``GET <location>`` → ``Range: 0-<last byte>``), re-opens the
source at that offset and carries on: only the bytes the registry does not have are sent
again. A registry that can no longer continue the session (Distribution, when part of the
broken chunk reached it) gets a new session from byte 0. The registry checks the digest on
the closing PUT, so a resumed upload either completes with exactly the right bytes or fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from urllib.parse import urljoin

import httpx

from dockyard.client.errors import ClientError, NotFound, RegistryError, TransportError
from dockyard.client.transport import Transport

log = logging.getLogger("dockyard.client")
OCTETS = {"Content-Type": "application/octet-stream"}
Opener = Callable[[int], AbstractAsyncContextManager[AsyncIterator[bytes]]]


def push_scope(repository: str) -> str:
    return f"repository:{repository}:pull,push"


async def _location(transport: Transport, response: httpx.Response) -> str:
    location = response.headers.get("location")
    await response.aclose()
    if not location:
        raise RegistryError(transport.registry, response.status_code, None,
                            "upload answer without a Location header")
    return urljoin(await transport.base() + "/", location)


async def start(transport: Transport, repository: str) -> str:
    """Open an upload session; its absolute Location."""
    response = await transport.request("POST", f"/v2/{repository}/blobs/uploads/",
                                       scope=push_scope(repository), ok=(202,),
                                       content=b"")
    return await _location(transport, response)


async def mount(transport: Transport, repository: str, digest: str,
                from_repository: str) -> bool:
    """Cross-repository mount; False (and the opened session cancelled) when refused."""
    scope = f"{push_scope(repository)} repository:{from_repository}:pull"
    response = await transport.request(
        "POST", f"/v2/{repository}/blobs/uploads/", scope=scope, ok=(201, 202), content=b"",
        params={"mount": digest, "from": from_repository})
    if response.status_code == 201:
        await response.aclose()
        return True
    location = await _location(transport, response)
    with contextlib.suppress(ClientError):  # Cancelling is a courtesy (end-14 is optional).
        cancel = await transport.request("DELETE", location, scope=push_scope(repository),
                                         ok=(200, 202, 204, 404, 405))
        await cancel.aclose()
    return False


async def upload(transport: Transport, repository: str, digest: str, size: int,
                 chunks: AsyncIterable[bytes]) -> None:
    """Stream a blob once: a single PUT when small, PATCH chunks otherwise (no resume)."""
    location = await start(transport, repository)
    if size > transport.options.monolithic_limit:
        location, _ = await _patch_all(transport, repository, location,
                                       _Reader(chunks.__aiter__()), 0, size)
        chunks, size = _empty(), 0
    await _finish(transport, repository, location, digest, chunks, size)


async def upload_resumable(transport: Transport, repository: str, digest: str, size: int,
                           open_from: Opener) -> None:
    """Chunked upload that resumes from the registry's ``Range`` after a dropped connection."""
    location = await start(transport, repository)
    offset, failures = 0, 0
    while offset < size:
        try:
            async with open_from(offset) as source:
                location, offset = await _patch_all(transport, repository, location,
                                                    _Reader(source), offset, size)
        except TransportError as error:
            failures += 1
            if failures > transport.options.retries:
                raise
            await asyncio.sleep(transport.options.backoff * failures)
            try:
                location, offset = await _status(transport, repository, location)
            except NotFound:
                # Distribution signs the offset into the Location (``_state``); bytes of the
                # broken PATCH that reached its disk make that state invalid. Start over.
                location, offset = await start(transport, repository), 0
                log.info("upload of %s to %s restarts in a new session after: %s",
                         digest[:19], repository, error)
                continue
            log.info("upload of %s to %s resumes at byte %d after: %s", digest[:19],
                     repository, offset, error)
    await _finish(transport, repository, location, digest, _empty(), 0)


async def _finish(transport: Transport, repository: str, location: str, digest: str,
                  body: AsyncIterable[bytes], size: int) -> None:
    headers = {**OCTETS, "Content-Length": str(size)}
    response = await transport.request("PUT", location, scope=push_scope(repository),
                                       params={"digest": digest}, headers=headers,
                                       content=body if size else b"", ok=(201,))
    await response.aclose()


async def _status(transport: Transport, repository: str, location: str) -> tuple[str, int]:
    """Where an upload session stands: (location, next offset) from ``Range: 0-<end>``."""
    response = await transport.request("GET", location, scope=push_scope(repository),
                                       ok=(204, 200))
    ranged = response.headers.get("range", "")
    new_location = await _location(transport, response) if response.headers.get(
        "location") else location
    if not ranged:
        return new_location, 0
    end = int(ranged.rsplit("-", 1)[1])
    # Distribution answers "0-0" for an empty session as well as for one byte: assume empty.
    return new_location, (0 if ranged == "0-0" else end + 1)


async def _patch_all(transport: Transport, repository: str, location: str, reader: _Reader,
                     offset: int, size: int) -> tuple[str, int]:
    """PATCH ``reader`` from ``offset`` to ``size`` in chunks; (location, new offset)."""
    chunk = transport.options.chunk_size
    while offset < size:
        length = min(chunk, size - offset)
        headers = {**OCTETS, "Content-Range": f"{offset}-{offset + length - 1}",
                   "Content-Length": str(length)}
        response = await transport.request("PATCH", location, scope=push_scope(repository),
                                           headers=headers, content=reader.take(length),
                                           ok=(202,))
        location = await _location(transport, response)
        offset += length
    return location, offset


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


class _Reader:
    """Splits a stream into exact-length pieces without holding more than one source chunk."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._source = source
        self._left = b""

    async def take(self, length: int) -> AsyncIterator[bytes]:
        while length > 0:
            if not self._left:
                try:
                    self._left = await self._source.__anext__()
                except StopAsyncIteration:
                    raise ClientError(f"source ended {length} bytes early") from None
            piece, self._left = self._left[:length], self._left[length:]
            length -= len(piece)
            yield piece
