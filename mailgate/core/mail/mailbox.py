"""Core: is this text a mailbox an SMTP command line can carry (RFC 5321 section 4.1.2, RFC 6531 for UTF-8)?

Lenient where real mail is (dots anywhere in the local part, as some carriers hand out), strict where a
relay would refuse or an attacker could smuggle: no whitespace, no control character, no angle bracket,
an unquoted local part of atext only, a domain of letters, digits, hyphens and underscores or an
address literal.
"""

from __future__ import annotations

import re

from mailgate.core.model import Address, ParsedMail

MAX_LENGTH = 320  # the address columns' width, and far beyond RFC 5321's 256-octet path

_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.\u0080-\U0010FFFF]"
_QUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\U0010FFFF]|\\[\x20-\x7e])*"'
_LABEL = r"[A-Za-z0-9_\u0080-\U0010FFFF](?:[A-Za-z0-9_\-\u0080-\U0010FFFF]*[A-Za-z0-9_\u0080-\U0010FFFF])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*\.?"
_LITERAL = r"\[[\x21-\x5a\x5e-\x7e]+\]"
_MAILBOX = re.compile(rf"(?:{_ATEXT}+|{_QUOTED})@(?:{_DOMAIN}|{_LITERAL})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def is_mailbox(text: str) -> bool:
    """Whether `text` (an address without angle brackets) can be given to a relay as MAIL FROM or RCPT TO."""
    return 0 < len(text) <= MAX_LENGTH and _CONTROL.search(text) is None and _MAILBOX.fullmatch(text) is not None


def why_not_mailbox(text: str) -> str | None:
    """None for a mailbox, else what is wrong with it, for the ticket's record."""
    if is_mailbox(text):
        return None
    if not text:
        return "the address is empty"
    if len(text) > MAX_LENGTH:
        return f"the address is {len(text)} characters long (at most {MAX_LENGTH})"
    if _CONTROL.search(text) or any(c.isspace() for c in text):
        return f"{text!r} contains spaces or control characters"
    return f"{text!r} is not a valid mailbox (local-part@domain)"


def sender_of(mail: ParsedMail, envelope_from: str | None) -> Address | None:
    """Who sent the mail, the one definition everywhere: the first From address, else the envelope sender
    (lower-cased, without angle brackets), else nobody (a bounce's null sender)."""
    if mail.from_ is not None:
        return mail.from_
    bare = (envelope_from or "").strip().strip("<>").strip().lower()
    return Address(bare) if bare else None
