"""The hot read statements, built once with bind parameters.

Building a ``select()`` per call cost more than running it; these constructs are made at
import and SQLAlchemy's compiled cache does the rest. ``last=""`` means "from the start":
every tag and repository name is non-empty and sorts after the empty string.
"""

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dockyard.metadata.schema import blobs, manifests, repositories, repository_blobs, tags

REPOSITORY_ID = select(repositories.c.id).where(repositories.c.name == bindparam("name"))

LINKED_BLOB_SIZE = (
    select(blobs.c.size)
    .select_from(repositories.join(repository_blobs).join(blobs))
    .where(repositories.c.name == bindparam("repository"),
           repository_blobs.c.digest == bindparam("digest")))

_MANIFEST_COLUMNS = (manifests.c.digest, manifests.c.media_type, manifests.c.size)

MANIFEST_BY_DIGEST = (
    select(*_MANIFEST_COLUMNS)
    .select_from(repositories.join(manifests))
    .where(repositories.c.name == bindparam("repository"),
           manifests.c.digest == bindparam("reference")))

MANIFEST_BY_TAG = (
    select(*_MANIFEST_COLUMNS)
    .select_from(repositories.join(tags).join(manifests, manifests.c.id == tags.c.manifest_id))
    .where(repositories.c.name == bindparam("repository"), tags.c.name == bindparam("reference")))

MANIFEST_TAGS = (
    select(tags.c.name)
    .select_from(repositories.join(tags).join(manifests, manifests.c.id == tags.c.manifest_id))
    .where(repositories.c.name == bindparam("repository"),
           manifests.c.digest == bindparam("digest"))
    .order_by(tags.c.name))

TAGS_PAGE = (
    select(tags.c.name)
    .select_from(repositories.join(tags))
    .where(repositories.c.name == bindparam("repository"), tags.c.name > bindparam("last"))
    .order_by(tags.c.name)
    .limit(bindparam("limit")))

REPOSITORIES_PAGE = (
    select(repositories.c.name)
    .where(repositories.c.name > bindparam("last"))
    .order_by(repositories.c.name)
    .limit(bindparam("limit")))


def link_statements(dialect: str) -> tuple[Any, Any, Any]:
    """Upsert statements for a blob link: repository and blob if absent, link refreshed.

    ``ON CONFLICT DO NOTHING`` makes each one statement instead of a look-up and an insert;
    SQLite and PostgreSQL spell it the same way in SQLAlchemy.
    """
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    link = insert(repository_blobs).from_select(
        ["repository_id", "digest", "created_at"],
        select(repositories.c.id, bindparam("digest"), bindparam("now"))
        .where(repositories.c.name == bindparam("repository")))
    return (
        insert(repositories).values(name=bindparam("repository"), created_at=bindparam("now"))
        .on_conflict_do_nothing(index_elements=["name"]),
        insert(blobs).values(digest=bindparam("digest"), size=bindparam("size"),
                             created_at=bindparam("now"))
        .on_conflict_do_nothing(index_elements=["digest"]),
        # Linking again (a re-upload, a mount) makes the link young again, so the online
        # collector's grace for fresh uploads covers it: the push that re-sent it wins.
        link.on_conflict_do_update(index_elements=["repository_id", "digest"],
                                   set_={"created_at": link.excluded.created_at}),
    )
