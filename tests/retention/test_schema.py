"""Migration 0004 creates exactly the retention tables ``metadata/schema.py`` declares."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dockyard.metadata import schema
from dockyard.metadata.store import MetadataStore

TABLES = {"pull_times", "retention_runs", "retention_deletions"}


def _tables_of(diff: object) -> set[str]:
    """Table names a diff entry (a tuple, or a list of column changes) mentions."""
    names = set()
    for item in diff if isinstance(diff, list) else [diff]:
        for part in item if isinstance(item, tuple) else ():
            name = getattr(part, "name", None) if not isinstance(part, str) else part
            table = getattr(part, "table", None)
            names |= {n for n in (name, getattr(table, "name", None)) if isinstance(n, str)}
    return names


def test_migration_matches_schema(tmp_path: Path) -> None:
    store = MetadataStore(f"sqlite:///{tmp_path / 'metadata.sqlite3'}")
    try:
        with store.write_engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), schema.metadata)
            present = set(conn.dialect.get_table_names(conn))
    finally:
        store.close()
    assert present >= TABLES
    assert [d for d in diffs if _tables_of(d) & TABLES] == []
