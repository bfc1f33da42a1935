"""Store: rows that nothing in the transaction reads back (a mail's messages and events), inserted at its end:
one statement per table for a whole batch of mails, an executemany (one round trip on PostgreSQL, where each
statement costs one)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection


class Later:
    def __init__(self) -> None:
        self._rows: dict[sa.Insert, list[dict[str, Any]]] = {}

    def insert(self, statement: sa.Insert, rows: list[dict[str, Any]]) -> None:
        self._rows.setdefault(statement, []).extend(rows)

    def flush(self, conn: Connection) -> None:
        for statement, rows in self._rows.items():
            if rows:
                conn.execute(statement, rows)
        self._rows.clear()
