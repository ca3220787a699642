"""docker-archive tars (``docker save`` output) as a copy source.

``manifest.json`` lists each image's config file, RepoTags and layer files. That is true of
the classic format (``<id>/layer.tar`` or skopeo's ``<hex>.tar``), and of newer docker's
OCI-layout-inside-a-tar (``blobs/sha256/<hex>``), so one reader covers both. There is no
registry manifest in the tar: a Docker schema2 manifest is built from the config and the
layers, as skopeo does. Uncompressed layers are addressed by their diff ID (the config
already names it, and the stream is hashed as it is read); a compressed layer file is hashed
once up front, and described as gzip.
"""

from __future__ import annotations

import asyncio
import json
import posixpath
import tarfile
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.client.transfer.archive_name import ArchiveName
from dockyard.client.transfer.files import file_digest, open_verified
from dockyard.client.transfer.model import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    ContentMismatch,
    Manifest,
    TransferError,
    sha256_of,
)
from dockyard.core import mediatypes as mt

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class Member:
    """Where a file's bytes sit inside the (uncompressed) tar."""

    offset: int
    size: int


class ArchiveSource(ArchiveName):
    """Reads one image of a docker-archive tar."""

    location = None

    def __init__(self, path: str, reference: str | None) -> None:
        super().__init__(path, reference)
        self._blobs: dict[str, Member] = {}
        self._config: bytes = b""
        self._manifest: Manifest | None = None

    async def get_manifest(self, digest: str | None = None) -> Manifest:
        if self._manifest is None:
            self._manifest = await self._load()
        if digest not in (None, self._manifest.digest):
            raise TransferError(f"{self.description} holds no manifest {digest}")
        return self._manifest

    def open_blob(self, digest: str, offset: int = 0
                  ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        if digest == sha256_of(self._config):
            return _bytes_stream(self._config[offset:])
        member = self._blobs.get(digest)
        if member is None:
            raise TransferError(f"{self.description} holds no blob {digest}")
        return open_verified(self.path, digest, start=member.offset, length=member.size,
                             offset=offset, what="layer")

    async def aclose(self) -> None:
        return None

    async def _load(self) -> Manifest:
        members = await asyncio.to_thread(_index_tar, self.path)
        entry = self._select(json.loads(_read(self.path, members, "manifest.json")))
        self._config = _read(self.path, members, str(entry["Config"]))
        _check_named_digest(str(entry["Config"]), self._config)
        diff_ids = list((json.loads(self._config).get("rootfs") or {}).get("diff_ids") or [])
        layer_paths = list(entry.get("Layers") or [])
        if len(diff_ids) != len(layer_paths):
            raise TransferError(f"{self.description}: config names {len(diff_ids)} layers, "
                                f"manifest.json {len(layer_paths)}")
        layers = [await self._layer(members, p, d) for p, d in zip(layer_paths, diff_ids,
                                                                     strict=True)]
        document = {"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST,
                    "config": {"mediaType": DOCKER_CONFIG, "size": len(self._config),
                               "digest": sha256_of(self._config)},
                    "layers": layers}
        body = json.dumps(document, separators=(",", ":")).encode()
        return Manifest(body, mt.DOCKER_MANIFEST, sha256_of(body))

    async def _layer(self, members: dict[str, Member], path: str, diff_id: str
                     ) -> dict[str, Any]:
        member = members.get(_normal(path))
        if member is None:
            raise TransferError(f"{self.description}: layer file {path} missing")
        magic = await asyncio.to_thread(_pread, self.path, member.offset, 4)
        if magic.startswith(ZSTD_MAGIC):
            raise TransferError(f"{self.description}: zstd layers are not supported")
        if magic.startswith(GZIP_MAGIC):
            digest = await file_digest(self.path, member.offset, member.size)
            media_type = DOCKER_LAYER_GZIP
        else:
            digest, media_type = diff_id, DOCKER_LAYER
        self._blobs[digest] = member
        return {"mediaType": media_type, "size": member.size, "digest": digest}

    def _select(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        if not isinstance(entries, list) or not entries:
            raise TransferError(f"{self.description}: manifest.json lists no image")
        if self.reference is None:
            if len(entries) != 1:
                raise TransferError(f"{self.description} holds {len(entries)} images: "
                                    "name one as docker-archive:FILE:NAME:TAG")
            return entries[0]
        for entry in entries:
            if any(_same_ref(tag, self.reference) for tag in entry.get("RepoTags") or []):
                return entry
        raise TransferError(f"{self.description}: no image tagged {self.reference}")


def _index_tar(path: Path) -> dict[str, Member]:
    """Offsets of every regular file in the tar, symlinks and hard links resolved."""
    members: dict[str, Member] = {}
    links: dict[str, str] = {}
    try:
        with tarfile.open(path, mode="r:") as tar:
            for info in tar:
                name = _normal(info.name)
                if info.isfile():
                    members[name] = Member(info.offset_data, info.size)
                elif info.issym():
                    links[name] = _normal(posixpath.join(posixpath.dirname(name),
                                                         info.linkname))
                elif info.islnk():
                    links[name] = _normal(info.linkname)
    except tarfile.ReadError as error:
        raise TransferError(f"{path}: not an uncompressed tar ({error}); a compressed "
                            "archive must be decompressed first") from None
    for name, target in links.items():
        for _ in range(8):  # a link may point at another link
            if target in members:
                members[name] = members[target]
                break
            target = links.get(target, "")
    return members


def _check_named_digest(name: str, data: bytes) -> None:
    """Config files are named after their digest (``<hex>.json``, ``blobs/sha256/<hex>``)."""
    stem = posixpath.basename(name).removesuffix(".json")
    named = len(stem) == 64 and all(c in "0123456789abcdef" for c in stem)
    if named and sha256_of(data) != "sha256:" + stem:
        raise ContentMismatch(f"config {name} does not hash to its name")


def _normal(name: str) -> str:
    return posixpath.normpath(name.lstrip("/")).removeprefix("./")


def _read(path: Path, members: dict[str, Member], name: str) -> bytes:
    """A small metadata file (manifest.json, a config) of the tar, whole."""
    member = members.get(_normal(name))
    if member is None:
        raise TransferError(f"{path}: {name} missing from the archive")
    if member.size > 64 * 1024 * 1024:
        raise TransferError(f"{path}: {name} is implausibly large")
    return _pread(path, member.offset, member.size)


def _pread(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(size)


def _same_ref(tag: str, wanted: str) -> bool:
    """``busybox:1``, ``library/busybox:1`` and ``docker.io/library/busybox:1`` are one."""
    def strip(text: str) -> str:
        return text.removeprefix("docker.io/").removeprefix("library/")
    return strip(tag) == strip(wanted)


@asynccontextmanager
async def _bytes_stream(data: bytes) -> AsyncIterator[AsyncIterator[bytes]]:
    async def chunks() -> AsyncIterator[bytes]:
        if data:
            yield data
    yield chunks()
