"""Core, the knowledge base in the per-mail path: what a new ticket's hits do. The consultants' notice lists
them; when no rule set the type or the level, the nearest resolved tickets suggest them (an event with its
evidence, applied only with [kb] prefill); the acknowledgement may list well-matching published articles
([kb] self_service), never tickets. Rules always win. And a consultant's `chercher <words>` is answered
by mail. docs/kb.md."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from mailgate.core.kb.model import DocKind, Hit, Policy
from mailgate.core.model import Agent, NewTicket, ParsedMail, RequestType
from mailgate.core.outcome import Disposition, EventSpec, MailKind, Outcome, OutgoingDraft
from mailgate.core.workflow import drafts, messages


def listed(hits: tuple[Hit, ...], policy: Policy) -> list[dict[str, object]]:
    """The hits as the templates show them: label, title, one line of the resolution, score in percent."""
    return [{"label": h.label, "kind": h.kind.value, "title": h.title, "summary": h.summary,
             "score": round(h.score * 100)} for h in hits[:policy.similar]]


def prefill(ticket: NewTicket, hits: tuple[Hit, ...], set_by_rules: frozenset[str],
            policy: Policy) -> tuple[NewTicket, EventSpec | None]:
    """The type and level the nearest resolved tickets share (a vote weighted by score), for the fields no
    rule set; applied only when the policy says so. None: nothing to suggest."""
    evidence = [h for h in hits if h.kind is DocKind.TICKET and h.score >= policy.prefill_min_score]
    open_fields = [f for f in ("type", "level") if f not in set_by_rules]
    if not evidence or not open_fields:
        return ticket, None
    suggested: dict[str, object] = {}
    for name in open_fields:
        votes: dict[object, float] = defaultdict(float)
        for h in evidence:
            value = h.type if name == "type" else h.level
            if value is not None:
                votes[value] += h.score
        if votes:
            best = max(votes.items(), key=lambda kv: kv[1])
            if best[1] > sum(votes.values()) / 2:  # a majority of the evidence, not a plurality
                suggested[name] = best[0]
    if not suggested:
        return ticket, None
    data: dict[str, object] = {
        **{k: (v.value if isinstance(v, RequestType) else v) for k, v in suggested.items()},
        "evidence": [{"ticket": h.ref, "score": round(h.score, 2)} for h in evidence],
        "applied": policy.prefill,
    }
    event = EventSpec("kb_suggestion", data)
    if not policy.prefill:
        return ticket, event
    type_ = suggested.get("type", ticket.type)
    level = suggested.get("level", ticket.level)
    assert isinstance(type_, RequestType) and isinstance(level, int)
    return replace(ticket, type=type_, level=level), event


def self_service(hits: tuple[Hit, ...], policy: Policy) -> list[dict[str, object]]:
    """Published articles that match well enough to show the customer (never a ticket, never a draft)."""
    if not policy.self_service:
        return []
    chosen = [h for h in hits if h.kind is DocKind.ARTICLE and h.published and h.score >= policy.self_service_min_score]
    return [{"label": h.label, "title": h.title, "summary": h.summary}
            for h in chosen[:policy.self_service_articles]]


def answer(mail: ParsedMail, agent: Agent, words: str, hits: tuple[Hit, ...], locale: str, *,
           enabled: bool = True) -> Outcome:
    """A consultant's `chercher <words>`: the hits by mail, to their configured address; on no ticket."""
    lang = locale if locale in messages.LOCALES else "en"
    in_reply_to, refs = drafts.answering(mail, None, ())
    shown = [{**line, "state": _STATE[lang][h.kind, h.published]}
             for h, line in zip(hits, listed(hits, replace(Policy(), similar=len(hits))), strict=True)]
    draft = OutgoingDraft(kind=MailKind.KB_SEARCH, template=MailKind.KB_SEARCH.value, to=agent.address,
                          locale=lang, in_reply_to=in_reply_to, references=refs, automatic=True,
                          context={"words": words, "hits": shown, "enabled": enabled,
                                   "subject": _SUBJECT[lang].format(words=words[:80])})
    event = EventSpec("kb_search", {"from": agent.email, "words": words[:200], "hits": [h.label for h in hits]})
    return Outcome(disposition=Disposition.ANSWERED, replies=(draft,), events=(event,),
                   reason=f"kb search: {len(hits)} hit(s), asked by {agent.email}")


_SUBJECT = {"fr": "Base de connaissances : « {words} »", "en": "Knowledge base: \"{words}\""}
_STATE = {"fr": {(DocKind.TICKET, False): "ticket résolu", (DocKind.ARTICLE, False): "article (brouillon)",
                 (DocKind.ARTICLE, True): "article publié"},
          "en": {(DocKind.TICKET, False): "resolved ticket", (DocKind.ARTICLE, False): "article (draft)",
                 (DocKind.ARTICLE, True): "published article"}}
