"""Core: HTML body -> readable text (inscriptis: no scripts, no remote content, layout kept). Quoted history
(`<blockquote>`: Gmail's gmail_quote, Apple's type=cite, Thunderbird, Yahoo) comes out as `> ` lines, as a
plain-text client would quote it, so that reply stripping tells an inline answer from the quote it answers."""

from __future__ import annotations

import functools
import re
from heapq import heappop, heappush
from typing import Any

_TAGS = re.compile(r"<[^>]*>")
_CONFIG: list[Any] = []  # the inscriptis ParserConfig, made with the first HTML mail


KEPT_SIZE = 1024 * 1024  # an HTML body up to this size has its text kept for the next ask


def html_to_text(html: str) -> str:
    """Readable text of an HTML body; falls back to tag stripping if the converter fails. The mail's reading
    and the bounce parser both ask for an HTML-only mail's text (113 us a part on the corpus, on average):
    the last few are kept."""
    return _kept(html) if len(html) <= KEPT_SIZE else _converted(html)


@functools.lru_cache(maxsize=4)
def _kept(html: str) -> str:
    return _converted(html)


def _converted(html: str) -> str:
    from inscriptis import get_annotated_text  # loaded with the first HTML-only mail: lxml is 9 MB a process

    if not _CONFIG:
        from inscriptis.model.config import ParserConfig

        _CONFIG.append(ParserConfig(annotation_rules={"blockquote": ["quote"]}))
    try:
        annotated = get_annotated_text(html, _CONFIG[0])  # {} for a document without a body
    except Exception:  # inscriptis/lxml refuse some broken documents; never lose the words
        return " ".join(_TAGS.sub(" ", html).split())
    return _quoted(str(annotated.get("text", "")), annotated.get("label", [])).strip("\n")


def _quoted(text: str, spans: list[tuple[int, int, str]]) -> str:
    """Each line that starts inside n blockquotes gets n '>' in front of it (one sweep: spans by start, the
    open ones in a heap by end)."""
    quotes = sorted((start, end) for start, end, label in spans if label == "quote" and end > start)
    if not quotes:
        return text
    lines: list[str] = []
    open_ends: list[int] = []
    offset, next_quote = 0, 0
    for line in text.split("\n"):
        at = offset + len(line) - len(line.lstrip())  # the line's first character
        while next_quote < len(quotes) and quotes[next_quote][0] <= at:
            heappush(open_ends, quotes[next_quote][1])
            next_quote += 1
        while open_ends and open_ends[0] <= at:
            heappop(open_ends)
        depth = len(open_ends) if line.strip() else 0
        lines.append(">" * depth + " " + line.strip() if depth else line)
        offset += len(line) + 1
    return "\n".join(lines)
