"""Fuzz: mutated real-looking mails (the fixtures) through every pure step the worker runs: parse,
classification, threading, rules, the core's decision, reply stripping and attachment extraction.
None may raise."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgate.core.desk import Desk, Snapshot
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
