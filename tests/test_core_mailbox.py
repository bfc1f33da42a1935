"""What may be a recipient: RFC 5321 mailboxes, malformed From headers recovered, drafts to non-mailboxes held."""

from __future__ import annotations

import pytest

from mailgate.core.mail.mailbox import is_mailbox, why_not_mailbox
from mailgate.core.mail.parse import addresses
from mailgate.core.model import Address
from mailgate.core.outcome import MailKind, OutgoingDraft
from mailgate.core.workflow import limits


@pytest.mark.parametrize("text", [
    "fabrice@client.example", "first.last+tag@sub.example.co.uk", "a..b@docomo.ne.jp", "o'brien@example.ie",
    '"john smith"@example.com', "user@[192.0.2.1]", "tél@exemple.fr", "x@localhost", "_x@under_score.example",
])
def test_mailboxes(text: str) -> None:
    assert is_mailbox(text) and why_not_mailbox(text) is None


@pytest.mark.parametrize("text, why", [
    ("big bug bb@bug.com", "spaces"), ("", "empty"), ("@c.com", "not a valid mailbox"),
    ("eve@example.com\x0bx", "control"), ("eve@example.com\r\nrcpt to:<x@y>", "control"),
    ('e"ve@example.com>"', "not a valid mailbox"), ("a@b@c.com", "not a valid mailbox"),
    ("eve@-example.com", "not a valid mailbox"), ("x" * 330 + "@example.com", "characters long"),
    ("eve@exa<mple.com", "not a valid mailbox"), ("nobody", "not a valid mailbox"),
])
def test_not_mailboxes(text: str, why: str) -> None:
    assert not is_mailbox(text)
    assert why in (why_not_mailbox(text) or "")


def test_a_name_written_before_a_bare_address_is_recovered() -> None:
    # ruby mail gem's corpus: "From: Big Bug bb@bug.com" (no angle brackets)
    assert addresses(["Big Bug BB@bug.com"]) == (Address("bb@bug.com", "Big Bug"),)
    assert addresses(["Big Bug bb@bug.com, x@y.example"]) == (Address("bb@bug.com", "Big Bug"),
                                                              Address("x@y.example"))


def test_an_unrecoverable_address_is_kept_as_written() -> None:
    (found,) = addresses(["<eve@example.com\x0bX: y>"])
    assert not is_mailbox(found.email) and found.email.startswith("eve@example.com")


def _draft(to: str, *cc: str) -> OutgoingDraft:
    return OutgoingDraft(kind=MailKind.ACK, template="ack", to=Address(to), locale="fr", in_reply_to=None,
                         references=(), cc=tuple(Address(a) for a in cc))


def test_a_draft_to_a_non_mailbox_is_held_with_the_reason() -> None:
    kept, events = limits.deliverable(_draft("big bug bb@bug.com", "ok@example.com"))
    assert kept is None
    assert [(e.kind, e.data["to"]) for e in events] == [("mail_suppressed", "big bug bb@bug.com")]
    assert "spaces" in str(events[0].data["why"])


def test_a_bad_cc_is_left_out_and_the_mail_goes() -> None:
    kept, events = limits.deliverable(_draft("ok@example.com", "bad address@x.example", "cc@example.com"))
    assert kept is not None and [a.email for a in kept.cc] == ["cc@example.com"]
    assert [e.data["to"] for e in events] == ["bad address@x.example"]


def test_a_good_draft_is_untouched() -> None:
    draft = _draft("ok@example.com", "cc@example.com")
    assert limits.deliverable(draft) == (draft, ())
