"""Indexing a storage tree that Distribution 2.8 (Debian's docker-registry) wrote.

The tree is built once by the real registry:2, then copied for each test. Expectations come
from what was pushed and from what registry:2 itself listed before it stopped.
"""

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dockyard.config import Config
from dockyard.metadata import importer
from dockyard.metadata.importer import ImportSummary, import_distribution_tree
from dockyard.metadata.store import MetadataStore
from tests.gc.helpers import disk_snapshot
from tests.gc.registry2 import Corpus, build_corpus, distribution, image, put


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("registry2"))


def _config(root: Path, database: Path | None = None) -> Config:
    data: dict[str, Any] = {"version": "0.1",
                            "storage": {"filesystem": {"rootdirectory": str(root)}}}
    if database is not None:
        data["dockyard"] = {"metadata": {"url": f"sqlite:///{database}"}}
    return Config.model_validate(data)


def _contents(config: Config) -> dict[str, set[tuple[Any, ...]]]:
    """The database's content by name and digest (ids and times left out)."""
    path = config.metadata_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        def rows(sql: str) -> set[tuple[Any, ...]]:
            return set(conn.execute(sql).fetchall())
        return {
            "repositories": rows("SELECT name FROM repositories"),
            "blobs": rows("SELECT digest, size FROM blobs"),
            "links": rows("SELECT r.name, l.digest FROM repository_blobs l "
                          "JOIN repositories r ON r.id = l.repository_id"),
            "manifests": rows("SELECT r.name, m.digest, m.media_type, m.size, m.artifact_type,"
                              " m.subject_digest FROM manifests m JOIN repositories r "
                              "ON r.id = m.repository_id"),
            "references": rows("SELECT m.digest, b.digest FROM manifest_blobs b "
                               "JOIN manifests m ON m.id = b.manifest_id"),
            "children": rows("SELECT m.digest, c.child_digest FROM manifest_children c "
                             "JOIN manifests m ON m.id = c.manifest_id"),
            "tags": rows("SELECT r.name, t.name, m.digest FROM tags t JOIN repositories r "
                         "ON r.id = t.repository_id JOIN manifests m ON m.id = t.manifest_id"),
        }


def _is_empty(summary: ImportSummary) -> bool:
    return (summary.repositories, summary.manifests, summary.tags, summary.blob_links) == \
        (0, 0, 0, 0)


