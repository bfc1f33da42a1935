"""Core: a customer's mail on an existing ticket -> a keyword answer (estimate, resolution) when it
counts, else plain text that wakes a waiting ticket, contests a resolution or reopens a closed one
(from the ticket's own people only: anyone else's text is recorded and forwarded); the consultant in
charge is told."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from mailgate.core.model import Address, Agent, ParsedMail, Status, TicketView
from mailgate.core.outcome import Disposition, EstimateChange, EventSpec, MailKind, Outcome, OutgoingDraft, TicketChange
from mailgate.core.workflow import drafts, keywords
from mailgate.core.workflow import transitions as workflow
from mailgate.core.workflow.transitions import Action


@dataclass(frozen=True, slots=True)
class CustomerContext:
    agents: Mapping[str, Agent]
    approvers: Mapping[str, frozenset[str]]  # customer name -> addresses allowed to approve
    now: datetime
    reopen_days: int  # a reply this long after closing reopens the ticket; later, it is only appended


def handle(mail: ParsedMail, text: str, view: TicketView, sender: str, machine: str | None,
           ctx: CustomerContext) -> Outcome:
    """The effect of a reply from `sender` (not a consultant) whose own text is `text`."""
    received = EventSpec("message_received", {"from": sender})
    if machine is not None:  # auto-replies and the like never move a ticket nor wake anyone
        return Outcome(disposition=Disposition.APPENDED, ticket_id=view.id,
                       events=(received, EventSpec("machine_mail", {"why": machine})))
    change = TicketChange(last_customer_mid=mail.message_id) if mail.message_id else TicketChange()

    events: list[EventSpec] = [received]
    outgoing: list[OutgoingDraft] = []
    estimate: EstimateChange | None = None
    status = view.status
    told = "notify_reply"  # what the consultants' notice says happened
    asked = keywords.any_keyword(text)
    answer = keywords.answer(text, view.awaiting_kind) if view.awaiting_kind else None
    action: Action | None = None
    refusal = ""
    if asked is not None or answer is not None:
        refusal = _keyword_refusal(mail, view, sender, answer, ctx)
        if refusal:  # the reply is plain text; a keyword that does not count moves nothing
            events.append(EventSpec("keyword_refused", {"from": sender, "reason": refusal}))
            outgoing.append(_help(view, sender, refusal, asked or view.awaiting_kind or MailKind.RESOLUTION))
            answer = None
    if refusal:
        pass
    elif answer is not None:
        action = {keywords.APPROVE: Action.APPROVE_ESTIMATE, keywords.REFUSE: Action.REFUSE_ESTIMATE,
                  keywords.CONFIRM: Action.CONFIRM, keywords.CONTEST: Action.CONTEST}[answer]
        events.append(EventSpec("customer_answer", {"answer": answer, "from": sender}))
        if action in (Action.APPROVE_ESTIMATE, Action.REFUSE_ESTIMATE) and view.estimate is not None:
            state = "approved" if action is Action.APPROVE_ESTIMATE else "refused"
            estimate = EstimateChange(state=state, estimate_id=view.estimate.id, by=sender)
        change = replace(change, awaiting_mid=None, awaiting_kind=None)
        told = f"notify_{answer}"
    elif view.status in (Status.ANSWER_SENT, Status.WAITING, Status.CLOSED) and not _on_ticket(view, sender, ctx):
        events.append(EventSpec("state_kept", {"from": sender, "status": view.status.value,
                                               "why": f"{sender} is not a participant of ticket #{view.id}"}))
    elif view.status is Status.ANSWER_SENT:
        action = Action.CONTEST  # a free-text reply to a resolution: not solved
        events.append(EventSpec("customer_answer", {"answer": keywords.CONTEST, "from": sender,
                                                    "why": "free-text reply to the resolution"}))
        change = replace(change, awaiting_mid=None, awaiting_kind=None)
        told = "notify_contest"
    elif view.status is Status.WAITING:
        action = Action.RESUME
    elif view.status is Status.CLOSED:
        since = view.status_since
        if since is not None and ctx.now - since <= timedelta(days=ctx.reopen_days):
            action = Action.REOPEN
        else:
            events.append(EventSpec("reply_to_closed", {"from": sender, "reopen_days": ctx.reopen_days}))
    if action is not None:
        step = workflow.move(view.status, action, view.type, view.resume_status)
        if step.ok and step.to is not None:
            status = step.to
            change = replace(change, status=status)
            events.append(EventSpec("status", {"to": status.value, "by": sender, "why": action.value}))
        else:
            events.append(EventSpec("transition_refused", {"action": action.value, "reason": step.refused}))
    outgoing.extend(_tell_agents(view, text, sender, told, ctx))
    return Outcome(disposition=Disposition.APPENDED, ticket_id=view.id, events=tuple(events),
                   outgoing=tuple(outgoing), change=change, estimate=estimate)


def _on_ticket(view: TicketView, sender: str, ctx: CustomerContext) -> bool:
    """May this sender's plain text move the ticket: the requester, a participant, an approver."""
    return sender in view.participants or (view.requester is not None and sender == view.requester.email) or \
        (view.customer is not None and sender in ctx.approvers.get(view.customer, frozenset()))


def _keyword_refusal(mail: ParsedMail, view: TicketView, sender: str, answer: str | None,
                     ctx: CustomerContext) -> str:
    """'' when the keyword counts; else why not, in words for the sender."""
    if view.awaiting_kind is None or view.awaiting_mid is None:
        return f"ticket #{view.id} is not waiting for an approval or a confirmation"
    if answer is None:
        return f"this keyword does not answer what ticket #{view.id} is waiting for"
    allowed = {view.requester.email} if view.requester else set()
    if view.customer:
        allowed |= ctx.approvers.get(view.customer, frozenset())
    if sender not in allowed:
        return f"{sender} is neither the requester nor an approver for this customer"
    if view.awaiting_mid not in mail.thread_ids:
        return "the keyword counts only in a reply to the mail that asked for it"
    return ""


def _help(view: TicketView, sender: str, reason: str, asked: str) -> OutgoingDraft:
    words = keywords.SHOWN.get(asked, keywords.SHOWN["resolution"])
    yes, no = words.get(view.locale, words["en"])
    base = drafts.to_customer(view, MailKind.KEYWORD_HELP, automatic=True, values={
        "reason": reason, "yes": yes, "no": no, "asked": asked})
    if view.requester is not None and sender == view.requester.email:
        return base
    return replace(base, to=Address(sender), cc=())


def _tell_agents(view: TicketView, text: str, sender: str, kind: str, ctx: CustomerContext) -> list[OutgoingDraft]:
    """The consultant in charge hears of the reply; with nobody in charge, the ticket's level does."""
    if view.assignee and view.assignee in ctx.agents:
        targets: tuple[Agent, ...] = (ctx.agents[view.assignee],)
    else:
        targets = drafts.level_agents(ctx.agents, view.level)
    return [drafts.to_agent(a, MailKind.NOTIFY_REPLY, locale=view.locale, view=view,
                            values={"text": text, "from": sender, "event": kind}) for a in targets]
