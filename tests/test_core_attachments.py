"""Core attachments: decoded names, safe file names, limits, winmail.dat, never raising."""

from __future__ import annotations

import json
import struct
import unicodedata
from email import message_from_bytes
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from hashlib import sha256
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.core.mail.attachment_names import MAX_NAME_BYTES, content_type_for, safe_filename, unique
from mailgate.core.mail.attachments import FILE_TOO_LARGE, MAIL_TOO_LARGE, Refused, extract

FIXTURES = Path(__file__).parent / "fixtures" / "attachments"
CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
BIG = 10**8


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_names_decoded_from_every_encoding() -> None:
    found = extract(fixture("names.eml"), max_file_bytes=BIG, max_total_bytes=BIG)
    assert [a.original_name for a in found.attachments] == [
        "",  # the inline image of the HTML body
        "Résumé détecté.pdf",  # RFC 2231, utf-8
        "Facture n° 12.pdf",  # RFC 2231 continuation, iso-8859-1
        "Devis été.pdf",  # RFC 2047 encoded word in Content-Type name
        "Broken – name bad=ZZword.pdf",  # a broken encoded word is kept as written
        "notes.txt",  # a text/plain part with a name is a file, not the body
        "Trésorerie 2024.xls",  # raw Windows-1252 byte in the header (Outlook)
    ]
    image = found.attachments[0]
    assert (image.filename, image.content_type, image.inline, image.content_id) == (
        "attachment-1.png", "image/png", True, "logo@client.example")
    pdf = found.attachments[1]
    assert pdf.content == b"%PDF-1.4 fake\n" and pdf.size == 14 and not pdf.inline
    assert pdf.sha256 == sha256(b"%PDF-1.4 fake\n").hexdigest()
    assert found.refused == () and found.tnef_body is None and found.defects == ()


def test_message_object_accepted() -> None:
    msg = message_from_bytes(fixture("names.eml"), policy=compat32)
    assert len(extract(msg, max_file_bytes=BIG, max_total_bytes=BIG).attachments) == 7


def test_hostile_names_cannot_leave_the_folder() -> None:
    found = extract(fixture("hostile.eml"), max_file_bytes=BIG, max_total_bytes=BIG)
    assert [a.filename for a in found.attachments] == [
        "passwd", "evil.exe", "ab.txt", "_CON.txt", "htaccess", "attachment-6.bin", "attachment-7.pdf",
        "attachment-8.jpg"]
    assert found.attachments[0].original_name == "../../etc/passwd"  # kept, for display only
    for a in found.attachments:
        assert_safe(a.filename)
    assert any("InvalidBase64" in d for d in found.defects)  # broken base64: recorded, not raised


def assert_safe(name: str) -> None:
    assert name and name not in (".", "..") and not name.startswith((".", " "))
    assert not any(c in name for c in '/\\:*?"<>|') and name.isprintable()
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert name.split(".")[0].upper().rstrip() not in ("CON", "PRN", "AUX", "NUL", "COM1", "LPT1")


@pytest.mark.parametrize(("name", "expected"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\x\\y.exe", "y.exe"),
    ("C:y.exe", "C_y.exe"),
    ("a\x00b.txt", "ab.txt"),
    ("bill\u202egnp.exe", "billgnp.exe"),  # right-to-left override used to fake an extension
    ("  spaced   out  .pdf ", "spaced out .pdf"),
    ("CON", "_CON"), ("nul.txt", "_nul.txt"), ("Com1.log", "_Com1.log"), ("lpt9", "_lpt9"),
    ("CONSOLE.txt", "CONSOLE.txt"),
    ("...", "attachment-3.pdf"), ("", "attachment-3.pdf"), ("/", "attachment-3.pdf"), ("trailing.", "trailing"),
    ("e\u0301te\u0301.txt", "été.txt"),  # NFC
])
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name, index=3, content_type="application/pdf") == expected


def test_long_names_keep_their_extension() -> None:
    name = safe_filename("é" * 300 + ".docx", index=1, content_type="application/octet-stream")
    assert name.endswith(".docx") and len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert unicodedata.is_normalized("NFC", name) and "\ufffd" not in name
    assert len(safe_filename("x" * 500, index=1, content_type="").encode()) == MAX_NAME_BYTES


def test_unique_names_ignore_case_and_stay_short() -> None:
    taken: set[str] = set()
    assert [unique(n, taken) for n in ("a.pdf", "A.PDF", "a.pdf", "b")] == ["a.pdf", "A-2.PDF", "a-3.pdf", "b"]
    long = "y" * 196 + ".pdf"
    assert unique(long, taken) == long
    second = unique(long, taken)
    assert second.endswith("-2.pdf") and len(second.encode()) <= MAX_NAME_BYTES


def test_content_type_for_tnef_files() -> None:
    assert content_type_for("Report.PDF") == "application/pdf"
    assert content_type_for("README") == "application/octet-stream"


def mail_with(*parts: tuple[bytes, str, str]) -> bytes:
    msg = MIMEMultipart()
    msg.attach(MIMEText("body"))
    for data, subtype, name in parts:
        part = MIMEApplication(data, subtype, name=name)
        part.add_header("Content-Disposition", "attachment", filename=name)
        msg.attach(part)
    return msg.as_bytes()