def _record_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the names of the repositories the importer reads, in order."""
    read: list[str] = []
    real_import = importer._import_repository

    def spying(store: MetadataStore, layout: Any, name: str) -> Any:
        read.append(name)
        return real_import(store, layout, name)

    monkeypatch.setattr(importer, "_import_repository", spying)
    return read


def test_import_indexes_what_registry2_holds_without_touching_blobs(
        corpus: Corpus, tmp_path: Path) -> None:
    root = corpus.copy(tmp_path)
    config = _config(root)
    before = disk_snapshot(root)

    summary = import_distribution_tree(config)

    assert disk_snapshot(root) == before  # Indexed in place: no blob copied or moved.
    assert summary.repositories == len(corpus.catalog)
    assert summary.manifests == len(corpus.items)
    assert summary.tags == sum(len(t) for t in corpus.tags.values())
    assert summary.blob_links == sum(len(d) for d in corpus.links.values())
    assert summary.skipped == [] and summary.failed == []

    contents = _contents(config)
    assert sorted(name for (name,) in contents["repositories"]) == corpus.catalog
    assert contents["links"] == {(repo, d) for repo, ds in corpus.links.items() for d in ds}
    assert contents["tags"] == {(repo, tag, digest) for repo, tags in corpus.tags.items()
                                for tag, digest in tags.items()}
    assert {(name, digest) for name, digest, *_ in contents["manifests"]} == \
        {(item.repo, item.digest) for item in corpus.items.values()}
    for _name, digest, media_type, size, _artifact, subject in contents["manifests"]:
        item = corpus.items[digest]
        assert (media_type, size, subject) == (item.media_type, len(item.body), item.subject)
    stored_sizes = dict(contents["blobs"])
    for item in corpus.items.values():
        assert stored_sizes[item.digest] == len(item.body)
        for digest, data in item.blobs.items():
            assert stored_sizes[digest] == len(data)
            assert (item.digest, digest) in contents["references"]
    index = next(i for i in corpus.items.values() if i.repo == "multi/arch"
                 and i.media_type.endswith("index.v1+json"))
    assert {c for m, c in contents["children"] if m == index.digest} == \
        {json.loads(index.body)["manifests"][i]["digest"] for i in range(2)}
    assert not {(g.repo, g.digest) for g in corpus.deleted} & \
        {(n, d) for n, d, *_ in contents["manifests"]}

    store = MetadataStore(config.metadata_url)
    try:
        sbom = next(i for i in corpus.items.values() if i.subject)
        [found] = store.referrers(sbom.repo, sbom.subject or "")
        assert (found.digest, found.artifact_type) == (sbom.digest, "application/vnd.example.sbom")
        assert store.list_tags("gone/repo", None, 100) == []
    finally:
        store.close()


def test_second_import_adds_nothing(corpus: Corpus, tmp_path: Path) -> None:
    config = _config(corpus.copy(tmp_path))
    import_distribution_tree(config)
    first = _contents(config)
    assert _is_empty(import_distribution_tree(config))
    assert _is_empty(import_distribution_tree(config, full=True))
    assert _contents(config) == first


def test_interrupted_import_resumes(corpus: Corpus, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root = corpus.copy(tmp_path)
    reference = _config(root, tmp_path / "reference.sqlite3")
    import_distribution_tree(reference)
    expected = _contents(reference)
    importer.state_path(reference).unlink()

    config = _config(root, tmp_path / "resumed.sqlite3")
    calls = {"n": 0}
    real_put = MetadataStore.put_manifest

    def crashing_put(self: MetadataStore, new: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 6:  # Cut off in the middle of a repository.
            raise KeyboardInterrupt
        real_put(self, new)

    monkeypatch.setattr(MetadataStore, "put_manifest", crashing_put)
    with pytest.raises(KeyboardInterrupt):
        import_distribution_tree(config)
    monkeypatch.setattr(MetadataStore, "put_manifest", real_put)
    state = importer.ImportState.load(importer.state_path(config))
    done = set(state.entries)
    assert done and done < set(corpus.catalog)

    read_again = _record_reads(monkeypatch)
    resumed = import_distribution_tree(config)
    assert set(read_again) == set(corpus.catalog) - done
    assert resumed.failed == []
    assert _contents(config) == expected
    assert _is_empty(import_distribution_tree(config))


def test_a_crash_cut_state_line_only_costs_a_reread(corpus: Corpus, tmp_path: Path) -> None:
    config = _config(corpus.copy(tmp_path))
    import_distribution_tree(config)
    path = importer.state_path(config)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    again = import_distribution_tree(config)
    assert _is_empty(again)
    assert len(importer.ImportState.load(path).entries) == len(corpus.catalog)


def test_only_changed_repositories_are_read_and_dockyard_deletes_stay(
        corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = corpus.copy(tmp_path)
    config = _config(root)
    import_distribution_tree(config)
    store = MetadataStore(config.metadata_url)
    assert store.delete_tag("library/alpine", "latest")  # A delete made through Dockyard.
    store.close()

    # registry:2 runs on the tree again: a tag moves, a tag and a repository appear.
    with distribution(tmp_path / "again", root) as client:
        moved = image(client, "team/app", "v1", [b"moved" * 100])
        added = put(client, image(client, "team/app", "v2", [b"added" * 100]), "v2")
        fresh = image(client, "new/repo", "v1", [b"fresh" * 100])

    read_again = _record_reads(monkeypatch)
    summary = import_distribution_tree(config)
    assert sorted(read_again) == ["new/repo", "team/app"]
    assert (summary.repositories, summary.manifests, summary.tags) == (2, 3, 3)
    tags = _contents(config)["tags"]
    assert {("team/app", "v1", moved.digest), ("team/app", "v2", added.digest),
            ("new/repo", "v1", fresh.digest)} <= tags
    assert ("library/alpine", "latest", corpus.tags["library/alpine"]["latest"]) not in tags


def test_a_tag_moved_to_a_manifest_already_there_is_noticed(corpus: Corpus,
                                                            tmp_path: Path) -> None:
    """Moving a tag rewrites current/link in place: no directory of the repository changes."""
    root = corpus.copy(tmp_path)
    config = _config(root)
    with distribution(tmp_path / "first", root) as client:
        other = image(client, "team/app/api", None, [b"other" * 100])
    import_distribution_tree(config)
    assert ("team/app/api", "v1", other.digest) not in _contents(config)["tags"]
    with distribution(tmp_path / "second", root) as client:
        put(client, other, "v1")
    summary = import_distribution_tree(config)
    assert (summary.repositories, summary.manifests, summary.tags) == (1, 0, 1)
    assert ("team/app/api", "v1", other.digest) in _contents(config)["tags"]


def test_missing_references_skip_that_manifest_only(corpus: Corpus, tmp_path: Path) -> None:
    root = corpus.copy(tmp_path)
    repositories = root / "docker" / "registry" / "v2" / "repositories"
    victim = corpus.items[corpus.tags["library/alpine"]["3.19"]]
    layer = next(d for d, data in victim.blobs.items() if len(data) == 2048)
    shutil.rmtree(repositories / "library/alpine/_layers/sha256" / layer.split(":")[1])
    config = _config(root)

    summary = import_distribution_tree(config)

    assert any(victim.digest in line and "missing" in line for line in summary.skipped)
    assert any(":3.19:" in line for line in summary.skipped)
    assert summary.manifests == len(corpus.items) - 1
    contents = _contents(config)
    assert victim.digest not in {d for _, d, *_ in contents["manifests"]}
    assert ("library/alpine", "3.18", corpus.tags["library/alpine"]["3.18"]) in contents["tags"]
    assert importer.unindexed_manifests(config) == {"library/alpine": [victim.digest]}


def test_a_tree_without_link_files_is_a_no_op(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "docker/registry/v2/repositories/team/app/_uploads/u1").mkdir(parents=True)
    config = _config(root)
    assert _is_empty(import_distribution_tree(config))
    assert not importer.state_path(config).exists()
