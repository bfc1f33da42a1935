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


# A big mail's long base64 runs are left out of the parse and read from the mail's bytes when asked
# (message_of's big_mail and long_run, set low here so that small mails take that way).
_LINE = st.text(alphabet="ABCab09+/=", min_size=1, max_size=12)
_OTHER = st.sampled_from(["", "plain words", " indented", "--B", "--B--", "Content-Type: text/plain", "x: y",
                          "=3D", "MailgateRun0x0", "-- ", "\t"])


def _lazy(raw: bytes) -> Message:
    return message_of(raw, big_mail=0, long_run=1)


def _parts(tree: Message) -> list[tuple[object, ...]]:
    """What a reader can see of each part: headers, preamble, epilogue, defects, its payload and its bytes."""
    seen = []
    for part in tree.walk():
        text = None if part.is_multipart() else part.get_payload()
        decoded = None if part.is_multipart() else payload_bytes(part)
        seen.append((part.items(), part.preamble, part.epilogue, [type(d) for d in part.defects], text, decoded))
    return seen


def _same_tree(raw: bytes) -> None:
    theirs = message_from_bytes(raw, policy=compat32)
    ours = _lazy(raw)
    decoded = [None if p.is_multipart() else payload_bytes(p) for p in ours.walk()]  # before any text is read
    assert decoded == [None if p.is_multipart() else p.get_payload(decode=True) for p in theirs.walk()]
    assert _parts(_lazy(raw)) == _parts(message_from_bytes(raw, policy=compat32))
    assert ours.as_bytes() == theirs.as_bytes()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_LINE, _OTHER), max_size=14), st.sampled_from(["\r\n", "\n"]),
       st.sampled_from(["base64", "7bit", "quoted-printable"]), st.booleans())
def test_a_parse_without_the_runs_gives_the_same_tree(lines: list[str], end: str, cte: str, single: bool) -> None:
    """Lines of base64's alphabet anywhere (bodies, preamble, epilogue, beside other text and boundaries), in
    parts of any encoding: the same parts, texts, decoded bytes and defects as the stdlib's parse."""
    body = end.join(lines)
    if single:
        raw = f"Subject: x{end}Content-Transfer-Encoding: {cte}{end}{end}{body}{end}"
    else:
        raw = end.join(["Subject: x", 'Content-Type: multipart/mixed; boundary="B"', "", body, "--B",
                        f"Content-Transfer-Encoding: {cte}", "", body, "--B", "Content-Type: message/rfc822", "",
                        "Subject: inner", f"Content-Transfer-Encoding: {cte}", "", body, "--B--", body, ""])
    _same_tree(raw.encode("ascii"))


def _with_attachment(data: bytes) -> bytes:
    """A mail of a short text and `data` attached in base64, CRLF line ends."""
    return (b'Subject: x\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n'
            b"Voici.\r\n--B\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(data).replace(
                b"\n", b"\r\n") + b"--B--\r\n")


def test_an_attachment_run_is_read_from_the_mail_not_kept_in_the_tree() -> None:
    """A 2 MB attachment's base64 (2.7 MB) is not in the tree: parsing the mail takes a small part of its size,
    and its bytes come out the same."""
    import tracemalloc

    data = bytes(range(256)) * 8192
    raw = _with_attachment(data)
    tracemalloc.start()
    try:
        tree = message_of(raw)
        held = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert held < len(raw) // 20
    assert payload_bytes(tree.get_payload()[1]) == data
    assert tree.as_bytes() == message_from_bytes(raw, policy=compat32).as_bytes()


def test_a_mail_that_holds_the_placeholder_word_is_parsed_the_same() -> None:
    run = "QUJD\r\n" * 4
    raw = f"Subject: MailgateRun0x0 MailgateRun1\r\n\r\nMailgateRun0x0\r\n{run}MailgateRun2\r\n".encode()
    _same_tree(raw)


def test_a_part_read_later_is_re_encoded_as_the_stdlib_does() -> None:
    """Message.set_charset encodes the payload in place: a part's text is read first (found by a review)."""
    raw = b"Subject: x\n\nQUJD\nQUJD\n"
    ours, theirs = _lazy(raw), message_from_bytes(raw, policy=compat32)
    ours.set_charset("utf-8")
    theirs.set_charset("utf-8")
    assert ours.as_bytes() == theirs.as_bytes()


