"""Core, under classify: a bounce (raw mail) -> failed recipients, permanence and the original Message-ID.

RFC 3464 delivery-status reports first; then the notices of MTAs that do not send them (qmail, old
Exim/Postfix/Sendmail, Exchange, Domino, GroupWise, webmail providers), recognised by their sender,
subject and wording; and providers' JSON notifications (`notices`). The returned mail's Message-ID comes
from the message/rfc822 or text/rfc822-headers part, else from a quoted "Message-ID:" line; when neither is
one of ours, from any Message-ID in our grammar anywhere in the bounce (damaged MIME). Never raises.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from mailgate.core.mail import bounce_text as words
from mailgate.core.mail import dsn, notices
from mailgate.core.mail.charset import decode_bytes, decode_header_value
from mailgate.core.mail.dsn import FailedRecipient
from mailgate.core.mail.html import html_to_text
from mailgate.core.mail.payload import message_of, payload_bytes
from mailgate.core.mail.signing import shaped_domain
from mailgate.core.mail.subject import strip_prefixes

MAX_PARTS = 100  # a bounce has a handful; stop walking pathological nestings
MAX_TEXT = 200_000  # characters of notice text looked at


@dataclass(frozen=True, slots=True)
class Bounce:
    permanent: bool | None  # True: some recipient failed for good; False: only delays/temporary; None: unknown
    recipients: tuple[FailedRecipient, ...]
    original_message_id: str | None  # without angle brackets
    original_references: tuple[str, ...] = ()  # In-Reply-To and References of the returned mail
    kind: str = "dsn"  # "dsn" (RFC 3464) or the notice format: qmail, exim, postfix, exchange, ...


@dataclass(slots=True)
class _Parts:
    """What the walk over a bounce finds."""

    report: bool = False  # multipart/report; report-type=delivery-status
    dsn: list[str] = field(default_factory=list)  # texts of message/delivery-status parts
    texts: list[str] = field(default_factory=list)  # human-readable texts (HTML converted), in order
    original: Message | None = None  # headers of the returned mail
    has_original: bool = False


_QUOTED_MSGID = re.compile(r"^[ \t>]*+message-id:[ \t]*+(?:\r?\n)?+[ \t]*+<([^<>\s]++)>", re.I | re.M)
_MSGIDS = re.compile(r"<([^<>\s]+)>")


def parse_bounce(mail: bytes | Message, envelope_from: str | None = None) -> Bounce | None:
    """The bounce this mail is, or None when it is not one. `envelope_from` "" or "<>" is a hint."""
    try:
        msg = message_of(mail) if isinstance(mail, bytes) else mail
        return _parse(msg, envelope_from, 0)
    except Exception:  # a bounce parser must never stop the worker; an unreadable mail is no bounce
        return None


def _parse(msg: Message, envelope_from: str | None, depth: int) -> Bounce | None:
    parts = _Parts()
    _walk(msg, parts, [0])
    text = "\n".join(parts.texts)[:MAX_TEXT]
    event = notices.provider_event(text) if depth == 0 else None
    if event is not None:  # a provider's JSON notification: a bounce or delay, or no bounce at all
        if not event.failure:
            return None
        return _ours(msg, Bounce(event.permanent, event.recipients, event.original_id, kind=event.provider))
    if looks := (None if parts.dsn else _looks_like_bounce(msg, parts, text, envelope_from)):  # asked once
        parts.dsn.extend(dsn.blocks_in_text(text))  # delivery-status fields pasted into a text part
    recipients = dsn.recipients(parts.dsn)
    if recipients is not None:
        if not recipients:
            return None  # a report of successful delivery (or relay), not a bounce
        return _ours(msg, _bounce(recipients, "", text, *_original_ids(parts, text, msg), "dsn"))
    if depth == 0 and parts.original is not None and parts.original.get_content_type() == "multipart/report" \
            and daemon_sender(msg, envelope_from):
        inner = _parse(parts.original, None, 1)  # a mail system passing on a bounce as an attachment
        if inner is not None and inner.recipients:
            return inner
    if not (_looks_like_bounce(msg, parts, text, envelope_from) if looks is None else looks):
        return None  # no bounce: its original's ids are not looked for
    original_id, original_refs = _original_ids(parts, text, msg)
    notice = words.notice_part(text)
    subject = decode_header_value(msg.get("subject", ""))
    if notices.success_notice(subject, notice):
        return None  # "delivered" / "relayed" in words: a report of success, not a bounce
    exclude = _senders(msg, _OWN_FIELDS) | _senders(parts.original, _SENDER_FIELDS)
    failed = _header_failed(msg, notice) or words.failed_addresses(notice, frozenset(exclude))
    found: list[FailedRecipient] = []
    for email, diagnostic in failed:
        status = words.status_code(diagnostic)
        found.append(FailedRecipient(email=email, status=status, action=None, diagnostic=diagnostic or None))
    return _ours(msg, _bounce(tuple(found), subject, notice, original_id, original_refs, _kind(msg, text)))


def _ours(msg: Message, found: Bounce) -> Bounce:
    """Our signed Message-ID, wherever a damaged bounce (or one quoting the original inline) still carries it,
    when the returned mail's own Message-ID is not one of ours. Signed: a stranger cannot forge it."""
    if found.original_message_id is not None and shaped_domain(found.original_message_id) is not None:
        return found
    own = frozenset(i.lower() for i in _MSGIDS.findall(str(msg.get("message-id", ""))))
    ours = notices.our_message_ids(msg, own)
    return replace(found, original_message_id=ours[0]) if ours else found


