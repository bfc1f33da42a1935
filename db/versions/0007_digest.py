"""Supervisors' digests (issue 13): the periods whose digest is queued, so that each goes once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_sent",
        sa.Column("period", sa.String(40), nullable=False),
        sa.Column("queued_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("period", name="pk_digest_sent"),
    )


def downgrade() -> None:
    op.drop_table("digest_sent")
