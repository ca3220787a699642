"""The SQL retention reads: one repository's tags and manifests, and re-checks before deletes.

A repository is read inside one transaction, so its tags and manifests agree with each other.
On SQLite that transaction (on the write engine, ``BEGIN IMMEDIATE``) holds pushes back for
the few milliseconds the reads take, one repository at a time.
"""

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, exists, select
from sqlalchemy.orm import aliased

from dockyard.metadata.schema import (
    manifest_children,
    manifests,
    pull_times,
    repositories,
    tags,
)
from dockyard.retention.policy import TagState
from dockyard.retention.untagged import ManifestState


@dataclass(frozen=True, slots=True)
class RepositorySnapshot:
    name: str
    tags: list[TagState]
    manifests: list[ManifestState]


def repository_names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(repositories.c.name).order_by(repositories.c.name))
                    .scalars())


def read_repository(engine: Engine, name: str, with_manifests: bool) -> RepositorySnapshot:
    """Tags with their push and pull times; manifests only when the cleanup needs them."""
    with engine.begin() as conn:
        repository_id = conn.execute(select(repositories.c.id).where(
            repositories.c.name == name)).scalar()
        if repository_id is None:
            return RepositorySnapshot(name, [], [])
        found_tags = _tags(conn, repository_id)
        found_manifests = _manifests(conn, repository_id) if with_manifests else []
    return RepositorySnapshot(name, found_tags, found_manifests)


def _tags(conn: Connection, repository_id: int) -> list[TagState]:
    """A tag's pull time is the later of a pull by its name and a pull of its digest.

    A pull by name from before the tag's last push fetched what the tag named then, so it
    does not count: a tag deleted or moved and pushed again starts with no pull.
    """
    by_tag = aliased(pull_times)
    by_digest = aliased(pull_times)
    query = (select(tags.c.name, manifests.c.digest, tags.c.updated_at,
                    by_tag.c.pulled_at.label("tag_pull"),
                    by_digest.c.pulled_at.label("digest_pull"))
             .select_from(tags.join(manifests, manifests.c.id == tags.c.manifest_id)
                          .outerjoin(by_tag, (by_tag.c.repository_id == tags.c.repository_id)
                                     & (by_tag.c.reference == tags.c.name))
                          .outerjoin(by_digest,
                                     (by_digest.c.repository_id == tags.c.repository_id)
                                     & (by_digest.c.reference == manifests.c.digest)))
             .where(tags.c.repository_id == repository_id)
             .order_by(tags.c.name))
    found = []
    for row in conn.execute(query):
        pulls = [t for t in (row.digest_pull,) if t is not None]
        if row.tag_pull is not None and row.tag_pull >= row.updated_at:
            pulls.append(row.tag_pull)
        found.append(TagState(row.name, row.digest, row.updated_at,
                              max(pulls) if pulls else None))
    return found


def _manifests(conn: Connection, repository_id: int) -> list[ManifestState]:
    children: dict[int, list[str]] = {}
    for manifest_id, child in conn.execute(
            select(manifest_children.c.manifest_id, manifest_children.c.child_digest)
            .select_from(manifest_children.join(manifests))
            .where(manifests.c.repository_id == repository_id)):
        children.setdefault(manifest_id, []).append(child)
    tagged = exists().where(tags.c.manifest_id == manifests.c.id)
    query = (select(manifests.c.id, manifests.c.digest, manifests.c.created_at,
                    manifests.c.subject_digest, tagged.label("tagged"))
             .where(manifests.c.repository_id == repository_id)
             .order_by(manifests.c.digest))
    return [ManifestState(r.digest, r.created_at, bool(r.tagged), r.subject_digest,
                          tuple(sorted(children.get(r.id, ()))))
            for r in conn.execute(query)]
