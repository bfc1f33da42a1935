"""Core reply stripping: one case per language and client, signatures, footers, forwards, never raising."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.core.mail import quotes
from mailgate.core.mail import quotes_patterns as pat
from mailgate.core.mail.html import html_to_text
from mailgate.core.mail.quotes import strip_reply
from mailgate.core.mail.signatures import DELIMITER, MOBILE, ORIGINAL, RULE, SIGNATURE, TEXT

FIXTURES = Path(__file__).parent / "fixtures" / "hygiene_replies"
CASES = sorted(p.name.removesuffix(".txt") for p in FIXTURES.glob("*.txt") if not p.name.endswith(".expected.txt"))


@pytest.mark.parametrize("name", CASES)
def test_fixture(name: str) -> None:
    text = (FIXTURES / f"{name}.txt").read_text(encoding="utf-8")
    expected = (FIXTURES / f"{name}.expected.txt").read_text(encoding="utf-8").rstrip("\n")
    assert strip_reply(text) == expected


CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


def test_every_fixture_has_its_expectation() -> None:
    assert len(CASES) >= 20
    assert all((FIXTURES / f"{name}.expected.txt").exists() for name in CASES)


# Issue 16 ("reply text"): one input and its expected own text per file, text parts and HTML-only replies.
REPLIES = Path(__file__).parent / "fixtures" / "replies"
REPLY_CASES = sorted(p.name for p in REPLIES.iterdir() if p.suffix in (".txt", ".html")
                     and not p.name.endswith(".expected.txt"))


@pytest.mark.parametrize("name", REPLY_CASES)
def test_reply_fixture(name: str) -> None:
    path = REPLIES / name
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        text = html_to_text(text)
    expected = (REPLIES / f"{path.stem}.expected.txt").read_text(encoding="utf-8").rstrip("\n")
    assert strip_reply(text) == expected


@pytest.mark.parametrize("header", [
    "On Tue, Mar 5, 2024 at 10:12 AM Support <support@example.test> wrote:",  # Gmail
    "On 5 Mar 2024, at 10:12, Support <support@example.test> wrote:",  # Apple Mail
    "On 3/5/24 10:12 AM, Support Team wrote:",  # Thunderbird
    "On Tuesday, March 5, 2024, 10:12:00 AM GMT+1, Support <support@example.test> wrote:",  # Yahoo
    "Le mar. 5 mars 2024 à 10:12, Support <support@example.test> a écrit :",
    "Le 05/03/2024 à 10:12, Support a écrit\u00a0:",  # no-break space before the colon
    "Am Di., 5. März 2024 um 10:12 Uhr schrieb Support <support@example.test>:",
    "Support <support@example.test> schrieb am Di., 5. März 2024 um 10:12:",
    "El mar, 5 mar 2024 a las 10:12, Soporte (<support@example.test>) escribió:",
    "Il giorno mar 5 mar 2024 alle ore 10:12 Supporto <support@example.test> ha scritto:",
    "Op di 5 mrt 2024 om 10:12 schreef Support <support@example.test>:",
    "Op 5 mrt. 2024 om 10:12 heeft Support <support@example.test> het volgende geschreven:",
    "Em ter., 5 de mar. de 2024 às 10:12, Suporte <support@example.test> escreveu:",
    "Den 5. mar. 2024 kl. 10.12 skrev Support <support@example.test>:",
    "tis 5 mars 2024 kl 10:12 skrev Support <support@example.test>:",
    "Dnia 5 marca 2024 10:12 Support <support@example.test> napisał(a):",
    "2024年3月5日(火) 10:12 サポート <support@example.test>:",
    "---- On Tue, 05 Mar 2024 10:12:00 +0100 Support <support@example.test> wrote ----",  # Zoho
])
def test_reply_headers_end_the_text_even_without_quotes(header: str) -> None:
    text = f"Merci, tout fonctionne.\n\n{header}\n\nBonjour, avez-vous redémarré ?\nLe support\n"
    assert strip_reply(text) == "Merci, tout fonctionne."


@pytest.mark.parametrize("block", [
    "From: Support <support@example.test>\nSent: Tuesday, March 5, 2024 10:12 AM\nTo: Alice\nSubject: RE: x",
    "*From:* Support <support@example.test>\n*Sent:* Tuesday, March 5, 2024 10:12 AM\n*To:* Alice\n*Subject:* x",
    "De : Support <support@example.test>\nEnvoyé : mardi 5 mars 2024 10:12\nÀ : Alice\nObjet : RE: x",
    "Von: Support <support@example.test>\nGesendet: Dienstag, 5. März 2024 10:12\nAn: Alice\nBetreff: AW: x",
    "De: Soporte <support@example.test>\nEnviado: martes, 5 de marzo de 2024 10:12\nPara: Alice\nAsunto: RE: x",
    "Da: Supporto <support@example.test>\nInviato: martedì 5 marzo 2024 10:12\nA: Alice\nOggetto: R: x",
    "Van: Support <support@example.test>\nVerzonden: dinsdag 5 maart 2024 10:12\nAan: Alice\nOnderwerp: RE: x",
    "-----Original Message-----\nFrom: Support\nSent: Tuesday\nSubject: x",
    "-----Message d'origine-----\nDe : Support\nEnvoyé : mardi\nObjet : x",
    "----- Ursprüngliche Nachricht -----\nVon: Support\nBetreff: x",
    "________________________________\nFrom: Support <support@example.test>\nDate: 5 March 2024\n"
    "To: Alice <alice@client.example>\nCc: Bob <bob@client.example>;\n Carol <carol@client.example>\nSubject: x",
])
def test_outlook_blocks_end_the_text(block: str) -> None:
    text = f"Answer above.\n\nAlice\n\n{block}\n\nOld message.\n"
    assert strip_reply(text) == "Answer above.\n\nAlice"


@pytest.mark.parametrize("footer", [
    "Sent from my iPhone", "Sent from my Verizon Wireless BlackBerry", "Sent from Mail for Windows",
    "Envoyé de mon iPhone", "Envoyé depuis mon appareil Galaxy", "Von meinem iPhone gesendet",
    "Gesendet von meinem Samsung Galaxy", "Enviado desde mi iPhone", "Inviato da iPhone",
    "Verzonden vanaf mijn iPhone", "Get Outlook for Android", "Get Outlook for iOS<https://aka.ms/o0ukef>",
    "Obtenir Outlook pour Android", "Outlook für Android herunterladen",
])
def test_mobile_footers_at_the_end_are_removed(footer: str) -> None:
    assert strip_reply(f"Yes, tomorrow is fine.\n\n{footer}\n") == "Yes, tomorrow is fine."
    assert strip_reply(f"OK.\n{footer}\n\nOn 5 Mar 2024, at 10:12, S <s@example.test> wrote:\n> x\n") == "OK."


@pytest.mark.parametrize(("text", "expected"), [
    ("Thanks!\n\n-- \nJean Dupont\n01 23 45 67 89\n", "Thanks!"),  # RFC 3676 delimiter
    ("Thanks!\n--\nJean\n", "Thanks!"),  # without its space
    ("Thanks!\n\n-Anna\n", "Thanks!"),  # one-line dash sign-off
    ("Thanks!\n\n/John\n", "Thanks!"),
    ("Thanks!\n\nCordialement,\nJean Dupont\nService achats\n",
     "Thanks!\n\nCordialement,\nJean Dupont\nService achats"),  # informal signatures stay
    ("Use a -- flag here.\n\n- first\n- second\n", "Use a -- flag here.\n\n- first\n- second"),  # bullets stay
])
def test_signature_convention(text: str, expected: str) -> None:
    assert strip_reply(text) == expected


@pytest.mark.parametrize("text", [
    "Hello,\n\nthe server is down.\n",
    "On your laptop, run:\n\n    ipconfig /all\n",  # starts like a reply header, is not one
    "Le client a écrit :\n« rien ne marche »\nPouvez-vous regarder ?\n",  # no date: not a reply header
    "From: the accounting team\nTo: IT\n\nPlease move the shared folder.\n",  # two fields are not a block
    "Sent from my desk, which is easier than from my phone.\n",
    "",
])
def test_nothing_to_strip(text: str) -> None:
    assert strip_reply(text) == text.strip("\n")


def test_bottom_posting_drops_the_quote_above() -> None:
    assert strip_reply(">hello\ntesting\n\ntesting\n") == "testing\n\ntesting"


def test_only_quotes_gives_everything_back() -> None:
    text = "On Tue, Mar 5, 2024 at 10:12 AM S <s@example.test> wrote:\n> old\n"
    assert strip_reply(text) == text.strip()


def test_outlook_forward_is_kept_when_the_subject_says_forward() -> None:
    text = ("Can you check this invoice?\n\nAlice\n\n________________________________\n"
            "From: Billing <billing@vendor.example>\nSent: Tuesday, March 5, 2024 10:12 AM\n"
            "To: Alice <alice@client.example>\nSubject: Invoice 12\n\nPlease pay invoice 12.\n")
    assert strip_reply(text) == "Can you check this invoice?\n\nAlice"
    forwarded = strip_reply(text, subject="TR: Invoice 12")
    assert forwarded.startswith("Can you check this invoice?\n\nAlice\n\n")
    assert forwarded.endswith("From: Billing <billing@vendor.example>\nSent: Tuesday, March 5, 2024 10:12 AM\n"
                              "To: Alice <alice@client.example>\nSubject: Invoice 12\n\nPlease pay invoice 12.")
    assert strip_reply(text, subject="RE: TR: Invoice 12") == "Can you check this invoice?\n\nAlice"


def test_outlook_block_at_the_top_is_a_forward_without_comment() -> None:
    text = ("De : Fournisseur <f@vendor.example>\nEnvoyé : mardi 5 mars 2024\nÀ : Alice\nObjet : Devis\n\n"
            "Voici le devis.")
    assert strip_reply(text) == text


def test_crlf_and_trailing_spaces() -> None:
    assert strip_reply("Fine.  \r\n\r\nOn 5 Mar 2024, at 10:12, S <s@example.test> wrote:\r\n> x\r\n") == "Fine."


def test_html_reply_converted_to_text() -> None:
    html = ('<div dir="ltr">Thanks, that works.<div>Paul</div></div><br><div class="gmail_quote">'
            '<div class="gmail_attr">On Tue, Mar 5, 2024 at 10:12 AM Jean Dupont &lt;jean@example.com&gt; '
            'wrote:<br></div><blockquote class="gmail_quote">Did you try restarting?<br>'
            '<blockquote>older</blockquote></blockquote></div>')
    assert strip_reply(html_to_text(html)) == "Thanks, that works.\n  Paul"
    blockquotes = "<p>Answer one</p><blockquote><p>&gt; Question two</p></blockquote><p>Answer two</p>"
    assert strip_reply(html_to_text(blockquotes)) == html_to_text(blockquotes)  # inline answers stay


def test_long_and_hostile_mails_stay_linear() -> None:
    history = "".join(f"> line {i} of an old message that goes on\n" for i in range(20000))
    text = "Reply.\n\nOn 5 Mar 2024, at 10:12, S <s@example.test> wrote:\n" + history + ("x" * 100000) + ":\n"
    started = time.perf_counter()
    assert strip_reply(text).startswith("Reply.")
    strip_reply("From: a\nTo: b\n" * 5000)  # field-like lines that never make a block (was quadratic)
    strip_reply(("a:" * 150 + "\n") * 2000)  # long lines that end like a reply header
    strip_reply(("wrote " + "2024 " * 50 + "<a@b.example> x:\n") * 2000)
    assert time.perf_counter() - started < 10  # about 1 s here; quadratic behaviour takes minutes


_PIECES = st.sampled_from(["> ", "\n", "\r\n", " ", "-- ", "____________", "On 5 Mar 2024, S <s@x.example> wrote:",
                           "From: a", "Sent: b", "To: c", "Subject: d", "Sent from my iPhone", "text", "-Anna",
                           "---------- Forwarded message ---------", "Le 5 mars 2024 à 10:12, S a", "écrit :", "é"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60).map("".join), st.sampled_from(["", "Fwd: x", "Re: x"]))
def test_never_raises_and_never_invents_text(text: str, subject: str) -> None:
    out = strip_reply(text, subject=subject)
    assert isinstance(out, str)
    source = text.replace("\r\n", "\n").replace("\r", "\n")
    assert all(line.strip() in source for line in out.split("\n"))


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(max_size=40))
def test_never_raises_on_any_text(text: str, subject: str) -> None:
    assert isinstance(strip_reply(text, subject=subject), str)


def _kind_one_by_one(line: str) -> str:
    """quotes._kind as it was: each line pattern tried in turn."""
    bare = line.strip(quotes._BLANKS)
    if not bare or pat.QUOTE.match(line) or len(bare) > quotes._LONG:
        return quotes._kind(line)
    return next((kind for kind, pattern in quotes._LINE_KINDS if pattern.match(bare)), TEXT)


_LINE_PIECES = ["--", "-", " ", "\t", "*", "=", "_" * 8, "~~~", "—", "Sent from my iPhone", "Envoyé de mon iPhone",
                "-----Original Message-----", "---------- Forwarded message ---------", "Début du message réexpédié :",
                "Get Outlook for Android", "Von meinem iPhone gesendet", "a", "Jean", ":", "<https://x.example>", "."]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_LINE_PIECES), max_size=6).map("".join))
def test_line_kinds_as_the_patterns_one_by_one(line: str) -> None:
    assert quotes._kind(line) == _kind_one_by_one(line)


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "INDEX.tsv").is_file(), reason="corpus absent")
def test_line_kinds_of_the_corpus_as_the_patterns_one_by_one() -> None:
    kinds: dict[str, int] = {}
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.stat().st_size < 300_000):
        for line in path.read_text("utf-8", "replace").splitlines():
            kind = quotes._kind(line)
            assert kind == _kind_one_by_one(line), (path, line)
            kinds[kind] = kinds.get(kind, 0) + 1
    assert {SIGNATURE, DELIMITER, RULE, MOBILE, ORIGINAL} <= kinds.keys()  # each alternative met and told apart


def test_an_html_body_converted_once_is_read_again_from_the_kept_few() -> None:
    from mailgate.core.mail import html  # noqa: PLC0415

    page = "<p>Bonjour,</p><blockquote><p>Le message d'avant</p></blockquote><p>Merci</p>"
    first = html_to_text(page)
    assert html_to_text(page) == first == html._converted(page) and first.startswith("Bonjour")
    assert html._kept.cache_info().hits >= 1
    big = "<p>" + "x" * html.KEPT_SIZE + "</p>"
    kept = html._kept.cache_info().currsize
    assert html_to_text(big).strip() == "x" * html.KEPT_SIZE and html._kept.cache_info().currsize == kept
