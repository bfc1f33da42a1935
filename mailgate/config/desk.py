"""Shell, configuration: the settings -> the core's Desk (addresses, consultants, customers, limits, targets),
built once at start-up, not per mail."""

from __future__ import annotations

from mailgate.config.settings import Settings
from mailgate.core.desk import Desk, Limits
from mailgate.core.model import Agent, Priority


def desk_of(settings: Settings) -> Desk:
    hygiene, sla = settings.hygiene, settings.sla
    targets = {p: (t.response_hours, t.resolution_hours) for p in Priority
               if (t := getattr(sla, p.value)) is not None}
    return Desk(
        support_addresses=settings.own_addresses,
        agents={a.email: Agent(a.email, a.name, a.level) for a in settings.agents},
        secret=settings.secret, loop_token=settings.loop_token, message_id_domain=settings.message_id_domain,
        locale=settings.gateway.locale,
        trusted_authserv_ids=frozenset(settings.workflow.trusted_authserv_ids),
        customers_by_domain=settings.customers_by_domain, approvers=settings.approvers,
        queues={q.name: tuple(e.lower() for e in q.agents) for q in settings.queues},
        supervisors=tuple(sla.supervisors), reopen_days=settings.workflow.reopen_days,
        auto_close_days=settings.workflow.auto_close_days,
        limits=Limits(per_recipient_per_hour=hygiene.auto_mail_per_recipient_per_hour,
                      per_ticket_per_hour=hygiene.auto_mail_per_ticket_per_hour,
                      max_attachment_bytes=hygiene.max_attachment_bytes,
                      max_attachments_bytes_per_mail=hygiene.max_attachments_bytes_per_mail),
        targets=targets,
    )
