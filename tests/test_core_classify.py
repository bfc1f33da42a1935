"""Classification of inbound mail: human, auto-reply, list, bounce, challenge, our own; never raises."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgate.core.desk import Desk, Snapshot
from mailgate.core.mail.classify import Kind, classify
from mailgate.core.mail.parse import parse
from mailgate.core.mail.signing import make_message_id
from mailgate.core.model import Address, Agent, Status, TicketView
from mailgate.core.prepare import prepare
from mailgate.core.process import process
from tests.conftest import eml

LOOP = "example.test/0123456789abcdef"
OWN = frozenset({"support@example.test"})


def kind_of(raw: bytes, envelope_from: str | None = None, *, use_raw: bool = True) -> Kind:
    return classify(parse(raw), raw if use_raw else None, envelope_from, loop_token=LOOP, own_addresses=OWN,
                    own_msgid_domain="example.test")


def header_mail(*headers: str, subject: str = "Question", sender: str = "fabrice@client.example",
                body: str = "Bonjour.") -> bytes:
    lines = [f"From: {sender}", "To: support@example.test", f"Subject: {subject}",
             "Message-ID: <m-1@client.example>", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


@pytest.mark.parametrize("name, kind, suppress", [
    ("dsn_postfix_permanent.eml", "bounce", True),
    ("dsn_delayed.eml", "bounce", True),
    ("qmail.eml", "bounce", True),
    ("exchange_legacy.eml", "bounce", True),
    ("dsn_success.eml", "auto_reply", True),
    ("read_receipt.eml", "auto_reply", True),
    ("ooo_outlook.eml", "auto_reply", True),
    ("ooo_fr.eml", "auto_reply", True),
    ("ooo_de.eml", "auto_reply", True),
    ("vacation_precedence.eml", "auto_reply", True),
    ("list_mailman.eml", "list", True),
    ("challenge_tmda.eml", "challenge", True),
    ("challenge_generic.eml", "challenge", True),
    ("own_loop.eml", "own", False),
    ("own_msgid.eml", "own", False),
    ("google_group_own.eml", "human", False),  # support@ is itself a Google Group: its list headers are ours
    ("human_outlook_suppress.eml", "human", True),  # X-Auto-Response-Suppress alone: a person, who wants no ack
    ("human_forwards_bounce.eml", "human", False),
    ("human_undelivered_complaint.eml", "human", False),  # a customer's ticket about a bounce, bounce attached
    ("ooo_null_sender.eml", "auto_reply", True),  # "will try to answer" from <> is no delay notice
    ("human_reply_about_delivery.eml", "human", False),
    ("human_plain.eml", "human", False),
    ("new_request.eml", "human", False),  # the foundation's fixtures keep their meaning
    ("auto_reply.eml", "auto_reply", True),
])
def test_fixtures(name: str, kind: str, suppress: bool) -> None:
    raw = eml(name if "/" in name or name in ("new_request.eml", "auto_reply.eml") else f"hygiene/{name}")
    found = kind_of(raw)
    assert (found.kind, found.suppress_auto_reply) == (kind, suppress), found.reason
    assert found.machine is (kind != "human")
    assert (found.bounce is not None) is (kind == "bounce")


@pytest.mark.parametrize("headers, subject, kind", [
    (("Auto-Submitted: auto-replied",), "Question", "auto_reply"),
    (("Auto-Submitted: auto-generated",), "Question", "auto_reply"),
    (("Auto-Submitted: no",), "Question", "human"),
    (("Precedence: bulk",), "Question", "auto_reply"),
    (("Precedence: junk",), "Question", "auto_reply"),
    (("Precedence: list",), "Question", "auto_reply"),  # no list header: a machine claiming list precedence
    (("Precedence: list", "List-Help: <mailto:l-request@lists.example>"), "Question", "list"),
    (("Precedence: bulk", "Sender: owner-users@lists.example"), "Question", "list"),  # Majordomo
    (("List-Id: <users.lists.example>",), "Question", "list"),
    (("List-Unsubscribe: <mailto:u@news.example>",), "Question", "human"),  # many a person's tool adds it
    (("X-Autoreply: yes",), "Question", "auto_reply"),
    (("X-Autorespond: yes",), "Question", "auto_reply"),
    (("X-Auto-Response-Suppress: All",), "Question", "human"),
    (("X-Auto-Response-Suppress: All", "X-MS-Exchange-Inbox-Rules-Loop: a@client.example"), "Re: x", "auto_reply"),
    (("X-Bluebottle-Request: <1>",), "RE: x", "challenge"),
    (("Return-Path: <>",), "Question", "auto_reply"),
    ((), "Out of Office: [#12] Printer", "auto_reply"),
    ((), "Out of office AutoReply: meeting", "auto_reply"),
    ((), "AUTO: John Smith is out of the office (returning 05/01)", "auto_reply"),
    ((), "[Auto-Reply] Re: invoice", "auto_reply"),
    ((), "Automatische Antwort: Rechnung", "auto_reply"),
    ((), "Absence du bureau", "auto_reply"),
    ((), "Respuesta automática: factura", "auto_reply"),
    ((), "Risposta automatica: fattura", "auto_reply"),
    ((), "Automatisch antwoord: factuur", "auto_reply"),
    ((), "Report domain: example.test Submitter: google.com Report-ID: 123", "auto_reply"),
    ((), "Re: Automatic reply: [#12] Printer", "human"),  # a person answering an auto-reply
    ((), "My out of office reply is broken", "human"),
    ((), "Away message not working", "human"),
    ((), "Vacation request form", "human"),
    ((), "Auto - insurance question", "human"),
    ((), "Please confirm your message was received", "human"),  # a challenge's subject, not its words
    ((), "Auto: insurance question", "auto_reply"),  # Lotus Notes' auto-reply label
    (("List-Unsubscribe-Post: List-Unsubscribe=One-Click", "List-Unsubscribe: <https://n.example/u>"), "News",
     "list"),
])
def test_header_and_subject_rules(headers: tuple[str, ...], subject: str, kind: str) -> None:
    found = kind_of(header_mail(*headers, subject=subject))
    assert found.kind == kind, found.reason


def test_envelope_and_senders() -> None:
    assert kind_of(header_mail(), envelope_from="").kind == "auto_reply"
    assert kind_of(header_mail(), envelope_from="<>").kind == "auto_reply"
    assert kind_of(header_mail(), envelope_from="fabrice@client.example").kind == "human"
    assert kind_of(header_mail(sender="MAILER-DAEMON@mx.example")).kind == "auto_reply"
    assert kind_of(header_mail(sender="noreply@webform.example")).kind == "human"  # web forms write for people
    assert kind_of(header_mail(sender="postmaster@client.example")).kind == "human"  # postmasters are people too
    assert kind_of(header_mail(sender="Support <SUPPORT@example.test>")).kind == "own"


def test_own_message_id_needs_our_shape_and_domain() -> None:
    ours = header_mail().replace(b"<m-1@client.example>", b"<mg.4.ab.abcdefghijklmnop@example.test>")
    assert kind_of(ours).kind == "own"
    colleague = header_mail().replace(b"<m-1@client.example>", b"<1234.5678@example.test>")  # a consultant's client
    assert kind_of(colleague).kind == "human"
    elsewhere = header_mail().replace(b"<m-1@client.example>", b"<mg.4.ab.abcdefghijklmnop@other.example>")
    assert kind_of(elsewhere).kind == "human"


def test_loop_header_must_carry_our_token() -> None:
    assert kind_of(header_mail(f"X-Mailgate-Loop: {LOOP}")).kind == "own"
    assert kind_of(header_mail("X-Mailgate-Loop: other.example/ffff")).kind == "human"


def test_bounce_kind_carries_the_parsed_bounce() -> None:
    found = kind_of(eml("hygiene/dsn_gmail_two.eml"))
    assert found.bounce is not None and found.bounce.permanent is True
    assert [r.email for r in found.bounce.recipients] == ["ghost@client.example", "full@client.example"]
    assert "ghost@client.example" in found.reason


def test_without_raw_bytes_text_bounces_are_still_seen() -> None:
    found = kind_of(eml("hygiene/qmail.eml"), use_raw=False)
    assert found.kind == "bounce" and found.bounce is not None
    assert [r.email for r in found.bounce.recipients] == ["paul@oldhost.example"]


def test_own_mail_is_told_by_the_loop_header_only_with_our_token() -> None:
    assert kind_of(eml("hygiene/own_loop.eml")).reason == "carries our X-Mailgate-Loop header"
    other = classify(parse(eml("hygiene/own_loop.eml")), None, None, loop_token="another/instance",
                     own_addresses=OWN, own_msgid_domain="")
    assert other.kind != "own"
    assert kind_of(eml("hygiene/human_plain.eml")).kind == "human"


# Issue 16.3: machine notices that passed as a person's mail (or, for success reports, as failures).
MACHINE_NOTICES = [
    ("ses_delivery_sns.eml", "auto_reply", "ses notification: Delivery"),
    ("mailgun_delivered.eml", "auto_reply", "mailgun notification: delivered"),
    ("ses_bounce_sns.eml", "bounce", "bounce (ses, permanent): jean.dupont@client.example"),
    ("sendgrid_webhook.eml", "bounce", "bounce (sendgrid, permanent): ana@client.example"),
    ("mailman_hold.eml", "list", "mailing-list notice: subject 'awaits moderator approval'"),
    ("mailman_disabled.eml", "list", "mailing-list notice: subject 'membership in the Announce mailing list has"),
    ("arf_provider.eml", "auto_reply", "abuse feedback report (report-type=feedback-report)"),
    ("success_dsn_redacted.eml", "auto_reply", "a report of successful delivery"),
    ("exchange_relay_text.eml", "auto_reply", "a report of successful delivery"),
]


@pytest.mark.parametrize("name, kind, reason", MACHINE_NOTICES)
def test_machine_notices(name: str, kind: str, reason: str) -> None:
    found = kind_of(eml(f"hygiene/{name}"))
    assert (found.kind, found.suppress_auto_reply) == (kind, True)
    assert found.reason.startswith(reason), found.reason


def test_a_person_quoting_or_forwarding_a_notice_stays_a_person() -> None:
    hold = eml("hygiene/mailman_hold.eml")
    assert kind_of(hold).kind == "list"
    forwarded = hold.replace(b"Subject: Your message", b"Subject: Fwd: Your message").replace(
        b"From: users-owner@lists.vendor.example", b"From: Fabrice <fabrice@client.example>").replace(
        b"Return-Path: <users-bounces@lists.vendor.example>", b"Return-Path: <fabrice@client.example>")
    assert kind_of(forwarded).kind == "human"  # "why is my post held?" is a question for the desk
    words = header_mail(body="Our list says: Is being held until the list moderator can review it. Why?")
    assert kind_of(words).kind == "human"  # the wording alone, from a person
    pasted = header_mail(body='Hello, the webhook sends us {"event": "bounce", "email": "a@b.example"}, why?')
    assert kind_of(pasted).kind == "human"
    arf = header_mail(subject="Fwd: abuse report", body="Feedback-Type: abuse\nUser-Agent: x/1\nVersion: 1\n")
    assert kind_of(arf).kind == "human"
    assert kind_of(header_mail(body="Feedback-Type: abuse\nUser-Agent: x/1\nVersion: 1\n")).kind == "auto_reply"


FIXTURES = [eml(f"hygiene/{n}") for n in ("ooo_outlook.eml", "google_group_own.eml", "challenge_tmda.eml",
                                            "dsn_gmail_two.eml", "exim_delay.eml", "read_receipt.eml",
                                            "ses_bounce_sns.eml", "mailman_hold.eml", "arf_provider.eml",
                                            "success_dsn_redacted.eml")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FIXTURES), st.lists(st.tuples(st.integers(0, 5_000), st.binary(max_size=8)), max_size=6),
       st.sampled_from([None, "", "<>", "x@y.example"]))
def test_never_raises_on_mutated_mail(raw: bytes, edits: list[tuple[int, bytes]], envelope_from: str | None) -> None:
    data = bytearray(raw)
    for position, chunk in edits:
        at = position % (len(data) + 1)
        data[at:at + len(chunk)] = chunk
    found = kind_of(bytes(data), envelope_from)
    assert found.kind in ("human", "auto_reply", "list", "bounce", "challenge", "own")


# Issue 16.3: each shape through the whole per-mail path (prepare, then process) on the ticket it threads on.
SECRET = b"classify-flow-secret-0123456789"
DESK = Desk(support_addresses=OWN, agents={"alice@example.test": Agent("alice@example.test", "Alice", 1)},
            secret=SECRET, loop_token=LOOP, message_id_domain="example.test")
PLACEHOLDER = b"mg.12.a1b2c3.abcdefghijklmnop@example.test"  # in the fixtures: our grammar, signed by no one
SIGNED = make_message_id(12, "a1b2c3", SECRET, "example.test").encode()
TICKET = TicketView(12, Status.ANSWER_SENT, frozenset({"jean.dupont@client.example", "alice@example.test"}),
                    requester=Address("jean.dupont@client.example"), assignee="alice@example.test")


@pytest.mark.parametrize("name, flagged", [
    *((name, ()) for name, kind, _ in MACHINE_NOTICES if kind != "bounce"),
    ("ses_bounce_sns.eml", ("jean.dupont@client.example",)),
    ("sendgrid_webhook.eml", ("ana@client.example",)),
    ("exchange_delay_redacted.eml", ()),  # delays flag nobody
    ("sendmail_warning_5xx.eml", ()),
    ("gmail_delay_blankline.eml", ()),
    ("postfix_delay_unindented.eml", ()),
    ("gmail_permanent_text.eml", ("ghost@client.example",)),
    ("postfix_multi_noblank.eml", ("ana@client.example", "bruno@client.example", "chloe@client.example")),
    ("gateway_indented_dsn.eml", ("jean.dupont@client.example",)),
    ("exim_blankline_original.eml", ("anna@gone.example",)),
])
def test_machine_notices_change_no_ticket_and_get_no_answer(name: str, flagged: tuple[str, ...]) -> None:
    raw = eml(f"hygiene/{name}").replace(PLACEHOLDER, SIGNED)
    prepared = prepare(raw, None, ["support@example.test"], DESK, None)
    if prepared.kind.kind == "bounce":  # the signed Message-ID it returns names the ticket
        assert prepared.bounce_ticket == 12
    else:  # a notice threads by its own references: give it ours
        raw = b"In-Reply-To: <" + SIGNED + b">\n" + raw
        prepared = prepare(raw, None, ["support@example.test"], DESK, None)
    assert prepared.kind.machine, prepared.kind.reason
    out = process(prepared, Snapshot(tickets={12: TICKET}), DESK, datetime(2025, 1, 20, tzinfo=UTC))
    assert (out.disposition, out.ticket_id) == ("appended", 12), out.reason
    assert not out.change and out.outgoing == () and out.estimate is None
    assert out.flag_addresses == flagged
    if prepared.kind.kind == "bounce":  # recorded on the ticket with the recipients it names, flagged or not
        (event,) = out.events
        assert event.kind == "bounce" and event.data["recipients"], event.data
        assert event.data["permanent"] is bool(flagged)


def test_the_out_of_office_subject_is_read_as_the_one_pattern_it_was() -> None:
    """The label (matched at the start) and the sentence (searched) answer as their one search did."""
    import re  # noqa: PLC0415

    from mailgate.core.mail import classify  # noqa: PLC0415

    sentence = classify._OOO_SENTENCE.pattern
    one = re.compile(rf"^{classify._OOO_LABEL.pattern}|{sentence}", re.I)
    subjects = ["Out of office", "[Auto] Re: x", "Re: Absent", "Absent du bureau - retour lundi", "  (Away): ",
                "Auto: ", "Automatische Antwort: Ihre Nachricht", "Je suis absente", "Fabrice est absent", "x is away",
                "I'm currently out of the office", "Réponse automatique : demande", "Awaydays", "Re: away", "",
                "Demande 1: probleme d'acces au service", "Ist nicht im Büro", "Hello\nOut of office", "auto\n"]
    for subject in subjects:
        ours = bool(classify._OOO_LABEL.match(subject) or classify._OOO_SENTENCE.search(subject))
        assert ours == bool(one.search(subject)), subject
    assert sum(bool(one.search(s)) for s in subjects) >= 10
