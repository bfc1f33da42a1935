"""Shell, web: /healthz on the metrics port: each part of the gateway (database, listener, worker, outbox, IMAP
mailboxes) ok or not, as JSON, read from the database on a thread of its own."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as NoAnswer
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.clock import Clock
from mailgate.config.settings import Settings
from mailgate.store import imap_state, inbound, intake, outbox
from mailgate.store.db import Database, one_line, sqlite_path

PATH = "/healthz"
DB_TIMEOUT = 2.0  # seconds the database has to answer a health check


def read_health(conn: Connection, timeout_ms: int) -> tuple[datetime | None, datetime | None, list[dict[str, Any]]]:
    """SELECT 1, then the oldest mail waiting for the worker, the oldest queued, each IMAP mailbox's state."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"SET LOCAL statement_timeout = {int(timeout_ms)}"))
    conn.execute(sa.text("SELECT 1"))
    return inbound.oldest_waiting(conn), outbox.oldest_queued(conn), imap_state.all_states(conn)


class Health:
    """/healthz: every part's state; ok when each part is. `listening` tells whether the SMTP listener serves
    (the daemon's; None: not known here). One database check at a time, on a thread of its own: one that hangs
    is answered `no answer within N s`, and the next request waits for it again rather than piling up."""

    def __init__(self, settings: Settings, db: Database, clock: Clock, listening: Callable[[], bool] | None) -> None:
        self.settings, self.db, self.clock, self.listening = settings, db, clock, listening
        self.sqlite_file = sqlite_path(settings.database_url)
        self._checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailgate-health")
        self._pending: Future[Any] | None = None

    def check(self) -> tuple[bool, dict[str, Any]]:
        m, now, timeout = self.settings.metrics, self.clock(), DB_TIMEOUT
        parts: dict[str, dict[str, Any]] = {}
        try:
            if self.sqlite_file and not os.path.exists(self.sqlite_file):
                raise FileNotFoundError(f"the SQLite file {self.sqlite_file} is missing")
            pending = self._pending
            if pending is None or pending.done():
                pending = self._pending = self._checks.submit(self.db.read_now, read_health,
                                                              int(timeout * 1000))
            waiting, queued, mailboxes = pending.result(timeout=timeout)
            _, waiting = intake.counted(self.sqlite_file, {}, waiting)  # mail the SMTP listener holds counts too
        except NoAnswer:
            parts["database"] = {"ok": False, "state": f"no answer within {timeout:g} s"}
        except Exception as exc:
            parts["database"] = {"ok": False, "state": f"unreadable: {one_line(exc)}"}
        else:
            parts["database"] = {"ok": True, "state": "reachable"}
        if self.listening is not None:
            serving = not self.settings.smtp.enabled or self.listening()
            parts["listener"] = {"ok": serving, "state": "disabled ([smtp] enabled = false)" if
                                 not self.settings.smtp.enabled else "listening" if serving else "not listening"}
        if parts["database"]["ok"]:
            parts["worker"] = _age_part(waiting, now, m.health_inbound_max_age, "received mail waiting")
            parts["outbox"] = _age_part(queued, now, m.health_outbox_max_age, "mail queued")
            states = {box["mailbox"]: box for box in mailboxes}
            for mailbox in self.settings.imap:
                parts[f"imap:{mailbox.key}"] = _mailbox_part(states.get(mailbox.key))
        failing = [name for name, part in parts.items() if not part["ok"]]
        return not failing, {"ok": not failing, "failing": failing, "at": now.isoformat(timespec="seconds"),
                             "parts": parts}

    def close(self) -> None:
        self._checks.shutdown(wait=False, cancel_futures=True)


def _age_part(oldest: datetime | None, now: datetime, limit: float, what: str) -> dict[str, Any]:
    """Ok while the oldest mail in that state is younger than `limit` seconds (or there is none)."""
    if oldest is None:
        return {"ok": True, "state": f"no {what}", "oldest_at": None, "age_seconds": 0}
    age = max(0, int((now - oldest).total_seconds()))
    late = age > limit
    return {"ok": not late, "state": f"{what} for {age} s" + (f" (more than {limit:g} s)" if late else ""),
            "oldest_at": oldest.isoformat(timespec="seconds"), "age_seconds": age}


def _mailbox_part(state: dict[str, Any] | None) -> dict[str, Any]:
    """Ok unless its last poll failed (errors since the last success)."""
    if state is None:
        return {"ok": True, "state": "not polled yet", "last_poll_at": None}
    failed = state["errors"] > 0
    return {"ok": not failed, "state": f"failing: {state['last_error']}" if failed else
            "connected" if state["connected"] else "disconnected", "last_poll_at": state["last_poll_at"],
            "errors": state["errors"], "last_error_at": state["last_error_at"]}
