"""Shell: config TOML file -> validated, frozen Settings; every error names the file and the key."""

from __future__ import annotations

import hashlib
import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mailgate.core.mail.parse import addresses
from mailgate.core.model import Address

_EMAIL = r"^[^@\s<>]+@[^@\s<>]+$"


class ConfigError(Exception):
    """The config cannot be used; the message lists every problem as `file: key: what`."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Gateway(_Section):
    addresses: Annotated[list[Annotated[str, Field(pattern=_EMAIL)]], Field(min_length=1)]
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


class Database(_Section):
    url: str = "sqlite:///var/mailgate.sqlite3"
    echo: bool = False
    busy_timeout_ms: int = Field(default=10_000, ge=0)  # SQLite: wait this long for another writer


class Smtp(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=2525, ge=0, le=65535)
    max_message_size: int = Field(default=25 * 1024 * 1024, ge=1024)
    hostname: str | None = None  # name announced in the greeting; the machine's name by default


class Outbound(_Section):
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

    @model_validator(mode="after")
    def _auth(self) -> Outbound:
        if (self.password or self.password_env) and not self.username:
            raise ValueError("password given without username")
        return self

    def resolved_password(self) -> str | None:
        if self.password_env:
            return os.environ.get(self.password_env)
        return self.password


class Imap(_Section):
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


class Worker(_Section):
    poll_interval: float = Field(default=1.0, gt=0)  # seconds between scans for mail from other processes


class Log(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["console", "json"] = "console"


class Agent(_Section):
    email: str = Field(pattern=_EMAIL)
    name: str
    level: int = Field(ge=1, le=4)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


class Customer(_Section):
    """A client company: its mail domains, who may approve estimates, and its hourly rate."""

    name: str = Field(min_length=1, max_length=200)
    domains: list[str] = []
    approvers: list[Annotated[str, Field(pattern=_EMAIL)]] = []
    hourly_rate: Decimal = Field(default=Decimal(0), ge=0)

    @field_validator("domains", "approvers")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.strip().lower().lstrip("@") for v in value]


class Workflow(_Section):
    auto_close_days: float = Field(default=7, gt=0)  # answer_sent with no reply this long -> closed
    reopen_days: int = Field(default=14, ge=0)  # a customer reply this soon after closing reopens it
    sweep_interval: float = Field(default=300.0, gt=0)  # seconds between auto-close sweeps
    # Authentication-Results from these servers are trusted to authenticate consultants' mail (DKIM/DMARC)
    trusted_authserv_ids: list[str] = []
    currency: str = "EUR"

    @field_validator("trusted_authserv_ids")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value]


class Target(_Section):
    """Service targets for one priority, in hours from the ticket's creation."""

    response_hours: float = Field(gt=0)  # first answer to the customer
    resolution_hours: float = Field(gt=0)  # answer sent (Réponse envoyée)


class Sla(_Section):
    # breached targets are mailed to these addresses (once per ticket and target)
    supervisors: list[Annotated[str, Field(pattern=_EMAIL)]] = []
    low: Target | None = None
    normal: Target | None = None
    high: Target | None = None
    urgent: Target | None = None


class Queue(_Section):
    """A group of agents: a rule's `queue:` action notifies them instead of the level's agents."""

    name: str = Field(min_length=1)
    agents: list[Annotated[str, Field(pattern=_EMAIL)]] = Field(min_length=1)


class Hygiene(_Section):
    """Machine mail and attachments (docs/hygiene.md)."""

    bounce_quarantine_days: float = Field(default=7, ge=0)  # no automatic mail to a permanently bounced address
    # automatic mail (acknowledgements, help, notices) to one customer address / on one ticket, per hour;
    # consultants' notifications and transcripts are not limited
    auto_mail_per_recipient_per_hour: int = Field(default=10, ge=1)
    auto_mail_per_ticket_per_hour: int = Field(default=20, ge=1)
    attachments: Literal["database", "folder"] = "database"
    attachments_folder: str = "var/attachments"  # for attachments = "folder"; relative to the config file
    max_attachment_bytes: int = Field(default=20 * 1024 * 1024, ge=0)
    max_attachments_bytes_per_mail: int = Field(default=50 * 1024 * 1024, ge=0)


