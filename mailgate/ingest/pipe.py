"""Shell: one-shot entry points outside the daemon: store a piped mail (`ingest`), rerun a shunted
one (`replay`)."""

from __future__ import annotations

from mailgate.clock import utcnow
from mailgate.config import ConfigError, Settings
from mailgate.core.mail.parse import dedupe_fields
from mailgate.outbound.queue import Outgoing
from mailgate.outbound.render import Renderer
from mailgate.rules.load import RulesError, RulesHolder
from mailgate.store import inbound
from mailgate.store.schema import open_engine
from mailgate.worker import Result, Worker


class IngestError(Exception):
    """The input itself is unacceptable (empty, too large): retrying will not help."""


async def ingest_bytes(
    settings: Settings, raw: bytes, *, envelope_from: str | None, recipients: list[str]
) -> int | None:
    """Store a mail read from an MTA pipe; returns its id, or None for a duplicate delivery."""
    if not raw.strip():
        raise IngestError("empty input: no mail on standard input")
    if len(raw) > settings.smtp.max_message_size:
        raise IngestError(f"mail of {len(raw)} bytes exceeds max_message_size {settings.smtp.max_message_size}")
    message_id, sender = dedupe_fields(raw)
    engine = await open_engine(settings)
    try:
        async with engine.begin() as conn:
            new_id, _ = await inbound.store(
                conn, raw=raw, source="pipe", source_ref="stdin", envelope_from=envelope_from,
                envelope_to=recipients or list(settings.gateway.addresses[:1]), message_id=message_id,
                sender=sender, now=utcnow(),
            )
        return new_id
    finally:
        await engine.dispose()


async def replay(settings: Settings, inbound_id: int, *, release: bool = False) -> Result | None:
    """Process a shunted mail again with the rules; or (`release`) a quarantined one, without them."""
    renderer = Renderer(settings.templates_dir)
    problems = renderer.check()
    if problems:
        raise ConfigError("\n".join(problems))
    try:
        rules = None if release else RulesHolder.open(settings.rules_dir)
    except RulesError as exc:
        raise ConfigError("\n".join(exc.errors)) from None
    engine = await open_engine(settings)
    try:
        worker = Worker(settings, engine, Outgoing(settings, renderer), utcnow, rules)
        return await worker.replay(inbound_id, statuses=("quarantined",) if release else ("shunted", "received"))
    finally:
        await engine.dispose()
