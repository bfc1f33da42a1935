"""Store: the knowledge base's tables (docs/kb.md). kb_doc holds what is searched, one row per resolved ticket
and per article, as terms (core/kb/text.py); the full-text index over it is the database's own and is not
SQLAlchemy's to know: an FTS5 table kb_fts kept by triggers on SQLite, a generated tsvector column kb_fts_tsv
with a GIN index kb_fts_gin on PostgreSQL (db/versions/0010_kb.py; the kb_fts names are left out of the
comparison of tables and migrations)."""

from __future__ import annotations

import sqlalchemy as sa

from mailgate.store.columns import JSON, String, Text, UTCDateTime
from mailgate.store.metadata import metadata

FTS_PREFIX = "kb_fts"  # the database's own full-text objects

kb_doc = sa.Table(
    "kb_doc", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", String(8), nullable=False),  # ticket | article
    sa.Column("ref", sa.Integer, nullable=False),  # the ticket's or the article's number
    sa.Column("title", String(500), nullable=False),
    sa.Column("summary", Text, nullable=False),  # one line of the resolution
    sa.Column("title_terms", Text, nullable=False),
    sa.Column("body_terms", Text, nullable=False),
    sa.Column("type", String(16)),
    sa.Column("level", sa.Integer),
    sa.Column("published", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("indexed_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("kind", "ref"),
)

# How many documents hold each term (core/kb/text.terms), and under the empty term how many documents there
# are: a search asks the database for a request's rarer words only; and the term's best documents, packed
# (core/kb/best.py), that a new mail's similar documents are ranked over (store/kb_terms.py).
kb_term = sa.Table(
    "kb_term", metadata,
    sa.Column("term", String(100), primary_key=True),
    sa.Column("docs", sa.Integer, nullable=False),
    sa.Column("best", sa.LargeBinary),
)

# Articles: the current text here, every text it ever had in kb_article_version.
kb_article = sa.Table(
    "kb_article", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),  # KB-<id>
    sa.Column("state", String(16), nullable=False),  # draft | published | retired
    sa.Column("title", String(500), nullable=False),
    sa.Column("symptoms", Text, nullable=False),
    sa.Column("resolution", Text, nullable=False),
    sa.Column("type", String(16)),
    sa.Column("tags", JSON, nullable=False),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("ticket.id")),  # the ticket it came from
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_by", String(320), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("published_by", String(320)),
    sa.Column("published_at", UTCDateTime),
    sa.Index("ix_kb_article_ticket_id", "ticket_id"),
)

kb_article_version = sa.Table(
    "kb_article_version", metadata,
    sa.Column("article_id", sa.Integer, sa.ForeignKey("kb_article.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("state", String(16), nullable=False),
    sa.Column("title", String(500), nullable=False),
    sa.Column("symptoms", Text, nullable=False),
    sa.Column("resolution", Text, nullable=False),
    sa.Column("tags", JSON, nullable=False),
    sa.Column("by", String(320), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
)


def ours(_object: object, name: str | None, _type: str, _reflected: bool, _compare_to: object) -> bool:
    """Alembic's include_object: everything but the database's own full-text objects (kb_fts...)."""
    return not (name or "").startswith(FTS_PREFIX)
