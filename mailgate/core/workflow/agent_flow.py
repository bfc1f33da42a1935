"""Core: a consultant's mail on a ticket -> commands applied all together (or none), the answer relayed
to the customer, a transcript to the consultant. See docs/commands.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mailgate.core.model import (
    Agent,
    EstimateChange,
    EventSpec,
    Outcome,
    OutgoingDraft,
    ParsedMail,
    Priority,
    RequestType,
    Status,
    TicketView,
    TimeEntry,
)
from mailgate.core.workflow import authn, commands, drafts
from mailgate.core.workflow import transitions as workflow
from mailgate.core.workflow.commands import Command
from mailgate.core.workflow.transitions import Action

BASE_LEVEL = {RequestType.ASSISTANCE: 1, RequestType.INCIDENT: 2, RequestType.EVOLUTION: 2}


@dataclass(frozen=True, slots=True)
class AgentContext:
    agents: Mapping[str, Agent]
    sent: Mapping[str, authn.SentMail]
    trusted_authserv_ids: frozenset[str]
    tickets: Mapping[int, TicketView]  # includes merge targets named by commands


@dataclass(slots=True)
class _Work:
    """The ticket as the commands of one mail change it, step by step."""

    view: TicketView
    changes: dict[str, object] = field(default_factory=dict)
    events: list[EventSpec] = field(default_factory=list)
    outgoing: list[OutgoingDraft] = field(default_factory=list)
    time_entries: list[TimeEntry] = field(default_factory=list)
    estimate: EstimateChange | None = None
    merge_into: int | None = None
    open_task: bool = False
    text_used: bool = False  # the message text went out in a command's mail (estimate, resolve)
    internal: bool = False

    def set(self, **values: Any) -> None:
        self.changes.update(values)
        self.view = replace(self.view, **{k: v for k, v in values.items() if k != "waiting_on"})

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


def handle(mail: ParsedMail, text: str, view: TicketView, sender: str, ctx: AgentContext) -> Outcome:
    """The whole effect of consultant `sender`'s mail `text` (quoted history removed) on ticket `view`."""
    agent = ctx.agents[sender]
    parsed = commands.parse(text)
    verdict = authn.agent_mail(mail, sender, ctx.sent, ctx.trusted_authserv_ids)
    received = EventSpec("agent_mail", {"from": sender, "authenticated": verdict.ok, "how": verdict.how,
                                        "commands": [c.line for c in parsed.commands]})
    if not verdict.ok:
        notice = drafts.to_agent(agent, "agent_refused", locale=view.locale, mail=mail, view=view,
                                 values={"reason": verdict.how, "lines": [c.line for c in parsed.commands]})
        return Outcome("appended", None, view.id, (), (received,), (notice,))

    work = _Work(view)
    results: list[tuple[Command, str]] = []  # (command, refusal or "")
    for command in parsed.commands:
        refusal = command.error or _apply(command, work, agent, parsed.text, ctx)
        results.append((command, refusal))
    refused = any(r for _, r in results)
    lines = [{"line": c.line, "ok": not r, "result": r or "applied"} for c, r in results]

    if refused:
        transcript = drafts.to_agent(agent, "transcript", locale=view.locale, mail=mail, view=view,
                                     values={"lines": lines, "applied": False, "relayed": False})
        event = EventSpec("commands_refused", {"by": sender, "lines": lines})
        return Outcome("appended", None, view.id, (), (received, event), (transcript,))

    relayed = False
    if parsed.text.strip() and not work.internal and not work.text_used and work.merge_into is None:
        if work.view.status in (Status.OPEN, Status.TAKEN) and not work.go(Action.START):
            work.events.append(EventSpec("status", {"to": Status.IN_PROGRESS.value, "by": sender,
                                                    "why": "answer relayed"}))
        if work.view.assignee is None:
            work.set(assignee=sender)
        work.outgoing.append(drafts.to_customer(work.view, "relay", values={"text": parsed.text},
                                                agents=frozenset(ctx.agents)))
        relayed = True
    if work.internal:
        work.events.append(EventSpec("internal_note", {"by": sender, "text": parsed.text}))
    elif relayed:
        work.events.append(EventSpec("answer_relayed", {"by": sender}))
    outgoing = list(work.outgoing)
    if parsed.commands:
        outgoing.append(drafts.to_agent(agent, "transcript", locale=view.locale, mail=mail, view=view,
                                        values={"lines": lines, "applied": True,
                                                "relayed": relayed or work.text_used}))
        work.events.append(EventSpec("commands_applied", {"by": sender, "lines": lines}))
    return Outcome(
        "appended", None, view.id, (), (received, *work.events), tuple(outgoing), changes=work.changes,
        time_entries=tuple(work.time_entries), open_task=work.open_task, estimate=work.estimate,
        merge_into=work.merge_into,
    )


