"""Core: header fields read where the stdlib parser alone reads them wrong: `mend` (a damaged header block),
`raw_headers` (the fields as received, raw 8-bit bytes decoded), `addresses` (address headers as real
clients write them).

A header block that a broken client or MTA damaged, mended before the stdlib parser reads it.

compat32 ends the header block at the first line that is neither a field (`Name:`) nor a fold (it starts
with a blank): every field after it (often From, To, Subject, Content-Type) becomes body text. Real mail
has such lines: a fold that lost its leading blank (`To: a@x,` then `b@y` on the next line), junk an MTA
wrote (`quite Delivered-To: ...`), the obsolete `Subject : text` (blanks before the colon, RFC 5322 4.5).

`mend` rewrites the header block only when the lines after such a line are header fields again before the
first blank line: a line without a colon then becomes a fold of the field above it (what its writer meant)
and `Name :` becomes `Name:`. A line without a colon that no well-known field follows is where the body
starts, as the stdlib reads it (a mail without the blank line between header and body); so is one followed
by a second From, Subject... (a forwarded header block at the top of such a body).
"""

from __future__ import annotations

import re
from email.errors import HeaderDefect
from email.message import Message
from email.utils import getaddresses

from mailgate.core.mail.charset import decode_header_value, unescape_8bit
from mailgate.core.mail.mailbox import is_mailbox
from mailgate.core.model import Address

_LINE = re.compile(rb"([^\r\n]*+)(\r\n|\r|\n|\Z)")
_FIELD = re.compile(rb"([!-9;-~]++)([ \t]*+):")  # RFC 5322 field name (printable, no colon), blanks, colon
_KNOWN = frozenset(
    b"from to cc bcc subject date message-id reply-to in-reply-to references sender return-path received "
    b"delivered-to envelope-to mime-version dkim-signature domainkey-signature authentication-results "
    b"received-spf precedence auto-submitted thread-topic thread-index importance priority organization "
    b"user-agent errors-to disposition-notification-to return-receipt-to comments keywords".split())
_KNOWN_PREFIXES = (b"x-", b"content-", b"list-", b"arc-", b"resent-")
# Fields a mail has once: a second one after a broken line starts a quoted header block, not more header.
_ONCE = frozenset(b"from to cc subject date message-id sender reply-to in-reply-to references".split())


# A real header block has tens of lines, a few hundred with every Received of a long route: longer ones are
# left to the stdlib as they are.
_MAX_LINES = 2000
_MAX_BYTES = 256 * 1024


class MalformedHeaderLineDefect(HeaderDefect):
    """A header line that was neither a field nor a fold, read as a fold of the field before it."""


def _known(name: bytes) -> bool:
    return name in _KNOWN or name.startswith(_KNOWN_PREFIXES)


def mend(raw: bytes) -> bytes | None:
    """The mail with its header block mended, or None when there is nothing the stdlib would miss."""
    out: list[bytes] = []  # the mended lines, with their line ends
    pending: list[bytes] = []  # lines since the last accepted field, from the first broken one
    pending_at = 0  # where the first of them starts in `raw`
    seen: set[bytes] = set()
    changed = False
    pos = 0
    size = len(raw)
    for _ in range(_MAX_LINES):
        if pos >= size:
            break
        if pos > _MAX_BYTES:
            return None
        match = _LINE.match(raw, pos)
        if match is None or not match.group(1):
            break  # the blank line: the end of the header block
        line, start, pos = match.group(1), pos, match.end()
        if line[:1] in (b" ", b"\t"):
            (pending if pending else out).append(match.group(0))
            continue
        field = _FIELD.match(line)
        name = field.group(1).lower() if field else b""
        if field is None or (field.group(2) and not _known(name)):
            if line.startswith(b"From "):  # an mbox envelope line: the stdlib reads it as one
                (pending if pending else out).append(match.group(0))
                continue
            if not out:
                return None  # no field before it: a body without header (or not a mail at all)
            if not pending:
                pending_at = start
            pending.append(b" " + match.group(0))  # a fold of the field above
            continue
        if pending and (not _known(name) or name in _ONCE and name in seen):
            break  # what follows the broken line is no header of this mail: the body starts there
        if pending:
            out.extend(pending)
            pending.clear()
            changed = True
        if field.group(2):  # `Name :` -> `Name:`
            out.append(field.group(1) + match.group(0)[field.end() - 1:])
            changed = True
        else:
            out.append(match.group(0))
        seen.add(name)
    else:
        return None
    if not changed:
        return None
    return b"".join(out) + raw[pending_at if pending else pos:]


def raw_headers(msg: Message) -> list[tuple[str, str]]:
    """(lower-cased name, value) as received: raw 8-bit bytes become text here (utf-8, else the mail's body
    charset, else a CJK charset the bytes read as, else Latin-1), where compat32's own accessors would turn
    them into replacement characters."""
    result = []
    declared: str | None = ""  # looked up with the first 8-bit value: most mails have none
    for name, value in msg.raw_items():
        text = str(value)
        if not text.isascii():
            if declared == "":
                declared = _body_charset(msg)
            text = unescape_8bit(text, declared)
        result.append((name.lower(), text))
    return result


def _body_charset(msg: Message) -> str | None:
    """The charset the mail declares for its text: the top part's, else its first text part's."""
    try:
        for part in msg.walk():
            label = part.get_content_charset()
            if label:
                return str(label)
    except Exception:
        pass
    return None

