"""Core, under bounce: RFC 3464 delivery-status fields -> the recipients that failed or were delayed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailgate.core.mail import bounce_text as words


@dataclass(frozen=True, slots=True)
class FailedRecipient:
    email: str  # lower-cased address the mail was sent to
    status: str | None = None  # RFC 3463 code "5.1.1"; "5.0.0"/"4.0.0" when only an SMTP code is known
    action: str | None = None  # RFC 3464 Action: failed | delayed | ...; None in non-standard bounces
    diagnostic: str | None = None  # the remote server's words


# Per-recipient and per-message fields of RFC 3464, recognised even when a pasted report indents them.
_FIELD = re.compile(r"^[ \t]*+((?:original|final)-recipient|action|status|diagnostic-code|remote-mta|reporting-mta|"
                    r"last-attempt-date|will-retry-until|final-log-id|x-[a-z0-9-]{1,60})[ \t]*+:(.*)$", re.I)
_RECIPIENT_FIELDS = ("original-recipient", "final-recipient")


def fields_of(block: str) -> dict[str, str]:
    return _groups(block)[0] if block.strip() else {}


def _groups(block: str) -> list[dict[str, str]]:
    """The field groups of a block: a new group starts where a recipient field comes again (reports whose
    per-recipient groups lost the blank line between them)."""
    groups: list[dict[str, str]] = [{}]
    name = None
    for line in block.splitlines():
        known = _FIELD.match(line)
        if line[:1] in (" ", "\t") and name is not None and known is None:
            groups[-1][name] += " " + line.strip()
            continue
        if known is not None:
            key, value = known.group(1).lower(), known.group(2)
        else:
            key, sep, value = line.partition(":")
            key = key.strip().lower()
            if not sep or not key or " " in key:
                continue
        fields = groups[-1]
        if key in _RECIPIENT_FIELDS and key in fields:
            fields = {}
            groups.append(fields)
        name = key
        fields.setdefault(name, value.strip())
    return groups


def blocks_in_text(text: str) -> list[str]:
    if not re.search(r"^\s*final-recipient:", text, re.I | re.M) or \
            not re.search(r"^\s*(?:action|status):", text, re.I | re.M):
        return []
    return [text]


def recipients(texts: list[str]) -> tuple[FailedRecipient, ...] | None:
    """Recipients that failed or were delayed; () when the reports only say delivered; None: no report."""
    seen_any = False
    found: dict[str, FailedRecipient] = {}
    for text in texts:
        for fields in (g for block in re.split(r"\n[ \t]*+\n", text.replace("\r\n", "\n")) for g in _groups(block)):
            addr = address(fields.get("original-recipient")) or address(fields.get("final-recipient"))
            if addr is None:
                continue
            seen_any = True
            action = (fields.get("action") or "").split()[0].lower() if fields.get("action") else None
            diagnostic = fields.get("diagnostic-code") or None
            status = words.clean_status(fields.get("status")) or words.status_code(diagnostic)
            if action in ("delivered", "relayed", "expanded") or (status or "").startswith("2"):
                continue
            if action is None and status is None and diagnostic is None:
                continue
            if addr not in found:
                found[addr] = FailedRecipient(addr, status, action, diagnostic)
    return tuple(found.values()) if seen_any else None


def address(value: str | None) -> str | None:
    if not value:
        return None
    _type, sep, rest = value.partition(";")  # "rfc822; a@b", "utf-8; a@b", or a bare address
    found = words.ADDRESS.search(rest if sep else value)
    return found.group(0).strip(".").lower() if found else None
