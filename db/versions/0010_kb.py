"""Knowledge base (issue 14): searched documents, their terms' document counts, articles and their versions, and the database's own
full-text index over the documents (FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_SQLITE = [
    "CREATE VIRTUAL TABLE kb_fts USING fts5(title_terms, body_terms, content='kb_doc', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER kb_fts_insert AFTER INSERT ON kb_doc BEGIN INSERT INTO kb_fts(rowid, title_terms, body_terms)"
    " VALUES (new.id, new.title_terms, new.body_terms); END",
    "CREATE TRIGGER kb_fts_delete AFTER DELETE ON kb_doc BEGIN INSERT INTO kb_fts(kb_fts, rowid, title_terms,"
    " body_terms) VALUES ('delete', old.id, old.title_terms, old.body_terms); END",
    "CREATE TRIGGER kb_fts_update AFTER UPDATE ON kb_doc BEGIN INSERT INTO kb_fts(kb_fts, rowid, title_terms,"
    " body_terms) VALUES ('delete', old.id, old.title_terms, old.body_terms); INSERT INTO kb_fts(rowid,"
    " title_terms, body_terms) VALUES (new.id, new.title_terms, new.body_terms); END",
]
_POSTGRESQL = [
    "ALTER TABLE kb_doc ADD COLUMN kb_fts_tsv tsvector GENERATED ALWAYS AS"
    " (setweight(to_tsvector('simple', title_terms), 'A') || setweight(to_tsvector('simple', body_terms), 'B'))"
    " STORED",
    "CREATE INDEX kb_fts_gin ON kb_doc USING gin (kb_fts_tsv)",
]


def upgrade() -> None:
    op.create_table(
        "kb_doc",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("ref", sa.Integer, nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("title_terms", sa.Text, nullable=False),
        sa.Column("body_terms", sa.Text, nullable=False),
        sa.Column("type", sa.String(16)),
        sa.Column("level", sa.Integer),
        sa.Column("published", sa.Boolean, server_default=sa.false(), nullable=False),
        sa.Column("indexed_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_doc"),
        sa.UniqueConstraint("kind", "ref", name="uq_kb_doc_kind_ref"),
    )
    op.create_table(
        "kb_term",
        sa.Column("term", sa.String(100), nullable=False),
        sa.Column("docs", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("term", name="pk_kb_term"),
    )
    op.create_table(
        "kb_article",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("symptoms", sa.Text, nullable=False),
        sa.Column("resolution", sa.Text, nullable=False),
        sa.Column("type", sa.String(16)),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("ticket_id", sa.Integer),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("published_by", sa.String(320)),
        sa.Column("published_at", sa.DateTime),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], name="fk_kb_article_ticket_id_ticket"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_article"),
    )
    op.create_index("ix_kb_article_ticket_id", "kb_article", ["ticket_id"])
    op.create_table(
        "kb_article_version",
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("symptoms", sa.Text, nullable=False),
        sa.Column("resolution", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("by", sa.String(320), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["kb_article.id"],
                                name="fk_kb_article_version_article_id_kb_article"),
        sa.PrimaryKeyConstraint("article_id", "version", name="pk_kb_article_version"),
    )
    for statement in _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("kb_fts_update", "kb_fts_delete", "kb_fts_insert"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE kb_fts")
    op.drop_table("kb_article_version")
    op.drop_index("ix_kb_article_ticket_id", "kb_article")
    op.drop_table("kb_article")
    op.drop_table("kb_term")
    op.drop_table("kb_doc")
