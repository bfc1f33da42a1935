"""Core threading and processing: which ticket, which events, which mail goes out."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.core.desk import Desk, Snapshot
from mailgate.core.mail import classify, compose, thread
from mailgate.core.mail.parse import parse
from mailgate.core.mail.signing import make_message_id
from mailgate.core.model import Address, Agent, Status, TicketView
from mailgate.core.outcome import MailKind, Outcome, OutgoingDraft
from mailgate.core.prepare import prepare
from mailgate.core.process import process
from tests.conftest import eml

SECRET = b"core-test-secret-0123456789"
SUPPORT = frozenset({"support@example.test"})
LOOP = "example.test/0123456789abcdef"


DESK = Desk(support_addresses=SUPPORT, agents={"alice@example.test": Agent("alice@example.test", "Alice", 2)},
            secret=SECRET, loop_token=LOOP, message_id_domain="example.test")
NOW = datetime(2022, 1, 10, tzinfo=UTC)


def mail(subject: str = "Question", sender: str = "fabrice@client.example", **headers: str) -> bytes:
    extra = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    mid = "" if "Message_ID" in headers else f"Message-ID: <m-{abs(hash((subject, sender, extra)))}@client.example>\r\n"
    return (f"From: {sender}\r\nTo: support@example.test\r\nSubject: {subject}\r\n{mid}{extra}\r\n"
            "body\r\n").encode()


def ticket(number: int, *people: str, merged_into: int | None = None) -> TicketView:
    return TicketView(number, Status.OPEN, frozenset(people), merged_into)


def run(raw: bytes, tickets: dict[int, TicketView], envelope_from: str | None = "x@client.example") -> Outcome:
    prepared = prepare(raw, envelope_from, ["support@example.test"], DESK, None)
    return process(prepared, Snapshot(tickets=tickets), DESK, NOW)


def test_new_request_opens_ticket_with_ack() -> None:
    out = run(eml("new_request.eml"), {})
    assert out.disposition == "new_ticket"
    assert out.new_ticket is not None
    assert out.new_ticket.title == "Création de l'utilisateur Fabrice"
    assert out.new_ticket.requester.email == "fabrice@client.example"
    assert [a.email for a in out.new_ticket.cc] == ["julie@client.example"]
    assert [e.kind for e in out.events] == ["created"]
    (ack,) = out.outgoing
    assert ack.kind == "ack" and ack.to.email == "fabrice@client.example"
    assert ack.in_reply_to == "new-request-1@client.example"
    assert ack.references == ("new-request-1@client.example",)


def test_reply_by_signed_message_id_even_from_a_stranger() -> None:
    ours = make_message_id(7, "tok1", SECRET, "example.test")
    m = mail("Re: something else", sender="other@elsewhere.example", in_reply_to=f"<{ours}>")
    out = run(m, {7: ticket(7, "fabrice@client.example")})
    assert (out.disposition, out.ticket_id, out.outgoing) == ("appended", 7, ())
    assert out.events[0].data == {"from": "other@elsewhere.example", "via": "message-id"}


def test_forged_message_id_is_not_trusted() -> None:
    forged = make_message_id(7, "tok1", b"not-our-secret-at-all", "example.test")
    out = run(mail("Hello", references=f"<{forged}>"), {7: ticket(7, "fabrice@client.example")})
    assert out.disposition == "new_ticket"


def test_tag_from_participant_requester_cc_or_agent() -> None:
    views = {88: ticket(88, "fabrice@client.example", "julie@client.example")}
    for sender in ("fabrice@client.example", "julie@client.example", "alice@example.test"):
        out = run(mail("Re: [#88] Création", sender=sender), views)
        assert (out.disposition, out.ticket_id) == ("appended", 88), sender
        assert out.events[0].data["via"] == "subject-tag"


def test_tag_from_stranger_opens_new_ticket_recording_the_reference() -> None:
    out = run(mail("Re: [#88] Création", sender="mallory@evil.example"), {88: ticket(88, "fabrice@client.example")})
    assert out.disposition == "new_ticket"
    refused = [e for e in out.events if e.kind == "reference_refused"]
    assert refused[0].data == {"ticket": 88, "reason": "mallory@evil.example is not a participant of ticket #88"}
    assert out.new_ticket is not None and out.new_ticket.title == "Création"


def test_tag_of_unknown_ticket_is_recorded() -> None:
    out = run(mail("[#999] hello"), {})
    assert out.disposition == "new_ticket"
    assert out.events[1].data == {"ticket": 999, "reason": "no such ticket"}


def test_mail_to_merged_ticket_lands_on_survivor() -> None:
    views = {5: ticket(5, "fabrice@client.example", merged_into=9), 9: ticket(9, "fabrice@client.example")}
    out = run(mail("Re: [#5] x"), {**views})
    assert out.ticket_id is None or out.ticket_id == 9
    out = run(mail("Re: [#5] x", sender="fabrice@client.example"), views)
    assert out.ticket_id == 9


def test_merge_cycle_is_not_followed_forever() -> None:
    views = {1: ticket(1, "a@b.example", merged_into=2), 2: ticket(2, "a@b.example", merged_into=1)}
    assert thread.resolve(1, views) is None


@pytest.mark.parametrize("headers, envelope_from", [
    ({"Auto_Submitted": "auto-replied"}, "x@client.example"),
    ({"Precedence": "bulk"}, "x@client.example"),
    ({"X_Autoreply": "yes"}, "x@client.example"),
    ({}, ""),  # bounce: null envelope sender
])
def test_machine_mail_opens_ticket_without_ack(headers: dict[str, str], envelope_from: str) -> None:
    out = run(mail("Absent", **headers), {}, envelope_from=envelope_from)
    assert out.disposition == "new_ticket" and out.outgoing == ()
    assert out.events[-1].kind == "ack_suppressed"


def test_auto_submitted_no_is_a_person() -> None:
    kind = classify.classify(parse(mail("x", Auto_Submitted="no")), None, "a@b.example", loop_token=LOOP,
                             own_addresses=SUPPORT, own_msgid_domain="example.test")
    assert not kind.machine


def test_our_message_id_from_a_stranger_without_loop_header_is_our_own_mail() -> None:
    # decided once, by the classification, with our Message-ID domain (issue 10): never a new ticket
    ours = make_message_id(3, "t", b"another-instance-secret", "example.test")
    out = run(mail("no reference", sender="stranger@elsewhere.example", Message_ID=f"<{ours}>"), {})
    assert out.disposition == "ignored" and "Message-ID is one of ours" in out.reason


def test_our_own_mail_coming_back_never_opens_a_ticket_or_answers() -> None:
    out = run(mail("no reference", X_Mailgate_Loop=LOOP), {})
    assert out.disposition == "ignored"
    assert "X-Mailgate-Loop" in out.reason
    out = run(mail("[#3] x", X_Mailgate_Loop=LOOP), {3: ticket(3, "fabrice@client.example")})
    assert (out.disposition, out.ticket_id, out.outgoing) == ("appended", 3, ())
    assert out.events[0].kind == "own_mail_returned"
    ours = make_message_id(3, "t", SECRET, "example.test")
    out = run(mail("x", X_Mailgate_Loop=LOOP, In_Reply_To=f"<{ours}>"), {3: ticket(3, "a@b.example")})
    assert (out.disposition, out.ticket_id, out.outgoing) == ("appended", 3, ())
    out = run(mail("x", sender="support@example.test"), {})
    assert out.disposition == "ignored"


def test_no_sender_at_all_is_ignored() -> None:
    m = b"Subject: nobody\r\n\r\nbody"
    assert run(m, {}, envelope_from=None).disposition == "ignored"
    assert run(m, {}, envelope_from="Someone@Client.example").new_ticket.requester.email == "someone@client.example"  # type: ignore[union-attr]


def test_compose_builds_threaded_signed_automatic_mail() -> None:
    draft = OutgoingDraft(kind=MailKind.ACK, template="ack", to=Address("fabrice@client.example", "Fabrice Martin"),
                          locale="fr", in_reply_to="a@x", references=("z@x", "a@x"))
    raw = compose.build(draft, sender=compose.Sender(Address("support@example.test", "Support"), LOOP),
                        subject="[#1] Création", body="Bonjour é\n", message_id="mg.1.t.sig@example.test",
                        date=datetime(2022, 1, 10, tzinfo=UTC))
    msg = message_from_bytes(raw, policy=default)
    assert msg["Subject"] == "[#1] Création"
    assert msg["Message-ID"] == "<mg.1.t.sig@example.test>"
    assert msg["In-Reply-To"] == "<a@x>" and msg["References"] == "<z@x> <a@x>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Mailgate-Loop"] == LOOP
    assert msg["Content-Language"] == "fr"
    assert msg.get_content().replace("\r\n", "\n") == "Bonjour é\n"
    assert parse(raw).header("x-mailgate-loop") == LOOP  # what we send is recognised when it returns
    assert b"\r\nSubject: [#1] =?utf-8?q?Cr=C3=A9ation?=\r\n" in raw  # the tag stays readable as sent


def test_compose_to_internationalised_mailbox_uses_utf8_headers() -> None:
    draft = OutgoingDraft(kind=MailKind.ACK, template="ack", to=Address("jdöe@mächine.example", 'Jöhn "JD" Doe'),
                          locale="fr", in_reply_to=None, references=())
    raw = compose.build(draft, sender=compose.Sender(Address("support@example.test", "Support"), LOOP),
                        subject="[#1] x", body="b\n", message_id="mg.1.t.sig@example.test",
                        date=datetime(2022, 1, 10, tzinfo=UTC))
    assert 'To: "Jöhn \\"JD\\" Doe" <jdöe@mächine.example>'.encode() in raw
    assert parse(raw).to[0].email == "jdöe@mächine.example"


def test_no_control_character_reaches_a_header_we_write() -> None:
    # a hostile Message-ID: VT, FF, FS and CR LF would start headers of their own (Auto-Submitted lost...)
    hostile = "a\x0bX-Injected: 1\x0c\x1c\r\nBcc: victim@example.org"
    draft = OutgoingDraft(kind=MailKind.ACK, template="ack", to=Address("fabrice@client.example"), locale="fr",
                          in_reply_to=hostile, references=(hostile,))
    raw = compose.build(draft, sender=compose.Sender(Address("support@example.test", "Support"), LOOP),
                        subject="[#1] x\x00y", body="b\n", message_id="mg.1.t.sig@example.test",
                        date=datetime(2022, 1, 10, tzinfo=UTC))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert not any(c in head for c in b"\x00\x0b\x0c\x1c\x7f")
    names = [line.split(b":")[0] for line in head.split(b"\r\n") if not line.startswith((b" ", b"\t"))]
    assert b"X-Injected" not in names and b"Bcc" not in names
    msg = message_from_bytes(raw, policy=default)
    assert msg["Auto-Submitted"] == "auto-replied" and msg["X-Mailgate-Loop"] == LOOP


_WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS | st.sampled_from(["[#88]", "Re:", "accès", "écran", "日本語", "😀", "x" * 90, "Monday:"]),
                min_size=1, max_size=12).map(" ".join))
def test_a_subject_is_written_in_folded_q_words_that_read_back_as_it_was(subject: str) -> None:
    draft = OutgoingDraft(kind=MailKind.ACK, template="ack", to=Address("fabrice@client.example"), locale="fr",
                          in_reply_to=None, references=())
    raw = compose.build(draft, sender=compose.Sender(Address("support@example.test", "Support"), LOOP),
                        subject=subject, body="b\n", message_id="mg.1.t.sig@example.test",
                        date=datetime(2022, 1, 10, tzinfo=UTC))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"\n" not in head.replace(b"\r\n", b"") and b"\r" not in head.replace(b"\r\n", b"")
    field = re.search(rb"^Subject:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*", head, re.M)
    assert field is not None
    for line in field.group(0).split(b"\r\n"):  # 78 columns, but for an ASCII word longer than that alone
        assert len(line) <= 78 or b" " not in line.strip() or b"=?" not in line, line
    assert all(len(word) <= 75 for word in re.findall(rb"=\?utf-8\?q\?[^?]*\?=", field.group(0)))
    assert parse(raw).subject == " ".join(subject.split())
    assert message_from_bytes(raw, policy=default)["Subject"].strip(" ") == subject.strip(" ")  # every blank
