"""Core: consultants' commands as a table of small handlers over the ticket as one mail changes it.

Each handler gets the command, the work in hand, the consultant, the mail's text and the context; it
changes the work and returns "" when applied, else the reason it is refused (docs/commands.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mailgate.core.model import Agent, Priority, RequestType, Status, TicketView
from mailgate.core.outcome import EstimateChange, EventSpec, MailKind, OutgoingDraft, TicketChange, TimeEntry
from mailgate.core.workflow import authn, commands, drafts
from mailgate.core.workflow import transitions as workflow
from mailgate.core.workflow.commands import Command
from mailgate.core.workflow.transitions import Action

BASE_LEVEL = {RequestType.ASSISTANCE: 1, RequestType.INCIDENT: 2, RequestType.EVOLUTION: 2}
ALLOWED_WHEN_CLOSED = frozenset({"reopen", "time", "internal", "status"})


@dataclass(frozen=True, slots=True)
class AgentContext:
    agents: Mapping[str, Agent]
    sent: Mapping[str, authn.SentMail]
    trust: authn.Trust
    tickets: Mapping[int, TicketView]  # includes merge targets named by commands


@dataclass(slots=True)
class Work:
    """The ticket as the commands of one mail change it, step by step."""

    view: TicketView
    change: TicketChange = field(default_factory=TicketChange)
    events: list[EventSpec] = field(default_factory=list)
    outgoing: list[OutgoingDraft] = field(default_factory=list)
    time_entries: list[TimeEntry] = field(default_factory=list)
    estimate: EstimateChange | None = None
    merge_into: int | None = None
    open_task: bool = False
    text_used: bool = False  # the message text went out in a command's mail (estimate, resolve)
    internal: bool = False

    def set(self, **values: Any) -> None:
        """Columns of the ticket to set; the view follows, for the next commands and the mails."""
        self.change = replace(self.change, **values)
        self.view = drafts.after(self.view, TicketChange(**values))

    def go(self, action: Action) -> str:
        """Move the status; '' when done, else the reason it is refused."""
        v = self.view
        step = workflow.move(v.status, action, v.type, v.resume_status)
        if not step.ok:
            return step.refused
        assert step.to is not None
        if step.to is Status.WAITING and v.status is not Status.WAITING:
            self.set(resume_status=v.status)
        if step.to is not v.status:
            self.set(status=step.to)
        return ""


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


def apply(command: Command, work: Work, agent: Agent, text: str, ctx: AgentContext) -> str:
    """Apply one command to the work in hand; "" when applied, else why it is refused."""
    if work.view.status is Status.CLOSED and command.name not in ALLOWED_WHEN_CLOSED:
        return f"ticket #{work.view.id} is closed (Fermé): reopen it first"
    handler = HANDLERS.get(command.name)
    if handler is None:
        return f"unknown command {command.name!r}"
    return handler(Step(command, work, agent, text, ctx))


def _take(s: Step) -> str:
    if s.work.view.status is Status.OPEN:
        s.work.go(Action.TAKE)
    s.work.set(assignee=s.agent.email)
    s.work.open_task = True
    s.work.events.append(EventSpec("taken", {"by": s.agent.email}))
    return ""


def _status(s: Step) -> str:
    v = s.work.view
    target = Status(str(s.args["status"]))
    if target is v.status:
        return f"the ticket is already {target.value} ({target.label})"
    if target in workflow.STATUS_REFUSALS:
        return workflow.STATUS_REFUSALS[target]
    action = workflow.STATUS_ACTIONS[target]
    if action is Action.RESOLVE:
        return _resolve(s)
    if action is Action.START and v.status is Status.CLOSED:
        action = Action.REOPEN
    refusal = s.work.go(action)
    if not refusal:
        s.work.events.append(EventSpec("status", {"to": target.value, "by": s.agent.email}))
        if action is Action.TAKE:
            s.work.set(assignee=s.agent.email)
            s.work.open_task = True
    return refusal


def _assign(s: Step) -> str:
    v = s.work.view
    target_agent = _find_agent(str(s.args["who"]), s.agent, s.ctx.agents)
    if target_agent is None:
        return f"no consultant called {s.args['who']!r} in the config"
    if v.status is Status.OPEN:
        s.work.go(Action.TAKE)
    s.work.set(assignee=target_agent.email)
    s.work.open_task = True
    s.work.events.append(EventSpec("assigned", {"to": target_agent.email, "by": s.agent.email}))
    if target_agent.email != s.agent.email:  # the text goes to the colleague, not to the customer
        s.work.outgoing.append(drafts.to_agent(target_agent, MailKind.NOTIFY_ASSIGNED, locale=v.locale, view=v,
                                               values={"by": s.agent.name, "text": s.text}))
        s.work.text_used = True
    return ""


def _escalate(s: Step) -> str:
    v = s.work.view
    level = s.args["level"] if s.args["level"] is not None else v.level + 1
    assert isinstance(level, int)
    if level > 4:
        return f"the ticket is at N{v.level}: there is no level above N4"
    if level <= v.level:
        return f"the ticket is already at N{v.level}: escalate goes up (use assign to hand it over)"
    return _to_level(s, level, reason="escalated")


def _time(s: Step) -> str:
    minutes = s.args["minutes"]
    assert isinstance(minutes, int)
    s.work.time_entries.append(TimeEntry(s.agent.email, minutes, str(s.args.get("comment") or "")))
    s.work.open_task = True
    return ""


def _estimate(s: Step) -> str:
    refusal = s.work.go(Action.SEND_ESTIMATE)
    if refusal:
        return refusal
    amount, days = s.args.get("amount"), s.args.get("days")
    s.work.estimate = EstimateChange(state="proposed", amount=_str(amount), days=_str(days), by=s.agent.email)
    s.work.outgoing.append(drafts.to_customer(
        s.work.view, MailKind.ESTIMATE_REQUEST, awaits=MailKind.ESTIMATE_REQUEST, agents=frozenset(s.ctx.agents),
        values={"amount": amount, "days": days, "text": s.text}))
    s.work.text_used = True
    s.work.events.append(EventSpec("estimate_sent", {"amount": amount, "days": days, "by": s.agent.email}))
    return ""


def _wait(s: Step) -> str:
    refusal = s.work.go(Action.WAIT)
    if not refusal:
        s.work.set(waiting_on=s.args["on"])
        s.work.events.append(EventSpec("waiting", {"on": s.args["on"], "reason": s.args.get("reason") or "",
                                                   "by": s.agent.email}))
    return refusal


def _moves(action: Action, event: str) -> Callable[[Step], str]:
    """A command that only moves the status (close, reopen) and records it."""
    def handler(s: Step) -> str:
        refusal = s.work.go(action)
        if not refusal:
            s.work.events.append(EventSpec(event, {"by": s.agent.email}))
        return refusal

    return handler


def _merge(s: Step) -> str:
    v = s.work.view
    into = s.args["into"]
    assert isinstance(into, int)
    survivor = s.ctx.tickets.get(into)
    if survivor is None:
        return f"there is no ticket #{into}"
    if survivor.merged_into is not None:
        return f"ticket #{into} is itself merged into #{survivor.merged_into}: merge into that one"
    if into == v.id:
        return "a ticket cannot be merged into itself"
    if survivor.status is Status.CLOSED:
        return f"ticket #{into} is closed: reopen it first"
    refusal = s.work.go(Action.MERGE)
    if not refusal:
        s.work.set(merged_into=into)
        s.work.merge_into = into
        s.work.events.append(EventSpec("merged", {"into": into, "by": s.agent.email}))
    return refusal


def _priority(s: Step) -> str:
    priority = Priority(str(s.args["priority"]))
    s.work.set(priority=priority)
    s.work.events.append(EventSpec("priority", {"to": priority.value, "by": s.agent.email}))
    return ""


def _type(s: Step) -> str:
    type_ = RequestType(str(s.args["type"]))
    s.work.set(type=type_)
    s.work.events.append(EventSpec("type", {"to": type_.value, "by": s.agent.email}))
    if BASE_LEVEL[type_] > s.work.view.level:
        return _to_level(s, BASE_LEVEL[type_], reason="type")
    return ""


def _internal(s: Step) -> str:
    s.work.internal = True
    return ""


def _resolve(s: Step) -> str:
    if not s.text.strip():
        return "resolve relays your answer to the customer: write it below the command lines"
    refusal = s.work.go(Action.RESOLVE)
    if refusal:
        return refusal
    if s.work.view.assignee is None:
        s.work.set(assignee=s.agent.email)
    s.work.outgoing.append(drafts.to_customer(s.work.view, MailKind.RESOLUTION, awaits=MailKind.RESOLUTION,
                                              agents=frozenset(s.ctx.agents), values={"text": s.text}))
    s.work.text_used = True
    s.work.events.append(EventSpec("resolved", {"by": s.agent.email}))
    return ""


def _to_level(s: Step, level: int, *, reason: str) -> str:
    v = s.work.view
    s.work.set(level=level, assignee=None)
    s.work.events.append(EventSpec("escalated", {"from": v.level, "to": level, "by": s.agent.email, "why": reason}))
    targets = drafts.level_agents(s.ctx.agents, level)
    for target in targets:
        s.work.outgoing.append(drafts.to_agent(target, MailKind.NOTIFY_ESCALATED, locale=v.locale, view=s.work.view,
                                               values={"by": s.agent.name, "from_level": v.level, "text": s.text}))
    if not targets:
        s.work.events.append(EventSpec("nobody_notified", {"level": level}))
    s.work.text_used = True  # the text goes to the next level, not to the customer
    return ""


def _find_agent(who: str, me: Agent, agents: Mapping[str, Agent]) -> Agent | None:
    wanted = commands.fold(who)
    if wanted in ("me", "moi", "myself", "moi-meme"):
        return me
    for a in agents.values():
        if wanted in (a.email, commands.fold(a.name)) or wanted == a.email.partition("@")[0]:
            return a
    return None


def _str(value: object) -> str | None:
    return None if value is None else str(value)


HANDLERS: dict[str, Callable[[Step], str]] = {
    "take": _take, "status": _status, "assign": _assign, "escalate": _escalate, "time": _time,
    "estimate": _estimate, "resolve": _resolve, "wait": _wait, "close": _moves(Action.CLOSE, "closed"),
    "reopen": _moves(Action.REOPEN, "reopened"), "merge": _merge, "priority": _priority, "type": _type,
    "internal": _internal,
}
