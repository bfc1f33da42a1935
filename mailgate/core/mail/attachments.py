"""Core: the files of a mail, between parsing and storing: names decoded and made safe, limits, winmail.dat.

Which parts are files: a part with `Content-Disposition: attachment`, a part with a file name, and an inline
part that is not text/plain or text/html (images, calendars...). Unnamed text/plain and text/html parts are
the body. An attached mail (message/rfc822) is one file (`.eml`), not opened. A winmail.dat
(application/ms-tnef) is unpacked with tnefparse: its files replace it and its text body is returned as
`tnef_body`; when it cannot be unpacked, or holds nothing readable, the winmail.dat itself is kept.
Nothing here raises on broken MIME, base64 or TNEF: what could not be read is listed in `defects`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from mailgate.core.mail.attachment_names import content_type_for, safe_filename, unique
from mailgate.core.mail.charset import decode_bytes, decode_header_value
from mailgate.core.mail.html import html_to_text
from mailgate.core.mail.payload import message_of, payload_bytes

FILE_TOO_LARGE = "file too large"
MAIL_TOO_LARGE = "attachments of the mail too large"

_BODY_TYPES = frozenset({"text/plain", "text/html"})
_MAIL_TYPES = frozenset({"message/rfc822", "message/global"})
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"
_MAX_DEPTH = 30  # MIME nesting deeper than this is not followed


@dataclass(frozen=True, slots=True)
class Attachment:
    """One file of a mail. `filename` is safe to use as a file name in any folder and unique in the mail;
    `original_name` is the decoded name as sent ("" when the part had none)."""

    filename: str
    original_name: str
    content_type: str
    size: int
    sha256: str
    content: bytes = field(repr=False)
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """A file not kept: `name` is its safe file name, `reason` FILE_TOO_LARGE or MAIL_TOO_LARGE."""

    name: str
    reason: str
    size: int = 0


@dataclass(frozen=True, slots=True)
class Extracted:
    attachments: tuple[Attachment, ...] = ()
    refused: tuple[Refused, ...] = ()
    tnef_body: str | None = None  # the text body found in a winmail.dat, if any
    defects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _File:
    original_name: str
    content_type: str
    content: bytes
    inline: bool = False
    content_id: str | None = None
    fallback_name: str = ""  # for the safe file name when the part has none (an attached mail's subject)


def extract(raw: bytes | Message, *, max_file_bytes: int, max_total_bytes: int) -> Extracted:
    """The files of a mail, in MIME order; those over `max_file_bytes`, or past `max_total_bytes` in all,
    are refused (named, with the reason) rather than kept."""
    defects: list[str] = []
    if isinstance(raw, Message):
        msg = raw
    else:
        try:
            msg = message_of(raw)
        except Exception as exc:  # the stdlib parser is lenient; this is a last resort
            return Extracted(defects=(f"unparseable: {type(exc).__name__}",))
    files: list[_File] = []
    tnef_body: str | None = None
    for part in _leaves(msg, 0, defects):
        found = _file(part, defects)
        if found is None:
            continue
        if found.content_type in _TNEF_TYPES or found.original_name.lower() == "winmail.dat":
            inner, body = _unpack_tnef(found.content, defects)
            if inner or body:
                files.extend(inner)
                tnef_body = tnef_body or body
                continue
        files.append(found)
    return _limited(files, max_file_bytes, max_total_bytes, tnef_body, tuple(defects))


def _leaves(part: Message, depth: int, defects: list[str]) -> Iterator[Message]:
    """Leaf parts in order; an attached mail is a leaf (a file), not opened."""
    if depth > _MAX_DEPTH:
        defects.append("mime: nested too deep")
        return
    if part.get_content_type() in _MAIL_TYPES or not part.is_multipart():
        yield part
        return
    payload = part.get_payload()
    for sub in payload if isinstance(payload, list) else ():
        if isinstance(sub, Message):
            yield from _leaves(sub, depth + 1, defects)


def _file(part: Message, defects: list[str]) -> _File | None:
    ctype = part.get_content_type().lower()
    disposition = str(part.get("content-disposition") or "").split(";", 1)[0].strip().lower()
    name = _name(part)
    if not name and disposition != "attachment":
        if ctype in _BODY_TYPES or ctype.startswith("multipart/"):
            return None  # the body
        if ctype.startswith("message/") and ctype not in _MAIL_TYPES:
            return None  # report data (delivery-status, disposition-notification): read by the bounce code
    cid = str(part.get("content-id") or "").strip().strip("<>").strip() or None
    inline = disposition == "inline" or (not disposition and cid is not None)
    content = _content(part, ctype, defects)
    defects.extend(f"{name or ctype}: {type(defect).__name__}" for defect in part.defects)
    return _File(name, ctype, content, inline, cid, "" if name else _mail_subject(part, ctype))


def _mail_subject(part: Message, ctype: str) -> str:
    """"<subject>.eml" for an attached mail without a name."""
    inner = part.get_payload() if ctype in _MAIL_TYPES else None
    if isinstance(inner, list) and inner and isinstance(inner[0], Message):
        subject = decode_header_value(inner[0].get("subject"))[:150].strip()
        return f"{subject}.eml" if subject else ""
    return ""


def _name(part: Message) -> str:
    """The file name: RFC 2231 (`filename*=`), encoded words, raw 8-bit; Content-Type `name` as fallback."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        try:
            value: Any = _raw_header(part, header).get_param(param, header=header)
        except Exception:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, percent-decoded bytes as Latin-1 text)
            charset, _language, text = value
            try:
                data = str(text).encode("raw-unicode-escape")
            except Exception:
                data = str(text).encode("utf-8", "surrogateescape")
            name = decode_bytes(data, str(charset) if charset else None)
        elif value is not None:
            name = decode_header_value(value)
        else:
            continue
        name = name.replace("\x00", "").strip()
        if name:
            return name
    return ""


