"""Online collection on a storage tree registry:2 wrote: manifests the importer could not
index are still served from their link files, so what they reference is never collected."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import start_server
from tests.gc.helpers import stored_digests
from tests.gc.online import deleted, gc_json
from tests.gc.registry2 import Corpus, build_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("registry2-online"))


def test_blobs_of_unindexed_manifests_are_protected(corpus: Corpus, tmp_path: Path) -> None:
    root = corpus.copy(tmp_path)
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({"version": 0.1, "storage": {
        "filesystem": {"rootdirectory": str(root)}, "delete": {"enabled": True}},
        "dockyard": {"gc": {"enabled": False, "delay": "0s"}}}))
    victim = corpus.items[corpus.tags["library/alpine"]["3.19"]]
    own_layer = next(d for d, data in victim.blobs.items() if len(data) == 2048)
    shutil.rmtree(root / "docker/registry/v2/repositories/library/alpine/_layers/sha256"
                  / own_layer.split(":")[1])  # The importer cannot index the victim now.
    imported = subprocess.run([sys.executable, "-m", "dockyard", "import", str(config)],
                              capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0 and victim.digest in imported.stderr, imported.stderr

    # Unlink every blob of the victim still linked, so each is a candidate with no link.
    (tmp_path / "srv").mkdir()
    server = start_server(tmp_path / "srv", {
        "storage.filesystem.rootdirectory": str(root), "dockyard.gc.enabled": False})
    try:
        unlinked = [d for d in victim.blobs if d != own_layer and server.client.delete(
            f"/v2/library/alpine/blobs/{d}").status_code == 202]
    finally:
        server.stop()
    assert unlinked

    preview = gc_json(config, "--orphans", "--dry-run")
    assert victim.digest not in preview["orphans"] and own_layer not in preview["orphans"]
    document = gc_json(config, "--orphans")

    assert not {victim.digest, *victim.blobs} & deleted(document)[2]
    assert {victim.digest, *victim.blobs} <= stored_digests(root)
