"""Core: raw RFC 5322 bytes -> ParsedMail. Never raises; what it could not read is kept as defects.

The stdlib compat32 parser is used directly: on the corpus it walks about 900 mails/s on this
machine where mail-parser (built on it) manages about 250/s, and both read every corpus mail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from email.errors import MissingHeaderBodySeparatorDefect
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime

from mailgate.core.mail.charset import decode_bytes, decode_header_value
from mailgate.core.mail.headers import MalformedHeaderLineDefect, addresses, first_address, mend, raw_headers
from mailgate.core.mail.html import html_to_text
from mailgate.core.mail.payload import message_of, payload_bytes
from mailgate.core.model import ParsedMail

__all__ = ["addresses", "attachment_names", "dedupe_fields", "first_message_id", "message_ids", "mime_tree", "parse"]

# A Message-ID we may copy into our own headers (In-Reply-To, References): printable ASCII, no angle bracket,
# no space or control character (VT, FF, FS... would break the header section), at most 250 characters.
_MSGID_TEXT = r"[\x21-\x3b\x3d\x3f-\x7e]{1,250}"
_MSGID = re.compile(rf"<({_MSGID_TEXT})>")
_BARE_MSGID = re.compile(_MSGID_TEXT)


def mime_tree(raw: bytes) -> Message | Exception:
    """The MIME tree (compat32), or what stopped the parser. The worker parses a mail once and hands the
    tree to every reader: `parse`, classification, attachment names and extraction."""
    try:
        msg = message_of(raw)
        if _stopped_early(msg) and (mended := mend(raw)) is not None:
            msg = message_of(mended)  # the header fields after a broken line
            msg.defects.append(MalformedHeaderLineDefect())
        return msg
    except Exception as exc:  # the stdlib parser is lenient; this is a last resort
        return exc


def _stopped_early(msg: Message) -> bool:
    """The parser ended the header block at a line that was no header field (see `headers.mend`)."""
    return any(isinstance(defect, MissingHeaderBodySeparatorDefect) for defect in msg.defects)


def parse(raw: bytes, tree: Message | Exception | None = None) -> ParsedMail:
    """Parse one mail (`tree`: its `mime_tree(raw)`, when already made). A mail the parser cannot read at all
    still yields a ParsedMail."""
    msg = mime_tree(raw) if tree is None else tree
    if isinstance(msg, Exception):
        return ParsedMail(message_id=None, subject="", from_=None, text=decode_bytes(raw, None),
                          defects=(f"unparseable: {type(msg).__name__}",))
    defects = [type(d).__name__ for d in msg.defects]
    fields = raw_headers(msg)

    def all_of(name: str) -> list[str]:
        return [v for k, v in fields if k == name]

    def first(name: str) -> str | None:
        found = all_of(name)
        return found[0] if found else None

    headers = tuple((k, decode_header_value(v)) for k, v in fields)
    text, html = _bodies(msg, defects)
    from_list = addresses(all_of("from"))
    return ParsedMail(
        message_id=first_message_id(first("message-id")),
        subject=decode_header_value(first("subject") or ""),
        from_=from_list[0] if from_list else None,
        to=addresses(all_of("to")),
        cc=addresses(all_of("cc")),
        reply_to=addresses(all_of("reply-to")),
        in_reply_to=message_ids(first("in-reply-to")),
        references=message_ids(" ".join(all_of("references"))),
        date=_date(first("date")),
        text=text,
        html=html,
        headers=headers,
        defects=tuple(defects),
    )


def attachment_names(raw: bytes | Message) -> tuple[str, ...]:
    """File names of the parts with a file name or `Content-Disposition: attachment` ("" when unnamed):
    what the rules' attachment conditions look at."""
    try:
        msg = message_of(raw) if isinstance(raw, bytes) else raw
        names = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            filename = part.get_filename()
            disposition = str(part.get("content-disposition") or "").strip().lower()
            if filename is not None or disposition.startswith("attachment"):
                names.append(decode_header_value(filename or ""))
        return tuple(names)
    except Exception:
        return ()


def dedupe_fields(raw: bytes) -> tuple[str | None, str | None]:
    """(Message-ID, sender address) read from the header block only: cheap enough for the SMTP edge.

    Read by hand when the header block is well formed (44 us a mail against 140 us through compat32's
    BytesHeaderParser, measured on the benchmark's mails; the same answers on the 702 corpus and fixture
    mails); anything unusual in it goes through the parser."""
    fields = _header_fields(raw)
    if fields is None:
        return _dedupe_fields_parsed(raw)
    message_id = next(iter(fields.get(b"message-id", [])), None)
    return first_message_id(message_id), first_address(fields.get(b"from", []))


# A plain header block: lines of a field name, its colon (spaces before it tolerated) and its value, or of the
# continuation of a value; the wanted fields' values, each with its continuation lines, found by the line end
# before them (a pattern that starts with a literal is searched for it: a quarter of the time of ^ and re.M).
_PLAIN_BLOCK = re.compile(rb"(?:[!-9;-~]++[ \t]*+:[^\n]*+\n|[ \t][^\n]*+\n)*+")
_WANTED = re.compile(rb"\n((?i:from|message-id))[ \t]*+:[ \t]*+([^\n]*+(?:\n[ \t][^\n]*+)*+)")


