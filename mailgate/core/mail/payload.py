"""Core: a mail's MIME tree and a part's decoded bytes exactly as the stdlib gives them (compat32), at a
fraction of its memory for big mails: parsing a mail with a 25 MB attachment in one piece peaked at 260 MB
and decoding the attachment at 150 MB more (benchmarks/attachment_memory.py)."""

from __future__ import annotations

import binascii
import re
from email._encoded_words import decode_b  # what Message.get_payload(decode=True) decodes base64 with
from email.message import Message
from email.parser import BytesFeedParser
from email.policy import compat32
from typing import Any

CHUNK = 64 * 1024  # bytes fed to the parser at a time


def message_of(raw: bytes) -> Message:
    """`email.message_from_bytes(raw, policy=compat32)`, fed in chunks: the same tree (the feed parser keeps a
    partial line until the next chunk ends it), without the whole mail's text and the list of all its lines in
    memory at once (a 34 MB mail: 89 MB at the peak against 261)."""
    parser = BytesFeedParser(policy=compat32)
    view = memoryview(raw)
    for start in range(0, len(raw), CHUNK):
        parser.feed(view[start:start + CHUNK].tobytes())
    return parser.close()


def payload_bytes(part: Message) -> Any:
    """`part.get_payload(decode=True)`: the same bytes and defects. For base64, without the copy of each line
    the stdlib makes before joining them (a 25 MB attachment: 150 MB at the peak, 25 here): well-formed text is
    decoded as it stands (the decoder passes line ends by), anything else the stdlib's way, in one copy."""
    payload = part.get_payload() if not part.is_multipart() else None
    if not isinstance(payload, str) or not payload.isascii() or \
            str(part.get("content-transfer-encoding", "")).lower() != "base64":
        return part.get_payload(decode=True)
    if _WELL_FORMED.fullmatch(payload) and (len(payload) - payload.count("\r") - payload.count("\n")) % 4 == 0:
        try:
            return binascii.a2b_base64(payload)  # = decode_b's first, strict, try on the joined text
        except binascii.Error:
            pass
    value, defects = decode_b(payload.encode("ascii").translate(None, b"\r\n"))  # = b"".join(splitlines())
    for defect in defects:
        part.policy.handle_defect(part, defect)
    return value


_WELL_FORMED = re.compile(r"[A-Za-z0-9+/\r\n]*(?:=[\r\n]*){0,2}")  # base64, its line ends, its padding at the end
