"""The triggers keep per-namespace usage exact through every kind of metadata change."""

from pathlib import Path

import pytest
from sqlalchemy import delete, text

from dockyard.metadata.records import NewManifest, QuotaExceeded
from dockyard.metadata.schema import repositories
from dockyard.metadata.store import MetadataStore
from dockyard.quota.usage import Usage
from tests.quota.helpers import assert_reconciled, d

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def store(tmp_path: Path) -> MetadataStore:
    return MetadataStore(f"sqlite:///{tmp_path}/meta.sqlite3")


def manifest(repo: str, digest: str, size: int, blobs: tuple[str, ...], tag: str | None = None,
             quota: int | None = None) -> NewManifest:
    return NewManifest(repo, digest, MANIFEST, size, None, None, None, blobs, (), tag,
                       quota=quota)


def test_distinct_blobs_count_once_per_namespace(store: MetadataStore) -> None:
    engine = store.write_engine
    store.link_blob("team/app", d(1), 1000)       # Base layer.
    store.link_blob("team/api", d(1), 1000)       # Same base, same namespace: once.
    store.link_blob("other/app", d(1), 1000)      # Another namespace: counted there too.
    store.link_blob("team/app", d(2), 30)
    store.put_manifest(manifest("team/app", d(10), 500, (d(1), d(2)), "v1.0.0"))
    store.put_manifest(manifest("team/api", d(10), 500, (d(1),), "v1.0.0"))  # Same manifest.
    assert assert_reconciled(engine) == {"team": Usage(1530, 3), "other": Usage(1000, 1)}

    assert store.unlink_blob("team/app", d(1))   # team/api still holds it.
    assert assert_reconciled(engine)["team"] == Usage(1530, 3)
    assert store.delete_manifest("team/app", d(10))
    assert assert_reconciled(engine)["team"] == Usage(1530, 3)
    assert store.delete_manifest("team/api", d(10))
    assert assert_reconciled(engine)["team"] == Usage(1030, 2)
    assert store.unlink_blob("team/api", d(1))
    assert store.unlink_blob("team/app", d(2))
    assert assert_reconciled(engine) == {"other": Usage(1000, 1)}


def test_single_component_names_are_their_own_namespace(store: MetadataStore) -> None:
    store.link_blob("alpine", d(1), 7)
    store.link_blob("alpine/extra", d(2), 9)
    store.link_blob("alpinex", d(3), 11)
    assert assert_reconciled(store.write_engine) == {
        "alpine": Usage(16, 2), "alpinex": Usage(11, 1)}


def test_a_repository_row_going_releases_what_it_held(store: MetadataStore) -> None:
    """Cascaded deletes: the triggers cannot see the repository's name any more."""
    store.link_blob("team/app", d(1), 100)
    store.link_blob("team/app", d(2), 200)
    store.link_blob("team/api", d(2), 200)
    store.put_manifest(manifest("team/app", d(10), 50, (d(1), d(2)), "latest"))
    with store.write_engine.begin() as conn:
        conn.execute(delete(repositories).where(repositories.c.name == "team/app"))
    assert assert_reconciled(store.write_engine) == {"team": Usage(200, 1)}


def test_collector_style_row_deletes_free_quota(store: MetadataStore) -> None:
    """Whatever deletes the rows (online collector, retention, offline gc) frees the bytes."""
    store.link_blob("team/app", d(1), 100)
    store.put_manifest(manifest("team/app", d(10), 50, (d(1),)))
    with store.write_engine.begin() as conn:
        conn.execute(text("DELETE FROM manifests"))
        conn.execute(text("DELETE FROM repository_blobs"))
        conn.execute(text("DELETE FROM blobs"))
    assert assert_reconciled(store.write_engine) == {}


def test_quota_refuses_only_what_is_new_to_the_namespace(store: MetadataStore) -> None:
    store.link_blob("team/app", d(1), 600, quota=1000)
    with pytest.raises(QuotaExceeded) as refused:
        store.link_blob("team/app", d(2), 401, quota=1000)
    assert (refused.value.namespace, refused.value.used, refused.value.adding,
            refused.value.limit) == ("team", 600, 401, 1000)
    assert store.linked_blob_size("team/app", d(2)) is None
    store.link_blob("team/api", d(1), 600, quota=1000)   # Already counted: no charge.
    store.link_blob("team/app", d(2), 400, quota=1000)   # Exactly at the limit is allowed.
    with pytest.raises(QuotaExceeded):
        store.put_manifest(manifest("team/app", d(10), 1, (d(1), d(2)), "v1", quota=1000))
    assert store.get_manifest("team/app", "v1", by_digest=False) is None
    store.link_blob("other/app", d(2), 400, quota=1000)  # Other namespaces are separate.
    assert assert_reconciled(store.write_engine) == {
        "team": Usage(1000, 2), "other": Usage(400, 1)}
