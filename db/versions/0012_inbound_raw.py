"""Inbound mail: the raw bytes in a table of their own (inbound_raw), so that updating a mail's status (its
claim, its end) no longer rewrites its bytes: SQLite rewrites a whole row on any UPDATE, 68 MB at the peak
for a 34 MB mail, and all its pages again in the WAL.

On a large SQLite database this copies every stored mail once; the file keeps its size until `VACUUM`.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_raw",
        sa.Column("inbound_id", sa.Integer, sa.ForeignKey("inbound_mail.id"), primary_key=True,
                  autoincrement=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
    )
    op.execute("INSERT INTO inbound_raw (inbound_id, raw) SELECT id, raw FROM inbound_mail")
    op.execute("ALTER TABLE inbound_mail DROP COLUMN raw")  # SQLite >= 3.35 and PostgreSQL: in place


def downgrade() -> None:
    op.add_column("inbound_mail", sa.Column("raw", sa.LargeBinary, nullable=True))
    op.execute("UPDATE inbound_mail SET raw = (SELECT raw FROM inbound_raw WHERE inbound_id = inbound_mail.id)")
    op.drop_table("inbound_raw")
