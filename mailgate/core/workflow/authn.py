"""Core: is a mail really from the consultant it names? A reply to a signed mail we sent them, or a
passing DKIM/DMARC result in an Authentication-Results header from a server the config trusts.

Trusting an `authserv-id` presumes that server removes Authentication-Results headers carrying its
id from the mail it receives, as RFC 8601 section 5 requires of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import authres

from mailgate.core.model import ParsedMail
from mailgate.core.outcome import MailKind


@dataclass(frozen=True, slots=True)
class SentMail:
    """One of our signed mails that an inbound mail answers, as the outbox recorded it."""

    message_id: str
    kind: MailKind
    ticket_id: int | None
    to: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    how: str  # what authenticated it, or why nothing did


def agent_mail(mail: ParsedMail, sender: str, sent: Mapping[str, SentMail],
               trusted_authserv_ids: frozenset[str]) -> Verdict:
    """Whether `sender` (a configured agent) is proven to have written this mail."""
    for mid in mail.thread_ids:
        ours = sent.get(mid)
        if ours is not None and ours.kind.to_consultants and sender in ours.to:
            return Verdict(True, f"reply to our {ours.kind} mail sent to {sender}")
    domain = sender.rpartition("@")[2]
    passed = authentication_results(mail, domain, trusted_authserv_ids)
    if passed:
        return Verdict(True, passed)
    if not trusted_authserv_ids:
        return Verdict(False, "it does not answer a notification sent to you (reply to one of our "
                              "notification mails), and no Authentication-Results server is trusted")
    return Verdict(False, "it does not answer a notification sent to you, and carries no passing DKIM or "
                          f"DMARC result for {domain} from a trusted server "
                          f"({', '.join(sorted(trusted_authserv_ids))})")


def authentication_results(mail: ParsedMail, domain: str, trusted: frozenset[str]) -> str:
    """'dkim=pass header.d=… (by mx)' when a trusted header vouches for `domain`; '' otherwise."""
    if not trusted:
        return ""
    for name, value in mail.headers:
        if name != "authentication-results":
            continue
        try:
            header = authres.AuthenticationResultsHeader.parse_value(value)
        except Exception:
            continue
        server = str(header.authserv_id or "").lower()
        if server not in trusted:
            continue
        for result in header.results:
            method, outcome = str(result.method).lower(), str(result.result).lower()
            if outcome != "pass" or method not in ("dkim", "dmarc"):
                continue
            props = {(p.type, p.name): str(p.value or "").lower() for p in result.properties}
            vouched = props.get(("header", "d"), "") if method == "dkim" else props.get(("header", "from"), "")
            if vouched and _aligned(domain, vouched):
                return f"{method}=pass for {vouched} by {server}"
    return ""


def _aligned(domain: str, vouched: str) -> bool:
    """Relaxed alignment: the From domain is the signing domain or below it."""
    vouched = vouched.lstrip("@").rpartition("@")[2]
    return domain == vouched or domain.endswith("." + vouched)
