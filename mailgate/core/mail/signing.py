"""Core: our marks on outgoing mail: Message-IDs that carry an HMAC of the ticket number (so replies can be
trusted), and the loop header that says a mail is ours."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

LOOP_HEADER = "X-Mailgate-Loop"  # on every mail we send; its value is the instance's loop token
_OURS = re.compile(r"^mg\.(\d{1,9})\.([a-z0-9]{1,32})\.([a-z2-7]{16})@(.+)$")  # the one grammar of our ids


def _signature(secret: bytes, ticket: int, token: str) -> str:
    digest = hmac.new(secret, f"{ticket}.{token}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()  # 80 bits, 16 characters


def make_message_id(ticket: int, token: str, secret: bytes, domain: str) -> str:
    """`mg.<ticket>.<token>.<signature>@<domain>` (without angle brackets)."""
    if not re.fullmatch(r"[a-z0-9]{1,32}", token):
        raise ValueError("token must be 1-32 lower-case letters or digits")
    return f"mg.{ticket}.{token}.{_signature(secret, ticket, token)}@{domain}"


def shaped_domain(message_id: str) -> str | None:
    """The domain of a Message-ID written in our grammar (`mg.<ticket>.<token>.<signature>@<domain>`), signed
    or not, else None: what tells our own mail come back even when its signature is another instance's."""
    match = _OURS.match(message_id.strip().lower())
    return match.group(4) if match else None


def verify_message_id(message_id: str, secret: bytes) -> int | None:
    """The ticket number of one of our Message-IDs whose signature holds, else None."""
    match = _OURS.match(message_id.strip().lower())
    if match is None:
        return None
    ticket, token, signature = int(match.group(1)), match.group(2), match.group(3)
    if hmac.compare_digest(signature, _signature(secret, ticket, token)):
        return ticket
    return None
