"""The cache notices writes it did not make once they bump the change marker."""

from pathlib import Path

from dockyard.metadata.cached import CachedMetadataStore
from dockyard.metadata.generation import ChangeMarker, change_marker
from dockyard.metadata.records import NewManifest
from dockyard.metadata.store import MetadataStore

DIGEST = "sha256:" + "a" * 64


def _new(tag: str) -> NewManifest:
    return NewManifest(repository="team/app", digest=DIGEST, media_type="application/json",
                       size=2, artifact_type=None, subject_digest=None, annotations=None,
                       blob_digests=(), child_digests=(), tag=tag)


def test_outside_delete_is_seen_after_bump(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    marker = change_marker(tmp_path)
    cached = CachedMetadataStore(MetadataStore(url), marker)
    cached.put_manifest(_new("v1"))
    assert cached.get_manifest("team/app", "v1", by_digest=False) is not None
    other = MetadataStore(url)  # Another process, as `dockyard gc run` would be.
    assert other.delete_tag("team/app", "v1")
    # Unbumped, the cache still answers from memory: this is why writers must bump.
    assert cached.get_manifest("team/app", "v1", by_digest=False) is not None
    marker.bump()
    assert cached.get_manifest("team/app", "v1", by_digest=False) is None
    other.close()
    cached.close()


def test_every_bump_changes_the_stamp(tmp_path: Path) -> None:
    marker = ChangeMarker(tmp_path / "x" / "changed")
    stamps = {marker.stamp()}
    for _ in range(20):
        marker.bump()
        stamps.add(marker.stamp())
    assert len(stamps) == 21
    assert list((tmp_path / "x").iterdir()) == [marker.path]