# From a token's start only; brackets and parentheses around it are no part of it.
_BARE_ADDR = re.compile(r"(?<![^\s<>\"',;()\[\]])[^\s<>\"',;()\[\]]+@[^\s<>\"',;()\[\]]+")
# `Name (addr)`: an address written as the comment after a name (no '@' inside the parts, so no backtracking).
_COMMENT_ADDR = re.compile(r"\(\s*+([^\s()<>\"',;@]++@[^\s()<>\"',;@]++)\s*+\)")
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
# An address header's tokens that may hide a ':' or ';' (quoted strings, comments, angle addresses), and the
# group delimiters themselves; each alternative consumes a run without backtracking.
_GROUP_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*+"?|\([^()]*+\)?|<[^<>]*+>?|[:;]')


def addresses(values: list[str]) -> tuple[Address, ...]:
    """Mailboxes from address headers; display names decoded, addresses lower-cased."""
    if not values:  # no such header (most mails' Cc and Reply-To): the stdlib parser costs 2.7 us even so
        return ()
    result: list[Address] = []
    pairs = _plain_pairs(values)
    for name, written in _parsed_pairs(values) if pairs is None else pairs:
        addr = written.strip().lower()
        if "@" not in addr:
            comment = name.strip().lower()
            if "@" not in comment or not is_mailbox(comment) or not any("(" in value for value in values):
                continue
            # `José (jose@x.example)`: the stdlib takes the name for the address and the comment for the name
            name, addr = written, comment
        if not is_mailbox(addr):  # "Big Bug bb@bug.com": a phrase without angle brackets around the address
            name, addr = _recover(name, written.strip())
        result.append(Address(email=addr, name=decode_header_value(name)))
    if not result:  # getaddresses gives up on some broken headers; fall back to anything address-like
        for value in values:
            for addr in _BARE_ADDR.findall(value):
                result.append(Address(email=addr.lower()))
    return tuple(result)


def first_address(values: list[str]) -> str | None:
    """`addresses(values)[0].email`, its display name left undecoded: what the SMTP edge keys a mail by."""
    pairs = _plain_pairs(values) if values else None
    if pairs:
        addr = pairs[0][1].strip().lower()
        if is_mailbox(addr):
            return addr
    found = addresses(values)
    return found[0].email if found else None


def _parsed_pairs(values: list[str]) -> list[tuple[str, str]]:
    try:  # unfolded first: the stdlib reads `"Doe,<CRLF> John" <j@x>, b@y` as the one address `Doe,`
        return getaddresses([_ungrouped(_commented(_FOLD.sub("", value) if "\n" in value or "\r" in value
                                                   else value)) for value in values])
    except Exception:
        return []


def _commented(value: str) -> str:
    """`=?utf-8?q?Jos=C3=A9?= Garcia (jose@x.example)` -> `... <jose@x.example>`: the stdlib would keep the
    comment's address as the name and the name's first word as the address (or drop it: no '@')."""
    if "(" not in value or "<" in value:
        return value
    pieces = value.split(",")  # `a@x (a@x)`, the address then itself as the comment, stays as it is
    return ",".join(_COMMENT_ADDR.sub(lambda m: f"<{m[1]}>", piece) if "@" not in piece.partition("(")[0]
                    else piece for piece in pieces)


def _ungrouped(value: str) -> str:
    """`Team: a@x, b@y;` -> `Team, a@x, b@y,`: the group's members as plain list entries. The stdlib reads a
    group by concatenating lists, in time quadratic in its length (`From: From: @@@@...` of 40,000 characters
    takes seconds); the group's name has no '@' and is dropped like any other phrase-only entry."""
    if ":" not in value and ";" not in value:
        return value
    return _GROUP_TOKEN.sub(lambda token: "," if token[0] in ":;" else token[0], value)


def _recover(name: str, addr: str) -> tuple[str, str]:
    """`Big Bug bb@bug.com` (a name, then the address without angle brackets) -> ("Big Bug", "bb@bug.com");
    any other malformed address is kept as written: on the ticket, never as a recipient."""
    phrase, _, last = addr.rpartition(" ")
    if phrase.strip() and is_mailbox(last) and "." in last.rpartition("@")[2]:
        return name or " ".join(phrase.split()), last.lower()
    return name, addr.lower()


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]++"
_ADDR_SPEC = rf"{_ATOM}(?:\.{_ATOM})*+@[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)*+"
# One mailbox as most clients write it, then a comma or the end: `a@x`, `Name <a@x>`, `"Doe, John" <a@x>`.
_PLAIN = re.compile(rf'[ \t]*+(?:({_ADDR_SPEC})|(?:"([^"\\\r\n():;]*+)"|({_ATOM}(?:[ \t]++{_ATOM})*+))?[ \t]*+'
                    rf'<({_ADDR_SPEC})>)[ \t]*+(?:,|\Z)')


def _plain_pairs(values: list[str]) -> list[tuple[str, str]] | None:
    """getaddresses' (name, address) pairs for values made only of plain mailboxes, read by one regex (0.8 us a
    From against 10); None for anything else (comments, groups, folds, escapes, route addresses...)."""
    pairs = []
    for value in values:
        if not isinstance(value, str) or not value.strip(" \t"):
            return None
        at, end = 0, len(value)
        while at < end:
            match = _PLAIN.match(value, at)
            if match is None or match.end() == at:
                return None
            bare, quoted, atoms, angled = match.groups()
            if bare is not None:
                pairs.append(("", bare))
            else:
                pairs.append((quoted if quoted is not None else " ".join(atoms.split()) if atoms else "", angled))
            at = match.end()
            if at == end and value.endswith(","):
                return None  # a trailing comma: the stdlib's business
    return pairs
