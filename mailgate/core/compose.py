"""Core: an OutgoingDraft plus its rendered text -> the RFC 5322 bytes we queue in the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime

from mailgate.core.loops import LOOP_HEADER
from mailgate.core.model import Address, OutgoingDraft


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
    international = not (draft.to.email.isascii() and sender.address.email.isascii())
    policy = SMTPUTF8 if international else SMTP  # RFC 6532 mailboxes need SMTPUTF8 end to end
    msg = EmailMessage(policy=policy)
    msg["From"] = sender.address.formatted()
    msg["To"] = draft.to.formatted()
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = f"<{message_id}>"
    if draft.in_reply_to:
        msg["In-Reply-To"] = f"<{draft.in_reply_to}>"
    if draft.references:
        msg["References"] = " ".join(f"<{mid}>" for mid in draft.references)
    if draft.automatic:
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
    msg[LOOP_HEADER] = sender.loop_token
    msg.set_content(body, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg["Content-Language"] = draft.locale  # after set_content, which clears Content-* headers
    return msg.as_bytes(policy=policy)
