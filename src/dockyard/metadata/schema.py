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

# Retention (migration 0004). Pull times are flushed in batches by each serving process;
# ``reference`` is a tag name or a digest (tags never contain ':', digests always do).
pull_times = Table(
    "pull_times", metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"),
           primary_key=True),
    Column("reference", String(135), primary_key=True),
    Column("pulled_at", Float, nullable=False),
)

retention_runs = Table(
    "retention_runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("dry_run", Integer, nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("tags_deleted", Integer, nullable=False, default=0),
    Column("tags_kept", Integer, nullable=False, default=0),
    Column("manifests_deleted", Integer, nullable=False, default=0),
    Column("error", Text),
)

retention_deletions = Table(
    "retention_deletions", metadata,
    Column("run_id", Integer, ForeignKey("retention_runs.id", ondelete="CASCADE"),
           primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("repository", String(255), nullable=False),
    Column("tag", String(128)),
    Column("digest", String(135), nullable=False),
)

# Online garbage collection (dockyard.gc.online): objects a change may have orphaned, waiting
# for the collector's re-check. ``kind`` is ``manifest`` or ``link`` (per repository), ``blob``
# (global, repository_id 0), or ``file`` (the blob's row is gone, its bytes are not yet).
gc_review_queue = Table(
    "gc_review_queue", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("repository_id", Integer, nullable=False),
    Column("digest", String(135), nullable=False),
    Column("queued_at", Float, nullable=False),
    UniqueConstraint("kind", "repository_id", "digest", name="uq_gc_review_object"),
    Index("ix_gc_review_due", "queued_at"),
)

# Quotas (dockyard.quota): the distinct digests each namespace (first component of a
# repository name) reaches, with how many link or manifest rows hold each, and their sum.
# Kept by the triggers of migration 0003; never written by application code.
namespace_blobs = Table(
    "namespace_blobs", metadata,
    Column("namespace", String(255), primary_key=True),
    Column("digest", String(135), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("refcount", Integer, nullable=False),
)

namespace_usage = Table(
    "namespace_usage", metadata,
    Column("namespace", String(255), primary_key=True),
    Column("bytes", BigInteger, nullable=False),
    Column("blob_count", Integer, nullable=False),
)
