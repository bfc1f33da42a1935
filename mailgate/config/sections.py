"""Shell, configuration: the sections of the TOML file, each validated and frozen (pydantic)."""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mailgate.core.mail.parse import addresses
from mailgate.core.workflow.notices import KINDS as NOTICE_KINDS

EMAIL = r"^[^@\s<>]+@[^@\s<>]+$"
DAILY = r"^(([01]?\d|2[0-3]):[0-5]\d)?$"
WEEKLY = r"^((?i:mon|tue|wed|thu|fri|sat|sun) +([01]?\d|2[0-3]):[0-5]\d)?$"
ONE_WORD = r"^\S+$"
# what a value of each pattern is, for the error that names the file and key (config/settings.py)
PATTERN_MEANING = {
    EMAIL: "a mail address such as support@example.com",
    DAILY: 'a time of day in UTC such as "08:00", or "" for none',
    WEEKLY: 'a day and a time in UTC such as "mon 08:00", or "" for none',
    ONE_WORD: "one word without spaces",
}


class ConfigError(Exception):
    """The config cannot be used; the message lists every problem as `file: key: what`."""


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Gateway(Section):
    addresses: Annotated[list[Annotated[str, Field(pattern=EMAIL)]], Field(min_length=1)]
    from_: str = Field(alias="from")
    name: str = ""
    locale: Literal["fr", "en"] = "fr"
    secret: str = Field(min_length=16)
    message_id_domain: str | None = None
    templates: str | None = None
    rules: str | None = None  # folder of the rules/*.yaml; defaults to the rules/ shipped with mailgate

    @field_validator("addresses")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value]

    @field_validator("from_")
    @classmethod
    def _one_address(cls, value: str) -> str:
        if len(addresses([value])) != 1:
            raise ValueError("must be one address, e.g. 'Support <support@example.com>'")
        return value


class Database(Section):
    url: str = "sqlite:///var/mailgate.sqlite3"
    echo: bool = False
    busy_timeout_ms: int = Field(default=10_000, ge=0)  # SQLite: wait this long for another writer

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        known = scheme in ("sqlite", "sqlite+pysqlite", "sqlite+aiosqlite") or scheme.startswith(
            ("postgresql", "postgres"))
        if not sep or not known or (scheme.startswith("sqlite") and rest and not rest.startswith("/")):
            raise ValueError(f"{value!r} is not a database URL mailgate can use: sqlite:///path/to/file.sqlite3 "
                             "(a relative path after the three slashes is taken from the config file's folder) "
                             "or postgresql://user:password@host:5432/database")
        if scheme.startswith(("postgresql+", "postgres+")) and scheme not in (
                "postgresql+psycopg", "postgresql+psycopg2", "postgresql+asyncpg"):
            raise ValueError(f"{scheme}:// is not a PostgreSQL driver mailgate has; write postgresql://")
        return value


class Smtp(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=2525, ge=0, le=65535)
    max_message_size: int = Field(default=25 * 1024 * 1024, ge=1024)
    hostname: str | None = None  # name announced in the greeting and EHLO reply; the machine's name by default
    # Limits as Postfix has them: sessions at once (default_process_limit), from one client address
    # (smtpd_client_connection_count_limit), errors before the session is ended (smtpd_hard_error_limit).
    max_sessions: int = Field(default=100, ge=1)
    max_sessions_per_client: int = Field(default=20, ge=1)
    hard_error_limit: int = Field(default=20, ge=1)
    pregreet_wait: float = Field(default=1.0, ge=0, le=60)  # seconds: a client talking meanwhile is refused
    # exempt from the per-client cap and the pregreet wait (Postfix exempts mynetworks the same way)
    trusted_networks: list[str] = ["127.0.0.0/8", "::1/128"]
    spool_memory: int = Field(default=1024 * 1024, ge=0)  # DATA bytes a session holds in memory, then on disk
    spool_dir: str | None = None  # where DATA is spooled; the system's temporary folder ($TMPDIR) by default

    @field_validator("trusted_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an IP network such as 192.0.2.0/24 or 2001:db8::/32") from None
        return value