def _apply(command: Command, work: _Work, agent: Agent, text: str, ctx: AgentContext) -> str:
    """Apply one command to the work in hand; '' when applied, else why it is refused."""
    v = work.view
    name, args = command.name, command.args
    if v.status is Status.CLOSED and name not in ("reopen", "time", "internal", "status"):
        return f"ticket #{v.id} is closed (Fermé): reopen it first"
    if name == "take":
        if v.status is Status.OPEN:
            work.go(Action.TAKE)
        work.set(assignee=agent.email)
        work.open_task = True
        work.events.append(EventSpec("taken", {"by": agent.email}))
        return ""
    if name == "status":
        target = Status(str(args["status"]))
        if target is v.status:
            return f"the ticket is already {target.value} ({target.label})"
        if target in workflow.STATUS_REFUSALS:
            return workflow.STATUS_REFUSALS[target]
        action = workflow.STATUS_ACTIONS[target]
        if action is Action.RESOLVE:
            return _resolve(work, agent, text, ctx)
        if action is Action.START and v.status is Status.CLOSED:
            action = Action.REOPEN
        refusal = work.go(action)
        if not refusal:
            work.events.append(EventSpec("status", {"to": target.value, "by": agent.email}))
            if action is Action.TAKE:
                work.set(assignee=agent.email)
                work.open_task = True
        return refusal
    if name == "assign":
        target_agent = _find_agent(str(args["who"]), agent, ctx.agents)
        if target_agent is None:
            return f"no consultant called {args['who']!r} in the config"
        if v.status is Status.OPEN:
            work.go(Action.TAKE)
        work.set(assignee=target_agent.email)
        work.open_task = True
        work.events.append(EventSpec("assigned", {"to": target_agent.email, "by": agent.email}))
        if target_agent.email != agent.email:  # the text goes to the colleague, not to the customer
            work.outgoing.append(drafts.to_agent(target_agent, "notify_assigned", locale=v.locale, view=v,
                                                 values={"by": agent.name, "text": text}))
            work.text_used = True
        return ""
    if name == "escalate":
        level = args["level"] if args["level"] is not None else v.level + 1
        assert isinstance(level, int)
        if level > 4:
            return f"the ticket is at N{v.level}: there is no level above N4"
        if level <= v.level:
            return f"the ticket is already at N{v.level}: escalate goes up (use assign to hand it over)"
        return _to_level(work, level, agent, text, ctx, reason="escalated")
    if name == "time":
        minutes = args["minutes"]
        assert isinstance(minutes, int)
        work.time_entries.append(TimeEntry(agent.email, minutes, str(args.get("comment") or "")))
        work.open_task = True
        return ""
    if name == "estimate":
        refusal = work.go(Action.SEND_ESTIMATE)
        if refusal:
            return refusal
        amount, days = args.get("amount"), args.get("days")
        work.estimate = EstimateChange("proposed", None, _str(amount), _str(days), by=agent.email)
        work.outgoing.append(drafts.to_customer(
            work.view, "estimate_request", awaits="estimate_request", agents=frozenset(ctx.agents),
            values={"amount": amount, "days": days, "text": text}))
        work.text_used = True
        work.events.append(EventSpec("estimate_sent", {"amount": amount, "days": days, "by": agent.email}))
        return ""
    if name == "resolve":
        return _resolve(work, agent, text, ctx)
    if name == "wait":
        refusal = work.go(Action.WAIT)
        if not refusal:
            work.changes["waiting_on"] = args["on"]
            work.events.append(EventSpec("waiting", {"on": args["on"], "reason": args.get("reason") or "",
                                                     "by": agent.email}))
        return refusal
    if name == "close":
        refusal = work.go(Action.CLOSE)
        if not refusal:
            work.events.append(EventSpec("closed", {"by": agent.email}))
        return refusal
    if name == "reopen":
        refusal = work.go(Action.REOPEN)
        if not refusal:
            work.events.append(EventSpec("reopened", {"by": agent.email}))
        return refusal
    if name == "merge":
        into = args["into"]
        assert isinstance(into, int)
        survivor = ctx.tickets.get(into)
        if survivor is None:
            return f"there is no ticket #{into}"
        if survivor.merged_into is not None:
            return f"ticket #{into} is itself merged into #{survivor.merged_into}: merge into that one"
        if into == v.id:
            return "a ticket cannot be merged into itself"
        if survivor.status is Status.CLOSED:
            return f"ticket #{into} is closed: reopen it first"
        refusal = work.go(Action.MERGE)
        if not refusal:
            work.set(merged_into=into)
            work.merge_into = into
            work.events.append(EventSpec("merged", {"into": into, "by": agent.email}))
        return refusal
    if name == "priority":
        priority = Priority(str(args["priority"]))
        work.set(priority=priority)
        work.events.append(EventSpec("priority", {"to": priority.value, "by": agent.email}))
        return ""
    if name == "type":
        type_ = RequestType(str(args["type"]))
        work.set(type=type_)
        work.events.append(EventSpec("type", {"to": type_.value, "by": agent.email}))
        if BASE_LEVEL[type_] > work.view.level:
            return _to_level(work, BASE_LEVEL[type_], agent, text, ctx, reason="type")
        return ""
    if name == "internal":
        work.internal = True
        return ""
    return f"unknown command {name!r}"


def _resolve(work: _Work, agent: Agent, text: str, ctx: AgentContext) -> str:
    if not text.strip():
        return "resolve relays your answer to the customer: write it below the command lines"
    refusal = work.go(Action.RESOLVE)
    if refusal:
        return refusal
    if work.view.assignee is None:
        work.set(assignee=agent.email)
    work.outgoing.append(drafts.to_customer(work.view, "resolution", awaits="resolution",
                                            agents=frozenset(ctx.agents), values={"text": text}))
    work.text_used = True
    work.events.append(EventSpec("resolved", {"by": agent.email}))
    return ""


def _to_level(work: _Work, level: int, agent: Agent, text: str, ctx: AgentContext, *, reason: str) -> str:
    v = work.view
    work.set(level=level, assignee=None)
    work.events.append(EventSpec("escalated", {"from": v.level, "to": level, "by": agent.email, "why": reason}))
    targets = drafts.level_agents(ctx.agents, level)
    for target in targets:
        work.outgoing.append(drafts.to_agent(target, "notify_escalated", locale=v.locale, view=work.view,
                                             values={"by": agent.name, "from_level": v.level, "text": text}))
    if not targets:
        work.events.append(EventSpec("nobody_notified", {"level": level}))
    work.text_used = True  # the text goes to the next level, not to the customer
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
