"""Shell, command line: what every command group shares: exit codes, the settings, running a query."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from mailgate import log
from mailgate.config.sections import ConfigError
from mailgate.config.settings import Settings, load
from mailgate.exits import EX_CONFIG

if TYPE_CHECKING:
    import sqlalchemy as sa

    from mailgate.store.db import Database

T = TypeVar("T")



def fail(message: str, code: int) -> NoReturn:
    click.echo(f"mailgate: {message}", err=True)
    sys.exit(code)


def config_path(ctx: click.Context) -> str:
    """The -c file (or $MAILGATE_CONFIG, or config.toml) of the root command."""
    return str((ctx.find_root().obj or {}).get("config_path", "config.toml"))


def settings_of(ctx: click.Context, *, exit_code: int = EX_CONFIG) -> Settings:
    """The validated settings of -c, logging configured; an invalid config ends the command with `exit_code`."""
    try:
        settings = load(config_path(ctx))
    except ConfigError as exc:
        fail(f"invalid configuration:\n{exc}", exit_code)
    log.configure(settings.log.level, settings.log.format)
    return settings


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def with_engine(ctx: click.Context, fn: Callable[[sa.Engine], T]) -> T:
    """`fn(engine)` on the configured database, whatever its schema revision."""
    from mailgate.store.schema import database_for

    db = database_for(settings_of(ctx))
    try:
        return fn(db.engine)
    finally:
        db.close()


def query(ctx: click.Context, fn: Callable[..., T], *args: Any) -> T:
    """`fn(conn, *args)` on a read-only connection to a database at the current schema."""
    return _at_current_schema(ctx, lambda db: db.read_now(fn, *args))


def change(ctx: click.Context, fn: Callable[..., T], *args: Any) -> T:
    """`fn(conn, *args)` in one write transaction on a database at the current schema."""
    return _at_current_schema(ctx, lambda db: db.write_now(fn, *args))


def _at_current_schema(ctx: click.Context, run: Callable[[Database], T]) -> T:
    from mailgate.store.schema import SchemaError, open_database

    try:
        db = open_database(settings_of(ctx), upgrade_sqlite=False)
    except SchemaError as exc:
        fail(str(exc), 1)
    try:
        return run(db)
    finally:
        db.close()
