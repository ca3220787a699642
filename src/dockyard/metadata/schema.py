"""Tables of the metadata database, the source of truth for what each repository holds.

Blob and manifest bytes live in the blob store; these tables say which repository may reach
which blob (``repository_blobs``, Distribution's ``_layers`` links), which manifests a
repository holds, what each manifest references, and where each tag points.
"""

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

repositories = Table(
    "repositories", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

blobs = Table(
    "blobs", metadata,
    Column("digest", String(135), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
)

repository_blobs = Table(
    "repository_blobs", metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"),
           primary_key=True),
    Column("digest", String(135), ForeignKey("blobs.digest"), primary_key=True),
    Column("created_at", Float, nullable=False),
    Index("ix_repository_blobs_digest", "digest"),
)

manifests = Table(
    "manifests", metadata,
    Column("id", Integer, primary_key=True),
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"),
           nullable=False),
    Column("digest", String(135), nullable=False),
    Column("media_type", String(255), nullable=False),
    Column("size", Integer, nullable=False),
    Column("artifact_type", String(255)),
    Column("subject_digest", String(135)),
    Column("annotations", Text),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("repository_id", "digest", name="uq_manifests_repository_digest"),
    Index("ix_manifests_subject", "repository_id", "subject_digest"),
    Index("ix_manifests_digest", "digest"),
)

manifest_blobs = Table(
    "manifest_blobs", metadata,
    Column("manifest_id", Integer, ForeignKey("manifests.id", ondelete="CASCADE"),
           primary_key=True),
    Column("digest", String(135), primary_key=True),
    Index("ix_manifest_blobs_digest", "digest"),
)

manifest_children = Table(
    "manifest_children", metadata,
    Column("manifest_id", Integer, ForeignKey("manifests.id", ondelete="CASCADE"),
           primary_key=True),
    Column("child_digest", String(135), primary_key=True),
    Index("ix_manifest_children_child", "child_digest"),
)

tags = Table(
    "tags", metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"),
           primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("manifest_id", Integer, ForeignKey("manifests.id", ondelete="CASCADE"),
           nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_tags_manifest", "manifest_id"),
)
