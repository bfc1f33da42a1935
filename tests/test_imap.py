"""The IMAP poller against a real dovecot: stored before marked, no doubles, IDLE, restarts, bad logins."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailgate.clock import utcnow
from mailgate.config.settings import Settings, from_dict
from mailgate.ingest.credentials import SecretError, read_secret
from mailgate.ingest.imap import MailboxPoller
from mailgate.ingest.imap_answers import ImapError, delimiter, parse_fetch, parse_sizes, search_uids, uidvalidity
from mailgate.store import inbound
from mailgate.store.group import GroupWriter
from mailgate.store.schema import open_database
from tests.conftest import SmartHostSink, all_tickets, counts, read, running, settings_data, smtp_send, until
from tests.dovecot import PASSWORD, USER, Dovecot

pytestmark = pytest.mark.imap


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
        if os.environ.get("MAILGATE_REQUIRE_DOVECOT") == "1":
            pytest.fail("dovecot is required (apt-get install dovecot-imapd) but missing")
        pytest.skip("dovecot not installed (apt-get install dovecot-imapd)")
    server = Dovecot()
    server.start()
    yield server
    server.close()


def imap_settings(db_url: str, smart_host: SmartHostSink, tmp_path: Path, dovecot: Dovecot,
                  **mailbox: Any) -> Settings:
    (tmp_path / "imap-password").write_text(PASSWORD + "\n")
    data = settings_data(db_url, smart_host.port)
    data["imap"] = [{
        "name": "support", "host": "127.0.0.1", "port": dovecot.port, "tls": "none",
        "username": USER, "password_file": str(tmp_path / "imap-password"), "poll_interval": 60,
        "backoff_initial": 0.05, "backoff_max": 0.3, "timeout": 5, **mailbox,
    }]
    return from_dict(data, str(tmp_path / "config.toml"))


def mail(i: int, size: int = 0) -> bytes:
    body = "Bonjour, ligne de texte.\r\n" * max(1, size // 26)
    return (f"From: customer{i}@client.example\r\nTo: support@example.test\r\nSubject: Demande {i}\r\n"
            f"Message-ID: <imap-{i}@client.example>\r\n\r\n{body}").encode()


async def imap_state(settings: Settings) -> dict[str, Any]:
    from mailgate.store import imap_state as store

    states = await read(settings, store.all_states)
    return states[0] if states else {}  # type: ignore[no-any-return]


async def test_new_mail_becomes_ticket_and_is_moved_after_commit(
    db_url: str, smart_host: SmartHostSink, tmp_path: Path, dovecot: Dovecot
) -> None:
    for i in range(3):
        dovecot.append(mail(i))
    settings = imap_settings(db_url, smart_host, tmp_path, dovecot, batch=2)  # two batches
    async with running(settings):
        await until(lambda: len(smart_host.received) == 3, what="three acknowledgements")
    assert sorted(t["requester"] for t in await all_tickets(settings)) == [
        f"customer{i}@client.example" for i in range(3)]
    assert dovecot.uids("INBOX") == []
    assert len(dovecot.uids("mailgate.processed")) == 3  # "/" written in the server's own separator
    state = await imap_state(settings)
    assert (state["last_uid"], state["stored"], state["errors"]) == (3, 3, 0)
    assert state["last_poll_at"] is not None and state["uidvalidity"] is not None


async def test_flag_mode_leaves_mail_in_place_marked_seen(
    db_url: str, smart_host: SmartHostSink, tmp_path: Path, dovecot: Dovecot
) -> None:
    dovecot.append(mail(1))
    settings = imap_settings(db_url, smart_host, tmp_path, dovecot, after="flag")
    async with running(settings):
        await until(lambda: len(smart_host.received) == 1, what="the acknowledgement")
    assert dovecot.uids("INBOX") == [1]
    assert dovecot.uids("INBOX", "SEEN") == [1]


async def test_crash_between_commit_and_move_stores_once(
    db_url: str, smart_host: SmartHostSink, tmp_path: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(4):
        dovecot.append(mail(i))
    settings = imap_settings(db_url, smart_host, tmp_path, dovecot)
    db = open_database(settings)
    commits = GroupWriter(db, inbound.store_many, utcnow)
    try:
        first = MailboxPoller(settings, settings.imap[0], commits, utcnow)

        async def killed(*args: Any) -> None:  # the process dies right after the commit
            raise ImapError("killed between commit and move")

        monkeypatch.setattr(first, "_after_store", killed)
        client = await first._open()
        with pytest.raises(ImapError):
            await first.poll_once(client)
        await first._close()
        assert (await counts(settings))["inbound"] == {"received": 4}  # committed...
        assert dovecot.uids("INBOX") == [1, 2, 3, 4]  # ...but not moved

        restarted = MailboxPoller(settings, settings.imap[0], commits, utcnow)
        client = await restarted._open()
        await restarted.poll_once(client)
        await restarted._close()
    finally:
        db.close()
    assert (await counts(settings))["inbound"] == {"received": 4}  # fetched again, stored once
    assert dovecot.uids("INBOX") == []
    async with running(settings):
        await until(lambda: len(smart_host.received) == 4, what="four acknowledgements")
    assert len(await all_tickets(settings)) == 4


async def test_idle_wakes_the_poller(db_url: str, smart_host: SmartHostSink, tmp_path: Path, dovecot: Dovecot) -> None:
    settings = imap_settings(db_url, smart_host, tmp_path, dovecot, poll_interval=600)
    async with running(settings):
        await until(lambda: _polled(settings), what="the first poll")
        await asyncio.sleep(0.2)  # in IDLE by now
        started = time.monotonic()
        await asyncio.to_thread(dovecot.append, mail(7))
        await until(lambda: _stored(settings, 1), timeout=20, what="the mail pushed by IDLE")
        latency = time.monotonic() - started
    print(f"IDLE wake-up to stored: {latency * 1000:.0f} ms")  # polling would take 600 s here
    assert dovecot.uids("INBOX") == []


async def test_server_restart_mid_session_recovers(
    db_url: str, smart_host: SmartHostSink, tmp_path: Path, dovecot: Dovecot
) -> None:
    settings = imap_settings(db_url, smart_host, tmp_path, dovecot, poll_interval=0.2, idle=False)
    async with running(settings):
        await until(lambda: _polled(settings), what="the first poll")
        dovecot.stop()
        await until(lambda: _errors(settings, 2), what="failed reconnects")
        dovecot.start()
        await asyncio.to_thread(dovecot.append, mail(1))
        await until(lambda: len(smart_host.received) == 1, timeout=20, what="mail after the restart")
    state = await imap_state(settings)
    assert state["errors"] == 0  # reset by the successful reconnect
    assert state["last_error"]  # kept for the record


async def test_bad_password_backs_off_and_smtp_keeps_serving(
    db_url: str, smart_host: SmartHostSink, tmp_path: Path, dovecot: Dovecot
) -> None:
    settings = imap_settings(db_url, smart_host, tmp_path, dovecot)
    (tmp_path / "imap-password").write_text("wrong\n")
    dovecot.append(mail(1))
    async with running(settings) as daemon:
        # dovecot answers repeated bad logins from one address ever more slowly (its auth penalty)
        await until(lambda: _errors(settings, 2), timeout=30, what="two refused logins")
        from tests.conftest import eml

        await smtp_send(daemon.smtp_port, eml("new_request.eml"))
        await until(lambda: len(smart_host.received) == 1, what="the SMTP mail's acknowledgement")
    state = await imap_state(settings)
    assert state["connected"] is False and "LOGIN" in state["last_error"]
    assert dovecot.uids("INBOX") == [1]  # untouched


async def test_bad_mailbox_does_not_stop_a_good_one(
    db_url: str, smart_host: SmartHostSink, tmp_path: Path, dovecot: Dovecot
) -> None:
    settings = imap_settings(db_url, smart_host, tmp_path, dovecot)
    (tmp_path / "wrong-password").write_text("wrong\n")
    good = settings.imap[0].model_dump()
    bad = {**good, "name": "broken", "password_file": str(tmp_path / "wrong-password")}
    settings = settings.model_copy(update={"imap": [type(settings.imap[0])(**bad), settings.imap[0]]})
    dovecot.append(mail(1))
    async with running(settings):
        await until(lambda: len(smart_host.received) == 1, what="mail from the good mailbox")
    from mailgate.store import imap_state as store

    states = {s["mailbox"]: s for s in await read(settings, store.all_states)}
    assert states["broken"]["errors"] >= 1 and states["broken"]["stored"] == 0
    assert states["support"]["stored"] == 1 and states["support"]["errors"] == 0


async def test_re_idle_after_idle_timeout_still_wakes(
    db_url: str, smart_host: SmartHostSink, tmp_path: Path, dovecot: Dovecot
) -> None:
    settings = imap_settings(db_url, smart_host, tmp_path, dovecot, idle_timeout=0.3, poll_interval=600)
    async with running(settings):
        await until(lambda: _polled(settings), what="the first poll")
        await asyncio.sleep(1.2)  # several IDLE periods end and start again
        await asyncio.to_thread(dovecot.append, mail(3))
        await until(lambda: _stored(settings, 1), timeout=20, what="the mail after re-IDLE")
    assert (await imap_state(settings))["errors"] == 0


async def test_uidvalidity_change_rescans_without_doubles(
    db_url: str, smart_host: SmartHostSink, tmp_path: Path, dovecot: Dovecot
) -> None:
    dovecot.recreate("support")
    for i in range(2):
        dovecot.append(mail(i), "support")
    settings = imap_settings(db_url, smart_host, tmp_path, dovecot, folder="support", after="flag")
    db = open_database(settings)
    commits = GroupWriter(db, inbound.store_many, utcnow)
    try:
        poller = MailboxPoller(settings, settings.imap[0], commits, utcnow)
        await poller.poll_once(await poller._open())
        old = poller.uidvalidity
        await poller._close()
        dovecot.recreate("support")  # new UIDVALIDITY; UIDs start again at 1
        for i in (0, 1, 2):  # two mails seen before (same Message-ID and sender) and one new one
            dovecot.append(mail(i), "support")
        client = await poller._open()
        assert poller.uidvalidity != old
        await poller.poll_once(client)
        await poller._close()
    finally:
        db.close()
    assert (await counts(settings))["inbound"] == {"received": 3}
    state = await imap_state(settings)
    assert (state["uidvalidity"], state["last_uid"], state["stored"]) == (poller.uidvalidity, 3, 3)


@pytest.mark.parametrize("oversize_folder", [None, "mailgate/too-big"])
async def test_oversize_mail_is_left_or_moved_aside_not_dropped(
    db_url: str, smart_host: SmartHostSink, tmp_path: Path, dovecot: Dovecot, oversize_folder: str | None
) -> None:
    settings = imap_settings(db_url, smart_host, tmp_path, dovecot, oversize_folder=oversize_folder)
    dovecot.append(mail(1, size=settings.smtp.max_message_size + 1000))
    dovecot.append(mail(2))
    async with running(settings):
        await until(lambda: len(smart_host.received) == 1, what="the small mail's acknowledgement")
        await until(lambda: _last_uid(settings, 2), what="the poll to pass both")
    assert (await counts(settings))["inbound"] == {"processed": 1}
    if oversize_folder is None:
        assert dovecot.uids("INBOX") == [1]
    else:
        assert dovecot.uids("INBOX") == [] and len(dovecot.uids(oversize_folder.replace("/", "."))) == 1


@pytest.mark.parametrize("verify", [False, True])
async def test_implicit_tls(db_url: str, smart_host: SmartHostSink, tmp_path: Path, dovecot: Dovecot,
                            verify: bool) -> None:
    tls_server = Dovecot(tls=True)
    tls_server.start()
    try:
        tls_server.append(mail(1))
        settings = imap_settings(db_url, smart_host, tmp_path, dovecot, port=tls_server.tls_port,
                                 tls="implicit", tls_verify=verify)
        async with running(settings):
            if verify:  # a self-signed certificate is refused, and said so
                await until(lambda: _errors(settings, 1), what="the certificate refusal")
            else:
                await until(lambda: len(smart_host.received) == 1, what="mail over IMAPS")
        state = await imap_state(settings)
        if verify:
            assert "CERTIFICATE_VERIFY_FAILED" in state["last_error"] and state["stored"] == 0
            assert tls_server.uids("INBOX") == [1]
        else:
            assert state["stored"] == 1 and tls_server.uids("INBOX") == []
    finally:
        tls_server.close()


def test_parse_fetch_with_uid_before_or_after_the_literal() -> None:
    lines: list[bytes | bytearray] = [
        b"1 FETCH (UID 5 BODY[] {3}", bytearray(b"abc"), b")",
        b"2 FETCH (BODY[] {2}", bytearray(b"de"), b" UID 9)",
        b"3 FETCH (UID 11 FLAGS (\\Seen))",  # no literal: nothing to store
        b"Fetch completed.",
    ]
    assert parse_fetch(lines) == {5: b"abc", 9: b"de"}
    assert parse_sizes([b"1 FETCH (UID 5 RFC822.SIZE 310)", b"2 FETCH (RFC822.SIZE 12 UID 6)", b"done"]) == {
        5: 310, 6: 12}


def test_search_uidvalidity_and_separator_answers() -> None:
    assert search_uids([b"7 3 9", b"Search completed."], above=3) == [7, 9]  # "4:*" also names UID 3
    assert search_uids([b"", b"Search completed."], above=0) == []
    assert uidvalidity([b"3 EXISTS", b"OK [UIDVALIDITY 1795437397] UIDs valid", b"done"]) == 1795437397
    assert uidvalidity([b"3 EXISTS"]) is None
    assert delimiter([b'(\\Noselect) "." ""', b"List completed."]) == "."
    assert delimiter([b'(\\Noselect) "/" ""']) == "/"
    assert delimiter([b"(\\Noselect) NIL \"\""]) == ""


async def _polled(settings: Settings) -> bool:
    return (await imap_state(settings)).get("last_poll_at") is not None


async def _stored(settings: Settings, n: int) -> bool:
    return sum((await counts(settings))["inbound"].values()) >= n


async def _errors(settings: Settings, n: int) -> bool:
    return int((await imap_state(settings)).get("errors", 0)) >= n


async def _last_uid(settings: Settings, n: int) -> bool:
    return int((await imap_state(settings)).get("last_uid", 0)) >= n


def test_credentials_from_env_file_or_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("tok-from-file\nignored\n")
    data = settings_data(f"sqlite:///{tmp_path / 'x.sqlite3'}", 25)
    data["imap"] = [
        {"name": "a", "host": "h", "username": "u", "password_env": "MG_TEST_IMAP_PW"},
        {"name": "b", "host": "h", "username": "u", "auth": "xoauth2", "token_file": "token"},
        {"name": "c", "host": "h", "username": "u", "auth": "xoauth2", "token_command": "echo tok-from-cmd"},
        {"name": "d", "host": "h", "username": "u", "auth": "xoauth2", "token_command": "exit 3"},
    ]
    settings = from_dict(data, str(tmp_path / "config.toml"))  # token_file is relative to this file
    with pytest.raises(SecretError, match="MG_TEST_IMAP_PW is not set"):
        read_secret(settings, env="MG_TEST_IMAP_PW")
    monkeypatch.setenv("MG_TEST_IMAP_PW", "pw")
    assert read_secret(settings, env="MG_TEST_IMAP_PW") == "pw"
    assert read_secret(settings, path="token") == "tok-from-file"
    assert read_secret(settings, command="echo tok-from-cmd") == "tok-from-cmd"
    with pytest.raises(SecretError, match="command failed"):
        read_secret(settings, command="exit 3")
    assert [m.effective_port for m in settings.imap] == [993] * 4


def test_imap_config_errors_name_the_entry(tmp_path: Path) -> None:
    from mailgate.config.sections import ConfigError

    data = settings_data(f"sqlite:///{tmp_path / 'x.sqlite3'}", 25)
    data["imap"] = [{"host": "h", "username": "u", "password_env": "X"},
                    {"host": "h", "username": "u", "password_env": "Y"},
                    {"host": "h", "username": "u"}]
    with pytest.raises(ConfigError) as info:
        from_dict(data, "mailgate.toml")
    text = str(info.value)
    assert "mailgate.toml: imap[2]: Value error, login needs password_env or password_file" in text
    data["imap"] = data["imap"][:2]  # two entries for the same mailbox
    with pytest.raises(ConfigError, match=r"two \[\[imap\]\] entries share the name u@h/INBOX"):
        from_dict(data, "mailgate.toml")
