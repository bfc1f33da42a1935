"""Core: a consultant's mail on a ticket -> commands applied all together (or none), the answer relayed
to the customer, a transcript to the consultant. See docs/commands.md."""

from __future__ import annotations

from mailgate.core.model import ParsedMail, Status, TicketView
from mailgate.core.outcome import Disposition, EventSpec, MailKind, Outcome
from mailgate.core.workflow import agent_commands, authn, commands, drafts
from mailgate.core.workflow.agent_commands import AgentContext, Work
from mailgate.core.workflow.commands import Command
from mailgate.core.workflow.transitions import Action


def handle(mail: ParsedMail, text: str, view: TicketView, sender: str, ctx: AgentContext) -> Outcome:
    """The whole effect of consultant `sender`'s mail `text` (quoted history removed) on ticket `view`."""
    agent = ctx.agents[sender]
    parsed = commands.parse(text)
    verdict = authn.agent_mail(mail, sender, ctx.sent, ctx.trust)
    received = EventSpec("agent_mail", {"from": sender, "authenticated": verdict.ok, "how": verdict.how,
                                        "commands": [c.line for c in parsed.commands]})
    if not verdict.ok:
        notice = drafts.to_agent(agent, MailKind.AGENT_REFUSED, locale=view.locale, mail=mail, view=view,
                                 values={"reason": verdict.how, "lines": [c.line for c in parsed.commands]})
        return Outcome(disposition=Disposition.APPENDED, ticket_id=view.id, events=(received,), outgoing=(notice,))

    work = Work(view)
    results: list[tuple[Command, str]] = []  # (command, refusal or "")
    for command in parsed.commands:
        refusal = command.error or agent_commands.apply(command, work, agent, parsed.text, ctx)
        results.append((command, refusal))
    refused = any(r for _, r in results)
    lines = [{"line": c.line, "ok": not r, "result": r or "applied"} for c, r in results]

    if refused:
        transcript = drafts.to_agent(agent, MailKind.TRANSCRIPT, locale=view.locale, mail=mail, view=view,
                                     values={"lines": lines, "applied": False, "relayed": False})
        event = EventSpec("commands_refused", {"by": sender, "lines": lines})
        return Outcome(disposition=Disposition.APPENDED, ticket_id=view.id, events=(received, event),
                       outgoing=(transcript,))

    relayed = False
    if parsed.text.strip() and not work.internal and not work.text_used and work.merge_into is None:
        if work.view.status in (Status.OPEN, Status.TAKEN) and not work.go(Action.START):
            work.events.append(EventSpec("status", {"to": Status.IN_PROGRESS.value, "by": sender,
                                                    "why": "answer relayed"}))
        if work.view.assignee is None:
            work.set(assignee=sender)
        work.outgoing.append(drafts.to_customer(work.view, MailKind.RELAY, values={"text": parsed.text},
                                                agents=frozenset(ctx.agents)))
        relayed = True
    if work.internal:
        work.events.append(EventSpec("internal_note", {"by": sender, "text": parsed.text}))
    elif relayed:
        work.events.append(EventSpec("answer_relayed", {"by": sender}))
    outgoing = list(work.outgoing)
    if parsed.commands:
        outgoing.append(drafts.to_agent(agent, MailKind.TRANSCRIPT, locale=view.locale, mail=mail, view=view,
                                        values={"lines": lines, "applied": True,
                                                "relayed": relayed or work.text_used}))
        work.events.append(EventSpec("commands_applied", {"by": sender, "lines": lines}))
    return Outcome(
        disposition=Disposition.APPENDED, ticket_id=view.id, events=(received, *work.events),
        outgoing=tuple(outgoing), change=work.change, time_entries=tuple(work.time_entries),
        open_task=work.open_task, estimate=work.estimate, merge_into=work.merge_into,
    )
