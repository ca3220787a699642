"""Quota usage in SQL: the room check inside a push's transaction, and usage from scratch.

The running figures (``namespace_blobs``, ``namespace_usage``) are kept by the triggers of
migration 0003 on every insert or delete of a ``repository_blobs`` or ``manifests`` row,
whichever code makes it (pushes, deletes, the collectors, retention, cascades, the importer).
This module reads them, and recomputes them from the link and manifest tables to check them.
"""

from dataclasses import dataclass

from sqlalchemy import Connection, text

from dockyard.metadata.records import QuotaExceeded
from dockyard.quota.limits import namespace_of

_ROOM = text(
    "SELECT (SELECT bytes FROM namespace_usage WHERE namespace = :namespace), "
    "EXISTS (SELECT 1 FROM namespace_blobs WHERE namespace = :namespace AND digest = :digest)")

# PostgreSQL lets writers run concurrently: a transaction-scoped lock per namespace keeps two
# pushes from both seeing the same room.
_SERIALISE = text("SELECT pg_advisory_xact_lock(hashtext(:namespace))")


def check_room(conn: Connection, repository: str, digest: str, size: int, limit: int,
               serialise: bool = False) -> None:
    """Raise QuotaExceeded when ``digest`` is new to the namespace and would pass ``limit``.

    Two primary-key look-ups. With ``serialise``, inside the write transaction that records
    the blob, no other push into the namespace can slip in between this check and the insert
    (SQLite's ``BEGIN IMMEDIATE`` already serialises writers; PostgreSQL takes a lock).
    """
    namespace = namespace_of(repository)
    if serialise and conn.dialect.name == "postgresql":
        conn.execute(_SERIALISE, {"namespace": namespace})
    row = conn.execute(_ROOM, {"namespace": namespace, "digest": digest}).one()
    used, counted = int(row[0] or 0), bool(row[1])
    if not counted and used + size > limit:
        raise QuotaExceeded(namespace, used, size, limit)


def namespace_sql(column: str, dialect: str) -> str:
    """SQL for the first path component of the name in ``column``."""
    if dialect == "postgresql":
        return f"split_part({column}, '/', 1)"
    return f"substr({column}, 1, instr({column} || '/', '/') - 1)"


def recomputed_blobs_sql(dialect: str) -> str:
    """Every (namespace, digest) reachable from the links and manifests, from scratch.

    A digest linked and also stored as a manifest in one namespace is one row (counted once);
    ``refcount`` is how many link or manifest rows hold it, which is what the triggers keep.
    """
    ns = namespace_sql("r.name", dialect)
    return (
        "SELECT namespace, digest, max(size) AS size, count(*) AS refcount FROM ("
        f" SELECT {ns} AS namespace, rb.digest AS digest, coalesce(b.size, 0) AS size"
        " FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id"
        " LEFT JOIN blobs b ON b.digest = rb.digest"
        " UNION ALL"
        f" SELECT {ns}, m.digest, m.size FROM manifests m"
        " JOIN repositories r ON r.id = m.repository_id"
        ") refs GROUP BY namespace, digest")


@dataclass(frozen=True, slots=True)
class Usage:
    """Bytes and distinct blobs of one namespace."""

    bytes: int
    blobs: int


def running_usage(conn: Connection) -> dict[str, Usage]:
    """The running figures, as the triggers left them (namespaces never used are absent)."""
    rows = conn.execute(text("SELECT namespace, bytes, blob_count FROM namespace_usage"))
    return {r.namespace: Usage(int(r.bytes), int(r.blob_count)) for r in rows}


def recomputed_usage(conn: Connection) -> dict[str, Usage]:
    """Usage per namespace from the link and manifest tables, ignoring the running figures."""
    query = text("SELECT namespace, sum(size) AS bytes, count(*) AS blobs FROM ("
                 f"{recomputed_blobs_sql(conn.dialect.name)}) counted GROUP BY namespace")
    return {r.namespace: Usage(int(r.bytes), int(r.blobs)) for r in conn.execute(query)}


def blob_differences(conn: Connection) -> int:
    """How many (namespace, digest) rows of the running table differ from a recount."""
    recount = recomputed_blobs_sql(conn.dialect.name)
    running = "SELECT namespace, digest, size, refcount FROM namespace_blobs"
    recounted = f"SELECT namespace, digest, size, refcount FROM ({recount}) r"
    query = text(f"SELECT (SELECT count(*) FROM ({running} EXCEPT {recounted}) a)"
                 f" + (SELECT count(*) FROM ({recounted} EXCEPT {running}) b)")
    return int(conn.execute(query).scalar() or 0)


def refill(conn: Connection) -> None:
    """Rebuild the running figures from scratch (backfill, ``dockyard quota --fix``).

    ``namespace_usage`` is emptied and then rebuilt by the insert trigger on
    ``namespace_blobs``, so the backfill and the running updates share one definition.
    """
    conn.execute(text("DELETE FROM namespace_blobs"))
    conn.execute(text("DELETE FROM namespace_usage"))
    conn.execute(text("INSERT INTO namespace_blobs (namespace, digest, size, refcount) "
                      f"{recomputed_blobs_sql(conn.dialect.name)}"))