def _raw_header(part: Message, header: str) -> Message:
    """The part itself, or, when the header has raw 8-bit bytes (which compat32 would turn into U+FFFD),
    a stand-in holding that header decoded (utf-8, else Windows-1252)."""
    for key, value in part.raw_items():
        if key.lower() == header and isinstance(value, str) and not value.isascii():
            holder = Message()
            holder[header] = _decode_8bit(value.encode("utf-8", "surrogateescape"))
            return holder
    return part


def _decode_8bit(data: bytes) -> str:
    """UTF-8, even with one character cut (senders truncate long names mid-character), else Windows-1252."""
    text = data.decode("utf-8", errors="replace")
    damaged = text.count("\ufffd")
    if damaged == 0 or (damaged == 1 and sum(byte >= 0x80 for byte in data) >= 8):
        return text.replace("\ufffd", "")
    return decode_bytes(data, "windows-1252")


def _content(part: Message, ctype: str, defects: list[str]) -> bytes:
    try:
        if ctype in _MAIL_TYPES and part.is_multipart():
            inner = part.get_payload()
            return b"".join(m.as_bytes() for m in inner if isinstance(m, Message)) if isinstance(inner, list) else b""
        data = payload_bytes(part)
        if isinstance(data, bytes):
            return data
        payload = part.get_payload()
        return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    except Exception as exc:
        defects.append(f"payload: {type(exc).__name__}")
        return b""


def _unpack_tnef(data: bytes, defects: list[str]) -> tuple[list[_File], str | None]:
    """The files and the text body inside a winmail.dat; ([], None) when there is nothing to unpack."""
    if not data.startswith(_TNEF_SIGNATURE):
        defects.append("tnef: not a TNEF stream")
        return [], None
    from tnefparse import TNEF  # loaded with the first winmail.dat (5 MB a process)

    try:
        tnef = TNEF(data, do_checksum=True)
        files = [_File(name, content_type_for(name), bytes(att.data or b""))
                 for att in tnef.attachments for name in (_tnef_name(att),)]
    except Exception as exc:  # tnefparse raises all sorts on damaged data
        defects.append(f"tnef: {type(exc).__name__}")
        return [], None
    return files, _tnef_text(tnef)


def _tnef_name(att: Any) -> str:
    for getter in (att.long_filename, lambda: att.name):
        try:
            value = getter()
        except Exception:
            continue
        if isinstance(value, list | tuple):
            value = value[0] if value else ""
        if isinstance(value, bytes):
            value = decode_bytes(value, None)
        if isinstance(value, str) and value.strip("\x00 "):
            return value.replace("\x00", "").strip()
    return ""


def _tnef_text(tnef: Any) -> str | None:
    """The plain body of a TNEF, else its HTML body as text; the compressed RTF body is left alone."""
    for attr, html in (("body", False), ("htmlbody", True)):
        value = getattr(tnef, attr, None)
        if isinstance(value, bytes):
            value = decode_bytes(value, None)
        if isinstance(value, str) and value.strip("\x00 \r\n"):
            text = value.replace("\x00", "")
            return (html_to_text(text) if html else text).replace("\r\n", "\n").strip()
    return None


def _limited(files: list[_File], max_file: int, max_total: int, tnef_body: str | None,
             defects: tuple[str, ...]) -> Extracted:
    kept: list[Attachment] = []
    refused: list[Refused] = []
    taken: set[str] = set()
    total = 0
    for index, found in enumerate(files, start=1):
        size = len(found.content)
        name = found.original_name or found.fallback_name
        filename = unique(safe_filename(name, index=index, content_type=found.content_type), taken)
        if size > max_file or total + size > max_total:
            refused.append(Refused(filename, FILE_TOO_LARGE if size > max_file else MAIL_TOO_LARGE, size))
            continue
        total += size
        kept.append(Attachment(filename=filename, original_name=found.original_name,
                               content_type=found.content_type, size=size,
                               sha256=hashlib.sha256(found.content).hexdigest(), content=found.content,
                               inline=found.inline, content_id=found.content_id))
    return Extracted(tuple(kept), tuple(refused), tnef_body, defects)
