"""Core: decode bytes and RFC 2047 header words under any charset label, never raising."""

from __future__ import annotations

import codecs
import re
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
    if "=?" not in value and value.isascii():  # no encoded word, no raw 8-bit byte: most values (1 us a value)
        return " ".join(value.split())
    try:
        chunks = decode_header(value)
    except Exception:  # malformed encoded words: keep the raw text
        return " ".join(unescape_8bit(value).split())
    text = "".join(
        decode_bytes(chunk, label) if isinstance(chunk, bytes) else unescape_8bit(chunk)
        for chunk, label in chunks
    )
    return " ".join(text.split())


def unescape_8bit(text: str, declared: str | None = None) -> str:
    """Raw 8-bit header bytes arrive as surrogate escapes; decode them (`decode_8bit_header`)."""
    if text.isascii() or not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return decode_8bit_header(text.encode("utf-8", "surrogateescape"), declared)


def decode_8bit_header(data: bytes, declared: str | None = None) -> str:
    """Header bytes sent without RFC 2047 words: utf-8, else the charset the mail declares for its body, else
    a CJK double-byte charset when the bytes read as one (Chinese, Japanese, Korean clients that send raw
    headers declare no charset for them), else Windows Latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = codec_for(declared) if declared else "utf-8"
    for candidate in ("cp1252", codec) if codec == "iso8859-1" else (codec,):  # as browsers read Latin-1
        if candidate not in ("utf-8", "ascii"):
            try:
                return data.decode(candidate)
            except (UnicodeDecodeError, LookupError):
                pass
    if _latin_like(data):
        return data.decode("cp1252", errors="replace")
    return _cyrillic(data) or _cjk(data) or data.decode("cp1252", errors="replace")


# cp1252 bytes seen in real Latin headers: letters, NBSP and Latin-1 signs, and of 0x80-0x9f only the euro,
# the letters and the typographic quotes and dashes. The lead bytes of Shift_JIS kana (0x81-0x83) are not.
_LATIN = frozenset(b"\x80\x84\x85\x8a\x8c\x8e\x91\x92\x93\x94\x95\x96\x97\x99\x9a\x9c\x9e\x9f") | frozenset(
    range(0xA0, 0x100))
_HIGH_RUN = re.compile(rb"[\x80-\xff]++")
_ASCII_LETTER = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# The commonest Hangul syllables (particles, endings, Sino-Korean roots): Korean text has some; Chinese GB2312
# bytes read as EUC-KR give Hangul too, seldom a quarter of it from these.
_KOREAN = frozenset("이가은는을를의에와과도로으다요니하합습서고지한기사대정인시제문안녕세감드리주해수있오"
                    "게어아라나자전보내일상들적비여실회업원화장성부신구공우용소관개경위결중무마")


def _latin_like(data: bytes) -> bool:
    """Runs of 8-bit bytes as Latin text has them: one accented letter, or two next to an ASCII letter
    ("Grüße"); a CJK character is two 8-bit bytes, and its text runs them together."""
    for run in _HIGH_RUN.finditer(data):
        if run.end() - run.start() > 2 or not all(byte in _LATIN for byte in run.group()):
            return False
        if run.end() - run.start() == 2:
            before = data[run.start() - 1] if run.start() else 0
            after = data[run.end()] if run.end() < len(data) else 0
            if before not in _ASCII_LETTER and after not in _ASCII_LETTER:
                return False
    return True


def _cyrillic(data: bytes) -> str | None:
    """Russian in KOI8-R or Windows-1251: every 8-bit byte a Cyrillic letter (0xc0-0xff, or ё/Ё), six of
    them at least or a word of odd length (never two-byte CJK); most letters are small, which KOI8-R puts
    at 0xc0-0xdf and Windows-1251 at 0xe0-0xff; each word small, capitalised or in capitals. CJK double-byte
    text seldom passes all of it."""
    high = [byte for byte in data if byte >= 0x80]
    runs = _HIGH_RUN.findall(data)
    if len(high) < 6 and all(len(run) % 2 == 0 for run in runs):
        return None
    if not all(byte >= 0xC0 or byte in (0xA3, 0xB3, 0xA8, 0xB8) for byte in high):
        return None
    codec = "koi8_r" if 2 * sum(0xC0 <= byte <= 0xDF for byte in high) > len(high) else "cp1251"
    text = data.decode(codec, errors="replace")
    for run in runs:
        word = run.decode(codec, errors="replace")
        if not (word.islower() or word.isupper() or (word[:1].isupper() and word[1:].islower())):
            return None
    return text


def _script(text: str) -> tuple[int, int, int, int]:
    """(kana, hangul, han, other) counts of the non-ASCII characters; CJK punctuation and symbols count
    for nothing."""
    kana = hangul = han = other = 0
    for ch in text:
        code = ord(ch)
        if code < 0x80:
            continue
        if 0x3040 <= code <= 0x30FF:
            kana += 1
        elif 0xAC00 <= code <= 0xD7A3:
            hangul += 1
        elif 0x4E00 <= code <= 0x9FFF:
            han += 1
        elif not (0x3000 <= code <= 0x303F or 0xFF01 <= code <= 0xFF60 or 0xFFE0 <= code <= 0xFFE6
                  or 0x2010 <= code <= 0x203B or 0x2190 <= code <= 0x27BF or 0x3200 <= code <= 0x33FF
                  or code in (0xB7, 0xD7, 0xF7)):
            other += 1
    return kana, hangul, han, other


def _cjk(data: bytes) -> str | None:
    """The bytes as Japanese (Shift_JIS, EUC-JP: kana and kanji), Korean (EUC-KR: Hangul only, much of it
    common syllables) or Chinese (GB2312, Big5, then GBK: Han only), tried in that order, each decoded
    strictly; None when none does. The same bytes often decode under several (Korean EUC-KR
    is valid GB2312, Japanese Shift_JIS and Big5 valid GBK): the script of the decoded text tells them apart."""
    for codec in ("cp932", "euc_jp", "euc_kr", "gb2312", "big5", "gb18030"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        kana, hangul, han, other = _script(text)
        if other:
            continue
        if codec in ("cp932", "euc_jp") and kana and not hangul:
            return text
        if codec == "euc_kr" and hangul and not han and 4 * sum(ch in _KOREAN for ch in text) >= hangul:
            return text
        if codec in ("gb2312", "big5", "gb18030") and han and not (kana or hangul):
            return text
    return None
