"""Core: a customer's answer keyword (approve/refuse an estimate, confirm/contest a resolution).

The keyword is alone on the first non-blank line of the reply, in French or English, any case, with
or without accents and trailing punctuation. The mails that ask for it say which words count.
"""

from __future__ import annotations

from mailgate.core.workflow.command_words import fold

APPROVE, REFUSE, CONFIRM, CONTEST = "approve", "refuse", "confirm", "contest"

# what a mail asks -> (keyword spelling folded -> answer)
ESTIMATE_WORDS: dict[str, str] = {
    "accepte": APPROVE, "j'accepte": APPROVE, "accepter": APPROVE, "bon pour accord": APPROVE,
    "accept": APPROVE, "accepted": APPROVE, "approve": APPROVE, "approved": APPROVE,
    "refuse": REFUSE, "je refuse": REFUSE, "refuser": REFUSE, "refused": REFUSE, "reject": REFUSE,
    "rejected": REFUSE, "decline": REFUSE, "declined": REFUSE,
}
RESOLUTION_WORDS: dict[str, str] = {
    "resolu": CONFIRM, "resolved": CONFIRM, "solved": CONFIRM, "confirme": CONFIRM, "confirm": CONFIRM,
    "non resolu": CONTEST, "pas resolu": CONTEST, "not resolved": CONTEST, "unresolved": CONTEST,
    "not solved": CONTEST,
}
# the words the mails print, per locale: (yes, no)
SHOWN: dict[str, dict[str, tuple[str, str]]] = {
    "estimate_request": {"fr": ("ACCEPTE", "REFUSE"), "en": ("ACCEPT", "REFUSE")},
    "resolution": {"fr": ("RESOLU", "NON RESOLU"), "en": ("RESOLVED", "NOT RESOLVED")},
}
ASKS = {"estimate_request": ESTIMATE_WORDS, "resolution": RESOLUTION_WORDS}


def first_line(text: str) -> str:
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.strip():
            return line.strip()
    return ""


def answer(text: str, asked: str) -> str | None:
    """The answer a reply gives to a mail of kind `asked`, or None when its first line is not a keyword."""
    words = ASKS.get(asked)
    if words is None:
        return None
    line = fold(first_line(text)).strip(" .!*_\"'")
    return words.get(line)


def any_keyword(text: str) -> str | None:
    """Which kind of mail a keyword on the first line answers, whatever was asked (for help replies)."""
    line = fold(first_line(text)).strip(" .!*_\"'")
    for asked, words in ASKS.items():
        if line in words:
            return asked
    return None
