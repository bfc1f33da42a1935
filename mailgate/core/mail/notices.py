"""Core, under classify and bounce: machine notices that are no person's mail and no classic bounce.

Provider notifications mailed as JSON (Amazon SES through SNS, SendGrid, Mailgun, Postmark webhooks sent
as mail), mailing-list moderation and bounce-processing notices (Mailman, Sympa, Google Groups, LISTSERV,
ezmlm), abuse feedback reports (ARF, RFC 5965), the wording of success reports (delivered, relayed), and our
own signed Message-IDs wherever a damaged bounce still carries them. Pure functions over values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from mailgate.core.mail import bounce_text as words
from mailgate.core.mail.caseless import Caseless
from mailgate.core.mail.dsn import FailedRecipient
from mailgate.core.mail.payload import payload_bytes
from mailgate.core.mail.subject import strip_prefixes
from mailgate.core.model import ParsedMail

MAX_JSON = 500_000  # characters of a JSON notification read
MAX_PARTS = 100
MAX_SCAN = 2_000_000  # characters searched for our Message-IDs


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    provider: str  # ses | sendgrid | mailgun | postmark
    event: str  # the provider's own name of the event: Bounce, Delivery, Complaint, deferred, failed, ...
    failure: bool  # a bounce or a delay: the recipients did not get the mail (yet)
    permanent: bool | None
    recipients: tuple[FailedRecipient, ...] = ()
    original_id: str | None = None  # the Message-ID of the mail it is about, without angle brackets


def machine_notice(mail: ParsedMail, tree: Message | None, machine: bool) -> tuple[str, str] | None:
    """(kind, reason) of a provider's notification that is no bounce (auto_reply), an abuse feedback report
    (auto_reply) or a mailing list's notice (list); None for anything else. `machine`: signs of machine mail."""
    text = mail.text
    if not text and tree is not None and tree.get_content_type() == "application/json":  # a webhook's body
        body = payload_bytes(tree)
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else ""
    event = provider_event(text)
    if event is not None and not event.failure:
        return "auto_reply", f"{event.provider} notification: {event.event[:40]}"
    person = mail.subject.strip() != strip_prefixes(mail.subject)  # replying to or forwarding one
    report = feedback_report(mail.header("content-type") or "", tree, "" if person else mail.text)
    if report is not None:
        return "auto_reply", report
    senders = " ".join(mail.header(n) or "" for n in ("from", "sender", "return-path"))
    bounce = words.SUBJECT.search(mail.subject) is not None or \
        any(words.DAEMON_LOCAL.match(a.split("@", 1)[0]) for a in words.ADDRESS.findall(senders))
    found = None if person or bounce else list_notice(mail.subject, mail.text, senders, machine)  # a bounce of one
    return ("list", found) if found is not None else None


def provider_event(text: str) -> ProviderEvent | None:
    """The provider notification a mail's text is (it starts with the JSON), else None."""
    body = text.lstrip()
    if not body.startswith(("{", "[")):
        return None
    value = _json(body[:MAX_JSON])
    if isinstance(value, dict) and value.get("Type") == "Notification" and isinstance(value.get("Message"), str):
        value = _json(value["Message"].lstrip())  # SNS wraps the SES notification as a string
    if isinstance(value, dict):
        return _ses(value) or _mailgun(value) or _postmark(value)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return _sendgrid(value)
    return None


def _json(text: str) -> object:
    try:
        return json.JSONDecoder().raw_decode(text)[0]  # the SNS "email" protocol adds a footer after the JSON
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested beyond the decoder's stack
        return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value) if isinstance(value, int) else ""


def _id(value: object) -> str | None:
    found = re.search(r"<?([^<>\s]+@[^<>\s]+)>?", _text(value))
    return found.group(1) if found else None


def _ses(n: dict[str, object]) -> ProviderEvent | None:
    event = _text(n.get("notificationType") or n.get("eventType"))
    mail = n.get("mail")
    if not event or not isinstance(mail, dict):
        return None
    common = mail.get("commonHeaders")
    original = _id(common.get("messageId")) if isinstance(common, dict) else None
    headers = mail.get("headers")
    for header in headers if original is None and isinstance(headers, list) else ():
        if isinstance(header, dict) and _text(header.get("name")).lower() == "message-id":
            original = _id(header.get("value"))
    detail = n.get("bounce") if event == "Bounce" else n.get("deliveryDelay") if event == "DeliveryDelay" else None
    if not isinstance(detail, dict):
        return ProviderEvent("ses", event, False, None, original_id=original)
    listed = detail.get("bouncedRecipients") or detail.get("delayedRecipients") or ()
    found = []
    for r in listed if isinstance(listed, list) else ():
        if isinstance(r, dict) and words.ADDRESS.search(_text(r.get("emailAddress"))):
            diagnostic = _text(r.get("diagnosticCode")) or None
            status = words.clean_status(_text(r.get("status"))) or words.status_code(diagnostic)
            found.append(FailedRecipient(_text(r.get("emailAddress")).lower(), status, _text(r.get("action")) or None,
                                         diagnostic))
    kind = _text(detail.get("bounceType"))
    permanent = False if event == "DeliveryDelay" else {"Permanent": True, "Transient": False}.get(kind)
    return ProviderEvent("ses", event, True, permanent, tuple(found), original)


