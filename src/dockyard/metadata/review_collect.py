"""The collector's side of the review queue: re-check due candidates, delete what is free.

:func:`collect_batch` runs inside ONE write transaction. On SQLite that transaction starts
with ``BEGIN IMMEDIATE`` (:mod:`dockyard.metadata.engine`), so it holds the database's write
lock before its first read: no manifest put, tag change or blob link can commit between a
re-check and the delete it justifies, and a put that commits first is seen by the re-check.
Every push/collect interleaving is therefore one of two serial orders, both safe: the put
first (the object is referenced, the candidate is dropped) or the collection first (the put
finds the link gone and fails cleanly with MANIFEST_BLOB_UNKNOWN). On PostgreSQL the same
code needs row locks instead: ``SELECT ... FOR UPDATE`` on the candidate's manifest, link or
blob row, and the writers' reference checks taking ``FOR SHARE`` on the rows they depend on.

Rules (a candidate that fails its rule is dropped from the queue; whatever later makes it
garbage queues it again):

* manifest: no tag names it, no index of its repository lists it, its subject (if any) is
  not a manifest of its repository. Deleting it queues its blob links, its own bytes, its
  children and its referrers, due at once.
* link: no manifest of its repository references the blob, and it is older than the delay.
  Deleting it queues the blob.
* blob: no repository links it and no manifest is, references or lists it. Its row goes and
  the queue keeps a ``file`` entry until the bytes are gone (:mod:`dockyard.gc.online.files`).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, bindparam, case, delete, exists, func, or_, select

from dockyard.metadata.review_queries import (
    BLOB,
    FILE,
    GLOBAL,
    LINK,
    MANIFEST,
    manifest_dependents,
    queue_statement,
)
from dockyard.metadata.schema import (
    blobs,
    gc_review_queue,
    manifest_blobs,
    manifest_children,
    manifests,
    repositories,
    repository_blobs,
    tags,
)


@dataclass(frozen=True, slots=True)
class Rules:
    """What the collector may take."""

    delay: float
    batch: int
    untagged: bool
    protected: frozenset[str] = frozenset()  # Digests it must keep (unindexed registry:2).
    # A link younger than this is kept even unreferenced: a push uploads its blobs first and
    # names them in its manifest a moment later (``dockyard.gc.uploadgrace``, >= delay).
    link_grace: float = 0.0


@dataclass
class Batch:
    """What one transaction deleted (or, in a dry run, would delete)."""

    examined: int = 0
    manifests: list[tuple[str, str]] = field(default_factory=list)  # (repository, digest)
    links: list[tuple[str, str]] = field(default_factory=list)      # (repository, digest)
    blobs: list[tuple[str, int]] = field(default_factory=list)      # (digest, size)

    @property
    def changed(self) -> bool:
        return bool(self.manifests or self.links or self.blobs)


@dataclass(frozen=True, slots=True)
class _Candidate:
    id: int
    kind: str
    repository_id: int
    repository: str | None
    digest: str


_DUE = (
    select(gc_review_queue.c.id, gc_review_queue.c.kind, gc_review_queue.c.repository_id,
           repositories.c.name, gc_review_queue.c.digest)
    .select_from(gc_review_queue.outerjoin(
        repositories, repositories.c.id == gc_review_queue.c.repository_id))
    .where(gc_review_queue.c.kind != FILE, gc_review_queue.c.queued_at <= bindparam("cutoff"))
    .order_by(gc_review_queue.c.queued_at, gc_review_queue.c.id)
    .limit(bindparam("limit")))


def collect_batch(conn: Connection, now: float, rules: Rules) -> Batch:
    """Re-check up to ``rules.batch`` due candidates and delete the free ones."""
    due = [_Candidate(r.id, r.kind, r.repository_id, r.name, r.digest) for r in conn.execute(
        _DUE, {"cutoff": now - rules.delay, "limit": rules.batch})]
    batch = Batch(examined=len(due))
    if not due:
        return batch
    # Take the whole batch out of the queue first; whatever must be reviewed again (a link
    # linked anew, the dependents of a deleted manifest, even a candidate of this batch) is
    # queued again at the end, in the same transaction.
    conn.execute(delete(gc_review_queue).where(gc_review_queue.c.id.in_([c.id for c in due])))
    requeue = _Requeue()
    for candidate in due:
        if candidate.kind == MANIFEST:
            _review_manifest(conn, candidate, now, rules, batch, requeue)
        elif candidate.kind == LINK:
            _review_link(conn, candidate, now, rules, batch, requeue)
        else:
            _review_blob(conn, candidate, now, rules, batch, requeue)
    requeue.write(conn)
    return batch


class _Requeue:
    """Queue rows a batch adds, written with one statement at its end (the last one wins)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, int, str], float] = {}

    def add(self, kind: str, repository_id: int, digests: Sequence[str], at: float) -> None:
        for digest in digests:
            self._rows[(kind, repository_id, digest)] = at

    def write(self, conn: Connection) -> None:
        if self._rows:
            conn.execute(queue_statement(conn.dialect.name), [
                {"kind": k, "repository_id": r, "digest": d, "queued_at": at}
                for (k, r, d), at in self._rows.items()])


_MANIFEST = select(manifests.c.id, manifests.c.subject_digest).where(
    manifests.c.repository_id == bindparam("repository_id"),
    manifests.c.digest == bindparam("digest"))
