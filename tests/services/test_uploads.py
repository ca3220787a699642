"""The upload service's own bookkeeping, driven directly (no HTTP)."""

import asyncio
import hashlib
from pathlib import Path

from dockyard.metadata.store import MetadataStore
from dockyard.services import uploads as uploads_module
from dockyard.services.uploads import Chunk, UploadService
from dockyard.storage.filesystem import FilesystemBlobStore


async def body(*parts: bytes):  # type: ignore[no-untyped-def]
    for part in parts:
        yield part


def test_abandoned_sessions_do_not_grow_the_bookkeeping_and_evicted_ones_still_verify(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(uploads_module, "MAX_TRACKED_SESSIONS", 8)
    service = UploadService(MetadataStore(f"sqlite:///{tmp_path}/m.sqlite3"),
                            FilesystemBlobStore(tmp_path / "data"))

    async def scenario() -> None:
        first = await service.start("a")
        await service.append("a", first, Chunk(body(b"hello ")))
        for _ in range(50):  # abandoned sessions, each touched once
            abandoned = await service.start("a")
            await service.append("a", abandoned, Chunk(body(b"x")))
        assert len(service._hashes) <= 8 and len(service._locks) <= 8
        # The first session's running hash was evicted: finishing re-hashes it from disk.
        data = b"hello world"
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        stored = await service.finish("a", first, digest, Chunk(body(b"world")))
        assert str(stored) == digest

    asyncio.run(scenario())
