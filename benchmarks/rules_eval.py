"""Rule evaluation cost per mail: facts_from + evaluate with 0, the shipped, 10 and 500 generated rules.

Usage (from the repository root, about 30 s on 2 cores):
    .venv/bin/python benchmarks/rules_eval.py [--rounds 300] [--seed 7]

Mails: every .eml under tests/fixtures (customer requests, alerts, machine mail) plus a request with a
200 KB body (the rules look at the first 64 KiB). Each round evaluates every mail once, building its
MailFacts afresh as the worker will. Baselines in the same run: parse() of the same bytes, and an
empty rule set. "500 + reasons" also renders every hit's and miss's reason (Decision.as_json), which
is what storing the explanation on the ticket's event costs (misses=names: misses without reasons). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailgate.core.mail.parse import parse  # noqa: E402
from mailgate.core.rules.engine import evaluate  # noqa: E402
from mailgate.core.rules.model import RuleSet, facts_from  # noqa: E402
from mailgate.rules.load import load_rules  # noqa: E402

APPS = ("crm", "erp", "paie", "compta", "intranet", "extranet", "portail", "stock", "facturation", "ged",
        "messagerie", "vpn", "wifi", "imprimante", "sauvegarde", "sso", "ldap", "api", "mobile", "reporting")


def generated_rules(n: int, rng: random.Random) -> str:
    """A realistic mix for a busy helpdesk: per-customer routing by sender domain, per-application
    keywords in the subject, incident wording in subject or body, header checks, monitoring regexes
    with {group} dedupe keys."""
    out = ["rules:"]
    for i in range(n):
        kind = rng.random()
        app = APPS[i % len(APPS)] + str(i // len(APPS))
        if kind < 0.40:
            out += [f"  - name: customer-{i}",
                    f"    when: {{sender_domain: {{in: [client{i}.example, client{i}-group.example, "
                    f"c{i}.example.org]}}}}",
                    f"    then: {{customer: Client{i}, queue: team-{i % 7}, level: {1 + i % 2}}}"]
        elif kind < 0.65:
            out += [f"  - name: app-{i}",
                    f"    when: {{subject: {{regex: '\\b({app}|module-{app})\\b'}}}}",
                    f"    then: {{queue: app-{app}, tags: [{app}]}}"]
        elif kind < 0.80:
            out += [f"  - name: wording-{i}",
                    "    when:",
                    "      all:",
                    f"        - sender_domain: {{in: [client{i}.example, partner{i}.example]}}",
                    "        - any:",
                    f"            - subject: {{contains: 'panne {app}'}}",
                    f"            - body: {{contains: '{app} ne fonctionne plus'}}",
                    "    then: {type: incident, level: 2, priority: high}"]
        elif kind < 0.90:
            out += [f"  - name: header-{i}",
                    "    when:",
                    "      any:",
                    f"        - header.X-Mailer: {{regex: '^{app} '}}",
                    f"        - header.X-Customer-Id: {{equals: 'C{i:05d}'}}",
                    "    then: {tags: [tooling]}"]
        else:
            out += [f"  - name: monitor-{i}",
                    "    when:",
                    "      all:",
                    f"        - subject: {{regex: '^\\[{app}\\] (?P<host>\\S+) (?P<check>\\S+) "
                    "is (?P<state>CRITICAL|WARNING)'}",
                    "        - not: {kind: bounce}",
                    f"    then: {{type: incident, dedupe_key: '{app}:{{host}}/{{check}}', tags: [monitoring]}}"]
    return "\n".join(out) + "\n"


def mails() -> list[bytes]:
    found = sorted((ROOT / "tests" / "fixtures").rglob("*.eml"))
    raws = [p.read_bytes() for p in found]
    big = ("Bonjour,\n" + "Le serveur ne répond plus depuis ce matin, voici le journal complet.\n" * 3000)
    raws.append(b"From: a@client3.example\r\nTo: support@example.test\r\nSubject: journal du serveur\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                + big.encode())
    return raws


def measure(label: str, fn: Callable[[bytes], object], raws: list[bytes], rounds: int) -> None:
    for raw in raws:  # warm up
        fn(raw)
    samples: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for raw in raws:
            start = clock()
            fn(raw)
            samples.append(clock() - start)
    samples.sort()
    p50 = samples[len(samples) // 2] / 1000
    p99 = samples[int(len(samples) * 0.99)] / 1000
    mean = statistics.fmean(samples) / 1000
    print(f"{label:<40} {p50:>9.1f} {p99:>9.1f} {mean:>9.1f} {1e6 / mean:>11,.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    raws = mails()
    parsed = {raw: parse(raw) for raw in raws}

    sets: dict[str, RuleSet] = {"empty set": RuleSet(), "shipped rules/": load_rules(ROOT / "rules")}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (10, 500):
            folder = Path(tmp) / str(n)
            folder.mkdir()
            (folder / "50-generated.yaml").write_text(generated_rules(n, rng))
            start = time.perf_counter()
            sets[f"{n} rules"] = load_rules(folder)
            print(f"load + validate + compile {n} rules: {(time.perf_counter() - start) * 1000:.1f} ms")
    print(f"{len(raws)} mails x {args.rounds} rounds; CPU: "
          + next((ln.split(':', 1)[1].strip() for ln in Path('/proc/cpuinfo').read_text().splitlines()
                  if ln.startswith('model name')), '?'))
    print(f"{'per mail':<40} {'p50 µs':>9} {'p99 µs':>9} {'mean µs':>9} {'mails/s':>11}")
    measure("baseline: parse()", parse, raws, args.rounds)
    for label, rules in sets.items():
        name = f"{label} ({len(rules)})" if len(rules) else label
        def decide(raw: bytes, r: RuleSet = rules) -> object:
            return evaluate(r, facts_from(parsed[raw]))

        measure(f"facts + evaluate, {name}", decide, raws, args.rounds)
    big = sets["500 rules"]
    modes: tuple[Literal["none", "names", "full"], ...] = ("none", "names", "full")
    for misses in modes:
        def stored(raw: bytes, m: Literal["none", "names", "full"] = misses) -> object:
            return evaluate(big, facts_from(parsed[raw])).as_json(misses=m)

        measure(f"500 rules + as_json(misses={misses})", stored, raws, max(1, args.rounds // 5))


if __name__ == "__main__":
    main()
