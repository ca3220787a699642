"""``dockyard quota``: the table, ``--json``, and ``--reconcile`` catching a wrong figure."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from dockyard.metadata.records import NewManifest
from dockyard.metadata.store import MetadataStore
from tests.quota.helpers import d

MiB = 1024 * 1024


def dockyard(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    return subprocess.run([sys.executable, "-m", "dockyard", *args], capture_output=True,
                          text=True, env=env, timeout=60)


@pytest.fixture
def registry(tmp_path: Path) -> tuple[Path, MetadataStore]:
    """A store with usage in two namespaces, and a config giving limits."""
    root = tmp_path / "data"
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({"version": 0.1, "storage": {
        "filesystem": {"rootdirectory": str(root)}},
        "dockyard": {"quotas": {"default": "1GiB", "namespaces": {"team": "500MiB",
                                                                   "empty": "2TiB"}}}}))
    store = MetadataStore(f"sqlite:///{root}/dockyard/metadata.sqlite3")
    store.link_blob("team/app", d(1), 480 * MiB)
    store.link_blob("team/api", d(1), 480 * MiB)
    store.link_blob("team/api", d(2), 20 * MiB)
    store.put_manifest(NewManifest("team/app", d(10), "application/vnd.oci.image.manifest.v1"
                                   "+json", 1000, None, None, None, (d(1),), (), "v1.0.0"))
    store.link_blob("alpine", d(3), 3 * 1024)
    return config, store


def test_table_and_json(registry: tuple[Path, MetadataStore]) -> None:
    config, _ = registry
    shown = dockyard("quota", str(config))
    assert shown.returncode == 0, shown.stderr
    lines = [line.split() for line in shown.stdout.splitlines()]
    assert lines[0] == ["NAMESPACE", "USED", "LIMIT", "PERCENT", "BLOBS"]
    assert lines[1:] == [["alpine", "3.0", "KiB", "1.0", "GiB", "0.0%", "1"],
                         ["empty", "0", "B", "2.0", "TiB", "0.0%", "0"],
                         ["team", "500.0", "MiB", "500.0", "MiB", "100.0%", "3"]]
    as_json = json.loads(dockyard("quota", str(config), "--json", "--namespace", "team").stdout)
    assert as_json == [{"namespace": "team", "used_bytes": 500 * MiB + 1000,
                        "limit_bytes": 500 * MiB, "percent": 100.0, "blobs": 3}]


def test_reconcile_finds_and_fixes_a_wrong_running_figure(
        registry: tuple[Path, MetadataStore]) -> None:
    config, store = registry
    clean = dockyard("quota", "--reconcile", str(config))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "2 namespaces recounted: running figures equal the recount" in clean.stdout
    with store.write_engine.begin() as conn:  # What a bug or a hand edit could leave.
        conn.execute(text("UPDATE namespace_usage SET bytes = bytes + 5 "
                          "WHERE namespace = 'team'"))
        conn.execute(text("DELETE FROM namespace_blobs WHERE namespace = 'alpine'"))
    found = dockyard("quota", "--reconcile", "--json", str(config))
    assert found.returncode == 1
    report = json.loads(found.stdout)
    assert not report["clean"] and report["blob_rows_differing"] == 1
    assert {d["namespace"]: (d["running"]["bytes"], d["recomputed"]["bytes"])
            for d in report["differences"]} == {"team": (500 * MiB + 1005, 500 * MiB + 1000),
                                                "alpine": (0, 3 * 1024)}
    fixed = dockyard("quota", "--reconcile", "--fix", str(config))
    assert fixed.returncode == 1 and "rewritten from the recount" in fixed.stdout
    assert "team: running 500.0 MiB (524289005 bytes" in fixed.stdout
    assert dockyard("quota", "--check", str(config)).returncode == 0
