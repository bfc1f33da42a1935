"""Knowledge base: each term's best documents (kb_term.best, core/kb/best.py), that a new mail's similar
documents are ranked over with no full-text query; filled here from the documents already indexed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("kb_term", sa.Column("best", sa.LargeBinary, nullable=True))
    from mailgate.store import kb_terms  # the lists are made as the running code makes them

    kb_terms.rebuild(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("kb_term") as batch:
        batch.drop_column("best")
