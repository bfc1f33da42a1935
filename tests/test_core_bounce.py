"""Bounce parsing: RFC 3464 reports and the common non-standard notices; never raises."""

from __future__ import annotations

import time
from email import message_from_bytes
from email.policy import compat32

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgate.core.mail import bounce_text, notices
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


OURS = "mg.12.a1b2c3.abcdefghijklmnop@example.test"

# Issue 16 (mail understanding): fixture, kind, permanent, {recipient: status}, original Message-ID.
# Delay warnings are never permanent; a 5.x.x code in a text notice is; damaged MIME (a redacted boundary, a
# blank line before the returned headers, an unindented continuation line) still gives our Message-ID and the
# report's fields; every failed recipient of a report; the report's fields win over the notice's words.
ISSUE_16 = [
    ("exchange_delay_redacted.eml", "dsn", False, {"marc.leroy@corp.example": "4.4.7"}, OURS),  # boundary lost
    ("sendmail_warning_5xx.eml", "sendmail", False, {"sophie@client.example": "5.2.2"}, OURS),  # 452 5.2.2: a delay
    ("gmail_delay_blankline.eml", "dsn", False, {"paul@slowhost.example": "4.4.2"}, OURS),
    ("postfix_delay_unindented.eml", "dsn", False, {"lucie@corp.example": "4.4.1"}, OURS),
    ("gmail_permanent_text.eml", "gmail", True, {"ghost@client.example": None}, OURS),  # "tried to deliver" + 5.1.1
    ("postfix_multi_noblank.eml", "dsn", True,
     {"ana@client.example": "5.1.1", "bruno@client.example": "5.2.2", "chloe@client.example": "5.1.1"}, OURS),
    ("gateway_indented_dsn.eml", "dsn", True, {"jean.dupont@client.example": "5.1.1"}, OURS),  # not jd@ (text)
    ("exim_blankline_original.eml", "dsn", True, {"anna@gone.example": "5.1.1"}, OURS),
    ("ses_bounce_sns.eml", "ses", True, {"jean.dupont@client.example": "5.1.1"}, OURS),
    ("sendgrid_webhook.eml", "sendgrid", True, {"ana@client.example": "5.1.1"}, OURS),
]


@pytest.mark.parametrize("name, kind, permanent, recipients, original", ISSUE_16)
def test_issue_16_bounces(name: str, kind: str, permanent: bool, recipients: dict[str, str | None],
                          original: str) -> None:
    found = bounce_of(name)
    assert (found.kind, found.permanent) == (kind, permanent)
    assert {r.email: r.status for r in found.recipients} == recipients
    assert found.original_message_id == original


def test_a_success_report_behind_a_lost_boundary_is_no_bounce() -> None:
    assert parse_bounce(fixture("success_dsn_redacted.eml")) is None  # Action: relayed; the notice names the address


@pytest.mark.parametrize("subject, notice, delay", [
    ("Delivery Status Notification (Delay)", "", True),
    ("Warning: could not send message for past 4 hours", "", True),
    ("Mail delivery", "Warning: message still undelivered after 4 hours\nWill keep trying until 5 days old", True),
    ("x", "The server will keep trying to deliver this message for the next 1 days", True),
    ("x", "Gmail will retry for 46 more hours. You'll be notified if the delivery fails permanently.", True),
    ("x", "Your message could not be delivered for more than 4 hour(s).", True),
    ("Undeliverable: project delay", "Delivery has failed to these recipients", False),  # the returned subject
    ("Returned mail", "Message could not be delivered for 5 days. Giving up.", False),
    ("x", "This is a permanent error. Eventually the software will retry", False),
])
def test_delay_warning(subject: str, notice: str, delay: bool) -> None:
    assert bounce_text.delay_warning(subject, notice) is delay


def test_a_5xx_in_a_text_notice_is_permanent_unless_it_is_a_delay_warning() -> None:
    head = "From: Mail Delivery System <MAILER-DAEMON@mx.far.example>\r\nSubject: Mail delivery failed\r\n\r\n"
    body = ("We tried to deliver your message to:\r\n\r\n  kim@far.example\r\n\r\n"
            "The other server said:\r\n550 5.7.1 Service unavailable\r\n")
    found = parse_bounce((head + body).encode())
    assert found is not None and found.permanent is True  # "tried to deliver" is no delay
    warning = parse_bounce((head + body + "This is a warning only: we will retry for 2 days.\r\n").encode())
    assert warning is not None and warning.permanent is False


def test_our_message_id_anywhere_in_a_damaged_bounce() -> None:
    raw = (b"From: MAILER-DAEMON@mx.far.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
           b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
           b"Your message could not be delivered to <kim@far.example>: 550 5.1.1 unknown\r\n\r\n"
           b"Original headers, as we could read them: msgid=3D<mg.12.a1b2c3.abcdefg=\r\nhijklmnop@example.test>\r\n")
    found = parse_bounce(raw)
    assert found is not None and found.original_message_id == OURS  # even cut by a quoted-printable soft break


@pytest.mark.parametrize("payload, failure, permanent, recipients", [
    ('{"signature": {}, "event-data": {"event": "failed", "severity": "permanent", "recipient": "Kim@far.example", '
     '"delivery-status": {"code": 550, "message": "5.1.1 unknown"}, "message": {"headers": {"message-id": "m@x"}}}}',
     True, True, ["kim@far.example"]),
    ('{"signature": {}, "event-data": {"event": "failed", "severity": "temporary", "recipient": "kim@far.example"}}',
     True, False, ["kim@far.example"]),
    ('{"RecordType": "Bounce", "Type": "HardBounce", "MessageID": "1", "Email": "kim@far.example"}',
     True, True, ["kim@far.example"]),
    ('{"RecordType": "SpamComplaint", "MessageID": "1", "Email": "kim@far.example"}', False, None, []),
    ('{"notificationType": "Complaint", "mail": {"messageId": "x"}, "complaint": {}}', False, None, []),
])
def test_provider_events(payload: str, failure: bool, permanent: bool | None, recipients: list[str]) -> None:
    event = notices.provider_event(payload)
    assert event is not None and (event.failure, event.permanent) == (failure, permanent)
    assert [r.email for r in event.recipients] == recipients


@pytest.mark.parametrize("text", ['{"event": "bounce", "email": "a@b.example"}', "Hello {", "[" * 100_000, "{}"])
def test_json_that_is_no_provider_event(text: str) -> None:
    assert notices.provider_event(text) is None


@pytest.mark.parametrize("filler", [" ", "mg.1.", "a", ".", "1", "@", "{", "[", "Final-Recipient: ", "5.5.5 ",
                                    "delay ", "mg.1.a.abcdefghijklmnop@"])
def test_new_patterns_stay_linear(filler: str) -> None:
    line = filler * (60_000 // len(filler))
    started = time.perf_counter()
    for text in (line, "message-id: " + line, "Delayed " + line + " x"):
        bounce_text.delay_warning(text, text)
        bounce_text.failure_code(text)
        notices.success_notice(text, text)
        notices.list_notice(text, text, text, True)
        notices.provider_event(text)
        parse_bounce(("From: MAILER-DAEMON@mx.example\r\nSubject: Undeliverable\r\n\r\n" + text).encode())
    assert time.perf_counter() - started < 3.0, filler


SAMPLES = [fixture(name) for name, *_ in CASES + ISSUE_16] + [fixture("human_forwards_bounce.eml")]


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
