"""Core: the ticket state machine, a transition table; every move of a ticket's status goes through it.

See docs/workflow.md for the process it encodes (the customer's documents) and a diagram.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mailgate.core.model import Reason, RequestType, Status

S = Status


class Action(StrEnum):
    TAKE = "take"  # a consultant takes the ticket
    START = "start"  # work begins (or resumes): En cours
    WAIT = "wait"  # parked on the customer or a vendor: Un instant
    RESUME = "resume"  # the awaited answer came: back where it was
    SEND_ESTIMATE = "send_estimate"  # évolution: the estimate goes to the customer for approval
    APPROVE_ESTIMATE = "approve_estimate"  # the customer accepts it: work starts
    REFUSE_ESTIMATE = "refuse_estimate"  # the customer refuses it: back to analysis
    RESOLVE = "resolve"  # the answer is sent; the customer is asked to confirm
    CONFIRM = "confirm"  # the customer confirms the resolution
    CONTEST = "contest"  # the customer says it is not solved
    CLOSE = "close"  # a consultant closes it
    AUTO_CLOSE = "auto_close"  # no answer to the resolution for auto_close_days
    REOPEN = "reopen"  # a closed ticket comes back to work
    MERGE = "merge"  # merged into another ticket: closed here


_WORK = (S.OPEN, S.TAKEN, S.IN_PROGRESS, S.IN_REALIZATION)
_NOT_CLOSED = tuple(s for s in Status if s is not S.CLOSED)

# (from, action) -> to. RESUME is special: it goes back to the status the ticket had before WAIT.
TABLE: dict[tuple[Status, Action], Status] = {
    (S.OPEN, Action.TAKE): S.TAKEN,
    **{(s, Action.START): S.IN_PROGRESS for s in (S.OPEN, S.TAKEN, S.WAITING)},
    **{(s, Action.WAIT): S.WAITING for s in (*_WORK, S.AWAITING_ESTIMATE_APPROVAL)},
    (S.WAITING, Action.RESUME): S.WAITING,  # placeholder: the target is the saved status
    **{(s, Action.SEND_ESTIMATE): S.AWAITING_ESTIMATE_APPROVAL
       for s in (S.TAKEN, S.IN_PROGRESS, S.AWAITING_ESTIMATE_APPROVAL)},
    (S.AWAITING_ESTIMATE_APPROVAL, Action.APPROVE_ESTIMATE): S.IN_REALIZATION,
    (S.AWAITING_ESTIMATE_APPROVAL, Action.REFUSE_ESTIMATE): S.IN_PROGRESS,
    **{(s, Action.RESOLVE): S.ANSWER_SENT for s in (S.TAKEN, S.IN_PROGRESS, S.WAITING, S.IN_REALIZATION,
                                                   S.ANSWER_SENT)},
    (S.ANSWER_SENT, Action.CONFIRM): S.CLOSED,
    (S.ANSWER_SENT, Action.CONTEST): S.IN_PROGRESS,
    **{(s, Action.CLOSE): S.CLOSED for s in _NOT_CLOSED},
    (S.ANSWER_SENT, Action.AUTO_CLOSE): S.CLOSED,
    (S.CLOSED, Action.REOPEN): S.IN_PROGRESS,
    (S.ANSWER_SENT, Action.REOPEN): S.IN_PROGRESS,
    **{(s, Action.MERGE): S.CLOSED for s in _NOT_CLOSED},
}

# Actions that only make sense for some request types.
ONLY_FOR: dict[Action, frozenset[RequestType]] = {
    Action.SEND_ESTIMATE: frozenset({RequestType.EVOLUTION}),
    Action.APPROVE_ESTIMATE: frozenset({RequestType.EVOLUTION}),
    Action.REFUSE_ESTIMATE: frozenset({RequestType.EVOLUTION}),
}

# Which status a `status <x>` command asks for maps to which action (the others are refused).
STATUS_ACTIONS: dict[Status, Action] = {
    S.TAKEN: Action.TAKE,
    S.IN_PROGRESS: Action.START,
    S.WAITING: Action.WAIT,
    S.ANSWER_SENT: Action.RESOLVE,
    S.CLOSED: Action.CLOSE,
}
STATUS_REFUSALS: dict[Status, Reason] = {
    S.OPEN: Reason("status_back_to_open", {"status": S.OPEN}),
    S.AWAITING_ESTIMATE_APPROVAL: Reason("status_by_estimate"),
    S.IN_REALIZATION: Reason("status_by_approval"),
}


@dataclass(frozen=True, slots=True)
class Move:
    """The result of asking for an action: the new status, or why it is refused."""

    to: Status | None
    refused: Reason | None = None

    @property
    def ok(self) -> bool:
        return self.to is not None


def move(status: Status, action: Action, type_: RequestType, resume_to: Status | None = None) -> Move:
    """Where `action` takes a ticket in `status`, per the table; a refusal says why, and what is possible."""
    allowed_types = ONLY_FOR.get(action)
    if allowed_types is not None and type_ not in allowed_types:
        return Move(None, Reason("only_for_evolution", {"action": action, "type": type_}))
    target = TABLE.get((status, action))
    if target is None:
        return Move(None, Reason("not_possible", {"action": action, "status": status, "after": "",
                                                  "possible": possible(status, type_)}))
    if action is Action.RESUME:
        return Move(resume_to or S.IN_PROGRESS)
    return Move(target)


def possible(status: Status, type_: RequestType) -> tuple[Action, ...]:
    """The actions a ticket of this type may take from this status, in the table's order."""
    return tuple(dict.fromkeys(a for (s, a) in TABLE if s is status and type_ in ONLY_FOR.get(a, (type_,))))
