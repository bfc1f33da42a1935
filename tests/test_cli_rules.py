"""`mailgate rules check|explain`, invoked on the click group itself."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mailgate.cli.main import main
from mailgate.cli.rules import attachment_names, guess_kind, rules
from mailgate.core.mail.parse import parse
from mailgate.rules.load import load_rules
from tests.conftest import FIXTURES, cli, eml, settings_data, write_config

ROOT = Path(__file__).parent.parent
SHIPPED = str(ROOT / "rules")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(rules, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_ok_on_the_shipped_rules() -> None:
    code, out, err = run("check", "--rules", SHIPPED)
    shipped = load_rules(Path(SHIPPED))
    assert (code, err) == (0, "")
    assert out == f"{SHIPPED}: OK ({len(shipped)} rules in 4 files)\n"


def test_check_prints_every_error_and_exits_78(tmp_path: Path) -> None:
    (tmp_path / "10-a.yaml").write_text("rules:\n  - name: a\n    when: {subject: {regex: '('}}\n"
                                        "    then: {level: 9}\n")
    code, out, err = run("check", "--rules", str(tmp_path))
    assert code == 78 and out == ""
    assert err.splitlines() == [
        f"{tmp_path}/10-a.yaml:3: rule 'a': subject: bad regex '(': missing ), unterminated subpattern at position 0",
        f"{tmp_path}/10-a.yaml:4: rule 'a': then.level: Input should be less than or equal to 4",
        f"mailgate: 2 error(s) in {tmp_path}",
    ]


def test_check_without_a_folder(tmp_path: Path) -> None:
    code, out, _ = run("check", "--rules", str(tmp_path / "none"))
    assert code == 0
    assert "no such folder, so no rules" in out


def test_explain_text_lists_every_rule_then_the_decision() -> None:
    code, out, err = run("explain", str(FIXTURES / "rules" / "nagios_problem.eml"), "--rules", SHIPPED)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    shipped = load_rules(Path(SHIPPED))
    rule_lines = [line for line in lines if line.startswith(("HIT ", "miss", "--"))]
    assert len(rule_lines) == len(shipped)  # every rule, none stopped the evaluation
    hit = next(line for line in rule_lines if " nagios-service-problem " in line)
    assert hit.startswith("HIT   30-monitoring.yaml:")
    assert hit.endswith("at '** PROBLEM Service Alert: web1/Disk / is CRITICAL **' (host='web1', check='Disk /', "
                        "state='CRITICAL')")
    miss = next(line for line in rule_lines if " own-mail " in line)
    assert miss.startswith("miss  00-guards.yaml:") and miss.endswith("kind 'human' is not 'own'")
    decision = lines[lines.index("decision:") + 1:]
    assert any(line.split() == ["dedupe_key", "nagios:web1/Disk", "/", "set", "by", "nagios-service-problem"]
               for line in decision)
    assert any(line.split()[:2] == ["type", "incident"] and line.endswith("(over default-assistance)")
               for line in decision)
    assert "kind human (guessed)" in out


def test_explain_shows_rules_not_evaluated_after_a_stop() -> None:
    code, out, _ = run("explain", str(FIXTURES / "auto_reply.eml"), "--rules", SHIPPED)
    assert code == 0
    assert "kind auto_reply (guessed)" in out
    skipped = [line for line in out.splitlines() if line.startswith("--")]
    assert skipped and all(line.endswith("not evaluated: out-of-office stopped the evaluation") for line in skipped)
    assert "  stopped by  out-of-office" in out


def test_explain_json(tmp_path: Path) -> None:
    (tmp_path / "10-a.yaml").write_text("""\
rules:
  - name: agent
    when: {is_agent: true}
    then: {queue: internal}
  - name: acme
    when: {all: [{customer: Acme}, {recipient: vip@example.test}, {attachment_name: {regex: '\\.pdf$'}}]}
    then: {priority: urgent}
    stop: true
  - name: never
    then: {tags: [x]}
