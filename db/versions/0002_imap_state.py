"""IMAP poller state per mailbox: UIDVALIDITY, last UID, connection and errors.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imap_state",
        sa.Column("mailbox", sa.String(500), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger),
        sa.Column("last_uid", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("connected", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_poll_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("last_error_at", sa.DateTime),
        sa.Column("errors", sa.Integer, nullable=False, server_default="0"),
        sa.Column("stored", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("mailbox", name="pk_imap_state"),
    )


def downgrade() -> None:
    op.drop_table("imap_state")
