"""Core: a mail's MIME tree and a part's decoded bytes exactly as the stdlib gives them (compat32), at a
fraction of its memory for big mails (parsing a mail with a 25 MB attachment in one piece peaked at 260 MB
and decoding the attachment at 150 MB more: benchmarks/attachment_memory.py) and of its time for attachments."""

from __future__ import annotations

import binascii
import quopri
import re
from email._encoded_words import decode_b  # what Message.get_payload(decode=True) decodes base64 with
from email.message import Message
from email.parser import BytesFeedParser
from email.policy import compat32
from typing import Any

CHUNK = 64 * 1024  # bytes fed to the parser at a time
# A mail from BIG_MAIL bytes on has its runs of LONG_RUN bytes of base64 lines or more left out of the parse
# (`_Part`): memory for a big attachment, and time for any, since the parser handles each line in Python: the
# benchmarks' mails with a 20 kB attachment parse in 244 us against 502 (plain ones under 8 kB pay no scan).
BIG_MAIL = 8 * 1024
LONG_RUN = 4 * 1024


def message_of(raw: bytes, *, big_mail: int = BIG_MAIL, long_run: int = LONG_RUN) -> Message:
    """`email.message_from_bytes(raw, policy=compat32)`: the same tree. Fed in chunks (the feed parser keeps
    a partial line until the next chunk ends it), without the whole mail's text and the list of all its lines
    in memory at once; in a big mail, each long run of base64 lines (an attachment's body) is parsed as one
    line that stands for it, and the part whose body it is reads it from `raw` when asked (`_Part`). A 34 MB
    mail: 261 MB at the parser's peak in one piece, 89 chunked, under 1 MB with its attachment left out."""
    runs = [m.span() for m in _RUN.finditer(raw) if m.end() - m.start() >= long_run] if len(raw) >= big_mail \
        else []
    if not runs:
        return _parsed(raw, _Mail)
    stem = _stem(raw)
    pieces, at, places = [], 0, {}
    for n, (start, end) in enumerate(runs):
        place = f"{stem}x{n}y"  # y: no place is the start of another
        eol = 2 if raw.startswith(b"\r\n", end - 2) else 1
        pieces += [raw[at:start], place.encode("ascii"), raw[end - eol:end]]
        places[place] = (start, end - eol, eol)
        at = end
    pieces.append(raw[at:])
    tree = _parsed(b"".join(pieces), _Part)
    if _placed(tree, raw, places, stem):
        return tree
    return _parsed(raw, _Mail)  # a run stood somewhere unforeseen: parsed in full, as before


def payload_bytes(part: Message) -> Any:
    """`part.get_payload(decode=True)`: the same bytes and defects. For base64, without the copy of each line
    the stdlib makes before joining them (a 25 MB attachment: 150 MB at the peak, 25 here): well-formed text is
    decoded as it stands (the decoder passes line ends by), anything else the stdlib's way, in one copy."""
    if isinstance(part, _Part) and part.span is not None and _cte(part) == "base64":
        raw, start, end = part.span
        return _base64(part, raw, start, end)
    payload = part.get_payload() if not part.is_multipart() else None
    if not isinstance(payload, str) or not payload.isascii():
        return part.get_payload(decode=True)
    cte = _cte(part)
    if cte == "base64":
        return _base64(part, payload, 0, len(payload))
    if cte == "quoted-printable":  # as the stdlib decodes ASCII text, without its check of it for surrogates
        return quopri.decodestring(payload.encode("ascii"))
    if cte in ("x-uuencode", "uuencode", "uue", "x-uue"):
        return part.get_payload(decode=True)
    return payload.encode("ascii")


class _Mail(Message):
    """A part as the stdlib parses it, each header's parameters (charset, name, filename, boundary, report-type)
    parsed once per value: Message parses them again at each ask, 15.6 µs a `get_param` (timeit), asked 8 to
    9 times a mail of the benchmarks' mix. A field's value read without compat32's three calls when it is
    ASCII (compat32 gives back any value without surrogates as it is), `in` without a list of the names, and
    an ASCII body without encoding it all to look for surrogates (the stdlib's answer, each of them)."""

    _payload: Any  # the stdlib's own attribute, set by the parser (a list of parts, or the text)

    def get(self, name: str, failobj: Any = None) -> Any:
        name = name.lower()
        for key, value in self._headers:  # type: ignore[attr-defined]
            if key.lower() == name:
                if type(value) is str and value.isascii() and self.policy is compat32:
                    return value
                return self.policy.header_fetch_parse(key, value)
        return failobj

    def __contains__(self, name: str) -> bool:
        name = name.lower()
        for key, _ in self._headers:  # type: ignore[attr-defined]
            if key.lower() == name:
                return True
        return False

    def get_payload(self, i: Any = None, decode: bool = False) -> Any:
        payload = self._payload
        if i is None and not decode and type(payload) is str and payload.isascii():
            return payload
        return super().get_payload(i, decode)  # type: ignore[call-overload]

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        value = self.get(header)
        if not isinstance(value, str) or len(value) > _PARAMS_VALUE:
            return super()._get_params_preserve(failobj, header)  # type: ignore[misc]
        params = _PARAMS.get(value)
        if params is None:
            if len(_PARAMS) >= _PARAMS_KEPT:
                _PARAMS.clear()
            params = _PARAMS[value] = tuple(super()._get_params_preserve(failobj, header))  # type: ignore[misc]
        return list(params)


