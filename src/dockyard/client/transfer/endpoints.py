"""Image sources and destinations, and the transport strings that name them.

The copy engine only sees these two protocols, so copying registry -> layout, archive ->
registry or registry -> registry is one code path. The names follow skopeo's transports:
``docker://host/repo:tag`` (or plain ``host/repo:tag``), ``oci:DIR[:TAG]`` and
``docker-archive:FILE[:NAME:TAG]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dockyard.client.transfer.model import BlobOpener, Manifest

if TYPE_CHECKING:
    from dockyard.client.options import ClientOptions


@dataclass(frozen=True)
class RegistryLocation:
    """Where a registry endpoint points; used to decide cross-repository mounts."""

    registry: str
    repository: str


class ImageSource(Protocol):
    """Where an image is read from."""

    @property
    def description(self) -> str:
        """``localhost:5000/team/app:v1``, ``oci:/tmp/x:v1``: for messages."""
        ...

    @property
    def location(self) -> RegistryLocation | None: ...

    @property
    def tag(self) -> str | None:
        """The tag the source names, offered to a destination that names none."""
        ...

    async def get_manifest(self, digest: str | None = None) -> Manifest:
        """The endpoint's own manifest (``None``) or a child manifest by digest, verified."""
        ...

    def open_blob(self, digest: str, offset: int = 0
                  ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """Chunks of a blob from ``offset``; raises a mismatch error at the end if the
        bytes do not hash to ``digest``."""
        ...

    async def aclose(self) -> None: ...


class ImageDestination(Protocol):
    """Where an image is written to."""

    @property
    def description(self) -> str: ...

    @property
    def location(self) -> RegistryLocation | None: ...

    @property
    def tag(self) -> str | None:
        """None: the destination takes the source's tag."""
        ...

    @property
    def digest(self) -> str | None:
        """Set when the destination names a digest instead of a tag."""
        ...

    @property
    def supports_index(self) -> bool:
        """False: the copy must pick one platform (docker-archive)."""
        ...

    async def manifest_digest(self, tag: str) -> str | None:
        """Digest of the manifest the destination holds under ``tag`` (None when absent)."""
        ...

    async def has_blob(self, digest: str) -> bool: ...

    async def mount_blob(self, digest: str, from_repository: str) -> bool:
        """Link a blob from another repository of the same registry; False if refused."""
        ...

    async def put_blob(self, descriptor: dict[str, Any], open_from: BlobOpener) -> None:
        """Store one blob read through ``open_from(offset)``; verifies its digest."""
        ...

    async def put_manifest(self, manifest: Manifest, tags: Sequence[str], *,
                           top: bool = False) -> None:
        """Store a manifest under its digest and under each of ``tags``; ``top`` marks the
        image the copy was asked for (children of an index are stored by digest only)."""
        ...

    async def commit(self) -> None:
        """Make the written image visible (index.json, the tar's manifest.json)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Transport:
    """A parsed source/destination string."""

    kind: str  # "docker" | "oci" | "docker-archive"
    path: str  # registry reference text, layout directory or tar file
    reference: str | None  # oci tag, or docker-archive "name:tag"


def parse_transport(text: str) -> Transport:
    """Split a skopeo-style transport string; raises ValueError with a human message."""
    if text.startswith("docker://"):
        return Transport("docker", text.removeprefix("docker://"), None)
    for kind in ("oci", "docker-archive"):
        if text.startswith(kind + ":"):
            rest = text[len(kind) + 1:]
            path, _, ref = rest.partition(":")
            if not path:
                raise ValueError(f"{text!r}: {kind}: needs a path")
            return Transport(kind, path, ref or None)
    if "://" in text or text.split(":", 1)[0] in ("dir", "containers-storage", "docker-daemon"):
        raise ValueError(f"{text!r}: unsupported transport (use docker://, oci:, "
                         "docker-archive:)")
    return Transport("docker", text, None)


def open_source(text: str, options: ClientOptions | None) -> ImageSource:
    """An :class:`ImageSource` for a transport string (nothing is read yet)."""
    transport = parse_transport(text)
    if transport.kind == "oci":
        from dockyard.client.transfer.layout import LayoutSource
        return LayoutSource(transport.path, transport.reference)
    if transport.kind == "docker-archive":
        from dockyard.client.transfer.archive_read import ArchiveSource
        return ArchiveSource(transport.path, transport.reference)
    from dockyard.client.transfer.registry_endpoint import RegistrySource
    return RegistrySource(transport.path, options)


def open_destination(text: str, options: ClientOptions | None) -> ImageDestination:
    """An :class:`ImageDestination` for a transport string (nothing is written yet)."""
    transport = parse_transport(text)
    if transport.kind == "oci":
        from dockyard.client.transfer.layout import LayoutDestination
        return LayoutDestination(transport.path, transport.reference)
    if transport.kind == "docker-archive":
        from dockyard.client.transfer.archive_write import ArchiveDestination
        return ArchiveDestination(transport.path, transport.reference)
    from dockyard.client.transfer.registry_endpoint import RegistryDestination
    return RegistryDestination(transport.path, options)
