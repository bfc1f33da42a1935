"""Core signed Message-IDs: only our secret makes one that verifies."""

from __future__ import annotations

import pytest

from mailgate.core.mail.signing import make_message_id, verify_message_id

SECRET = b"0123456789abcdef-secret"


def test_round_trip() -> None:
    mid = make_message_id(88, "abc123", SECRET, "example.test")
    assert mid.startswith("mg.88.abc123.") and mid.endswith("@example.test")
    assert verify_message_id(mid, SECRET) == 88
    assert verify_message_id(mid.upper(), SECRET) == 88  # case-insensitive, as some MTAs rewrite


def test_forged_or_foreign_ids_are_refused() -> None:
    mid = make_message_id(88, "abc123", SECRET, "example.test")
    assert verify_message_id(mid, b"another-secret-entirely") is None
    assert verify_message_id(mid.replace("mg.88.", "mg.89."), SECRET) is None
    assert verify_message_id("mg.88.abc123.aaaaaaaaaaaaaaaa@example.test", SECRET) is None
    assert verify_message_id("CAF=x@mail.gmail.com", SECRET) is None


def test_token_must_be_simple() -> None:
    with pytest.raises(ValueError):
        make_message_id(1, "has.dot", SECRET, "example.test")
