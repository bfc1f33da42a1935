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


def test_every_corpus_part_gives_the_stdlibs_fields() -> None:
    """payload's parts read a field (`get`, `in`) without compat32's calls when its value is ASCII, and an ASCII
    body without looking for surrogates in it: every field of every part of the corpus, asked in other cases and
    beside absent names, and every body, as it stands and decoded, read as the stdlib's."""
    from email import message_from_bytes  # noqa: PLC0415
    from email.policy import compat32  # noqa: PLC0415

    from mailgate.core.mail.payload import message_of, payload_bytes  # noqa: PLC0415

    checked = non_ascii = bodies = 0
    for path, raw in corpus_mails():
        ours, theirs = list(message_of(raw).walk()), list(message_from_bytes(raw, policy=compat32).walk())
        assert len(ours) == len(theirs), path
        for mine, stdlib in zip(ours, theirs, strict=True):
            names = {k for k in stdlib.keys()} | {"x-absent", "content-type", "CONTENT-TRANSFER-ENCODING"}
            for name in sorted(names):
                for asked in (name, name.upper(), name.lower()):
                    got, want = mine.get(asked, "missing"), stdlib.get(asked, "missing")
                    assert type(got) is type(want) and str(got) == str(want), (path, asked)
                    assert (asked in mine) == (asked in stdlib), (path, asked)
                checked += 1
                non_ascii += not str(stdlib.get(name, "")).isascii()
            assert mine.get_content_type() == stdlib.get_content_type(), path
            if not stdlib.is_multipart():  # and the body, as it stands and decoded
                assert mine.get_payload() == stdlib.get_payload(), path
                assert payload_bytes(mine) == payload_bytes(stdlib) == stdlib.get_payload(decode=True), path
                bodies += 1
    assert checked > 10_000 and non_ascii > 0 and bodies > 1_000, (checked, non_ascii, bodies)
