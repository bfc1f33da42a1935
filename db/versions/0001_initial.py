"""Initial schema: inbound mail, tickets, participants, messages, events, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_mail",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_ref", sa.String(500), nullable=False),
        sa.Column("envelope_from", sa.String(500)),
        sa.Column("envelope_to", sa.JSON, nullable=False),
        sa.Column("message_id", sa.String(998)),
        sa.Column("dedupe_key", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("processed_at", sa.DateTime),
        sa.Column("ticket_id", sa.Integer),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_mail"),
        sa.UniqueConstraint("dedupe_key", name="uq_inbound_mail_dedupe_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_inbound_mail_status_id", "inbound_mail", ["status", "id"])
    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("requester", sa.String(320), nullable=False),
        sa.Column("requester_name", sa.String(300), nullable=False, server_default=""),
        sa.Column("assignee", sa.String(320)),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("merged_into", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket"),
        sa.ForeignKeyConstraint(["merged_into"], ["ticket.id"], name="fk_ticket_merged_into_ticket"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "participant",
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(300), nullable=False, server_default=""),
        sa.Column("role", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", "email", name="pk_participant"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], name="fk_participant_ticket_id_ticket"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=False),
        sa.Column("envelope_from", sa.String(320), nullable=False),
        sa.Column("envelope_to", sa.JSON, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("deadline", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("message_id", name="uq_outbox_message_id"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], name="fk_outbox_ticket_id_ticket"),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "message",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("inbound_id", sa.Integer),
        sa.Column("outbox_id", sa.Integer),
        sa.Column("from_addr", sa.String(320), nullable=False),
        sa.Column("to_addrs", sa.JSON, nullable=False),
        sa.Column("cc_addrs", sa.JSON, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(998)),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], name="fk_message_ticket_id_ticket"),
        sa.ForeignKeyConstraint(["inbound_id"], ["inbound_mail.id"], name="fk_message_inbound_id_inbound_mail"),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name="fk_message_outbox_id_outbox"),
    )
    op.create_index("ix_message_ticket_id", "message", ["ticket_id"])
    op.create_index("ix_message_message_id", "message", ["message_id"])
    op.create_table(
        "event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("inbound_id", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_event"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], name="fk_event_ticket_id_ticket"),
        sa.ForeignKeyConstraint(["inbound_id"], ["inbound_mail.id"], name="fk_event_inbound_id_inbound_mail"),
    )
    op.create_index("ix_event_ticket_id", "event", ["ticket_id"])


def downgrade() -> None:
    for name in ("event", "message", "outbox", "participant", "ticket", "inbound_mail"):
        op.drop_table(name)
