"""Core: imputation task titles and the billable basis of a month, per customer and ticket.

Assistance and incident tickets are billed on the time logged in the month × the customer's hourly
rate; an évolution is billed on its validated estimate, in the month the customer approved it (the
time logged on it is shown, not billed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from mailgate.core.model import RequestType

MONTHS_FR = ("Janvier", "Février", "Mars", "Avril", "Mai", "Juin", "Juillet", "Août", "Septembre",
             "Octobre", "Novembre", "Décembre")
CENT = Decimal("0.01")


def task_title(ticket_id: int, title: str, year: int, month: int) -> str:
    """`#88 - Création de l'utilisateur Fabrice - Janvier 2022`."""
    return f"#{ticket_id} - {title} - {MONTHS_FR[month - 1]} {year}"


@dataclass(frozen=True, slots=True)
class TicketMonth:
    """What the store knows of one ticket for the month billed."""

    ticket_id: int
    title: str
    type: RequestType
    customer: str | None
    minutes: int  # logged in the month
    approved_estimate: Decimal | None  # amount of an estimate approved in the month


@dataclass(frozen=True, slots=True)
class Line:
    customer: str
    ticket_id: int
    title: str
    type: str
    basis: str  # "time" | "estimate"
    minutes: int
    rate: Decimal
    amount: Decimal


def lines(tickets: Iterable[TicketMonth], rates: Mapping[str, Decimal]) -> list[Line]:
    """The billable lines, by customer then ticket; tickets with nothing billable are left out."""
    result: list[Line] = []
    for t in tickets:
        customer = t.customer or "(no customer)"
        rate = rates.get(customer, Decimal(0))
        if t.type is RequestType.EVOLUTION:
            if t.approved_estimate is None:
                continue
            result.append(Line(customer, t.ticket_id, t.title, t.type.value, "estimate", t.minutes, rate,
                               t.approved_estimate.quantize(CENT, ROUND_HALF_UP)))
        elif t.minutes > 0:
            amount = (Decimal(t.minutes) * rate / 60).quantize(CENT, ROUND_HALF_UP)
            result.append(Line(customer, t.ticket_id, t.title, t.type.value, "time", t.minutes, rate, amount))
    return sorted(result, key=lambda line: (line.customer, line.ticket_id))


def totals(billed: Iterable[Line]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for line in billed:
        sums[line.customer] = sums.get(line.customer, Decimal(0)) + line.amount
    return sums
