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


def fields_of(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    name = None
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and name is not None:
            fields[name] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip():
            name = key.strip().lower()
            fields.setdefault(name, value.strip())
    return fields


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
        for block in re.split(r"\r?\n[ \t]*\r?\n", text.replace("\r\n", "\n")):
            fields = fields_of(block)
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
