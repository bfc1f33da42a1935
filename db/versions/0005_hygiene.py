"""Mail hygiene (issue 6): the person's own text on messages, automatic-mail accounting on the outbox,
addresses flagged after a permanent bounce, attachments.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("message", sa.Column("text", sa.Text))
    op.add_column("outbox", sa.Column("automatic", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("outbox", sa.Column("recipient", sa.String(320)))
    op.create_index("ix_outbox_recipient_created_at", "outbox", ["recipient", "created_at"])
    op.create_table(
        "address_flag",
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("flagged_at", sa.DateTime, nullable=False),
        sa.Column("until", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("email", name="pk_address_flag"),
    )
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("inbound_id", sa.Integer),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("original_name", sa.Text, nullable=False),
        sa.Column("content_type", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("inline", sa.Boolean, nullable=False),
        sa.Column("content_id", sa.String(998)),
        sa.Column("content", sa.LargeBinary),
        sa.Column("path", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_attachment"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], name="fk_attachment_ticket_id_ticket"),
        sa.ForeignKeyConstraint(["inbound_id"], ["inbound_mail.id"], name="fk_attachment_inbound_id_inbound_mail"),
    )
    op.create_index("ix_attachment_ticket_id", "attachment", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("attachment")
    op.drop_table("address_flag")
    op.drop_index("ix_outbox_recipient_created_at", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("recipient")
        batch.drop_column("automatic")
    with op.batch_alter_table("message") as batch:
        batch.drop_column("text")
