"""Core, before threading: is this mail from a machine or from ourselves? Such mail never gets an answer.

The two questions process asks; the rules themselves live in `classify` (and `bounce`).
"""

from __future__ import annotations

from mailgate.core.mail import classify
from mailgate.core.model import ParsedMail


def own_mail(mail: ParsedMail, loop_token: str, own_addresses: frozenset[str]) -> str | None:
    """Why this mail is our own mail come back (loop header, our address as sender), or None."""
    kind = classify.own_kind(mail, loop_token, own_addresses, None)
    return kind.reason if kind is not None else None


def machine_mail(mail: ParsedMail, envelope_from: str | None, raw: bytes | None = None) -> str | None:
    """Why this mail was sent by a machine (auto-reply, bounce, list, challenge), or None for a person.

    Delegates to `classify.classify` (without the own-mail checks, which `own_mail` does); pass the
    raw bytes when at hand so that bounces are read from their MIME structure."""
    kind = classify.classify(mail, raw, envelope_from, loop_token="", own_addresses=frozenset(),
                             own_msgid_domain="")
    return kind.reason if kind.machine else None