""")
    code, out, _ = run("explain", str(FIXTURES / "rules" / "devis_fr.eml"), "--rules", str(tmp_path), "--json",
                       "--agent", "--customer", "Acme", "--to", "vip@example.test", "--kind", "human")
    assert code == 0
    doc = json.loads(out)
    assert doc["facts"]["attachment_names"] == ["cahier-des-charges.pdf", "écran.png"]
    assert doc["facts"]["is_agent"] is True and doc["facts"]["recipients"] == ["vip@example.test"]
    assert [(h["rule"], h["matched"]) for h in doc["hits"]] == [("agent", True), ("acme", True)]
    assert doc["hits"][0]["reason"] == "is_agent is true" and doc["hits"][0]["line"] == 2
    assert doc["not_evaluated"] == [{"rule": "never", "file": "10-a.yaml", "line": 9}]
    assert doc["decision"] == {"fields": {"queue": "internal", "priority": "urgent"},
                               "set_by": {"queue": ["agent"], "priority": ["acme"]},
                               "stopped_by": "acme", "notes": []}


def test_explain_refuses_bad_rules(tmp_path: Path) -> None:
    (tmp_path / "10-a.yaml").write_text("rules: 3\n")
    code, _, err = run("explain", str(FIXTURES / "new_request.eml"), "--rules", str(tmp_path))
    assert code == 78
    assert f"{tmp_path}/10-a.yaml:1: `rules:` must be a list of rules" in err


def test_attachment_names_and_kind_guess() -> None:
    assert attachment_names(eml("rules/devis_fr.eml")) == ("cahier-des-charges.pdf", "écran.png")
    assert attachment_names(eml("new_request.eml")) == ()
    names = ("new_request.eml", "auto_reply.eml", "rules/bounce.eml", "rules/list_mail.eml", "rules/zabbix_problem.eml")
    kinds = {name: guess_kind(parse(eml(name))) for name in names}
    assert kinds == {"new_request.eml": "human", "auto_reply.eml": "auto_reply", "rules/bounce.eml": "bounce",
                     "rules/list_mail.eml": "list", "rules/zabbix_problem.eml": "auto_reply"}
    # without the config our loop token is unknown: a loop header alone does not make a mail our own
    assert guess_kind(parse(b"X-Mailgate-Loop: t\r\nFrom: a@b.example\r\n\r\nx")) == "human"


# ---------------------------------------------------------------- with the config (issue 15)

def config_file(tmp_path: Path, rules_dir: Path | None = None) -> Path:
    data = settings_data("sqlite:///" + str(tmp_path / "x.sqlite3"), 25,
                         gateway__rules=str(rules_dir or ROOT / "rules"))
    data["customers"] = [{"name": "Client SA", "domains": ["client.example"]}]
    data["queues"] = [{"name": "network", "agents": ["alice@example.test"]}]
    return write_config(tmp_path / "config.toml", data)


BAD_REFS = """\
rules:
  - name: to-zoe
    when: {subject: {contains: réseau}}
    then: {assignee: zoe@x.example}
  - name: vip
    when: {customer: Client SAS}
    then: {queue: netwrk, auto_reply: ack-vip}
