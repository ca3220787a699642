"""Quotas: per-namespace storage usage, kept by triggers on blob links and manifests.

``namespace_blobs`` holds each distinct digest a namespace reaches, with how many link or
manifest rows hold it; ``namespace_usage`` sums it per namespace. Triggers keep both exact
inside the transaction of every insert or delete of ``repository_blobs`` and ``manifests``,
so no code path (push, delete, collectors, retention, importer) can forget to.

A repository's cascaded deletes cannot name their namespace (SQLite and PostgreSQL both
delete the parent row before the cascade runs), so a BEFORE DELETE trigger on
``repositories`` releases its references first and the cascaded triggers find no namespace
and do nothing. Existing databases (registry:2 imports) are backfilled here.

The triggers are SQLite's; PostgreSQL needs plpgsql equivalents of the same statements
(``split_part(name, '/', 1)`` for the namespace) when it becomes a backend.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from dockyard.quota.usage import namespace_sql, refill

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_NS_OF_NEW = ("(SELECT {ns} FROM repositories r WHERE r.id = NEW.repository_id)"
              .format(ns=namespace_sql("r.name", "sqlite")))
_NS_OF_OLD = _NS_OF_NEW.replace("NEW.", "OLD.")
_NS_OF_REPOSITORY = namespace_sql("OLD.name", "sqlite")


def _added(table: str, size: str) -> str:
    return f"""
CREATE TRIGGER quota_{table}_added AFTER INSERT ON {table} BEGIN
  INSERT INTO namespace_blobs (namespace, digest, size, refcount)
  SELECT {_NS_OF_NEW}, NEW.digest, {size}, 1 WHERE {_NS_OF_NEW} IS NOT NULL
  ON CONFLICT (namespace, digest) DO UPDATE SET refcount = refcount + 1;
END"""


def _removed(table: str) -> str:
    return f"""
CREATE TRIGGER quota_{table}_removed AFTER DELETE ON {table} BEGIN
  UPDATE namespace_blobs SET refcount = refcount - 1
   WHERE namespace = {_NS_OF_OLD} AND digest = OLD.digest;
  DELETE FROM namespace_blobs
   WHERE namespace = {_NS_OF_OLD} AND digest = OLD.digest AND refcount <= 0;
END"""


TRIGGERS = {
    "quota_repository_blobs_added": _added(
        "repository_blobs", "coalesce((SELECT size FROM blobs WHERE digest = NEW.digest), 0)"),
    "quota_repository_blobs_removed": _removed("repository_blobs"),
    "quota_manifests_added": _added("manifests", "NEW.size"),
    "quota_manifests_removed": _removed("manifests"),
    "quota_repositories_removed": f"""
CREATE TRIGGER quota_repositories_removed BEFORE DELETE ON repositories BEGIN
  UPDATE namespace_blobs SET refcount = refcount
      - (SELECT count(*) FROM repository_blobs
          WHERE repository_id = OLD.id AND digest = namespace_blobs.digest)
      - (SELECT count(*) FROM manifests
          WHERE repository_id = OLD.id AND digest = namespace_blobs.digest)
   WHERE namespace = {_NS_OF_REPOSITORY} AND digest IN (
      SELECT digest FROM repository_blobs WHERE repository_id = OLD.id
      UNION SELECT digest FROM manifests WHERE repository_id = OLD.id);
  DELETE FROM namespace_blobs WHERE namespace = {_NS_OF_REPOSITORY} AND refcount <= 0;
END""",
    "quota_namespace_blobs_counted": """
CREATE TRIGGER quota_namespace_blobs_counted AFTER INSERT ON namespace_blobs BEGIN
  INSERT INTO namespace_usage (namespace, bytes, blob_count)
  VALUES (NEW.namespace, NEW.size, 1)
  ON CONFLICT (namespace) DO UPDATE SET bytes = bytes + excluded.bytes,
                                        blob_count = blob_count + 1;
END""",
    "quota_namespace_blobs_released": """
CREATE TRIGGER quota_namespace_blobs_released AFTER DELETE ON namespace_blobs BEGIN
  UPDATE namespace_usage SET bytes = bytes - OLD.size, blob_count = blob_count - 1
   WHERE namespace = OLD.namespace;
END""",
}


def upgrade() -> None:
    op.create_table(
        "namespace_blobs",
        sa.Column("namespace", sa.String(255), primary_key=True),
        sa.Column("digest", sa.String(135), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("refcount", sa.Integer, nullable=False),
    )
    op.create_table(
        "namespace_usage",
        sa.Column("namespace", sa.String(255), primary_key=True),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("blob_count", sa.Integer, nullable=False),
    )
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        raise NotImplementedError("quota triggers exist for SQLite only (see the docstring)")
    for statement in TRIGGERS.values():
        connection.exec_driver_sql(statement)
    refill(connection)


def downgrade() -> None:
    connection = op.get_bind()
    for name in TRIGGERS:
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("namespace_usage")
    op.drop_table("namespace_blobs")