def test_size_limits_refuse_by_file_and_by_mail() -> None:
    raw = mail_with((b"a" * 100, "pdf", "big.pdf"), (b"b" * 40, "pdf", "one.pdf"), (b"c" * 40, "pdf", "two.pdf"),
                    (b"d" * 10, "pdf", "three.pdf"))
    found = extract(raw, max_file_bytes=50, max_total_bytes=60)
    assert [a.filename for a in found.attachments] == ["one.pdf", "three.pdf"]
    assert found.refused == (Refused("big.pdf", FILE_TOO_LARGE, 100), Refused("two.pdf", MAIL_TOO_LARGE, 40))


def test_attached_mail_is_one_file_named_by_its_subject() -> None:
    inner = b"From: a@example.test\r\nSubject: Devis =?utf-8?q?r=C3=A9vis=C3=A9?=\r\n\r\nHello\r\n"
    raw = (b"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\n\r\nsee\r\n"
           b"--z\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"--z--\r\n")
    (mail,) = extract(raw, max_file_bytes=BIG, max_total_bytes=BIG).attachments
    assert (mail.filename, mail.original_name, mail.content_type) == ("Devis révisé.eml", "", "message/rfc822")
    assert b"Subject: Devis" in mail.content and b"Hello" in mail.content


def tnef(files: list[tuple[bytes, bytes]], body: bytes | None = None) -> bytes:
    """A TNEF stream (the format of winmail.dat) built by hand: signature, key, then objects of
    level (1 message, 2 attachment), attribute id, type, length, data and a 16-bit byte sum."""
    def obj(level: int, name: int, kind: int, data: bytes) -> bytes:
        return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)
    out = struct.pack("<IH", 0x223E9F78, 0x0101) + obj(1, 0x9006, 0x0008, struct.pack("<I", 0x10000))
    if body is not None:
        out += obj(1, 0x800C, 0x0002, body)  # attBody
    for name, data in files:
        out += obj(2, 0x9002, 0x0006, b"\x01\x00" + b"\xff" * 4 + b"\x00" * 8)  # attAttachRendData: a new file
        out += obj(2, 0x8010, 0x0001, name + b"\x00")  # attAttachTitle
        out += obj(2, 0x800F, 0x0006, data)  # attAttachData
    return out


def test_winmail_dat_is_unpacked() -> None:
    winmail = tnef([(b"offre.pdf", b"%PDF fake"), ("r\u00e9sum\u00e9.txt".encode(), b"hello")], body=b"Bonjour\r\n")
    found = extract(mail_with((winmail, "ms-tnef", "winmail.dat")), max_file_bytes=BIG, max_total_bytes=BIG)
    assert [(a.filename, a.content_type, a.content) for a in found.attachments] == [
        ("offre.pdf", "application/pdf", b"%PDF fake"), ("résumé.txt", "text/plain", b"hello")]
    assert found.tnef_body == "Bonjour"


def test_winmail_dat_kept_when_it_cannot_be_unpacked() -> None:
    for broken in (b"not a tnef stream at all", tnef([(b"x.txt", b"abc")])[:30], tnef([])):
        found = extract(mail_with((broken, "ms-tnef", "winmail.dat")), max_file_bytes=BIG, max_total_bytes=BIG)
        assert [(a.filename, a.content) for a in found.attachments] == [("winmail.dat", broken)]
        assert found.tnef_body is None


def test_limits_apply_to_the_files_inside_winmail_dat() -> None:
    winmail = tnef([(b"small.txt", b"x"), (b"large.bin", b"y" * 1000)])
    found = extract(mail_with((winmail, "ms-tnef", "winmail.dat")), max_file_bytes=100, max_total_bytes=BIG)
    assert [a.filename for a in found.attachments] == ["small.txt"]
    assert found.refused == (Refused("large.bin", FILE_TOO_LARGE, 1000),)


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "tnefparse" / "expected.json").is_file(), reason="corpus absent")
def test_corpus_tnef_samples() -> None:
    expected = json.loads((CORPUS / "tnefparse" / "expected.json").read_text())["files"]
    for path, spec in expected.items():
        data = (CORPUS / "tnefparse" / path).read_bytes()
        found = extract(mail_with((data, "ms-tnef", "winmail.dat")), max_file_bytes=BIG, max_total_bytes=BIG)
        names = [a.original_name for a in found.attachments]
        wanted = spec["attachment_long_filenames"]
        if wanted:
            assert names == wanted or names == [n or "" for n in wanted] or path.endswith("minimal_attachment.tnef")
        else:
            assert names in ([], ["winmail.dat"]), path
        for a in found.attachments:
            assert_safe(a.filename)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_never_raises_on_any_bytes(data: bytes) -> None:
    found = extract(data, max_file_bytes=1000, max_total_bytes=2000)
    for a in found.attachments:
        assert_safe(a.filename)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["names.eml", "hostile.eml", "tnef"]), st.data())
def test_never_raises_on_damaged_mail(name: str, data: st.DataObject) -> None:
    raw = bytearray(mail_with((tnef([(b"a.txt", b"abc")], b"body"), "ms-tnef", "winmail.dat"))
                    if name == "tnef" else fixture(name))
    for _ in range(data.draw(st.integers(1, 20))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(raw) // 2, len(raw)))
    found = extract(bytes(raw[:cut]), max_file_bytes=BIG, max_total_bytes=BIG)
    for a in found.attachments:
        assert_safe(a.filename)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.integers(1, 99))
def test_safe_filename_on_any_text(name: str, index: int) -> None:
    assert_safe(safe_filename(name, index=index, content_type="image/png"))
