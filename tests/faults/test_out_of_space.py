"""Which failures count as a full disk: the real errors a full tmpfs produces (a file write,
SQLite through SQLAlchemy), EDQUOT, and what must not be mistaken for one."""

import asyncio
import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from dockyard.core.errors import INSUFFICIENT_STORAGE, StorageFull, is_out_of_space
from dockyard.storage.filesystem import FilesystemBlobStore
from tests.faults.helpers import fill_disk, small_filesystem


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    with small_filesystem(tmp_path / "disk", "2m") as mountpoint:
        yield mountpoint


def test_real_full_disk_errors_are_recognised(full_disk: Path) -> None:
    database = full_disk / "m.sqlite3"
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE t (v BLOB)"))
    fill_disk(full_disk)

    with pytest.raises(OSError) as written, open(full_disk / "more", "wb") as handle:
        handle.write(os.urandom(64 * 1024))
        handle.flush()
    assert is_out_of_space(written.value)

    with pytest.raises(sqlalchemy.exc.OperationalError) as inserted, engine.begin() as conn:
        conn.execute(sqlalchemy.text("INSERT INTO t VALUES (:v)"),
                     {"v": os.urandom(256 * 1024)})
    engine.dispose()
    assert isinstance(inserted.value.orig, sqlite3.OperationalError)
    assert is_out_of_space(inserted.value)


def test_quota_and_causes_count_other_errors_do_not() -> None:
    assert is_out_of_space(OSError(errno.EDQUOT, "Disk quota exceeded"))
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as cause:
            raise RuntimeError("wrapped") from cause
    except RuntimeError as wrapped:
        assert is_out_of_space(wrapped)
    assert not is_out_of_space(PermissionError(errno.EACCES, "Permission denied"))
    assert not is_out_of_space(OSError(errno.EIO, "Input/output error"))
    assert not is_out_of_space(ValueError("no"))


def test_the_store_removes_what_it_began(full_disk: Path) -> None:
    store = FilesystemBlobStore(full_disk / "root")
    asyncio.run(store.create_upload("a/b", "00000000-0000-0000-0000-000000000001"))
    fill_disk(full_disk)
    writer = store.open_upload("a/b", "00000000-0000-0000-0000-000000000001")
    with pytest.raises(StorageFull) as refused:
        writer.write(os.urandom(256 * 1024))
    writer.close()
    assert refused.value.status == INSUFFICIENT_STORAGE
    assert refused.value.code == "UNKNOWN"
    with pytest.raises(StorageFull):
        asyncio.run(store.create_upload("a/b", "00000000-0000-0000-0000-000000000002"))
    assert not (store.layout.repositories / "a/b/_uploads/00000000-0000-0000-0000-000000000002"
                ).exists()
