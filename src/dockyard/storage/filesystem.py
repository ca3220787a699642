"""Blob store on a local filesystem, in Distribution's layout.

Appends happen inline (a write into the page cache is short), while everything that can block
for long (fsync, rename over or unlink of a large file, directory walks) runs in a worker
thread: freeing a 1 GiB file's page cache inside ``unlink`` takes 50-400 ms, which would stall
every request on the event loop.

A full disk (ENOSPC, EDQUOT) is reported as :class:`~dockyard.core.errors.StorageFull`, after
removing whatever the failed write had begun (a temporary file, a half-made session), so the
space comes back and nothing partial stays behind.
"""

import asyncio
import functools
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from dockyard.core.digest import Digest
from dockyard.core.durable import fsync_directory
from dockyard.core.errors import StorageFull, is_out_of_space
from dockyard.gc.online.locks import BlobFileLocks
from dockyard.observability.metrics import time_storage
from dockyard.storage.layout import Layout

READ_CHUNK = 1024 * 1024
F = TypeVar("F", bound=Callable[..., Any])


def _timed(action: str) -> Callable[[F], F]:
    """Count and time a storage operation under Distribution's action name."""
    def decorate(function: F) -> F:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with time_storage(action):
                return function(*args, **kwargs)
        return cast(F, timed)
    return decorate


class FileUploadWriter:
    """Appends to an upload's data file with plain ``os.write`` calls."""

    def __init__(self, path: Path):
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            if is_out_of_space(exc):  # The upload service discards the session.
                raise StorageFull("the upload was discarded") from exc
            raise

    def truncate(self, size: int) -> None:
        os.ftruncate(self._fd, size)

    def close(self) -> None:
        os.close(self._fd)