def _header_fields(raw: bytes) -> dict[bytes, list[str]] | None:
    """The From and Message-ID values of a plain header block, or None to let the parser judge. Two passes of
    patterns over the block: 4 us for the benchmark's mails, 15 line by line."""
    crlf = raw.find(b"\r\n\r\n")
    end = raw.find(b"\n\n", 0, crlf if crlf != -1 else len(raw))  # not the whole of a CRLF mail
    if crlf != -1 and (end == -1 or crlf < end):
        end = crlf
    block = raw if end == -1 else raw[:end]
    lines = block.replace(b"\r\n", b"\n")
    if b"\r" in lines:
        return None  # bare CR: the parser's business
    lines = b"\n" + lines + b"\n"
    if _PLAIN_BLOCK.fullmatch(lines, 1) is None:
        return None  # a line that is neither a field nor a continuation
    found: dict[bytes, list[str]] = {}
    for match in _WANTED.finditer(lines):
        found.setdefault(match.group(1).lower(), []).append(_text(match.group(2)))
    return found


def _text(value: bytes) -> str:
    return value.decode("ascii") if value.isascii() else decode_bytes(value, None)


def _dedupe_fields_parsed(raw: bytes) -> tuple[str | None, str | None]:
    try:
        msg = BytesHeaderParser(policy=compat32).parsebytes(raw)
        if _stopped_early(msg) and (mended := mend(raw)) is not None:
            msg = BytesHeaderParser(policy=compat32).parsebytes(mended)
    except Exception:
        return None, None
    fields = raw_headers(msg)
    sender = addresses([v for k, v in fields if k == "from"])
    message_id = next((v for k, v in fields if k == "message-id"), None)
    return first_message_id(message_id), (sender[0].email if sender else None)


def first_message_id(value: object) -> str | None:
    ids = message_ids(value)
    if ids:
        return ids[0]
    if value is None:
        return None
    bare = str(value).strip()
    return bare if _BARE_MSGID.fullmatch(bare) else None


def message_ids(value: object) -> tuple[str, ...]:
    """Message-IDs in a header, without angle brackets, in order, without repeats."""
    if value is None:
        return ()
    found: list[str] = []
    for mid in _MSGID.findall(str(value)):
        if mid not in found:
            found.append(mid)
    return tuple(found)


def _date(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        return parsedate_to_datetime(str(value))
    except Exception:
        return None


def _bodies(msg: Message, defects: list[str]) -> tuple[str, str | None]:
    """The first inline text/plain and text/html parts, decoded; text from HTML when no plain part, or when
    the plain part is a stub of its HTML alternative (`_stub_of`)."""
    plain: str | None = None
    html: str | None = None
    found: list[Message] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html"):
            continue
        if str(part.get("content-disposition") or "").strip().lower().startswith("attachment"):
            continue
        try:
            payload = payload_bytes(part)
        except Exception as exc:
            defects.append(f"payload: {type(exc).__name__}")
            continue
        if not isinstance(payload, bytes):
            continue
        try:
            label = part.get_content_charset()
        except Exception:
            label = None
        decoded = decode_bytes(payload, label)
        if ctype == "text/plain" and plain is None:
            plain = decoded
            found.append(part)
        elif ctype == "text/html" and html is None:
            html = decoded
            found.append(part)
        if plain is not None and html is not None:
            break
    if plain is None:
        plain = html_to_text(html) if html is not None else ""
    elif html is not None:
        plain = _stub_of(plain, html, lambda: _alternatives(msg, found)) or plain
    return plain.replace("\r\n", "\n"), html


# What a client writes in the plain part when the mail is in its HTML part ("This message is in HTML,
# please view it in a HTML client", "Ce message est au format HTML", "Ihr E-Mail-Programm unterstützt kein HTML").
_HTML_WORD = re.compile(r"\bx?html\b", re.IGNORECASE)
_STUB_WORD = re.compile(r"\b(?:view|client|reader|program|support|format|compatible|browser|display|enable|"
                        r"version|viewer|programm|unterst|lecteur|logiciel|afficher)", re.IGNORECASE)


def _stub_of(plain: str, html: str, alternatives: Callable[[], bool]) -> str | None:
    """The HTML's text when the plain part is a stub of its alternative: empty, a "view this in HTML" notice,
    or under a tenth of the HTML's text (bounded without converting it: most mails are let go unconverted)."""
    words = "".join(plain.split())  # sizes without blanks: the converter pads table cells with them
    notice = len(words) <= 400 and _HTML_WORD.search(plain) is not None and _STUB_WORD.search(plain) is not None
    if words and not notice and len(words) * 10 >= _text_bound(html) or not alternatives():
        return None
    text = html_to_text(html)
    size = len("".join(text.split()))
    if not words or (notice and size > len(words)) or len(words) * 10 < size:
        return text
    return None


_TAG = re.compile(r"<[^<>]*+>?")


def _text_bound(html: str) -> int:
    """At least the size of the HTML's text (blanks left out), without the cost of converting it: its size,
    else its size without tags (CSS and comments still counted)."""
    if len(html) <= 100_000:
        return len("".join(_TAG.sub("", html).split()))
    return len(html)


def _alternatives(msg: Message, parts: list[Message]) -> bool:
    """Both parts are inside one multipart/alternative (also nested: alternative[plain, related[html...]])."""
    wanted = {id(part) for part in parts}
    enclosing: list[frozenset[int]] = []  # per part found: the alternatives around it
    stack: list[tuple[Message, frozenset[int]]] = [(msg, frozenset())]
    while stack and len(enclosing) < len(wanted):
        part, around = stack.pop()
        if id(part) in wanted:
            enclosing.append(around)
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            if part.get_content_type() == "multipart/alternative":
                around = around | {id(part)}
            stack.extend((child, around) for child in payload if isinstance(child, Message))
    return len(enclosing) == len(wanted) and bool(frozenset.intersection(*enclosing))
