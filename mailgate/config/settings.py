"""Shell, configuration: the config TOML file -> validated, frozen Settings; every error names the file and the key."""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError, model_validator

from mailgate.config.desk_sections import Agent, Customer, Hygiene, Kb, Queue, Sla, Supervisor, Workflow
from mailgate.config.sections import (
    PATTERN_MEANING,
    ConfigError,
    Daemon,
    Database,
    Digest,
    Gateway,
    Imap,
    Log,
    Metrics,
    Notify,
    Outbound,
    Section,
    Smtp,
    Web,
    Worker,
)
from mailgate.core.mail.parse import addresses
from mailgate.core.model import Address


class Settings(Section):
    gateway: Gateway
    database: Database = Database()
    smtp: Smtp = Smtp()
    outbound: Outbound = Outbound()
    worker: Worker = Worker()
    log: Log = Log()
    daemon: Daemon = Daemon()
    metrics: Metrics = Metrics()
    web: Web = Web()
    digest: Digest = Digest()
    notify: Notify = Notify()
    agents: list[Agent] = []
    imap: list[Imap] = []
    customers: list[Customer] = []
    workflow: Workflow = Workflow()
    sla: Sla = Sla()
    queues: list[Queue] = []
    supervisors: list[Supervisor] = []
    hygiene: Hygiene = Hygiene()
    kb: Kb = Kb()
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
    def supervisor_list(self) -> tuple[Supervisor, ...]:
        """The supervisors: [[supervisors]], then the deprecated [sla] supervisors not already there."""
        listed = {s.email for s in self.supervisors}
        legacy = [Supervisor(email=e.strip().lower()) for e in dict.fromkeys(self.sla.supervisors)
                  if e.strip().lower() not in listed]
        return (*self.supervisors, *legacy)

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
    def smtp_spool_dir(self) -> str | None:
        return str(self._relative(self.smtp.spool_dir)) if self.smtp.spool_dir else None

    @property
    def rules_dir(self) -> Path:
        if self.gateway.rules:
            return self._relative(self.gateway.rules)
        return data_dir("rules")

    @property
    def database_url(self) -> str:
        """The database URL as written, a relative SQLite path taken from the config file's folder (the store
        picks the driver: sqlite3 or psycopg)."""
        url = self.database.url
        for prefix in ("sqlite:///", "sqlite+pysqlite:///", "sqlite+aiosqlite:///"):
            if url.startswith(prefix) and not url.startswith(prefix + "/"):
                path = url[len(prefix):]
                if path and path != ":memory:":
                    return prefix + str(self._relative(path))
        return url

    def _relative(self, path: str) -> Path:
        p = Path(path)
        if p.is_absolute() or self.source == "<memory>":
            return p
        return Path(self.source).resolve().parent / p


def data_dir(name: str) -> Path:
    """`templates` or `db`: next to the package in a checkout, inside it in an installed wheel."""
    here = Path(__file__).resolve().parent.parent  # the mailgate package
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
    data = _with_secrets(data, source)
    try:
        return Settings.model_validate({**data, "source": source})
    except ValidationError as exc:
        lines = [f"{source}: {_key(err['loc'])}: {_message(err)}" for err in exc.errors()]
        raise ConfigError("\n".join(lines)) from None


def _message(err: Any) -> str:
    """pydantic's message, but what a pattern stands for rather than the pattern itself."""
    meaning = PATTERN_MEANING.get(str((err.get("ctx") or {}).get("pattern", "")))
    if err["type"] == "string_pattern_mismatch" and meaning:
        return f"{err['input']!r} is not {meaning}"
    return str(err["msg"])


def _with_secrets(data: dict[str, object], source: str) -> dict[str, object]:
    """`[gateway] secret_env | secret_file` and `[database] password_env` read into `secret` and the URL, so that
    neither has to be written in the file (as `[outbound]` and `[[imap]]` passwords already need not be)."""
    gateway, database = data.get("gateway"), data.get("database")
    problems: list[str] = []
    if isinstance(gateway, dict) and ("secret_env" in gateway or "secret_file" in gateway):
        gateway = dict(gateway)
        env, file = gateway.pop("secret_env", None), gateway.pop("secret_file", None)
        if "secret" in gateway or (env and file):
            problems.append(f"{source}: gateway: give one of secret, secret_env, secret_file")
        elif env:
            if str(env) in os.environ:
                gateway["secret"] = os.environ[str(env)]
            else:
                problems.append(f"{source}: gateway.secret_env: the environment variable {env} is not set")
        elif file:
            path = Path(str(file))
            if not path.is_absolute() and source != "<memory>":
                path = Path(source).resolve().parent / path
            try:
                gateway["secret"] = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                problems.append(f"{source}: gateway.secret_file: cannot read {path}: {exc.strerror or exc}")
        data = {**data, "gateway": gateway}
    if isinstance(database, dict) and "password_env" in database:
        database = dict(database)
        env = str(database.pop("password_env"))
        if env not in os.environ:
            problems.append(f"{source}: database.password_env: the environment variable {env} is not set")
        else:
            from sqlalchemy.engine import make_url  # only for a config that needs it
            from sqlalchemy.exc import ArgumentError

            try:
                url = make_url(str(database.get("url", "")))
            except ArgumentError:  # not a URL: the url validator says what is wrong with it
                pass
            else:
                database["url"] = url.set(password=os.environ[env]).render_as_string(hide_password=False)
        data = {**data, "database": database}
    if problems:
        raise ConfigError("\n".join(problems))
    return data


def _key(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += ("." if key else "") + ("from" if part == "from_" else part)
    return key or "(top level)"
