"""Metrics (issue 13): an index for the processing latency histogram, one for the breaches told, and each
daemon's rules state, so that /metrics reads them from whichever process serves it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-12
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BREACHED = sa.text("kind = 'sla_breached'")


def upgrade() -> None:
    op.create_index("ix_inbound_mail_status_processed_at_received_at", "inbound_mail",
                    ["status", "processed_at", "received_at"])
    op.create_index("ix_event_sla_breached", "event", ["at"], sqlite_where=BREACHED, postgresql_where=BREACHED)
    op.create_table(
        "rules_state",
        sa.Column("daemon", sa.String(300), nullable=False),
        sa.Column("rules", sa.Integer, nullable=False),
        sa.Column("loaded_at", sa.DateTime, nullable=False),
        sa.Column("reloads", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("refused", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("errors", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("tried_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("daemon", name="pk_rules_state"),
    )


def downgrade() -> None:
    op.drop_table("rules_state")
    op.drop_index("ix_event_sla_breached", "event")
    op.drop_index("ix_inbound_mail_status_processed_at_received_at", "inbound_mail")
