"""Fuzz: mutated real-looking mails (the fixtures) through every pure step the worker runs: parse,
classification, threading, rules, the core's decision, reply stripping and attachment extraction.
None may raise, and none may take more than linear time on hostile shapes (issue 16.2)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgate.core.desk import Desk, Snapshot
from mailgate.core.mail.parse import parse
from mailgate.core.model import Agent
from mailgate.core.prepare import prepare
from mailgate.core.process import process
from mailgate.rules.load import load_rules

FIXTURES = sorted(p for p in (Path(__file__).parent / "fixtures").rglob("*.eml"))
RULES = load_rules(Path(__file__).resolve().parent.parent / "rules")
SECRET = b"fuzz-secret-0123456789abcdef"
AGENTS = {"alice@example.test": Agent("alice@example.test", "Alice", 1)}


DESK = Desk(support_addresses=frozenset({"support@example.test"}), agents=AGENTS, secret=SECRET, loop_token="t",
            message_id_domain="example.test")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def run_everything(raw: bytes) -> None:
    prepared = prepare(raw, None, ["support@example.test"], DESK, RULES)  # parse, classify, strip, rules, files
    assert prepared.decision is not None
    prepared.decision.as_json()
    process(prepared, Snapshot(), DESK, NOW)


def test_every_fixture_goes_through() -> None:
    assert len(FIXTURES) > 30
    for path in FIXTURES:
        run_everything(path.read_bytes())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_fixtures_never_raise(data: st.DataObject) -> None:
    raw = bytearray(FIXTURES[data.draw(st.integers(0, len(FIXTURES) - 1))].read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        if not raw:
            break
        at = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        if action == "flip":
            raw[at] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del raw[at:at + data.draw(st.integers(1, 200))]
        elif action == "insert":
            raw[at:at] = data.draw(st.sampled_from([b"\r\n", b"=?utf-8?q?", b"; charset=\"x\"", b"--", b"\x00",
                                                    b"Content-Type: multipart/mixed; boundary=Z\r\n", b"\xff\xfe"]))
        else:
            raw[at:at] = raw[at:at + data.draw(st.integers(1, 300))]
    run_everything(bytes(raw))


# Hostile shapes for the patterns: a long run of one filler between a prefix and a suffix that the patterns look
# for (reply headers, header fields, signatures, addresses, status codes, commands), the shapes that make a
# backtracking pattern quadratic. Every per-mail pure step must stay linear: a budget of seconds per input, for
# work that takes milliseconds when it is linear, fails only on a pattern that rescans (the first such line,
# `"On " + 20,000 spaces + "x"`, took 78 s in `strip_reply`).
PREFIXES = ("", "On ", "Le ", "Am ", "From: ", "De : ", "*From:* ", "> ", "-- ", "---- ", "Sent from ", "Quoting ",
            "Caution ", "status ", "estimate ", "#88 ", "[#88] ", "2024 ", "=?utf-8?q?", "<", "smtp; ", "said: ")
FILLERS = (" ", "\t", "\u00a0", "a ", "a", "1", ".", "-", "- ", "_", "*", ">", "> ", "@", "a@", "=", "<", ": ", "1:",
           "a.", "%", "/")
SUFFIXES = ("", "wrote:", ":", " -- ", "@b.example>:", " 2024 12:30 <a@b.example>:", "?=", "Subject: x", " 550 5.1.1")
BUDGET_SECONDS = 3.0
LINE = 6000


def _hostile_lines(filler: str) -> list[str]:
    return [prefix + filler * (LINE // len(filler)) + suffix for prefix in PREFIXES for suffix in SUFFIXES]


def _timed(raw: bytes) -> float:
    started = time.perf_counter()
    run_everything(raw)
    return time.perf_counter() - started


@pytest.mark.parametrize("filler", FILLERS, ids=[f"{ord(f[0]):02x}x{len(f)}" for f in FILLERS])
def test_hostile_lines_in_a_body_stay_linear(filler: str) -> None:
    """All the hostile lines of a filler in one mail (about 1 MB), from a customer and from a consultant (whose
    lines are read as commands), as plain text and as HTML; and as a bounce notice (failed addresses)."""
    lines = _hostile_lines(filler)
    text = "\r\n".join(["hello", *lines, "> quoted"])
    html = "".join(f"<p>{escape(line)}</p>" for line in lines)
    for sender in ("p@client.example", "alice@example.test"):
        plain = f"From: {sender}\r\nTo: support@example.test\r\nSubject: Re: x\r\n\r\n{text}\r\n"
        rich = (f"From: {sender}\r\nTo: support@example.test\r\nSubject: Re: x\r\nContent-Type: text/html; "
                f"charset=utf-8\r\n\r\n<html><body>{html}</body></html>\r\n")
        for raw in (plain.encode(), rich.encode()):
            assert _timed(raw) < BUDGET_SECONDS * 4, (filler, sender)  # ~200 lines in one mail
    bounce = ("From: MAILER-DAEMON@mx.client.example\r\nTo: support@example.test\r\n"
              f"Subject: Undelivered Mail Returned to Sender\r\n\r\nI'm sorry to have to inform you\r\n{text}\r\n")
    assert _timed(bounce.encode()) < BUDGET_SECONDS * 4, filler


@pytest.mark.parametrize("filler", FILLERS, ids=[f"{ord(f[0]):02x}x{len(f)}" for f in FILLERS])
def test_hostile_header_values_stay_linear(filler: str) -> None:
    """Each prefix and filler as the Subject, the From name, the Message-ID and threading fields, the To list and
    an attachment's name (folded the way a client would)."""
    for prefix in PREFIXES:
        value = prefix + filler * (LINE // len(filler)) + "x"
        folded = "\r\n ".join(value[i:i + 900] for i in range(0, len(value), 900))
        raws = [
            f"From: p@client.example\r\nTo: support@example.test\r\nSubject: {folded}\r\n\r\nhello\r\n",
            f"From: {folded} <p@client.example>\r\nTo: support@example.test, {folded}\r\nSubject: x\r\n\r\nhi\r\n",
            f"From: p@client.example\r\nTo: support@example.test\r\nSubject: x\r\nMessage-ID: {folded}\r\n"
            f"In-Reply-To: {folded}\r\nReferences: {folded}\r\n\r\nhello\r\n",
            "From: p@client.example\r\nTo: support@example.test\r\nSubject: x\r\nContent-Type: multipart/mixed; "
            "boundary=Z\r\n\r\n--Z\r\nContent-Type: text/plain\r\n\r\nhi\r\n--Z\r\nContent-Type: application/pdf; "
            f"name=\"{folded}\"\r\nContent-Disposition: attachment; filename=\"{folded}\"\r\n\r\nAAAA\r\n--Z--\r\n",
        ]
        for raw in raws:
            assert _timed(raw.encode()) < BUDGET_SECONDS, (prefix, filler)


def test_the_reported_shape_stays_linear() -> None:
    """Issue 16.2: a 27 kB mail, a 20,000-space line before "wrote", took 23 s in strip_reply."""
    for head in ("", "On ", "Le "):
        body = "Bonjour\r\n" + head + " " * 20000 + "wrote:\r\n> old\r\n" + "x " * 3000
        raw = f"From: p@client.example\r\nTo: support@example.test\r\nSubject: Re: x\r\n\r\n{body}\r\n".encode()
        assert _timed(raw) < BUDGET_SECONDS, head


@pytest.mark.parametrize("prefix", ["From: ", "Team: ", "*From:* ", "a:b:c: "])
def test_a_group_of_junk_in_an_address_header_stays_linear(prefix: str) -> None:
    """Group syntax (`name: ...;`) before 30,000 '@' in three headers: the stdlib reads a group by concatenating
    lists, which took 5 s for such a mail; the members are now read as a plain list. The real addresses around it
    still count."""
    junk = prefix + "@" * 30000
    raw = (f"From: {junk}, p@client.example\r\nTo: support@example.test, {junk}\r\nCc: {junk};\r\n"
           "Subject: x\r\n\r\nhello\r\n").encode()
    assert _timed(raw) < BUDGET_SECONDS, prefix
    mail = parse(raw)
    assert mail.from_ is not None and mail.from_.email == "p@client.example"
    assert "support@example.test" in {a.email for a in mail.to}
