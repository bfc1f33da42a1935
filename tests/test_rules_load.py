"""Loading rules/*.yaml: validation errors name file, line and rule; reload is all or nothing; the watcher."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from mailgate.config.sections import ConfigError
from mailgate.config.settings import Settings, from_dict
from mailgate.core.mail.parse import parse
from mailgate.core.rules.engine import evaluate
from mailgate.core.rules.model import RuleSet, Template, facts_from
from mailgate.daemon import Daemon
from mailgate.rules.load import RulesError, RulesHolder, load_rules, signature
from mailgate.rules.refs import Known
from tests.conftest import settings_data

ROOT = Path(__file__).parent.parent

GOOD = """\
rules:
  - name: {name}
    when: {{subject: {{contains: {word}}}}}
    then: {{tags: [{word}]}}
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(folder: Path) -> list[str]:
    with pytest.raises(RulesError) as caught:
        load_rules(folder)
    assert str(caught.value) == "\n".join(caught.value.errors)
    return list(caught.value.errors)


# Each: file text -> the one error expected, `F` standing for the file's path.
BAD: list[tuple[str, str]] = [
    ("""\
rules:
  - name: ok
    then: {tags: [x]}
  - name: prio
    when: {subject: {contains: x}}
    then:
      type: incident
      prio: high
""", "F:8: rule 'prio': unknown action 'prio' (known: type, level, priority, queue, assignee, customer, tags, "
     "auto_reply, ignore, quarantine, notify, dedupe_key, recovery, resolve)"),
    ("""\
rules:
  - name: bad-regex
    when:
      all:
        - sender: a@b.example
        - subject: {regex: 'Disk (full'}
    then: {tags: [x]}
""", "F:6: rule 'bad-regex': subject: bad regex 'Disk (full': missing ), unterminated subpattern at position 5"),
    ("""\
rules:
  - name: level
    then:
      level: 7
""", "F:4: rule 'level': then.level: Input should be less than or equal to 4"),
    ("""\
rules:
  - name: cond
    when: {subjet: {contains: x}}
    then: {tags: [x]}
""", "F:3: rule 'cond': unknown condition 'subjet' (known: sender, sender_domain, recipient, subject, body, "
     "attachment, attachment_name, is_agent, customer, kind, header.<Name>, all, any, not)"),
    ("""\
rules:
  - name: op
    when:
      subject: {startswith: x}
    then: {tags: [x]}
""", "F:4: rule 'op': subject: unknown operator 'startswith' (known: equals, contains, regex, in, exists, "
     "case_sensitive)"),
    ("""\
rules:
  - name: two-ops
    when:
      subject: {contains: x, regex: y}
    then: {tags: [x]}
""", "F:4: rule 'two-ops': subject: give exactly one operator of equals, contains, regex, in, exists "
     "(got contains, regex)"),
    ("""\
rules:
  - name: group
    when: {subject: {regex: '(?P<host>\\w+)'}}
    then:
      dedupe_key: "{host}/{service}"
""", "F:5: rule 'group': template '{host}/{service}' uses {service} but no regex of this rule (outside `not`) "
     "has a group (?P<service>...)"),
    ("""\
rules:
  - name: resolve
    when: {subject: {regex: '(?P<h>x)'}}
    then: {resolve: true, dedupe_key: "{h}"}
""", "F:4: rule 'resolve': then: resolve: true needs recovery: true in the same rule"),
    ("""\
rules:
  - name: dup-key
    when: {subject: {contains: x}}
    when: {subject: {contains: y}}
    then: {tags: [x]}
""", "F:4: rule 'dup-key': duplicate key 'when' (first on line 3)"),
    ("""\
rules:
  - name: kind
    when: {kind: bounced}
    then: {tags: [x]}
""", "F:3: rule 'kind': kind: unknown kind(s) bounced (known: auto_reply, bounce, challenge, human, list, own)"),
    ("""\
rules:
  - name: yaml-bool
    when: {kind: no}
    then: {tags: [x]}
""", "F:3: rule 'yaml-bool': kind compares text, and YAML read this value as False: quote it"),
    ("""\
rules:
  - when: {subject: {contains: x}}
    then: {tags: [x]}
""", "F:2: rule '#1': name: Field required"),
    ("""\
rules:
  - name: no-actions
    when: {subject: {contains: x}}
""", "F:2: rule 'no-actions': a rule needs `then:` actions or `stop: true`"),
    ("""\
rules:
  - name: email
    then: {assignee: bob}
""", "F:3: rule 'email': then.assignee: must be an e-mail address"),
    ("""\
rules:
  - name: unquoted-template
    when: {subject: {regex: '(?P<host>\\w+)'}}
    then:
      dedupe_key: {host}
""", "F:5: rule 'unquoted-template': then.dedupe_key: Input should be a valid string"),
    ("- name: x\n", "F:1: a rules file is a mapping with a `rules:` list"),
    ("rules: []\nversion: 2\n", "F:2: unknown key 'version' (a rules file has only `rules:`)"),
]


