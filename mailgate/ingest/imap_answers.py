"""Shell: reading aioimaplib's answers (pure functions): fetched literals, sizes, UIDs, UIDVALIDITY,
the folder separator; and NO/BAD answers turned into ImapError."""

from __future__ import annotations

import re
from collections.abc import Sequence

import aioimaplib

Lines = Sequence[bytes | bytearray]

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_FETCH_HEAD = re.compile(rb"^\d+ FETCH \(")
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_LIST = re.compile(rb'\([^)]*\) (?:"(.)"|NIL)')  # aioimaplib drops the word LIST


class ImapError(Exception):
    """The server said NO or BAD, or answered something we cannot use."""


def check(response: aioimaplib.Response, what: str) -> aioimaplib.Response:
    """The response, if OK; else ImapError naming the command and quoting the server."""
    if response.result != "OK":
        detail = b" ".join(bytes(x) for x in response.lines if isinstance(x, bytes | bytearray))
        raise ImapError(f"{what}: {response.result} {detail.decode(errors='replace')[:300]}")
    return response


def uid_set(uids: Sequence[int]) -> str:
    return ",".join(str(u) for u in uids)


def parse_fetch(lines: Lines) -> dict[int, bytes]:
    """UID -> literal from a UID FETCH answer; the UID may come before or after the literal."""
    found: dict[int, bytes] = {}
    uid: int | None = None
    literal: bytes | None = None
    for line in lines:
        if isinstance(line, bytearray):
            literal = bytes(line)
            continue
        if _FETCH_HEAD.match(line):
            if uid is not None and literal is not None:
                found[uid] = literal
            uid, literal = None, None
        match = _UID.search(line)
        if match:
            uid = int(match.group(1))
    if uid is not None and literal is not None:
        found[uid] = literal
    return found


def parse_sizes(lines: Lines) -> dict[int, int]:
    """UID -> RFC822.SIZE from a UID FETCH (UID RFC822.SIZE) answer."""
    sizes: dict[int, int] = {}
    for line in lines:
        if isinstance(line, bytearray):
            continue
        uid, size = _UID.search(line), _SIZE.search(line)
        if uid and size:
            sizes[int(uid.group(1))] = int(size.group(1))
    return sizes


def search_uids(lines: Lines, *, above: int) -> list[int]:
    """UIDs of a UID SEARCH answer greater than `above` (`N:*` always names the last mail), sorted."""
    return sorted({int(tok) for line in lines[:-1] for tok in bytes(line).split()
                   if tok.isdigit() and int(tok) > above})


def uidvalidity(lines: Lines) -> int | None:
    for line in lines:
        match = _UIDVALIDITY.search(bytes(line))
        if match:
            return int(match.group(1))
    return None


def delimiter(lines: Lines) -> str:
    """The hierarchy separator from a `LIST "" ""` answer; "" for a flat namespace (NIL)."""
    for line in lines:
        match = _LIST.search(bytes(line))
        if match:
            return match.group(1).decode() if match.group(1) else ""
    return "/"
