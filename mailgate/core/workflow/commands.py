"""Core: a consultant's reply -> the command lines at its top and the message text below them.

The grammar, with examples, is in docs/commands.md. In short: each command is one line at the top
of the mail, `keyword [arguments]`, in French or English; an optional `/` or `#` before the keyword
says "this is a command" for sure. A bare line is a command only when it parses entirely, so a
reply that starts "Take the second exit" is text; a `/`-line that does not parse is a refused command.
Blank lines between command lines do not end them (an HTML-only reply from Outlook puts one between
every line); the text starts at the first line that is no command. A line after the text that reads as
a whole command alone in its paragraph (or any `/`-command there) is a stray: the mail is in doubt, and
the caller refuses it rather than relay what may be an internal note.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from decimal import Decimal

from mailgate.core.model import Reason, Status
from mailgate.core.workflow.command_words import KEYWORDS, PRIORITY_WORDS, STATUS_WORDS, TYPE_WORDS, WAIT_ON, fold


@dataclass(frozen=True, slots=True)
class Command:
    line: str  # as written, for the transcript
    name: str  # canonical: take, status, assign, escalate, time, estimate, resolve, wait, close, ...
    args: dict[str, object]
    error: Reason | None = None  # set when the line is a command that does not parse: refused


@dataclass(frozen=True, slots=True)
class Parsed:
    commands: tuple[Command, ...]
    text: str  # the message text after the command lines
    strays: tuple[Command, ...] = ()  # command-like lines after the text began: the mail is in doubt


_SPELLINGS = sorted(KEYWORDS, key=len, reverse=True)

MAX_COMMANDS = 20
_DURATION = re.compile(
    r"^(?:(?P<h>\d+(?:[.,]\d+)?)\s*h(?:ours?|eures?|rs?)?\s*(?P<hm>\d{1,2})?(?:\s*m(?:in(?:utes?)?)?)?"
    r"|(?P<m>\d+)\s*m(?:in(?:utes?)?|n)?"
    r"|(?P<ch>\d+):(?P<cm>\d{2}))(?=\s|$)",
    re.IGNORECASE,
)
_LEVEL = re.compile(r"^(?:n|niveau\s*|level\s*|l)?\s*([1-4])$", re.IGNORECASE)
_TICKET = re.compile(r"^(?:#|ticket\s*#?|n°\s*)?(\d{1,9})$", re.IGNORECASE)
# one piece of an estimate: "1 500,50 €", "3j", "2.5 days", or a connector between them
_ESTIMATE_PART = re.compile(
    r"\s*+(?:(?P<number>\d{1,3}(?:[\s\u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d+)?)\s*"
    r"(?:(?P<days>jours?|jh|j|days?|man-days?|d)|(?:€|eur(?:os?)?)(?:\s*ht)?|ht)?\.?(?![\w€])|(?:et|and|,|;|\+|/)(?=\s|$))\s*",
    re.IGNORECASE,
)




def parse(body: str) -> Parsed:
    """Split a reply into its leading command lines, the text after them, and stray commands in that text."""
    lines = body.replace("\r\n", "\n").split("\n")
    commands: list[Command] = []
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if not line:
            index += 1
            continue  # blank lines before and between command lines
        command = parse_line(line)
        if command is None:
            break
        if len(commands) == MAX_COMMANDS:
            commands.append(Command(line=line, name="unknown", args={},
                                    error=Reason("too_many_commands", {"limit": MAX_COMMANDS})))
            break
        commands.append(command)
        index += 1
    rest = lines[index:] if commands else lines
    text = textwrap.dedent("\n".join(rest)).strip("\n") if commands else body.strip("\n")
    return Parsed(tuple(commands), text, _strays(rest))


def _strays(lines: list[str]) -> tuple[Command, ...]:
    """Lines of the text that read as commands: a `/`-command anywhere, or a whole command alone in its
    paragraph (between blank lines), as an HTML mail shows a command line typed after a greeting."""
    found: list[Command] = []
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line or line[:1] == ">":
            continue
        alone = (i == 0 or not lines[i - 1].strip()) and (i + 1 == len(lines) or not lines[i + 1].strip())
        explicit = line[:1] in ("/", "#") and not line[1:2].isdigit()
        if not (alone or explicit):
            continue
        command = parse_line(line)
        if command is not None and command.name != "unknown" and command.error is None:
            found.append(Command(line=line, name=command.name, args=command.args,
                                 error=Reason("command_after_text")))
    return tuple(found)


def parse_line(line: str) -> Command | None:
    """One line -> a command (maybe refused as malformed), or None when the line is text."""
    explicit = line[:1] in ("/", "#") and not line[1:2].isdigit()
    body = line[1:].lstrip() if explicit else line
    folded = fold(body)
    for spelling in _SPELLINGS:
        if folded == spelling or folded.startswith(spelling + " ") or folded.startswith(spelling + ":"):
            rest = _rest_after(body, spelling)
            name = KEYWORDS[spelling]
            args, error = _ARGUMENTS[name](rest)
            if error is not None and not explicit:
                return None  # a sentence that starts like a keyword
            if args.get("title") and not explicit and not folded[len(spelling):].lstrip().startswith(":"):
                return None  # "Base de données relancée": a sentence; a title comes as `kb: title` or `/kb title`
            return Command(line=line, name=name, args=args, error=error)
    if explicit and folded and folded.split()[0].isalpha():
        return Command(line=line, name="unknown", args={},
                       error=Reason("unknown_command", {"got": body.split()[0]}))
    return None


def _rest_after(body: str, spelling: str) -> str:
    """The arguments as written (case and accents kept) after a keyword of `spelling`'s word count."""
    words = body.split()
    rest = " ".join(words[len(spelling.split()):])
    if not rest and body.rstrip().endswith(":"):
        return ""
    return rest.lstrip(":").strip()


