"""Core: an OutgoingDraft plus its rendered text -> the RFC 5322 bytes we queue in the outbox.

Built with the compat32 API (about 20x faster than EmailMessage's header registry, which cost 2.5 ms
a mail here); EmailMessage with the SMTPUTF8 policy only for internationalised mailboxes (RFC 6532).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import charset as _charset
from email.header import Header
from email.message import EmailMessage, Message
from email.policy import SMTPUTF8, compat32
from email.utils import format_datetime

from mailgate.core.mail.signing import LOOP_HEADER
from mailgate.core.model import Address
from mailgate.core.outcome import OutgoingDraft

_UTF8_QP = _charset.Charset("utf-8")
_UTF8_QP.header_encoding = _charset.QP
_UTF8_QP.body_encoding = _charset.QP
_WIRE = compat32.clone(linesep="\r\n", max_line_length=78)


@dataclass(frozen=True, slots=True)
class Sender:
    """Who our mail comes from, and how it marks itself."""

    address: Address
    loop_token: str


def build(
    draft: OutgoingDraft,
    *,
    sender: Sender,
    subject: str,
    body: str,
    message_id: str,
    date: datetime,
) -> bytes:
    """The complete mail. Threading headers point at the mail we answer; ours marks it automatic."""
    headers: list[tuple[str, str]] = [
        ("From", sender.address.formatted()),
        ("To", draft.to.formatted()),
        *((("Cc", ", ".join(a.formatted() for a in draft.cc)),) if draft.cc else ()),
        ("Subject", subject),
        ("Date", format_datetime(date)),
        ("Message-ID", f"<{message_id}>"),
    ]
    if draft.in_reply_to:
        headers.append(("In-Reply-To", f"<{draft.in_reply_to}>"))
    if draft.references:
        headers.append(("References", " ".join(f"<{mid}>" for mid in draft.references)))
    if draft.automatic:
        headers += [("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")]
    headers += [(LOOP_HEADER, sender.loop_token), ("Content-Language", draft.locale)]
    if not all(a.email.isascii() for a in (draft.to, sender.address, *draft.cc)):
        return _international(headers, body)
    msg = Message()
    for name, value in headers:
        msg[name] = value if value.isascii() else _encoded(value, name)  # type: ignore[assignment]
    msg["MIME-Version"] = "1.0"
    msg.set_payload(body, _UTF8_QP)
    return msg.as_bytes(policy=_WIRE)


def _encoded(value: str, name: str) -> Header:
    """RFC 2047 words for the non-ASCII part only: a leading `[#88]` tag stays readable as it is."""
    cut = 0
    for i, ch in enumerate(value):
        if not ch.isascii():
            break
        if ch == " ":
            cut = i + 1
    header = Header(header_name=name)
    if cut:
        header.append(value[:cut], "us-ascii")
    header.append(value[cut:], _UTF8_QP)
    return header


def _international(headers: list[tuple[str, str]], body: str) -> bytes:
    """RFC 6532: UTF-8 headers as they are; the smart host must offer SMTPUTF8."""
    msg = EmailMessage(policy=SMTPUTF8)
    for name, value in headers:
        if name != "Content-Language":
            msg[name] = value
    msg.set_content(body, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg["Content-Language"] = dict(headers)["Content-Language"]
    return msg.as_bytes(policy=SMTPUTF8)
