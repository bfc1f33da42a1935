"""Batched per-mail path (issue 11): workers claim stored mail with a lease, senders say who leased a mail;
automatic mail counted per ticket through an index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_mail") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(64)))
        batch.add_column(sa.Column("lease_until", sa.DateTime))
    op.create_index("ix_outbox_ticket_id_created_at", "outbox", ["ticket_id", "created_at"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("leased_by", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("leased_by")
    op.drop_index("ix_outbox_ticket_id_created_at", "outbox")
    with op.batch_alter_table("inbound_mail") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
