"""Supervisors' sign-in by mail (issue 13): single-use login links and server-side sessions of the dashboard.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_login",
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("email", sa.String(500), nullable=False),
        sa.Column("issued_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("used_at", sa.DateTime),
        sa.PrimaryKeyConstraint("nonce", name="pk_desk_login"),
    )
    op.create_index("ix_desk_login_email_issued_at", "desk_login", ["email", "issued_at"])
    op.create_table(
        "desk_session",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("email", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name="pk_desk_session"),
    )


def downgrade() -> None:
    op.drop_table("desk_session")
    op.drop_index("ix_desk_login_email_issued_at", "desk_login")
    op.drop_table("desk_login")
