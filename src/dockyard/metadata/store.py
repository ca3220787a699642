"""The metadata store: repositories, blob links, manifests, references and tags.

Calls are synchronous and short; writers are run in a worker thread by the services. Every
change a client sees as one step (a manifest put with its tag, a digest delete with its tags)
is one transaction.
"""

import json
import time
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    delete,
    exists,
    insert,
    select,
    update,
)

from dockyard.metadata import queries, review_queries
from dockyard.metadata.engine import create_engines
from dockyard.metadata.migrate import upgrade_to_head
from dockyard.metadata.records import (
    ManifestRecord,
    MissingReferences,
    NewManifest,
    QuotaExceeded,
    Referrer,
    SizeMismatch,
    TagImmutable,
)
from dockyard.metadata.schema import (
    blobs,
    manifest_blobs,
    manifest_children,
    manifests,
    repositories,
    repository_blobs,
    tags,
)
from dockyard.quota.usage import check_room


class MetadataStore:
    """SQL-backed metadata (SQLite by default) behind plain method calls."""

    def __init__(self, url: str, migrate: bool = True):
        self._read, self._write = create_engines(url)
        self._link_statements = queries.link_statements(self._write.dialect.name)
        self._queue_link = review_queries.link_queue_statement(self._write.dialect.name)
        if migrate:
            upgrade_to_head(self._write)

    @property
    def write_engine(self) -> Engine:
        return self._write

    def close(self) -> None:
        self._read.dispose()
        self._write.dispose()

    # Repositories and blob links

    def repository_exists(self, name: str) -> bool:
        with self._read.connect() as conn:
            return conn.execute(queries.REPOSITORY_ID, {"name": name}).scalar() is not None

    def linked_blob_size(self, repository: str, digest: str) -> int | None:
        """The blob's size if ``repository`` may reach it, else None."""
        with self._read.connect() as conn:
            return conn.execute(queries.LINKED_BLOB_SIZE,
                                {"repository": repository, "digest": digest}).scalar()

    def link_blob(self, repository: str, digest: str, size: int,
                  quota: int | None = None) -> None:
        """Record a stored blob and let ``repository`` reach it.

        With a ``quota`` (bytes), raise QuotaExceeded first, inside the same transaction,
        when the blob is new to the namespace and would take it over the limit.
        """
        values = {"repository": repository, "digest": digest, "size": size, "now": time.time()}
        try:
            with self._write.begin() as conn:
                if quota is not None:
                    check_room(conn, repository, digest, size, quota, serialise=True)
                for statement in self._link_statements:
                    conn.execute(statement, values)
                conn.execute(self._queue_link, values)  # Never referenced? Reviewed later.
        except QuotaExceeded:
            self._queue_unrecorded_file(digest)
            raise

    def _queue_unrecorded_file(self, digest: str) -> None:
        """A push refused by its quota after its bytes reached ``blobs/`` (a concurrent push
        took the room after the early check): when no row records the digest, hand the file
        to the online collector, which re-checks under the blob's stripe lock before removing
        it, so a concurrent push of the same digest keeps its bytes."""
        with self._write.begin() as conn:
            if conn.execute(select(blobs.c.digest).where(blobs.c.digest == digest)).first() \
                    is None:
                review_queries.queue(conn, review_queries.FILE, review_queries.GLOBAL,
                                     [digest], time.time())

    def check_quota(self, repository: str, digest: str, size: int, quota: int) -> None:
        """QuotaExceeded if recording ``digest`` now would pass ``quota``; a read-only early
        check, so a refused upload is dropped before its bytes are moved into place."""
        with self._read.connect() as conn:
            check_room(conn, repository, digest, size, quota)

    def unlink_blob(self, repository: str, digest: str) -> bool:
        """Remove ``repository``'s link to a blob; False when there was none."""
        with self._write.begin() as conn:
            repository_id = _repository_id(conn, repository)
            if repository_id is None:
                return False
            result = conn.execute(delete(repository_blobs).where(
                repository_blobs.c.repository_id == repository_id,
                repository_blobs.c.digest == digest))
            if result.rowcount > 0:
                review_queries.queue(conn, review_queries.BLOB, review_queries.GLOBAL, [digest],
                                     time.time())
            return result.rowcount > 0

    # Manifests and tags

    def get_manifest(self, repository: str, reference: str, by_digest: bool
                     ) -> ManifestRecord | None:
        """The manifest a tag or digest names in ``repository``."""
        query = queries.MANIFEST_BY_DIGEST if by_digest else queries.MANIFEST_BY_TAG
        with self._read.connect() as conn:
            row = conn.execute(query, {"repository": repository, "reference": reference}).first()
        return None if row is None else ManifestRecord(row.digest, row.media_type, row.size)

    def put_manifest(self, new: NewManifest) -> None:
        """Record a manifest, its references and its tag; raise MissingReferences first."""
        try:
            self._put_manifest(new)
        except QuotaExceeded:  # The manifest's bytes were written before the transaction.
            self._queue_unrecorded_file(new.digest)
            raise

    def _put_manifest(self, new: NewManifest) -> None:
        now = time.time()
        with self._write.begin() as conn:
            repository_id = _ensure_repository(conn, new.repository, now)
            _check_references(conn, repository_id, new)
            if new.quota is not None:
                check_room(conn, new.repository, new.digest, new.size, new.quota,
                           serialise=True)
            manifest_id = _upsert_manifest(conn, repository_id, new, now)
            if conn.execute(select(blobs.c.digest).where(blobs.c.digest == new.digest)).first() \
                    is None:
                conn.execute(insert(blobs).values(digest=new.digest, size=new.size,
                                                  created_at=now))
            if new.tag is not None:
                if new.tag_immutable:
                    _refuse_moving(conn, repository_id, new.tag, new.digest)
                review_queries.queue_tag_target(conn, repository_id, new.tag, now,
                                                unless=new.digest)  # The image it moves off.
                _set_tag(conn, repository_id, new.tag, manifest_id, now)
            else:  # Pushed by digest: untagged unless an index or subject keeps it.
                review_queries.queue(conn, review_queries.MANIFEST, repository_id,
                                     [new.digest], now)

    def manifest_tags(self, repository: str, digest: str) -> list[str]:
        """The tags of ``repository`` that name the manifest ``digest``."""
        with self._read.connect() as conn:
            return list(conn.execute(queries.MANIFEST_TAGS,
                                     {"repository": repository, "digest": digest}).scalars())

    def delete_manifest(self, repository: str, digest: str, only_if_untagged: bool = False
                        ) -> bool:
        """Remove a manifest and every tag on it; False when the repository lacks it.

        ``only_if_untagged`` (retention's untagged cleanup) deletes only while no tag names it
        and no index of the repository lists it, decided inside the delete's transaction so a
        push that tags or adopts it meanwhile wins.
        """
        repository_id = select(repositories.c.id).where(
            repositories.c.name == repository).scalar_subquery()
        condition = [manifests.c.digest == digest, manifests.c.repository_id == repository_id]
        if only_if_untagged:
            parents = manifests.alias("parents")
            condition += [
                ~exists().where(tags.c.manifest_id == manifests.c.id),
                ~exists().where(manifest_children.c.child_digest == digest,
                                manifest_children.c.manifest_id == parents.c.id,
                                parents.c.repository_id == repository_id)]
        with self._write.begin() as conn:
            review_queries.queue_deleted_manifests(conn, repository, digest, time.time())
            return conn.execute(delete(manifests).where(*condition)).rowcount > 0

    def delete_tag(self, repository: str, tag: str,
                   if_unchanged: tuple[str, float] | None = None) -> bool:
        """Remove one tag, leaving its manifest; False when there was no such tag.

        ``if_unchanged=(digest, updated_at)`` (retention) deletes only while the tag still
        names that manifest since that push, checked inside the delete's transaction: a push
        that moves or re-sets the tag after retention judged it keeps it.
        """
        repository_id = select(repositories.c.id).where(
            repositories.c.name == repository).scalar_subquery()
        condition = [tags.c.name == tag, tags.c.repository_id == repository_id]
        if if_unchanged is not None:
            digest, updated_at = if_unchanged
            condition += [tags.c.updated_at == updated_at, tags.c.manifest_id == select(
                manifests.c.id).where(manifests.c.repository_id == repository_id,
                                      manifests.c.digest == digest).scalar_subquery()]
        with self._write.begin() as conn:
            review_queries.queue_deleted_tag(conn, repository, tag, time.time())
            return conn.execute(delete(tags).where(*condition)).rowcount > 0

    # Listings

    def list_tags(self, repository: str, last: str | None, limit: int) -> list[str] | None:
        """Up to ``limit`` tags after ``last`` in order; None for an unknown repository."""
        with self._read.connect() as conn:
            found = list(conn.execute(queries.TAGS_PAGE, {
                "repository": repository, "last": last or "", "limit": limit}).scalars())
            if not found and conn.execute(queries.REPOSITORY_ID,
                                          {"name": repository}).scalar() is None:
                return None
            return found

    def list_repositories(self, last: str | None, limit: int) -> list[str]:
        """Up to ``limit`` repository names after ``last``, in order."""
        with self._read.connect() as conn:
            return list(conn.execute(queries.REPOSITORIES_PAGE,
                                     {"last": last or "", "limit": limit}).scalars())

    def referrers(self, repository: str, subject: str) -> list[Referrer]:
        """Manifests in ``repository`` whose subject is ``subject``, oldest first."""
        query = (select(manifests.c.digest, manifests.c.media_type, manifests.c.size,
                        manifests.c.artifact_type, manifests.c.annotations)
                 .select_from(repositories.join(manifests))
                 .where(repositories.c.name == repository, manifests.c.subject_digest == subject)
                 .order_by(manifests.c.created_at, manifests.c.digest))
        with self._read.connect() as conn:
            rows = conn.execute(query).all()
        return [Referrer(r.digest, r.media_type, r.size, r.artifact_type,
                         json.loads(r.annotations) if r.annotations else None) for r in rows]


