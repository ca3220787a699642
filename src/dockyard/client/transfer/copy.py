"""Copy one image or a whole index from any source to any destination.

The order keeps the destination consistent at every moment: blobs first (skipped when the
destination has them, mounted from another repository of the same registry when possible,
otherwise streamed straight from the source response into the upload, several at a time),
then child manifests by digest, then the top manifest under its tags. Manifests travel as
the exact source bytes, so the destination digests equal the source's. A rerun after an
interruption skips what already arrived; when every requested tag already names the source
digest, nothing but those HEADs is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from dockyard.client.transfer.endpoints import ImageDestination, ImageSource
from dockyard.client.transfer.model import Manifest, Platform, TransferError, pick_child
from dockyard.client.transfer.progress import ProgressSink, Silent, Stats


@dataclass
class CopyOptions:
    """What ``dockyard copy`` flags control."""

    platform: Platform | None = None  # None: every platform of an index (--all)
    jobs: int = 4  # blobs in flight at once
    extra_tags: Sequence[str] = ()  # --tag: more tags for the destination
    mount_from: Sequence[str] = ()  # --mount-from: repositories of the destination registry


@dataclass
class CopyResult:
    source: str
    destination: str
    digest: str  # of the top manifest written (equals the source's)
    media_type: str
    up_to_date: bool  # nothing needed copying
    stats: Stats = field(default_factory=Stats)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "destination": self.destination, "digest": self.digest,
                "mediaType": self.media_type, "upToDate": self.up_to_date,
                **self.stats.as_dict()}


async def copy_image(source: ImageSource, destination: ImageDestination,
                     options: CopyOptions | None = None,
                     progress: ProgressSink | None = None) -> CopyResult:
    """Copy what ``source`` names to ``destination``; raises TransferError on failure."""
    options = options or CopyOptions()
    copier = _Copier(source, destination, options, progress or Silent())
    return await copier.run()


class _Copier:
    def __init__(self, source: ImageSource, destination: ImageDestination,
                 options: CopyOptions, progress: ProgressSink) -> None:
        self.source = source
        self.destination = destination
        self.options = options
        self.progress = progress
        self.stats = Stats()
        self._mount_from = _mount_candidates(source, destination, options.mount_from)

    async def run(self) -> CopyResult:
        top = await self._top()
        tags = self._tags()
        result = CopyResult(self.source.description, self.destination.description, top.digest,
                            top.media_type, False, self.stats)
        if self.destination.digest and self.destination.digest != top.digest:
            raise TransferError(f"source manifest is {top.digest}, destination names "
                                f"{self.destination.digest}")
        if tags and await self._up_to_date(tags, top.digest):
            result.up_to_date = True
            return result
        images, indexes = await self._walk(top)
        await self._copy_blobs(images)
        for manifest in [*images, *indexes]:
            if manifest is not top:
                await self.destination.put_manifest(manifest, [])
                self.stats.manifests += 1
        await self.destination.put_manifest(top, tags, top=True)
        self.stats.manifests += 1
        await self.destination.commit()
        return result

    async def _top(self) -> Manifest:
        """The source's manifest, or the one child the platform choice asks for."""
        top = await self.source.get_manifest()
        wanted = self.options.platform
        if top.is_index and (wanted or not self.destination.supports_index):
            child = pick_child(top, wanted or Platform.host())
            top = await self.source.get_manifest(str(child["digest"]))
            if top.is_index:
                raise TransferError(f"platform {wanted} of the index is itself an index")
        return top

    def _tags(self) -> list[str]:
        if self.destination.digest:
            return []
        first = self.destination.tag or self.source.tag
        return [t for t in dict.fromkeys([first, *self.options.extra_tags]) if t]

    async def _up_to_date(self, tags: list[str], digest: str) -> bool:
        for tag in tags:
            if await self.destination.manifest_digest(tag) != digest:
                return False
        return True

    async def _walk(self, top: Manifest) -> tuple[list[Manifest], list[Manifest]]:
        """Image manifests and indexes under ``top`` (children before parents)."""
        if not top.is_index:
            return [top], []
        images: list[Manifest] = []
        indexes: list[Manifest] = []
        for child in top.children():
            manifest = await self.source.get_manifest(str(child["digest"]))
            more_images, more_indexes = await self._walk(manifest)
            images += more_images
            indexes += more_indexes
        return images, [*indexes, top]

    async def _copy_blobs(self, images: list[Manifest]) -> None:
        blobs: dict[str, dict[str, Any]] = {}
        for image in images:
            for descriptor in image.blobs():
                blobs.setdefault(str(descriptor["digest"]), descriptor)
        limit = asyncio.Semaphore(max(1, self.options.jobs))

        async def one(descriptor: dict[str, Any]) -> None:
            async with limit:
                await self._copy_blob(descriptor)

        try:
            async with asyncio.TaskGroup() as group:
                for descriptor in blobs.values():
                    group.create_task(one(descriptor))
        except BaseExceptionGroup as failed:
            raise _first(failed) from None

    async def _copy_blob(self, descriptor: dict[str, Any]) -> None:
        digest, size = str(descriptor["digest"]), int(descriptor.get("size", 0))
        self.progress.blob_started(digest, size)
        if await self.destination.has_blob(digest):
            self.stats.blobs_skipped += 1
            self.progress.blob_done(digest, "skipped")
            return
        for repository in self._mount_from:
            if await self.destination.mount_blob(digest, repository):
                self.stats.blobs_mounted += 1
                self.progress.blob_done(digest, f"mounted from {repository}")
                return
        await self.destination.put_blob(descriptor, lambda offset: self._counted(digest, offset))
        self.stats.blobs_copied += 1
        self.progress.blob_done(digest, "copied")

    @asynccontextmanager
    async def _counted(self, digest: str, offset: int) -> AsyncIterator[AsyncIterator[bytes]]:
        async with self.source.open_blob(digest, offset) as chunks:
            counted = self._count(digest, chunks)
            yield counted
            # An upload stops reading once it has ``size`` bytes, before the source stream
            # reaches its end, where its digest check runs: finish it here, before the
            # upload's closing PUT, so bad source bytes never get committed anywhere.
            async for _ in counted:
                raise TransferError(f"source blob {digest} is longer than its descriptor says")

    async def _count(self, digest: str, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.stats.bytes_copied += len(chunk)
            self.progress.blob_advanced(digest, len(chunk))
            yield chunk


def _mount_candidates(source: ImageSource, destination: ImageDestination,
                      hints: Sequence[str]) -> list[str]:
    """Repositories of the destination registry worth a mount attempt, hints first."""
    out = list(hints)
    src, dst = source.location, destination.location
    if src and dst and src.registry == dst.registry and src.repository != dst.repository:
        out.append(src.repository)
    if dst:
        out = [r for r in out if r != dst.repository]
    return list(dict.fromkeys(out))


def _first(group: BaseExceptionGroup) -> BaseException:
    """The first real error of a task group (not the cancellations it caused)."""
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first(error)
        if not isinstance(error, asyncio.CancelledError):
            return error
    return group.exceptions[0]
