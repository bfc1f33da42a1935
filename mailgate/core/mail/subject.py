"""Core: subject lines: reply/forward prefixes, finding the ticket tag, writing it."""

from __future__ import annotations

import re

# Re:, Fwd:, TR: (French), AW:/WG: (German), SV:/VS: (Nordic), RIF:/I: (Italian), RV:/RES:/ENC: ...
_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|tr|transf|aw|wg|sv|vs|antw|doorst|rif|r|rv|res|enc|odp|vl|ynt|i)"
    r"(?:\s*\[\d+\]|\s*\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)
_TAG_BRACKETED = re.compile(r"\[#(\d{1,9})\]")
_TAG_BARE = re.compile(r"(?<![\w&#/])#(\d{1,9})\b")


def strip_prefixes(subject: str) -> str:
    """The subject without leading reply/forward prefixes (repeated ones too)."""
    return _PREFIX.sub("", subject).strip()


def tags(subject: str) -> tuple[int, ...]:
    """Ticket numbers named in the subject: `[#N]` tags first, then bare `#N`, without repeats."""
    found: list[int] = []
    for pattern in (_TAG_BRACKETED, _TAG_BARE):
        for match in pattern.finditer(subject):
            number = int(match.group(1))
            if number > 0 and number not in found:
                found.append(number)
    return tuple(found)


def title(subject: str, *, empty: str = "(sans objet)") -> str:
    """A ticket title from a subject: prefixes and `[#N]` tags removed, whitespace folded."""
    text = _TAG_BRACKETED.sub(" ", strip_prefixes(subject))
    text = " ".join(strip_prefixes(text).split())
    return text[:250] if text else empty


def tagged(number: int, title_text: str) -> str:
    """The subject of a mail we send about ticket `number`."""
    return f"[#{number}] {title_text}"
