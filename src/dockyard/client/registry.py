"""``RegistryClient``: the registry HTTP API of one host, as async methods.

It speaks only the OCI distribution API, so it works against Dockyard, Distribution, Harbor
or a cloud registry. Every manifest received is hashed and compared with the digest asked
for and with ``Docker-Content-Digest``; every blob stream is hashed while it streams.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from dockyard.client import blobs, uploads
from dockyard.client.digests import compute, parse, verify
from dockyard.client.documents import json_object
from dockyard.client.errors import ClientError, DigestMismatch, NotFound, RegistryError, Unsupported
from dockyard.client.listing import next_link, pages
from dockyard.client.options import ClientOptions
from dockyard.client.transport import Transport
from dockyard.core import mediatypes as mt

ALL_MANIFEST_TYPES: tuple[str, ...] = (mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST, mt.OCI_MANIFEST,
                                       mt.DOCKER_MANIFEST)
MAX_MANIFEST = 4 * 1024 * 1024 + 65536  # Distribution's cap is 4 MiB; refuse anything bigger.


@dataclass(frozen=True)
class FetchedManifest:
    """Manifest bytes exactly as stored, their media type, and their verified digest."""

    body: bytes
    media_type: str
    digest: str

    def json(self) -> dict[str, Any]:
        """The parsed document; a registry serving something else is a ClientError."""
        return json_object(self.body, f"manifest {self.digest}", ClientError)

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES


def pull(repository: str) -> str:
    return f"repository:{repository}:pull"


class RegistryClient:
    """One registry host; use as ``async with RegistryClient("localhost:5000") as c:``."""

    def __init__(self, registry: str, *, options: ClientOptions | None = None) -> None:
        self.registry = registry
        self.options = options or ClientOptions()
        self.transport = Transport(registry, self.options)

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.transport.aclose()

    @property
    def token_requests(self) -> int:
        """How often the token service was asked (the cache should keep this low)."""
        return self.transport.auth.token_requests

    # ------------------------------------------------------------------ API root

    async def ping(self) -> None:
        """``GET /v2/`` with credentials: raises unless the registry accepts us."""
        await self.transport.base()
        response = await self.transport.request("GET", "/v2/", scope=None)
        await response.aclose()

    # ------------------------------------------------------------------ listings

    async def catalog(self, page_size: int = 1000) -> AsyncIterator[str]:
        async for page in pages(self.transport, "/v2/_catalog", "repositories", page_size,
                                "registry:catalog:*"):
            for name in page:
                yield name

    async def tags(self, repository: str, page_size: int = 1000) -> AsyncIterator[str]:
        async for page in pages(self.transport, f"/v2/{repository}/tags/list", "tags",
                                page_size, pull(repository)):
            for tag in page:
                yield tag

    # ------------------------------------------------------------------ manifests

    async def get_manifest(self, repository: str, reference: str,
                           accept: Sequence[str] = ALL_MANIFEST_TYPES) -> FetchedManifest:
        response = await self.transport.request(
            "GET", f"/v2/{repository}/manifests/{reference}", scope=pull(repository),
            headers={"Accept": ", ".join(accept)}, stream=True)
        try:
            body = await _read_capped(response, MAX_MANIFEST)
        finally:
            await response.aclose()
        what = f"manifest {repository}:{reference}"
        if reference.startswith(("sha256:", "sha512:")):
            verify(body, reference, what)
        claimed = response.headers.get("docker-content-digest")
        if claimed:
            verify(body, claimed, what + " (Docker-Content-Digest)")
        algorithm = parse(reference).algorithm if ":" in reference else "sha256"
        return FetchedManifest(body, _media_type(response.headers.get("content-type"), body),
                               compute(body, algorithm))

    async def head_manifest(self, repository: str, reference: str
                            ) -> tuple[str, str, int] | None:
        """(digest, media type, size), or None when absent. Falls back to GET when the
        registry does not say the digest (the spec only says SHOULD)."""
        response = await self.transport.request(
            "HEAD", f"/v2/{repository}/manifests/{reference}", scope=pull(repository),
            headers={"Accept": ", ".join(ALL_MANIFEST_TYPES)}, ok=(200, 404))
        await response.aclose()
        if response.status_code == 404:
            return None
        digest = response.headers.get("docker-content-digest")
        if not digest or (reference.startswith(("sha256:", "sha512:")) and digest != reference):
            fetched = await self.get_manifest(repository, reference)
            return fetched.digest, fetched.media_type, len(fetched.body)
        return (digest, (response.headers.get("content-type") or "").split(";")[0].strip(),
                int(response.headers.get("content-length", "0")))

    async def put_manifest(self, repository: str, reference: str, body: bytes,
                           media_type: str) -> str:
        """PUT the exact bytes; returns their digest (checked against the registry's)."""
        algorithm = parse(reference).algorithm if reference.startswith(
            ("sha256:", "sha512:")) else "sha256"
        digest = compute(body, algorithm)
        response = await self.transport.request(
            "PUT", f"/v2/{repository}/manifests/{reference}", scope=uploads.push_scope(
                repository), headers={"Content-Type": media_type}, content=body, ok=(201,))
        await response.aclose()
        claimed = response.headers.get("docker-content-digest")
        if claimed and claimed.split(":", 1)[0] == algorithm and claimed != digest:
            raise DigestMismatch(digest, claimed, f"manifest stored as {repository}:{reference}")
        return digest

    async def delete_manifest(self, repository: str, digest: str) -> None:
        await self._delete(repository, digest)

    async def delete_tag(self, repository: str, tag: str) -> None:
        """OCI 1.1 tag delete. A registry without it answers 405, 400 UNSUPPORTED, or (as
        Distribution 2.8 does, reading the tag as a digest) 400 DIGEST_INVALID: all raise
        :class:`Unsupported`."""
        try:
            await self._delete(repository, tag)
        except RegistryError as error:
            if isinstance(error, Unsupported) or error.status != 400:
                raise
            raise Unsupported(error.registry, error.status, error.code, error.message) from None

    async def _delete(self, repository: str, reference: str) -> None:
        response = await self.transport.request(
            "DELETE", f"/v2/{repository}/manifests/{reference}",
            scope=f"repository:{repository}:delete", ok=(200, 202, 204))
        await response.aclose()

    # ------------------------------------------------------------------ blobs

    async def blob_size(self, repository: str, digest: str) -> int | None:
        return await blobs.blob_size(self.transport, repository, digest)

    def blob_stream(self, repository: str, digest: str
                    ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        return blobs.blob_stream(self.transport, repository, digest)

    async def read_blob(self, repository: str, digest: str, limit: int = 16 << 20) -> bytes:
        """A small verified blob (a config) in memory."""
        return await blobs.read_small_blob(self.transport, repository, digest, limit)

    async def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        return await uploads.mount(self.transport, repository, digest, from_repository)

    async def upload_blob(self, repository: str, digest: str, size: int,
                          chunks: AsyncIterable[bytes]) -> None:
        await uploads.upload(self.transport, repository, digest, size, chunks)

    async def upload_blob_resumable(
            self, repository: str, digest: str, size: int,
            open_from: Callable[[int], AbstractAsyncContextManager[AsyncIterator[bytes]]]
    ) -> None:
        await uploads.upload_resumable(self.transport, repository, digest, size, open_from)

    # ------------------------------------------------------------------ referrers

    async def referrers(self, repository: str, digest: str,
                        artifact_type: str | None = None) -> dict[str, Any]:
        """The referrers index of ``digest``; from the ``sha256-<hex>`` tag when the registry
        has no referrers API (404), as the spec's fallback says."""
        params = {"artifactType": artifact_type} if artifact_type else None
        descriptors: list[dict[str, Any]] = []
        url: str | None = f"/v2/{repository}/referrers/{digest}"
        try:
            while url is not None:
                response = await self.transport.request("GET", url, scope=pull(repository),
                                                        params=params, not_found=True)
                descriptors += _manifests_of(self.registry, response.content)
                url, params = next_link(response.headers.get("link", "")), None
        except NotFound:
            descriptors = await self._fallback_referrers(repository, digest)
        if artifact_type:
            descriptors = [d for d in descriptors if d.get("artifactType") == artifact_type]
        return {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": descriptors}

    async def _fallback_referrers(self, repository: str, digest: str) -> list[dict[str, Any]]:
        algorithm, _, hexpart = digest.partition(":")
        try:
            index = await self.get_manifest(repository, f"{algorithm}-{hexpart}",
                                            accept=(mt.OCI_INDEX,))
        except NotFound:
            return []
        return _manifests_of(self.registry, index.body)


async def _read_capped(response: Any, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > limit:
            raise RegistryError(response.url.host, response.status_code, None,
                                f"manifest larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _media_type(header: str | None, body: bytes) -> str:
    """Content-Type, or the document's own ``mediaType`` when the header is generic."""
    declared = (header or "").split(";", 1)[0].strip()
    if declared and declared not in ("application/json", "application/octet-stream",
                                     "text/plain"):
        return declared
    try:
        value = json.loads(body).get("mediaType")
    except (ValueError, AttributeError):
        value = None
    return str(value) if value else declared or mt.OCI_MANIFEST


def _manifests_of(registry: str, body: bytes) -> list[dict[str, Any]]:
    try:
        manifests = json.loads(body).get("manifests") or []
    except (ValueError, AttributeError):
        raise RegistryError(registry, 200, None, "referrers answer is not an index") from None
    return [m for m in manifests if isinstance(m, dict)]


