"""Core parsing: real-world encodings, never raising."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.core.mail import headers
from mailgate.core.mail.charset import codec_for, decode_8bit_header, decode_bytes, decode_header_value
from mailgate.core.mail.parse import addresses, dedupe_fields, parse
from mailgate.core.model import Address, ParsedMail
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


# ---------------------------------------------------------------- issue 16: header parsing on real mail

def fixture(name: str) -> bytes:
    return eml(f"parse/{name}")


def test_fields_after_an_unindented_fold_are_kept_and_the_body_read_through_them() -> None:
    mail = parse(fixture("broken_fold.eml"))  # `To: ..., "Martin, Paul"` then `<paul@...>` without a blank
    assert mail.from_ == Address("claire@client.example", "Claire Dubois")
    assert mail.subject == "Imprimante du 2e étage en panne"
    assert mail.message_id == "broken-fold-1@client.example"
    assert [a.email for a in mail.to] == ["support@helpdesk.example", "paul@client.example"]
    assert mail.to[1].name == "Martin, Paul"
    assert mail.date is not None and mail.date.day == 12
    # Content-Type came after the broken line: the alternative is read, the HTML kept, no MIME in the text
    assert mail.text.startswith("Bonjour,\n\nL'imprimante du 2ème étage ne répond plus")
    assert "NextPart" not in mail.text and mail.html is not None
    assert "MalformedHeaderLineDefect" in mail.defects
    assert dedupe_fields(fixture("broken_fold.eml")) == ("broken-fold-1@client.example", "claire@client.example")


def test_a_junk_line_an_mta_wrote_does_not_end_the_header() -> None:
    raw = fixture("junk_header_line.eml")
    mail = parse(raw)
    assert mail.from_ == Address("bob@client.example", "Bob Stone")
    assert mail.subject == "VPN access refused since this morning"
    assert [a.email for a in mail.to] == ["support@helpdesk.example"]
    assert mail.text == ("Hello,\n\nthe VPN refuses my login since 8:00.\nError: 809 (the server did not answer)."
                         "\n\nBob\n")
    assert ("delivered-to", "support@helpdesk.example") in mail.headers
    assert dedupe_fields(raw) == ("junk-line-1@client.example", "bob@client.example")
    # but a line without a colon that no field follows starts the body (a mail without the blank line)
    raw = b"From: a@client.example\nSubject: s\nHello team,\nNote: the server is down\n\nRegards\n"
    mail = parse(raw)
    assert mail.subject == "s" and mail.text.startswith("Hello team,\nNote: the server is down")
    # a forwarded header block at the top of such a body is no more header of this mail
    raw = (b"From: a@client.example\nSubject: s\nsee below\nFrom: Bob <bob@x.example>\nSubject: old\n"
           b"To: c@client.example\n\ntext\n")
    mail = parse(raw)
    assert mail.subject == "s" and mail.to == ()
    assert mail.text.startswith("see below\nFrom: Bob <bob@x.example>\nSubject: old")


def test_obsolete_blanks_before_the_colon() -> None:
    mail = parse(b"From : Ann <ann@client.example>\r\nSubject  : Hello\r\nTo: s@helpdesk.example\r\n\r\nHi\r\n")
    assert mail.from_ == Address("ann@client.example", "Ann") and mail.subject == "Hello"
    assert mail.text == "Hi\n"


def test_folded_quoted_name_with_a_comma_keeps_every_address() -> None:
    mail = parse(fixture("folded_names.eml"))
    assert mail.cc == (Address("john.doe@client.example", "Doe, John"), Address("anne@client.example"),
                       Address("renee@client.example", "Renée"))
    assert addresses(['"Doe,\r\n John" <j@x.example>,\r\n b@y.example']) == (
        Address("j@x.example", "Doe, John"), Address("b@y.example"))


def test_address_in_a_comment_after_an_encoded_name() -> None:
    mail = parse(fixture("folded_names.eml"))
    assert mail.from_ == Address("jose@client.example", "José Garcia")
    assert mail.reply_to == (Address("jose.garcia@client.example", "José"),)
    assert addresses(["=?utf-8?q?Jos=C3=A9?= (jose@x.example)"]) == (Address("jose@x.example", "José"),)
    assert addresses(["a@y.example, =?utf-8?q?Jos=C3=A9?= (jose@x.example)"]) == (
        Address("a@y.example"), Address("jose@x.example", "José"))
    assert addresses(["(jose@x.example)"]) == (Address("jose@x.example"),)  # the fallback drops the brackets
    assert addresses(["jose@x.example (jose@x.example)"]) == (Address("jose@x.example", "jose@x.example"),)


def test_raw_8bit_cjk_headers() -> None:
    for name, sender, subject in [
        ("gbk_raw_headers.eml", Address("wang.wei@client.example", "王伟"), "关于服务器故障的报告"),
        ("sjis_raw_headers.eml", Address("yamada@client.example", "山田太郎"), "サーバー障害について"),
        ("euckr_raw_headers.eml", Address("minsu.kim@client.example", "김민수"), "로그인이 안 됩니다"),
        ("big5_raw_headers.eml", Address("chen@client.example", "陳小明"), "印表機無法使用"),
    ]:
        mail = parse(fixture(name))
        assert (mail.from_, mail.subject) == (sender, subject), name


def test_raw_8bit_header_in_the_body_charset_first() -> None:
    # two rare syllables: alone they would read as Chinese; the body says EUC-KR
    raw = ("Subject: 점검 완료\r\nFrom: a@client.example\r\nContent-Type: text/plain; charset=euc-kr\r\n\r\nx"
           ).encode("euc_kr")
    assert parse(raw).subject == "점검 완료"
    assert decode_8bit_header("Grüße aus Köln".encode("cp1252")) == "Grüße aus Köln"  # Latin stays Latin
    assert decode_8bit_header("Счёт на оплату".encode("koi8_r")) == "Счёт на оплату"
    assert decode_8bit_header("会議のお知らせ".encode("euc_jp")) == "会議のお知らせ"
    assert decode_8bit_header(b"Exchange\x85", "iso-8859-1") == "Exchange…"  # Latin-1 read as browsers do


def test_stub_plain_part_gives_way_to_its_html() -> None:
    mail = parse(fixture("html_stub.eml"))
    assert "The data centre will be down on Saturday" in mail.text and "HTML client" not in mail.text
    mail = parse(fixture("html_short_plain.eml"))  # under a tenth of the HTML's text, HTML in a related part
    assert "We restarted the mail relay" in mail.text


# The plain mailboxes most clients write, and near misses: the regex's pairs must be the stdlib's, or None.
_PIECES = ["a", "John", "x.y", "b-c", "=?utf-8?q?Jos=C3=A9?=", "\u00e9", "@", ".", "..", ",", "<", ">", '"', " ",
           "\t", "(", ")", ":", ";", "\\", "[", "]", "\r\n ", "_", "'", ""]
_WORD = st.text("abXY09.-_'=?!", min_size=1, max_size=6)
_ADDR = st.builds("{}@{}".format, _WORD, _WORD)
_NAME = st.one_of(st.just(""), st.lists(_WORD, min_size=1, max_size=3).map(" ".join),
                  st.text('ab ,.@<>:;()\\\u00e9', max_size=8).map('"{}"'.format))
_MAILBOX = st.one_of(_ADDR, st.builds("{}{}<{}>{}".format, _NAME, st.sampled_from(["", " ", "\t"]), _ADDR,
                                      st.sampled_from(["", " "])))
_VALUE = st.builds(lambda boxes, sep, cut, piece: (lambda v: v[:cut] + piece + v[cut:])(sep.join(boxes)),
                   st.lists(_MAILBOX, min_size=1, max_size=3), st.sampled_from([",", ", ", " ,"]),
                   st.integers(0, 60), st.one_of(st.just(""), st.sampled_from(_PIECES)))


@settings(max_examples=400, deadline=None)
@given(st.lists(_VALUE, min_size=1, max_size=2))
def test_plain_mailboxes_read_as_the_stdlib_reads_them(values: list[str]) -> None:
    plain = headers._plain_pairs(values)
    assert plain is None or plain == headers._parsed_pairs(values)


def test_plain_mailboxes_take_the_quick_way() -> None:
    for value in ["j@x.example", "John Doe <j@x.example>", '"Doe, John" <j@x.example>, b@y.example', "<j@x.example>",
                  "=?utf-8?q?Jos=C3=A9?= <j@x.example>", '"Jos\u00e9" <j@x.example>', " a@x.example ,b@y.example "]:
        assert headers._plain_pairs([value]) == headers._parsed_pairs([value]) != [], value
    for value in ["a@x.example,", "a@x (A)", "Team: a@x;", '"a\\"b" <a@x>', '"Doe,\r\n John" <j@x>', "A B a@x"]:
        assert headers._plain_pairs([value]) is None, value


_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


@pytest.mark.corpus
@pytest.mark.skipif(not (_CORPUS / "INDEX.tsv").is_file(), reason="corpus absent")
def test_plain_mailboxes_of_the_corpus_read_as_the_stdlib_reads_them() -> None:
    quick = 0
    for path in sorted(_CORPUS.rglob("*.eml")):
        msg = message_from_bytes(path.read_bytes(), policy=compat32)
        for name in ("from", "to", "cc", "reply-to", "sender"):
            values = [str(v) for v in msg.get_all(name) or []]
            plain = headers._plain_pairs(values)
            assert plain is None or plain == headers._parsed_pairs(values), (path, name, values)
            quick += plain is not None and bool(values)
    assert quick > 400  # most real From and To fields are plain (462 of the corpus's 2026-12 fields)


@pytest.mark.corpus
@pytest.mark.skipif(not (_CORPUS / "INDEX.tsv").is_file(), reason="corpus absent")
def test_dedupe_fields_read_by_hand_answer_as_the_parser_on_the_corpus() -> None:
    from mailgate.core.mail import parse as parse_module  # noqa: PLC0415

    by_hand = 0
    for path in sorted(_CORPUS.rglob("*.eml")):
        raw = path.read_bytes()
        assert dedupe_fields(raw) == parse_module._dedupe_fields_parsed(raw), path
        assert parse_module._header_fields(raw) == _header_fields_line_by_line(raw), path
        by_hand += parse_module._header_fields(raw) is not None
    assert by_hand > 150  # most header blocks are read by hand (210 of the 234 in 2026-12), the rest by the parser


@settings(max_examples=300, deadline=None)
@given(st.lists(_VALUE, min_size=1, max_size=2))
def test_the_first_address_is_the_first_of_addresses(values: list[str]) -> None:
    found = addresses(values)
    assert headers.first_address(values) == (found[0].email if found else None)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(max_codepoint=127), max_size=60))
def test_a_plain_ascii_value_decodes_as_through_the_stdlib(value: str) -> None:
    from email.header import decode_header  # noqa: PLC0415

    chunks = decode_header(value)
    slow = "".join(c.decode("ascii") if isinstance(c, bytes) else c for c, _ in chunks)
    assert decode_header_value(value) == " ".join(slow.split())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["from", "to", "x-a", "list-id"]), st.text(max_size=5)), max_size=8),
       st.sampled_from(["From", "x-a", "LIST-ID", "nothing"]))
def test_a_header_is_its_first_value(fields: list[tuple[str, str]], name: str) -> None:
    mail = ParsedMail(message_id=None, subject="", from_=None, headers=tuple(fields))
    first = next((v for k, v in fields if k == name.lower()), None)
    assert mail.header(name) == first and mail.header(name) == first  # made once, then read
    assert mail == ParsedMail(message_id=None, subject="", from_=None, headers=tuple(fields))


def _header_fields_line_by_line(raw: bytes) -> dict[bytes, list[str]] | None:
    """The header block read a line at a time (as before the patterns): the specification of _header_fields."""
    import re  # noqa: PLC0415

    from mailgate.core.mail.parse import _text  # noqa: PLC0415

    end = raw.find(b"\n\n")
    crlf = raw.find(b"\r\n\r\n")
    if crlf != -1 and (end == -1 or crlf < end):
        end = crlf
    block = raw if end == -1 else raw[:end]
    if b"\r" in block.replace(b"\r\n", b""):
        return None
    found: dict[bytes, list[list[bytes]]] = {}
    current: list[bytes] | None = None
    for line in block.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current.append(line)
            continue
        match = re.match(rb"([!-9;-~]++)[ \t]*+:", line)
        if match is None:
            return None
        name = match.group(1).lower()
        current = [line[match.end():].lstrip(b" \t")] if name in (b"from", b"message-id") else None
        if current is not None:
            found.setdefault(name, []).append(current)
    return {name: [_text(b"\n".join(parts)) for parts in values] for name, values in found.items()}


_HEADER_LINE = st.sampled_from([
    b"From: Ann <ann@example.com>", b"FROM :  bob@example.com", b"from:\tc@x", b"Message-ID: <a@b>",
    b"message-id :<c@d>", b"Message-Id:", b"Subject: From: x", b"X-From: y", b"From-Like: z", b"Received: from x",
    b" folded <e@f>", b"\tcontinued", b"not a field", b"", b"Caf\xc3\xa9: x", b"From: Caf\xc3\xa9 <g@h>",
    b"From: =?utf-8?q?Andr=C3=A9?= <i@j>", b"bare\rcr: x", b":colon first", b"Name With Space: v"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_HEADER_LINE, max_size=10), st.sampled_from([b"\r\n", b"\n"]), st.booleans(), st.booleans())
def test_header_fields_read_by_patterns_as_line_by_line(lines: list[bytes], eol: bytes, body: bool,
                                                        final: bool) -> None:
    from mailgate.core.mail.parse import _header_fields  # noqa: PLC0415

    raw = eol.join(lines) + (eol if final else b"") + (eol + b"body\n\nmore" + eol if body else b"")
    assert _header_fields(raw) == _header_fields_line_by_line(raw), raw
