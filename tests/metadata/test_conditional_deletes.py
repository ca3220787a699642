"""Retention's deletes are conditional inside their own transaction, so a push that lands
between judging and deleting always wins."""

from pathlib import Path

import pytest

from dockyard.metadata.records import NewManifest
from dockyard.metadata.store import MetadataStore

INDEX = "sha256:" + "1" * 64
CHILD = "sha256:" + "2" * 64
OTHER = "sha256:" + "3" * 64


def _manifest(digest: str, tag: str | None, children: tuple[str, ...] = ()) -> NewManifest:
    return NewManifest(repository="team/app", digest=digest, media_type="application/json",
                       size=2, artifact_type=None, subject_digest=None, annotations=None,
                       blob_digests=(), child_digests=children, tag=tag)


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    opened = MetadataStore(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    yield opened
    opened.close()


def _pushed_at(store: MetadataStore, tag: str) -> float:
    with store.write_engine.connect() as conn:
        return float(conn.exec_driver_sql(
            "SELECT updated_at FROM tags WHERE name = ?", (tag,)).scalar_one())


def test_tag_delete_refused_after_the_tag_moved(store: MetadataStore) -> None:
    store.put_manifest(_manifest(CHILD, "v1"))
    judged = (CHILD, _pushed_at(store, "v1"))
    store.put_manifest(_manifest(OTHER, "v1"))  # A push moves the tag after judging.
    assert not store.delete_tag("team/app", "v1", if_unchanged=judged)
    assert store.get_manifest("team/app", "v1", by_digest=False).digest == OTHER  # type: ignore[union-attr]


def test_tag_delete_refused_after_the_tag_was_pushed_again(store: MetadataStore) -> None:
    store.put_manifest(_manifest(CHILD, "v1"))
    judged = (CHILD, _pushed_at(store, "v1"))
    store.put_manifest(_manifest(CHILD, "v1"))  # Same digest, pushed again: fresh again.
    assert _pushed_at(store, "v1") != judged[1]
    assert not store.delete_tag("team/app", "v1", if_unchanged=judged)
    assert store.delete_tag("team/app", "v1", if_unchanged=(CHILD, _pushed_at(store, "v1")))
    assert store.get_manifest("team/app", "v1", by_digest=False) is None


def test_untagged_delete_refused_for_tagged_or_listed_manifests(store: MetadataStore) -> None:
    store.put_manifest(_manifest(CHILD, None))
    store.put_manifest(_manifest(OTHER, "latest"))
    store.put_manifest(_manifest(INDEX, None, children=(CHILD,)))
    assert not store.delete_manifest("team/app", OTHER, only_if_untagged=True)
    assert not store.delete_manifest("team/app", CHILD, only_if_untagged=True)
    assert store.delete_manifest("team/app", INDEX, only_if_untagged=True)
    assert store.delete_manifest("team/app", CHILD, only_if_untagged=True)
    assert store.get_manifest("team/app", OTHER, by_digest=True) is not None
    assert store.get_manifest("team/app", CHILD, by_digest=True) is None
