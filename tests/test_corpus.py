"""Every real mail of ../shared/corpus through parsing, the core and the worker: none may raise."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailgate.clock import utcnow
from mailgate.core.desk import Desk, Snapshot
from mailgate.core.mail.parse import dedupe_fields
from mailgate.core.prepare import prepare
from mailgate.core.process import process
from mailgate.outbound.queue import Outgoing
from mailgate.outbound.render import Renderer
from mailgate.rules.load import RulesHolder
from mailgate.store import inbound
from mailgate.store.inbound import Arrival
from mailgate.store.schema import open_database
from mailgate.worker import Worker
from tests.conftest import counts, make_settings, write

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
    desk = Desk(support_addresses=frozenset({"support@example.test"}), agents={}, secret=b"corpus-secret-0123456789",
                loop_token="t", message_id_domain="example.test")
    with_sender = 0
    for path, raw in mails:
        dedupe_fields(raw)
        prepared = prepare(raw, None, ["support@example.test"], desk, None)
        outcome = process(prepared, Snapshot(), desk, datetime(2026, 1, 1, tzinfo=UTC))
        assert outcome.disposition in ("new_ticket", "ignored"), path
        with_sender += prepared.sender is not None
    assert with_sender > len(mails) * 0.8  # the parser does find senders in real mail


async def test_worker_processes_every_corpus_mail_without_shunting(tmp_path: Path) -> None:
    mails = corpus_mails()
    settings = make_settings(f"sqlite:///{tmp_path / 'corpus.sqlite3'}", 25, tmp_path)
    arrivals = [Arrival(raw=raw, source="test", source_ref=path, envelope_from=None,
                        envelope_to=["support@example.test"], message_id=dedupe_fields(raw)[0],
                        sender=dedupe_fields(raw)[1]) for path, raw in mails]
    await write(settings, inbound.store_many, arrivals, utcnow())
    db = open_database(settings)
    try:
        shipped = RulesHolder.open(Path(__file__).resolve().parent.parent / "rules")  # rules, kinds, attachments
        worker = Worker(settings, db, Outgoing(settings, Renderer(settings.templates_dir)), utcnow, shipped)
        shunted = []
        while results := await worker.process_batch():
            shunted += [(r.inbound_id, r.detail) for r in results if r.status == "shunted"]
    finally:
        db.close()
    assert shunted == []
    assert (await counts(settings))["inbound"].get("received", 0) == 0
