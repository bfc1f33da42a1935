"""The real `mailgate` command line in subprocesses: ingest, replay, check, tickets, status, run."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog

from mailgate import log
from mailgate.config.settings import from_dict
from tests.conftest import (
    SmartHostSink,
    cli,
    counts,
    eml,
    make_settings,
    running,
    settings_data,
    smtp_send,
    until,
    write_config,
)

REPO = Path(__file__).parent.parent


async def test_ingest_then_tickets_and_status_as_json(db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> None:
    data = settings_data(db_url, smart_host.port)
    config = write_config(tmp_path / "config.toml", data)
    first = await asyncio.to_thread(cli, config, "ingest", "--sender", "fabrice@client.example",
                                    "--recipient", "support@example.test", stdin=eml("new_request.eml"))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == b"stored as 1"
    again = await asyncio.to_thread(cli, config, "ingest", stdin=eml("new_request.eml"))
    assert again.returncode == 0 and b"duplicate" in again.stdout

    settings = from_dict(data, str(config))
    async with running(settings):  # the daemon picks up mail stored by another process
        await until(lambda: len(smart_host.received) == 1, what="the acknowledgement")

    listing = await asyncio.to_thread(cli, config, "tickets", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    (row,) = json.loads(listing.stdout)
    assert (row["id"], row["status"], row["requester"]) == (1, "open", "fabrice@client.example")
    for written in ("open", "Ouvert", "ouvert", "OPEN"):  # the code or the label it prints
        same = await asyncio.to_thread(cli, config, "tickets", "list", "--status", written, "--json")
        assert [t["id"] for t in json.loads(same.stdout)] == [1], written
    text = (await asyncio.to_thread(cli, config, "tickets", "list", "--status", "En cours")).stdout.decode()
    assert text.strip() == "no ticket in status En cours"
    table = (await asyncio.to_thread(cli, config, "tickets", "list", "--limit", "1")).stdout.decode().splitlines()
    assert table[0].split() == ["ticket", "status", "lvl", "prio", "requester", "title"] and len(table) == 2
    unknown = await asyncio.to_thread(cli, config, "tickets", "list", "--status", "perdu")
    assert unknown.returncode == 2 and b"'perdu' is no ticket status; one of open (Ouvert)" in unknown.stderr

    shown = await asyncio.to_thread(cli, config, "tickets", "show", "1", "--json")
    t = json.loads(shown.stdout)
    for key in ("id", "status", "type", "level", "priority", "requester", "assignee", "title", "created_at",
                "messages", "events"):
        assert key in t
    assert [m["direction"] for m in t["messages"]] == ["in", "out"]
    assert {"from", "to", "subject", "message_id", "body"} <= t["messages"][0].keys()

    status = json.loads((await asyncio.to_thread(cli, config, "status", "--json")).stdout)
    assert status == {"daemon": {"running": False}, "imap": [],
                      "inbound": {"total": 1, "received": 0, "processed": 1, "ignored": 0, "quarantined": 0,
                                  "shunted": 0},
                      "outbox": {"queued": 0, "sent": 1, "failed": 0},
                      "oldest": {"inbound_received": None, "outbox_queued": None}}
    missing = await asyncio.to_thread(cli, config, "tickets", "show", "42")
    assert missing.returncode == 1 and b"no ticket #42" in missing.stderr


@pytest.mark.parametrize("problem", ["database unreachable", "config invalid"])
def test_ingest_temporary_failure_exits_75(problem: str, tmp_path: Path) -> None:
    if problem == "database unreachable":
        data = settings_data("postgresql://postgres:s3cret-pw@127.0.0.1:1/test", 25)
    else:
        data = settings_data(f"sqlite:///{tmp_path / 'x.sqlite3'}", 25)
        del data["gateway"]["secret"]
    config = write_config(tmp_path / "config.toml", data)
    result = cli(config, "ingest", stdin=eml("new_request.eml"))
    assert result.returncode == 75, result.stderr
    assert b"mailgate" in result.stderr
    if problem == "database unreachable":  # what failed and where, never the password
        (line,) = result.stderr.decode().splitlines()
        assert line.startswith("mailgate ingest: database postgresql://postgres:***@127.0.0.1:1/test unavailable: "
                               "connection failed: "), line
        assert line.endswith("; the MTA will retry (exit 75)") and "s3cret-pw" not in line, line


def test_ingest_into_a_locked_database_says_so_without_sql(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "mailgate.sqlite3"
    config = write_config(tmp_path / "config.toml", settings_data(f"sqlite:///{path}", 25,
                                                                  database__busy_timeout_ms=200))
    assert cli(config, "ingest", stdin=eml("new_request.eml")).returncode == 0  # creates the database
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the database (not through mailgate's lock)
        result = cli(config, "ingest", stdin=eml("latin1_prefixes.eml"))
    finally:
        holder.close()
    assert result.returncode == 75, result.stderr
    assert result.stderr.decode().strip() == (f"mailgate ingest: database sqlite:///{path} unavailable: database is "
                                              "locked; the MTA will retry (exit 75)")
    assert cli(config, "ingest", stdin=eml("latin1_prefixes.eml")).returncode == 0  # and stored once it is free


RULES = """\
rules:
  - name: new-user
    when:
      subject: {contains: utilisateur}
    then:
      priority: high
      tags: [accounts]
  - name: invoices
    when:
      subject: {contains: facture}
    then:
      type: evolution
  - name: everything
    then:
      priority: low
      tags: [seen]
    stop: true
  - name: never-reached
    then:
      priority: urgent