_PARAMETERS = st.lists(st.sampled_from([
    'charset="utf-8"', "charset=ISO-8859-1", 'name="rapport.pdf"', "name*=UTF-8''r%C3%A9sum%C3%A9.pdf",
    "filename*0*=UTF-8''d%C3%A9", "filename*1=but.txt", 'boundary="==b=="', "report-type=delivery-status",
    "bare", "x=", '="odd"', ";", 'title*=us-ascii\'en\'"This%20is"']), max_size=5)


@given(st.sampled_from(["text/plain", "multipart/mixed", "application/pdf", "garbage"]), _PARAMETERS,
       st.sampled_from(["content-type", "content-disposition"]))
def test_header_parameters_are_the_stdlibs_however_often_asked(ctype: str, params: list[str], header: str) -> None:
    raw = (f"{header.title()}: {'; '.join([ctype, *params])}\r\n\r\nbody\r\n").encode()
    ours, theirs = message_of(raw), message_from_bytes(raw, policy=compat32)
    for _ in range(2):  # the second time from what the first kept
        assert ours.get_params(header=header) == theirs.get_params(header=header)
        assert ours.get_params(header=header, unquote=False) == theirs.get_params(header=header, unquote=False)
        for name in ("charset", "name", "filename", "boundary", "report-type", "title"):
            assert ours.get_param(name, header=header) == theirs.get_param(name, header=header)
        assert ours.get_filename() == theirs.get_filename() and ours.get_boundary() == theirs.get_boundary()
        assert ours.get_content_charset() == theirs.get_content_charset()


def test_kept_parameters_follow_the_header_and_are_never_changed_through_an_answer() -> None:
    from mailgate.core.mail import payload

    part = message_of(b'Content-Type: text/plain; charset="utf-8"\r\n\r\nbody\r\n')
    part.get_params(unquote=False).append(("injected", "1"))  # a caller's list is its own
    assert part.get_params() == [("text/plain", ""), ("charset", "utf-8")]
    part.set_param("charset", "iso-8859-1")  # a new value is parsed anew
    assert part.get_content_charset() == "iso-8859-1"
    part.replace_header("Content-Type", "text/html")
    assert part.get_content_charset() is None and part.get_content_type() == "text/html"
    long = "text/plain; name=" + "x" * 600  # kept only when short: a hostile header is not hoarded
    before = len(payload._PARAMS)
    assert message_of(f"Content-Type: {long}\r\n\r\nb\r\n".encode()).get_param("name") == "x" * 600
    assert len(payload._PARAMS) == before
    for n in range(payload._PARAMS_KEPT + 10):  # and never more than so many values
        message_of(f"Content-Type: text/plain; name=f{n}\r\n\r\nb\r\n".encode()).get_param("name")
    assert len(payload._PARAMS) <= payload._PARAMS_KEPT


@given(st.lists(st.sampled_from([b"QUJD", b"a", b"+/", b"=", b"==", b"\r\n", b"\n", b"\r", b" ", b"-", b"\xc3\xa9",
                                 b"Zm9v\r\n", b"="]), max_size=12).map(b"".join),
       st.binary(max_size=3), st.binary(max_size=3), st.integers(min_value=1, max_value=5))
def test_well_formed_base64_is_judged_as_the_pattern_judges_it(data: bytes, before: bytes, after: bytes,
                                                                chunk: int) -> None:
    """Any part of a text, a slice at a time of any size, bytes or (ASCII) str."""
    import re

    from mailgate.core.mail import payload

    pattern = re.compile(rb"[A-Za-z0-9+/\r\n]*(?:=[\r\n]*){0,2}")
    text, start = before + data + after, len(before)
    saved, payload.CHUNK = payload.CHUNK, chunk
    try:
        assert payload._well_formed(text, start, start + len(data)) == (pattern.fullmatch(data) is not None)
        if data.isascii():
            assert payload._well_formed(data.decode(), 0, len(data)) == (pattern.fullmatch(data) is not None)
    finally:
        payload.CHUNK = saved


def test_a_big_attachment_is_decoded_without_copies_of_its_text() -> None:
    """The well-formed check reads the base64 a slice at a time: decoding a 4 MB attachment (5.4 MB of base64)
    holds little beyond the bytes decoded (its text whole, or rid of its padding, once was 3 copies more)."""
    import tracemalloc

    data = bytes(range(256)) * 16384
    raw = _with_attachment(data)
    part = message_of(raw).get_payload()[1]
    tracemalloc.start()
    try:
        decoded = payload_bytes(part)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert decoded == data
    assert peak < len(data) * 1.2, peak
