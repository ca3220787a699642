"""``dockyard sync``: copy the selected tags of whole repositories between two registries.

Each tag is one :func:`copy_image`. The source's tag lists are read once; a tag whose
destination already names the same digest costs one HEAD and moves nothing, which is what
makes a second sync free. A failing repository or tag is recorded and the others go on; the
caller exits non-zero when anything failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockyard.client.errors import ClientError
from dockyard.client.options import ClientOptions
from dockyard.client.reference import ImageReference
from dockyard.client.registry import RegistryClient
from dockyard.client.transfer.copy import CopyOptions, copy_image
from dockyard.client.transfer.model import TransferError
from dockyard.client.transfer.progress import ProgressSink, Silent, Stats
from dockyard.client.transfer.registry_endpoint import (
    RegistryDestination,
    RegistrySource,
    explained,
)
from dockyard.client.transfer.sync_config import RepositorySpec, SyncFile


@dataclass
class SyncSummary:
    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # one line each: "image: reason"
    stats: Stats = field(default_factory=Stats)

    def as_dict(self) -> dict[str, Any]:
        return {"copied": self.copied, "skipped": self.skipped, "failed": self.failed,
                **self.stats.as_dict()}

    def line(self) -> str:
        return (f"{len(self.copied)} copied, {len(self.skipped)} skipped, "
                f"{len(self.failed)} failed; {self.stats.line()}")


async def sync(source_host: str, destination_host: str, plan: SyncFile, *,
               source_options: ClientOptions | None = None,
               destination_options: ClientOptions | None = None,
               copy_options: CopyOptions | None = None,
               progress: ProgressSink | None = None) -> SyncSummary:
    """Run ``plan``; never raises for a failing image (see the summary's ``failed``)."""
    summary = SyncSummary()
    progress = progress or Silent()
    async with RegistryClient(source_host, options=source_options) as src, \
            RegistryClient(destination_host, options=destination_options) as dst:
        for spec in plan.repositories:
            target = plan.destination_of(spec)
            try:
                tags = await _selected_tags(src, spec)
            except TransferError as error:
                summary.failed.append(f"{source_host}/{spec.name}: {error}")
                continue
            for tag in tags:
                await _sync_tag(src, dst, ImageReference(source_host, spec.name, tag),
                                ImageReference(destination_host, target, tag),
                                copy_options, progress, summary)
    return summary


async def _selected_tags(client: RegistryClient, spec: RepositorySpec) -> list[str]:
    async def collect() -> list[str]:
        return [tag async for tag in client.tags(spec.name)]

    every = await explained("source", "tag list", collect())
    return sorted(tag for tag in every if spec.tags.selects(tag))


async def _sync_tag(src: RegistryClient, dst: RegistryClient, source: ImageReference,
                    target: ImageReference, copy_options: CopyOptions | None,
                    progress: ProgressSink, summary: SyncSummary) -> None:
    try:
        result = await copy_image(RegistrySource(source, client=src),
                                  RegistryDestination(target, client=dst),
                                  copy_options, progress)
    except (TransferError, ClientError, OSError) as error:
        summary.failed.append(f"{source} -> {target}: {error}")
        progress.note(f"failed {source}: {error}")
        return
    summary.stats.add(result.stats)
    (summary.skipped if result.up_to_date else summary.copied).append(str(target))
    progress.note(f"{'up to date' if result.up_to_date else 'copied'} {source} -> {target}")
