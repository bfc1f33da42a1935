"""Core: a customer's mail on an existing ticket -> a keyword answer (estimate, resolution) when it
counts (confirmed to whoever answered, the requester told when an approver decided), else plain text that
wakes a waiting ticket, contests a resolution or reopens a closed one (from the ticket's own people only:
anyone else's text is recorded and forwarded, and our later answers never thread on it); the consultant in
charge is told."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from mailgate.core.model import Address, Agent, ParsedMail, Reason, Status, TicketView
from mailgate.core.outcome import Disposition, EstimateChange, EventSpec, MailKind, Outcome, OutgoingDraft, TicketChange
from mailgate.core.workflow import drafts, keywords, messages
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
    ours = _on_ticket(view, sender, ctx)
    change = TicketChange(last_customer_mid=mail.message_id) if mail.message_id and ours else TicketChange()

    events: list[EventSpec] = [received]
    outgoing: list[OutgoingDraft] = []
    estimate: EstimateChange | None = None
    status = view.status
    told = "notify_reply"  # what the consultants' notice says happened
    asked = keywords.any_keyword(text)
    answer = keywords.answer(text, view.awaiting_kind) if view.awaiting_kind else None
    action: Action | None = None
    refusal: Reason | None = None
    if asked is not None or answer is not None:
        refusal = _keyword_refusal(mail, view, sender, answer, ctx)
        if refusal is not None:  # the reply is plain text; a keyword that does not count moves nothing
            events.append(EventSpec("keyword_refused", {"from": sender, "reason": messages.text(refusal, "en")}))
            outgoing.append(_help(mail, view, sender, messages.text(refusal, view.locale),
                                  asked or view.awaiting_kind or MailKind.RESOLUTION))
            answer = None
    if refusal is not None:
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
    elif view.status in (Status.ANSWER_SENT, Status.WAITING, Status.CLOSED) and not ours:
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
            if answer is not None:
                outgoing.append(_confirmation(mail, view, sender, answer))
        else:
            reason = messages.text(step.refused, "en") if step.refused else ""
            events.append(EventSpec("transition_refused", {"action": action.value, "reason": reason}))
    outgoing.extend(_tell_agents(view, text, sender, told, ctx))
    return Outcome(disposition=Disposition.APPENDED, ticket_id=view.id, events=tuple(events),
                   outgoing=tuple(outgoing), change=change, estimate=estimate)


def _on_ticket(view: TicketView, sender: str, ctx: CustomerContext) -> bool:
    """May this sender's plain text move the ticket: the requester, a participant, an approver."""
    return sender in view.participants or (view.requester is not None and sender == view.requester.email) or \
        (view.customer is not None and sender in ctx.approvers.get(view.customer, frozenset()))


def _keyword_refusal(mail: ParsedMail, view: TicketView, sender: str, answer: str | None,
                     ctx: CustomerContext) -> Reason | None:
    """None when the keyword counts; else why not."""
    if view.awaiting_kind is None or view.awaiting_mid is None:
        return Reason("nothing_awaited", {"ticket": view.id})
    if answer is None:
        return Reason("wrong_question", {"ticket": view.id})
    allowed = {view.requester.email} if view.requester else set()
    if view.customer:
        allowed |= ctx.approvers.get(view.customer, frozenset())
    if sender not in allowed:
        return Reason("not_an_approver", {"sender": sender})
    if view.awaiting_mid not in mail.thread_ids:
        return Reason("not_in_reply")
    return None


def _help(mail: ParsedMail, view: TicketView, sender: str, reason: str, asked: str) -> OutgoingDraft:
    """How to answer, in reply to the keyword's own mail: to the requester with the ticket's Cc, or to anyone
    else alone."""
    words = keywords.SHOWN.get(asked, keywords.SHOWN["resolution"])
    yes, no = words.get(view.locale, words["en"])
    base = drafts.to_customer(view, MailKind.KEYWORD_HELP, automatic=True, values={
        "reason": reason, "yes": yes, "no": no, "asked": asked})
    in_reply_to, refs = drafts.answering(mail, base.in_reply_to, base.references)
    base = replace(base, in_reply_to=in_reply_to, references=refs)
    if view.requester is not None and sender == view.requester.email:
        return base
    return replace(base, to=Address(sender), cc=())


def _confirmation(mail: ParsedMail, view: TicketView, sender: str, answer: str) -> OutgoingDraft:
    """A short receipt of the answer to whoever gave it, Cc the requester when an approver decided."""
    base = drafts.to_customer(view, MailKind.ANSWER_RECEIVED, automatic=True, values={"answer": answer,
                                                                                        "by": sender})
    in_reply_to, refs = drafts.answering(mail, base.in_reply_to, base.references)
    requester = view.requester
    cc = (requester,) if requester is not None and requester.email != sender else ()
    return replace(base, to=Address(sender), cc=cc, in_reply_to=in_reply_to, references=refs)


def _tell_agents(view: TicketView, text: str, sender: str, kind: str, ctx: CustomerContext) -> list[OutgoingDraft]:
    """The consultant in charge hears of the reply; with nobody in charge, the ticket's level does."""
    if view.assignee and view.assignee in ctx.agents:
        targets: tuple[Agent, ...] = (ctx.agents[view.assignee],)
    else:
        targets = drafts.level_agents(ctx.agents, view.level)
    return [drafts.to_agent(a, MailKind.NOTIFY_REPLY, locale=view.locale, view=view,
                            values={"text": text, "from": sender, "event": kind}) for a in targets]
