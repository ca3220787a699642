"""The file race of online collection, interleaved step by step in one process.

An upload commit puts the verified bytes in ``blobs/`` before the transaction that records
them. If the collector deleted the blob's row just before, it must not then delete those
fresh bytes: the upload holds the digest's stripe lock from the rename to its commit, and the
collector removes a file only under that lock after re-reading that no row exists.
"""

import asyncio
import hashlib
import os
import threading
import time
from pathlib import Path

from dockyard.core.digest import Digest
from dockyard.gc.online.files import FileRemover
from dockyard.gc.online.locks import BlobFileLocks
from dockyard.metadata.review_collect import Rules, collect_batch
from dockyard.metadata.store import MetadataStore
from dockyard.storage.filesystem import FilesystemBlobStore

RULES = Rules(delay=0.0, batch=1000, untagged=True)


def _setup(tmp_path: Path) -> tuple[MetadataStore, FilesystemBlobStore, FileRemover]:
    store = MetadataStore(f"sqlite:///{tmp_path / 'dockyard' / 'metadata.sqlite3'}")
    return store, FilesystemBlobStore(tmp_path), FileRemover(store.write_engine, tmp_path)


def _collect_rows(store: MetadataStore) -> list[tuple[str, int]]:
    """Collector transactions until nothing is due; the file stage is left to the test."""
    deleted: list[tuple[str, int]] = []
    while True:
        with store.write_engine.begin() as conn:
            batch = collect_batch(conn, time.time(), RULES)
        deleted += batch.blobs
        if not batch.examined:
            return deleted


def _upload(blobs: FilesystemBlobStore, data: bytes) -> Digest:
    digest = Digest("sha256", hashlib.sha256(data).hexdigest())
    asyncio.run(blobs.put(digest, data))
    return digest


def test_bytes_committed_again_after_the_row_went_are_kept(tmp_path: Path) -> None:
    store, blobs, remover = _setup(tmp_path)
    data = os.urandom(300)
    digest = _upload(blobs, data)
    store.link_blob("race/app", str(digest), len(data))  # Never referenced: collectable.
    assert _collect_rows(store) == [(str(digest), len(data))]  # Row gone, bytes pending.

    # An upload of the same bytes is between its rename and its link transaction.
    locks = BlobFileLocks(tmp_path)
    held = locks.try_hold(str(digest))
    assert held is not None
    first = remover.run_round(100, lambda: None)
    assert first.busy == 1 and first.removed == []
    assert blobs.layout.blob_data(digest).exists()
    store.link_blob("race/app", str(digest), len(data))  # The upload records it...
    locks.release(held)                                  # ...and lets go.

    second = remover.run_round(100, lambda: None)
    assert second.removed == [] and second.settled == 1
    assert blobs.layout.blob_data(digest).read_bytes() == data

    # Without a racing upload the same entry would have removed the bytes.
    store.unlink_blob("race/app", str(digest))
    assert _collect_rows(store) == [(str(digest), len(data))]
    third = remover.run_round(100, lambda: None)
    assert third.removed == [(str(digest), len(data))]
    assert not blobs.layout.blob_data(digest).exists()


def test_store_hold_blocks_removal_until_the_row_commits(tmp_path: Path) -> None:
    """The same through :meth:`FilesystemBlobStore.hold`, the lock the services take."""
    store, blobs, remover = _setup(tmp_path)
    data = os.urandom(100)
    digest = _upload(blobs, data)
    store.link_blob("race/app", str(digest), len(data))
    assert _collect_rows(store)
    inside, release = threading.Event(), threading.Event()

    async def upload_commit() -> None:
        async with blobs.hold(digest):
            await blobs.put(digest, data)
            inside.set()
            await asyncio.to_thread(release.wait)
            store.link_blob("race/app", str(digest), len(data))

    pusher = threading.Thread(target=asyncio.run, args=(upload_commit(),))
    pusher.start()
    assert inside.wait(10)
    assert remover.run_round(100, lambda: None).busy == 1
    release.set()
    pusher.join(10)
    assert remover.run_round(100, lambda: None).settled == 1
    assert blobs.layout.blob_data(digest).read_bytes() == data


def test_concurrent_commits_and_collections_never_leave_a_row_without_bytes(
        tmp_path: Path) -> None:
    """Threads re-committing a small set of digests while a collector loops (delay 0)."""
    store, blobs, remover = _setup(tmp_path)
    payloads = [os.urandom(64 + i) for i in range(8)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def pusher(number: int) -> None:
        async def loop() -> None:
            while not stop.is_set():
                data = payloads[(number + int(time.monotonic() * 1000)) % len(payloads)]
                digest = Digest("sha256", hashlib.sha256(data).hexdigest())
                async with blobs.hold(digest):
                    await blobs.put(digest, data)
                    await asyncio.to_thread(store.link_blob, f"race/p{number}", str(digest),
                                            len(data))
                await asyncio.to_thread(store.unlink_blob, f"race/p{number}", str(digest))
        try:
            asyncio.run(loop())
        except BaseException as error:  # Reported below.
            errors.append(error)

    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    removed = 0
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        _collect_rows(store)
        removed += len(remover.run_round(100, lambda: None).removed)
        for data in payloads:  # Invariant: a row always has its bytes.
            digest = Digest("sha256", hashlib.sha256(data).hexdigest())
            if store.linked_blob_size("race/p0", str(digest)) is not None:
                assert blobs.layout.blob_data(digest).exists()
    stop.set()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert removed > 0  # The collector did take bytes during the run.
    with store.write_engine.connect() as conn:
        rows = [r[0] for r in conn.exec_driver_sql("SELECT digest FROM blobs")]
    for text in rows:
        assert blobs.layout.blob_data(Digest.parse(text)).exists(), text


def test_one_collector_per_storage(tmp_path: Path) -> None:
    """A worker's background try skips its round while another collection holds the lock."""
    from dockyard.config import Config
    from dockyard.gc.online.locks import collector_lock
    from dockyard.gc.online.runner import collect_once

    config = Config.model_validate({
        "version": "0.1", "storage": {"filesystem": {"rootdirectory": str(tmp_path)}},
        "dockyard": {"gc": {"delay": "0s"}}})
    store, blobs, _remover = _setup(tmp_path)
    digest = _upload(blobs, b"unreferenced")
    store.link_blob("lock/app", str(digest), 12)
    running = collector_lock(tmp_path, wait=False)
    assert running is not None
    assert collect_once(config, store.write_engine) is None
    assert blobs.layout.blob_data(digest).exists()
    running.close()
    totals = collect_once(config, store.write_engine)
    assert totals is not None and totals.blobs == [(str(digest), 12)]
    assert not blobs.layout.blob_data(digest).exists()