Args = tuple[dict[str, object], Reason | None]


def _none(rest: str) -> Args:
    return ({}, None) if not rest.strip(" .!") else ({}, Reason("takes_no_argument", {"got": rest}))


def _status(rest: str) -> Args:
    status = STATUS_WORDS.get(fold(rest).replace("_", " "))
    if status is None:
        return {}, Reason("unknown_status", {"got": rest, "choices": tuple(Status)})
    return {"status": status.value}, None


def _assign(rest: str) -> Args:
    who = rest.strip(" <>")
    return ({"who": who}, None) if who and len(who.split()) <= 4 else ({}, Reason("assign_whom"))


def _escalate(rest: str) -> Args:
    text = fold(rest)
    if not text:
        return {"level": None}, None
    if text in ("vendor", "fournisseur", "editeur"):
        return {"level": 4}, None
    match = _LEVEL.match(text)
    if match is None:
        return {}, Reason("unknown_level", {"got": rest})
    return {"level": int(match.group(1))}, None


def _time(rest: str) -> Args:
    minutes, after = duration(rest)
    if minutes is None:
        return {}, Reason("bad_duration", {"got": rest})
    if not 0 < minutes <= 24 * 60:
        return {}, Reason("duration_range", {"minutes": minutes})
    return {"minutes": minutes, "comment": after.lstrip(" -:–")}, None


def duration(text: str) -> tuple[int | None, str]:
    """`1h30 rest` -> (90, "rest"); (None, text) when it does not start with a duration."""
    match = _DURATION.match(text.strip())
    if match is None:
        return None, text
    if match.group("h") is not None:
        hours = Decimal(match.group("h").replace(",", "."))
        minutes = int(hours * 60) + int(match.group("hm") or 0)
    elif match.group("m") is not None:
        minutes = int(match.group("m"))
    else:
        minutes = int(match.group("ch")) * 60 + int(match.group("cm"))
    return minutes, text.strip()[match.end():].strip()


def _estimate(rest: str) -> Args:
    amount: Decimal | None = None
    days: Decimal | None = None
    position, text = 0, rest.strip()
    while position < len(text):
        match = _ESTIMATE_PART.match(text, position)
        if match is None or match.end() == position:
            return {}, Reason("estimate_unreadable", {"got": text[position:]})
        position = match.end()
        number = match.group("number")
        if number is None:
            continue  # a connector: "et", "and", ","
        value = Decimal(re.sub(r"[\s\u00a0\u202f]", "", number).replace(",", "."))
        if match.group("days"):
            if days is not None:
                return {}, Reason("estimate_two_days")
            days = value
        else:
            if amount is not None:
                return {}, Reason("estimate_two_amounts")
            amount = value
    if amount is None and days is None:
        return {}, Reason("estimate_empty")
    return {"amount": str(amount) if amount is not None else None,
            "days": str(days) if days is not None else None}, None


def _wait(rest: str) -> Args:
    text = fold(rest)
    if not text:
        return {"on": "customer"}, None
    first, _, reason = text.partition(" ")
    if first in WAIT_ON:
        return {"on": WAIT_ON[first], "reason": rest.strip().partition(" ")[2]}, None
    return {}, Reason("wait_on_whom", {"got": rest})


def _merge(rest: str) -> Args:
    match = _TICKET.match(fold(rest).replace("#", "#").strip())
    if match is None:
        return {}, Reason("merge_which", {"got": rest})
    return {"into": int(match.group(1))}, None


def _priority(rest: str) -> Args:
    priority = PRIORITY_WORDS.get(fold(rest))
    if priority is None:
        return {}, Reason("unknown_priority", {"got": rest})
    return {"priority": priority.value}, None


def _type(rest: str) -> Args:
    type_ = TYPE_WORDS.get(fold(rest))
    if type_ is None:
        return {}, Reason("unknown_type", {"got": rest})
    return {"type": type_.value}, None


def _kb(rest: str) -> Args:
    """`kb` (an article of this ticket), `kb: title`, or `kb publier` / `kb publish` (publish its draft)."""
    if fold(rest) in ("publier", "publish", "publie", "published"):
        return {"publish": True}, None
    return ({"title": rest[:300]} if rest else {}), None


_ARGUMENTS = {
    "take": _none, "status": _status, "assign": _assign, "escalate": _escalate, "time": _time,
    "estimate": _estimate, "resolve": _none, "wait": _wait, "close": _none, "reopen": _none,
    "merge": _merge, "priority": _priority, "type": _type, "internal": _none, "kb": _kb,
}