@pytest.mark.parametrize(("text", "expected"), BAD, ids=[b[1].split(": ", 2)[-1][:40] for b in BAD])
def test_each_error_names_file_line_and_rule(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "20-test.yaml", text)
    assert errors_of(tmp_path) == [expected.replace("F:", f"{path}:", 1)]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "10-a.yaml", "rules:\n  - name: yaml\n    when: {subject: {contains: x}\n    then: {}\n")
    [error] = errors_of(tmp_path)
    # libyaml (CSafeLoader) and PyYAML's pure-Python parser word the problem differently
    assert error.startswith(f"{path}:4: invalid YAML: ")
    assert error.endswith("(while parsing a flow mapping on line 3)") and "expected ',' or '}'" in error


def test_all_errors_of_all_files_are_listed(tmp_path: Path) -> None:
    a = write(tmp_path, "10-a.yaml", BAD[1][0])
    b = write(tmp_path, "20-b.yaml", BAD[2][0] + BAD[3][0].removeprefix("rules:\n"))
    ok = write(tmp_path, "15-ok.yaml", GOOD.format(name="twice", word="x"))
    write(tmp_path, "30-c.yaml", GOOD.format(name="twice", word="y"))
    errors = errors_of(tmp_path)
    assert [e.split(": ")[0] for e in errors] == [f"{a}:6", f"{b}:4", f"{b}:6", f"{tmp_path / '30-c.yaml'}:2"]
    assert errors[3].endswith(f"rule 'twice': the name is already used at {ok}:2 (names identify rules in "
                              "explanations and events)")


def test_files_in_name_order_rules_in_file_order(tmp_path: Path) -> None:
    write(tmp_path, "20-b.yaml", GOOD.format(name="b1", word="x") + GOOD.format(name="b2", word="y")[7:])
    write(tmp_path, "10-a.yml", GOOD.format(name="a", word="z"))
    write(tmp_path, ".#20-b.yaml", "not: [valid")  # an editor's lock file
    write(tmp_path, "README.txt", "not rules")
    write(tmp_path, "05-empty.yaml", "# nothing yet\n")
    rules = load_rules(tmp_path)
    assert [(r.file, r.line, r.name) for r in rules.rules] == [("10-a.yml", 2, "a"), ("20-b.yaml", 2, "b1"),
                                                              ("20-b.yaml", 5, "b2")]
    assert rules.files == ("05-empty.yaml", "10-a.yml", "20-b.yaml")


def test_missing_or_empty_folder_is_no_rules(tmp_path: Path) -> None:
    assert load_rules(tmp_path / "absent") == RuleSet(folder=str(tmp_path / "absent"))
    assert len(load_rules(tmp_path)) == 0


def test_shipped_rules_load() -> None:
    rules = load_rules(ROOT / "rules")
    assert rules.files == ("00-guards.yaml", "10-priority.yaml", "20-request-types.yaml", "30-monitoring.yaml")
    assert len(rules) >= 15 and rules.rules[0].name == "own-mail"


# ---------------------------------------------------------------- reload

def test_reload_good_edit_applies(tmp_path: Path) -> None:
    write(tmp_path, "10-a.yaml", GOOD.format(name="a", word="x"))
    holder = RulesHolder.open(tmp_path)
    assert [r.name for r in holder.rules.rules] == ["a"]
    write(tmp_path, "10-a.yaml", GOOD.format(name="a-renamed", word="xy"))
    write(tmp_path, "20-b.yaml", GOOD.format(name="b", word="y"))
    with capture_logs() as logs:
        assert holder.reload() is True
    assert [r.name for r in holder.rules.rules] == ["a-renamed", "b"]
    assert logs == [{"event": "rules_loaded", "log_level": "info", "folder": str(tmp_path), "rules": 2, "files": 2}]
    assert holder.last_error is None and not holder.changed()


