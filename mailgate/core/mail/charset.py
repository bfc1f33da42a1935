"""Core: decode bytes and RFC 2047 header words under any charset label, never raising."""

from __future__ import annotations

import codecs
from email.header import decode_header

# Labels seen in real mail that Python does not know, mapped to what senders meant.
_ALIASES = {
    "unknown-8bit": "latin-1",
    "x-unknown": "latin-1",
    "unknown": "latin-1",
    "default": "latin-1",
    "ansi_x3.110-1983": "latin-1",
    "iso-8859-8-i": "iso-8859-8",
    "ks_c_5601-1987": "cp949",
    "x-user-defined": "latin-1",
    "windows-874": "cp874",
    "gb2312": "gb18030",  # gb18030 is a superset and decodes more real mail
    "gbk": "gb18030",
    "x-mac-roman": "mac-roman",
    "utf8": "utf-8",
}


def codec_for(label: str | None) -> str:
    """A Python codec name for a charset label; utf-8 for a missing or unknown one."""
    if not label:
        return "utf-8"
    name = label.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):  # ValueError: a NUL inside the label
        return "utf-8"


def decode_bytes(data: bytes, label: str | None) -> str:
    """Decode body bytes: the declared charset, else utf-8; text that is neither, declared as utf-8
    or not at all, is nearly always Windows Latin-1. Bytes that still do not fit are replaced."""
    codec = codec_for(label)
    for candidate in dict.fromkeys((codec, "utf-8")):
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    if codec in ("utf-8", "ascii"):
        return data.decode("cp1252", errors="replace")
    return data.decode(codec, errors="replace")


def decode_header_value(value: object) -> str:
    """Decode an RFC 2047 header (encoded words, raw 8-bit) into one line of text."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    try:
        chunks = decode_header(value)
    except Exception:  # malformed encoded words: keep the raw text
        return " ".join(unescape_8bit(value).split())
    text = "".join(
        decode_bytes(chunk, label) if isinstance(chunk, bytes) else unescape_8bit(chunk)
        for chunk, label in chunks
    )
    return " ".join(text.split())


def unescape_8bit(text: str) -> str:
    """Raw 8-bit header bytes arrive as surrogate escapes; decode them as utf-8, else latin-1."""
    if text.isascii() or not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return decode_bytes(text.encode("utf-8", "surrogateescape"), None)
