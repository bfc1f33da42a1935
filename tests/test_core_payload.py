"""core/mail/payload: the same tree and the same decoded bytes (and defects) as the stdlib, for any input:
well-formed and broken base64, other encodings, mails cut anywhere by the chunked feed."""

from __future__ import annotations

import base64
from email import message_from_bytes
from email.message import Message
from email.policy import compat32

from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.core.mail.payload import CHUNK, message_of, payload_bytes


def _part(body: str, cte: str = "base64") -> Message:
    raw = (f"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{body}").encode(
        "utf-8", "surrogateescape")
    return message_from_bytes(raw, policy=compat32)


def _same(body: str, cte: str = "base64") -> None:
    ours, theirs = _part(body, cte), _part(body, cte)
    assert payload_bytes(ours) == theirs.get_payload(decode=True)
    assert [type(d) for d in ours.defects] == [type(d) for d in theirs.defects]


@given(st.binary(max_size=3000), st.sampled_from(["\r\n", "\n"]), st.integers(min_value=1, max_value=120))
def test_well_formed_base64_decodes_to_the_same_bytes(data: bytes, end: str, width: int) -> None:
    text = base64.b64encode(data).decode()
    _same(end.join(text[i:i + width] for i in range(0, len(text), width)) + end)


@given(st.text(alphabet="ABCDEFab01+/=\r\n -_!é", max_size=400))
def test_broken_base64_gives_the_same_bytes_and_defects(body: str) -> None:
    _same(body)


def test_missing_padding_and_other_encodings_as_the_stdlib() -> None:
    for body, cte in (("QUJD\r\nRA\r\n", "base64"), ("QUJDRA=\r\n", "base64"), ("Q", "base64"),
                      ("caf=C3=A9\r\n", "quoted-printable"), ("plain\r\n", "7bit"), ("", "base64")):
        _same(body, cte)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=3 * CHUNK), st.sampled_from([b"\r\n", b"\n"]))
def test_the_chunked_parse_builds_the_same_tree(filler: int, end: bytes) -> None:
    body = base64.encodebytes(bytes(range(256)) * (filler // 256 + 1)).replace(b"\n", end)
    raw = end.join([b"From: a@example.org", b"Subject: x", b"MIME-Version: 1.0",
                    b'Content-Type: multipart/mixed; boundary="B"', b"", b"--B", b"Content-Type: text/plain",
                    b"", b"x" * filler, b"--B", b"Content-Type: application/pdf",
                    b"Content-Transfer-Encoding: base64", b"", body, b"--B--", b""])
    assert message_of(raw).as_bytes() == message_from_bytes(raw, policy=compat32).as_bytes()