class Settings(_Section):
    gateway: Gateway
    database: Database = Database()
    smtp: Smtp = Smtp()
    outbound: Outbound = Outbound()
    worker: Worker = Worker()
    log: Log = Log()
    agents: list[Agent] = []
    imap: list[Imap] = []
    customers: list[Customer] = []
    workflow: Workflow = Workflow()
    sla: Sla = Sla()
    queues: list[Queue] = []
    hygiene: Hygiene = Hygiene()
    source: str = "<memory>"  # the file it came from

    @model_validator(mode="after")
    def _unique_mailboxes(self) -> Settings:
        keys = [m.key for m in self.imap]
        doubled = sorted({k for k in keys if keys.count(k) > 1})
        if doubled:
            raise ValueError(f"two [[imap]] entries share the name {', '.join(doubled)}: give each a name")
        agents = {a.email for a in self.agents}
        for q in self.queues:
            unknown = sorted(set(e.lower() for e in q.agents) - agents)
            if unknown:
                raise ValueError(f"queue {q.name}: {', '.join(unknown)} not in [[agents]]")
        for what, values in (("agents", [a.email for a in self.agents]),
                             ("queues", [q.name for q in self.queues]),
                             ("customers", [c.name for c in self.customers]),
                             ("customers' domains", [d for c in self.customers for d in c.domains])):
            doubled = sorted({v for v in values if values.count(v) > 1})
            if doubled:
                raise ValueError(f"{what}: {', '.join(doubled)} given twice")
        return self

    @property
    def sender(self) -> Address:
        return addresses([self.gateway.from_])[0]

    @property
    def secret(self) -> bytes:
        return self.gateway.secret.encode()

    @property
    def message_id_domain(self) -> str:
        return self.gateway.message_id_domain or self.sender.email.rsplit("@", 1)[1]

    @property
    def loop_token(self) -> str:
        """Our loop header value: stable for this instance, says nothing about the secret."""
        digest = hashlib.sha256(b"loop:" + self.secret + self.sender.email.encode()).hexdigest()
        return f"{self.message_id_domain}/{digest[:16]}"

    @property
    def own_addresses(self) -> frozenset[str]:
        return frozenset((*self.gateway.addresses, self.sender.email))

    @property
    def agent_emails(self) -> frozenset[str]:
        return frozenset(a.email for a in self.agents)

    @property
    def customers_by_domain(self) -> dict[str, str]:
        return {d: c.name for c in self.customers for d in c.domains}

    @property
    def approvers(self) -> dict[str, frozenset[str]]:
        return {c.name: frozenset(c.approvers) for c in self.customers}

    @property
    def templates_dir(self) -> Path:
        if self.gateway.templates:
            return self._relative(self.gateway.templates)
        return data_dir("templates")

    @property
    def attachments_dir(self) -> Path:
        return self._relative(self.hygiene.attachments_folder)

    @property
    def rules_dir(self) -> Path:
        if self.gateway.rules:
            return self._relative(self.gateway.rules)
        return data_dir("rules")

    @property
    def database_url(self) -> str:
        """The SQLAlchemy async URL; relative SQLite paths are taken from the config file's folder."""
        url = self.database.url
        for plain, driver in (("sqlite://", "sqlite+aiosqlite://"), ("postgresql://", "postgresql+asyncpg://"),
                              ("postgres://", "postgresql+asyncpg://")):
            if url.startswith(plain):
                url = driver + url[len(plain):]
        if url.startswith("sqlite+aiosqlite:///") and not url.startswith("sqlite+aiosqlite:////"):
            path = url[len("sqlite+aiosqlite:///"):]
            if path and path != ":memory:":
                url = "sqlite+aiosqlite:///" + str(self._relative(path))
        return url

    def _relative(self, path: str) -> Path:
        p = Path(path)
        if p.is_absolute() or self.source == "<memory>":
            return p
        return Path(self.source).resolve().parent / p


def data_dir(name: str) -> Path:
    """`templates` or `db`: next to the package in a checkout, inside it in an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / name, here.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"cannot find the {name}/ folder next to the mailgate package")


def load(path: str | os.PathLike[str]) -> Settings:
    """Read and validate a config file; raise ConfigError with every problem found."""
    source = str(path)
    try:
        with open(source, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return from_dict(data, source)


def from_dict(data: dict[str, object], source: str = "<memory>") -> Settings:
    try:
        return Settings.model_validate({**data, "source": source})
    except ValidationError as exc:
        lines = [f"{source}: {_key(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigError("\n".join(lines)) from None


def _key(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += ("." if key else "") + ("from" if part == "from_" else part)
    return key or "(top level)"
