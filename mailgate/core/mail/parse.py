"""Core: raw RFC 5322 bytes -> ParsedMail. Never raises; what it could not read is kept as defects.

The stdlib compat32 parser is used directly: on the corpus it walks about 900 mails/s on this
machine where mail-parser (built on it) manages about 250/s, and both read every corpus mail.
"""

from __future__ import annotations

import re
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

from mailgate.core.mail.charset import decode_bytes, decode_header_value, unescape_8bit
from mailgate.core.mail.html import html_to_text
from mailgate.core.mail.mailbox import is_mailbox
from mailgate.core.model import Address, ParsedMail

# A Message-ID we may copy into our own headers (In-Reply-To, References): printable ASCII, no angle bracket,
# no space or control character (VT, FF, FS... would break the header section), at most 250 characters.
_MSGID_TEXT = r"[\x21-\x3b\x3d\x3f-\x7e]{1,250}"
_MSGID = re.compile(rf"<({_MSGID_TEXT})>")
_BARE_MSGID = re.compile(_MSGID_TEXT)
_BARE_ADDR = re.compile(r"(?<![^\s<>\"',;])[^\s<>\"',;]+@[^\s<>\"',;]+")  # from a token's start only
# An address header's tokens that may hide a ':' or ';' (quoted strings, comments, angle addresses), and the
# group delimiters themselves; each alternative consumes a run without backtracking.
_GROUP_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*+"?|\([^()]*+\)?|<[^<>]*+>?|[:;]')


def mime_tree(raw: bytes) -> Message | Exception:
    """The MIME tree (compat32), or what stopped the parser. The worker parses a mail once and hands the
    tree to every reader: `parse`, classification, attachment names and extraction."""
    try:
        return message_from_bytes(raw, policy=compat32)
    except Exception as exc:  # the stdlib parser is lenient; this is a last resort
        return exc


def parse(raw: bytes, tree: Message | Exception | None = None) -> ParsedMail:
    """Parse one mail (`tree`: its `mime_tree(raw)`, when already made). A mail the parser cannot read at all
    still yields a ParsedMail."""
    msg = mime_tree(raw) if tree is None else tree
    if isinstance(msg, Exception):
        return ParsedMail(message_id=None, subject="", from_=None, text=decode_bytes(raw, None),
                          defects=(f"unparseable: {type(msg).__name__}",))
    defects = [type(d).__name__ for d in msg.defects]
    raw_headers = _raw_headers(msg)

    def all_of(name: str) -> list[str]:
        return [v for k, v in raw_headers if k == name]

    def first(name: str) -> str | None:
        found = all_of(name)
        return found[0] if found else None

    headers = tuple((k, decode_header_value(v)) for k, v in raw_headers)
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
        msg = message_from_bytes(raw, policy=compat32) if isinstance(raw, bytes) else raw
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
    sender = addresses(fields.get(b"from", []))
    message_id = next(iter(fields.get(b"message-id", [])), None)
    return first_message_id(message_id), (sender[0].email if sender else None)


_FIELD = re.compile(rb"([!-9;-~]++)[ \t]*+:")  # a field name, then the colon (spaces before it are tolerated)
_WANTED = (b"from", b"message-id")


def _header_fields(raw: bytes) -> dict[bytes, list[str]] | None:
    """The From and Message-ID values of a plain header block, or None to let the parser judge."""
    end = raw.find(b"\n\n")
    crlf = raw.find(b"\r\n\r\n")
    if crlf != -1 and (end == -1 or crlf < end):
        end = crlf
    block = raw if end == -1 else raw[:end]
    if b"\r" in block.replace(b"\r\n", b""):
        return None  # bare CR: the parser's business
    found: dict[bytes, list[list[bytes]]] = {}
    current: list[bytes] | None = None
    for line in block.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current.append(line)
            continue
        match = _FIELD.match(line)
        if match is None:
            return None  # a line that is neither a field nor a continuation
        name = match.group(1).lower()
        current = [line[match.end():].lstrip(b" \t")] if name in _WANTED else None
        if current is not None:
            found.setdefault(name, []).append(current)
    return {name: [_text(b"\n".join(parts)) for parts in values] for name, values in found.items()}


def _text(value: bytes) -> str:
    return value.decode("ascii") if value.isascii() else decode_bytes(value, None)


def _dedupe_fields_parsed(raw: bytes) -> tuple[str | None, str | None]:
    try:
        msg = BytesHeaderParser(policy=compat32).parsebytes(raw)
    except Exception:
        return None, None
    raw_headers = _raw_headers(msg)
    sender = addresses([v for k, v in raw_headers if k == "from"])
    message_id = next((v for k, v in raw_headers if k == "message-id"), None)
    return first_message_id(message_id), (sender[0].email if sender else None)


def _raw_headers(msg: Message) -> list[tuple[str, str]]:
    """(lower-cased name, value) as received: raw 8-bit bytes become text (utf-8, else Latin-1)
    here, where compat32's own accessors would turn them into replacement characters."""
    result = []
    for name, value in msg.raw_items():
        result.append((name.lower(), unescape_8bit(str(value))))
    return result


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


def addresses(values: list[str]) -> tuple[Address, ...]:
    """Mailboxes from address headers; display names decoded, addresses lower-cased."""
    result: list[Address] = []
    try:
        pairs = getaddresses([_ungrouped(value) for value in values])
    except Exception:
        pairs = []
    for name, written in pairs:
        addr = written.strip().lower()
        if "@" not in addr:
            continue
        if not is_mailbox(addr):  # "Big Bug bb@bug.com": a phrase without angle brackets around the address
            name, addr = _recover(name, written.strip())
        result.append(Address(email=addr, name=decode_header_value(name)))
    if not result:  # getaddresses gives up on some broken headers; fall back to anything address-like
        for value in values:
            for addr in _BARE_ADDR.findall(value):
                result.append(Address(email=addr.lower()))
    return tuple(result)


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


def _date(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        return parsedate_to_datetime(str(value))
    except Exception:
        return None


def _bodies(msg: Message, defects: list[str]) -> tuple[str, str | None]:
    """The first inline text/plain and text/html parts, decoded; text from HTML when no plain part."""
    plain: str | None = None
    html: str | None = None
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html"):
            continue
        if str(part.get("content-disposition") or "").strip().lower().startswith("attachment"):
            continue
        try:
            payload = part.get_payload(decode=True)
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
        elif ctype == "text/html" and html is None:
            html = decoded
        if plain is not None and html is not None:
            break
    if plain is None:
        plain = html_to_text(html) if html is not None else ""
    return plain.replace("\r\n", "\n"), html
