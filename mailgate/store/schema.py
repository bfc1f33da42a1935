"""Store: open the database for the application: SQLite is created/upgraded in place, PostgreSQL
must already be at the code's schema revision (`mailgate db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from mailgate.config.settings import Settings
from mailgate.store import migrate
from mailgate.store.db import is_sqlite, make_engine


class SchemaError(Exception):
    """The database is not at the schema revision this code needs."""


def engine_for(settings: Settings) -> AsyncEngine:
    """An engine for the configured database, creating the SQLite file's folder if needed."""
    url = settings.database_url
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    return make_engine(url, echo=settings.database.echo, busy_timeout_ms=settings.database.busy_timeout_ms)


async def open_engine(settings: Settings, *, upgrade_sqlite: bool = True) -> AsyncEngine:
    """An engine whose schema is at head (SQLite upgraded in place when allowed), or SchemaError."""
    engine = engine_for(settings)
    try:
        await ensure_schema(engine, upgrade_sqlite=upgrade_sqlite)
    except BaseException:
        await engine.dispose()
        raise
    return engine


async def ensure_schema(engine: AsyncEngine, *, upgrade_sqlite: bool = True) -> None:
    current, head = await migrate.current(engine), migrate.head()
    if current == head:
        return
    if is_sqlite(engine) and upgrade_sqlite:
        await migrate.upgrade(engine)
        return
    raise SchemaError(
        f"the database schema is at revision {current or '(empty)'}, this mailgate needs {head}: "
        "run `mailgate db upgrade`"
    )
