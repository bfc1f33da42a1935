"""Shell, ingest: an SMTP session's DATA as it arrives, in pieces that end anywhere: the lone dot found,
dot-stuffing undone (RFC 5321 section 4.5.2) and the session's limits kept, as if it came a line at a time."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Data(enum.Enum):
    NOMINAL = "nominal"
    TOO_LONG = "a line too long"
    TOO_MUCH = "too much data"
    NO_SPACE = "the spool could not be written"


DOT_END = b".\r\n"
_LONE_DOT = b"\r\n.\r\n"


@dataclass(slots=True)
class Receiving:
    """DATA as it comes, in pieces that end anywhere: the lone dot found, dot-stuffing undone and the limits
    kept as if it came a line at a time (a line: up to a CRLF). `add` returns a piece's text to spool, and
    whether the data ended with it."""

    size_limit: int | None
    line_limit: int
    state: Data = Data.NOMINAL
    size: int = 0  # bytes before the lone dot, as sent (stuffed)
    line_start: bool = True  # the next piece starts a line
    line_length: int = 0  # bytes of the line the last piece left unfinished
    carry: bytes = b""  # a CR that ended a piece: its LF may start the next

    def add(self, piece: bytes) -> tuple[bytes, bool]:
        text, line_start = self.carry + piece, self.line_start
        ended = text.endswith(_LONE_DOT) or (line_start and text == DOT_END)
        if ended:
            text = text[:-len(DOT_END)]  # the line end before the dot is the mail's
        self.carry = b"" if ended or not text.endswith(b"\r") else b"\r"
        if self.carry:
            text = text[:-1]
        self.line_start = ended or text.endswith(b"\r\n") or (line_start and not text)
        if self.state is Data.NOMINAL:
            self._check(text)
        if not text:
            return b"", ended
        if line_start and text[:1] == b".":
            text = text[1:]
        return text.replace(b"\r\n.", b"\r\n"), ended

    def _check(self, text: bytes) -> None:
        """The first limit the text breaks, in its order: a line too long, or the size limit passed at the end
        of a line (each only when the text could break it)."""
        if self.line_length + len(text) <= self.line_limit and not (
                self.size_limit and self.size + len(text) > self.size_limit):  # it can break neither
            self.size += len(text)
            last = text.rfind(b"\r\n")
            self.line_length = self.line_length + len(text) if last < 0 else len(text) - last - 2
            return
        lines = text.split(b"\r\n")
        for n, line in enumerate(lines):
            ends = n < len(lines) - 1  # the last piece of the split has no line end (yet)
            length = self.line_length + len(line)
            self.size += len(line) + (2 if ends else 0)
            if length > self.line_limit:
                self.state = Data.TOO_LONG
            elif ends and self.size_limit and self.size > self.size_limit:
                self.state = Data.TOO_MUCH
            if self.state is not Data.NOMINAL:
                return  # the rest is read and dropped: no more counting
            self.line_length = 0 if ends else length