class FilesystemBlobStore:
    """The :class:`~dockyard.storage.base.BlobStore` for a directory tree."""

    def __init__(self, root: Path):
        self.layout = Layout(root)
        self.file_locks = BlobFileLocks(root)
        self.layout.blobs.mkdir(parents=True, exist_ok=True)
        self.layout.repositories.mkdir(parents=True, exist_ok=True)

    def local_path(self, digest: Digest) -> str | None:
        return self.layout.blob_data_path(digest)

    async def stat(self, digest: Digest) -> int | None:
        with time_storage("Stat"):
            try:
                return os.stat(self.layout.blob_data_path(digest)).st_size
            except FileNotFoundError:
                return None

    async def read(self, digest: Digest, start: int, length: int) -> AsyncIterator[bytes]:
        fd = await asyncio.to_thread(os.open, self.layout.blob_data(digest), os.O_RDONLY)
        try:
            offset, end = start, start + length
            while offset < end:
                size = min(READ_CHUNK, end - offset)
                chunk = await asyncio.to_thread(os.pread, fd, size, offset)
                if not chunk:
                    raise OSError(f"blob {digest} ended at {offset}, expected {end} bytes")
                offset += len(chunk)
                yield chunk
        finally:
            os.close(fd)

    async def read_all(self, digest: Digest, limit: int) -> bytes | None:
        return await asyncio.to_thread(self._read_all, digest, limit)

    @_timed("GetContent")
    def _read_all(self, digest: Digest, limit: int) -> bytes | None:
        try:
            with open(self.layout.blob_data(digest), "rb") as handle:
                data = handle.read(limit + 1)
        except FileNotFoundError:
            return None
        if len(data) > limit:
            raise ValueError(f"blob {digest} is larger than {limit} bytes")
        return data

    async def put(self, digest: Digest, data: bytes) -> None:
        await asyncio.to_thread(self._put, digest, data)

    @_timed("PutContent")
    def _put(self, digest: Digest, data: bytes) -> None:
        target = self.layout.blob_data(digest)
        if _holds(target, data):
            return  # A copy that rotted is replaced: re-pushing a manifest heals it.
        temporary = target.with_name(f"data.tmp-{uuid.uuid4().hex}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            if is_out_of_space(exc):
                raise StorageFull("the manifest was not stored") from exc
            raise
        fsync_directory(target.parent)

    def hold(self, digest: Digest) -> AbstractAsyncContextManager[None]:
        return self.file_locks.hold(str(digest))

    async def delete(self, digest: Digest) -> bool:
        return await asyncio.to_thread(self._delete_tree, self.layout.blob_dir(digest))

    async def create_upload(self, repository: str, upload_id: str) -> None:
        await asyncio.to_thread(self._create_upload, repository, upload_id)

    @_timed("Writer")
    def _create_upload(self, repository: str, upload_id: str) -> None:
        directory = self.layout.upload_dir(repository, upload_id)
        try:
            directory.mkdir(parents=True)
            self.layout.upload_data(repository, upload_id).touch()
            started = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            self.layout.upload_started_at(repository, upload_id).write_text(started)
        except OSError as exc:
            shutil.rmtree(directory, ignore_errors=True)
            if is_out_of_space(exc):
                raise StorageFull("the upload was not started") from exc
            raise

    async def upload_size(self, repository: str, upload_id: str) -> int | None:
        try:
            return os.stat(self.layout.upload_data(repository, upload_id)).st_size
        except FileNotFoundError:
            return None

    def open_upload(self, repository: str, upload_id: str) -> FileUploadWriter:
        return FileUploadWriter(self.layout.upload_data(repository, upload_id))

    async def iter_upload(self, repository: str, upload_id: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(open, self.layout.upload_data(repository, upload_id), "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, READ_CHUNK):
                yield chunk
        finally:
            handle.close()

    async def commit_upload(self, repository: str, upload_id: str, digest: Digest) -> None:
        await asyncio.to_thread(self._commit_upload, repository, upload_id, digest)

    @_timed("Move")
    def _commit_upload(self, repository: str, upload_id: str, digest: Digest) -> None:
        source = self.layout.upload_data(repository, upload_id)
        target = self.layout.blob_data(digest)
        try:
            with open(source, "rb+") as handle:
                os.fsync(handle.fileno())
            # Replace even an existing copy: the new bytes were just verified, the old ones
            # may have rotted since (this is how a re-push heals a corrupt blob).
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
        except OSError as exc:
            if is_out_of_space(exc):  # The upload service discards the session.
                raise StorageFull("the upload was discarded") from exc
            raise
        fsync_directory(target.parent)
        shutil.rmtree(self.layout.upload_dir(repository, upload_id), ignore_errors=True)

    async def delete_upload(self, repository: str, upload_id: str) -> bool:
        return await asyncio.to_thread(
            self._delete_tree, self.layout.upload_dir(repository, upload_id))

    async def purge_uploads(self, started_before: datetime, dry_run: bool = False) -> list[str]:
        return await asyncio.to_thread(self._purge_uploads, started_before, dry_run)

    @_timed("Walk")
    def _purge_uploads(self, started_before: datetime, dry_run: bool) -> list[str]:
        purged = []
        for uploads_dir in _find_upload_dirs(self.layout.repositories):
            for session in uploads_dir.iterdir():
                started = _read_started_at(session / "startedat") or _mtime(session)
                if started >= started_before:
                    continue
                purged.append(f"{uploads_dir.parent.relative_to(self.layout.repositories)}"
                              f"/{session.name}")
                if not dry_run:
                    shutil.rmtree(session, ignore_errors=True)
        return purged

    @staticmethod
    @_timed("Delete")
    def _delete_tree(path: Path) -> bool:
        if not path.exists():
            return False
        shutil.rmtree(path, ignore_errors=True)
        return True


def _holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` already holds exactly ``data`` (small: manifests only)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(data) + 1) == data
    except FileNotFoundError:
        return False


def _find_upload_dirs(repositories: Path) -> list[Path]:
    """Every ``_uploads`` directory; repository names never contain ``_uploads``."""
    found = []
    for directory, subdirs, _files in os.walk(repositories):
        if "_uploads" in subdirs:
            found.append(Path(directory) / "_uploads")
            subdirs.remove("_uploads")
    return found


def _read_started_at(path: Path) -> datetime | None:
    """The session's start time; None (purge it) when missing or unreadable."""
    try:
        text = path.read_text().strip().replace("Z", "+00:00")
        started = datetime.fromisoformat(text)
    except (OSError, ValueError):
        return None
    return started if started.tzinfo else started.replace(tzinfo=UTC)


def _mtime(path: Path) -> datetime:
    """When a session without a readable ``startedat`` was last touched."""
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return datetime.fromtimestamp(0, UTC)