# the parameters of the header values last seen (a pure function's results kept, bounded in count and size)
_PARAMS: dict[str, tuple[Any, ...]] = {}
_PARAMS_KEPT = 4096
_PARAMS_VALUE = 512


class _Part(_Mail):
    """A part whose body is a long run of base64 lines left in the mail's bytes: `span` (raw, start, end) is
    read and decoded when asked, as if the parser had kept it as the payload."""

    span: tuple[bytes, int, int] | None = None

    def get_payload(self, i: Any = None, decode: bool = False) -> Any:
        if self.span is not None:
            if decode and i is None and _cte(self) == "base64":
                return payload_bytes(self)
            self._read()
        return super().get_payload(i, decode)

    def set_payload(self, payload: Any, charset: Any = None) -> None:
        self.span = None
        super().set_payload(payload, charset)

    def set_charset(self, charset: Any) -> None:  # the stdlib's re-encodes `_payload` in place
        self._read()
        super().set_charset(charset)

    def _read(self) -> None:
        """The text in place of its stand-in, as the parser would have kept it."""
        if self.span is not None:
            raw, start, end = self.span
            self.span, self._payload = None, raw[start:end].decode("ascii")


def _parsed(raw: bytes, factory: type[Message]) -> Message:
    parser = BytesFeedParser(factory, policy=compat32)
    view = memoryview(raw)
    for start in range(0, len(raw), CHUNK):
        parser.feed(view[start:start + CHUNK].tobytes())
    return parser.close()


def _stem(raw: bytes) -> str:
    """A word of base64's alphabet found nowhere in `raw`: the lines standing for runs are `<stem>x<n>y`."""
    n = 0
    while f"MailgateRun{n}".encode("ascii") in raw:
        n += 1
    return f"MailgateRun{n}"


def _placed(tree: Message, raw: bytes, places: dict[str, tuple[int, int, int]], stem: str) -> bool:
    """Each run's line found where the parser put its text: a part's whole payload (its last line end given to
    the boundary or kept) becomes a span of `raw`; anywhere else in a text (preamble, epilogue, a body with
    more) it is replaced by the run's text. False when some run's line is not found, or found in a header."""
    found = 0
    for part in tree.walk():
        if not isinstance(part, _Part) or any(stem in str(value) for value in part.values()):
            return False
        for name in ("preamble", "epilogue"):
            text = getattr(part, name)
            if isinstance(text, str) and stem in text:
                setattr(part, name, _restored(text, raw, places))
                found += text.count(stem)
        payload = part._payload
        if not isinstance(payload, str) or stem not in payload:
            continue
        found += payload.count(stem)
        head = payload.rstrip("\r\n")
        start, end, eol = places.get(head, (0, 0, 0))
        if end and payload == head:
            part.span = (raw, start, end)
        elif end and payload[len(head):] == raw[end:end + eol].decode("ascii"):
            part.span = (raw, start, end + eol)
        else:
            part._payload = _restored(payload, raw, places)
    return found == len(places)


def _restored(text: str, raw: bytes, places: dict[str, tuple[int, int, int]]) -> str:
    for place, (start, end, _eol) in places.items():
        text = text.replace(place, raw[start:end].decode("ascii"))
    return text


def _cte(part: Message) -> str:
    return str(part.get("content-transfer-encoding", "")).lower()


def _base64(part: Message, text: str | bytes, start: int, end: int) -> bytes:
    """The stdlib's base64 decoding of text[start:end], a part's payload (the whole text, when a str)."""
    if isinstance(text, str):
        data: str | memoryview = text
        well_formed = text.isascii() and _well_formed(text, 0, len(text))
        letters = len(text) - text.count("\r") - text.count("\n")
    else:
        data = memoryview(text)[start:end]
        well_formed = _well_formed(text, start, end)
        letters = end - start - text.count(b"\r", start, end) - text.count(b"\n", start, end)
    if well_formed and letters % 4 == 0:
        try:
            return binascii.a2b_base64(data)  # = decode_b's first, strict, try on the joined text
        except binascii.Error:
            pass
    joined = (text.encode("ascii") if isinstance(text, str) else text[start:end]).translate(None, b"\r\n")
    value, defects = decode_b(joined)  # = b"".join(splitlines())
    for defect in defects:
        part.policy.handle_defect(part, defect)
    return bytes(value)


def _well_formed(text: str | bytes, start: int, end: int) -> bool:
    """text[start:end] (ASCII, when a str) is `[A-Za-z0-9+/\r\n]*(?:=[\r\n]*){0,2}` in full (base64, its line
    ends, its padding at the end): what follows the last letter holds at most two "=" and line ends, the rest
    letters and line ends, checked a slice at a time (no copy of a big attachment's text). 15 us for 20 kB, the
    pattern's fullmatch 71."""
    stop = end
    while stop > start and text[stop - 1] in _TAIL:
        stop -= 1
    padding = text.count(b"=", stop, end) if isinstance(text, bytes) else text.count("=", stop, end)
    for at in range(start, stop, CHUNK):
        piece = text[at:min(at + CHUNK, stop)]
        if (piece if isinstance(piece, bytes) else piece.encode("ascii")).translate(None, _ALPHABET):
            return False
    return padding <= 2


_TAIL = frozenset((*b"=\r\n", *"=\r\n"))  # a byte (an int) of a bytes text, a character of a str
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/\r\n"  # and the line ends
_RUN = re.compile(rb"(?m)^(?:[A-Za-z0-9+/=]++\r?\n)++")  # lines of base64's alphabet alone (possessive: no stack)
