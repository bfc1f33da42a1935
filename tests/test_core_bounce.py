"""Bounce parsing: RFC 3464 reports and the common non-standard notices; never raises."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import compat32

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgate.core.mail import bounce_text
from mailgate.core.mail.bounce import Bounce, FailedRecipient, parse_bounce
from tests.conftest import eml


def fixture(name: str) -> bytes:
    return eml(f"hygiene/{name}")


def bounce_of(name: str) -> Bounce:
    found = parse_bounce(fixture(name))
    assert found is not None, f"{name} should be a bounce"
    return found


# fixture, kind, permanent, {recipient: status}, original Message-ID, original references
CASES = [
    ("dsn_postfix_permanent.eml", "dsn", True, {"jean.dupont@client.example": "5.1.1"},
     "mg.12.a1b2c3.abcdefghijklmnop@example.test", ("req-12@client.example",)),
    ("dsn_delayed.eml", "dsn", False, {"marie@slow.example": "4.4.1"},
     "mg.40.ff00.qrstuvwxyz234567@example.test", ("first-40@slow.example", "second-40@slow.example")),
    ("dsn_gmail_two.eml", "dsn", True, {"ghost@client.example": "5.1.1", "full@client.example": "5.2.2"},
     "mg.7.tok.abcdefghijklmnop@example.test", ()),
    ("qmail.eml", "qmail", True, {"paul@oldhost.example": "5.1.1"},
     "mg.31.x9.abcdefghijklmnop@example.test", ()),
    ("exim_permanent.eml", "exim", True, {"anna@gone.example": None},
     "mg.8.q1.abcdefghijklmnop@example.test", ()),
    ("exim_delay.eml", "exim", False, {"bob@busy.example": "4.7.1"}, None, ()),
    ("sendmail_old.eml", "sendmail", True, {"lucie@corp.example": "5.1.1"},
     "mg.2.vpn.abcdefghijklmnop@example.test", ()),
    ("exchange_legacy.eml", "exchange", True, {"marc.leroy@corp.example": None},
     "mg.55.up.abcdefghijklmnop@example.test", ()),
    ("french_notice.eml", "notice", True, {"claire@fai.example": "5.1.1"},
     "mg.77.fr.abcdefghijklmnop@example.test", ()),
]


@pytest.mark.parametrize("name, kind, permanent, recipients, original, references", CASES)
def test_bounces(name: str, kind: str, permanent: bool, recipients: dict[str, str | None], original: str | None,
                 references: tuple[str, ...]) -> None:
    found = bounce_of(name)
    assert found.kind == kind
    assert found.permanent is permanent
    assert {r.email: r.status for r in found.recipients} == recipients or \
        {r.email for r in found.recipients} == set(recipients) and all(s is None for s in recipients.values())
    assert found.original_message_id == original
    assert found.original_references == references


def test_dsn_fields_are_kept_per_recipient() -> None:
    found = bounce_of("dsn_gmail_two.eml")
    first, second = found.recipients
    assert first == FailedRecipient("ghost@client.example", "5.1.1", "failed",
                                    "smtp; 550-5.1.1 The email account that you tried to reach does not exist.")
    assert second.email == "full@client.example"  # lower-cased
    delayed = bounce_of("dsn_delayed.eml").recipients[0]
    assert delayed.action == "delayed" and delayed.diagnostic == "smtp; 421 4.4.1 Connection timed out"


def test_text_bounce_keeps_the_servers_words() -> None:
    (anna,) = bounce_of("exim_permanent.eml").recipients  # from X-Failed-Recipients
    assert anna.email == "anna@gone.example"
    (paul,) = bounce_of("qmail.eml").recipients
    assert paul.diagnostic is not None and "no mailbox here by that name" in paul.diagnostic


@pytest.mark.parametrize("name", [
    "dsn_success.eml",  # delivered: a report, not a bounce
    "human_forwards_bounce.eml",  # a person forwarding a bounce to support asks for help
    "human_undelivered_complaint.eml",  # ...or writing about one under "Undelivered mail", bounce attached
    "ooo_null_sender.eml",
    "human_reply_about_delivery.eml",  # a person writing about a delivery failure
    "human_plain.eml", "ooo_outlook.eml", "read_receipt.eml", "list_mailman.eml",
])
def test_not_bounces(name: str) -> None:
    assert parse_bounce(fixture(name)) is None


def test_accepts_a_parsed_message_and_the_envelope_hint() -> None:
    msg = message_from_bytes(fixture("dsn_postfix_permanent.eml"), policy=compat32)
    assert parse_bounce(msg) == parse_bounce(fixture("dsn_postfix_permanent.eml"))
    raw = (b"From: robot@host.example\r\nSubject: hello\r\n\r\n"
           b"Delivery has failed to these recipients:\r\n\r\nkim@far.example\r\n")
    assert parse_bounce(raw) is None  # the wording alone, from a sender that could be a person...
    found = parse_bounce(raw, envelope_from="")  # ...until the envelope says a mail system sent it
    assert found is not None and [r.email for r in found.recipients] == ["kim@far.example"]


@pytest.mark.parametrize("sender, subject", [
    ("E500_SMTP_Mail_Service@gw.example", "Returned Mail - Error During Delivery"),  # gateways under own names
    ("ndr@gw.example", "Mail delivery failed"),
    ('"System Administrator" <admin@gw.example>', "Undeliverable: hello"),
    ("Mail Delivery System <Mailer-Daemon@gw.example>", "Hello"),
])
def test_mail_system_senders(sender: str, subject: str) -> None:
    raw = (f"From: {sender}\r\nSubject: {subject}\r\n\r\nYour message could not be delivered to:\r\n\r\n"
           f"  <kim@far.example>: 550 5.1.1 user unknown\r\n").encode()
    found = parse_bounce(raw)
    assert found is not None and [(r.email, r.status) for r in found.recipients] == [("kim@far.example", "5.1.1")]
    person = raw.replace(sender.encode(), b"Kim Lee <kim.lee@client.example>")
    assert parse_bounce(person) is None


@pytest.mark.parametrize("text, status", [
    ("smtp; 550 5.1.1 <a@b.example>: user unknown", "5.1.1"),
    ("said: 452 4.2.2 Mailbox full", "4.2.2"),
    ("host 10.5.23.1 said: 550 no such user", "5.0.0"),  # an IP address is no status code
    ("421 Try again later", "4.0.0"),
    ("5.7.1 (delivery not authorized)", "5.7.1"),
    ("version 2.1.3 released", None),
    ("", None),
])
def test_status_code(text: str, status: str | None) -> None:
    assert bounce_text.status_code(text) == status


@pytest.mark.parametrize("status, action, words, permanent", [
    ("5.1.1", "failed", "", True),
    ("4.4.7", "failed", "", False),  # the status class decides
    (None, "delayed", "", False),
    (None, None, "Message will be retried for 2 more days", False),
    (None, None, "User unknown", True),
    (None, None, "hello", None),
])
def test_permanence(status: str | None, action: str | None, words: str, permanent: bool | None) -> None:
    assert bounce_text.permanence(status, action, words) is permanent


SAMPLES = [fixture(name) for name, *_ in CASES] + [fixture("human_forwards_bounce.eml")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SAMPLES), st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=8)), max_size=6))
def test_never_raises_on_mutated_bounces(raw: bytes, edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(raw)
    for position, chunk in edits:
        at = position % (len(data) + 1)
        data[at:at + len(chunk)] = chunk
    found = parse_bounce(bytes(data))
    assert found is None or isinstance(found, Bounce)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_never_raises_on_any_bytes(raw: bytes) -> None:
    parse_bounce(raw)
    parse_bounce(b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n" + raw)
