"""Workflow (issue 4): ticket columns for customers, waiting, awaited answers and customer threading;
imputation tasks and time entries; estimates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TICKET_COLUMNS = (
    ("customer", sa.String(200)),
    ("status_changed_at", sa.DateTime),
    ("resume_status", sa.String(32)),
    ("waiting_on", sa.String(16)),
    ("awaiting_mid", sa.String(998)),
    ("awaiting_kind", sa.String(32)),
    ("root_mid", sa.String(998)),
    ("last_customer_mid", sa.String(998)),
)


def upgrade() -> None:
    for name, type_ in _TICKET_COLUMNS:
        op.add_column("ticket", sa.Column(name, type_))
    op.execute("UPDATE ticket SET status_changed_at = updated_at")
    op.create_index("ix_ticket_status_status_changed_at", "ticket", ["status", "status_changed_at"])
    op.create_table(
        "task",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("month", sa.Integer, nullable=False),
        sa.Column("title", sa.String(400), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_task"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], name="fk_task_ticket_id_ticket"),
        sa.UniqueConstraint("ticket_id", "year", "month", name="uq_task_ticket_id_year_month"),
    )
    op.create_table(
        "time_entry",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("agent", sa.String(320), nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("inbound_id", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_time_entry"),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name="fk_time_entry_task_id_task"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], name="fk_time_entry_ticket_id_ticket"),
        sa.ForeignKeyConstraint(["inbound_id"], ["inbound_mail.id"], name="fk_time_entry_inbound_id_inbound_mail"),
    )
    op.create_index("ix_time_entry_ticket_id", "time_entry", ["ticket_id"])
    op.create_table(
        "estimate",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("amount_cents", sa.BigInteger),
        sa.Column("days", sa.String(16)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("proposed_by", sa.String(320), nullable=False),
        sa.Column("proposed_at", sa.DateTime, nullable=False),
        sa.Column("decided_by", sa.String(320)),
        sa.Column("decided_at", sa.DateTime),
        sa.PrimaryKeyConstraint("id", name="pk_estimate"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], name="fk_estimate_ticket_id_ticket"),
    )
    op.create_index("ix_estimate_ticket_id", "estimate", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("estimate")
    op.drop_table("time_entry")
    op.drop_table("task")
    op.drop_index("ix_ticket_status_status_changed_at", "ticket")
    for name, _ in reversed(_TICKET_COLUMNS):
        with op.batch_alter_table("ticket") as batch:
            batch.drop_column(name)
