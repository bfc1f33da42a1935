"""Work by mail a consultant can trust (issue 12), through prepare -> process as the worker runs them: command
lines read the same from HTML-only mail, a command-like line after the text puts the mail in doubt, the
transcript says where the text went, one language per mail, approvers in the loop, our replies' threading,
numbers and names, the acknowledgement's own cap, the merge notice."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailgate.core.desk import Desk, Limits, Snapshot
from mailgate.core.mail.signing import make_message_id
from mailgate.core.model import Address, Agent, RequestType, Status, TicketView
from mailgate.core.outcome import MailKind, Outcome, OutgoingDraft
from mailgate.core.prepare import prepare
from mailgate.core.process import process
from mailgate.core.workflow import messages
from mailgate.core.workflow.authn import SentMail
from mailgate.outbound.render import SAMPLE_CONTEXT, Renderer

FIXTURES = Path(__file__).parent / "fixtures" / "agent_html"
TEMPLATES = Path(__file__).parent.parent / "templates"
SECRET = b"core-test-secret-0123456789"
ALICE = Agent("alice@example.test", "Alice Martin", 1)
BRUNO = Agent("bruno@example.test", "Bruno Lefèvre", 2)
REQUESTER = Address("fabrice@client.example", "Fabrice")
BOSS = "direction@client.example"
NOTIFICATION = make_message_id(7, "aaaaaaaaaaaaaaaa", SECRET, "example.test")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def desk(locale: str = "fr", **limits: int) -> Desk:
    return Desk(support_addresses=frozenset({"support@example.test"}), agents={a.email: a for a in (ALICE, BRUNO)},
                secret=SECRET, loop_token="example.test/0123456789abcdef", message_id_domain="example.test",
                locale=locale, approvers={"Client SA": frozenset({BOSS})}, limits=Limits(**limits))


def view(status: Status = Status.IN_PROGRESS, *, type_: RequestType = RequestType.ASSISTANCE, locale: str = "fr",
         **values: object) -> TicketView:
    base: dict[str, object] = dict(participants=frozenset({REQUESTER.email}), type=type_, level=1,
                                   requester=REQUESTER, title="Imprimante en panne", locale=locale,
                                   customer="Client SA", root_mid="root@client.example",
                                   last_customer_mid="last@client.example")
    return TicketView(7, status, **{**base, **values})  # type: ignore[arg-type]


def run(raw: bytes, ticket: TicketView, *, d: Desk | None = None, snapshot: Snapshot | None = None) -> Outcome:
    d = d or desk(ticket.locale)
    prepared = prepare(raw, None, ["support@example.test"], d, None)
    sent = {NOTIFICATION: SentMail(NOTIFICATION, MailKind.NOTIFY_NEW, 7, (ALICE.email,))}
    base = snapshot or Snapshot()
    tickets = {**base.tickets, 7: ticket}
    return process(prepared, Snapshot(tickets=tickets, sent=sent, recent_to=base.recent_to,
                                      recent_acks_to=base.recent_acks_to), d, NOW)


def agent_mail(body: str, *, sender: str = ALICE.email) -> bytes:
    return (f"From: {sender}\r\nTo: support@example.test\r\nSubject: Re: [#7] Imprimante en panne\r\n"
            f"Message-ID: <reply-1@example.test>\r\nIn-Reply-To: <{NOTIFICATION}>\r\nReferences: <{NOTIFICATION}>\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def customer_mail(body: str, *, sender: str = REQUESTER.email, reply_to: str, mid: str = "c-1@client.example") -> bytes:
    return (f"From: {sender}\r\nTo: support@example.test\r\nSubject: Re: [#7] Imprimante en panne\r\n"
            f"Message-ID: <{mid}>\r\nIn-Reply-To: <{reply_to}>\r\nReferences: <{reply_to}>\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"NOTIFICATION", NOTIFICATION.encode()).replace(b"\n", b"\r\n")


def kinds(out: Outcome) -> list[str]:
    return [d.kind.value for d in out.outgoing]


def one(out: Outcome, kind: MailKind) -> OutgoingDraft:
    (draft,) = [d for d in out.outgoing if d.kind is kind]
    return draft


def rendered(draft: OutgoingDraft, ticket: TicketView) -> str:
    from mailgate.core.workflow import drafts

    names = {a.email: a.name for a in (ALICE, BRUNO)}
    context = {**SAMPLE_CONTEXT, **draft.context, "ticket": drafts.template_ticket(ticket, draft.locale, names)}
    return Renderer(TEMPLATES).render(draft.template, draft.locale, context)


# 12.1 -------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["outlook_internal.eml", "gmail_internal.eml", "apple_internal.eml"])
def test_an_html_only_internal_note_is_read_as_commands_and_never_reaches_the_customer(name: str) -> None:
    """Outlook writes one <p class=MsoNormal> per line (a blank line between each once turned into text),
    Gmail and Apple Mail a <div> per line: the three command lines are read alike."""
    out = run(fixture(name), view(Status.OPEN))
    assert kinds(out) == ["transcript"]  # no relay: the note stays inside
    (note,) = [e for e in out.events if e.kind == "internal_note"]
    assert str(note.data["text"]).startswith("Le client a encore branché son imprimante")
    assert out.change.status is Status.TAKEN and out.change.assignee == ALICE.email
    assert [t.minutes for t in out.time_entries] == [30]


@pytest.mark.parametrize("body", [
    "Bonjour,\n\ninterne\n\nLe client est pénible.",  # a command typed after a greeting
    "prendre\n\nBonjour Fabrice,\n\nfermer\n\nCordialement",  # a command alone in a later paragraph
    "Voici la réponse.\n/interne",  # an explicit command inside the text
])
def test_a_command_line_after_the_text_is_refused_and_nothing_is_relayed(body: str) -> None:
    out = run(agent_mail(body), view(Status.IN_PROGRESS))
    assert kinds(out) == ["transcript"] and not out.change
    transcript = one(out, MailKind.TRANSCRIPT)
    text = rendered(transcript, view(Status.IN_PROGRESS))
    assert "ressemble à une commande mais vient après du texte" in text
    assert "Rien n'a été envoyé au client" in text


def test_a_paragraph_of_text_that_merely_starts_like_a_command_is_relayed() -> None:
    out = run(agent_mail("Bonjour,\n\nPrenez la deuxième sortie puis redémarrez.\n\nFermer la fenêtre suffit."),
              view(Status.IN_PROGRESS))
    assert kinds(out) == ["relay"]


# 12.2 -------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "says", "not_said"), [
    ("assigner bruno\n\nPeux-tu regarder ?",
     "Votre texte a été envoyé à Bruno Lefèvre <bruno@example.test> avec l'assignation, pas au client.",
     "transmise au client"),
    ("escalader\n\nÀ toi.",
     "Votre texte a été envoyé aux consultants de N2 (Bruno Lefèvre <bruno@example.test>) avec l'escalade, pas au "
     "client.", "transmise au client"),
    ("temps 30m\n\nC'est réglé, redémarrez le poste.",
     "Votre texte a été envoyé au client : Fabrice <fabrice@client.example>.", "pas au client"),
    ("interne\n\nÀ surveiller.", "Votre texte est enregistré comme note interne : rien n'a été envoyé au client.",
     "envoyé au client :"),
    ("temps 30m", "Pas de texte sous les commandes : rien n'a été envoyé au client.", "envoyé au client :"),
    ("escalader N4\n\nPour l'éditeur.", "Aucun consultant n'est configuré en N4", "envoyé au client :"),
])
def test_the_transcript_says_exactly_where_the_text_went(body: str, says: str, not_said: str) -> None:
    ticket = view(Status.IN_PROGRESS, assignee=ALICE.email)
    out = run(agent_mail(body), ticket)
    text = rendered(one(out, MailKind.TRANSCRIPT), ticket)
    assert says in text and not_said not in text


# 12.3 -------------------------------------------------------------------------------------------------------------

def test_a_french_transcript_has_french_reasons_with_the_keywords_typed_and_only_this_types_actions() -> None:
    ticket = view(Status.OPEN, type_=RequestType.INCIDENT)
    out = run(agent_mail("prendre\nrésolu\nchiffrage 1500"), ticket)  # resolve without text, no estimate here
    results = [str(line["result"]) for line in out.events[-1].data["lines"]]  # type: ignore[union-attr]
    assert results[0] == ""
    assert results[1] == "résolu transmet votre réponse au client : écrivez-la sous les lignes de commande"
    assert results[2] == ("chiffrage ne vaut que pour les tickets d'évolution applicative "
                          "(celui-ci : incident applicatif)")
    text = rendered(one(out, MailKind.TRANSCRIPT), ticket)
    assert "send_estimate" not in text and "applies to" not in text


def test_a_refusal_names_the_state_the_earlier_commands_left_and_the_one_the_footer_shows() -> None:
    ticket = view(Status.IN_PROGRESS, type_=RequestType.EVOLUTION)
    out = run(agent_mail("attente client\nchiffrage 1500"), ticket)
    reason = str(out.events[-1].data["lines"][1]["result"])  # type: ignore[index]
    assert reason == ("chiffrage n'est pas possible en statut « Un instant » (où le mettent vos commandes "
                      "précédentes ; il est « En cours ») ; possible : statut en cours, résolu, fermer, fusionner #N")
    assert "Ticket #7 — En cours" in rendered(one(out, MailKind.TRANSCRIPT), ticket)


def test_an_english_ticket_reads_english_only() -> None:
    ticket = view(Status.CLOSED, locale="en")
    out = run(agent_mail("take"), ticket)
    text = rendered(one(out, MailKind.TRANSCRIPT), ticket)
    assert "REFUSED: ticket #7 is closed: reopen it first (reopen)" in text
    assert "Ticket #7 — Closed — N1" in text and "Fermé" not in text


def test_an_unauthenticated_consultant_is_told_why_in_the_tickets_language() -> None:
    raw = agent_mail("fermer").replace(f"In-Reply-To: <{NOTIFICATION}>\r\nReferences: <{NOTIFICATION}>\r\n".encode(),
                                       b"")
    out = run(raw, view(Status.IN_PROGRESS))
    refused = one(out, MailKind.AGENT_REFUSED)
    assert refused.context["reason"] == ("il ne répond à aucune notification qui vous a été envoyée (répondez à l'une "
                                         "de nos notifications)")


@pytest.mark.parametrize("locale", messages.LOCALES)
def test_the_catalogue_says_every_reason_in_both_languages_with_the_same_values(locale: str) -> None:
    import string

    for code, sentences in messages.CATALOGUE.items():
        assert set(sentences) == set(messages.LOCALES), code
        names = {f for _, f, _, _ in string.Formatter().parse(sentences[locale]) if f}
        english = {f for _, f, _, _ in string.Formatter().parse(sentences["en"]) if f}
        assert names == english, code


# 12.4 -------------------------------------------------------------------------------------------------------------

def test_the_estimate_goes_to_the_approvers_too_and_an_approvers_answer_is_confirmed_to_both() -> None:
    ticket = view(Status.IN_PROGRESS, type_=RequestType.EVOLUTION, assignee=ALICE.email)
    out = run(agent_mail("chiffrage 1200,50 € 2,5j\n\nVoici notre proposition."), ticket)
    estimate = one(out, MailKind.ESTIMATE_REQUEST)
    assert estimate.to == REQUESTER and [a.email for a in estimate.cc] == [BOSS]
    text = rendered(estimate, ticket)
    assert "Montant : 1\u00a0200,50 EUR HT" in text and "Charge : 2,5 jours" in text
    transcript = rendered(one(out, MailKind.TRANSCRIPT), ticket)
    assert f"Votre texte a été envoyé au client : Fabrice <fabrice@client.example>, {BOSS}." in transcript

    asked = make_message_id(7, "bbbbbbbbbbbbbbbb", SECRET, "example.test")
    waiting = view(Status.AWAITING_ESTIMATE_APPROVAL, type_=RequestType.EVOLUTION, assignee=ALICE.email,
                   awaiting_mid=asked, awaiting_kind=MailKind.ESTIMATE_REQUEST.value)
    out = run(customer_mail("ACCEPTE", sender=BOSS, reply_to=asked, mid="boss-1@client.example"), waiting)
    assert out.change.status is Status.IN_REALIZATION
    receipt = one(out, MailKind.ANSWER_RECEIVED)
    assert receipt.to.email == BOSS and [a.email for a in receipt.cc] == [REQUESTER.email]
    assert receipt.in_reply_to == "boss-1@client.example"
    assert f"accepté par {BOSS}" in rendered(receipt, waiting)


@pytest.mark.parametrize(("word", "status"), [("RESOLU", Status.CLOSED), ("NON RESOLU", Status.IN_PROGRESS)])
def test_the_requester_gets_a_short_confirmation_of_a_resolution_answer(word: str, status: Status) -> None:
    asked = make_message_id(7, "cccccccccccccccc", SECRET, "example.test")
    ticket = view(Status.ANSWER_SENT, assignee=ALICE.email, awaiting_mid=asked,
                  awaiting_kind=MailKind.RESOLUTION.value)
    out = run(customer_mail(word, reply_to=asked), ticket)
    assert out.change.status is status
    receipt = one(out, MailKind.ANSWER_RECEIVED)
    assert receipt.to.email == REQUESTER.email and receipt.cc == ()


# 12.5 -------------------------------------------------------------------------------------------------------------

def test_keyword_help_answers_the_mail_that_carried_the_keyword() -> None:
    out = run(customer_mail("ACCEPTE", reply_to="last@client.example", mid="kw-9@client.example"),
              view(Status.IN_PROGRESS))
    help_mail = one(out, MailKind.KEYWORD_HELP)
    assert help_mail.in_reply_to == "kw-9@client.example"
    assert help_mail.references[-2:] == ("last@client.example", "kw-9@client.example")
    assert "n'attend ni validation ni confirmation" in str(help_mail.context["reason"])


def test_a_strangers_mail_on_the_ticket_is_never_what_our_relay_threads_on() -> None:
    ticket = view(Status.IN_PROGRESS)
    ours = make_message_id(7, "dddddddddddddddd", SECRET, "example.test")  # signed: anyone's reply lands on #7
    stranger = run(customer_mail("Moi aussi !", sender="someone@elsewhere.example", reply_to=ours,
                                 mid="stranger@elsewhere.example"), ticket)
    assert stranger.ticket_id == 7 and not stranger.change.values().get("last_customer_mid")
    own = run(customer_mail("Toujours en panne.", reply_to="last@client.example", mid="own-2@client.example"), ticket)
    assert own.change.last_customer_mid == "own-2@client.example"


# 12.6 -------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "fr", "en"), [
    ("1200.5", "1\u00a0200,50 EUR HT", "EUR 1,200.50 excl. VAT"), ("1500", "1\u00a0500 EUR HT", "EUR 1,500 excl. VAT"),
    ("0.5", "0,50 EUR HT", "EUR 0.50 excl. VAT"),
])
def test_amounts_as_each_language_writes_them(value: str, fr: str, en: str) -> None:
    assert (messages.amount_text(value, "EUR", "fr"), messages.amount_text(value, "EUR", "en")) == (fr, en)


@pytest.mark.parametrize(("value", "fr", "en"), [
    ("2.50", "2,5 jours", "2.5 days"), ("1", "1 jour", "1 day"), ("0.5", "0,5 jour", "0.5 days"),
    ("3.0", "3 jours", "3 days"),
])
def test_days_as_each_language_writes_them(value: str, fr: str, en: str) -> None:
    assert (messages.days_text(value, "fr"), messages.days_text(value, "en")) == (fr, en)


def test_the_footer_names_the_consultant_not_the_address() -> None:
    ticket = view(Status.IN_PROGRESS, assignee=ALICE.email)
    out = run(agent_mail("temps 10m"), ticket)
    assert "Ticket #7 — En cours — N1 — Alice Martin" in rendered(one(out, MailKind.TRANSCRIPT), ticket)


# 12.7 -------------------------------------------------------------------------------------------------------------

def new_request(sender: str = REQUESTER.email) -> bytes:
    return (f"From: {sender}\r\nTo: support@example.test\r\nSubject: Encore une demande\r\n"
            f"Message-ID: <new-5@client.example>\r\n\r\nBonjour\r\n").encode()


def test_an_acknowledgement_is_not_swallowed_by_the_cap_on_other_automatic_mail() -> None:
    busy = Snapshot(recent_to={REQUESTER.email: 10}, recent_acks_to={REQUESTER.email: 2})
    out = run(new_request(), view(), snapshot=busy)
    assert kinds(out)[0] == "ack"


def test_acknowledgements_have_their_own_cap_and_the_event_says_what_was_withheld() -> None:
    full = Snapshot(recent_to={}, recent_acks_to={REQUESTER.email: 30})
    out = run(new_request(), view(), snapshot=full, d=desk(acks_per_recipient_per_hour=30))
    assert "ack" not in kinds(out)
    (held,) = [e for e in out.events if e.kind == "mail_suppressed"]
    assert held.data["why"] == ("acknowledgement of this new ticket withheld: 30 acknowledgements to "
                                "fabrice@client.example in the last hour (limit 30, acks_per_recipient_per_hour)")


# 12.8 -------------------------------------------------------------------------------------------------------------

def test_a_merge_tells_the_customer_where_the_request_now_lives() -> None:
    survivor = TicketView(5, Status.IN_PROGRESS, frozenset(), title="VPN bloqué")
    ticket = view(Status.IN_PROGRESS)
    d = desk()
    prepared = prepare(agent_mail("fusionner #5"), None, ["support@example.test"], d, None)
    sent = {NOTIFICATION: SentMail(NOTIFICATION, MailKind.NOTIFY_NEW, 7, (ALICE.email,))}
    out = process(prepared, Snapshot(tickets={7: ticket, 5: survivor}, sent=sent), d, NOW)
    notice = one(out, MailKind.MERGED)
    assert notice.to == REQUESTER and notice.automatic
    text = rendered(notice, ticket)
    assert "demande #5 (VPN bloqué)" in text and "sous le numéro #5" in text
