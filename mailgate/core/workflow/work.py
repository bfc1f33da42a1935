"""Core: the ticket as the commands of one consultant's mail change it, step by step (the view, the change,
the events and mails so far), and what those commands may read (AgentContext)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mailgate.core.model import Agent, Reason, Status, TicketView
from mailgate.core.outcome import ArticleRequest, EstimateChange, EventSpec, OutgoingDraft, TicketChange, TimeEntry
from mailgate.core.workflow import authn, drafts, messages
from mailgate.core.workflow import transitions as workflow
from mailgate.core.workflow.transcript import TextTo
from mailgate.core.workflow.transitions import Action


@dataclass(frozen=True, slots=True)
class AgentContext:
    agents: Mapping[str, Agent]
    sent: Mapping[str, authn.SentMail]
    trust: authn.Trust
    tickets: Mapping[int, TicketView]  # includes merge targets named by commands
    approvers: Mapping[str, frozenset[str]] = field(default_factory=dict)  # customer -> who may approve
    notify: frozenset[str] = frozenset()  # the status changes the requester hears of (Desk.notify_requester)


@dataclass(slots=True)
class Work:
    """The ticket as the commands of one mail change it, step by step."""

    view: TicketView
    shown: Status  # the status the consultant saw (the transcript's footer when nothing applies)
    change: TicketChange = field(default_factory=TicketChange)
    events: list[EventSpec] = field(default_factory=list)
    outgoing: list[OutgoingDraft] = field(default_factory=list)
    time_entries: list[TimeEntry] = field(default_factory=list)
    estimate: EstimateChange | None = None
    merge_into: int | None = None
    open_task: bool = False
    text_to: list[TextTo] = field(default_factory=list)  # where the message text went, said in the transcript
    internal: bool = False
    moves: list[Status] = field(default_factory=list)  # every status the commands moved the ticket to, in order
    article: ArticleRequest | None = None  # the `kb` command's

    def set(self, **values: Any) -> None:
        """Columns of the ticket to set; the view follows, for the next commands and the mails."""
        self.change = replace(self.change, **values)
        self.view = drafts.after(self.view, TicketChange(**values))

    def go(self, action: Action) -> Reason | None:
        """Move the status; None when done, else the reason it is refused, in the consultant's words: their
        keywords, only what this ticket's type allows, and the status the earlier commands left it in when
        that is not the one they saw."""
        v = self.view
        step = workflow.move(v.status, action, v.type, v.resume_status)
        if step.refused is not None:
            refused = step.refused
            if refused.code == "not_possible":
                after = Reason("after_previous", {"shown": self.shown}) if v.status is not self.shown else ""
                allowed = tuple(a for a in workflow.possible(v.status, v.type) if a in messages.CONSULTANT_ACTIONS)
                refused = Reason(refused.code, {**refused.values, "after": after, "possible": allowed})
            return refused
        assert step.to is not None
        if step.to is Status.WAITING and v.status is not Status.WAITING:
            self.set(resume_status=v.status)
        if step.to is not v.status:
            self.set(status=step.to)
            self.moves.append(step.to)
        return None

    @property
    def text_used(self) -> bool:
        """The message text went out in a command's mail (estimate, resolve, assign, escalate)."""
        return bool(self.text_to)
