"""Core: a consultant's mail on a ticket -> commands applied all together (or none), the answer relayed
to the customer, a transcript to the consultant saying where the text went. A command-like line after the
text puts the mail in doubt: nothing applies, nothing is relayed, the transcript asks. See docs/commands.md."""

from __future__ import annotations

from mailgate.core.model import ParsedMail, Reason, Status, TicketView
from mailgate.core.outcome import Disposition, EventSpec, MailKind, Outcome
from mailgate.core.workflow import agent_commands, authn, commands, drafts, messages, notices, transcript
from mailgate.core.workflow.commands import Command
from mailgate.core.workflow.transcript import Destination, TextTo
from mailgate.core.workflow.transitions import Action
from mailgate.core.workflow.work import AgentContext, Work


def handle(mail: ParsedMail, text: str, view: TicketView, sender: str, ctx: AgentContext) -> Outcome:
    """The whole effect of consultant `sender`'s mail `text` (quoted history removed) on ticket `view`."""
    agent = ctx.agents[sender]
    locale = view.locale
    parsed = commands.parse(text)
    verdict = authn.agent_mail(mail, sender, ctx.sent, ctx.trust)
    received = EventSpec("agent_mail", {"from": sender, "authenticated": verdict.ok, "how": verdict.how,
                                        "commands": [c.line for c in parsed.commands]})
    if not verdict.ok:
        reason = messages.text(verdict.refused, locale) if verdict.refused else verdict.how
        notice = drafts.to_agent(agent, MailKind.AGENT_REFUSED, locale=locale, mail=mail, view=view,
                                 values={"reason": reason, "lines": [c.line for c in parsed.commands]})
        return Outcome(disposition=Disposition.APPENDED, ticket_id=view.id, events=(received,), outgoing=(notice,))

    work = Work(view, shown=view.status)
    results: list[tuple[Command, Reason | None]] = []
    for command in parsed.commands:
        results.append((command, command.error or agent_commands.apply(command, work, agent, parsed.text, ctx)))
    results += [(stray, stray.error) for stray in parsed.strays]  # in doubt: refuse and ask, never relay
    refused = any(r is not None for _, r in results)
    lines = [{"line": c.line, "ok": r is None, "result": messages.text(r, locale) if r else ""} for c, r in results]

    if refused:
        refused_mail = drafts.to_agent(agent, MailKind.TRANSCRIPT, locale=locale, mail=mail, view=view,
                                     values=transcript.values(lines, applied=False, text=parsed.text))
        event = EventSpec("commands_refused", {"by": sender, "lines": lines})
        return Outcome(disposition=Disposition.APPENDED, ticket_id=view.id, events=(received, event),
                       outgoing=(refused_mail,))

    if parsed.text.strip() and not work.internal and not work.text_used and work.merge_into is None:
        if work.view.status in (Status.OPEN, Status.TAKEN) and work.go(Action.START) is None:
            work.events.append(EventSpec("status", {"to": Status.IN_PROGRESS.value, "by": sender,
                                                    "why": "answer relayed"}))
        if work.view.assignee is None:
            work.set(assignee=sender)
        relay = drafts.to_customer(work.view, MailKind.RELAY, values={"text": parsed.text},
                                   agents=frozenset(ctx.agents))
        work.outgoing.append(relay)
        work.text_to.append(TextTo(where=Destination.CUSTOMER, people=(relay.to, *relay.cc)))
        work.events.append(EventSpec("answer_relayed", {"by": sender}))
    if work.internal:
        work.events.append(EventSpec("internal_note", {"by": sender, "text": parsed.text}))
    notices.for_requester(view, work, agent, ctx)
    outgoing = list(work.outgoing)
    if parsed.commands:
        outgoing.append(drafts.to_agent(agent, MailKind.TRANSCRIPT, locale=locale, mail=mail, view=work.view,
                                        values=transcript.values(
                                            lines, applied=True, text=parsed.text, text_to=tuple(work.text_to),
                                            internal=work.internal, merged_into=work.merge_into)))
        work.events.append(EventSpec("commands_applied", {"by": sender, "lines": lines}))
    return Outcome(
        disposition=Disposition.APPENDED, ticket_id=view.id, events=(received, *work.events),
        outgoing=tuple(outgoing), change=work.change, time_entries=tuple(work.time_entries),
        open_task=work.open_task, estimate=work.estimate, merge_into=work.merge_into, article=work.article,
    )
