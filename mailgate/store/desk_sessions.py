"""Store: the supervisors' sign-in links (issued, opened once) and their sessions (a hash of the cookie's secret,
with its expiry), read and written by the dashboard's server (web/desk_auth.py) on its own connection."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.store.columns import fit
from mailgate.store.tables import desk_login, desk_session


class Refused(StrEnum):
    """Why a sign-in link does not open a session (logged; the person sees one refusal page)."""

    UNKNOWN = "unknown link"  # no such nonce: never issued, or issued under another database
    FORGED = "bad signature"  # the nonce exists but the token was not made for it (or under another secret)
    USED = "already used"
    EXPIRED = "expired"


def issue(conn: Connection, email: str, now: datetime, valid: timedelta, per_hour: int) -> tuple[str, datetime] | None:
    """A new link's nonce and expiry for `email`; None when `per_hour` links went to it in the last hour."""
    recent = conn.execute(sa.select(sa.func.count()).select_from(desk_login).where(
        desk_login.c.email == email, desk_login.c.issued_at > now - timedelta(hours=1))).scalar_one()
    if recent >= per_hour:
        return None
    nonce = secrets.token_urlsafe(16)
    expires = (now + valid).replace(microsecond=0)
    conn.execute(sa.insert(desk_login).values(nonce=nonce, email=fit(desk_login.c.email, email), issued_at=now,
                                              expires_at=expires))
    return nonce, expires


def email_of(conn: Connection, nonce: str) -> str | None:
    """The address the link `nonce` was issued to, if it was."""
    found = conn.execute(sa.select(desk_login.c.email).where(desk_login.c.nonce == nonce)).scalar()
    return None if found is None else str(found)


def use(conn: Connection, nonce: str, now: datetime) -> Refused | None:
    """Mark the link opened, once: None when this opening counts, else why not. The update is conditional, so
    that of two openings at the same moment (two processes, two instances) one only counts."""
    row = conn.execute(sa.select(desk_login.c.used_at, desk_login.c.expires_at)
                       .where(desk_login.c.nonce == nonce)).first()
    if row is None:
        return Refused.UNKNOWN
    if row.used_at is not None:
        return Refused.USED
    if row.expires_at <= now:
        return Refused.EXPIRED
    taken = conn.execute(sa.update(desk_login).where(desk_login.c.nonce == nonce, desk_login.c.used_at.is_(None))
                         .values(used_at=now)).rowcount
    return None if taken == 1 else Refused.USED


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


def open_session(conn: Connection, email: str, now: datetime, valid: timedelta) -> str:
    """A new session's secret (the cookie's value); only its hash is stored."""
    session_id = secrets.token_urlsafe(32)
    conn.execute(sa.insert(desk_session).values(id_hash=_hash(session_id), email=email, created_at=now,
                                                expires_at=now + valid))
    conn.execute(sa.delete(desk_session).where(desk_session.c.expires_at < now))  # the expired ones go
    return session_id


def session_email(conn: Connection, session_id: str, now: datetime) -> str | None:
    """Whose session this is, while it has not expired."""
    found = conn.execute(sa.select(desk_session.c.email).where(
        desk_session.c.id_hash == _hash(session_id), desk_session.c.expires_at > now)).scalar()
    return None if found is None else str(found)


def close_session(conn: Connection, session_id: str) -> None:
    conn.execute(sa.delete(desk_session).where(desk_session.c.id_hash == _hash(session_id)))