"""


async def test_tickets_show_prints_the_rules_decision_as_a_table(smart_host: SmartHostSink, tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "10-test.yaml").write_text(RULES)
    data = settings_data(f"sqlite:///{tmp_path / 'x.sqlite3'}", smart_host.port, gateway__rules=str(tmp_path / "rules"))
    config = write_config(tmp_path / "config.toml", data)
    async with running(from_dict(data, str(config))) as daemon:
        await smtp_send(daemon.smtp_port, eml("new_request.eml"))  # "Création de l'utilisateur Fabrice"
        await until(lambda: len(smart_host.received) == 1, what="the acknowledgement")
    shown = await asyncio.to_thread(cli, config, "tickets", "show", "1")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.decode().splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith(" rules:"))
    table = [line.split(None, 3) for line in lines[start + 1:start + 5]]
    assert table == [
        ["rule", "where", "matched", "actions"],
        ["new-user", "10-test.yaml:2", "yes",
         "priority (overridden by everything); tags=accounts, seen (with everything)"],
        ["invoices", "10-test.yaml:8", "no"],
        ["everything", "10-test.yaml:13", "yes", "priority=low; tags=accounts, seen (with new-user); stop"],
    ]  # never-reached: not considered, the evaluation stopped before it
    assert lines[start + 5] == "    decision: priority=low; tags=accounts, seen"
    assert '"hits"' not in shown.stdout.decode()  # no JSON blob
    as_json = json.loads((await asyncio.to_thread(cli, config, "tickets", "show", "1", "--json")).stdout)
    (rules_event,) = [e for e in as_json["events"] if e["kind"] == "rules"]
    assert [h["rule"] for h in rules_event["data"]["hits"]] == ["new-user", "invoices", "everything"]


def test_ingest_empty_input_is_a_data_error(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", settings_data(f"sqlite:///{tmp_path / 'x.sqlite3'}", 25))
    result = cli(config, "ingest", stdin=b"")
    assert result.returncode == 65 and b"empty input" in result.stderr


async def test_shunted_mail_is_kept_and_replayed(db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    data = settings_data(db_url, smart_host.port, gateway__templates=str(templates))
    config = write_config(tmp_path / "config.toml", data)
    settings = from_dict(data, str(config))
    ack = templates / "fr" / "ack.txt.j2"
    good = ack.read_text()
    async with running(settings) as daemon:
        ack.write_text("Bonjour {{ no_such_variable }}\n")  # an admin's broken edit, after start-up
        await smtp_send(daemon.smtp_port, eml("new_request.eml"))
        await until(lambda: _inbound(settings, "shunted", 1), what="the shunt")
        ack.write_text(good)
        # the worker goes on with the next mail
        await smtp_send(daemon.smtp_port, eml("latin1_prefixes.eml"))
        await until(lambda: _inbound(settings, "processed", 1), what="the next mail")
        await until(lambda: len(smart_host.received) == 1, what="the next mail's acknowledgement")
    status = json.loads((await asyncio.to_thread(cli, config, "status", "--json")).stdout)
    assert status["inbound"]["shunted"] == 1 and status["outbox"]["sent"] == 1

    replayed = await asyncio.to_thread(cli, config, "replay", "1")
    assert replayed.returncode == 0, replayed.stderr
    assert b"mail 1: processed, ticket #" in replayed.stdout
    assert (await counts(settings))["inbound"] == {"processed": 2}
    again = await asyncio.to_thread(cli, config, "replay", "1")
    assert again.returncode == 1 and b"no shunted mail with id 1" in again.stderr
    listing = json.loads((await asyncio.to_thread(cli, config, "tickets", "list", "--json")).stdout)
    assert sorted(t["requester"] for t in listing) == ["fabrice@client.example", "renee@client.example"]


def test_check_reports_every_problem_with_file_and_key(tmp_path: Path) -> None:
    data = settings_data(f"sqlite:///{tmp_path / 'x.sqlite3'}", 25)
    good = write_config(tmp_path / "good.toml", data)
    ok = cli(good, "check")
    assert ok.returncode == 0 and b"OK" in ok.stdout
    data["gateway"]["secret"] = "short"
    data["agents"][1]["level"] = 7
    data["smtp"]["prot"] = 25
    bad = write_config(tmp_path / "bad.toml", data)
    result = cli(bad, "check")
    assert result.returncode == 78  # EX_CONFIG, as every refused config
    err = result.stderr.decode()
    assert f"{bad}: gateway.secret: String should have at least 16 characters" in err
    assert f"{bad}: agents[1].level: Input should be less than or equal to 4" in err
    assert f"{bad}: smtp.prot: Extra inputs are not permitted" in err
    (tmp_path / "broken.toml").write_text("[gateway\n")
    assert b"not valid TOML" in cli(tmp_path / "broken.toml", "check").stderr
    assert b"no such file" in cli(tmp_path / "absent.toml", "check").stderr


def test_check_catches_what_run_would_fail_on(tmp_path: Path) -> None:
    """Issue 15: a database URL no driver takes, a rules folder that is not there (the daemon ran without its
    guard rules), an unset password variable, the example's secret: each names the file and the key."""
    from mailgate.config.checks import EXAMPLE_SECRET

    assert f'secret = "{EXAMPLE_SECRET}"' in (REPO / "config.example.toml").read_text()
    for url in ("postgres//db.example/helpdesk", "mysql://root@localhost/helpdesk", "sqlite:var/x.sqlite3"):
        data = settings_data(url, 25)
        result = cli(write_config(tmp_path / "url.toml", data), "check")
        assert result.returncode == 78, url
        assert f"{tmp_path / 'url.toml'}: database.url: Value error, {url!r} is not a database URL" in (
            result.stderr.decode()), url
    data = settings_data(f"sqlite:///{tmp_path / 'x.sqlite3'}", 25, gateway__rules=str(tmp_path / "no-rules"),
                         outbound__username="mailgate", outbound__password_env="MAILGATE_TEST_UNSET_VARIABLE")
    data["gateway"]["secret"] = EXAMPLE_SECRET
    config = write_config(tmp_path / "config.toml", data)
    result = cli(config, "check")
    err = result.stderr.decode()
    assert result.returncode == 78
    assert f"{config}: gateway.rules: no such folder: {tmp_path / 'no-rules'}" in err
    assert f"{config}: outbound.password_env: the environment variable MAILGATE_TEST_UNSET_VARIABLE is not set" in err
    assert f"{config}: gateway.secret: still the example's secret" in err
    run = cli(config, "run")
    assert run.returncode == 78 and b"gateway.rules: no such folder" in run.stderr
    assert b"Traceback" not in run.stderr


