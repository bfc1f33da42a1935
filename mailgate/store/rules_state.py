"""Store: the rules_state table: per daemon, the rules its worker runs and how its rule reloads went (written by
rules/record.py in the process that reloads, read by /metrics in whichever process serves it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.store.columns import SHORT_TEXT, fit
from mailgate.store.tables import rules_state

_c = rules_state.c


@dataclass(frozen=True, slots=True, kw_only=True)
class RulesState:
    daemon: str
    rules: int
    loaded_at: datetime
    reloads: int
    refused: int
    errors: int
    last_error: str | None
    tried_at: datetime


def _upsert(conn: Connection, daemon: str, values: dict[str, object], insert: dict[str, object]) -> None:
    if not conn.execute(sa.update(rules_state).where(_c.daemon == daemon).values(**values)).rowcount:
        conn.execute(sa.insert(rules_state).values(daemon=daemon, **insert))


def started(conn: Connection, daemon: str, rules: int, now: datetime) -> None:
    """The worker started with these rules (its counts of reloads go on from the last run's)."""
    daemon = fit(_c.daemon, daemon) or ""
    values: dict[str, object] = dict(rules=rules, loaded_at=now, errors=0, last_error=None, tried_at=now)
    _upsert(conn, daemon, values, values)


def reloaded(conn: Connection, daemon: str, rules: int, now: datetime) -> None:
    """A reload took: `rules` are in use from now."""
    daemon = fit(_c.daemon, daemon) or ""
    _upsert(conn, daemon, dict(rules=rules, loaded_at=now, reloads=_c.reloads + 1, errors=0, last_error=None,
                               tried_at=now),
            dict(rules=rules, loaded_at=now, reloads=1, tried_at=now))


def refused(conn: Connection, daemon: str, rules: int, errors: list[str], now: datetime) -> None:
    """A reload was refused: the `rules` in use stay, `errors` are what is wrong with the files."""
    daemon = fit(_c.daemon, daemon) or ""
    text = "\n".join(errors)[:SHORT_TEXT]
    _upsert(conn, daemon, dict(refused=_c.refused + 1, errors=len(errors), last_error=text, tried_at=now),
            dict(rules=rules, loaded_at=now, refused=1, errors=len(errors), last_error=text, tried_at=now))


def every(conn: Connection) -> list[RulesState]:
    rows = conn.execute(sa.select(_c.daemon, _c.rules, _c.loaded_at, _c.reloads, _c.refused, _c.errors,
                                  _c.last_error, _c.tried_at).order_by(_c.daemon))
    return [RulesState(daemon=r.daemon, rules=r.rules, loaded_at=r.loaded_at, reloads=r.reloads, refused=r.refused,
                       errors=r.errors, last_error=r.last_error, tried_at=r.tried_at) for r in rows]
