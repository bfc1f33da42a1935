"""Store: which database errors are temporary (retry later; no mail is at fault) and which mean the
database itself is unavailable, classified by error class and SQLSTATE, whatever the driver."""

from __future__ import annotations

import re

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# SQLSTATE classes and codes of a server that is down, starting, stopping, full or refusing connections
_UNAVAILABLE_CLASSES = frozenset({
    "08",  # connection exception
    "53",  # insufficient resources: 53300 too many clients, 53100 disk full, 53200 out of memory
    "57",  # operator intervention: 57P01 terminated by the administrator, 57P02 crash, 57P03 starting up
    "58",  # system error: I/O error
})
_UNAVAILABLE_CODES = frozenset({
    "55000",  # object not in prerequisite state: "database ... is not currently accepting connections"
    "55006",  # object in use: the database is being dropped or renamed
})
# the server is up, but this transaction lost a race: run it again
_CONFLICT_CODES = frozenset({"40001", "40P01", "55P03"})  # serialization failure, deadlock, lock not available
# the configuration is wrong: waiting will not help (refused at start-up, retried once running)
_CONFIG_CLASSES = frozenset({"28", "3D"})  # invalid authorization, invalid catalog (no such database)


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error wrapped by SQLAlchemy (asyncpg, psycopg), or None."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    for attribute in ("sqlstate", "pgcode"):
        code = getattr(orig, attribute, None)
        if isinstance(code, str) and len(code) == 5:
            return code
    return None


# libpq reports connect-time failures as text only (psycopg gives them no SQLSTATE)
_CONNECT = re.compile(r"connection (?:failed|to server)|could not connect|server closed the connection", re.I)
_REFUSED_FOR_GOOD = re.compile(r'(?:database|role) "[^"]*" does not exist|password authentication failed|'
                               r"no pg_hba\.conf entry|authentication failed", re.I)


def _message(exc: BaseException) -> str:
    return str(exc.orig if isinstance(exc, DBAPIError) else exc)


def database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or refuses work for now (down, restarting, connection dropped, full):
    nothing the mail in hand did, and nothing a retry later will not fix."""
    if isinstance(exc, (OSError, TimeoutError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    code = sqlstate(exc)
    if code is not None:
        return code[:2] in _UNAVAILABLE_CLASSES or code in _UNAVAILABLE_CODES or code[:2] in _CONFIG_CLASSES
    return isinstance(exc, OperationalError) and _CONNECT.search(_message(exc)) is not None


def is_temporary(exc: BaseException) -> bool:
    """Worth retrying later: the database is unavailable, busy (SQLite locked) or this transaction lost a race."""
    if database_unavailable(exc):
        return True
    code = sqlstate(exc)
    if code is not None:
        return code in _CONFLICT_CODES
    return isinstance(exc, (OperationalError, InterfaceError))


def is_configuration(exc: BaseException) -> bool:
    """The database refuses us for good (no such database, bad credentials): say so and stop at start-up."""
    code = sqlstate(exc)
    if code is not None:
        return code[:2] in _CONFIG_CLASSES
    return isinstance(exc, OperationalError) and _REFUSED_FOR_GOOD.search(_message(exc)) is not None
