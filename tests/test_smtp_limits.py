"""SMTP listener hygiene (issue 16.3, 16.7): sessions capped overall and per client, pregreeting clients
refused, a session ended after too many errors, DATA spooled to disk as it arrives, byte-exact."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailgate.config.sections import ConfigError
from mailgate.ingest.smtp_session import Session, SessionLimits, Sessions
from mailgate.store.tables import inbound_raw
from tests.conftest import SmartHostSink, counts, make_settings, read, running, until


class Client:
    """A raw SMTP client: what a hostile or broken one does is not what smtplib allows."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    @classmethod
    async def in_data(cls, port: int) -> Client:
        """A session of fabrice@client.example to support@example.test, answered 354 to DATA."""
        client = await cls.connect(port)
        await client.reply()
        await client.send("EHLO client.example")
        await client.send("MAIL FROM:<fabrice@client.example>")
        await client.send("RCPT TO:<support@example.test>")
        assert (await client.send("DATA")).startswith("354")
        return client

    async def reply(self) -> str:
        """One whole reply (multi-line replies joined), or '' when the server closed the connection."""
        lines = []
        while True:
            line = (await asyncio.wait_for(self.reader.readline(), 10)).decode()
            if not line:
                return "".join(lines)
            lines.append(line)
            if line[3:4] != "-":
                return "".join(lines)

    async def send(self, line: str) -> str:
        self.writer.write(line.encode() + b"\r\n")
        await self.writer.drain()
        return await self.reply()

    async def closed(self) -> bool:
        return await asyncio.wait_for(self.reader.read(), 10) == b""

    def close(self) -> None:
        self.writer.close()


def limited(db_url: str, smart_host: SmartHostSink, tmp_path: Path, **overrides: Any) -> Any:
    return make_settings(db_url, smart_host.port, tmp_path, **{"smtp__pregreet_wait": 0, **overrides})


async def test_sessions_per_client_are_capped_unless_trusted(db_url: str, smart_host: SmartHostSink,
                                                             tmp_path: Path) -> None:
    settings = limited(db_url, smart_host, tmp_path, smtp__max_sessions_per_client=2, smtp__trusted_networks=[])
    async with running(settings) as daemon:
        first, second = await Client.connect(daemon.smtp_port), await Client.connect(daemon.smtp_port)
        assert (await first.reply()).startswith("220") and (await second.reply()).startswith("220")
        third = await Client.connect(daemon.smtp_port)
        refusal = await third.reply()
        assert refusal.startswith("421 4.7.0") and "too many sessions from 127.0.0.1 (2)" in refusal
        assert await third.closed()
        first.close()
        await asyncio.sleep(0.2)  # the listener sees the session end
        fourth = await Client.connect(daemon.smtp_port)
        assert (await fourth.reply()).startswith("220")  # a slot was given back
        assert (await fourth.send("EHLO client.example")).startswith("250")
        for client in (second, third, fourth):
            client.close()
    trusted = limited(db_url, smart_host, tmp_path, smtp__max_sessions_per_client=1)  # loopback is trusted
    async with running(trusted) as daemon:
        clients = [await Client.connect(daemon.smtp_port) for _ in range(3)]
        assert [(await c.reply())[:3] for c in clients] == ["220", "220", "220"]
        for client in clients:
            client.close()


