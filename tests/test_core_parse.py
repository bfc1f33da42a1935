"""Core parsing: real-world encodings, never raising."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.core.mail.charset import codec_for, decode_bytes, decode_header_value
from mailgate.core.mail.parse import dedupe_fields, parse
from tests.conftest import eml


def test_utf8_request_fields() -> None:
    mail = parse(eml("new_request.eml"))
    assert mail.message_id == "new-request-1@client.example"
    assert mail.subject == "Création de l'utilisateur Fabrice"
    assert mail.from_ is not None and mail.from_.email == "fabrice@client.example"
    assert mail.from_.name == "Fabrice Martin"
    assert [a.email for a in mail.cc] == ["julie@client.example"]
    assert "créer l'utilisateur Fabrice" in mail.text
    assert "\r" not in mail.text
    assert mail.date is not None and mail.date.year == 2022


def test_latin1_quoted_printable_and_encoded_name() -> None:
    mail = parse(eml("latin1_prefixes.eml"))
    assert mail.from_ is not None
    assert mail.from_.email == "renee@client.example"  # addresses are lower-cased
    assert mail.from_.name == "Renée Dupré"
    assert mail.text.strip() == "L'imprimante du 2ème étage ne répond plus."


def test_html_only_becomes_text_without_script_or_style() -> None:
    mail = parse(eml("html_only.eml"))
    assert "Le serveur app01 est en panne." in mail.text
    assert "alert" not in mail.text and "color:red" not in mail.text
    assert "tracker.example" not in mail.text
    assert mail.html is not None and "<b>app01</b>" in mail.html


def test_broken_charsets_and_mime_do_not_raise() -> None:
    mail = parse(eml("broken.eml"))
    assert mail.message_id == "broken-1@client.example"
    assert "caf" in mail.subject  # unknown charset label decoded with a fallback
    assert isinstance(mail.text, str)


def test_garbage_bytes_still_give_a_mail() -> None:
    mail = parse(b"\x00\xff\xfe not a mail at all \x80\x81")
    assert mail.from_ is None and mail.message_id is None
    assert isinstance(mail.text, str)


def test_charset_fallbacks() -> None:
    assert codec_for("ANSI_X3.110-1983") == "iso8859-1"
    assert codec_for("no-such-thing") == "utf-8"
    assert codec_for(None) == "utf-8"
    assert codec_for("utf\x00-8") == "utf-8"  # found by the fuzz test below
    assert decode_bytes("été".encode("cp1252"), "utf-8") == "été"  # mislabelled Windows Latin-1
    assert decode_bytes(b"caf\xe9", None) == "café"
    assert decode_bytes("naïve".encode(), "iso-8859-1") == "naÃ¯ve"  # a valid declared charset wins
    assert "\ufffd" in decode_bytes(b"\x82\xa0\xff\xff", "shift_jis")  # replaced, not raised


def test_header_with_raw_8bit_bytes() -> None:
    raw = "Subject: Réunion demain\r\nFrom: a@b.example\r\n\r\nx".encode()
    assert parse(raw).subject == "Réunion demain"
    assert decode_header_value("=?utf-8?q?a?= =?utf-8?q?b?= c") == "ab c"


def test_thread_ids_order_in_reply_to_first_then_newest_reference() -> None:
    raw = (b"From: a@b.example\r\nIn-Reply-To: <c@x>\r\nReferences: <a@x> <b@x>\r\n"
           b"\tgarbage <c@x>\r\nSubject: s\r\n\r\nbody")
    assert parse(raw).thread_ids == ("c@x", "b@x", "a@x")


def test_dedupe_fields_from_headers_only() -> None:
    assert dedupe_fields(eml("new_request.eml")) == ("new-request-1@client.example", "fabrice@client.example")
    assert dedupe_fields(b"no headers here") == (None, None)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_parse_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    mail = parse(raw)
    assert isinstance(mail.subject, str) and isinstance(mail.text, str)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_parse_never_raises_on_mutated_fixture(data: st.DataObject) -> None:
    raw = bytearray(eml(data.draw(st.sampled_from(
        ["new_request.eml", "latin1_prefixes.eml", "html_only.eml", "broken.eml"]))))
    for _ in range(data.draw(st.integers(1, 20))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    mail = parse(bytes(raw))
    assert isinstance(mail.text, str)
