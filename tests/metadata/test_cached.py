from pathlib import Path

import pytest

from dockyard.metadata.cached import CachedMetadataStore
from dockyard.metadata.records import NewManifest
from dockyard.metadata.store import MetadataStore


def d(n: int) -> str:
    return f"sha256:{n:064x}"


def manifest(digest: str, tag: str | None) -> NewManifest:
    return NewManifest("a", digest, "application/vnd.oci.image.manifest.v1+json", 10, None, None,
                       None, (), (), tag)


@pytest.fixture
def stores(tmp_path: Path) -> tuple[CachedMetadataStore, MetadataStore]:
    store = MetadataStore(f"sqlite:///{tmp_path}/meta.sqlite3")
    return CachedMetadataStore(store), store


def test_repeated_reads_hit_the_cache(stores, monkeypatch) -> None:
    cached, store = stores
    cached.put_manifest(manifest(d(1), "v1"))
    calls = []
    real = store.get_manifest
    monkeypatch.setattr(store, "get_manifest", lambda *a: calls.append(a) or real(*a))
    first = cached.get_manifest("a", "v1", False)
    second = cached.get_manifest("a", "v1", False)
    assert first == second and first is not None and first.digest == d(1)
    assert len(calls) == 1


def test_writes_are_seen_at_once(stores) -> None:
    cached, _ = stores
    cached.link_blob("a", d(9), 3)
    assert cached.linked_blob_size("a", d(9)) == 3
    cached.put_manifest(manifest(d(1), "v1"))
    assert cached.get_manifest("a", "v1", False).digest == d(1)
    cached.put_manifest(manifest(d(2), "v1"))  # tag move
    assert cached.get_manifest("a", "v1", False).digest == d(2)
    assert cached.delete_tag("a", "v1")
    assert cached.get_manifest("a", "v1", False) is None
    assert cached.get_manifest("a", d(2), True) is not None
    assert cached.delete_manifest("a", d(2))
    assert cached.get_manifest("a", d(2), True) is None
    assert cached.unlink_blob("a", d(9))
    assert cached.linked_blob_size("a", d(9)) is None


def test_a_read_racing_a_write_does_not_store_the_old_answer(stores, monkeypatch) -> None:
    cached, store = stores
    cached.put_manifest(manifest(d(1), "v1"))
    real = store.get_manifest

    def read_then_tag_moves(*args):
        old = real(*args)
        store.put_manifest(manifest(d(2), "v1"))  # Another thread's write lands meanwhile...
        cached._write("a", lambda: None)           # ...and invalidates, as _write does.
        return old

    monkeypatch.setattr(store, "get_manifest", read_then_tag_moves)
    assert cached.get_manifest("a", "v1", False).digest == d(1)  # The racing read's answer.
    monkeypatch.setattr(store, "get_manifest", real)
    assert cached.get_manifest("a", "v1", False).digest == d(2)  # ...was not cached.


def test_negative_answers_are_not_cached(stores) -> None:
    cached, store = stores
    assert cached.linked_blob_size("a", d(5)) is None
    store.link_blob("a", d(5), 7)  # written behind the cache's back
    assert cached.linked_blob_size("a", d(5)) == 7


def test_tag_pages_are_cached_and_dropped_on_writes(stores, monkeypatch) -> None:
    cached, store = stores
    cached.put_manifest(manifest(d(1), "b"))
    cached.put_manifest(manifest(d(1), "a"))
    calls = []
    real = store.list_tags
    monkeypatch.setattr(store, "list_tags", lambda *a: calls.append(a) or real(*a))
    assert cached.list_tags("a", None, 10) == ["a", "b"]
    assert cached.list_tags("a", None, 10) == ["a", "b"]
    assert len(calls) == 1
    assert cached.list_tags("a", "a", 10) == ["b"]  # Another page is another entry.
    cached.put_manifest(manifest(d(2), "c"))
    assert cached.list_tags("a", None, 10) == ["a", "b", "c"]
    cached.delete_tag("a", "a")
    assert cached.list_tags("a", None, 10) == ["b", "c"]
    assert cached.list_tags("nope", None, 10) is None
