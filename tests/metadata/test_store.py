import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect

from dockyard.metadata.records import MissingReferences, NewManifest
from dockyard.metadata.store import MetadataStore


def d(n: int) -> str:
    return f"sha256:{n:064x}"


@pytest.fixture
def store(tmp_path: Path) -> MetadataStore:
    return MetadataStore(f"sqlite:///{tmp_path}/meta.sqlite3")


def manifest(repo: str, digest: str, tag: str | None = None, blobs: tuple[str, ...] = (),
             children: tuple[str, ...] = (), subject: str | None = None,
             artifact_type: str | None = None) -> NewManifest:
    return NewManifest(repo, digest, "application/vnd.oci.image.manifest.v1+json", 10,
                       artifact_type, subject, {"k": "v"} if subject else None, blobs, children,
                       tag)


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/meta.sqlite3"
    MetadataStore(url).close()
    again = MetadataStore(url)
    tables = set(inspect(again.write_engine).get_table_names())
    assert {"repositories", "blobs", "repository_blobs", "manifests", "manifest_blobs",
            "manifest_children", "tags", "alembic_version"} <= tables


def test_blob_links_are_per_repository(store: MetadataStore) -> None:
    store.link_blob("a", d(1), 5)
    assert store.linked_blob_size("a", d(1)) == 5
    assert store.linked_blob_size("b", d(1)) is None
    assert store.unlink_blob("a", d(1)) is True
    assert store.linked_blob_size("a", d(1)) is None
    assert store.unlink_blob("a", d(1)) is False


def test_manifest_put_checks_references_in_one_transaction(store: MetadataStore) -> None:
    store.link_blob("other", d(1), 5)
    with pytest.raises(MissingReferences) as missing:
        store.put_manifest(manifest("a", d(10), "v1", blobs=(d(1),), children=(d(2),)))
    assert missing.value.blobs == [d(1)] and missing.value.manifests == [d(2)]
    assert store.get_manifest("a", "v1", by_digest=False) is None
    assert store.get_manifest("a", d(10), by_digest=True) is None


def test_tags_move_and_delete(store: MetadataStore) -> None:
    store.link_blob("a", d(1), 5)
    store.put_manifest(manifest("a", d(10), "v1", blobs=(d(1),)))
    store.put_manifest(manifest("a", d(11), "v2", blobs=(d(1),)))
    store.put_manifest(manifest("a", d(11), "v1", blobs=(d(1),)))
    record = store.get_manifest("a", "v1", by_digest=False)
    assert record is not None and record.digest == d(11)
    assert store.list_tags("a", None, 10) == ["v1", "v2"]
    assert store.delete_tag("a", "v2") is True
    assert store.get_manifest("a", d(11), by_digest=True) is not None
    assert store.delete_manifest("a", d(11)) is True
    assert store.list_tags("a", None, 10) == []
    assert store.get_manifest("a", d(10), by_digest=True) is not None
    assert store.list_tags("nope", None, 10) is None


def test_listing_pages(store: MetadataStore) -> None:
    for name in ["b", "a", "c/d", "c"]:
        store.link_blob(name, d(1), 1)
    assert store.list_repositories(None, 10) == ["a", "b", "c", "c/d"]
    assert store.list_repositories("b", 2) == ["c", "c/d"]


def test_referrers(store: MetadataStore) -> None:
    store.put_manifest(manifest("a", d(20), subject=d(99), artifact_type="x/sig"))
    store.put_manifest(manifest("a", d(21), subject=d(99), artifact_type="x/sbom"))
    store.put_manifest(manifest("b", d(22), subject=d(99)))
    found = store.referrers("a", d(99))
    assert [r.digest for r in found] == [d(20), d(21)]
    assert found[0].artifact_type == "x/sig" and found[0].annotations == {"k": "v"}


def test_concurrent_writers_do_not_lose_tags(store: MetadataStore) -> None:
    errors: list[BaseException] = []

    def push(worker: int) -> None:
        try:
            for i in range(20):
                store.put_manifest(manifest("a", d(1000 * worker + i), f"t{worker}-{i}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.list_tags("a", None, 1000) or []) == 80


def test_an_immutable_tag_cannot_move_inside_the_put(store: MetadataStore) -> None:
    from dataclasses import replace

    from dockyard.metadata.records import TagImmutable

    store.put_manifest(replace(manifest("a", d(1), "v1"), tag_immutable=True))
    store.put_manifest(replace(manifest("a", d(1), "v1"), tag_immutable=True))  # same: fine
    with pytest.raises(TagImmutable):
        store.put_manifest(replace(manifest("a", d(2), "v1"), tag_immutable=True))
    record = store.get_manifest("a", "v1", by_digest=False)
    assert record is not None and record.digest == d(1)
    assert store.manifest_tags("a", d(1)) == ["v1"]