def test_reload_bad_edit_keeps_the_whole_old_set(tmp_path: Path) -> None:
    write(tmp_path, "10-a.yaml", GOOD.format(name="a", word="x"))
    write(tmp_path, "20-b.yaml", GOOD.format(name="b", word="y"))
    holder = RulesHolder.open(tmp_path)
    before = holder.rules
    # a good edit in one file and a bad one in the other: nothing of either is taken (never half-loaded)
    write(tmp_path, "10-a.yaml", GOOD.format(name="a2", word="x2"))
    bad = write(tmp_path, "20-b.yaml", BAD[1][0])
    with capture_logs() as logs:
        assert holder.reload() is False
    assert holder.rules is before
    assert holder.last_error is not None
    assert holder.last_error.errors == (f"{bad}:6: rule 'bad-regex': subject: bad regex 'Disk (full': missing ), "
                                        "unterminated subpattern at position 5",)
    assert logs == [{"event": "rules_rejected", "log_level": "error", "folder": str(tmp_path),
                     "errors": list(holder.last_error.errors), "kept": 2,
                     "detail": "the previous rules stay active"}]
    assert not holder.changed()  # the refused files are remembered: the watcher does not retry them
    write(tmp_path, "20-b.yaml", GOOD.format(name="b2", word="y2"))
    assert holder.changed()
    assert holder.reload() is True
    assert [r.name for r in holder.rules.rules] == ["a2", "b2"]


def test_open_refuses_bad_rules(tmp_path: Path) -> None:
    write(tmp_path, "10-a.yaml", BAD[2][0])
    with pytest.raises(RulesError, match=r"10-a.yaml:4: rule 'level'"):
        RulesHolder.open(tmp_path)


def test_signature_sees_edits_renames_and_removals(tmp_path: Path) -> None:
    path = write(tmp_path, "10-a.yaml", GOOD.format(name="a", word="x"))
    first = signature(tmp_path)
    os.utime(path, ns=(first[0][1] + 1_000_000, first[0][1] + 1_000_000))
    second = signature(tmp_path)
    assert second != first
    path.rename(tmp_path / "11-a.yaml")
    third = signature(tmp_path)
    assert third != second and third[0][0] == "11-a.yaml"
    (tmp_path / "11-a.yaml").unlink()
    assert signature(tmp_path) == ()


async def wait_for(predicate: object, timeout: float = 5.0) -> None:
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_watch_picks_up_changes_and_refuses_bad_ones(tmp_path: Path) -> None:
    write(tmp_path, "10-a.yaml", GOOD.format(name="a", word="x"))
    holder = RulesHolder.open(tmp_path)
    stop = asyncio.Event()
    with capture_logs() as logs:
        task = asyncio.create_task(holder.watch(stop, interval=0.02))
        write(tmp_path, "20-b.yaml", GOOD.format(name="b", word="y"))
        await wait_for(lambda: len(holder.rules) == 2)
        good = holder.rules
        write(tmp_path, "20-b.yaml", BAD[2][0])
        await wait_for(lambda: holder.last_error is not None)
        await asyncio.sleep(0.2)  # several more polls: the same bad files are not reloaded again
        assert holder.rules is good
        write(tmp_path, "20-b.yaml", GOOD.format(name="b-fixed", word="z"))
        await wait_for(lambda: [r.name for r in holder.rules.rules] == ["a", "b-fixed"])
        stop.set()
        await asyncio.wait_for(task, 1)
    assert [entry["event"] for entry in logs] == ["rules_loaded", "rules_rejected", "rules_loaded"]


async def test_watch_stops_promptly(tmp_path: Path) -> None:
    holder = RulesHolder(tmp_path)
    stop = asyncio.Event()
    task = asyncio.create_task(holder.watch(stop, interval=30))
    await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(task, 1)


def test_reload_that_finds_no_rule_file_keeps_the_previous_set(tmp_path: Path) -> None:
    """Issue 15: a folder emptied (or gone) while the daemon runs must not leave it without its guard rules."""
    rule = write(tmp_path, "10-a.yaml", GOOD.format(name="a", word="x"))
    holder = RulesHolder.open(tmp_path)
    before = holder.rules
    rule.unlink()
    with capture_logs() as logs:
        assert holder.reload() is False
    assert holder.rules is before and [r.name for r in holder.rules.rules] == ["a"]
    assert logs == [{"event": "rules_folder_empty", "log_level": "warning", "folder": str(tmp_path), "kept": 1,
                     "detail": "no rule file found; the previous rules stay active"}]
    assert not holder.changed()  # not retried until the folder changes again
    write(tmp_path, "10-a.yaml", GOOD.format(name="back", word="x"))
    assert holder.reload() is True and [r.name for r in holder.rules.rules] == ["back"]


