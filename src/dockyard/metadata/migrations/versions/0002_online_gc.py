"""Online garbage collection: the review queue of objects a change may have orphaned.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gc_review_queue",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("repository_id", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(135), nullable=False),
        sa.Column("queued_at", sa.Float, nullable=False),
        sa.UniqueConstraint("kind", "repository_id", "digest", name="uq_gc_review_object"),
    )
    op.create_index("ix_gc_review_due", "gc_review_queue", ["queued_at"])


def downgrade() -> None:
    op.drop_index("ix_gc_review_due", "gc_review_queue")
    op.drop_table("gc_review_queue")
