"""Writing a ``docker save``-compatible tar (``docker-archive:FILE[:NAME:TAG]``).

The layout is the one skopeo writes and ``docker load`` reads: ``<config hex>.json``,
one uncompressed ``<diff id hex>.tar`` per layer, and ``manifest.json``. Layers arrive
compressed from registries; they are gunzipped while streaming, and both digests are checked:
the compressed bytes against the manifest, the uncompressed tar against the config's diff ID.
A tar member's size goes in its header, which is unknown until a layer is decompressed, so
the header is written as a placeholder and filled in afterwards (the file is seekable).
The tar is built under a temporary name and renamed into place by ``commit``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tarfile
import zlib
from collections.abc import Sequence
from typing import Any

from dockyard.client.transfer.archive_name import ArchiveName
from dockyard.client.transfer.files import AtomicWriter
from dockyard.client.transfer.model import (
    BlobOpener,
    ContentMismatch,
    Manifest,
    TransferError,
    is_config,
)

BLOCK = tarfile.BLOCKSIZE


class ArchiveDestination(ArchiveName):
    """Builds one docker-archive tar holding a single image."""

    location = None
    supports_index = False
    digest = None

    def __init__(self, path: str, reference: str | None) -> None:
        super().__init__(path, reference)
        self._writer: AtomicWriter | None = None
        self._lock = asyncio.Lock()  # one tar member at a time
        self._files: dict[str, str] = {}  # blob digest -> member name
        self._diff_ids: dict[str, str] = {}  # layer digest -> uncompressed digest
        self._entry: dict[str, Any] | None = None

    async def manifest_digest(self, tag: str) -> str | None:
        return None  # a new archive every time

    async def has_blob(self, digest: str) -> bool:
        return digest in self._files

    async def mount_blob(self, digest: str, from_repository: str) -> bool:
        return False

    async def put_blob(self, descriptor: dict[str, Any], open_from: BlobOpener) -> None:
        digest = str(descriptor["digest"])
        config = is_config(str(descriptor.get("mediaType", "")))
        async with self._lock:
            writer = self._open()
            start = writer.file.tell()
            await writer.write(b"\0" * BLOCK)  # the header, filled in below
            packed, plain = hashlib.sha256(), hashlib.sha256()
            inflate: Any = None
            size = 0
            async with open_from(0) as chunks:
                async for data in chunks:
                    packed.update(data)
                    if inflate is None and not config and data[:2] == b"\x1f\x8b":
                        inflate = zlib.decompressobj(wbits=31)
                    out = inflate.decompress(data) if inflate is not None else data
                    plain.update(out)
                    size += len(out)
                    await writer.write(out)
            if inflate is not None:
                tail = inflate.flush()
                plain.update(tail)
                size += len(tail)
                await writer.write(tail)
            if "sha256:" + packed.hexdigest() != digest:
                raise ContentMismatch(f"blob {digest}: content hashes to "
                                      f"sha256:{packed.hexdigest()}")
            plain_digest = "sha256:" + plain.hexdigest()
            name = f"{digest.partition(':')[2]}.json" if config else \
                f"{plain.hexdigest()}.tar"
            await asyncio.to_thread(_finish_member, writer, start, name, size)
            self._files[digest] = name
            self._diff_ids[digest] = plain_digest

    async def put_manifest(self, manifest: Manifest, tags: Sequence[str], *,
                           top: bool = False) -> None:
        if manifest.is_index:
            raise TransferError("a docker-archive holds single images: pick one with "
                                "--platform")
        document = manifest.document
        config = str(document["config"]["digest"])
        layers = [str(d["digest"]) for d in manifest.blobs()[1:]]
        missing = [d for d in [config, *layers] if d not in self._files]
        if missing:
            raise TransferError(f"blobs not written to the archive: {', '.join(missing)}")
        names = [self.reference] if self.reference else []
        self._entry = {"Config": self._files[config], "RepoTags": names,
                       "Layers": [self._files[d] for d in layers]}

    async def commit(self) -> None:
        if self._entry is None:
            raise TransferError("nothing to write: no image manifest was copied")
        writer = self._open()
        body = json.dumps([self._entry]).encode()
        await asyncio.to_thread(_add_small, writer, "manifest.json", body)
        await writer.write(b"\0" * (2 * BLOCK))  # end-of-archive marker
        await writer.commit()
        self._writer = None

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.discard()
            self._writer = None

    def _open(self) -> AtomicWriter:
        if self._writer is None:
            self._writer = AtomicWriter(self.path)
        return self._writer


def _header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    return info.tobuf(format=tarfile.GNU_FORMAT)


def _finish_member(writer: AtomicWriter, start: int, name: str, size: int) -> None:
    """Pad the member's data to a block and write its real header over the placeholder."""
    handle = writer.file
    handle.write(b"\0" * (-size % BLOCK))
    end = handle.tell()
    header = _header(name, size)
    if len(header) != BLOCK:
        raise TransferError(f"tar header for {name} is not one block")
    handle.seek(start)
    handle.write(header)
    handle.seek(end)


def _add_small(writer: AtomicWriter, name: str, data: bytes) -> None:
    handle = writer.file
    handle.write(_header(name, len(data)))
    handle.write(data)
    handle.write(b"\0" * (-len(data) % BLOCK))
