"""Shell: the store (SQLAlchemy Core over SQLite or PostgreSQL)."""
