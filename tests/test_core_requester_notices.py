"""The requester kept informed by mail (issue 13), through prepare -> process as the worker runs them: one short
status notice when a consultant's mail takes, escalates, parks on the customer or closes their ticket and sends
them nothing else; `statut` answered with the sender's own open tickets and no ticket opened; a consultant's
`file` answered with their queue. The store's part: the lists read only for such a mail, and only the sender's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mailgate.config.desk import desk_of
from mailgate.config.sections import ConfigError
from mailgate.core.desk import Desk, Limits, Snapshot
from mailgate.core.mail.signing import make_message_id
from mailgate.core.model import Address, Agent, NewTicket, Priority, RequestType, Status, TicketLine, TicketView
from mailgate.core.outcome import Disposition, MailKind, Outcome, OutgoingDraft, TicketChange
from mailgate.core.prepare import prepare
from mailgate.core.process import process
from mailgate.core.workflow import drafts, lookups
from mailgate.core.workflow.authn import SentMail
from mailgate.outbound.render import SAMPLE_CONTEXT, Renderer
from tests.conftest import make_settings, settings_data

TEMPLATES = Path(__file__).parent.parent / "templates"
SECRET = b"core-test-secret-0123456789"
ALICE = Agent("alice@example.test", "Alice Martin", 1)
BRUNO = Agent("bruno@example.test", "Bruno Lefèvre", 2)
REQUESTER = Address("fabrice@client.example", "Fabrice")
NOTIFICATION = make_message_id(7, "aaaaaaaaaaaaaaaa", SECRET, "example.test")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
ALL = frozenset({"taken", "escalated", "waiting", "closed"})


def desk(locale: str = "fr", notify: frozenset[str] = ALL, **limits: int) -> Desk:
    return Desk(support_addresses=frozenset({"support@example.test"}), agents={a.email: a for a in (ALICE, BRUNO)},
                secret=SECRET, loop_token="example.test/0123456789abcdef", message_id_domain="example.test",
                locale=locale, limits=Limits(**limits), notify_requester=notify)


def view(status: Status = Status.OPEN, **values: object) -> TicketView:
    base: dict[str, object] = dict(participants=frozenset({REQUESTER.email, "colleague@client.example"}), level=1,
                                   requester=REQUESTER, title="Imprimante en panne", locale="fr",
                                   root_mid="root@client.example", last_customer_mid="last@client.example",
                                   cc=(Address("colleague@client.example"),))
    return TicketView(7, status, **{**base, **values})  # type: ignore[arg-type]


def run(raw: bytes, ticket: TicketView | None = None, *, d: Desk | None = None, **known: Any) -> Outcome:
    d = d or desk()
    prepared = prepare(raw, None, ["support@example.test"], d, None)
    sent = {NOTIFICATION: SentMail(NOTIFICATION, MailKind.NOTIFY_NEW, 7, (ALICE.email, BRUNO.email))}
    tickets = {7: ticket} if ticket is not None else {}
    return process(prepared, Snapshot(tickets=tickets, sent=sent, **known), d, NOW)


def agent_mail(body: str, *, sender: str = ALICE.email, reply: bool = True, extra: str = "") -> bytes:
    thread = f"In-Reply-To: <{NOTIFICATION}>\r\nReferences: <{NOTIFICATION}>\r\n" if reply else ""
    subject = "Re: [#7] Imprimante en panne" if reply else "Ma file"
    return (f"From: Alice Martin <{sender}>\r\nTo: support@example.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <reply-1@example.test>\r\n{thread}{extra}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def customer_mail(body: str, *, reply_to: str | None = None, sender: str = REQUESTER.email, extra: str = "") -> bytes:
    thread = f"In-Reply-To: <{reply_to}>\r\nReferences: <{reply_to}>\r\n" if reply_to else ""
    return (f"From: Fabrice <{sender}>\r\nTo: support@example.test\r\nSubject: une question\r\n"
            f"Message-ID: <c-1@client.example>\r\n{thread}{extra}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def notices(out: Outcome) -> list[OutgoingDraft]:
    return [d for d in out.outgoing if d.kind is MailKind.STATUS_NOTICE]


def the_notice(out: Outcome) -> OutgoingDraft:
    (notice,) = notices(out)
    return notice


def rendered(draft: OutgoingDraft, ticket: TicketView | None = None) -> str:
    context: dict[str, Any] = {**SAMPLE_CONTEXT, **draft.context,
                               "recipient": {"name": draft.to.name, "email": draft.to.email}}
    if ticket is not None:
        names = {a.email: a.name for a in (ALICE, BRUNO)}
        context["ticket"] = drafts.template_ticket(ticket, draft.locale, names)
        context["requester"] = {"name": REQUESTER.name, "email": REQUESTER.email}
    else:
        del context["ticket"]  # a list of no ticket: its templates must not need one
    return Renderer(TEMPLATES).render(draft.template, draft.locale, context)


def line(number: int, status: Status = Status.IN_PROGRESS, priority: Priority = Priority.NORMAL,
         hours_ago: int = 1, title: str = "") -> TicketLine:
    return TicketLine(id=number, title=title or f"Demande {number}", status=status, priority=priority, level=1,
                      since=NOW - timedelta(hours=hours_ago))


# status notices -----------------------------------------------------------------------------------------------------

def test_taken_the_requester_alone_hears_who_has_it_by_first_name() -> None:
    ticket = view(Status.OPEN)
    out = run(agent_mail("prendre"), ticket)
    notice = the_notice(out)
    assert (notice.to, notice.cc, notice.automatic, notice.locale) == (REQUESTER, (), True, "fr")
    assert notice.context["notice"] == "taken" and notice.context["by"] == "Alice"
    assert notice.context["state"] == "Pris en charge" and not notice.context["expects_answer"]
    assert notice.in_reply_to == "last@client.example"  # the customer's own thread
    assert [(e.kind, e.data["notice"]) for e in out.events if e.kind == "status_notice"] == [("status_notice", "taken")]
    text = rendered(notice, drafts.after(ticket, out.change))
    assert "prise en charge par Alice." in text and "Statut : Pris en charge" in text
    assert "alice@" not in text and "Martin" not in text  # the first name only, never the address


def test_escalated_says_the_level_and_nobody_by_name() -> None:
    ticket = view(Status.TAKEN, assignee=ALICE.email)
    out = run(agent_mail("escalader"), ticket)
    notice = the_notice(out)
    assert (notice.context["notice"], notice.context["level"], notice.context["by"]) == ("escalated", 2, "")
    assert "transmise à nos spécialistes (niveau N2)" in rendered(notice, drafts.after(ticket, out.change))
    assert [d.kind for d in out.outgoing].count(MailKind.NOTIFY_ESCALATED) == 1  # Bruno is told as before


def test_waiting_on_the_customer_says_an_answer_is_expected_and_on_a_vendor_says_nothing() -> None:
    ticket = view(Status.IN_PROGRESS, assignee=ALICE.email)
    out = run(agent_mail("attente client"), ticket)
    notice = the_notice(out)
    assert notice.context["notice"] == "waiting" and notice.context["expects_answer"] is True
    assert notice.context["state"] == "Un instant"
    assert "attend une réponse de votre part (Alice la suit)" in rendered(notice, drafts.after(ticket, out.change))
    assert notices(run(agent_mail("attente fournisseur"), ticket)) == []


def test_closed_by_a_consultant() -> None:
    ticket = view(Status.IN_PROGRESS, assignee=BRUNO.email)
    out = run(agent_mail("fermer"), ticket)
    notice = the_notice(out)
    assert (notice.context["notice"], notice.context["by"], notice.context["state"]) == ("closed", "Bruno", "Fermé")
    assert "est fermée par Bruno" in rendered(notice, drafts.after(ticket, out.change))


def test_several_changes_in_one_mail_give_one_notice_of_the_final_state() -> None:
    out = run(agent_mail("prendre\ntemps 20m\nattente client"), view(Status.OPEN))
    assert the_notice(out).context["notice"] == "waiting"
    out = run(agent_mail("prendre\nfermer"), view(Status.OPEN))
    assert (the_notice(out).context["notice"], the_notice(out).context["state"]) == ("closed", "Fermé")
    out = run(agent_mail("prendre\nescalader"), view(Status.OPEN))
    assert the_notice(out).context["notice"] == "escalated"
    assert len([e for e in out.events if e.kind == "status_notice"]) == 1


@pytest.mark.parametrize("body,status,expected", [
    ("prendre\n\nBonjour Fabrice, je regarde.", Status.OPEN, MailKind.RELAY),  # the relay tells them
    ("résolu\n\nLe pilote est réinstallé.", Status.IN_PROGRESS, MailKind.RESOLUTION),
    ("attente client\n\nPouvez-vous m'envoyer une photo ?", Status.IN_PROGRESS, MailKind.RELAY),
])
def test_no_notice_when_the_same_mail_already_writes_to_the_customer(body: str, status: Status,
                                                                     expected: MailKind) -> None:
    out = run(agent_mail(body), view(status, assignee=ALICE.email))
    assert notices(out) == [] and expected in [d.kind for d in out.outgoing]


def test_no_notice_for_a_merge_the_merge_notice_tells_them() -> None:
    survivor = TicketView(80, Status.IN_PROGRESS, frozenset({REQUESTER.email}), title="Imprimante", requester=REQUESTER)
    d = desk()
    prepared = prepare(agent_mail("fusionner #80"), None, ["support@example.test"], d, None)
    sent = {NOTIFICATION: SentMail(NOTIFICATION, MailKind.NOTIFY_NEW, 7, (ALICE.email,))}
    out = process(prepared, Snapshot(tickets={7: view(Status.OPEN), 80: survivor}, sent=sent), d, NOW)
    assert [k.kind for k in out.outgoing if k.to == REQUESTER] == [MailKind.MERGED]


def test_no_notice_for_a_relay_nor_an_internal_note_that_changes_nothing() -> None:
    assert notices(run(agent_mail("interne\n\nLe client rappelle demain."), view(Status.IN_PROGRESS))) == []
    assert notices(run(agent_mail("temps 30m"), view(Status.IN_PROGRESS))) == []


def test_the_realisation_started_by_the_customers_approval_is_told_once_by_the_receipt() -> None:
    estimate = make_message_id(7, "bbbbbbbbbbbbbbbb", SECRET, "example.test")
    ticket = view(Status.AWAITING_ESTIMATE_APPROVAL, type=RequestType.EVOLUTION, awaiting_mid=estimate,
                  awaiting_kind="estimate_request", assignee=BRUNO.email, level=2)
    out = run(customer_mail("ACCEPTE", reply_to=estimate), ticket)
    assert out.change.status is Status.IN_REALIZATION
    assert [d.kind for d in out.outgoing if d.to.email == REQUESTER.email] == [MailKind.ANSWER_RECEIVED]


def test_each_kind_can_be_switched_off_in_the_config() -> None:
    only_closed = desk(notify=frozenset({"closed"}))
    assert notices(run(agent_mail("prendre"), view(Status.OPEN), d=only_closed)) == []
    assert notices(run(agent_mail("prendre\nfermer"), view(Status.OPEN), d=only_closed))  # the final state counts
    assert notices(run(agent_mail("fermer"), view(Status.IN_PROGRESS), d=desk(notify=frozenset()))) == []


def test_the_notify_section_defaults_to_every_kind_is_validated_and_reaches_the_desk(tmp_path: Path) -> None:
    from mailgate.config.settings import from_dict

    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert desk_of(make_settings(url, 25, tmp_path)).notify_requester == ALL
    settings = make_settings(url, 25, tmp_path, notify__requester_on=["closed", "waiting"])
    assert desk_of(settings).notify_requester == {"closed", "waiting"}
    with pytest.raises(ConfigError) as error:
        from_dict(settings_data(url, 25, notify__requester_on=["taken", "answered"]), "/etc/mailgate.toml")
    assert "/etc/mailgate.toml: notify.requester_on: " in str(error.value) and "'answered'" in str(error.value)
    with pytest.raises(ConfigError, match="notify.silent"):
        from_dict(settings_data(url, 25, notify__silent=True))


def test_notices_are_automatic_mail_under_the_limits() -> None:
    full = {"recent_to": {REQUESTER.email: 10}}
    out = run(agent_mail("prendre"), view(Status.OPEN), **full)
    assert notices(out) == []
    (held,) = [e for e in out.events if e.kind == "mail_suppressed"]
    assert held.data["kind"] == "status_notice" and "limit 10" in str(held.data["why"])
    out = run(agent_mail("prendre"), view(Status.OPEN), d=desk(per_ticket_per_hour=3), recent_on={7: 3})
    assert notices(out) == [] and any("on ticket #7" in str(e.data.get("why")) for e in out.events)


def test_an_english_ticket_gets_an_english_notice() -> None:
    ticket = view(Status.OPEN, locale="en")
    out = run(agent_mail("take"), ticket, d=desk("en"))
    text = rendered(the_notice(out), drafts.after(ticket, out.change))
    assert "has been taken by Alice." in text and "Status: Taken" in text


# statut -------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("first", ["statut", "Status", "ÉTAT", "état ?", "  Statut.  "])
def test_statut_to_the_support_address_answers_the_senders_open_tickets_and_opens_none(first: str) -> None:
    mine = (line(12, Status.TAKEN, title="Badge"), line(7, Status.WAITING, title="Imprimante"))
    out = run(customer_mail(f"{first}\n\n-- \nFabrice, Client SA"), sender_tickets=mine)
    assert out.disposition is Disposition.ANSWERED and out.new_ticket is None and out.ticket_id is None
    assert out.outgoing == () and not out.change
    (reply,) = out.replies
    assert (reply.kind, reply.to, reply.automatic, reply.in_reply_to) == (
        MailKind.MY_TICKETS, Address(REQUESTER.email, "Fabrice"), True, "c-1@client.example")
    assert [t["number"] for t in reply.context["tickets"]] == [7, 12]  # type: ignore[union-attr]
    text = rendered(reply)
    assert "#7  Imprimante\n      Un instant, depuis le 02/12/2026 09:00 UTC" in text
    assert "#12  Badge\n      Pris en charge" in text and "(2)" in text


def test_statut_with_no_open_ticket_says_so() -> None:
    out = run(customer_mail("statut"), sender_tickets=())
    (reply,) = out.replies
    assert reply.context["tickets"] == []
    assert "Vous n'avez aucune demande en cours chez nous à l'adresse fabrice@client.example" in rendered(reply)
    english = run(customer_mail("status"), d=desk("en"), sender_tickets=())
    assert "You have no open request with us" in rendered(english.replies[0])


def test_statut_in_reply_on_a_ticket_is_recorded_there_and_changes_nothing_else() -> None:
    ticket = view(Status.WAITING, resume_status=Status.IN_PROGRESS, assignee=ALICE.email)
    ours = make_message_id(7, "cccccccccccccccc", SECRET, "example.test")  # our last mail to the customer
    out = run(customer_mail("Statut", reply_to=ours), ticket,
              sender_tickets=(line(7, Status.WAITING),))
    assert (out.disposition, out.ticket_id) == (Disposition.APPENDED, 7)
    assert not out.change and out.outgoing == ()  # not resumed, no consultant woken
    assert [e.kind for e in out.events] == ["message_received", "list_requested"]
    assert [r.kind for r in out.replies] == [MailKind.MY_TICKETS]


def test_a_statut_reply_is_held_by_the_limits_like_any_automatic_mail() -> None:
    out = run(customer_mail("statut"), sender_tickets=(), recent_to={REQUESTER.email: 10})
    assert out.replies == () and out.disposition is Disposition.IGNORED and "limit 10" in out.reason


def test_statut_from_a_machine_or_not_alone_on_the_first_line_is_ordinary_mail() -> None:
    auto = run(customer_mail("Status", extra="Auto-Submitted: auto-replied\r\n"), sender_tickets=())
    assert auto.replies == () and auto.disposition is Disposition.NEW_TICKET  # as any auto-reply: no ack either
    prose = run(customer_mail("Statut de ma commande ?"))
    assert prose.replies == () and prose.disposition is Disposition.NEW_TICKET


# a consultant's queue -----------------------------------------------------------------------------------------------

def test_file_from_a_consultant_answers_their_queue_in_mailgate_queues_order_to_their_own_address() -> None:
    from mailgate.core.workflow.lookups import rank_of  # what mailgate queue and the dashboard sort by

    queue = (line(3, priority=Priority.NORMAL, hours_ago=50), line(4, priority=Priority.URGENT, hours_ago=1),
             line(5, priority=Priority.NORMAL, hours_ago=90), line(6, priority=Priority.LOW, hours_ago=900))
    out = run(agent_mail("ma file", reply=False, extra="Reply-To: someone@elsewhere.example\r\n"),
              sender_queue=queue)
    assert out.disposition is Disposition.ANSWERED and out.new_ticket is None
    (reply,) = out.replies
    assert (reply.kind, reply.to) == (MailKind.MY_QUEUE, ALICE.address)  # never the Reply-To
    numbers = [t["number"] for t in reply.context["tickets"]]  # type: ignore[union-attr]
    cli_order = [t.id for t in sorted(queue, key=lambda t: (rank_of(t.priority.value), t.since))]
    assert numbers == cli_order == [4, 5, 3, 6]
    text = rendered(reply)
    assert "[ ] #4  urgente  N1  En cours depuis le 02/12/2026 09:00 UTC" in text


def test_queue_when_empty_and_from_a_customer() -> None:
    out = run(agent_mail("queue", reply=False), d=desk("en"), sender_queue=())
    assert "No open ticket is assigned to you." in rendered(out.replies[0])
    customer = run(customer_mail("file"))
    assert customer.replies == () and customer.disposition is Disposition.NEW_TICKET


# the store: the lists are read only for such a mail, and only the sender's --------------------------------------------

@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Any:
    from mailgate.store.schema import open_database

    settings = make_settings(db_url, 25, tmp_path)
    db = open_database(settings)
    yield db, desk_of(settings)
    db.close()


def _open(conn: Any, requester: str, title: str, *, assignee: str | None = None, status: Status | None = None) -> int:
    from mailgate.store import tickets

    spec = NewTicket(title=title, requester=Address(requester), cc=(), type=RequestType.ASSISTANCE, level=1,
                     priority=Priority.NORMAL, locale="fr", assignee=assignee)
    number = tickets.create(conn, spec, NOW)
    if status is not None:
        tickets.update(conn, number, TicketChange(status=status), NOW)
    return number


def test_the_snapshot_lists_only_the_senders_open_tickets_with_one_extra_statement(store: Any) -> None:
    from mailgate.store import snapshot

    db, d = store
    with db.transaction() as conn:
        mine = _open(conn, REQUESTER.email, "Badge")
        _open(conn, REQUESTER.email, "Ancienne demande", status=Status.CLOSED)
        _open(conn, "someone@client.example", "Pas la mienne")
        waiting = _open(conn, REQUESTER.email, "Imprimante", status=Status.WAITING)
    statements: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with db.transaction() as conn:
        statements.clear()
        plain = snapshot.load(conn, prepare(customer_mail("Bonjour"), None, [], d, None), d, NOW)
        plain_statements = list(statements)
        statements.clear()
        asked = snapshot.load(conn, prepare(customer_mail("statut"), None, [], d, None), d, NOW)
    assert plain.sender_tickets is None and plain.sender_queue is None
    assert [(t.id, t.title, t.status) for t in asked.sender_tickets or ()] == [
        (mine, "Badge", Status.OPEN), (waiting, "Imprimante", Status.WAITING)]
    assert statements[:-1] == plain_statements and "ticket.requester = " in statements[-1]  # one more, only then


def test_the_snapshot_lists_a_consultants_open_assigned_tickets_for_file(store: Any) -> None:
    from mailgate.store import snapshot

    db, d = store
    with db.transaction() as conn:
        hers = _open(conn, REQUESTER.email, "Badge", assignee="alice@example.test", status=Status.TAKEN)
        _open(conn, REQUESTER.email, "Fermé", assignee="alice@example.test", status=Status.CLOSED)
        _open(conn, REQUESTER.email, "À Bruno", assignee="bruno@example.test", status=Status.TAKEN)
        _open(conn, REQUESTER.email, "Personne")
        raw = agent_mail("file", reply=False)
        known = snapshot.load(conn, prepare(raw, None, [], d, None), d, NOW)
    assert [t.id for t in known.sender_queue or ()] == [hers] and known.sender_tickets is None


def test_lookups_words() -> None:
    assert lookups.asked("État\nmerci", agent=False) == lookups.STATUS
    assert lookups.asked("statut", agent=True) is None  # a consultant's `statut` is a command word, not a list
    assert lookups.asked("Ma file", agent=True) == lookups.QUEUE
    assert lookups.asked("file", agent=False) is None
