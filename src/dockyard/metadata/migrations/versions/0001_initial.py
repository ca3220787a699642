"""Initial schema: repositories, blobs, manifests, references and tags.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repositories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "blobs",
        sa.Column("digest", sa.String(135), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "repository_blobs",
        sa.Column("repository_id", sa.Integer,
                  sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("digest", sa.String(135), sa.ForeignKey("blobs.digest"), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_repository_blobs_digest", "repository_blobs", ["digest"])
    op.create_table(
        "manifests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("repository_id", sa.Integer,
                  sa.ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
        sa.Column("digest", sa.String(135), nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("artifact_type", sa.String(255)),
        sa.Column("subject_digest", sa.String(135)),
        sa.Column("annotations", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("repository_id", "digest", name="uq_manifests_repository_digest"),
    )
    op.create_index("ix_manifests_subject", "manifests", ["repository_id", "subject_digest"])
    op.create_index("ix_manifests_digest", "manifests", ["digest"])
    op.create_table(
        "manifest_blobs",
        sa.Column("manifest_id", sa.Integer,
                  sa.ForeignKey("manifests.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("digest", sa.String(135), primary_key=True),
    )
    op.create_index("ix_manifest_blobs_digest", "manifest_blobs", ["digest"])
    op.create_table(
        "manifest_children",
        sa.Column("manifest_id", sa.Integer,
                  sa.ForeignKey("manifests.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("child_digest", sa.String(135), primary_key=True),
    )
    op.create_index("ix_manifest_children_child", "manifest_children", ["child_digest"])
    op.create_table(
        "tags",
        sa.Column("repository_id", sa.Integer,
                  sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("manifest_id", sa.Integer,
                  sa.ForeignKey("manifests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_tags_manifest", "tags", ["manifest_id"])


def downgrade() -> None:
    for table in ("tags", "manifest_children", "manifest_blobs", "manifests",
                  "repository_blobs", "blobs", "repositories"):
        op.drop_table(table)
