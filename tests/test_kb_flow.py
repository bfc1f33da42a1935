"""End to end over SMTP: the knowledge base in the flow. A resolved ticket is indexed when it is answered; a
consultant's `kb` turns it into a draft article without the customer's name or address, `kb publier`
publishes it; the next similar request's notice lists both, the type and level are suggested (and applied
with [kb] prefill), the acknowledgement lists the published article ([kb] self_service); `chercher` by mail
answers a consultant and opens no ticket; the command line lists, shows, searches, retires and reindexes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mailgate.config.settings import from_dict
from mailgate.core.model import Status
from tests.conftest import SmartHostSink, cli, running, smtp_send, until, write_config
from tests.test_workflow_flow import CUSTOMER, Desk, FakeClock, _data, _ids, event_kinds

ALICE, BRUNO = "alice@example.test", "bruno@example.test"


def _kb_data(db_url: str, port: int) -> dict[str, Any]:
    data = _data(db_url, port)
    data["kb"] = {"prefill": True, "self_service": True, "self_service_min_score": 0.3}
    return data


@pytest.fixture
async def desk(db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> AsyncIterator[Desk]:
    settings = from_dict(_kb_data(db_url, smart_host.port), str(tmp_path / "config.toml"))
    async with running(settings, clock=FakeClock()) as daemon:
        yield Desk(daemon, smart_host, settings, FakeClock())


async def _first_request(desk: Desk) -> int:
    raw = ("From: Fabrice Martin <fabrice@client.example>\r\nTo: support@example.test\r\n"
           "Subject: Imprimante du 2e étage hors ligne\r\nMessage-ID: <first@client.example>\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n"
           "Bonjour, l'imprimante du deuxième étage est hors ligne depuis ce matin, rien ne sort.\r\n"
           "Appelez-moi au 06 12 34 56 78 ou écrivez à fabrice@client.example.\r\nCordialement, Fabrice\r\n").encode()
    await smtp_send(desk.daemon.smtp_port, raw, sender=CUSTOMER)
    await until(lambda: _has_tickets(desk, 1), what="the first ticket")
    return max(await _ids(desk))


async def _has_tickets(desk: Desk, n: int) -> bool:
    return len(await _ids(desk)) >= n


async def test_resolved_ticket_becomes_article_and_answers_the_next_request(desk: Desk) -> None:
    first = await _first_request(desk)
    notice = await desk.last("notify_new", ALICE)
    assert "Déjà vu" not in notice["text"]  # nothing resolved yet
    await desk.send(ALICE, "prendre\ntype incident\nrésolu\n\nLe pilote de l'imprimante a été réinstallé et le "
                    "spouleur relancé : l'impression repart.", reply_to=notice["message_id"])
    t = await desk.show(first)
    assert (t["status"], t["type"], t["level"]) == (Status.ANSWER_SENT.value, "incident", 2)
    transcript = await desk.last("transcript", ALICE)
    # a sentence starting with a keyword is text, a title comes after a colon
    await desk.send(ALICE, "kb: Imprimante hors ligne : réinstaller le pilote", reply_to=transcript["message_id"])
    assert "kb_article" in event_kinds(await desk.show(first))
    config = write_config(Path(desk.settings.source), _kb_data(desk.settings.database.url, desk.sink.port))
    shown = json.loads(cli(config, "kb", "show", "1", "--json").stdout)
    assert (shown["state"], shown["ticket"]) == ("draft", first)
    assert shown["title"] == "Imprimante hors ligne : réinstaller le pilote"
    assert "hors ligne" in shown["symptoms"] and "pilote" in shown["resolution"]
    for private in ("Fabrice", "Martin", "fabrice@client.example", "06 12 34 56 78"):
        assert private not in json.dumps(shown, ensure_ascii=False)
    transcript = await desk.last("transcript", ALICE)
    await desk.send(ALICE, "kb publier", reply_to=transcript["message_id"])
    shown = json.loads(cli(config, "kb", "show", "1", "--json").stdout)
    assert shown["state"] == "published" and [v["state"] for v in shown["versions"]] == ["draft", "published"]

    # the next similar request: hits listed to the consultants, type and level suggested and applied
    await desk.send("paul@client.example", "Nos imprimantes sont hors-ligne, plus rien ne s'imprime.",
                    subject="Imprimantes hors ligne")
    second = max(await _ids(desk))
    t = await desk.show(second)
    suggestion = next(e for e in t["events"] if e["kind"] == "kb_suggestion")
    assert suggestion["data"]["applied"] is True and suggestion["data"]["evidence"][0]["ticket"] == first
    assert (t["type"], t["level"]) == ("incident", 2)
    told = await desk.last("notify_new", BRUNO)  # level 2 now: Bruno hears of it
    assert f"#{first}" in told["text"] and "KB-1" in told["text"] and "pilote" in told["text"]
    ack = await desk.last("ack", "paul@client.example")
    assert "KB-1" in ack["text"] and f"#{first}" not in ack["text"]  # an article, never another customer's ticket

    # `tickets show` lists the similar ones too
    similar = json.loads(cli(config, "tickets", "show", str(second), "--json").stdout)["similar"]
    assert {h["label"] for h in similar} >= {f"#{first}", "KB-1"}

    # a consultant searches by mail: answered, no ticket
    before = await _ids(desk)
    await desk.send(ALICE, "chercher imprimante hors ligne", subject="recherche")
    assert await _ids(desk) == before
    found = await desk.last("kb_search", ALICE)
    assert "KB-1" in found["text"] and f"#{first}" in found["text"]

    # the command line: search, retire (no longer found nor shown to customers), reindex
    hits = json.loads(cli(config, "kb", "search", "imprimante", "--json").stdout)
    assert hits[0]["label"] in (f"#{first}", "KB-1", f"#{second}")
    assert cli(config, "kb", "retire", "1").returncode == 0
    published = json.loads(cli(config, "kb", "search", "imprimante", "--published", "--json").stdout)
    assert published == []
    listed = json.loads(cli(config, "kb", "list", "--json").stdout)
    assert [a["state"] for a in listed] == ["retired"]
    rebuilt = cli(config, "kb", "reindex")
    assert rebuilt.returncode == 0 and "indexed 1 ticket(s) and 0 article(s)" in rebuilt.stdout.decode()
    missing = cli(config, "kb", "show", "9")
    assert missing.returncode == 1 and b"no article KB-9" in missing.stderr


async def test_kb_before_resolution_is_refused_and_a_sentence_is_text(desk: Desk) -> None:
    first = await _first_request(desk)
    notice = await desk.last("notify_new", ALICE)
    await desk.send(ALICE, "kb", reply_to=notice["message_id"])
    transcript = await desk.last("transcript", ALICE)
    assert "résolvez ou fermez" in transcript["text"]
    await desk.send(ALICE, "Base de données relancée, pouvez-vous réessayer ?", reply_to=notice["message_id"])
    relay = await desk.last("relay", CUSTOMER)
    assert "Base de données relancée" in relay["text"]
    assert "kb_article" not in event_kinds(await desk.show(first))