class Outbound(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    tls: Literal["none", "starttls", "implicit"] = "none"
    username: str | None = None
    password: str | None = None
    password_env: str | None = None  # name of an environment variable holding the password
    timeout: float = Field(default=30.0, gt=0)
    retry_initial_delay: float = Field(default=30.0, gt=0)  # seconds before the first retry
    retry_max_delay: float = Field(default=3600.0, gt=0)
    retry_deadline: float = Field(default=2 * 86400.0, gt=0)  # give up this long after queueing
    poll_interval: float = Field(default=5.0, gt=0)
    # the name we give in EHLO to the smart host (aiosmtplib's local_hostname); the machine's FQDN when unset
    ehlo_name: str | None = Field(default=None, min_length=1, pattern=ONE_WORD)

    @model_validator(mode="after")
    def _auth(self) -> Outbound:
        if (self.password or self.password_env) and not self.username:
            raise ValueError("password given without username")
        return self

    def resolved_password(self) -> str | None:
        if self.password_env:
            return os.environ.get(self.password_env)
        return self.password


class Imap(Section):
    """One mailbox to poll. The password never has to be in the config file itself."""

    name: str | None = None  # how logs and `status` call it; username@host/folder by default
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)  # 993 with tls = implicit, else 143
    tls: Literal["implicit", "none"] = "implicit"  # STARTTLS: not offered by aioimaplib
    tls_verify: bool = True
    username: str
    auth: Literal["login", "xoauth2"] = "login"
    password_env: str | None = None  # environment variable holding the password
    password_file: str | None = None  # file holding the password (first line)
    token_file: str | None = None  # xoauth2: file holding the access token
    token_command: str | None = None  # xoauth2: command printing the access token
    folder: str = "INBOX"
    after: Literal["move", "flag"] = "move"  # once stored: move the mail, or flag it \Seen
    move_to: str = "mailgate/processed"  # created if missing
    oversize_folder: str | None = None  # mail over max_message_size goes there; else it stays put
    idle: bool = True  # IMAP IDLE when the server offers it; polling otherwise
    idle_timeout: float = Field(default=25 * 60.0, gt=0)  # re-IDLE before servers drop us (~30 min)
    poll_interval: float = Field(default=60.0, gt=0)
    batch: int = Field(default=50, ge=1, le=1000)  # mails per UID FETCH
    timeout: float = Field(default=30.0, gt=0)
    backoff_initial: float = Field(default=1.0, gt=0)  # seconds; doubles after each failure
    backoff_max: float = Field(default=300.0, gt=0)

    @model_validator(mode="after")
    def _credentials(self) -> Imap:
        if self.auth == "login" and not (self.password_env or self.password_file):
            raise ValueError("login needs password_env or password_file")
        if self.auth == "xoauth2" and not (self.token_file or self.token_command):
            raise ValueError("xoauth2 needs token_file or token_command")
        return self

    @property
    def key(self) -> str:
        return self.name or f"{self.username}@{self.host}/{self.folder}"

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "implicit" else 143)


class Worker(Section):
    poll_interval: float = Field(default=1.0, gt=0)  # seconds between scans for mail from other processes
    batch: int = Field(default=50, ge=1, le=1000)  # mails claimed at once
    # a processing transaction commits after this long (the rest of the batch goes in the next one). On SQLite
    # the IMAP poller's and the sender's commits wait for it on the one writer (the SMTP listener's go to its
    # intake and do not): 50 ms rather than 20 put 18-22 mails in a transaction rather than 6.5, for 9-17 % less
    # of the worker's CPU a mail, 10-20 % more mail end to end over SMTP and 9-29 % more over IMAP, the sender
    # keeping up (benchmarks/smtp_throughput.py and imap_ingest.py on 2 cores, alternated); on PostgreSQL none
    # wait, and fewer commits carry more mail (260 mails/s against 196 with 10 ms)
    max_transaction_ms: float = Field(default=50.0, gt=0)


class Daemon(Section):
    # `mailgate run`: 1 process for everything, or 2: the worker and the sweeper in a second process (a
    # second core for the per-mail work); "auto" = 2 on a machine with more than one core
    processes: Literal["auto", 1, 2] = "auto"
    # two processes: "split" runs the listener on the first half of the CPUs the daemon may use and the worker
    # process on the other half (on 2 cores, 11-13 % more mail end to end: neither is moved off its core for the
    # other); "none" leaves them to the kernel
    cpu_affinity: Literal["split", "none"] = "split"


class Metrics(Section):
    """The Prometheus /metrics endpoint (mailgate/web/metrics.py): counts and ages read from the database."""

    enabled: bool = False
    host: str = "127.0.0.1"  # no authentication: keep it on loopback (or behind a firewall)
    port: int = Field(default=9525, ge=0, le=65535)
    health_inbound_max_age: float = Field(default=300.0, gt=0)  # /healthz: seconds a received mail may wait
    health_outbox_max_age: float = Field(default=900.0, gt=0)  # /healthz: seconds a mail may stay queued


class Digest(Section):  # the supervisors' digest (mailgate/digest.py): times in UTC, "" = none
    daily: str = Field(default="", pattern=DAILY)  # "08:00": daily, on the day before
    weekly: str = Field(default="", pattern=WEEKLY)


class Web(Section):
    """The requesters' read-only status pages (mailgate/web/status.py), opened by the signed link of our mails."""

    enabled: bool = False  # also what puts the link in the mails to requesters
    host: str = "127.0.0.1"  # a reverse proxy (TLS) in front of it for requesters outside
    port: int = Field(default=9526, ge=0, le=65535)
    base_url: str = ""  # how requesters reach it, e.g. "https://support.example.com"; "" = http://host:port
    # the supervisors' dashboard (/desk/, web/desk_auth.py): a mailed sign-in link opens once, within this long
    login_link_minutes: float = Field(default=15, gt=0, le=24 * 60)
    session_hours: float = Field(default=12, gt=0, le=24 * 30)  # then the supervisor asks for a new link
    login_links_per_hour: int = Field(default=5, ge=1)  # per address: the form cannot mail-bomb anyone

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and (not value.startswith(("http://", "https://")) or any(c.isspace() for c in value)):
            raise ValueError(f"{value!r} is not an http:// or https:// address such as https://support.example.com")
        return value

    @property
    def url(self) -> str:  # the links' start
        return self.base_url or f"http://{f'[{self.host}]' if ':' in self.host else self.host}:{self.port}"


class Log(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["console", "json"] = "console"


class Notify(Section):
    """The short automatic notices a requester gets when a consultant's mail moves their ticket and sends them
    nothing else (core/workflow/notices.py; docs/workflow.md)."""

    requester_on: list[str] = list(NOTICE_KINDS)  # [] = none

    @field_validator("requester_on")
    @classmethod
    def _kinds(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in NOTICE_KINDS]
        if unknown:
            raise ValueError(f"{', '.join(map(repr, unknown))}: not a status notice; each of "
                             f"{', '.join(NOTICE_KINDS)}")
        return list(dict.fromkeys(value))
