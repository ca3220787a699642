"""Quotas: per-namespace storage usage, kept by triggers on blob links and manifests.

``namespace_blobs`` holds each distinct digest a namespace reaches, with how many link or
manifest rows hold it; ``namespace_usage`` sums it per namespace. Triggers keep both exact
inside the transaction of every insert or delete of ``repository_blobs`` and ``manifests``,
so no code path (push, delete, collectors, retention, importer) can forget to.

A repository's cascaded deletes cannot name their namespace (SQLite and PostgreSQL both
delete the parent row before the cascade runs), so a BEFORE DELETE trigger on
``repositories`` releases its references first and the cascaded triggers find no namespace
and do nothing. Existing databases (registry:2 imports) are backfilled here.

PostgreSQL gets the same statements as plpgsql functions (``POSTGRESQL``); its cascades
also run after the parent row is gone, so the same BEFORE DELETE design holds.

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


_PG_FUNCTIONS = """
CREATE FUNCTION quota_namespace_of(repository integer) RETURNS text LANGUAGE sql STABLE AS
$$ SELECT split_part(name, '/', 1) FROM repositories WHERE id = repository $$;

CREATE FUNCTION quota_hold(ns text, held text, bytes bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF ns IS NOT NULL THEN
    INSERT INTO namespace_blobs (namespace, digest, size, refcount) VALUES (ns, held, bytes, 1)
    ON CONFLICT (namespace, digest) DO UPDATE SET refcount = namespace_blobs.refcount + 1;
  END IF;
END $$;

CREATE FUNCTION quota_release(ns text, held text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF ns IS NOT NULL THEN
    UPDATE namespace_blobs SET refcount = refcount - 1 WHERE namespace = ns AND digest = held;
    DELETE FROM namespace_blobs WHERE namespace = ns AND digest = held AND refcount <= 0;
  END IF;
END $$;

CREATE FUNCTION quota_link_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM quota_hold(quota_namespace_of(NEW.repository_id), NEW.digest,
                     coalesce((SELECT size FROM blobs WHERE digest = NEW.digest), 0));
  RETURN NULL;
END $$;

CREATE FUNCTION quota_manifest_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM quota_hold(quota_namespace_of(NEW.repository_id), NEW.digest, NEW.size);
  RETURN NULL;
END $$;

CREATE FUNCTION quota_row_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM quota_release(quota_namespace_of(OLD.repository_id), OLD.digest);
  RETURN NULL;
END $$;

CREATE FUNCTION quota_repository_removed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE ns text := split_part(OLD.name, '/', 1);
BEGIN
  UPDATE namespace_blobs nb SET refcount = nb.refcount
      - (SELECT count(*) FROM repository_blobs WHERE repository_id = OLD.id
                                                 AND digest = nb.digest)
      - (SELECT count(*) FROM manifests WHERE repository_id = OLD.id AND digest = nb.digest)
   WHERE nb.namespace = ns AND nb.digest IN (
      SELECT digest FROM repository_blobs WHERE repository_id = OLD.id
      UNION SELECT digest FROM manifests WHERE repository_id = OLD.id);
  DELETE FROM namespace_blobs WHERE namespace = ns AND refcount <= 0;
  RETURN OLD;
END $$;

CREATE FUNCTION quota_blob_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO namespace_usage (namespace, bytes, blob_count) VALUES (NEW.namespace, NEW.size, 1)
  ON CONFLICT (namespace) DO UPDATE SET bytes = namespace_usage.bytes + excluded.bytes,
                                        blob_count = namespace_usage.blob_count + 1;
  RETURN NULL;
END $$;

CREATE FUNCTION quota_blob_released() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE namespace_usage SET bytes = bytes - OLD.size, blob_count = blob_count - 1
   WHERE namespace = OLD.namespace;
  RETURN NULL;
END $$;
"""

# name: (timing and event, table, function)
_PG_TRIGGERS = {
    "quota_repository_blobs_added": ("AFTER INSERT", "repository_blobs", "quota_link_added"),
    "quota_repository_blobs_removed": ("AFTER DELETE", "repository_blobs", "quota_row_removed"),
    "quota_manifests_added": ("AFTER INSERT", "manifests", "quota_manifest_added"),
    "quota_manifests_removed": ("AFTER DELETE", "manifests", "quota_row_removed"),
    "quota_repositories_removed": ("BEFORE DELETE", "repositories", "quota_repository_removed"),
    "quota_namespace_blobs_counted": ("AFTER INSERT", "namespace_blobs", "quota_blob_counted"),
    "quota_namespace_blobs_released": ("AFTER DELETE", "namespace_blobs",
                                       "quota_blob_released"),
}
_PG_FUNCTION_NAMES = ("quota_namespace_of(integer)", "quota_hold(text, text, bigint)",
                      "quota_release(text, text)", "quota_link_added()",
                      "quota_manifest_added()", "quota_row_removed()",
                      "quota_repository_removed()", "quota_blob_counted()",
                      "quota_blob_released()")


def postgresql_statements() -> list[str]:
    """The PostgreSQL equivalent of :data:`TRIGGERS`: functions, then row triggers."""
    return [_PG_FUNCTIONS] + [
        f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()"
        for name, (when, table, function) in _PG_TRIGGERS.items()]


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
    postgresql = connection.dialect.name == "postgresql"
    for statement in postgresql_statements() if postgresql else TRIGGERS.values():
        connection.exec_driver_sql(statement)
    refill(connection)


def downgrade() -> None:
    connection = op.get_bind()
    postgresql = connection.dialect.name == "postgresql"
    for name, (_, table, _) in _PG_TRIGGERS.items():
        on = f" ON {table}" if postgresql else ""
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}{on}")
    if postgresql:
        for function in _PG_FUNCTION_NAMES:
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function}")
    op.drop_table("namespace_usage")
    op.drop_table("namespace_blobs")
