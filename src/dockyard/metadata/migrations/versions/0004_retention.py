"""Retention: pull times and the record of every retention run.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pull_times",
        sa.Column("repository_id", sa.Integer,
                  sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("reference", sa.String(135), primary_key=True),
        sa.Column("pulled_at", sa.Float, nullable=False),
    )
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float),
        sa.Column("dry_run", sa.Integer, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tags_deleted", sa.Integer, nullable=False),
        sa.Column("tags_kept", sa.Integer, nullable=False),
        sa.Column("manifests_deleted", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "retention_deletions",
        sa.Column("run_id", sa.Integer,
                  sa.ForeignKey("retention_runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("tag", sa.String(128)),
        sa.Column("digest", sa.String(135), nullable=False),
    )


def downgrade() -> None:
    for table in ("retention_deletions", "retention_runs", "pull_times"):
        op.drop_table(table)