"""


def test_check_against_the_config_names_file_line_rule_and_what_exists(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "10-a.yaml").write_text(BAD_REFS)
    config = config_file(tmp_path, folder)
    code, out, err = run("check", "-c", str(config))
    templates = ROOT / "templates"
    assert code == 78 and out == ""
    lines = err.splitlines()
    missing, _, listed = lines[3].partition("; templates: ")  # (what is shipped: checked below)
    assert [*lines[:3], missing, *lines[4:]] == [
        f"{folder}/10-a.yaml:4: rule 'to-zoe': assignee 'zoe@x.example' is not an agent; agents: "
        "alice@example.test, bruno@example.test",
        f"{folder}/10-a.yaml:6: rule 'vip': customer 'Client SAS' is not a customer (the condition would never "
        "hold); customers: Client SA",
        f"{folder}/10-a.yaml:7: rule 'vip': queue 'netwrk' is not defined in [[queues]]; queues: network",
        f"{folder}/10-a.yaml:7: rule 'vip': auto_reply 'ack-vip': template missing: {templates}/fr/ack-vip.txt.j2, "
        f"{templates}/en/ack-vip.txt.j2",
        f"mailgate: 4 error(s) in {folder}",
    ]
    assert listed.startswith("ack, agent_refused, ")  # the templates every locale has (the shipped ones)
    code, _, err = run("check", "--rules", str(folder))  # no config: the rules are checked for themselves
    assert (code, err) == (0, "")
    # `mailgate check` and `mailgate run` refuse them too: a configuration error, exit 78, no traceback
    for command in ("check", "run"):
        result = cli(config, command, timeout=30)
        stderr = result.stderr.decode()
        assert result.returncode == 78, stderr
        assert f"{folder}/10-a.yaml:4: rule 'to-zoe': assignee 'zoe@x.example' is not an agent; agents: " in stderr
        assert "Traceback" not in stderr


def test_check_ok_against_the_config_and_counts_disabled_rules(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "10-a.yaml").write_text("rules:\n  - name: a\n    then: {queue: network, customer: Client SA}\n"
                                      "  - name: b\n    enabled: false\n    then: {assignee: alice@example.test}\n")
    config = config_file(tmp_path, folder)
    code, out, err = run("check", "-c", str(config))
    assert (code, err) == (0, "")
    assert out == f"{folder}: OK (2 rules in 1 files, 1 disabled; checked against {config})\n"


def test_explain_uses_the_configs_agents_and_customers(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "10-a.yaml").write_text("rules:\n  - name: from-agent\n    when: {is_agent: true}\n"
                                      "    then: {tags: [internal]}\n"
                                      "  - name: client\n    when: {customer: client sa}\n    then: {priority: high}\n")
    config = config_file(tmp_path, folder)
    code, out, err = run("explain", str(FIXTURES / "new_request.eml"), "-c", str(config))
    assert (code, err) == (0, "")
    assert f"rules: {folder} (2 rules in 1 files); config {config}" in out
    assert "; agent no; customer Client SA; " in out
    hit = next(line for line in out.splitlines() if " client " in line)
    assert hit.startswith("HIT   10-a.yaml:5  client") and hit.endswith("customer 'Client SA' equals 'client sa'")
    agent_mail = tmp_path / "agent.eml"
    agent_mail.write_bytes(b"From: Alice <Alice@Example.test>\r\nTo: support@example.test\r\nSubject: note\r\n"
                           b"Message-ID: <n1@example.test>\r\n\r\nhello\r\n")
    # mailgate's own -c, as `mailgate -c FILE rules explain` passes it
    result = CliRunner().invoke(main, ["-c", str(config), "rules", "explain", str(agent_mail), "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["config"] == str(config)
    assert (doc["facts"]["is_agent"], doc["facts"]["customer"]) == (True, None)
    assert [(h["rule"], h["matched"]) for h in doc["hits"]] == [("from-agent", True), ("client", False)]
    # without a config, as before: nobody is an agent, no customer is known
    code, out, _ = run("explain", str(FIXTURES / "new_request.eml"), "--rules", str(folder))
    assert code == 0 and "; agent no; customer -; " in out


def test_explain_with_a_config_that_does_not_exist(tmp_path: Path) -> None:
    code, _, err = run("explain", str(FIXTURES / "new_request.eml"), "-c", str(tmp_path / "absent.toml"))
    assert code == 78
    assert err == f"mailgate: invalid configuration:\n{tmp_path / 'absent.toml'}: no such file\n"


def test_explain_shows_a_disabled_rule_as_disabled(tmp_path: Path) -> None:
    (tmp_path / "10-a.yaml").write_text("rules:\n  - name: paused\n    enabled: false\n    then: {priority: urgent}\n"
                                        "  - name: every\n    then: {tags: [x]}\n")
    code, out, _ = run("explain", str(FIXTURES / "new_request.eml"), "--rules", str(tmp_path))
    assert code == 0
    lines = out.splitlines()
    assert "off   10-a.yaml:2  paused  disabled (enabled: false): never matches" in lines
    assert "HIT   10-a.yaml:5  every   no conditions: matches every mail" in lines
    code, out, _ = run("explain", str(FIXTURES / "new_request.eml"), "--rules", str(tmp_path), "--json")
    paused = json.loads(out)["hits"][0]
    assert paused == {"rule": "paused", "file": "10-a.yaml", "line": 2, "matched": False,
                      "reason": "disabled (enabled: false): never matches", "disabled": True}
