"""Core: which consultant mail is authenticated: a reply to our mail sent to them, or trusted DKIM/DMARC."""

from __future__ import annotations

import pytest

from mailgate.core.model import Address, ParsedMail
from mailgate.core.outcome import MailKind
from mailgate.core.workflow import authn

TRUSTED = frozenset({"mx.example.test"})


def mail(*auth_results: str, in_reply_to: tuple[str, ...] = ()) -> ParsedMail:
    return ParsedMail(message_id="x@test", subject="s", from_=Address("alice@example.test"),
                      in_reply_to=in_reply_to,
                      headers=tuple(("authentication-results", v) for v in auth_results))


SENT = {
    "n1@ours": authn.SentMail("n1@ours", MailKind.NOTIFY_NEW, 1, ("alice@example.test",)),
    "ack@ours": authn.SentMail("ack@ours", MailKind.ACK, 1, ("fabrice@client.example",)),
    "n2@ours": authn.SentMail("n2@ours", MailKind.NOTIFY_NEW, 1, ("bruno@example.test",)),
}


@pytest.mark.parametrize(("m", "ok"), [
    (mail(in_reply_to=("n1@ours",)), True),  # a notification sent to her
    (mail(in_reply_to=("ack@ours",)), False),  # the customer's acknowledgement: the customer has it too
    (mail(in_reply_to=("n2@ours",)), False),  # a notification sent to someone else
    (mail("mx.example.test; dkim=pass header.d=example.test"), True),
    (mail("mx.example.test; dkim=pass header.i=@example.test header.d=example.test"), True),
    (mail("mx.example.test; dmarc=pass header.from=example.test"), True),
    (mail("mx.example.test; dkim=pass header.d=parent.test"), False),  # not the sender's domain
    (mail("mx.example.test; dkim=fail header.d=example.test"), False),
    (mail("mx.evil.example; dkim=pass header.d=example.test"), False),  # a server we do not trust
    (mail("MX.Example.Test; spf=pass smtp.mailfrom=alice@example.test"), False),  # SPF alone: no
    (mail("garbage ;;; =="), False),
])
def test_agent_mail_authentication(m: ParsedMail, ok: bool) -> None:
    verdict = authn.agent_mail(m, "alice@example.test", SENT, TRUSTED)
    assert verdict.ok is ok, verdict.how
    assert verdict.how


def test_dkim_of_a_parent_domain_aligns_relaxed() -> None:
    m = ParsedMail(message_id=None, subject="", from_=Address("alice@mail.example.test"),
                   headers=(("authentication-results", "mx.example.test; dkim=pass header.d=example.test"),))
    assert authn.agent_mail(m, "alice@mail.example.test", {}, TRUSTED).ok


def test_without_trusted_servers_the_reason_says_so() -> None:
    verdict = authn.agent_mail(mail("mx.example.test; dkim=pass header.d=example.test"),
                               "alice@example.test", {}, frozenset())
    assert not verdict.ok and "no Authentication-Results server is trusted" in verdict.how
