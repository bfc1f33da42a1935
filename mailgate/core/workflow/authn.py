"""Core: is a mail really from the consultant it names? A reply to a signed mail we sent them, or a
passing DKIM/DMARC result in the topmost Authentication-Results header of a server the config trusts.

Trusting an `authserv-id` presumes that server adds its header on top of the mail it receives (RFC 8601
section 5): any header bearing its id further down was there before, written by whoever sent the mail,
and counts for nothing, whatever it says. Domains align as DMARC's relaxed mode says (RFC 7489 section
3.2): the signing domain and the From domain have the same organisational domain, which the shell reads
from the public suffix list (`Trust.org_domains`), so that `header.d=co.uk` vouches for nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import authres

from mailgate.core.model import ParsedMail, Reason
from mailgate.core.outcome import MailKind


@dataclass(frozen=True, slots=True)
class SentMail:
    """One of our signed mails that an inbound mail answers, as the outbox recorded it."""

    message_id: str
    kind: MailKind
    ticket_id: int | None
    to: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Trust:
    """Whose Authentication-Results count, and the organisational domain of each consultant's domain."""

    servers: frozenset[str] = frozenset()  # lower-cased authserv-ids: the border MTAs
    org_domains: Mapping[str, str] = field(default_factory=dict)  # absent: the domain is its own (strict)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    how: str  # what authenticated it, or why nothing did (for the ticket's events)
    refused: Reason | None = None  # why nothing did, for the consultant's mail


def agent_mail(mail: ParsedMail, sender: str, sent: Mapping[str, SentMail], trust: Trust) -> Verdict:
    """Whether `sender` (a configured agent) is proven to have written this mail."""
    for mid in mail.thread_ids:
        ours = sent.get(mid)
        if ours is not None and ours.kind.to_consultants and sender in ours.to:
            return Verdict(True, f"reply to our {ours.kind} mail sent to {sender}")
    domain = sender.rpartition("@")[2]
    passed = authentication_results(mail, domain, trust)
    if passed:
        return Verdict(True, passed)
    if not trust.servers:
        return Verdict(False, "no reply to a notification sent to them; no Authentication-Results server trusted",
                       Reason("not_a_reply"))
    return Verdict(False, f"no reply to a notification sent to them; no passing DKIM/DMARC for {domain} in the "
                          f"topmost Authentication-Results of {', '.join(sorted(trust.servers))}",
                   Reason("not_a_reply_nor_signed", {"domain": domain, "servers": tuple(sorted(trust.servers))}))


def authentication_results(mail: ParsedMail, domain: str, trust: Trust) -> str:
    """'dkim=pass for … by mx' when the topmost header of a trusted server vouches for `domain`; '' otherwise."""
    if not trust.servers:
        return ""
    header = _topmost_trusted(mail, trust.servers)
    if header is None:
        return ""
    server = str(header.authserv_id).lower()
    org = trust.org_domains.get(domain, domain)
    for result in header.results:
        method, outcome = str(result.method).lower(), str(result.result).lower()
        if outcome != "pass" or method not in ("dkim", "dmarc"):
            continue
        props = {(p.type, p.name): str(p.value or "").lower() for p in result.properties}
        vouched = props.get(("header", "d"), "") if method == "dkim" else props.get(("header", "from"), "")
        vouched = vouched.lstrip("@").rpartition("@")[2]
        if vouched and (vouched == org or vouched.endswith("." + org)):
            return f"{method}=pass for {vouched} by {server}"
    return ""


def _topmost_trusted(mail: ParsedMail, servers: frozenset[str]) -> authres.AuthenticationResultsHeader | None:
    """The first Authentication-Results header, from the top, whose authserv-id is trusted: the one the border
    added. Those below it were written before the border, by anyone."""
    for name, value in mail.headers:
        if name != "authentication-results":
            continue
        try:
            header = authres.AuthenticationResultsHeader.parse_value(value)
        except Exception:
            server = value.split(";", 1)[0].strip().lower()
            if server in servers:
                return None  # the border's own header, unreadable: nothing below it counts either
            continue
        if str(header.authserv_id or "").lower() in servers:
            return header
    return None
