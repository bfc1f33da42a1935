"""Store: rows that nothing in the transaction reads back (a mail's messages and events, the end of its
processing), inserted or updated at its end: one statement each for a whole batch of mails, an executemany
(one round trip on PostgreSQL, where each statement costs one)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from mailgate.store.driver_sql import Statement


class Later:
    def __init__(self) -> None:
        self._rows: dict[Statement, list[dict[str, Any]]] = {}

    def add(self, statement: Statement, rows: list[dict[str, Any]]) -> None:
        """Rows for any statement built once (an insert, or an update by bound parameters), run by its text
        (store/driver_sql: Core's per-row parameter processing cost more than the statement)."""
        self._rows.setdefault(statement, []).extend(rows)

    def flush(self, conn: Connection) -> None:
        for statement, rows in self._rows.items():
            if rows:
                statement.many(conn, rows)
        self._rows.clear()