# ---------------------------------------------------------------- checked against the config (issue 15)

REFS = """\
rules:
  - name: to-zoe
    when: {subject: {contains: x}}
    then:
      assignee: zoe@x.example
      queue: netwrk
  - name: acme
    when: {customer: Acmee}
    then:
      customer: ACME Corp
      auto_reply: ack-incdent
  - name: fine
    when: {customer: {in: [client sa, Globex]}}
    then: {assignee: alice@example.test, queue: network, customer: Globex, auto_reply: ack}
  - name: from-groups
    when: {subject: {regex: '^(?P<who>[a-z]+):'}}
    then: {assignee: "{who}@example.test", queue: "{who}"}
"""


def configured(tmp_path: Path, **overrides: object) -> Settings:
    data = settings_data("sqlite://", 25, **overrides)
    data["customers"] = [{"name": "Client SA", "domains": ["client.example"]}, {"name": "Globex"}]
    data["queues"] = [{"name": "network", "agents": ["alice@example.test"]}, {"name": "billing",
                                                                             "agents": ["bruno@example.test"]}]
    return from_dict(data, str(tmp_path / "config.toml"))


def test_rules_are_checked_against_the_config_they_run_with(tmp_path: Path) -> None:
    path = write(tmp_path / "rules", "10-refs.yaml", REFS)
    templates = tmp_path / "templates"
    for name in ("fr/ack", "en/ack", "fr/_footer", "en/_footer", "fr/ack-fr-only", "fr/relay", "en/relay"):
        locale, _, base = name.partition("/")
        write(templates / locale, f"{base}.txt.j2", "Bonjour {{ requester.name }}\n")
    known = Known.of(configured(tmp_path, gateway__templates=str(templates)))
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path / "rules", known)
    assert list(caught.value.errors) == [  # (in the order of the actions' table)
        f"{path}:6: rule 'to-zoe': queue 'netwrk' is not defined in [[queues]]; queues: billing, network",
        f"{path}:5: rule 'to-zoe': assignee 'zoe@x.example' is not an agent; agents: alice@example.test, "
        "bruno@example.test",
        f"{path}:8: rule 'acme': customer 'Acmee' is not a customer (the condition would never hold); "
        "customers: Client SA, Globex",
        f"{path}:10: rule 'acme': customer 'ACME Corp' is not a customer; customers: Client SA, Globex",
        f"{path}:11: rule 'acme': auto_reply 'ack-incdent': template missing: {templates}/fr/ack-incdent.txt.j2, "
        f"{templates}/en/ack-incdent.txt.j2; templates: ack, relay",  # (in every locale; no _part)
    ]
    assert len(load_rules(tmp_path / "rules")) == 4  # without a config: checked for themselves only


def test_a_long_list_of_what_exists_is_cut() -> None:
    known = Known(customers=frozenset(f"c{i:02}" for i in range(30)))
    assert known.action("customer", "nobody") == ("customer 'nobody' is not a customer; customers: c00, c01, c02, "
                                                  "c03, c04, c05, c06, c07, c08, c09, c10, c11, ... (30 in all)")
    assert Known().action("queue", "q") == "queue 'q' is not defined in [[queues]]; queues: none in the config"


