"""`mailgate rules check|explain`, invoked on the click group itself."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mailgate.cli.rules import attachment_names, guess_kind, rules
from mailgate.core.mail.parse import parse
from mailgate.rules.load import load_rules
from tests.conftest import FIXTURES, eml

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
