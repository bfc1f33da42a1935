"""Core: is this mail from a machine or from ourselves? Such mail never gets an automatic answer.

The foundation checks: our loop header, our own addresses, RFC 3834 Auto-Submitted, Precedence
bulk/junk/list, X-Autoreply/X-Autorespond, empty envelope sender and MAILER-DAEMON/postmaster senders.
"""

from __future__ import annotations

from mailgate.core.model import ParsedMail

LOOP_HEADER = "X-Mailgate-Loop"
_DAEMONS = ("mailer-daemon@", "postmaster@", "mail-daemon@", "noreply-dmarc-support@")


def own_mail(mail: ParsedMail, loop_token: str, own_addresses: frozenset[str]) -> str | None:
    """Why this mail is our own mail come back, or None."""
    loop = mail.header(LOOP_HEADER.lower())
    if loop is not None and loop.strip().lower() == loop_token.lower():
        return f"carries our {LOOP_HEADER} header"
    if mail.from_ is not None and mail.from_.email in own_addresses:
        return f"sent from our own address {mail.from_.email}"
    return None


def machine_mail(mail: ParsedMail, envelope_from: str | None) -> str | None:
    """Why this mail was sent by a machine (auto-reply, bounce, list), or None for a person."""
    auto = (mail.header("auto-submitted") or "").strip().lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    precedence = (mail.header("precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    for name in ("x-autoreply", "x-autorespond", "x-auto-reply"):
        if mail.header(name) is not None:
            return f"{name} header"
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        return "empty envelope sender (a bounce)"
    if mail.from_ is not None and mail.from_.email.startswith(_DAEMONS):
        return f"sender {mail.from_.email}"
    return None
