"""OCI image layout directories (``oci:DIR[:TAG]``) as a copy source and destination.

The layout is the one the OCI image spec defines and skopeo/podman/buildah read and write:
an ``oci-layout`` file, ``blobs/<alg>/<hex>`` and an ``index.json`` whose entries carry the
tag in ``org.opencontainers.image.ref.name``. Every blob read is hashed; every file written
appears atomically, and ``index.json`` is rewritten last so it never names missing content.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from dockyard.client.transfer.files import AtomicWriter, open_verified, write_file_atomically
from dockyard.client.transfer.model import (
    REF_NAME,
    BlobOpener,
    ContentMismatch,
    Manifest,
    TransferError,
)

LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}


def blob_path(root: Path, digest: str) -> Path:
    algorithm, _, hexpart = digest.partition(":")
    if not hexpart or "/" in digest or ".." in digest:
        raise TransferError(f"invalid digest {digest!r}")
    return root / "blobs" / algorithm / hexpart


def read_index(root: Path) -> dict[str, Any]:
    """``index.json`` of a layout (an empty index if the layout is new)."""
    path = root / "index.json"
    if not path.exists():
        return {"schemaVersion": 2, "manifests": []}
    try:
        index = json.loads(path.read_bytes())
    except ValueError as error:
        raise TransferError(f"{path}: not JSON: {error}") from None
    if not isinstance(index, dict) or not isinstance(index.get("manifests", []), list):
        raise TransferError(f"{path}: not an OCI image index")
    return index


class LayoutSource:
    """Reads one tagged image or index of a layout."""

    location = None

    def __init__(self, directory: str, tag: str | None) -> None:
        self.root = Path(directory)
        self.tag = tag
        self.description = f"oci:{directory}" + (f":{tag}" if tag else "")

    def _top(self) -> dict[str, Any]:
        if not (self.root / "oci-layout").exists():
            raise TransferError(f"{self.root} is not an OCI image layout (no oci-layout file)")
        entries = read_index(self.root).get("manifests", [])
        if self.tag is None:
            if len(entries) != 1:
                raise TransferError(f"{self.root} holds {len(entries)} images: name a tag")
            return dict(entries[0])
        for entry in entries:
            if (entry.get("annotations") or {}).get(REF_NAME) == self.tag:
                return dict(entry)
        raise TransferError(f"tag {self.tag!r} not found in {self.root}/index.json")

    async def get_manifest(self, digest: str | None = None) -> Manifest:
        media_type = None
        if digest is None:
            top = await asyncio.to_thread(self._top)
            digest, media_type = str(top["digest"]), top.get("mediaType")
        path = blob_path(self.root, digest)
        try:
            body = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise TransferError(f"manifest {digest} missing from {self.root}") from None
        if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise ContentMismatch(f"manifest {digest} in {self.root} is corrupt")
        return Manifest(body, media_type or Manifest.of(body).media_type, digest)

    def open_blob(self, digest: str, offset: int = 0
                  ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        return open_verified(blob_path(self.root, digest), digest, offset=offset)

    async def aclose(self) -> None:
        return None


class LayoutDestination:
    """Writes blobs and manifests into a layout; ``commit`` then updates ``index.json``."""

    location = None
    supports_index = True
    digest = None

    def __init__(self, directory: str, tag: str | None) -> None:
        self.root = Path(directory)
        self.tag = tag
        self.description = f"oci:{directory}" + (f":{tag}" if tag else "")
        self._entries: list[dict[str, Any]] = []

    async def manifest_digest(self, tag: str) -> str | None:
        entries = read_index(self.root).get("manifests", [])
        for entry in entries:
            if (entry.get("annotations") or {}).get(REF_NAME) == tag:
                digest = str(entry["digest"])
                return digest if await self.has_blob(digest) else None
        return None

    async def has_blob(self, digest: str) -> bool:
        return blob_path(self.root, digest).is_file()

    async def mount_blob(self, digest: str, from_repository: str) -> bool:
        return False

    async def put_blob(self, descriptor: dict[str, Any], open_from: BlobOpener) -> None:
        digest = str(descriptor["digest"])
        writer = AtomicWriter(blob_path(self.root, digest))
        try:
            hasher = hashlib.sha256()
            async with open_from(0) as chunks:
                async for data in chunks:
                    hasher.update(data)
                    await writer.write(data)
            if "sha256:" + hasher.hexdigest() != digest:
                raise ContentMismatch(f"blob {digest}: content hashes to "
                                      f"sha256:{hasher.hexdigest()}")
            await writer.commit()
        except BaseException:
            writer.discard()
            raise

    async def put_manifest(self, manifest: Manifest, tags: Sequence[str], *,
                           top: bool = False) -> None:
        path = blob_path(self.root, manifest.digest)
        if not path.is_file():
            await write_file_atomically(path, manifest.body)
        base = {"mediaType": manifest.media_type, "digest": manifest.digest,
                "size": len(manifest.body)}
        for tag in tags:
            self._entries.append({**base, "annotations": {REF_NAME: tag}})
        if top and not tags:
            self._entries.append(base)

    async def commit(self) -> None:
        """Write ``oci-layout`` and the updated ``index.json`` (after every blob)."""
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        if not (self.root / "oci-layout").exists():
            await write_file_atomically(self.root / "oci-layout",
                                        json.dumps(LAYOUT_VERSION).encode())
        index = read_index(self.root)
        new_tags = {(e.get("annotations") or {}).get(REF_NAME) for e in self._entries}
        new_digests = {e["digest"] for e in self._entries if "annotations" not in e}
        kept = [e for e in index.get("manifests", [])
                if not _replaced(e, new_tags, new_digests)]
        index["schemaVersion"] = 2
        index["manifests"] = kept + self._entries
        await write_file_atomically(self.root / "index.json", json.dumps(index).encode())
        self._entries = []

    async def aclose(self) -> None:
        return None


def _replaced(entry: dict[str, Any], tags: set[Any], untagged: set[Any]) -> bool:
    name = (entry.get("annotations") or {}).get(REF_NAME)
    if name is not None:
        return name in tags
    return entry.get("digest") in untagged
