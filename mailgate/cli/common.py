"""Shell, command line: what every command group shares: exit codes, the settings, running a query."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import click

from mailgate import log
from mailgate.config.sections import ConfigError
from mailgate.config.settings import Settings, load

T = TypeVar("T")

EX_DATAERR = 65  # sysexits: the input is bad (the MTA bounces it)
EX_TEMPFAIL = 75  # sysexits: try again later (the MTA keeps the mail queued)
EX_CONFIG = 78  # sysexits: configuration error


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


def with_engine(ctx: click.Context, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run `fn(engine)` on the configured database, whatever its schema revision."""
    from mailgate.store.schema import engine_for

    settings = settings_of(ctx)

    async def go() -> T:
        engine = engine_for(settings)
        try:
            return await fn(engine)
        finally:
            await engine.dispose()

    return run(go())


def query(ctx: click.Context, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run a read-only store query against a database at the current schema."""
    from mailgate.store.schema import SchemaError, open_engine

    settings = settings_of(ctx)

    async def go() -> T:
        engine = await open_engine(settings, upgrade_sqlite=False)
        try:
            async with engine.connect() as conn:
                return await fn(conn, *args)
        finally:
            await engine.dispose()

    try:
        return run(go())
    except SchemaError as exc:
        fail(str(exc), 1)
