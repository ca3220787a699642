"""What the copy engine knows about manifests: their bytes, their blobs, their children.

Kept apart from any endpoint so the planner can walk an image the same way whether it came
from a registry, a layout directory or a tar, and so it can be unit-tested without I/O.
"""

from __future__ import annotations

import hashlib
import platform as host_platform
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from dockyard.client.documents import json_object
from dockyard.core import mediatypes as mt

CHUNK = 1024 * 1024

# How an endpoint hands out a blob: open it at a byte offset, iterate chunks, close.
BlobOpener = Callable[[int], AbstractAsyncContextManager[AsyncIterator[bytes]]]

DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"


class TransferError(Exception):
    """A copy step failed; ``str()`` is one human line (the caller prefixes the image)."""


class ContentMismatch(TransferError):
    """Bytes read from a source do not hash to the digest they are stored under."""


@dataclass(frozen=True)
class Manifest:
    """A manifest or index exactly as stored: the bytes decide the digest."""

    body: bytes
    media_type: str
    digest: str

    @classmethod
    def of(cls, body: bytes, media_type: str | None = None) -> Manifest:
        """Build from bytes; the media type defaults to the document's own ``mediaType``."""
        kind = media_type or _document(body).get("mediaType") or guess_media_type(body)
        return cls(body, kind, sha256_of(body))

    @property
    def document(self) -> dict[str, Any]:
        return _document(self.body)

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES

    def children(self) -> list[dict[str, Any]]:
        """Child manifest descriptors of an index (empty for an image manifest)."""
        return list(self.document.get("manifests") or []) if self.is_index else []

    def blobs(self) -> list[dict[str, Any]]:
        """Config then layers of an image manifest, minus layers that must not be copied."""
        if self.is_index:
            return []
        doc = self.document
        out = [doc["config"]] if doc.get("config") else []
        out += [d for d in doc.get("layers") or [] if not _foreign(d)]
        return out


@dataclass(frozen=True)
class Platform:
    """``os/arch[/variant]`` as ``--platform`` spells it."""

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"invalid platform {text!r}: expected os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def host(cls) -> Platform:
        """The platform of this machine, as Go spells it (what skopeo defaults to)."""
        machine = host_platform.machine().lower()
        arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)
        return cls("linux", arch)

    def matches(self, descriptor: dict[str, Any]) -> bool:
        spec = descriptor.get("platform") or {}
        if spec.get("os") != self.os or spec.get("architecture") != self.architecture:
            return False
        return self.variant is None or spec.get("variant") == self.variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def pick_child(index: Manifest, wanted: Platform) -> dict[str, Any]:
    """The descriptor of the child of ``index`` built for ``wanted``, or TransferError."""
    for child in index.children():
        if wanted.matches(child):
            return child
    offered = ", ".join(_platform_text(c) for c in index.children()) or "none"
    raise TransferError(f"no image for platform {wanted} in the index (has: {offered})")


def sha256_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def guess_media_type(body: bytes) -> str:
    """Media type of a manifest that does not declare one (old OCI layouts omit it)."""
    doc = _document(body)
    return mt.OCI_INDEX if "manifests" in doc else mt.OCI_MANIFEST


def is_config(media_type: str) -> bool:
    """Whether a blob descriptor's type is an image config (not a layer)."""
    return media_type in (DOCKER_CONFIG, OCI_CONFIG) or media_type.endswith("config.v1+json")


def _foreign(descriptor: dict[str, Any]) -> bool:
    kind = str(descriptor.get("mediaType", ""))
    return "foreign" in kind or "nondistributable" in kind


def _platform_text(descriptor: dict[str, Any]) -> str:
    spec = descriptor.get("platform") or {}
    return "/".join(str(p) for p in (spec.get("os"), spec.get("architecture"),
                                     spec.get("variant")) if p) or "unknown"


def _document(body: bytes) -> dict[str, Any]:
    return json_object(body, "manifest", TransferError)