def _bounce(recipients: tuple[FailedRecipient, ...], subject: str, notice: str, original_id: str | None,
            original_refs: tuple[str, ...], kind: str) -> Bounce:
    """Permanence: in a report, each recipient's Action and Status (RFC 3464); in a text notice, a delay
    warning is never permanent, else a 5.x.x code (or a 5xx reply) is, else the words tell."""
    context = f"{subject}\n{notice}"
    if kind != "dsn" and words.delay_warning(subject, notice):
        return Bounce(permanent=False, recipients=recipients, original_message_id=original_id,
                      original_references=original_refs, kind=kind)
    verdicts = [words.permanence(r.status, r.action, r.diagnostic or "", context) for r in recipients]
    if not recipients:
        verdicts = [words.permanence(None, None, "", context)]
    if kind != "dsn":  # a notice that neither codes nor words call temporary reports a failure
        verdicts = [True if v is None else v for v in verdicts]
    permanent: bool | None = None
    if any(v is True for v in verdicts):
        permanent = True
    elif verdicts and all(v is False for v in verdicts):
        permanent = False
    if kind != "dsn" and (any((r.status or "")[:1] == "5" for r in recipients) or words.failure_code(notice)):
        permanent = True
    elif kind != "dsn" and permanent is True and words.looks_temporary(context):
        permanent = False  # "Warning: message delayed" notices name no code but say they will retry
    return Bounce(permanent=permanent, recipients=recipients, original_message_id=original_id,
                  original_references=original_refs, kind=kind)


def _walk(part: Message, found: _Parts, count: list[int]) -> None:
    count[0] += 1
    if count[0] > MAX_PARTS:
        return
    ctype = part.get_content_type()
    if ctype == "multipart/report":
        if str(part.get_param("report-type", "", header="content-type")).lower().endswith("delivery-status"):
            found.report = True
    if ctype in ("message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers",
                 "message/partial"):
        found.has_original = True
        if found.original is None:
            found.original = _returned(part)
        return
    if ctype in ("message/delivery-status", "message/global-delivery-status"):
        found.dsn.append(_delivery_status_text(part))
        return
    payload = part.get_payload() if part.is_multipart() else None  # a leaf's text is read only if it is one
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                _walk(sub, found, count)
        return
    if ctype.startswith("multipart/"):  # its boundary lost or redacted: the whole body is one text
        found.texts.append(_decoded(part))
        return
    if ctype in ("text/plain", "text/html") or (ctype.startswith("text/") or ctype == "application/json") and \
            count[0] == 1:  # a mail that is one text (or a webhook's JSON) of another type
        text = _decoded(part)
        if ctype == "text/html":
            text = html_to_text(text)
        found.texts.append(text)


def _decoded(part: Message) -> str:
    payload = payload_bytes(part)
    if not isinstance(payload, bytes):
        inner = part.get_payload()
        return inner if isinstance(inner, str) else ""
    try:
        label = part.get_content_charset()
    except Exception:
        label = None
    return decode_bytes(payload, label)


