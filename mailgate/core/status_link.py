"""Core: the signed token of a requester's status link (`/t/<ticket>/<token>`): an HMAC of the ticket number and
the requester's address under the gateway secret, so that only the mails we sent them open the ticket's page.
A new secret revokes every link; the verification never raises, whatever it is given."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

PREFIX = b"mailgate status link v1\x00"  # domain separation: no other HMAC of ours (Message-IDs) is ever one of these
TOKEN_BYTES = 18  # 144 bits of the SHA-256, 24 characters of urlsafe base64 without padding
_TOKEN = re.compile(r"[A-Za-z0-9_-]{24}")
MAX_TICKET = 999_999_999  # ticket numbers are at most 9 digits in every grammar of ours


def _normal(requester: str) -> bytes:
    return requester.strip().lower().encode("utf-8", "surrogatepass")


def make_token(ticket: int, requester: str, secret: bytes) -> str:
    """The token of ticket `ticket` for its requester `requester` (the case of the address does not count)."""
    message = PREFIX + str(ticket).encode() + b"\x00" + _normal(requester)
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).decode("ascii")


def verify_token(ticket: object, requester: object, token: object, secret: bytes) -> bool:
    """True when `token` is the token of `ticket` for `requester` under `secret`; False for anything else (a token
    of another ticket or requester, a flipped character, a wrong type, garbage), compared in constant time."""
    if not isinstance(ticket, int) or isinstance(ticket, bool) or not 0 < ticket <= MAX_TICKET:
        return False
    if not isinstance(requester, str) or not requester.strip() or not isinstance(token, str):
        return False
    if not _TOKEN.fullmatch(token):
        return False
    expected = make_token(ticket, requester, secret)
    return hmac.compare_digest(token.encode("ascii"), expected.encode("ascii"))


def link(base_url: str, ticket: int, requester: str, secret: bytes) -> str:
    """The status page's address: `<base_url>/t/<ticket>/<token>` (`base_url` as the requester reaches the server)."""
    return f"{base_url.rstrip('/')}/t/{ticket}/{make_token(ticket, requester, secret)}"