def test_an_auto_reply_template_is_needed_in_every_locale_and_must_render(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "fr" / "ack-incident.txt.j2").write_text("Bonjour {{ requester.name }},\n")
    (templates / "fr" / "broken.txt.j2").write_text("Bonjour {{ ticket.nope }}\n")
    (templates / "en" / "broken.txt.j2").write_text("Hello {{ ticket.number }}\n")
    path = write(tmp_path / "rules", "10-a.yaml", "rules:\n  - name: a\n    then: {auto_reply: ack-incident}\n"
                                                  "  - name: b\n    then: {auto_reply: broken}\n")
    known = Known.of(configured(tmp_path, gateway__templates=str(templates)))
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path / "rules", known)
    first, second = caught.value.errors
    assert first.startswith(f"{path}:3: rule 'a': auto_reply 'ack-incident': template missing: "
                            f"{templates}/en/ack-incident.txt.j2; templates: ack, agent_refused, ")
    assert second.startswith(f"{path}:5: rule 'b': auto_reply 'broken': the template does not render: "
                             f"{templates}/fr/broken.txt.j2")
    assert "'dict object' has no attribute 'nope'" in second and f"{templates}/en/broken" not in second
    (templates / "en" / "ack-incident.txt.j2").write_text("Hello {{ requester.name }},\n")
    (templates / "fr" / "broken.txt.j2").write_text("Bonjour {{ ticket.number }}\n")
    assert [r.name for r in load_rules(tmp_path / "rules", known).rules] == ["a", "b"]


def test_the_daemon_refuses_to_start_on_a_rule_naming_an_unknown_agent(tmp_path: Path) -> None:
    path = write(tmp_path / "rules", "10-a.yaml", "rules:\n  - name: a\n    then:\n      assignee: zoe@x.example\n")
    settings = configured(tmp_path, gateway__rules=str(tmp_path / "rules"))
    with pytest.raises(RulesError, match="^" + re.escape(f"{path}:4: rule 'a': assignee 'zoe@x.example' is not an "
                                                         "agent; agents: alice@example.test, bruno@example.test")):
        RulesHolder.of(settings)
    with pytest.raises(ConfigError, match=re.escape(f"{path}:4: rule 'a': assignee 'zoe@x.example' is not")):
        asyncio.run(Daemon(settings).start())  # before any database or port is opened


def test_a_reload_naming_an_unknown_queue_keeps_the_previous_rules(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    write(folder, "10-a.yaml", "rules:\n  - name: a\n    then: {queue: network}\n")
    holder = RulesHolder.of(configured(tmp_path, gateway__rules=str(folder)))
    before = holder.rules
    path = write(folder, "10-a.yaml", "rules:\n  - name: a\n    then: {queue: network}\n"
                                      "  - name: b\n    then: {queue: netwrk}\n")
    with capture_logs() as logs:
        assert holder.reload() is False
    assert holder.rules is before
    error = f"{path}:5: rule 'b': queue 'netwrk' is not defined in [[queues]]; queues: billing, network"
    assert logs == [{"event": "rules_rejected", "log_level": "error", "folder": str(folder), "errors": [error],
                     "kept": 1, "detail": "the previous rules stay active"}]
    write(folder, "10-a.yaml", "rules:\n  - name: a\n    then: {queue: billing}\n")
    assert holder.reload() is True and holder.rules.rules[0].actions.scalars[0][1] == Template("billing")


def test_a_disabled_rule_is_loaded_and_checked_but_never_matches(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    write(folder, "10-a.yaml", "rules:\n  - name: paused\n    enabled: false\n    then: {tags: [x]}\n    stop: true\n"
                               "  - name: active\n    enabled: true\n    then: {tags: [y]}\n")
    rules = load_rules(folder)
    assert [(r.name, r.enabled) for r in rules.rules] == [("paused", False), ("active", True)]
    decision = evaluate(rules, facts_from(parse(b"From: a@b.example\r\nSubject: x\r\n\r\nx")))
    assert decision.outcomes == (False, True) and decision.tags == ("y",) and decision.stopped_by is None
    assert decision.hits[0].reason == "disabled (enabled: false): never matches"
    assert decision.as_json(misses="names")["hits"] == [
        {"rule": "paused", "file": "10-a.yaml", "line": 2, "matched": False, "disabled": True},
        {"rule": "active", "file": "10-a.yaml", "line": 6, "matched": True,
         "reason": "no conditions: matches every mail"}]

    path = write(folder, "10-a.yaml", "rules:\n  - name: paused\n    enabled: false\n"
                                      "    then: {assignee: zoe@x.example}\n"
                                      "  - name: typo\n    enabled: 'no'\n    then: {tags: [y]}\n")
    with pytest.raises(RulesError) as caught:
        load_rules(folder, Known.of(configured(tmp_path)))
    assert list(caught.value.errors) == [
        f"{path}:4: rule 'paused': assignee 'zoe@x.example' is not an agent; agents: alice@example.test, "
        "bruno@example.test",
        f"{path}:6: rule 'typo': enabled: Input should be a valid boolean",
    ]
