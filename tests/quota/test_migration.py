"""Migration 0003 backfills usage for a database that already holds data (registry:2 imports).

The tree is written by the real registry:2 (Debian's docker-registry), indexed into a
database still at revision 0002, then the database is upgraded to head.
"""

from pathlib import Path

import yaml
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, inspect

from dockyard.config import load_config
from dockyard.metadata.importer import import_lock, import_tree_locked
from dockyard.metadata.migrate import MIGRATIONS
from dockyard.metadata.store import MetadataStore
from tests.gc.registry2 import build_corpus
from tests.quota.helpers import assert_reconciled, python_usage


def upgrade_to(url: str, revision: str) -> None:
    engine = create_engine(url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


def test_upgrading_an_imported_store_backfills_usage(tmp_path: Path) -> None:
    corpus = build_corpus(tmp_path / "registry2")
    config_path = tmp_path / "config.yml"
    config_path.write_text(yaml.safe_dump({"version": 0.1, "storage": {
        "filesystem": {"rootdirectory": str(corpus.root)}}}))
    config = load_config(config_path)
    (corpus.root / "dockyard").mkdir()
    upgrade_to(config.metadata_url, "0002")
    old = MetadataStore(config.metadata_url, migrate=False)
    assert "namespace_usage" not in inspect(old.write_engine).get_table_names()
    with import_lock(config):
        summary = import_tree_locked(config, old, full=True)
    old.close()
    assert summary.manifests >= 8 and not summary.failed

    store = MetadataStore(config.metadata_url)  # 0002 -> head, with the backfill.
    try:
        expected = python_usage(store.write_engine, corpus.root)
        assert set(expected) == {"library", "team", "multi", "gone"}
        # library/alpine's shared base layer is also in team/app: counted in both.
        shared = [d for d in corpus.links["team/app"] if d in corpus.links["library/alpine"]]
        assert len(shared) == 1
        assert assert_reconciled(store.write_engine) == expected
    finally:
        store.close()
