"""garbage-collect on a storage tree registry:2 (Debian's docker-registry) wrote.

Its link files must be indexed before anything is marked, or every one of its blobs would
look unreferenced; manifests the importer cannot index keep their blobs.
"""

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import RunningServer
from tests.gc.helpers import (
    disk_snapshot,
    eligible_blobs,
    run_gc,
    stored_digests,
    summary,
)
from tests.gc.registry2 import Corpus, Item, build_corpus
from tests.pushing import ACCEPT_ALL, digest_of

Factory = Callable[..., RunningServer]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("registry2"))


def _tree(corpus: Corpus, tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "data"
    shutil.copytree(corpus.root, root, symlinks=True)
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({"version": 0.1, "storage": {
        "filesystem": {"rootdirectory": str(root)}, "delete": {"enabled": True}}}))
    return root, config


def _assert_serves(server: RunningServer, item: Item) -> None:
    response = server.client.get(f"/v2/{item.repo}/manifests/{item.digest}",
                                 headers={"accept": ACCEPT_ALL})
    assert response.status_code == 200 and response.content == item.body, item.digest
    for digest, data in item.blobs.items():
        blob = server.client.get(f"/v2/{item.repo}/blobs/{digest}")
        assert blob.status_code == 200 and blob.content == data, (item.repo, digest)


def _untagged(corpus: Corpus) -> Item:
    tagged = {d for tags in corpus.tags.values() for d in tags.values()}
    [a2] = [i for i in corpus.items.values()
            if i.repo == "library/alpine" and i.digest not in tagged and i.subject is None]
    return a2


def test_collects_a_registry2_tree_it_never_served(corpus: Corpus, tmp_path: Path,
                                                   server_factory: Factory) -> None:
    root, config = _tree(corpus, tmp_path)
    before = disk_snapshot(root)

    dry = run_gc(config, "--dry-run")
    assert dry.returncode == 1
    assert "dockyard import" in dry.stderr
    assert disk_snapshot(root) == before

    [gone] = corpus.deleted
    doomed = {corpus.unreferenced, gone.digest, *gone.blobs}
    doomed_bytes = sum(len(data) for data in gone.blobs.values()) + len(gone.body) + \
        (root / "docker/registry/v2/blobs/sha256" / corpus.unreferenced[7:9] /
         corpus.unreferenced[7:] / "data").stat().st_size
    real = run_gc(config)
    assert real.returncode == 0, real.stderr
    assert "indexed registry:2 link files" in real.stdout
    assert summary(real.stdout)[1:] == (len(doomed), doomed_bytes)
    assert stored_digests(root) == set(_digests_in(before)) - doomed

    # With -m, the one untagged image goes (not the index children, not the referrer).
    untagged = _untagged(corpus)
    shared = {d for i in corpus.items.values() if i is not untagged for d in i.blobs}
    doomed = {untagged.digest, *untagged.blobs} - shared
    dry = run_gc(config, "--dry-run", "--delete-untagged")
    assert dry.returncode == 0, dry.stderr
    assert eligible_blobs(dry.stdout) == doomed
    assert f"manifest eligible for deletion: library/alpine@{untagged.digest}" in dry.stdout
    real = run_gc(config, "--delete-untagged")
    assert real.returncode == 0, real.stderr
    assert summary(real.stdout)[1] == len(doomed)
    assert not doomed & stored_digests(root)

    server = server_factory({"storage.filesystem.rootdirectory": str(root)})
    for item in corpus.items.values():
        if item is not untagged:
            _assert_serves(server, item)
    catalog = server.client.get("/v2/_catalog").json()["repositories"]
    assert catalog == corpus.catalog


def test_manifests_the_importer_skips_keep_their_blobs(corpus: Corpus, tmp_path: Path) -> None:
    root, config = _tree(corpus, tmp_path)
    victim = corpus.items[corpus.tags["library/alpine"]["3.19"]]
    own_layer = next(d for d, data in victim.blobs.items() if len(data) == 2048)
    shutil.rmtree(root / "docker/registry/v2/repositories/library/alpine/_layers/sha256"
                  / own_layer.split(":")[1])
    imported = subprocess.run([sys.executable, "-m", "dockyard", "import", str(config)],
                              capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    assert victim.digest in imported.stderr  # The skip is reported.

    result = run_gc(config)
    assert result.returncode == 0, result.stderr
    assert f"library/alpine: marking unindexed manifest {victim.digest}" in result.stdout
    stored = stored_digests(root)
    assert {victim.digest, *victim.blobs} <= stored
    assert digest_of((root / "docker/registry/v2/blobs/sha256" / own_layer[7:9] /
                      own_layer[7:] / "data").read_bytes()) == own_layer


def _digests_in(snapshot: dict[str, str]) -> list[str]:
    """``sha256/ab/<hex>/data`` keys of a disk snapshot, as digests."""
    return [f"{k.split('/')[0]}:{k.split('/')[2]}" for k in snapshot if k.endswith("/data")]