def _repository_id(conn: Connection, name: str) -> int | None:
    return conn.execute(select(repositories.c.id).where(repositories.c.name == name)).scalar()


def _ensure_repository(conn: Connection, name: str, now: float) -> int:
    repository_id = _repository_id(conn, name)
    if repository_id is None:
        repository_id = _inserted_id(conn.execute(
            insert(repositories).values(name=name, created_at=now)))
    return int(repository_id)


def _inserted_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _check_references(conn: Connection, repository_id: int, new: NewManifest) -> None:
    wanted_blobs = set(new.blob_digests)
    wanted_children = set(new.child_digests)
    sizes: dict[str, int] = {}
    if wanted_blobs:
        query = (select(repository_blobs.c.digest, blobs.c.size)
                 .select_from(repository_blobs.join(blobs))
                 .where(repository_blobs.c.repository_id == repository_id,
                        repository_blobs.c.digest.in_(wanted_blobs)))
        sizes = {row.digest: row.size for row in conn.execute(query)}
    found_blobs = set(sizes)
    found_children = set(conn.execute(select(manifests.c.digest).where(
        manifests.c.repository_id == repository_id,
        manifests.c.digest.in_(wanted_children))).scalars()) if wanted_children else set()
    missing_blobs = sorted(wanted_blobs - found_blobs)
    missing_children = sorted(wanted_children - found_children)
    if missing_blobs or missing_children:
        raise MissingReferences(missing_blobs, missing_children)
    for digest, declared in new.declared_sizes:
        if digest in sizes and sizes[digest] != declared:
            raise SizeMismatch(digest, declared, sizes[digest])