async def test_sessions_overall_are_capped(db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> None:
    settings = limited(db_url, smart_host, tmp_path, smtp__max_sessions=2)
    async with running(settings) as daemon:
        clients = [await Client.connect(daemon.smtp_port) for _ in range(3)]
        replies = [await c.reply() for c in clients]
        assert [r[:3] for r in replies] == ["220", "220", "421"]
        assert "too many sessions (2)" in replies[2]
        for client in clients:
            client.close()


async def test_a_client_that_talks_before_the_greeting_is_refused(db_url: str, smart_host: SmartHostSink,
                                                                  tmp_path: Path) -> None:
    settings = limited(db_url, smart_host, tmp_path, smtp__pregreet_wait=0.3, smtp__trusted_networks=[])
    async with running(settings) as daemon:
        eager = await Client.connect(daemon.smtp_port)
        eager.writer.write(b"EHLO spam.example\r\nMAIL FROM:<a@spam.example>\r\n")  # before any greeting
        refusal = await eager.reply()
        assert refusal.startswith("554 5.5.1") and "talked before the greeting" in refusal
        assert await eager.closed()
        polite = await Client.connect(daemon.smtp_port)
        assert (await polite.reply()).startswith("220")  # after the wait
        assert (await polite.send("EHLO client.example")).startswith("250")
        polite.close()
        eager.close()


async def test_too_many_errors_end_the_session_and_a_delivery_resets_the_count(
        db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> None:
    settings = limited(db_url, smart_host, tmp_path, smtp__hard_error_limit=3)
    async with running(settings) as daemon:
        client = await Client.connect(daemon.smtp_port)
        await client.reply()
        assert (await client.send("EHLO client.example")).startswith("250")
        assert (await client.send("MAIL FROM:<fabrice@client.example>")).startswith("250")
        assert (await client.send("RCPT TO:<nobody@example.test>")).startswith("550")
        assert (await client.send("RCPT TO:<support@example.test>")).startswith("250")
        assert (await client.send("DATA")).startswith("354")
        stored = await client.send("From: fabrice@client.example\r\nSubject: un\r\n\r\nBonjour\r\n.")
        assert stored.startswith("250 2.0.0 OK: queued as")  # the error count starts again
        assert (await client.send("MAIL FROM:<fabrice@client.example>")).startswith("250")
        assert (await client.send("RCPT TO:<a@example.test>")).startswith("550")
        assert (await client.send("RCPT TO:<b@example.test>")).startswith("550")
        last = await client.send("RCPT TO:<c@example.test>")  # the third error since the delivery
        assert last.startswith("550")
        goodbye = await client.reply()
        assert goodbye.startswith("421 4.7.0") and "too many errors" in goodbye
        assert await client.closed()
        client.close()


async def test_data_is_stored_byte_exact_through_the_spool(db_url: str, smart_host: SmartHostSink,
                                                           tmp_path: Path) -> None:
    """A 3 MB mail with dot-stuffed lines, a lone dot inside a line and a long line, with 4 kB in memory."""
    spool = tmp_path / "spool"
    spool.mkdir()
    settings = limited(db_url, smart_host, tmp_path, smtp__spool_memory=4096, smtp__spool_dir=str(spool),
                       smtp__max_message_size=8 * 1024 * 1024)
    body = b"".join(b"line %d .\r\n..starts with a dot\r\n" % i for i in range(60000)) + b"x" * 200_000 + b"\r\n"
    raw = b"From: fabrice@client.example\r\nTo: support@example.test\r\nSubject: gros\r\n\r\n" + body
    stuffed = raw.replace(b"\r\n.", b"\r\n..")
    async with running(settings) as daemon:
        client = await Client.in_data(daemon.smtp_port)
        client.writer.write(stuffed + b".\r\n")
        queued = "I1" if db_url.startswith("sqlite") else "1"  # SQLite: in the listener's intake first
        assert (await client.reply()).startswith(f"250 2.0.0 OK: queued as {queued}\r\n")
        client.close()
        await until(lambda: _processed(settings), what="the mail processed")
        stored = await read(settings, _raw, 1)
    assert stored == raw


async def _processed(settings: Any) -> bool:
    return bool((await counts(settings))["inbound"].get("processed"))


def _raw(conn: Any, inbound_id: int) -> bytes:
    return bytes(conn.execute(sa.select(inbound_raw.c.raw).where(inbound_raw.c.inbound_id == inbound_id)).scalar_one())


class _Reader:
    """The stream a session reads DATA from, fed in chunks."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.stream = asyncio.StreamReader(limit=limit)
        self.stream.feed_data(data)
        self.stream.feed_eof()


@pytest.mark.parametrize(("data", "state", "content"), [
    (b"a\r\n..b\r\n.c\r\n.\r\nQUIT\r\n", "nominal", b"a\r\n.b\r\nc\r\n"),  # stuffing undone, the rest left
    (b"x" * 5000 + b"\r\nb\r\n.\r\n", "a line too long", None),  # longer than the stream's limit
    (b"y" * 900 + b"\r\n" + b"z" * 900 + b"\r\n.\r\n", "too much data", None),  # over data_size_limit
])
async def test_receive_spools_past_memory(data: bytes, state: str, content: bytes | None) -> None:
    session = Session(object(), sessions=Sessions(SessionLimits()), data_size_limit=1000)
    session.line_length_limit = 4096  # as a session's own stream reader has it
    reader = _Reader(data, limit=4096)
    session._reader = reader.stream
    with tempfile.SpooledTemporaryFile(max_size=8) as spool:
        got = await session._receive(spool)
        assert got.value == state
        if content is not None:
            assert spool._rolled  # type: ignore[attr-defined]  # past 8 bytes the spool is a file on disk
            spool.seek(0)
            assert spool.read() == content
    if state == "nominal":
        assert await reader.stream.read() == b"QUIT\r\n"  # the commands after the dot are not consumed


async def test_a_spool_folder_that_cannot_be_written(db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> None:
    """Missing at start: the daemon does not start, naming the key. Gone later (or full): 451, the sender retries."""
    spool = tmp_path / "spool"
    settings = limited(db_url, smart_host, tmp_path, smtp__spool_memory=1024, smtp__spool_dir=str(spool))
    with pytest.raises(ConfigError, match="smtp.spool_dir: cannot write a file in"):
        async with running(settings):
            pass
    spool.mkdir()
    async with running(settings) as daemon:
        spool.rmdir()
        client = await Client.in_data(daemon.smtp_port)
        client.writer.write(b"Subject: x\r\n\r\n" + b"line\r\n" * 1000 + b".\r\n")
        assert (await client.reply()).startswith("451 4.3.1")
        assert (await client.send("NOOP")).startswith("250")  # the session goes on
        client.close()


def _line_at_a_time(stream: bytes, line_limit: int, size_limit: int) -> tuple[str, bytes, bytes]:
    """DATA as a session read it a line at a time (up to each CRLF) before it read in pieces: (state, the
    content when nominal, what is left of the stream after the lone dot)."""
    state, size, content, at = "nominal", 0, [], 0
    while True:
        end = stream.index(b"\r\n", at) + 2
        line, at = stream[at:end], end
        if line == b".\r\n":
            return state, b"".join(content) if state == "nominal" else b"", stream[at:]
        if len(line) - 2 > line_limit and state == "nominal":
            state = "a line too long"
        size += len(line)
        if state == "nominal" and size > size_limit:
            state = "too much data"
        content.append(line[1:] if line[:1] == b"." else line)


_STREAM_BYTES = st.lists(st.sampled_from([b".", b"\r", b"\n", b"\r\n", b"x", b"..", b"\r\n.", b"\r\n.\r\n",
                                          b"yy" * 9]), max_size=60).map(b"".join)


@settings(max_examples=400, deadline=None)
@example(data=b"x" * 8, chunks=[11, 40], limit=8, size_limit=0)  # a piece ends in CR, its LF and the dot next
@example(data=b"x" * 8 + b"\r\n..y", chunks=[14, 40], limit=8, size_limit=0)  # likewise, a stuffed line
@given(data=_STREAM_BYTES, chunks=st.lists(st.integers(1, 40), min_size=1, max_size=8),
       limit=st.integers(8, 64), size_limit=st.integers(0, 120))
def test_receive_in_pieces_reads_as_a_line_at_a_time(data: bytes, chunks: list[int], limit: int,
                                                      size_limit: int) -> None:
    """Whatever the bytes and however they arrive (pieces of any size, a stream buffer as small as a line
    limit): the same lone dot, content, refusal and rest as reading a line at a time."""
    stream = data + b"\r\n.\r\nQUIT\r\n"
    expected = _line_at_a_time(stream, limit, size_limit or 10**9)

    async def run() -> tuple[str, bytes, bytes]:
        session = Session(object(), sessions=Sessions(SessionLimits()), data_size_limit=size_limit)
        session.line_length_limit = limit
        reader = asyncio.StreamReader(limit=limit)
        session._reader = reader

        async def feed() -> None:
            at, n = 0, 0
            while at < len(stream):
                size = chunks[n % len(chunks)]
                reader.feed_data(stream[at:at + size])
                at, n = at + size, n + 1
                await asyncio.sleep(0)
            reader.feed_eof()

        feeding = asyncio.ensure_future(feed())
        with tempfile.SpooledTemporaryFile(max_size=16) as spool:
            state = (await session._receive(spool)).value
            spool.seek(0)
            content = spool.read() if state == "nominal" else b""
        await feeding
        return state, content, await reader.read()

    assert asyncio.run(run()) == expected
