"""Core: the signed token of a supervisor's sign-in link (`/desk/login/<token>`): a random nonce, the expiry and an
HMAC of both and the supervisor's address under the gateway secret. The nonce names the stored link (so that it
opens once); the HMAC makes a token nobody mailed worthless, and a new secret revokes every link. Parsing and
verifying never raise, whatever they are given."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

PREFIX = b"mailgate desk login v1\x00"  # domain separation from the status links and the Message-IDs
_TOKEN = re.compile(r"(?P<nonce>[A-Za-z0-9_-]{22})\.(?P<expires>[1-9][0-9]{0,11})\.(?P<mac>[A-Za-z0-9_-]{32})")


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    nonce: str  # 22 characters of urlsafe base64 (16 random bytes), the stored link's key
    expires: int  # seconds since the epoch (UTC)
    mac: str


def _mac(nonce: str, expires: int, email: str, secret: bytes) -> str:
    message = PREFIX + nonce.encode("ascii") + b"\x00" + str(expires).encode() + b"\x00" + \
        email.strip().lower().encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(hmac.new(secret, message, hashlib.sha256).digest()[:24]).decode("ascii")


def make_token(nonce: str, expires: int, email: str, secret: bytes) -> str:
    return f"{nonce}.{expires}.{_mac(nonce, expires, email, secret)}"


def parse(token: object) -> Token | None:
    """The token's parts, or None when it is not one of ours in shape."""
    found = _TOKEN.fullmatch(token) if isinstance(token, str) else None
    if found is None:
        return None
    return Token(nonce=found["nonce"], expires=int(found["expires"]), mac=found["mac"])


def verify(token: Token, email: str, secret: bytes) -> bool:
    """Whether the token was made for `email` under `secret` (constant time)."""
    return hmac.compare_digest(token.mac.encode("ascii"), _mac(token.nonce, token.expires, email, secret).encode())