_MANIFEST_KEPT = select(or_(
    exists().where(tags.c.manifest_id == bindparam("manifest_id")),
    exists().where(manifest_children.c.child_digest == bindparam("digest"),
                   manifest_children.c.manifest_id == manifests.c.id,
                   manifests.c.repository_id == bindparam("repository_id")),
    exists().where(manifests.c.repository_id == bindparam("repository_id"),
                   manifests.c.digest == bindparam("subject"))))
_DELETE_MANIFEST = delete(manifests).where(manifests.c.id == bindparam("manifest_id"))
_LINK = select(repository_blobs.c.created_at, exists().where(
    manifest_blobs.c.digest == bindparam("digest"),
    manifest_blobs.c.manifest_id == manifests.c.id,
    manifests.c.repository_id == bindparam("repository_id")).label("referenced")).where(
    repository_blobs.c.repository_id == bindparam("repository_id"),
    repository_blobs.c.digest == bindparam("digest"))
_DELETE_LINK = delete(repository_blobs).where(
    repository_blobs.c.repository_id == bindparam("repository_id"),
    repository_blobs.c.digest == bindparam("digest"))
_BLOB = select(blobs.c.size, or_(
    exists().where(repository_blobs.c.digest == bindparam("digest")),
    exists().where(manifests.c.digest == bindparam("digest")),
    exists().where(manifest_blobs.c.digest == bindparam("digest")),
    exists().where(manifest_children.c.child_digest == bindparam("digest"))
).label("referenced")).where(blobs.c.digest == bindparam("digest"))
_DELETE_BLOB = delete(blobs).where(blobs.c.digest == bindparam("digest"))


def _values(candidate: _Candidate) -> dict[str, object]:
    return {"id": candidate.id, "repository_id": candidate.repository_id,
            "digest": candidate.digest}


def _review_manifest(conn: Connection, candidate: _Candidate, now: float, rules: Rules,
                     batch: Batch, requeue: _Requeue) -> None:
    values = _values(candidate)
    row = conn.execute(_MANIFEST, values).first()
    if row is None or not rules.untagged or candidate.digest in rules.protected:
        return
    values.update(manifest_id=row.id, subject=row.subject_digest)
    if conn.execute(_MANIFEST_KEPT, values).scalar():
        return
    for kind, repository_id, digests in manifest_dependents(
            conn, row.id, candidate.repository_id, candidate.digest):
        requeue.add(kind, repository_id, digests, now - rules.delay)
    conn.execute(_DELETE_MANIFEST, values)
    batch.manifests.append((candidate.repository or "", candidate.digest))


def _review_link(conn: Connection, candidate: _Candidate, now: float, rules: Rules,
                 batch: Batch, requeue: _Requeue) -> None:
    values = _values(candidate)
    link = conn.execute(_LINK, values).first()
    keep_for = max(rules.delay, rules.link_grace)
    if link is not None and link.created_at > now - keep_for:
        # Linked (again) recently: review it when that link is old enough.
        requeue.add(LINK, candidate.repository_id, [candidate.digest],
                    link.created_at + keep_for - rules.delay)
        return
    if link is None or link.referenced or candidate.digest in rules.protected:
        return
    conn.execute(_DELETE_LINK, values)
    requeue.add(BLOB, GLOBAL, [candidate.digest], now - rules.delay)
    batch.links.append((candidate.repository or "", candidate.digest))


def _review_blob(conn: Connection, candidate: _Candidate, now: float, rules: Rules,
                 batch: Batch, requeue: _Requeue) -> None:
    if candidate.digest in rules.protected:
        return
    values = _values(candidate)
    blob = conn.execute(_BLOB, values).first()
    if blob is not None:
        if blob.referenced:
            return
        conn.execute(_DELETE_BLOB, values)
        batch.blobs.append((candidate.digest, int(blob.size)))
    # With or without a row now, its bytes may still be on disk.
    requeue.add(FILE, GLOBAL, [candidate.digest], now)


def pending_files(engine: Engine, limit: int) -> list[str]:
    """Digests whose rows are gone and whose bytes may still be on disk."""
    with engine.connect() as conn:
        return list(conn.execute(
            select(gc_review_queue.c.digest).where(gc_review_queue.c.kind == FILE)
            .order_by(gc_review_queue.c.id).limit(limit)).scalars())


def blob_rows_among(engine: Engine, digests: Sequence[str]) -> set[str]:
    """Which of ``digests`` have a blob row (read now, after the caller took its locks)."""
    if not digests:
        return set()
    with engine.connect() as conn:
        return set(conn.execute(select(blobs.c.digest).where(
            blobs.c.digest.in_(list(digests)))).scalars())


def forget_files(engine: Engine, digests: Sequence[str]) -> None:
    """Drop the ``file`` entries of digests whose bytes are gone (or that were recorded again)."""
    if digests:
        with engine.begin() as conn:
            conn.execute(delete(gc_review_queue).where(
                gc_review_queue.c.kind == FILE, gc_review_queue.c.digest.in_(list(digests))))


def queue_summary(engine: Engine, now: float, delay: float) -> dict[str, tuple[int, int]]:
    """Per kind: (queued, due now); ``file`` entries are always due."""
    due = or_(gc_review_queue.c.kind == FILE, gc_review_queue.c.queued_at <= now - delay)
    with engine.connect() as conn:
        return {kind: (int(total), int(ready or 0)) for kind, total, ready in conn.execute(
            select(gc_review_queue.c.kind, func.count(),
                   func.sum(case((due, 1), else_=0)))
            .group_by(gc_review_queue.c.kind))}
