"""Shell, ingest: one IMAP session opened: plain or implicit TLS, greeting, LOGIN or XOAUTH2, the folder separator."""

from __future__ import annotations

import asyncio
import ssl

import aioimaplib

from mailgate.config.sections import Imap
from mailgate.config.settings import Settings
from mailgate.ingest.credentials import read_secret
from mailgate.ingest.imap_answers import check, delimiter


def client_for(cfg: Imap) -> aioimaplib.IMAP4:
    """A client for the mailbox's server, not yet connected; TLS verified unless tls_verify is off."""
    if cfg.tls == "implicit":
        context = ssl.create_default_context()
        if not cfg.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return aioimaplib.IMAP4_SSL(host=cfg.host, port=cfg.effective_port, timeout=cfg.timeout,
                                    ssl_context=context)
    return aioimaplib.IMAP4(host=cfg.host, port=cfg.effective_port, timeout=cfg.timeout)


async def log_in(client: aioimaplib.IMAP4, settings: Settings, cfg: Imap) -> str:
    """Wait for the greeting, authenticate, and return the server's folder separator ("/" or "." mostly)."""
    await asyncio.wait_for(client.wait_hello_from_server(), cfg.timeout)
    if cfg.auth == "xoauth2":
        token = read_secret(settings, path=cfg.token_file, command=cfg.token_command)
        check(await client.xoauth2(cfg.username, token), "XOAUTH2")
    else:
        password = read_secret(settings, path=cfg.password_file, env=cfg.password_env)
        check(await client.login(cfg.username, password), "LOGIN")
    return delimiter((await client.list('""', '""')).lines)  # `LIST "" ""` names the separator
