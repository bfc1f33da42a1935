"""Shell, configuration: the settings -> the core's Desk (addresses, consultants, customers, limits, targets),
built once at start-up, not per mail."""

from __future__ import annotations

from mailgate.config.settings import Settings
from mailgate.core.desk import Desk, Limits
from mailgate.core.kb.model import Policy
from mailgate.core.model import Agent, Priority
from mailgate.core.workflow.authn import Trust


def desk_of(settings: Settings) -> Desk:
    hygiene, sla = settings.hygiene, settings.sla
    targets = {p: (t.response_hours, t.resolution_hours) for p in Priority
               if (t := getattr(sla, p.value)) is not None}
    return Desk(
        support_addresses=settings.own_addresses,
        agents={a.email: Agent(a.email, a.name, a.level) for a in settings.agents},
        secret=settings.secret, loop_token=settings.loop_token, message_id_domain=settings.message_id_domain,
        locale=settings.gateway.locale,
        trust=trust_of(settings),
        customers_by_domain=settings.customers_by_domain, approvers=settings.approvers,
        queues={q.name: tuple(e.lower() for e in q.agents) for q in settings.queues},
        supervisors=tuple(s.email for s in settings.supervisor_list), reopen_days=settings.workflow.reopen_days,
        auto_close_days=settings.workflow.auto_close_days,
        limits=Limits(per_recipient_per_hour=hygiene.auto_mail_per_recipient_per_hour,
                      acks_per_recipient_per_hour=hygiene.acks_per_recipient_per_hour,
                      per_ticket_per_hour=hygiene.auto_mail_per_ticket_per_hour,
                      per_consultant_per_ticket_per_hour=hygiene.auto_mail_per_consultant_per_ticket_per_hour,
                      max_attachment_bytes=hygiene.max_attachment_bytes,
                      max_attachments_bytes_per_mail=hygiene.max_attachments_bytes_per_mail),
        targets=targets, notify_requester=frozenset(settings.notify.requester_on),
        kb=Policy(**settings.kb.model_dump()),
    )


def trust_of(settings: Settings) -> Trust:
    """The trusted border servers, and the organisational domain (public suffix list, RFC 7489 section 3.2) of
    each consultant's domain: a DKIM signature aligns with a consultant's From only under that domain."""
    servers = frozenset(s.lower() for s in settings.workflow.trusted_authserv_ids)
    if not servers:
        return Trust()  # no Authentication-Results is ever read: the list is not loaded
    from publicsuffixlist import PublicSuffixList  # the list it bundles, read once (0.3 s, 2 MB)

    suffixes = PublicSuffixList()
    domains = {a.email.rpartition("@")[2].lower() for a in settings.agents}
    return Trust(servers=servers, org_domains={d: suffixes.privatesuffix(d) or d for d in domains})
