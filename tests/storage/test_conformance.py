"""The blob store conformance suite: every store implementation must pass all of it."""

import asyncio
import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dockyard.core.digest import Digest
from dockyard.storage.base import BlobStore
from dockyard.storage.filesystem import FilesystemBlobStore

StoreFactory = Callable[[Path], BlobStore]
FACTORIES: dict[str, StoreFactory] = {"filesystem": FilesystemBlobStore}


@pytest.fixture(params=sorted(FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return FACTORIES[request.param](tmp_path)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def collect(iterator: Any) -> bytes:
    return b"".join([chunk async for chunk in iterator])


def digest(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


UPLOAD = "00000000-0000-4000-8000-000000000001"


def test_put_then_read(store: BlobStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    d = digest(data)
    assert run(store.stat(d)) is None
    run(store.put(d, data))
    assert run(store.stat(d)) == len(data)
    assert run(store.read_all(d, len(data))) == data
    assert run(collect(store.read(d, 0, len(data)))) == data
    assert run(collect(store.read(d, 1024 * 1024 - 1, 5))) == data[1024 * 1024 - 1:1024 * 1024 + 4]


def test_read_all_refuses_over_limit(store: BlobStore) -> None:
    data = b"x" * 100
    run(store.put(digest(data), data))
    with pytest.raises(ValueError):
        run(store.read_all(digest(data), 99))
    assert run(store.read_all(digest(b"missing"), 10)) is None


def test_delete(store: BlobStore) -> None:
    data = b"bytes"
    run(store.put(digest(data), data))
    assert run(store.delete(digest(data))) is True
    assert run(store.stat(digest(data))) is None
    assert run(store.delete(digest(data))) is False


def test_upload_is_invisible_until_committed(store: BlobStore) -> None:
    run(store.create_upload("team/app", UPLOAD))
    assert run(store.upload_size("team/app", UPLOAD)) == 0
    writer = store.open_upload("team/app", UPLOAD)
    writer.write(b"hello ")
    writer.write(b"world")
    writer.close()
    data = b"hello world"
    assert run(store.upload_size("team/app", UPLOAD)) == len(data)
    assert run(collect(store.iter_upload("team/app", UPLOAD))) == data
    assert run(store.stat(digest(data))) is None
    run(store.commit_upload("team/app", UPLOAD, digest(data)))
    assert run(store.stat(digest(data))) == len(data)
    assert run(store.upload_size("team/app", UPLOAD)) is None


def test_commit_over_existing_blob_keeps_it(store: BlobStore) -> None:
    data = b"same"
    run(store.put(digest(data), data))
    run(store.create_upload("a", UPLOAD))
    writer = store.open_upload("a", UPLOAD)
    writer.write(data)
    writer.close()
    run(store.commit_upload("a", UPLOAD, digest(data)))
    assert run(store.read_all(digest(data), 10)) == data


def test_zero_byte_blob(store: BlobStore) -> None:
    run(store.create_upload("a", UPLOAD))
    run(store.commit_upload("a", UPLOAD, digest(b"")))
    assert run(store.stat(digest(b""))) == 0
    assert run(collect(store.read(digest(b""), 0, 0))) == b""


def test_truncate_drops_a_partial_chunk(store: BlobStore) -> None:
    run(store.create_upload("a", UPLOAD))
    writer = store.open_upload("a", UPLOAD)
    writer.write(b"good")
    writer.write(b"bad")
    writer.truncate(4)
    writer.close()
    assert run(collect(store.iter_upload("a", UPLOAD))) == b"good"


def test_sessions_are_per_repository(store: BlobStore) -> None:
    run(store.create_upload("a", UPLOAD))
    assert run(store.upload_size("b", UPLOAD)) is None
    assert run(store.delete_upload("b", UPLOAD)) is False
    assert run(store.delete_upload("a", UPLOAD)) is True
    assert run(store.upload_size("a", UPLOAD)) is None


def test_purge_removes_only_old_sessions(store: BlobStore) -> None:
    old, new = UPLOAD, "00000000-0000-4000-8000-000000000002"
    run(store.create_upload("team/old", old))
    run(store.create_upload("team/new", new))
    later = datetime.now(UTC) + timedelta(hours=1)
    before = datetime.now(UTC) - timedelta(hours=1)
    assert run(store.purge_uploads(before)) == []
    assert sorted(run(store.purge_uploads(later, dry_run=True))) == [f"team/new/{new}",
                                                                     f"team/old/{old}"]
    assert run(store.upload_size("team/old", old)) == 0
    assert len(run(store.purge_uploads(later))) == 2
    assert run(store.upload_size("team/old", old)) is None


def test_filesystem_layout_is_distributions(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    data = b"layout"
    d = digest(data)
    run(store.put(d, data))
    path = tmp_path / "docker/registry/v2/blobs/sha256" / d.hex[:2] / d.hex / "data"
    assert path.read_bytes() == data
    assert store.local_path(d) == str(path)
    leftovers = [p for p in path.parent.iterdir() if p.name != "data"]
    assert leftovers == []
