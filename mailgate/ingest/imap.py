"""Shell: the IMAP poller (aioimaplib). Fetches new mail by UID in batches, stores and commits it,
and only then moves or flags it; IDLE when offered, polling otherwise; reconnects with backoff."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

import aioimaplib
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from mailgate import log
from mailgate.aio import wait_any
from mailgate.clock import Clock
from mailgate.config.sections import Imap
from mailgate.config.settings import Settings
from mailgate.core.mail.parse import dedupe_fields
from mailgate.ingest import imap_login
from mailgate.ingest.credentials import SecretError
from mailgate.ingest.imap_answers import (
    ImapError,
    check,
    parse_fetch,
    parse_sizes,
    search_uids,
    uid_set,
    uidvalidity,
)
from mailgate.store import imap_state
from mailgate.store.faults import is_temporary
from mailgate.store.group import GroupWriter
from mailgate.store.inbound import Arrival

# Everything that means "this session is over; reconnect later".
SESSION_ERRORS: tuple[type[BaseException], ...] = (
    ImapError, SecretError, aioimaplib.Abort, aioimaplib.CommandTimeout, OSError, TimeoutError, ssl.SSLError,
)

logger = log.get("imap_in")


def lease_name(mailbox: Imap) -> str:
    """The lease of a mailbox (store/leases.py): one daemon polls it at a time, whatever each calls it."""
    return f"imap:{mailbox.host.lower()}/{mailbox.username}/{mailbox.folder}"


class MailboxPoller:
    """Keeps one mailbox drained into inbound_mail. Never raises: errors are logged, recorded and
    retried, so one bad mailbox never stops the others or the SMTP listener."""

    def __init__(self, settings: Settings, mailbox: Imap, commits: GroupWriter[Arrival, int | None], clock: Clock,
                 on_stored: Callable[[], None] = lambda: None) -> None:
        self.settings = settings
        self.cfg = mailbox
        self.commits = commits
        self.db = commits.db
        self.clock = clock
        self.on_stored = on_stored
        self.key = mailbox.key
        self.lease = lease_name(mailbox)  # the daemon runs the poller while it holds this lease
        self.client: aioimaplib.IMAP4 | None = None
        self.uidvalidity: int | None = None
        self._folders: set[str] = set()  # folders known to exist on the server
        self._delimiter = "/"  # the server's hierarchy separator, read at login
        self._delay = mailbox.backoff_initial
        self._had_error = False
        self._lost = asyncio.Event()  # set when the server closes the connection

    async def run(self, stop: asyncio.Event) -> None:
        """Serve the mailbox until stop; a failed session is retried after a delay that doubles up
        to backoff_max and starts again from backoff_initial once a poll succeeds."""
        while not stop.is_set():
            try:
                client = await self._connect_with_backoff(stop)
                if client is None:
                    return
                await self._serve(client, stop)
            except Exception as exc:  # the session is over, whatever ended it (the database too): retry later
                if not isinstance(exc, SESSION_ERRORS) and not is_temporary(exc):
                    logger.error("imap poller failed unexpectedly", mailbox=self.key, exc_info=exc)
                await self._record_error(exc, retry_in=self._delay)
                await self._close()
                await wait_any(stop, timeout=self._delay)
                self._delay = min(self._delay * 2, self.cfg.backoff_max)
            finally:
                await self._close()

    async def _connect_with_backoff(self, stop: asyncio.Event) -> aioimaplib.IMAP4 | None:
        """Connect, log in and select; on failure wait (doubling up to backoff_max) and try again."""
        async def sleep(seconds: float) -> None:
            await wait_any(stop, timeout=seconds)

        async def before_sleep(state) -> None:  # type: ignore[no-untyped-def]
            exc = state.outcome.exception() if state.outcome else None
            if exc is not None:
                await self._record_error(exc, retry_in=state.upcoming_sleep)

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(SESSION_ERRORS),
            wait=wait_exponential(multiplier=self.cfg.backoff_initial, max=self.cfg.backoff_max),
            sleep=sleep, before_sleep=before_sleep, reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if stop.is_set():
                    return None
                return await self._open()
        return None

    async def _open(self) -> aioimaplib.IMAP4:
        self.client = client = imap_login.client_for(self.cfg)
        self._lost = asyncio.Event()
        client.protocol.conn_lost_cb = lambda exc: self._lost.set()  # a dead link wakes the waits
        self._delimiter = await imap_login.log_in(client, self.settings, self.cfg)
        await self._select(client)
        logger.info("imap connected", mailbox=self.key)
        return client

    def folder_name(self, configured: str) -> str:
        """A configured folder path, written with "/", in the server's own separator."""
        return configured.replace("/", self._delimiter) if self._delimiter else configured

    async def _select(self, client: aioimaplib.IMAP4) -> None:
        """SELECT the folder and handle a UIDVALIDITY change: every UID we knew is void."""
        folder = self.folder_name(self.cfg.folder)
        response = check(await client.select(folder), f"SELECT {folder}")
        validity = uidvalidity(response.lines)
        if validity is None:
            raise ImapError(f"SELECT {self.cfg.folder}: no UIDVALIDITY in the answer")
        known = await self.db.write(imap_state.selected, self.key, validity)
        if known.uidvalidity is not None and known.uidvalidity != validity:
            logger.warning("imap UIDVALIDITY changed: rescanning the folder (duplicates are stored once)",
                           mailbox=self.key, old=known.uidvalidity, new=validity)
        self.uidvalidity = validity

    async def _serve(self, client: aioimaplib.IMAP4, stop: asyncio.Event) -> None:
        idle = self.cfg.idle and client.has_capability("IDLE")
        while not stop.is_set():
            while await self.poll_once(client):  # drain: a full batch may mean more is waiting
                if stop.is_set():
                    return
            if idle:
                await self._idle(client, stop)
            else:
                await wait_any(stop, self._lost, timeout=self.cfg.poll_interval)
            if self._lost.is_set():
                raise ImapError("the server closed the connection")

    async def _idle(self, client: aioimaplib.IMAP4, stop: asyncio.Event) -> None:
        """IDLE until the server reports new mail, stop is asked, or idle_timeout (then re-IDLE)."""
        idle_task = await client.idle_start(timeout=self.cfg.idle_timeout)
        stopper = asyncio.ensure_future(stop.wait())
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            while True:
                push = asyncio.ensure_future(client.wait_server_push(timeout=self.cfg.idle_timeout))
                done, _ = await asyncio.wait({push, stopper, lost, idle_task},
                                             return_when=asyncio.FIRST_COMPLETED)
                if push not in done:
                    push.cancel()
                    break
                lines = push.result()
                if lines == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                if any(b"EXISTS" in bytes(x) for x in (lines if isinstance(lines, list) else [lines])):
                    break
        finally:
            stopper.cancel()
            lost.cancel()
            if self._lost.is_set():
                raise ImapError("the server closed the connection during IDLE")
            if client.has_pending_idle():
                client.idle_done()
            check(await asyncio.wait_for(idle_task, self.cfg.timeout), "IDLE")

    async def poll_once(self, client: aioimaplib.IMAP4) -> bool:
        """Store one batch of new mail, then move/flag it. True when a full batch was taken."""
        last_uid = (await self.db.read(imap_state.position, self.key)).last_uid
        criteria = f"UID {last_uid + 1}:*" + (" UNSEEN" if self.cfg.after == "flag" else "")
        response = check(await client.uid_search(criteria), "UID SEARCH")
        uids = search_uids(response.lines, above=last_uid)
        await self._mark_polled()
        if not uids:
            await self._healthy()
            return False
        batch = uids[: self.cfg.batch]
        sizes = parse_sizes(check(await client.uid("fetch", uid_set(batch), "(UID RFC822.SIZE)"),
                                   "UID FETCH SIZE").lines)
        limit = self.settings.smtp.max_message_size
        too_big = [u for u in batch if sizes.get(u, 0) > limit]
        wanted = [u for u in batch if u not in too_big and u in sizes]  # gone meanwhile: skipped
        raws = parse_fetch(check(await client.uid("fetch", uid_set(wanted), "(UID BODY.PEEK[])"),
                                  "UID FETCH").lines) if wanted else {}
        missing = sorted(set(wanted) - raws.keys())
        if missing:  # expunged meanwhile, or the server would not give them: they stay where they are
            logger.warning("imap mail not returned by UID FETCH, left in place", mailbox=self.key, uids=missing)
        stored = await self._store(raws)
        if stored:
            self.on_stored()
        await self._after_store(client, sorted(raws), too_big, sizes)
        await self.db.write(imap_state.advanced, self.key, max(batch), stored)
        await self._healthy()
        return len(uids) > len(batch)

    async def _healthy(self) -> None:
        """A whole poll went through: the error count and the backoff start over."""
        if self._delay != self.cfg.backoff_initial or self._had_error:
            self._delay, self._had_error = self.cfg.backoff_initial, False
            await self.db.write(imap_state.update, self.key, errors=0)

    async def _store(self, raws: dict[int, bytes]) -> int:
        """Persist the fetched mails (in the group commit: with the SMTP mail of the moment); how many were new.
        Raises, leaving every mail of the batch in place, when the commit fails."""
        arrivals = []
        for uid in sorted(raws):
            message_id, sender = dedupe_fields(raws[uid])
            arrivals.append(Arrival(raw=raws[uid], source="imap", source_ref=f"{self.key}/{self.uidvalidity}/{uid}",
                                    envelope_from=None, envelope_to=[], message_id=message_id, sender=sender))
        ids = await asyncio.gather(*(self.commits.write(a) for a in arrivals))
        return sum(new_id is not None for new_id in ids)

    async def _after_store(self, client: aioimaplib.IMAP4, done: list[int], too_big: list[int],
                           sizes: dict[int, int]) -> None:
        """Only now, after the commit, mark the mail as taken (move or \\Seen)."""
        if done:
            if self.cfg.after == "move":
                await self._move(client, done, self.cfg.move_to)
            else:
                check(await client.uid("store", uid_set(done), "+FLAGS.SILENT (\\Seen)"), "UID STORE")
        for uid in too_big:
            logger.error("imap mail over max_message_size left in place" if not self.cfg.oversize_folder
                         else "imap mail over max_message_size moved aside", mailbox=self.key, uid=uid,
                         size=sizes.get(uid), limit=self.settings.smtp.max_message_size,
                         folder=self.cfg.oversize_folder)
        if too_big and self.cfg.oversize_folder:
            await self._move(client, too_big, self.cfg.oversize_folder)

    async def _move(self, client: aioimaplib.IMAP4, uids: list[int], configured: str) -> None:
        folder = self.folder_name(configured)
        await self._ensure_folder(client, folder)
        if client.has_capability("MOVE"):
            check(await client.uid("move", uid_set(uids), folder), f"UID MOVE {folder}")
            return
        check(await client.uid("copy", uid_set(uids), folder), f"UID COPY {folder}")
        check(await client.uid("store", uid_set(uids), "+FLAGS.SILENT (\\Deleted)"), "UID STORE")
        if client.has_capability("UIDPLUS"):
            check(await client.uid("expunge", uid_set(uids)), "UID EXPUNGE")
        else:
            check(await client.expunge(), "EXPUNGE")

    async def _ensure_folder(self, client: aioimaplib.IMAP4, folder: str) -> None:
        if folder in self._folders:
            return
        response = await client.create(folder)
        text = b" ".join(bytes(x) for x in response.lines).upper()
        if response.result != "OK" and b"ALREADYEXISTS" not in text and b"EXISTS" not in text:
            check(response, f"CREATE {folder}")
        self._folders.add(folder)

    async def _mark_polled(self) -> None:
        await self.db.write(imap_state.update, self.key, last_poll_at=self.clock(), connected=True)

    async def _record_error(self, exc: BaseException, retry_in: float | None = None) -> None:
        self._had_error = True
        error = f"{type(exc).__name__}: {exc}"
        logger.warning("imap mailbox unavailable", mailbox=self.key, error=error, retry_in=retry_in)
        try:
            await self.db.write(imap_state.record_error, self.key, error, self.clock())
        except Exception:
            pass  # the database is down too; the log has it

    async def _close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        if not self._lost.is_set():
            try:
                await asyncio.wait_for(client.logout(), 2)
            except Exception:  # already gone: nothing to tell the server
                pass
        try:
            await self.db.write(imap_state.update, self.key, connected=False)
        except Exception:
            pass  # the database is down: the state is written again at the next connection
