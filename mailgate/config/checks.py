"""Shell, configuration: what a valid config file can still get wrong about the machine it runs on (a rules
folder that is not there, a password variable that is not set, status links nobody can open), checked by
`check` and before `run` takes any mail; advice `check` refuses on and `run` only warns of (the example's
secret left in place); and warnings both only print (an endpoint without authentication off loopback)."""

from __future__ import annotations

import ipaddress
import os

from mailgate.config.settings import Settings

# config.example.toml's secret (tests/test_cli.py checks the file still holds it)
EXAMPLE_SECRET = "change-me-this-is-only-an-example-secret"


def problems(settings: Settings) -> list[str]:
    """`file: key: what` for everything the daemon would fail on once running."""
    source, found = settings.source, []
    if settings.gateway.rules and not settings.rules_dir.is_dir():
        found.append(f"{source}: gateway.rules: no such folder: {settings.rules_dir} (the daemon would run "
                     "without any rule, the shipped guards included)")
    variables = [("outbound.password_env", settings.outbound.password_env)]
    variables += [(f"imap[{i}].password_env", m.password_env) for i, m in enumerate(settings.imap)]
    for key, name in variables:
        if name and name not in os.environ:
            found.append(f"{source}: {key}: the environment variable {name} is not set")
    web = settings.web
    if web.enabled and not web.base_url and (web.port == 0 or web.host in ("0.0.0.0", "::", "")):
        found.append(f"{source}: web.base_url: unset, so the links in our mails would read {web.url}, which no "
                     "requester can open: give the address requesters reach, e.g. https://support.example.com")
    return found


def advice(settings: Settings) -> list[str]:
    """`file: key: what` for what works but must not stay so in real use."""
    if settings.gateway.secret == EXAMPLE_SECRET:
        return [f"{settings.source}: gateway.secret: still the example's secret; anyone can forge our signed "
                "Message-IDs with it. Choose one: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"]
    return []


def warnings(settings: Settings) -> list[str]:
    """`file: key: what` for what may be meant but deserves a second look; nobody refuses on these."""
    m, found = settings.metrics, []
    if m.enabled and not _loopback(m.host):
        found.append(f"{settings.source}: metrics.host: {m.host or '(all addresses)'} is not a loopback address: "
                     "/metrics and /healthz have no authentication, so anyone who reaches this port reads the "
                     "desk's figures. Keep 127.0.0.1 unless a firewall lets only Prometheus in")
    if settings.sla.supervisors:
        found.append(f"{settings.source}: sla.supervisors: deprecated; write each supervisor as "
                     '[[supervisors]] email = "..." name = "..." (these addresses are still told meanwhile, '
                     "but cannot sign in to the dashboard by name)")
    return found


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name (or "" for every address): not known to be loopback
        return False
