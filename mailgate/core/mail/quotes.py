"""Core: the text a person wrote in a reply, after parsing and before storing: history, signatures, footers off.

The convention is written in docs/replies.md (short version: docs/hygiene.md, "The text of a reply"). In short:
quoted history and everything after a reply header, an Outlook header block or an "original message" line is
removed; quotes between the person's own paragraphs (inline answers) stay; the end of the person's part loses its
signature, footers and disclaimer (`signatures`); a forwarded message is content and stays whole; if nothing would
remain, the whole text is returned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailgate.core.mail import quotes_patterns as pat
from mailgate.core.mail.signatures import (
    ATTRIBUTION,
    BANNER,
    DELIMITER,
    EMPTY,
    FORWARD,
    HEADER,
    MOBILE,
    ORIGINAL,
    QUOTED,
    RULE,
    SIGNATURE,
    TEXT,
    own_end,
)

# Blanks, zero-width and bidi marks (Gmail wraps right-to-left headers in them: "\u202b...<\u202aa@b\u202c>:\u202c").
_BLANKS = (" \t\u00a0\u2000\u2001\u2002\u2003\u2009\u200a\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
           "\u202f\u2060\u2066\u2067\u2068\u2069\ufeff\x0b\x0c")
_LONG = 300  # longer lines are plain text: the patterns never match them and must not scan them
_FLAT_LONG = 1000  # a header block flattened onto one line, long Cc lists included
_ATTRIBUTION_LINES = 3  # Gmail wraps "On <date>, Name <address>" / "wrote:" over two or three lines
_ATTRIBUTION_CHARS = 400
_HEADER_LINES = 16  # an Outlook block is never longer, wrapped Cc lines included
_LEADING_CONTEXT = frozenset((EMPTY, ATTRIBUTION, QUOTED, DELIMITER))


def strip_reply(text: str, *, subject: str = "") -> str:
    """What the person wrote: quoted history, reply headers, signature and mobile footers removed.

    `subject` is optional: a forward prefix there ("Fwd:", "TR:", "WG:"...) makes an Outlook header block
    mean "forwarded message" (kept) rather than "replied-to message" (removed).
    """
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    kinds = classify(lines)
    cut, forward_at = _boundaries(kinds, forwarding=bool(pat.FORWARD_SUBJECT.match(subject)))
    own = _trim(lines[:cut], kinds[:cut])
    if forward_at is not None:
        forwarded = _strip_blank_lines(lines[forward_at:])
        own = own + [""] + forwarded if own else forwarded
    if not any(line.strip(_BLANKS) for line in own):  # nothing of their own: better all than nothing
        own = _strip_blank_lines(lines)
    return "\n".join(_dedent(own))


def classify(lines: Sequence[str]) -> list[str]:
    """One kind letter per line (see the constants above); reply headers and header blocks span lines."""
    kinds = [_kind(line) for line in lines]
    _mark_attributions(lines, kinds, _quote_follows(kinds))
    _mark_header_blocks(lines, kinds)
    _mark_banner(lines, kinds)
    return kinds


def _mark_banner(lines: Sequence[str], kinds: list[str]) -> None:
    """The "this mail comes from outside" warning a gateway puts in the first paragraph."""
    start = next((i for i, kind in enumerate(kinds) if kind != EMPTY), len(kinds))
    end = start
    while end < len(kinds) and kinds[end] == TEXT and end - start < 6:
        end += 1
    if end > start and pat.EXTERNAL_BANNER.match(" ".join(lines[start:end])[:_ATTRIBUTION_CHARS]):
        kinds[start:end] = [BANNER] * (end - start)


def _kind(line: str) -> str:
    bare = line.strip(_BLANKS)
    if not bare:
        return EMPTY
    if pat.QUOTE.match(line):
        return QUOTED
    if len(bare) > _LONG:
        return TEXT
    match = _ANY_KIND.match(bare)
    return TEXT if match is None else _KIND_OF[str(match.lastgroup)]


# A line's patterns, in the order they are tried: one alternation, matched once (0.83 us a line against 1.40
# for six matches); the first alternative that matches wins, as the first pattern did.
_LINE_KINDS = ((SIGNATURE, pat.SIGNATURE), (RULE, pat.UNDERSCORES), (FORWARD, pat.FORWARD),
               (ORIGINAL, pat.ORIGINAL), (DELIMITER, pat.DELIMITER), (MOBILE, pat.MOBILE))


def _alternation(patterns: Sequence[tuple[str, re.Pattern[str]]]) -> re.Pattern[str]:
    parts = []
    for n, (_, pattern) in enumerate(patterns):
        if pattern.groups or pattern.flags & ~(re.IGNORECASE | re.UNICODE):
            raise ValueError(f"{pattern.pattern[:40]}: groups or flags an alternation would change")
        scope = "(?i:" if pattern.flags & re.IGNORECASE else "(?:"
        parts.append(f"(?P<k{n}>{scope}{pattern.pattern}))")
    return re.compile("|".join(parts))


_ANY_KIND = _alternation(_LINE_KINDS)
_KIND_OF = {f"k{n}": kind for n, (kind, _) in enumerate(_LINE_KINDS)}


def _quote_follows(kinds: Sequence[str]) -> list[bool]:
    """For each line: is the next non-empty line after it quoted?"""
    follows, quoted = [False] * len(kinds), False
    for i in range(len(kinds) - 1, -1, -1):
        follows[i] = quoted
        if kinds[i] != EMPTY:
            quoted = kinds[i] == QUOTED
    return follows


def _mark_attributions(lines: Sequence[str], kinds: list[str], quote_follows: Sequence[bool]) -> None:
    """Find "On <date>, X wrote:"-style headers, joining lines a client wrapped, and mark them."""
    for end, line in enumerate(lines):
        if kinds[end] != TEXT or len(line) > _LONG or not _ends_header(line):
            continue
        start = _attribution_start(lines, kinds, end, quoted_next=quote_follows[end])
        if start is not None:
            kinds[start:end + 1] = [ATTRIBUTION] * (end + 1 - start)


def _ends_header(line: str) -> bool:
    """Does the line end as a reply header does: `(?:[:：]|\\s-{2,})[\\s*-]*$`, in one pass from its end
    (that pattern, searched, rescans a long run of dashes from each of its characters)."""
    end = len(line)
    while end and (line[end - 1] in "*-" or line[end - 1] in _BLANKS or line[end - 1].isspace()):
        end -= 1
    return line[end - 1:end] in pat.COLONS or pat.SPACED_DASHES.search(line, end) is not None


def _attribution_start(lines: Sequence[str], kinds: Sequence[str], end: int, *, quoted_next: bool) -> int | None:
    """First line of a reply header ending at line `end`, or None. A header that opens with its date ("On",
    "Le", "Am"...) may be wrapped; one that opens with a name ("X wrote:") must be a line of its own."""
    for start in range(end, max(end - _ATTRIBUTION_LINES, -1), -1):
        if kinds[start] != TEXT:
            break
        joined = " ".join(lines[k].strip(_BLANKS) for k in range(start, end + 1))
        if len(joined) > _ATTRIBUTION_CHARS:
            break
        if (pat.OPENER.match(joined) and pat.DATED.search(joined) and pat.VERB.search(joined)
                and pat.ATTRIBUTION.match(joined)):
            return start
    line = lines[end].strip(_BLANKS)
    match = pat.ATTRIBUTION.match(line) if pat.VERB.search(line) else None
    if match is not None and match.group("head").strip(" >*-\t"):
        if quoted_next:
            return end  # X wrote: (then the quote)
        if "@" in line and pat.DATED.search(line) and any(c.isdigit() for c in line):
            return end  # ons 4 dec. 2024 kl. 20:42 skrev X <x@y>:  /  X <x@y> schrieb am <date>:
    if "@" in line and pat.DATE_ADDRESS.match(line):
        return end  # 2022年1月1日(金) 9:00 田中太郎 <taro@example.com>:
    if pat.QUOTING.match(line) and quoted_next:
        return end
    return None


def _field(line: str) -> str | None:
    if len(line) > _LONG or (":" not in line and "：" not in line):  # the field's colon: most lines have none
        return None
    match = pat.HEADER_FIELD.match(line)
    if match is None:
        return None
    return pat.FIELD_KIND.get(" ".join(match.group("name").lower().split()))


def _flattened_block(line: str) -> bool:
    """"From: X Sent: <date> To: Z Subject: W" on one line (an HTML conversion joined the block's lines)."""
    if len(line) > _FLAT_LONG or not any(c.isdigit() for c in line):
        return False
    seen = {pat.FIELD_KIND[" ".join(m.group("name").lower().split())] for m in pat.INLINE_FIELD.finditer(line)}
    return "date" in seen and len(seen & {"to", "cc", "subject"}) >= 1


def _mark_header_blocks(lines: Sequence[str], kinds: list[str]) -> None:
    """Mark Outlook-style blocks: From and two of Sent/Date, To, Cc, Subject; wrapped values allowed."""
    fields = [_field(line) if kind == TEXT else None for line, kind in zip(lines, kinds, strict=True)]
    for i, line in enumerate(lines):
        if kinds[i] == TEXT and len(line) > _LONG and _field(line[:_LONG]) == "from" and _flattened_block(line):
            kinds[i] = HEADER  # longer than a field line may be: long Cc lists
        elif fields[i] == "from" and _flattened_block(line):
            kinds[i] = HEADER
    i, n = 0, len(lines)
    while i < n:
        first = fields[i]
        if first is None:
            i += 1
            continue
        seen, last, j, loose = {first}, i, i + 1, 0
        while j < min(n, i + _HEADER_LINES) and loose <= 2:
            field = fields[j]
            if field is not None:
                seen.add(field)
                last, loose = j, 0
            elif kinds[j] == TEXT and loose < 2:
                loose += 1  # a value wrapped over the next line
            elif kinds[j] == EMPTY and j + 1 < n and fields[j + 1] is not None:
                loose += 1  # one blank line between two fields (HTML converted to text)
            else:
                break
            j += 1
        if "from" in seen and len(seen & {"date", "to", "cc", "subject"}) >= 2:
            kinds[i:last + 1] = [HEADER if k in (TEXT, EMPTY) else k for k in kinds[i:last + 1]]
            i = last + 1
        else:
            i += 1


def _boundaries(kinds: Sequence[str], *, forwarding: bool) -> tuple[int, int | None]:
    """(end of the person's own part, start of a forwarded message or None), scanning top-down."""
    own_text = False
    soft: int | None = None  # a signature or underscore line: the end, unless a forward follows
    replied: int | None = None  # "X wrote:" then quotes then text: an answer below, or unquoted history?
    answer = False  # text after the quotes of `replied`; a quote after it means inline answers: not history
    quote_follows = _quote_follows(kinds)
    i, n = 0, len(kinds)
    while i < n:
        kind = kinds[i]
        if kind == FORWARD or (kind in (HEADER, ORIGINAL) and (forwarding or not own_text)):
            return _first(soft, i), i
        if kind in (HEADER, ORIGINAL):
            return _first(soft, replied, i), None
        if kind == ATTRIBUTION:
            end = i
            while end + 1 < n and kinds[end + 1] == ATTRIBUTION:
                end += 1
            if own_text and not quote_follows[end]:  # unquoted history follows: Outlook, Gmail web
                return _first(soft, replied, i), None
            if own_text and replied is None:
                replied, answer = i, False
            i = end + 1
            continue
        if kind in (SIGNATURE, RULE) and own_text and soft is None:
            soft = i
        if kind == QUOTED and answer:
            replied, answer = None, False
        answer = answer or (kind == TEXT and replied is not None)
        own_text = own_text or kind == TEXT
        i += 1
    return _first(soft, n), None


def _first(*positions: int | None) -> int:
    return min(p for p in positions if p is not None)


def _trim(lines: list[str], kinds: list[str]) -> list[str]:
    """The person's part without trailing history and footers, and without a quote they answered below."""
    end = own_end(lines, kinds)
    lines, kinds = lines[:end], kinds[:end]
    start = 0
    while start < len(kinds) and kinds[start] in (EMPTY, BANNER):
        start += 1
    lines, kinds = lines[start:], kinds[start:]
    start, quoted = 0, False
    while start < len(kinds) and kinds[start] in _LEADING_CONTEXT:
        quoted = quoted or kinds[start] == QUOTED
        start += 1
    if quoted and QUOTED not in kinds[start:]:  # bottom-posting: the quote above is only context
        lines = lines[start:]
    return _strip_blank_lines(lines)


def _strip_blank_lines(lines: Sequence[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip(_BLANKS):
        start += 1
    while end > start and not lines[end - 1].strip(_BLANKS):
        end -= 1
    return list(lines[start:end])


def _dedent(lines: list[str]) -> list[str]:
    """Remove the indentation all lines share (text converted from HTML is often indented)."""
    indent = min((len(line) - len(line.lstrip(" ")) for line in lines if line.strip(_BLANKS)), default=0)
    return [line[indent:] for line in lines] if indent else lines
