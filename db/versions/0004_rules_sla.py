"""Rules and service targets (issue 5): queue, tags, alert dedupe key and counter, SLA due times
and breaches on tickets.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("queue", sa.String(100)),
    ("tags", sa.JSON),
    ("dedupe_key", sa.String(300)),
    ("response_due", sa.DateTime),
    ("resolution_due", sa.DateTime),
    ("first_response_at", sa.DateTime),
    ("resolved_at", sa.DateTime),
    ("response_breached_at", sa.DateTime),
    ("resolution_breached_at", sa.DateTime),
)


def upgrade() -> None:
    for name, type_ in _COLUMNS:
        op.add_column("ticket", sa.Column(name, type_))
    op.add_column("ticket", sa.Column("alert_count", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_ticket_dedupe_key", "ticket", ["dedupe_key"])


def downgrade() -> None:
    op.drop_index("ix_ticket_dedupe_key", "ticket")
    with op.batch_alter_table("ticket") as batch:
        for name in ("alert_count", *(n for n, _ in reversed(_COLUMNS))):
            batch.drop_column(name)