_SENDGRID_FAILED = {"bounce": True, "dropped": True, "blocked": False, "deferred": False}


def _sendgrid(events: list[dict[str, object]]) -> ProviderEvent | None:
    if not any("sg_event_id" in e or "sg_message_id" in e for e in events):
        return None
    found: list[FailedRecipient] = []
    verdicts: list[bool] = []
    names = []
    original = None
    for e in events:
        name = _text(e.get("event"))
        names.append(name)
        original = original or _id(e.get("smtp-id"))
        if name not in _SENDGRID_FAILED:
            continue
        reason = _text(e.get("reason") or e.get("response")) or None
        status = words.clean_status(_text(e.get("status"))) or words.status_code(reason)
        permanent = _SENDGRID_FAILED[name] and _text(e.get("type")) != "blocked"
        verdicts.append(status[0] == "5" if status and status[0] in "45" else permanent)
        found.append(FailedRecipient(_text(e.get("email")).lower(), status, name, reason))
    if not found:
        return ProviderEvent("sendgrid", ",".join(dict.fromkeys(names)), False, None, original_id=original)
    return ProviderEvent("sendgrid", ",".join(dict.fromkeys(names)), True, any(verdicts), tuple(found), original)


def _mailgun(n: dict[str, object]) -> ProviderEvent | None:
    data = n.get("event-data")
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        return None
    event = _text(data.get("event"))
    message = data.get("message")
    headers = message.get("headers") if isinstance(message, dict) else None
    original = _id(headers.get("message-id")) if isinstance(headers, dict) else None
    if event not in ("failed", "rejected"):
        return ProviderEvent("mailgun", event, False, None, original_id=original)
    status = data.get("delivery-status")
    reason = _text(status.get("message") or status.get("description")) if isinstance(status, dict) else ""
    code = words.status_code(_text(status.get("enhanced-code")) or _text(status.get("code"))) \
        if isinstance(status, dict) else None
    permanent = _text(data.get("severity")) != "temporary"
    recipient = FailedRecipient(_text(data.get("recipient")).lower(), code, event, reason or None)
    return ProviderEvent("mailgun", event, True, permanent, (recipient,), original)


def _postmark(n: dict[str, object]) -> ProviderEvent | None:
    record = _text(n.get("RecordType"))
    if not record or "MessageID" not in n:
        return None
    if record != "Bounce":
        return ProviderEvent("postmark", record, False, None)
    kind = _text(n.get("Type"))
    details = _text(n.get("Details")) or _text(n.get("Description")) or None
    recipient = FailedRecipient(_text(n.get("Email")).lower(), words.status_code(details), "failed", details)
    permanent = kind in ("HardBounce", "BadEmailAddress", "ManuallyDeactivated", "SpamNotification")
    return ProviderEvent("postmark", record, True, permanent, (recipient,))


# Mailing-list software writing about a post or a membership: moderation, rejection, bounce processing.
_LIST_SUBJECT = Caseless(  # searched in every subject
    r"awaits moderator approval|(?:request to mailing list|your message to) [^\n]{1,160}? (?:has been |was )?rejected|"
    r"membership in the [^\n]{1,160}? mailing list (?:has been )?(?:disabled|removed)|bounce action notification|"
    r"uncaught bounce notification|mailing list probe message|subscription (?:disabled|removed|suspended)|"
    r"(?:held|queued|awaiting|pending) (?:for )?moderation|forwarded to the (?:list )?moderators?|"
    r"message (?:distribution|diffusion) ?: authori[sz]ation|^bounce [^\s@]++@[^\s:]++: ")
_LIST_BODY = re.compile(
    r"is being held until the list moderator|the reason it is being held|(?:has been )?(?:rejected|discarded) by the "
    r"list moderator|held for (?:moderator|moderation)|awaits? moderator approval|(?:is|has been) (?:queued|held) for "
    r"moderation|submitted to the (?:list )?moderators?|membership in the [^\n]{1,160}? mailing list has been "
    r"(?:disabled|removed)|due to excessive bounces|excessive bounces|bounce score|mailing list probe", re.I)
# Local parts of list software's own addresses (owner-x@, x-request@, x-bounces@, mailman@, ...).
_LIST_LOCAL = re.compile(r"^owner-|-(?:owner|request|bounces|admin)$|^(?:mailman|sympa|listserv|majordomo|ezmlm|"
                         r"lyris)$|noreply|no-reply", re.I)


def list_notice(subject: str, text: str, senders: str, machine: bool) -> str | None:
    """Why this is a mailing list's notice about a post or a membership, else None. `senders`: From, Sender and
    Return-Path; `machine`: other signs of machine mail. A subject alone counts; the wording needs a list's
    sender or a sign of machine mail (a person may quote it)."""
    if _LIST_SUBJECT.search(subject) is not None:
        found = _LIST_SUBJECT.pattern.search(subject)  # the same match, of the words as written
        assert found is not None
        return f"mailing-list notice: subject {found.group(0)[:60]!r}"
    if not (machine or any(_LIST_LOCAL.search(a.split("@", 1)[0][:200]) for a in words.ADDRESS.findall(senders))):
        return None
    said = _LIST_BODY.search(text[:20_000])
    return f"mailing-list notice: {said.group(0)[:60]!r}" if said else None


