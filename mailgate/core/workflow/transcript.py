"""Core: what a consultant's transcript says beyond each line's result: exactly where the mail's text went
(the customer, a colleague, a level's consultants, an internal note) or that it went nowhere."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mailgate.core.model import Address


class Destination(StrEnum):
    CUSTOMER = "customer"  # relayed, or in the estimate or resolution mail
    COLLEAGUE = "colleague"  # with an assignment
    LEVEL = "level"  # with an escalation, to the consultants of the new level


@dataclass(frozen=True, slots=True, kw_only=True)
class TextTo:
    """Where the message text of a consultant's mail went."""

    where: Destination
    people: tuple[Address, ...] = ()
    level: int | None = None


def values(lines: list[dict[str, object]], *, applied: bool, text: str, text_to: tuple[TextTo, ...] = (),
           internal: bool = False, merged_into: int | None = None) -> dict[str, object]:
    """The transcript template's values: each line's result, and where the text went (nowhere when refused)."""
    went = [{"where": t.where.value, "names": names(t.people), "level": t.level} for t in text_to if applied]
    return {"lines": lines, "applied": applied, "text_to": went, "has_text": bool(text.strip()),
            "internal": internal, "merged_into": merged_into}


def names(people: tuple[Address, ...]) -> str:
    return ", ".join(f"{a.name} <{a.email}>" if a.name else a.email for a in people)
