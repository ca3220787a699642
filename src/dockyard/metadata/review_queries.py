"""The review queue of online garbage collection: what writers add, inside their transaction.

Every change that may orphan something (a tag deleted or moved, a manifest deleted or pushed
untagged, a blob linked or unlinked) queues the objects concerned in the same transaction as
the change, so a crash can never lose a candidate. Rows record *when* they were queued;
the collector applies the safety delay when it reads them (``queued_at <= now - delay``), so
writers need no configuration and a changed delay applies to the whole queue.

Queueing is an upsert: queueing an object again moves its ``queued_at`` forward, which
postpones its review (a layer pushed again, a tag moved again).
"""

import functools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, literal, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dockyard.metadata.schema import (
    gc_review_queue,
    manifest_blobs,
    manifest_children,
    manifests,
    repositories,
    tags,
)

MANIFEST = "manifest"
LINK = "link"
BLOB = "blob"
FILE = "file"
GLOBAL = 0  # repository_id of the global kinds (blob, file): NULLs would not be unique.


def _insert(dialect: str) -> Any:
    return postgresql_insert if dialect == "postgresql" else sqlite_insert


@functools.cache
def queue_statement(dialect: str) -> Any:
    """The upsert of one queue row (executemany-able), per SQL dialect."""
    return _upsert(_insert(dialect)(gc_review_queue))


_BLOBS_OF = select(manifest_blobs.c.digest).where(
    manifest_blobs.c.manifest_id == bindparam("manifest_id"))
_CHILDREN_OF = select(manifest_children.c.child_digest).where(
    manifest_children.c.manifest_id == bindparam("manifest_id"))
_REFERRERS_OF = select(manifests.c.digest).where(
    manifests.c.repository_id == bindparam("repository_id"),
    manifests.c.subject_digest == bindparam("digest"))


def _upsert(statement: Any) -> Any:
    return statement.on_conflict_do_update(
        index_elements=["kind", "repository_id", "digest"],
        set_={"queued_at": statement.excluded.queued_at})


def link_queue_statement(dialect: str) -> Any:
    """Queue a fresh blob link (an upload committed or a mount); binds as ``link_blob``'s.

    An upload may never be referenced by a manifest: its link is reviewed after the delay.
    """
    return _upsert(_insert(dialect)(gc_review_queue).from_select(
        ["kind", "repository_id", "digest", "queued_at"],
        select(literal(LINK), repositories.c.id, bindparam("digest"), bindparam("now"))
        .where(repositories.c.name == bindparam("repository"))))


def queue(conn: Connection, kind: str, repository_id: int, digests: Iterable[str],
          at: float) -> None:
    """Queue objects of one kind (``repository_id`` is :data:`GLOBAL` for blobs)."""
    rows = [{"kind": kind, "repository_id": repository_id, "digest": d, "queued_at": at}
            for d in sorted(set(digests))]
    if rows:
        conn.execute(queue_statement(conn.dialect.name), rows)


def queue_tag_target(conn: Connection, repository_id: int, tag: str, at: float,
                     unless: str | None = None) -> None:
    """Queue the manifest ``tag`` names now (before it is deleted or moved off it)."""
    current = conn.execute(
        select(manifests.c.digest).select_from(tags.join(
            manifests, manifests.c.id == tags.c.manifest_id))
        .where(tags.c.repository_id == repository_id, tags.c.name == tag)).scalar()
    if current is not None and current != unless:
        queue(conn, MANIFEST, repository_id, [current], at)


def queue_manifest_dependents(conn: Connection, manifest_id: int, repository_id: int,
                              digest: str, at: float) -> None:
    """Before a manifest row goes: queue its blob links, its own bytes, children, referrers."""
    for kind, queue_repository, digests in manifest_dependents(conn, manifest_id,
                                                                repository_id, digest):
        queue(conn, kind, queue_repository, digests, at)


def manifest_dependents(conn: Connection, manifest_id: int, repository_id: int, digest: str
                        ) -> list[tuple[str, int, list[str]]]:
    """``(kind, repository_id, digests)`` a manifest's deletion may orphan."""
    values = {"manifest_id": manifest_id, "repository_id": repository_id, "digest": digest}
    children = conn.execute(_CHILDREN_OF, values).scalars().all()
    referrers = conn.execute(_REFERRERS_OF, values).scalars().all()
    return [(LINK, repository_id, list(conn.execute(_BLOBS_OF, values).scalars().all())),
            (BLOB, GLOBAL, [digest]),
            (MANIFEST, repository_id, [*children, *referrers])]


def queue_deleted_manifests(conn: Connection, repository: str, digest: str, at: float) -> None:
    """Before ``DELETE /manifests/<digest>``: queue what each matching row references."""
    for row in conn.execute(
            select(manifests.c.id, manifests.c.repository_id)
            .select_from(repositories.join(manifests))
            .where(repositories.c.name == repository, manifests.c.digest == digest)):
        queue_manifest_dependents(conn, row.id, row.repository_id, digest, at)


def queue_deleted_tag(conn: Connection, repository: str, tag: str, at: float) -> None:
    """Before a tag is deleted: queue the manifest it names."""
    repository_id = conn.execute(select(repositories.c.id).where(
        repositories.c.name == repository)).scalar()
    if repository_id is not None:
        queue_tag_target(conn, repository_id, tag, at)
