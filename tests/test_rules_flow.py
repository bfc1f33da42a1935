"""End to end over SMTP with the shipped rules: routing, alerts folded into their ticket, reload,
service targets breached and the `queue` checklist."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mailgate.config.settings import from_dict
from tests.conftest import SmartHostSink, cli, running, write_config
from tests.test_workflow_flow import Desk, FakeClock, _data

SHIPPED = Path(__file__).parent.parent / "rules"


def rules_data(db_url: str, port: int, folder: Path) -> dict[str, Any]:
    data = _data(db_url, port)
    data["gateway"]["rules"] = str(folder)
    data["sla"] = {"supervisors": ["chef@example.test"], "high": {"response_hours": 1, "resolution_hours": 8}}
    return data


@pytest.fixture
async def desk(db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> AsyncIterator[Desk]:
    folder = tmp_path / "rules"
    shutil.copytree(SHIPPED, folder)
    settings = from_dict(rules_data(db_url, smart_host.port, folder), str(tmp_path / "config.toml"))
    clock = FakeClock()
    async with running(settings, clock=clock) as daemon:
        yield Desk(daemon, smart_host, settings, clock)


def config(desk: Desk) -> Path:
    folder = desk.settings.rules_dir
    return write_config(Path(desk.settings.source), rules_data(desk.settings.database.url, desk.sink.port, folder))


async def test_shipped_rules_route_an_incident_to_n2_and_record_their_hits(desk: Desk) -> None:
    await desk.send("fabrice@client.example", "Bonjour, l'application affiche une erreur 500 depuis ce matin.",
                    subject="Erreur à la validation des commandes")
    t = await desk.show(1)
    assert (t["type"], t["level"]) == ("incident", 2)
    rules_event, = [e for e in t["events"] if e["kind"] == "rules"]
    assert rules_event["data"]["set_by"]["type"][-1] == "incident-wording"
    assert {"rule": "incident-wording", "matched": True}.items() <= \
        next(h for h in rules_event["data"]["hits"] if h["rule"] == "incident-wording").items()
    assert await desk.last("notify_new", "bruno@example.test")  # N2 hears of it, not N1
    assert not [k for k in await desk.kinds() if k == ("notify_new", "alice@example.test")]


async def test_repeated_alerts_append_to_the_open_ticket_with_a_counter(desk: Desk) -> None:
    problem = "** PROBLEM Service Alert: web1/Disk / is CRITICAL **"
    for _ in range(3):
        await desk.send("nagios@mon.example", "Disk / is 98% full", subject=problem)
    await desk.send("nagios@mon.example", "Disk / is 60% full",
                    subject="** RECOVERY Service Alert: web1/Disk / is OK **")
    await desk.send("nagios@mon.example", "Disk / is CRITICAL",
                    subject="** PROBLEM Service Alert: db1/Disk / is CRITICAL **")
    tickets = [await desk.show(n) for n in (1, 2)]
    assert [(t["dedupe_key"], t["alert_count"], t["type"]) for t in tickets] == [
        ("nagios:web1/Disk /", 3, "incident"), ("nagios:db1/Disk /", 1, "incident")]
    kinds = [e["kind"] for e in tickets[0]["events"]]
    assert kinds.count("alert_repeated") == 2 and kinds.count("alert_recovered") == 1
    assert tickets[0]["status"] == "open"  # the shipped recovery rules note, they do not resolve
    assert not [k for k in await desk.kinds() if k[0] == "ack"]  # auto_reply: false


async def test_a_recovery_resolves_by_rule_and_a_bad_edit_keeps_the_rules_in_force(desk: Desk) -> None:
    folder = desk.settings.rules_dir
    monitoring = folder / "30-monitoring.yaml"
    monitoring.write_text(monitoring.read_text().replace("resolve: false          # true", "resolve: true  # true"))
    assert desk.daemon.rules is not None and desk.daemon.rules.reload()
    await desk.send("nagios@mon.example", "x", subject="** PROBLEM Service Alert: web1/Load is WARNING **")
    await desk.send("nagios@mon.example", "x", subject="** RECOVERY Service Alert: web1/Load is OK **")
    t = await desk.show(1)
    assert t["status"] == "closed" and "alert_recovered" in [e["kind"] for e in t["events"]]

    (folder / "40-broken.yaml").write_text("rules:\n  - name: broken\n    when: {subject: {regex: '(unclosed'}}\n"
                                           "    then: {priority: urgent}\n")
    assert desk.daemon.rules.reload() is False
    assert desk.daemon.rules.last_error is not None and "40-broken.yaml:3" in str(desk.daemon.rules.last_error)
    await desk.send("fabrice@client.example", "bug bloquant", subject="Erreur sur la facture")
    assert (await desk.show(2))["type"] == "incident"  # the previous set still routes

    result = cli(config(desk), "rules", "check")
    assert result.returncode == 78 and b"40-broken.yaml:3" in result.stderr
    result = cli(config(desk), "run", timeout=30)
    assert result.returncode == 78 and b"40-broken.yaml" in result.stderr  # refuses to start


async def test_a_breached_response_target_tells_the_supervisor_once_and_shows_in_the_queue(desk: Desk) -> None:
    await desk.send("fabrice@client.example", "Plus rien ne marche", subject="Bloqué", extra="Importance: high\r\n")
    t = await desk.show(1)
    assert t["priority"] == "high" and t["sla"]["response_due"] is not None
    assert desk.daemon.sweeper is not None
    desk.clock.now += timedelta(hours=2)
    await desk.daemon.sweeper.sweep_once()
    await desk.daemon.sweeper.sweep_once()  # once per target, not per sweep
    breach = await desk.last("notify_breach", "chef@example.test")
    assert "première réponse" in breach["text"]
    assert len([k for k in await desk.kinds() if k[0] == "notify_breach"]) == 1
    t = await desk.show(1)
    assert t["sla"]["response_breached_at"] is not None and t["sla"]["resolution_breached_at"] is None

    await desk.send("fabrice@client.example", "Autre chose, sans urgence", subject="Question")
    result = cli(config(desk), "queue", "--json")
    assert result.returncode == 0, result.stderr
    queue = json.loads(result.stdout)
    assert [(i["id"], i["priority"]) for i in queue["N1"]] == [(1, "high"), (2, "normal")]
    assert "response" in queue["N1"][0]["breached"]  # (the CLI reads the real clock: resolution too by now)


async def test_quarantined_mail_waits_for_release_which_skips_the_rules(desk: Desk) -> None:
    (desk.settings.rules_dir / "05-quarantine.yaml").write_text(
        "rules:\n  - name: hold-unknown-domain\n    when: {sender_domain: shady.example}\n"
        "    then: {quarantine: true}\n    stop: true\n")
    assert desk.daemon.rules is not None and desk.daemon.rules.reload()
    await desk.send("x@shady.example", "Bonjour", subject="Offre")
    statuses = await read_counts(desk)
    assert statuses == {"quarantined": 1}
    status = json.loads(cli(config(desk), "status", "--json").stdout)  # every disposition is counted
    assert status["inbound"] == {"total": 1, "received": 0, "processed": 0, "ignored": 0, "quarantined": 1,
                                 "shunted": 0}
    result = cli(config(desk), "release", "1")
    assert result.returncode == 0, result.stderr
    assert b"mail 1: processed, ticket #1" in result.stdout
    t = await desk.show(1)
    assert t["requester"] == "x@shady.example" and "rules" not in [e["kind"] for e in t["events"]]


async def read_counts(desk: Desk) -> dict[str, int]:
    from mailgate.store import inbound
    from tests.conftest import read

    counted: dict[str, int] = await read(desk.settings, inbound.counts)
    return counted