def _upsert_manifest(conn: Connection, repository_id: int, new: NewManifest, now: float) -> int:
    existing = conn.execute(select(manifests.c.id).where(
        manifests.c.repository_id == repository_id, manifests.c.digest == new.digest)).scalar()
    if existing is not None:
        return int(existing)
    manifest_id = _inserted_id(conn.execute(insert(manifests).values(
        repository_id=repository_id, digest=new.digest, media_type=new.media_type,
        size=new.size, artifact_type=new.artifact_type, subject_digest=new.subject_digest,
        annotations=json.dumps(new.annotations) if new.annotations else None,
        created_at=now)))
    if new.blob_digests:
        conn.execute(insert(manifest_blobs), [
            {"manifest_id": manifest_id, "digest": d} for d in set(new.blob_digests)])
    if new.child_digests:
        conn.execute(insert(manifest_children), [
            {"manifest_id": manifest_id, "child_digest": d} for d in set(new.child_digests)])
    return manifest_id


def _refuse_moving(conn: Connection, repository_id: int, tag: str, digest: str) -> None:
    """Inside the put's transaction, so no interleaving can move a protected tag."""
    current = conn.execute(
        select(manifests.c.digest).select_from(tags.join(
            manifests, manifests.c.id == tags.c.manifest_id))
        .where(tags.c.repository_id == repository_id, tags.c.name == tag)).scalar()
    if current is not None and current != digest:
        raise TagImmutable(tag, current)


def _set_tag(conn: Connection, repository_id: int, tag: str, manifest_id: int,
             now: float) -> None:
    moved = conn.execute(update(tags).where(
        tags.c.repository_id == repository_id, tags.c.name == tag).values(
        manifest_id=manifest_id, updated_at=now))
    if moved.rowcount == 0:
        conn.execute(insert(tags).values(repository_id=repository_id, name=tag,
                                         manifest_id=manifest_id, updated_at=now))


__all__ = ["MetadataStore", "MissingReferences", "QuotaExceeded"]