def test_check_and_run_refuse_broken_templates(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    (templates / "en" / "ack.txt.j2").write_text("Hello {{ ticket.number }\n")
    data = settings_data(f"sqlite:///{tmp_path / 'x.sqlite3'}", 25, gateway__templates=str(templates))
    config = write_config(tmp_path / "config.toml", data)
    result = cli(config, "check")
    assert result.returncode == 78 and b"en/ack.txt.j2:1" in result.stderr
    run = cli(config, "run")
    assert run.returncode == 78 and b"refusing to start" in run.stderr


def test_run_refuses_invalid_config(tmp_path: Path) -> None:
    data = settings_data(f"sqlite:///{tmp_path / 'x.sqlite3'}", 25)
    data["gateway"]["addresses"] = []
    result = cli(write_config(tmp_path / "config.toml", data), "run")
    assert result.returncode == 78
    assert b"gateway.addresses" in result.stderr


async def test_run_serves_and_stops_cleanly_on_sigterm(smart_host: SmartHostSink, tmp_path: Path) -> None:
    port = _free_port()
    data = settings_data(f"sqlite:///{tmp_path / 'run.sqlite3'}", smart_host.port, smtp__port=port, log__level="info")
    config = write_config(tmp_path / "config.toml", data)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mailgate", "-c", str(config), "run", cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await until(lambda: _listening(port), timeout=20, what="the listener")
        await smtp_send(port, eml("new_request.eml"))
        await until(lambda: len(smart_host.received) == 1, what="the acknowledgement")
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err
    assert b"stopped" in err


@pytest.mark.postgres
async def test_postgresql_schema_must_be_upgraded_first(tmp_path: Path, pg_database: str) -> None:
    from tests.conftest import pg_admin

    base = pg_database.rpartition("/")[0]
    name = pg_database.rpartition("/")[2] + "_empty"
    pg_admin(f'CREATE DATABASE "{name}"')
    try:
        config = write_config(tmp_path / "config.toml", settings_data(f"{base}/{name}", 25, smtp__port=_free_port()))
        current = await asyncio.to_thread(cli, config, "db", "current")
        assert b"database: (empty)" in current.stdout
        refused = await asyncio.to_thread(cli, config, "run")
        assert refused.returncode == 78 and b"mailgate db upgrade" in refused.stderr
        upgraded = await asyncio.to_thread(cli, config, "db", "upgrade")
        from mailgate.store import migrate

        assert upgraded.returncode == 0
        assert upgraded.stdout.strip() == f"schema at revision {migrate.head()}".encode()
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _inbound(settings, status: str, n: int) -> bool:  # type: ignore[no-untyped-def]
    return (await counts(settings))["inbound"].get(status, 0) >= n


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def test_status_tells_the_age_of_the_oldest_waiting_and_queued_mail(db_url: str, tmp_path: Path) -> None:
    """Issue 15: an operator's first question when mail seems stuck: since when does it wait, and where."""
    data = settings_data(db_url, _free_port())  # a smart host that is down: the acknowledgement stays queued
    config = write_config(tmp_path / "config.toml", data)
    stored = await asyncio.to_thread(cli, config, "ingest", "--sender", "fabrice@client.example",
                                     "--recipient", "support@example.test", stdin=eml("new_request.eml"))
    assert stored.returncode == 0, stored.stderr
    status = json.loads((await asyncio.to_thread(cli, config, "status", "--json")).stdout)
    assert status["oldest"]["outbox_queued"] is None
    waiting = status["oldest"]["inbound_received"]
    assert waiting is not None and 0 <= waiting["age_seconds"] < 600 and waiting["at"].startswith("20")
    text = (await asyncio.to_thread(cli, config, "status")).stdout.decode()
    assert "received 1, " in text and f"the oldest waiting since {waiting['at']}" in text
    settings = from_dict(data, str(tmp_path / "config.toml"))
    async with running(settings):
        await until(lambda: _inbound(settings, "processed", 1), what="processing")
    status = json.loads((await asyncio.to_thread(cli, config, "status", "--json")).stdout)
    assert status["oldest"]["inbound_received"] is None
    queued = status["oldest"]["outbox_queued"]
    assert status["outbox"]["queued"] == 1 and queued is not None and queued["age_seconds"] >= 0
    assert "the oldest queued since" in (await asyncio.to_thread(cli, config, "status")).stdout.decode()


async def test_triage_lists_the_ids_replay_and_retry_need(db_url: str, tmp_path: Path) -> None:
    """Issue 15: `inbound list` and `outbox list` show ids, reasons and ages; `outbox retry` queues a failed
    mail again; an unknown status is refused."""
    data = settings_data(db_url, _free_port(), outbound__retry_deadline=0.3)  # the smart host is down
    config = write_config(tmp_path / "config.toml", data)
    await asyncio.to_thread(cli, config, "ingest", "--sender", "fabrice@client.example",
                            "--recipient", "support@example.test", stdin=eml("new_request.eml"))
    waiting = json.loads((await asyncio.to_thread(cli, config, "inbound", "list", "--status", "received",
                                                  "--json")).stdout)
    assert [(m["id"], m["source"], m["envelope_from"]) for m in waiting] == [(1, "pipe", "fabrice@client.example")]
    assert (await asyncio.to_thread(cli, config, "inbound", "list")).stdout.strip() == b"none"  # nothing shunted
    settings = from_dict(data, str(tmp_path / "config.toml"))

    async def failed() -> list[dict[str, object]]:
        done = await asyncio.to_thread(cli, config, "outbox", "list", "--status", "failed", "--json")
        return list(json.loads(done.stdout))

    async with running(settings):
        await until(lambda: _inbound(settings, "processed", 1), what="processing")
        await until(lambda: failed(), what="the acknowledgement given up", timeout=20)
    gone, = await failed()
    assert gone["kind"] == "ack" and gone["to"] == "fabrice@client.example" and gone["attempts"] >= 1
    assert gone["last_error"]
    text = (await asyncio.to_thread(cli, config, "outbox", "list")).stdout.decode()
    assert text.splitlines()[0] == "id  queued_at  kind  to  ticket  attempts  last_error"
    retried = await asyncio.to_thread(cli, config, "outbox", "retry", str(gone["id"]))
    assert retried.returncode == 0 and b"queued again" in retried.stdout
    queued = json.loads((await asyncio.to_thread(cli, config, "outbox", "list", "--status", "queued",
                                                 "--json")).stdout)
    assert [m["id"] for m in queued] == [gone["id"]]
    again = await asyncio.to_thread(cli, config, "outbox", "retry", str(gone["id"]))  # no longer failed
    assert again.returncode == 1 and b"no failed outgoing mail with id" in again.stderr
    wrong = await asyncio.to_thread(cli, config, "inbound", "list", "--status", "lost")
    assert wrong.returncode == 2 and b"'lost' is not one of" in wrong.stderr


@pytest.mark.parametrize("args", [["--help"], ["tickets", "--help"], ["outbox", "list", "--help"], ["run", "--help"]])
def test_help_answers_without_the_database_layer(args: list[str]) -> None:
    """Issue 15: `--help` is instant: no SQLAlchemy, no driver, no aiosmtpd imported to print it."""
    code = ("import sys; from mailgate.cli.main import main\n"
            f"try: main({args!r})\nexcept SystemExit: pass\n"
            "print(sorted(m for m in ('sqlalchemy', 'psycopg', 'aiosmtpd', 'inscriptis') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_secrets_come_from_the_environment_or_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15: `[gateway] secret_env | secret_file` and `[database] password_env`, so that the file holds none."""
    from mailgate.config.sections import ConfigError

    def settings(gateway: dict[str, str], database: dict[str, str] | None = None) -> Any:
        data = settings_data("postgresql://mailgate@db.example:5432/helpdesk", 25)
        data["gateway"] = {k: v for k, v in data["gateway"].items() if k != "secret"} | gateway
        data["database"] |= database or {}
        return from_dict(data, str(tmp_path / "config.toml"))

    monkeypatch.setenv("MAILGATE_TEST_SECRET", "from-the-environment-0123456789")
    monkeypatch.setenv("MAILGATE_TEST_DB_PASSWORD", "p@ss:w/rd")
    assert settings({"secret_env": "MAILGATE_TEST_SECRET"}).secret == b"from-the-environment-0123456789"
    (tmp_path / "secret").write_text("from-a-file-0123456789abcdef\n")
    assert settings({"secret_file": "secret"}).secret == b"from-a-file-0123456789abcdef"  # next to the config
    with_password = settings({"secret_env": "MAILGATE_TEST_SECRET"}, {"password_env": "MAILGATE_TEST_DB_PASSWORD"})
    from sqlalchemy.engine import make_url

    assert make_url(with_password.database.url).password == "p@ss:w/rd"
    for gateway, message in [
        ({"secret_env": "MAILGATE_TEST_UNSET"}, "gateway.secret_env: the environment variable MAILGATE_TEST_UNSET"),
        ({"secret_file": "absent"}, "gateway.secret_file: cannot read"),
        ({"secret_env": "MAILGATE_TEST_SECRET", "secret": "x" * 20}, "gateway: give one of secret, secret_env"),
        ({"secret_file": "short"}, "gateway.secret: String should have at least 16 characters"),
    ]:
        (tmp_path / "short").write_text("short\n")
        with pytest.raises(ConfigError, match=message):
            settings(gateway)


@pytest.mark.parametrize(("web", "refused"), [
    ({"enabled": True, "host": "0.0.0.0"}, True),  # every link would read http://0.0.0.0:9526
    ({"enabled": True, "host": "0.0.0.0", "base_url": "https://support.example.com"}, False),
    ({"enabled": True, "host": "127.0.0.1"}, False),
    ({"enabled": False, "host": "0.0.0.0"}, False),
])
def test_check_refuses_status_links_nobody_can_open(tmp_path: Path, web: dict[str, object], refused: bool) -> None:
    from mailgate.config import checks

    settings = make_settings("sqlite://", 2526, tmp_path, **{f"web__{k}": v for k, v in web.items()})
    found = [p for p in checks.problems(settings) if "web.base_url" in p]
    assert bool(found) is refused
    if refused:
        assert found[0].endswith("which no requester can open: give the address requesters reach, e.g. "
                                 "https://support.example.com") and "http://0.0.0.0:9526" in found[0]


def test_pattern_errors_say_what_the_value_should_be(tmp_path: Path) -> None:
    """A value that does not match its pattern is told in words (with the value), never as a regex."""
    from mailgate.config.sections import ConfigError

    data = settings_data("sqlite://", 25)
    data["digest"] = {"daily": "8h", "weekly": "monday 08:00"}
    data["sla"] = {"supervisors": ["not-an-address"]}
    data["outbound"]["ehlo_name"] = "mail host"
    with pytest.raises(ConfigError) as raised:
        from_dict(data, str(tmp_path / "config.toml"))
    lines = str(raised.value).splitlines()
    daily = "digest.daily: '8h' is not a time of day in UTC such as \"08:00\""
    assert f"{tmp_path / 'config.toml'}: {daily}" in str(raised.value)
    assert len(lines) == 4
    assert "digest.weekly: 'monday 08:00' is not a day and a time in UTC such as \"mon 08:00\"" in str(raised.value)
    assert "sla.supervisors[0]: 'not-an-address' is not a mail address such as support@example.com" in str(raised.value)
    assert "outbound.ehlo_name: 'mail host' is not one word without spaces" in str(raised.value)
    said = [line.split(": ", 2)[2] for line in lines]  # what follows `file: key: `
    assert not any("pattern" in what or "^" in what for what in said)


def test_the_daemons_cached_loggers_still_keep_to_the_level(capsys: pytest.CaptureFixture[str]) -> None:
    """`mailgate run` binds each logger once (log.configure(cached=True)): the level still filters."""
    try:
        log.configure("info", cached=True)
        logger = log.get("test-cached")
        for n in range(3):
            logger.debug("not shown", n=n)
            logger.info("shown", n=n)
        err = capsys.readouterr().err
        assert err.count("shown") == 3 and "not shown" not in err and "n=2" in err
        assert "bind" in vars(logger)  # bound once: the proxy keeps the logger it made (structlog's cache)
        log.configure("info")
        uncached = log.get("test-uncached")
        uncached.info("shown")
        assert "bind" not in vars(uncached)
    finally:
        structlog.reset_defaults()  # as the other tests run: nothing bound to this test's captured stderr
