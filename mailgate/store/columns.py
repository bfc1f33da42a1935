"""Store: the column types every table uses (UTC datetimes, text without NUL) and `fit`, the one way a value
is cut to its column's width."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, stored naive UTC on every database."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, the text SQLAlchemy's DATETIME writes (`2026-12-07 09:30:00.000000`: microseconds always,
        so that the text sorts as the time) in one call: about 12 datetimes a mail are bound."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        to_naive = self.process_bind_param
        last: list[tuple[datetime | None, str | None]] = [(None, None)]  # the last datetime bound, and its text

        def process(value: datetime | None) -> str | None:
            seen = last[0]  # one read of the pair: safe beside another thread's write
            if seen[0] is value:  # a batch binds its clock's `now` for most of its datetimes: 3.3 us a text
                return seen[1]
            text: str | None
            if value is not None and value.tzinfo is UTC:  # the clock's: its text less "+00:00", in one call
                text = value.isoformat(" ", "microseconds")[:-6]
            else:
                naive = to_naive(value, dialect)
                text = None if naive is None else naive.isoformat(" ", "microseconds")
            last[0] = (value, text)
            return text

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC)


class String(sa.TypeDecorator[str]):
    """A String(n) without NUL, whatever a mail carried: PostgreSQL refuses it in text columns (the raw bytes,
    a binary column, keep it)."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return _without_nul_text(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[str | None], Any] | None:
        """process_bind_param called directly, where the driver takes the text as it is (TypeDecorator's own
        processor wraps it in two more calls: 0.4 us, for some 30 texts a mail)."""
        if self.impl_instance.bind_processor(dialect) is not None:
            return super().bind_processor(dialect)
        return _without_nul_text


def _without_nul_text(value: str | None) -> str | None:
    return value.replace("\x00", "") if value is not None and "\x00" in value else value


class Text(String):
    """Text without NUL (see String)."""

    impl = sa.Text
    cache_ok = True


JSON = sa.JSON  # its text is json_text's: every engine of the store is made with it (store/db.make_engine)


def json_text(value: Any) -> str:
    """A JSON column's text: by orjson (a rule trace of 2 kB in 1.9 us, against 22 for json.dumps), without NUL
    in its strings (PostgreSQL refuses \\u0000 in text; the value is walked for it only when its text has one).
    NaN and the infinities are written null (the stdlib wrote NaN, which PostgreSQL refuses)."""
    text = _dumps(value)
    return _dumps(_without_nul(value)) if "\\u0000" in text else text  # (or a backslash before "u0000")


def json_value(text: str | bytes) -> Any:
    """A JSON column's value: by orjson, but by the stdlib when the text has a number of 19 digits or more (an
    integer past 64 bits, which only the stdlib writes and orjson would read as a float)."""
    if _LONG_NUMBER.search(text if isinstance(text, str) else text.decode("utf-8", "replace")) is None:
        return orjson.loads(text)
    return json.loads(text)


_LONG_NUMBER = re.compile(r"\d{19}")


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:  # what orjson refuses (an integer past 64 bits): the stdlib's text
        return json.dumps(value)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value


SHORT_TEXT = 2000  # characters of an error or a comment kept on a row (the log has the rest)


def fit(column: sa.Column[Any], value: str | None) -> str | None:
    """`value` for its text column: without NUL (PostgreSQL refuses it in text; the raw bytes keep it), cut to
    the column's String(n) width (the one definition of every width). None stays None."""
    if value is None:
        return None
    if "\x00" in value:
        value = value.replace("\x00", "")
    length = _width(column)
    return value if length is None else value[:length]


@functools.cache
def _width(column: sa.Column[Any]) -> int | None:
    """The column's String(n) width, read once: a TypeDecorator answers `length` through its __getattr__,
    after an AttributeError formatted (1.5 us, and `fit` runs about 8 times a mail)."""
    return getattr(column.type, "length", None)
