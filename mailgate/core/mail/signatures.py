"""Core: where the person's own text ends: footers, sign-off lines, delimited signature blocks, disclaimers.

`quotes.strip_reply` finds the history; this module trims the end of what is left. The conventions are in
docs/replies.md: only what is clearly a signature goes (a `-- ` line, a line of dashes or equals signs above a
short contact block, a confidentiality disclaimer paragraph, an app footer, a one-line dash sign-off); a
closing such as "Regards,\\nJane" has no delimiter and stays.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailgate.core.mail import quotes_patterns as pat

# Line kinds (`quotes.classify` gives one a line).
EMPTY, TEXT, QUOTED, ATTRIBUTION, HEADER, FORWARD, ORIGINAL = "e", "t", "q", "a", "h", "f", "o"
SIGNATURE, RULE, DELIMITER, MOBILE, BANNER = "s", "u", "d", "m", "b"
TRAILING_JUNK = frozenset((EMPTY, QUOTED, ATTRIBUTION, DELIMITER, RULE, SIGNATURE, MOBILE))

_BLOCK_LINES = 12  # a contact block under a delimiter line is short; a longer part is text
_SCAN_CHARS = 1200  # of a paragraph, for the disclaimer patterns

# The first line of a contact block: a name or a title, letters only, short ("Jane Doe | Accounts Payable").
_NAME_LINE = re.compile(r"^\s*[^\W\d_][^\d:?!]{0,58}$")
# What a contact block contains: an address, a phone with its label or its country code (a link is not enough).
_CONTACT = re.compile(
    r"[\w.+-]@[\w-]+\.\w|\+\d{1,3}[\s(]"
    r"|(?<!\w)(?:tel|t[ée]l[ée]?(?:phone|fon|fono)?|phone|fax|mobile?|mob|cell|handy|m[óo]vil|cel|tfn|direct|gsm|portable)"
    r"\.?\s{0,3}[:.]?\s{0,3}\+?\(?\d",
    re.IGNORECASE,
)
# A confidentiality disclaimer: how its paragraph opens, and a word it must contain.
_DISCLAIMER = re.compile(
    r"^[\s*\[(]*(?:confidential(?:ity)?(?:\s+notice)?\b|disclaimer\b|important\s+notice\b|legal\s+notice\b"
    r"|(?:this|the\s+information\s+(?:contained\s+)?in\s+this)\s+(?:e-?mail|message|communication|transmission)\b"
    r"|avis\s+de\s+confidentialit[ée]|avertissement\b|ce\s+(?:message|courriel|mail|e-mail)\b"
    r"|les\s+informations\s+contenues\s+dans\s+ce|vertraulichkeitshinweis|haftungsausschluss"
    r"|diese\s+(?:e-?mail|nachricht)\b|aviso\s+(?:de\s+confidencialidad|legal)|este\s+(?:mensaje|correo)\b"
    r"|la\s+informaci[óo]n\s+contenida|questo\s+messaggio|questa\s+e-?mail|le\s+informazioni\s+contenute"
    r"|dit\s+bericht|deze\s+e-?mail|esta\s+mensagem|este\s+e-?mail)",
    re.IGNORECASE,
)
_CONFIDENTIAL = re.compile(
    r"confidential|privileged|intended\s+(?:solely\s+)?(?:only\s+)?for|intended\s+recipient|destinataire|confidentiel"
    r"|vertraulich|empf[äa]nger|confidencial|destinatario|riservat|vertrouwelijk|geadresseerde|sigilo",
    re.IGNORECASE,
)


def own_end(lines: Sequence[str], kinds: Sequence[str]) -> int:
    """The end of the person's part of `lines` (the history already cut off): footers and signatures off."""
    end = _junk_end(lines, kinds, len(kinds))
    while (cut := _block_start(lines, kinds, end)) is not None:
        end = _junk_end(lines, kinds, cut)
    return end


def _junk_end(lines: Sequence[str], kinds: Sequence[str], end: int) -> int:
    """Before trailing blank lines, quotes, footers, delimiters and a one-line dash sign-off ("-Anna")."""
    signed = False
    while end:
        kind = kinds[end - 1]
        signoff = (not signed and kind == TEXT and end > 2 and kinds[end - 2] == EMPTY
                   and pat.DASH_SIGNOFF.match(lines[end - 1]) is not None and TEXT in kinds[:end - 2])
        if kind not in TRAILING_JUNK and not signoff:
            break
        signed, end = signed or signoff, end - 1
    return end


def _block_start(lines: Sequence[str], kinds: Sequence[str], end: int) -> int | None:
    """Start of a signature block or disclaimer that ends at `end`, or None; own text must stay above it."""
    start = end
    while start and kinds[start - 1] == TEXT:
        start -= 1  # the last paragraph
    if start < end and TEXT in kinds[:start]:
        text = " ".join(line.strip() for line in lines[start:end])[:_SCAN_CHARS]
        if _DISCLAIMER.match(text) and _CONFIDENTIAL.search(text):
            return start
    for at in range(end - 1, max(end - _BLOCK_LINES - 2, -1), -1):
        if kinds[at] == DELIMITER:
            block = [line for line, kind in zip(lines[at + 1:end], kinds[at + 1:end], strict=True) if kind != EMPTY]
            if (TEXT in kinds[:at] and block and len(block) <= _BLOCK_LINES
                    and all(kind in (TEXT, EMPTY) for kind in kinds[at + 1:end])
                    and _NAME_LINE.match(block[0]) and any(_CONTACT.search(line[:300]) for line in block)):
                return at
            return None
        if kinds[at] not in (TEXT, EMPTY):
            return None
    return None
