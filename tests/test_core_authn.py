"""Core: which consultant mail is authenticated: a reply to our mail sent to them, or trusted DKIM/DMARC in
the topmost header of a trusted server, aligned on the organisational domain."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailgate.core.model import Address, ParsedMail
from mailgate.core.outcome import MailKind
from mailgate.core.workflow import authn

TRUSTED = authn.Trust(servers=frozenset({"mx.example.test"}),
                      org_domains={"example.test": "example.test", "mail.example.test": "example.test",
                                   "corp.example": "corp.example", "mail.example.co.uk": "example.co.uk"})


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
                               "alice@example.test", {}, authn.Trust())
    assert not verdict.ok and "no Authentication-Results server trusted" in verdict.how
    assert verdict.refused is not None and verdict.refused.code == "not_a_reply"


BORDER_FAIL = "mx.example.test; dkim=fail header.d=example.test"
FORGED_PASS = "mx.example.test; dkim=pass header.d=example.test"


@pytest.mark.parametrize(("headers", "ok"), [
    ((BORDER_FAIL, FORGED_PASS), False),  # the border said fail; the pass below it was in the mail before
    (("mx.example.test; spf=pass smtp.mailfrom=example.test", FORGED_PASS), False),  # the border vouched no DKIM
    (("mx.example.test; none", FORGED_PASS), False),
    (("mx.example.test ;;; unreadable", FORGED_PASS), False),  # the border's own header, unreadable
    ((FORGED_PASS, BORDER_FAIL), True),  # the topmost is the border's: pass
    (("other.example; dkim=fail header.d=example.test", FORGED_PASS), True),  # an untrusted header above
])
def test_only_the_topmost_header_of_a_trusted_server_counts(headers: tuple[str, ...], ok: bool) -> None:
    verdict = authn.agent_mail(mail(*headers), "alice@example.test", {}, TRUSTED)
    assert verdict.ok is ok, verdict.how


@pytest.mark.parametrize(("sender", "signer", "ok"), [
    ("alice@corp.example", "example", False),  # a bare public suffix vouches for nobody
    ("alice@mail.example.co.uk", "co.uk", False),
    ("alice@mail.example.co.uk", "example.co.uk", True),  # the organisational domain
    ("alice@mail.example.co.uk", "other.example.co.uk", True),  # relaxed: same organisational domain
    ("alice@mail.example.co.uk", "example.com", False),
    ("alice@unknown.example", "example", False),  # a domain the shell did not map is its own
])
def test_domains_align_on_the_organisational_domain(sender: str, signer: str, ok: bool) -> None:
    m = ParsedMail(message_id=None, subject="", from_=Address(sender),
                   headers=(("authentication-results", f"mx.example.test; dkim=pass header.d={signer}"),))
    assert authn.agent_mail(m, sender, {}, TRUSTED).ok is ok


def test_the_shell_reads_organisational_domains_from_the_public_suffix_list(tmp_path: Path) -> None:
    """config.desk.trust_of: each consultant's domain -> its organisational domain; no list without servers."""
    from conftest import settings_data

    from mailgate.config.desk import trust_of
    from mailgate.config.settings import Settings, from_dict

    def settings(**overrides: object) -> Settings:
        data = settings_data("sqlite://", 0, **overrides)
        data["agents"] = agents
        return from_dict(data, str(tmp_path / "config.toml"))

    agents = [{"email": "alice@mail.example.co.uk", "name": "A", "level": 1},
              {"email": "bruno@dept.corp.example.com", "name": "B", "level": 2},
              {"email": "carla@example.test", "name": "C", "level": 3}]
    plain = trust_of(settings())
    assert plain == authn.Trust()
    trust = trust_of(settings(workflow__trusted_authserv_ids=["MX.Example.Test"]))
    assert trust.servers == {"mx.example.test"}
    assert trust.org_domains["mail.example.co.uk"] == "example.co.uk"
    assert trust.org_domains["dept.corp.example.com"] == "example.com"
    assert trust.org_domains["example.test"] == "example.test"  # unknown suffix: the domain is its own org
    assert authn.authentication_results(
        mail("mx.example.test; dkim=pass header.d=example.co.uk"), "mail.example.co.uk", trust)
    assert not authn.authentication_results(
        mail("mx.example.test; dkim=pass header.d=co.uk"), "mail.example.co.uk", trust)
