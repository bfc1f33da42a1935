"""Store: open the database for the application: SQLite is created/upgraded in place, PostgreSQL
must already be at the code's schema revision (`mailgate db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from mailgate.config.settings import Settings
from mailgate.store import migrate
from mailgate.store.db import Database, is_sqlite, make_engine, sqlite_path


class SchemaError(Exception):
    """The database is not at the schema revision this code needs."""


def database_for(settings: Settings) -> Database:
    """The configured database (not yet checked), creating the SQLite file's folder if needed."""
    path = sqlite_path(settings.database_url)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Database(make_engine(settings.database_url, echo=settings.database.echo,
                                busy_timeout_ms=settings.database.busy_timeout_ms))


def open_database(settings: Settings, *, upgrade_sqlite: bool = True) -> Database:
    """The database with its schema at head (SQLite upgraded in place when allowed), or SchemaError."""
    db = database_for(settings)
    try:
        ensure_schema(db, upgrade_sqlite=upgrade_sqlite)
    except BaseException:
        db.close()
        raise
    return db


def ensure_schema(db: Database, *, upgrade_sqlite: bool = True) -> None:
    current, head = migrate.current(db.engine), migrate.head()
    if current == head:
        return
    if is_sqlite(db.engine) and upgrade_sqlite:
        migrate.upgrade(db.engine)
        return
    raise SchemaError(
        f"the database schema is at revision {current or '(empty)'}, this mailgate needs {head}: "
        "run `mailgate db upgrade`"
    )