_FEEDBACK_LINE = re.compile(r"^feedback-type:[ \t]*+[a-z-]{2,40}[ \t]*+$", re.I | re.M)
_FEEDBACK_MORE = re.compile(r"^(?:user-agent|version|original-mail-from|arrival-date|source-ip|reported-domain):",
                            re.I | re.M)


def feedback_report(content_type: str, tree: Message | None, text: str) -> str | None:
    """An abuse feedback report (ARF, RFC 5965): the report type, a message/feedback-report part, or its fields
    pasted at line starts (a report whose MIME structure was lost)."""
    if re.search(r"report-type\s*=\s*\"?feedback-report", content_type, re.I):
        return "abuse feedback report (report-type=feedback-report)"
    if tree is not None and any(p.get_content_type() == "message/feedback-report" for p in _top_parts(tree)):
        return "abuse feedback report (message/feedback-report part)"
    head = text[:20_000]
    if _FEEDBACK_LINE.search(head) and _FEEDBACK_MORE.search(head):
        return "abuse feedback report (Feedback-Type fields)"
    return None


def _top_parts(tree: Message) -> Iterator[Message]:
    """The parts of a mail, not descending into attached mails (a forwarded report is a person's mail)."""
    stack, seen = [tree], 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        yield part
        payload = part.get_payload() if part.is_multipart() else None  # a leaf's text is not read
        if part.get_content_type() != "message/rfc822" and isinstance(payload, list):
            stack.extend(p for p in reversed(payload) if isinstance(p, Message))


# A report that the mail was delivered (or relayed, or expanded): RFC 3464 "success" and its text forms.
_SUCCESS_SUBJECT = re.compile(
    r"delivery status notification \((?:relay|success|delivered)\)|successful mail delivery report|"
    r"^(?:delivered|relayed|delivery receipt|zugestellt|remis|entregado) ?:|delivery report \(success\)|"
    r"^message delivered\b|^delivery notification: (?:message|delivery) (?:has been )?(?:delivered|relayed)", re.I)
_SUCCESS_BODY = re.compile(
    r"(?:was|has been|were) successfully (?:delivered|relayed)|successfully relayed to the following|"
    r"delivery to (?:the following recipients?|these recipients or groups) (?:succeeded|is complete|was successful)|"
    r"your message has been delivered to the following|message was delivered to the following|"
    r"delivered to the destination\(s\) listed below", re.I)
_FAILED_WORDS = re.compile(r"could not be delivered|was not delivered|not (?:be )?delivered to|undeliverable|"
                           r"delivery (?:has )?failed|failed permanently|(?:has been |was )?rejected|"
                           r"has been delayed|is delayed|user unknown|does not exist|no such user", re.I)


def success_notice(subject: str, notice: str) -> bool:
    """A notice that only says the mail was delivered or relayed; no failure, no delay."""
    said = _SUCCESS_SUBJECT.search(subject.strip()) is not None or _SUCCESS_BODY.search(notice) is not None
    return said and _FAILED_WORDS.search(notice) is None and not words.failure_code(notice)


_OURS = re.compile(r"(?<![\w.-])mg\.\d{1,9}\.[a-z0-9]{1,32}\.[a-z2-7]{16}@[a-z0-9-]++(?:\.[a-z0-9-]++)*+", re.I)
_OURS_FIELD = re.compile(r"message-id[ \t]*+:[ \t\r\n>]*+<?(mg\.\d{1,9}\.[a-z0-9]{1,32}\.[a-z2-7]{16}@"
                         r"[a-z0-9-]++(?:\.[a-z0-9-]++)*+)", re.I)


def our_message_ids(msg: Message, skip: frozenset[str]) -> tuple[str, ...]:
    """Every Message-ID in our grammar anywhere in the mail (headers, parts, their decoded text, preambles),
    those on a Message-ID line first; `skip` (the bounce's own ids) left out. The signature is checked by the
    caller: only a signed one of ours counts."""
    text = "\n".join(_all_text(msg))[:MAX_SCAN]
    found = [m.group(1) for m in _OURS_FIELD.finditer(text)] + [m.group(0) for m in _OURS.finditer(text)]
    return tuple(i for i in dict.fromkeys(f.lower() for f in found) if i not in skip)


def _all_text(msg: Message) -> Iterator[str]:
    stack, seen = [msg], 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        yield "\n".join(f"{k}: {v}" for k, v in part.raw_items())
        for extra in (part.preamble, part.epilogue):
            if isinstance(extra, str):
                yield extra
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(p for p in reversed(payload) if isinstance(p, Message))
            continue
        if isinstance(payload, str):
            yield payload
            decoded = payload_bytes(part)
            if isinstance(decoded, bytes) and decoded != payload.encode("utf-8", "replace"):
                yield decoded.decode("latin-1")
