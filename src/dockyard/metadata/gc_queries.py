"""The SQL garbage-collect runs: read the reference graph, delete what nothing reaches.

Reads return plain tuples so the mark phase works on the whole graph in memory. Every delete
re-checks its condition inside its own write transaction, so a manifest put that commits
between the mark and the sweep (possible only with ``--force``) keeps what it references:
either its transaction saw the blob (then the sweep's re-check sees the reference and keeps
it), or the sweep removed the blob first (then the put fails with MANIFEST_BLOB_UNKNOWN).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Engine, delete, exists, not_, select

from dockyard.metadata.schema import (
    blobs,
    manifest_blobs,
    manifest_children,
    manifests,
    repositories,
    repository_blobs,
    tags,
)

BATCH = 500
K = TypeVar("K", int, str)


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One manifest as the mark phase sees it."""

    id: int
    repository_id: int
    repository: str
    digest: str
    subject_digest: str | None


@dataclass
class Graph:
    """Every manifest, what each references, and which ones tags reach."""

    manifests: list[ManifestRow]
    tagged: set[int]
    blobs_of: dict[int, list[str]]
    children_of: dict[int, list[str]]


def load_graph(engine: Engine) -> Graph:
    """The whole reference graph, manifests ordered by repository name and digest."""
    with engine.connect() as conn:
        rows = [ManifestRow(r.id, r.repository_id, r.name, r.digest, r.subject_digest)
                for r in conn.execute(
                    select(manifests.c.id, manifests.c.repository_id, repositories.c.name,
                           manifests.c.digest, manifests.c.subject_digest)
                    .select_from(manifests.join(repositories))
                    .order_by(repositories.c.name, manifests.c.digest))]
        tagged = set(conn.execute(select(tags.c.manifest_id).distinct()).scalars())
        blobs_of: dict[int, list[str]] = {}
        for manifest_id, digest in conn.execute(
                select(manifest_blobs.c.manifest_id, manifest_blobs.c.digest)
                .order_by(manifest_blobs.c.manifest_id, manifest_blobs.c.digest)):
            blobs_of.setdefault(manifest_id, []).append(digest)
        children_of: dict[int, list[str]] = {}
        for manifest_id, digest in conn.execute(
                select(manifest_children.c.manifest_id, manifest_children.c.child_digest)
                .order_by(manifest_children.c.manifest_id, manifest_children.c.child_digest)):
            children_of.setdefault(manifest_id, []).append(digest)
    return Graph(rows, tagged, blobs_of, children_of)


def iter_blobs(engine: Engine) -> Iterator[tuple[str, int]]:
    """``(digest, size)`` of every blob row, in digest order."""
    with engine.connect() as conn:
        yield from ((r.digest, r.size) for r in conn.execute(
            select(blobs.c.digest, blobs.c.size).order_by(blobs.c.digest)))


def blob_row_exists(engine: Engine, digest: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(blobs.c.digest).where(blobs.c.digest == digest)).first() \
            is not None


def delete_untagged(engine: Engine, manifest_ids: Iterable[int]) -> set[int]:
    """Delete manifests that are still untagged; returns the ids actually deleted."""
    deleted: set[int] = set()
    for chunk in _batches(manifest_ids):
        with engine.begin() as conn:
            untagged = set(conn.execute(select(manifests.c.id).where(
                manifests.c.id.in_(chunk),
                not_(exists().where(tags.c.manifest_id == manifests.c.id)))).scalars())
            if untagged:
                conn.execute(delete(manifests).where(manifests.c.id.in_(untagged)))
            deleted |= untagged
    return deleted


def sweep_blobs(engine: Engine, digests: Iterable[str]) -> set[str]:
    """Delete the rows (links, then blob) of blobs nothing references; returns those deleted.

    "Referenced" is re-checked in the same transaction: a manifest's own digest, one of its
    config/layer blobs, or an index's child.
    """
    deleted: set[str] = set()
    for chunk in _batches(digests):
        with engine.begin() as conn:
            free = set(conn.execute(select(blobs.c.digest).where(
                blobs.c.digest.in_(chunk),
                not_(exists().where(manifests.c.digest == blobs.c.digest)),
                not_(exists().where(manifest_blobs.c.digest == blobs.c.digest)),
                not_(exists().where(manifest_children.c.child_digest == blobs.c.digest)),
            )).scalars())
            if free:
                conn.execute(delete(repository_blobs).where(
                    repository_blobs.c.digest.in_(free)))
                conn.execute(delete(blobs).where(blobs.c.digest.in_(free)))
            deleted |= free
    return deleted


def _batches(items: Iterable[K]) -> Iterator[list[K]]:
    """Distinct items in sorted runs of ``BATCH``: one short write transaction per run."""
    ordered = sorted(set(items))
    for start in range(0, len(ordered), BATCH):
        yield ordered[start:start + BATCH]
