"""Every real mail of ../shared/corpus through parsing, the core and the worker: none may raise."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mailgate.clock import utcnow
from mailgate.core import process
from mailgate.core.mail import thread
from mailgate.core.mail.parse import dedupe_fields, parse
from mailgate.outbound.queue import Outgoing
from mailgate.outbound.render import Renderer
from mailgate.rules.load import RulesHolder
from mailgate.store import inbound
from mailgate.store.schema import open_engine
from mailgate.worker import Worker
from tests.conftest import counts, make_settings

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not (CORPUS / "INDEX.tsv").is_file(), reason=f"corpus absent at {CORPUS}"),
]


def corpus_mails() -> list[tuple[str, bytes]]:
    with open(CORPUS / "INDEX.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(r["path"], (CORPUS / r["path"]).read_bytes()) for r in rows if (CORPUS / r["path"]).is_file()]


def test_core_reads_every_corpus_mail() -> None:
    mails = corpus_mails()
    assert len(mails) > 500
    secret = b"corpus-secret-0123456789"
    with_sender = 0
    for path, raw in mails:
        mail = parse(raw)
        dedupe_fields(raw)
        refs = thread.references(mail, secret)
        ctx = process.Context(support_addresses=frozenset({"support@example.test"}), agents=frozenset(),
                              refs=refs, tickets={}, locale="fr", loop_token="t")
        outcome = process.process(mail, None, ctx)
        assert outcome.disposition in ("new_ticket", "ignored"), path
        with_sender += mail.from_ is not None
    assert with_sender > len(mails) * 0.8  # the parser does find senders in real mail


async def test_worker_processes_every_corpus_mail_without_shunting(tmp_path: Path) -> None:
    mails = corpus_mails()
    settings = make_settings(f"sqlite:///{tmp_path / 'corpus.sqlite3'}", 25, tmp_path)
    engine = await open_engine(settings)
    try:
        async with engine.begin() as conn:
            for path, raw in mails:
                message_id, sender = dedupe_fields(raw)
                await inbound.store(conn, raw=raw, source="test", source_ref=path, envelope_from=None,
                                    envelope_to=["support@example.test"], message_id=message_id,
                                    sender=sender, now=utcnow())
        shipped = RulesHolder.open(Path(__file__).resolve().parent.parent / "rules")  # rules, kinds, attachments
        worker = Worker(settings, engine, Outgoing(settings, Renderer(settings.templates_dir)), utcnow, shipped)
        shunted = []
        while (result := await worker.process_next()) is not None:
            if result.status == "shunted":
                shunted.append((result.inbound_id, result.detail))
    finally:
        await engine.dispose()
    assert shunted == []
    assert (await counts(settings))["inbound"].get("received", 0) == 0