def _returned(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        inner = payload[0]
        body = inner.get_payload()
        if not inner.keys() and isinstance(body, str) and body.strip():  # a blank line before its headers
            return HeaderParser(policy=compat32).parsestr(body.lstrip("\r\n"), headersonly=True)
        return inner
    text = _decoded(part)
    return HeaderParser(policy=compat32).parsestr(text.lstrip("\r\n"), headersonly=True) if text else None


def _delivery_status_text(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):  # compat32 parses each field block as a Message of headers
        blocks = []
        for block in payload:
            if isinstance(block, Message):
                blocks.append("\n".join(f"{k}: {v}" for k, v in block.raw_items()))
        return "\n\n".join(blocks)
    return _decoded(part)


def _looks_like_bounce(msg: Message, parts: _Parts, text: str, envelope_from: str | None) -> bool:
    """A mail system's sender (or Auto-Submitted) with a bounce subject, bounce wording or the returned
    mail attached. A person writing that a mail "could not be delivered", even under the subject
    "Undelivered mail" and with the bounce attached, is not a bounce: people write to a helpdesk
    about exactly that. A bounce's subject never carries a reply or forward prefix."""
    if parts.report or msg.get("x-failed-recipients"):
        return True
    auto = str(msg.get("auto-submitted", "")).strip().lower()
    machine = daemon_sender(msg, envelope_from) or bool(auto) and not auto.startswith("no")
    if not machine:
        return False
    subject_text = decode_header_value(msg.get("subject", ""))
    subject = bool(words.SUBJECT.search(subject_text)) and strip_prefixes(subject_text) == subject_text.strip()
    return subject or parts.has_original or bool(words.BODY.search(words.notice_part(text)[:20_000]))


def daemon_sender(msg: Message, envelope_from: str | None) -> bool:
    """The mail system wrote it: empty or MAILER-DAEMON envelope sender (or Return-Path), or a From of a
    mail system ("Mail Delivery System", postmaster@, and gateways: ndr@, imss@, ..._SMTP_...)."""
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        return True
    for value in (envelope_from or "", *map(str, msg.get_all("return-path") or [])):
        if value.strip() == "<>":
            return True
        addr = words.ADDRESS.search(value)
        if addr and words.DAEMON_LOCAL.match(addr.group(0).split("@", 1)[0]) and not _NOREPLY.match(addr.group(0)):
            return True
    field = msg.get("from", "")  # a Header (raw 8-bit bytes in it) is not kept: it is no hashable key
    return _machine_from(field) if isinstance(field, str) else _machine_sender(decode_header_value(field))


@functools.lru_cache(maxsize=1024)  # asked three times a mail with its one From (classify, bounce), 9 us each
def _machine_from(field: str) -> bool:
    return _machine_sender(decode_header_value(field))


def _machine_sender(sender: str) -> bool:
    """A From of a mail system, by its address or its name."""
    addr = words.ADDRESS.search(sender)
    if addr:
        local = addr.group(0).split("@", 1)[0]
        if (words.DAEMON_LOCAL.match(local) and not _NOREPLY.match(local)) or words.MACHINE_LOCAL.search(local):
            return True
    return bool(words.DAEMON_NAME.search(sender))


_NOREPLY = re.compile(r"^(?:no-?reply|do-?not-?reply)", re.I)


def _header_failed(msg: Message, notice: str) -> list[tuple[str, str]]:
    """X-Failed-Recipients (Exim), each with the notice's words about it."""
    values = " ".join(str(v) for v in msg.get_all("x-failed-recipients") or [])
    if not values.strip():
        return []
    named = dict(words.failed_addresses(notice, frozenset()))
    return [(a.lower(), named.get(a.lower(), "")) for a in dict.fromkeys(words.ADDRESS.findall(values))]


_OWN_FIELDS = ("from", "sender", "return-path", "reply-to", "to", "errors-to")
_SENDER_FIELDS = ("from", "sender", "return-path", "reply-to", "errors-to")


def _senders(msg: Message | None, names: tuple[str, ...]) -> set[str]:
    """Addresses in these fields: the bounce's own parties, or the sender of the returned mail."""
    if msg is None:
        return set()
    found: set[str] = set()
    for name in names:
        for value in msg.get_all(name) or []:
            found.update(a.lower() for a in words.ADDRESS.findall(decode_header_value(value)))
    return found


def _kind(msg: Message, text: str) -> str:
    sample = f"{msg.get('from', '')}\n{msg.get('message-id', '')}\n{msg.get('x-mailer', '')}\n" + text[:3000]
    for name, pattern in words.KINDS:
        if pattern.search(sample):
            return name
    return "notice"


def _original_ids(parts: _Parts, text: str, msg: Message) -> tuple[str | None, tuple[str, ...]]:
    own = _MSGIDS.findall(str(msg.get("message-id", "")))
    original = parts.original
    if original is not None:
        ids = _MSGIDS.findall(str(original.get("message-id", "")))
        references = " ".join(map(str, original.get_all("references") or []))
        refs = _MSGIDS.findall(f"{original.get('in-reply-to', '')} {references}")
        if ids:
            return ids[0], tuple(dict.fromkeys(refs))
    for match in _QUOTED_MSGID.finditer(text):
        if match.group(1) not in own:
            return match.group(1), ()
    return None, ()
