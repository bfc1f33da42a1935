"""Core: consultants' commands as a table of small handlers over the ticket as one mail changes it.

Each handler gets the command, the work in hand, the consultant, the mail's text and the context; it
changes the work and returns None when applied, else the reason it is refused (docs/commands.md), which
messages.py says in the ticket's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mailgate.core.kb.model import SEARCHABLE
from mailgate.core.model import Address, Agent, Priority, Reason, RequestType, Status
from mailgate.core.outcome import ArticleRequest, EstimateChange, EventSpec, MailKind, TimeEntry
from mailgate.core.workflow import command_words, drafts
from mailgate.core.workflow import transitions as workflow
from mailgate.core.workflow.commands import Command
from mailgate.core.workflow.transcript import Destination, TextTo
from mailgate.core.workflow.transitions import Action
from mailgate.core.workflow.work import AgentContext, Work

BASE_LEVEL = {RequestType.ASSISTANCE: 1, RequestType.INCIDENT: 2, RequestType.EVOLUTION: 2}
ALLOWED_WHEN_CLOSED = frozenset({"reopen", "time", "internal", "status", "kb"})


@dataclass(frozen=True, slots=True)
class Step:
    """One command line to apply, with what its handler may read."""

    command: Command
    work: Work
    agent: Agent
    text: str  # the mail's text below the command lines
    ctx: AgentContext

    @property
    def args(self) -> dict[str, object]:
        return self.command.args


def apply(command: Command, work: Work, agent: Agent, text: str, ctx: AgentContext) -> Reason | None:
    """Apply one command to the work in hand; None when applied, else why it is refused."""
    if work.view.status is Status.CLOSED and command.name not in ALLOWED_WHEN_CLOSED:
        return Reason("closed_reopen_first", {"ticket": work.view.id})
    handler = HANDLERS.get(command.name)
    if handler is None:
        return Reason("unknown_command", {"got": command.name})
    return handler(Step(command, work, agent, text, ctx))


def _take(s: Step) -> Reason | None:
    if s.work.view.status is Status.OPEN:
        s.work.go(Action.TAKE)
    s.work.set(assignee=s.agent.email)
    s.work.open_task = True
    s.work.events.append(EventSpec("taken", {"by": s.agent.email}))
    return None


def _status(s: Step) -> Reason | None:
    v = s.work.view
    target = Status(str(s.args["status"]))
    if target is v.status:
        return Reason("status_already", {"status": target})
    if target in workflow.STATUS_REFUSALS:
        return workflow.STATUS_REFUSALS[target]
    action = workflow.STATUS_ACTIONS[target]
    if action is Action.RESOLVE:
        return _resolve(s)
    if action is Action.START and v.status is Status.CLOSED:
        action = Action.REOPEN
    refusal = s.work.go(action)
    if refusal is None:
        s.work.events.append(EventSpec("status", {"to": target.value, "by": s.agent.email}))
        if action is Action.TAKE:
            s.work.set(assignee=s.agent.email)
            s.work.open_task = True
    return refusal


def _assign(s: Step) -> Reason | None:
    v = s.work.view
    target_agent = _find_agent(str(s.args["who"]), s.agent, s.ctx.agents)
    if target_agent is None:
        return Reason("no_such_agent", {"who": s.args["who"]})
    if v.status is Status.OPEN:
        s.work.go(Action.TAKE)
    s.work.set(assignee=target_agent.email)
    s.work.open_task = True
    s.work.events.append(EventSpec("assigned", {"to": target_agent.email, "by": s.agent.email}))
    if target_agent.email != s.agent.email:  # the text goes to the colleague, not to the customer
        s.work.outgoing.append(drafts.to_agent(target_agent, MailKind.NOTIFY_ASSIGNED, locale=v.locale, view=v,
                                               values={"by": s.agent.name, "text": s.text}))
        if s.text.strip():
            s.work.text_to.append(TextTo(where=Destination.COLLEAGUE, people=(target_agent.address,)))
    return None


def _escalate(s: Step) -> Reason | None:
    v = s.work.view
    level = s.args["level"] if s.args["level"] is not None else v.level + 1
    assert isinstance(level, int)
    if level > 4:
        return Reason("no_level_above", {"level": v.level})
    if level <= v.level:
        return Reason("escalate_goes_up", {"level": v.level})
    return _to_level(s, level, reason="escalated")


def _time(s: Step) -> Reason | None:
    minutes = s.args["minutes"]
    assert isinstance(minutes, int)
    s.work.time_entries.append(TimeEntry(s.agent.email, minutes, str(s.args.get("comment") or "")))
    s.work.open_task = True
    return None


def _estimate(s: Step) -> Reason | None:
    refusal = s.work.go(Action.SEND_ESTIMATE)
    if refusal is not None:
        return refusal
    amount, days = s.args.get("amount"), s.args.get("days")
    s.work.estimate = EstimateChange(state="proposed", amount=_str(amount), days=_str(days), by=s.agent.email)
    v = s.work.view
    approvers = s.ctx.approvers.get(v.customer, frozenset()) if v.customer else frozenset()
    draft = drafts.to_customer(v, MailKind.ESTIMATE_REQUEST, awaits=MailKind.ESTIMATE_REQUEST,
                               agents=frozenset(s.ctx.agents), also=tuple(Address(a) for a in sorted(approvers)),
                               values={"amount": amount, "days": days, "text": s.text})
    s.work.outgoing.append(draft)
    s.work.text_to.append(TextTo(where=Destination.CUSTOMER, people=(draft.to, *draft.cc)))
    s.work.events.append(EventSpec("estimate_sent", {"amount": amount, "days": days, "by": s.agent.email,
                                                     "to": [a.email for a in (draft.to, *draft.cc)]}))
    return None


def _wait(s: Step) -> Reason | None:
    refusal = s.work.go(Action.WAIT)
    if refusal is None:
        s.work.set(waiting_on=s.args["on"])
        s.work.events.append(EventSpec("waiting", {"on": s.args["on"], "reason": s.args.get("reason") or "",
                                                   "by": s.agent.email}))
    return refusal


def _moves(action: Action, event: str) -> Callable[[Step], Reason | None]:
    """A command that only moves the status (close, reopen) and records it."""
    def handler(s: Step) -> Reason | None:
        refusal = s.work.go(action)
        if refusal is None:
            s.work.events.append(EventSpec(event, {"by": s.agent.email}))
        return refusal

    return handler


def _merge(s: Step) -> Reason | None:
    v = s.work.view
    into = s.args["into"]
    assert isinstance(into, int)
    survivor = s.ctx.tickets.get(into)
    if survivor is None:
        return Reason("no_such_ticket", {"ticket": into})
    if survivor.merged_into is not None:
        return Reason("merged_elsewhere", {"ticket": into, "into": survivor.merged_into})
    if into == v.id:
        return Reason("merge_into_itself")
    if survivor.status is Status.CLOSED:
        return Reason("merge_into_closed", {"ticket": into})
    refusal = s.work.go(Action.MERGE)
    if refusal is None:
        s.work.set(merged_into=into)
        s.work.merge_into = into
        s.work.events.append(EventSpec("merged", {"into": into, "by": s.agent.email}))
        if s.work.view.requester is not None:  # the customer learns where their request now lives
            s.work.outgoing.append(drafts.to_customer(s.work.view, MailKind.MERGED, automatic=True,
                                                      agents=frozenset(s.ctx.agents),
                                                      values={"into": into, "into_title": survivor.title}))
    return refusal


def _priority(s: Step) -> Reason | None:
    priority = Priority(str(s.args["priority"]))
    s.work.set(priority=priority)
    s.work.events.append(EventSpec("priority", {"to": priority.value, "by": s.agent.email}))
    return None


def _type(s: Step) -> Reason | None:
    type_ = RequestType(str(s.args["type"]))
    s.work.set(type=type_)
    s.work.events.append(EventSpec("type", {"to": type_.value, "by": s.agent.email}))
    if BASE_LEVEL[type_] > s.work.view.level:
        return _to_level(s, BASE_LEVEL[type_], reason="type")
    return None


def _internal(s: Step) -> Reason | None:
    s.work.internal = True
    return None


def _kb(s: Step) -> Reason | None:
    """An article of the ticket's resolution: once it is answered or closed (a resolve or close before it in
    the same mail counts)."""
    if s.work.view.status not in SEARCHABLE:
        return Reason("kb_not_resolved", {"ticket": s.work.view.id})
    publish = bool(s.args.get("publish"))
    s.work.article = ArticleRequest(by=s.agent.email, title=_str(s.args.get("title")), publish=publish)
    s.work.events.append(EventSpec("kb_article", {"by": s.agent.email, "publish": publish}))
    return None


def _resolve(s: Step) -> Reason | None:
    if not s.text.strip():
        return Reason("resolve_needs_text")
    refusal = s.work.go(Action.RESOLVE)
    if refusal is not None:
        return refusal
    if s.work.view.assignee is None:
        s.work.set(assignee=s.agent.email)
    draft = drafts.to_customer(s.work.view, MailKind.RESOLUTION, awaits=MailKind.RESOLUTION,
                               agents=frozenset(s.ctx.agents), values={"text": s.text})
    s.work.outgoing.append(draft)
    s.work.text_to.append(TextTo(where=Destination.CUSTOMER, people=(draft.to, *draft.cc)))
    s.work.events.append(EventSpec("resolved", {"by": s.agent.email}))
    return None


def _to_level(s: Step, level: int, *, reason: str) -> Reason | None:
    v = s.work.view
    s.work.set(level=level, assignee=None)
    s.work.events.append(EventSpec("escalated", {"from": v.level, "to": level, "by": s.agent.email, "why": reason}))
    targets = drafts.level_agents(s.ctx.agents, level)
    for target in targets:
        s.work.outgoing.append(drafts.to_agent(target, MailKind.NOTIFY_ESCALATED, locale=v.locale, view=s.work.view,
                                               values={"by": s.agent.name, "from_level": v.level, "text": s.text}))
    if not targets:
        s.work.events.append(EventSpec("nobody_notified", {"level": level}))
    if s.text.strip():  # the text goes to the next level, not to the customer
        s.work.text_to.append(TextTo(where=Destination.LEVEL, people=tuple(a.address for a in targets), level=level))
    return None


def _find_agent(who: str, me: Agent, agents: Mapping[str, Agent]) -> Agent | None:
    wanted = command_words.fold(who)
    if wanted in ("me", "moi", "myself", "moi-meme"):
        return me
    for a in agents.values():
        if wanted in (a.email, command_words.fold(a.name)) or wanted == a.email.partition("@")[0]:
            return a
    return None


def _str(value: object) -> str | None:
    return None if value is None else str(value)


HANDLERS: dict[str, Callable[[Step], Reason | None]] = {
    "take": _take, "status": _status, "assign": _assign, "escalate": _escalate, "time": _time,
    "estimate": _estimate, "resolve": _resolve, "wait": _wait, "close": _moves(Action.CLOSE, "closed"),
    "reopen": _moves(Action.REOPEN, "reopened"), "merge": _merge, "priority": _priority, "type": _type,
    "internal": _internal, "kb": _kb,
}
