"""The rule engine: .eml fixture + rules YAML -> expected decision and hits (table-driven)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailgate.core.mail.parse import parse
from mailgate.core.model import ParsedMail, Priority, RequestType
from mailgate.core.rules.engine import Decision, evaluate
from mailgate.core.rules.match import explain, match
from mailgate.core.rules.model import BODY_LIMIT, RuleSet, facts_from
from mailgate.rules.compile import compile_text
from mailgate.rules.load import load_rules
from tests.conftest import eml

ROOT = Path(__file__).parent.parent


def ruleset(text: str) -> RuleSet:
    rules, errors = compile_text(text, "t.yaml", "t.yaml")
    assert errors == []
    return RuleSet(tuple(rules), ("t.yaml",), "t")


def decide(rules: RuleSet, mail: str | ParsedMail, **facts: Any) -> Decision:
    parsed = parse(eml(mail)) if isinstance(mail, str) else mail
    return evaluate(rules, facts_from(parsed, **facts))


# ---------------------------------------------------------------- the shipped defaults (rules/)

GUARDS = ["own-mail", "bounce", "challenge", "mailing-list", "out-of-office", "machine-mail-no-answer"]
MONITORING = ["nagios-service-problem", "nagios-service-recovery", "nagios-host-problem", "nagios-host-recovery",
              "zabbix-problem", "zabbix-resolved", "alertmanager-firing", "alertmanager-resolved",
              "monitoring-critical"]
ALERT = {"type": "incident", "level": 2, "auto_reply": False}

DEFAULTS: list[tuple[str, str, dict[str, object], list[str]]] = [
    ("new_request.eml", "human", {"type": "assistance", "level": 1}, ["default-assistance"]),
    ("rules/incident_fr.eml", "human", {"type": "incident", "level": 2, "priority": "high"},
     ["priority-high-from-headers", "default-assistance", "incident-wording"]),
    # both wordings: the evolution rule comes later and wins; X-Priority 5 -> low
    ("rules/evolution_en.eml", "human", {"type": "evolution", "level": 2, "priority": "low"},
     ["priority-low-from-headers", "default-assistance", "incident-wording", "evolution-wording"]),
    ("rules/devis_fr.eml", "human", {"type": "evolution", "level": 2, "priority": "high"},
     ["priority-high-from-headers", "default-assistance", "evolution-wording"]),
    ("rules/nagios_problem.eml", "human",
     {**ALERT, "priority": "high", "dedupe_key": "nagios:web1/Disk /", "tags": ["monitoring", "nagios"]},
     ["default-assistance", "nagios-service-problem", "monitoring-critical"]),
    ("rules/nagios_recovery.eml", "human",
     {**ALERT, "dedupe_key": "nagios:web1/Disk /", "tags": ["monitoring", "nagios"], "recovery": True,
      "resolve": False},
     ["default-assistance", "nagios-service-recovery"]),
    ("rules/nagios_host_down.eml", "human",
     {**ALERT, "priority": "high", "dedupe_key": "nagios:db2/host", "tags": ["monitoring", "nagios"]},
     ["default-assistance", "incident-wording", "nagios-host-problem", "monitoring-critical"]),
    # Zabbix sends Auto-Submitted: auto-generated: machine mail, but not stopped by the guards
    ("rules/zabbix_problem.eml", "auto_reply",
     {**ALERT, "priority": "high", "dedupe_key": "zabbix:app-server-01/High CPU utilization (over 90% for 5m)",
      "tags": ["machine", "monitoring", "zabbix"]},
     ["machine-mail-no-answer", "default-assistance", "zabbix-problem", "monitoring-critical"]),
    ("rules/zabbix_resolved.eml", "auto_reply",
     {**ALERT, "dedupe_key": "zabbix:app-server-01/High CPU utilization (over 90% for 5m)",
      "tags": ["machine", "monitoring", "zabbix"], "recovery": True, "resolve": False},
     ["machine-mail-no-answer", "default-assistance", "zabbix-resolved"]),
    ("rules/alertmanager_firing.eml", "human",
     {**ALERT, "priority": "high", "dedupe_key": "alertmanager:InstanceDown", "tags": ["monitoring", "alertmanager"]},
     ["default-assistance", "alertmanager-firing", "monitoring-critical"]),
    ("rules/alertmanager_resolved.eml", "human",
     {**ALERT, "dedupe_key": "alertmanager:InstanceDown", "tags": ["monitoring", "alertmanager"],
      "recovery": True, "resolve": False},
     ["default-assistance", "alertmanager-resolved"]),
    ("auto_reply.eml", "auto_reply", {"ignore": True, "auto_reply": False, "tags": ["auto-reply"]}, ["out-of-office"]),
    ("rules/bounce.eml", "bounce", {"ignore": True, "auto_reply": False, "tags": ["bounce"]}, ["bounce"]),
    ("rules/list_mail.eml", "list", {"ignore": True, "auto_reply": False, "tags": ["list"]}, ["mailing-list"]),
    ("new_request.eml", "own", {"ignore": True, "auto_reply": False, "tags": ["loop"]}, ["own-mail"]),
]


@pytest.fixture(scope="module")
def defaults() -> RuleSet:
    return load_rules(ROOT / "rules")


@pytest.mark.parametrize(("fixture", "kind", "fields", "matched"), DEFAULTS, ids=[f"{d[0]}-{d[1]}" for d in DEFAULTS])
def test_shipped_rules(defaults: RuleSet, fixture: str, kind: str, fields: dict[str, object],
                       matched: list[str]) -> None:
    decision = decide(defaults, fixture, kind=kind)
    assert decision.fields() == fields
    assert list(decision.matched) == matched
    for hit in decision.hits:  # every rule considered has a reason in words
        assert hit.reason


def test_shipped_guards_stop_and_record_who_stopped(defaults: RuleSet) -> None:
    decision = decide(defaults, "rules/bounce.eml", kind="bounce")
    assert decision.stopped_by == "bounce"
    assert [h.rule for h in decision.hits] == ["own-mail", "bounce"]  # nothing after the stop is considered
    assert decision.hits[0].reason == "kind 'bounce' is not 'own'"
    assert decision.hits[1].reason == "kind 'bounce' equals 'bounce'"


def test_shipped_monitoring_rules_need_the_tool_format(defaults: RuleSet) -> None:
    """A customer writing "Problem: ..." is not a Zabbix alert (the body lacks Zabbix's lines)."""
    mail = parse(b"From: a@client.example\r\nSubject: Problem: printer on floor 2\r\n\r\nHost: none\r\n")
    decision = evaluate(defaults, facts_from(mail))
    assert decision.dedupe_key is None
    assert "zabbix-problem" not in decision.matched
    zabbix = next(h for h in decision.hits if h.rule == "zabbix-problem")
    assert zabbix.reason == "body does not match regex '^Original problem ID:'"


# ---------------------------------------------------------------- operators, combinators, actions

CASES: list[tuple[str, str, dict[str, Any], dict[str, object], list[tuple[str, bool, str]]]] = [
    (  # contains / equals ignore case by default; case_sensitive: true does not
        """
rules:
  - name: ci
    when: {subject: {contains: "ERREUR 500"}}
    then: {tags: [ci]}
  - name: cs
    when: {subject: {contains: "ERREUR 500", case_sensitive: true}}
    then: {tags: [cs]}
  - name: eq
    when: {sender: Julie@Client.Example}
    then: {tags: [eq]}
  - name: any-word
    when: {subject: {contains: [Panne, CONNEXION]}}
    then: {tags: [any-word]}
  - name: no-word
    when: {body: {contains: [panne, plantage]}}
    then: {tags: [no-word]}
""", "rules/incident_fr.eml", {},
        {"tags": ["ci", "eq", "any-word"]},
        [("ci", True, "subject 'Erreur 500 sur la page de connexion' contains 'ERREUR 500'"),
         ("cs", False, "subject 'Erreur 500 sur la page de connexion' does not contain 'ERREUR 500' (case-sensitive)"),
         ("eq", True, "sender 'julie@client.example' equals 'Julie@Client.Example'"),
         ("any-word", True, "subject 'Erreur 500 sur la page de connexion' contains 'CONNEXION'"),
         ("no-word", False, "body does not contain any of [panne, plantage]")]),
    (  # regex named groups fill templates in every string action
        r"""
rules:
  - name: alert
    when:
      all:
        - subject: {regex: 'Service Alert: (?P<host>[^/]+)/(?P<service>.+?) is (?P<state>\w+)'}
        - body: {regex: '^Address: (?P<ip>\S+)$'}
    then:
      dedupe_key: "{host}/{service}"
      queue: "ops-{host}"
      assignee: "oncall+{host}@example.test"
      tags: ["state-{state}", "ip-{ip}"]
      notify: ["{host}-owner@example.test"]
""", "rules/nagios_problem.eml", {},
        {"dedupe_key": "web1/Disk /", "queue": "ops-web1", "assignee": "oncall+web1@example.test",
         "tags": ["state-CRITICAL", "ip-10.0.0.11"], "notify": ["web1-owner@example.test"]},
        [("alert", True, "subject matches regex 'Service Alert: (?P<host>[^/]+)/(?P<service>.+?) is (?P<state…' "
                         "at '** PROBLEM Service Alert: web1/Disk / is CRITICAL **' (host='web1', "
                         "service='Disk /', state='CRITICAL') and body matches regex '^Address: (?P<ip>\\S+)$' "
                         "at 'Address: 10.0.0.11' (ip='10.0.0.11')")]),
    (  # in-list, exists, absent headers
        """
rules:
  - name: domains
    when: {sender_domain: {in: [a.example, Client.Example]}}
    then: {customer: Client}
  - name: other-domains
    when: {sender_domain: [a.example, b.example]}
    then: {customer: Other}
  - name: has-importance
    when: {header.Importance: {exists: true}}
    then: {tags: [flagged]}
  - name: no-x-priority
    when: {header.X-Priority: {exists: false}}
    then: {tags: [no-x-priority]}
  - name: missing-header
    when: {header.X-Nope: {regex: '.'}}
    then: {tags: [never]}
""", "rules/incident_fr.eml", {},
        {"customer": "Client", "tags": ["flagged", "no-x-priority"]},
        [("domains", True, "sender_domain 'client.example' in [a.example, Client.Example]"),
         ("other-domains", False, "sender_domain 'client.example' not in [a.example, b.example]"),
         ("has-importance", True, "header.Importance exists: 'High'"),
         ("no-x-priority", True, "header.X-Priority is absent or empty"),
         ("missing-header", False, "header.X-Nope is absent")]),
    (  # recipients: the envelope's when given, else To + Cc
        """
rules:
  - name: to-sales
    when: {recipient: sales@example.test}
    then: {queue: sales}
  - name: cc-julie
    when: {recipient: {contains: julie@}}
    then: {tags: [julie-in-copy]}
""", "new_request.eml", {},
        {"tags": ["julie-in-copy"]},
        [("to-sales", False, "recipient ['support@example.test', 'julie@client.example'] is not 'sales@example.test'"),
         ("cc-julie", True, "recipient 'julie@client.example' contains 'julie@'")]),
    (
        """
rules:
  - name: to-sales
    when: {recipient: sales@example.test}
    then: {queue: sales}
""", "new_request.eml", {"envelope_to": ["<Sales@Example.Test>"]},
        {"queue": "sales"},
        [("to-sales", True, "recipient 'sales@example.test' equals 'sales@example.test'")]),
    (  # attachments, agent, customer, kind
        r"""
rules:
  - name: with-attachment
    when: {attachment: true}
    then: {tags: [attachment]}
  - name: pdf
    when: {attachment_name: {regex: '\.pdf$'}}
    then: {tags: [pdf]}
  - name: agent
    when: {is_agent: true}
    then: {tags: [agent]}
  - name: known-customer
    when: {customer: {exists: true}}
    then: {tags: [customer]}
  - name: acme
    when: {customer: ACME}
    then: {priority: high}
  - name: machine
    when: {kind: [bounce, auto_reply]}
    then: {tags: [machine]}
""", "rules/devis_fr.eml", {"attachment_names": ("cahier-des-charges.pdf", "écran.png"), "customer": "Acme"},
        {"tags": ["attachment", "pdf", "customer"], "priority": "high"},
        [("with-attachment", True, "2 attachment(s) ['cahier-des-charges.pdf', 'écran.png']"),
         ("pdf", True, "attachment_name matches regex '\\.pdf$' at 'cahier-des-charges.pdf'"),
         ("agent", False, "is_agent is false"),
         ("known-customer", True, "customer exists: 'Acme'"),
         ("acme", True, "customer 'Acme' equals 'ACME'"),
         ("machine", False, "kind 'human' not in [bounce, auto_reply]")]),
    (  # all / any / not, nested; a list under `when` is an `all`
        """
rules:
  - name: nested
    when:
      - any:
          - subject: {contains: devis}
          - subject: {contains: quote}
      - not: {sender_domain: competitor.example}
      - not:
          any:
            - is_agent: true
            - kind: list
    then: {type: evolution}
  - name: none-of
    when:
      any:
        - subject: {contains: bug}
        - body: {contains: plantage}
    then: {type: incident}
""", "rules/devis_fr.eml", {},
        {"type": "evolution"},
        [("nested", True, "subject 'Demande de devis pour un nouvel écran' contains 'devis' and "
                          "not (sender_domain 'client.example' is not 'competitor.example') and "
                          "not (none of (is_agent is false; kind 'human' is not 'list'))"),
         ("none-of", False, "none of (subject 'Demande de devis pour un nouvel écran' does not contain 'bug'; "
                            "body does not contain 'plantage')")]),
    (  # last hit wins for scalars (set_by keeps the history); tags and notify accumulate without repeats
        """
rules:
  - name: first
    then: {type: assistance, level: 1, tags: [a, b], notify: [x@example.test]}
  - name: second
    when: {subject: {contains: erreur}}
    then: {type: incident, tags: [b, c], notify: [y@example.test, x@example.test]}
  - name: third
    when: {subject: {contains: nothing-like-this}}
    then: {type: evolution}
""", "rules/incident_fr.eml", {},
        {"type": "incident", "level": 1, "tags": ["a", "b", "c"], "notify": ["x@example.test", "y@example.test"]},
        [("first", True, "no conditions: matches every mail"),
         ("second", True, "subject 'Erreur 500 sur la page de connexion' contains 'erreur'"),
         ("third", False, "subject 'Erreur 500 sur la page de connexion' does not contain 'nothing-like-this'")]),
    (  # stop: later rules are not considered
        """
rules:
  - name: quarantine-exe
    when: {attachment_name: {regex: '\\.(exe|scr)$'}}
    then: {quarantine: true, auto_reply: false}
    stop: true
  - name: later
    then: {type: incident}
""", "new_request.eml", {"attachment_names": ("invoice.pdf.exe",)},
        {"quarantine": True, "auto_reply": False},
        [("quarantine-exe", True, "attachment_name matches regex '\\.(exe|scr)$' at 'invoice.pdf.exe'")]),
    (  # an auto-reply template; a group that did not take part leaves the action unset (with a note)
        """
rules:
  - name: either
    when:
      any:
        - subject: {regex: 'ticket (?P<ref>\\d+)'}
        - subject: {contains: utilisateur}
    then: {auto_reply: ack-account, dedupe_key: "ref-{ref}", tags: ["ref-{ref}", account]}
""", "new_request.eml", {},
        {"auto_reply": "ack-account", "tags": ["account"]},
        [("either", True, "subject 'Création de l'utilisateur Fabrice' contains 'utilisateur'")]),
]


@pytest.mark.parametrize(("rules_yaml", "fixture", "facts", "fields", "hits"), CASES,
                         ids=["case-ci", "groups", "in-exists", "recipients", "envelope", "attachments-agent",
                              "combinators", "last-wins", "stop", "missing-group"])
def test_rules_table(rules_yaml: str, fixture: str, facts: dict[str, Any], fields: dict[str, object],
                     hits: list[tuple[str, bool, str]]) -> None:
    decision = decide(ruleset(rules_yaml), fixture, **facts)
    assert decision.fields() == fields
    assert [(h.rule, h.matched, h.reason) for h in decision.hits] == hits


def test_decision_values_are_typed_and_set_by_keeps_history() -> None:
    rules = ruleset(CASES[7][0])
    decision = decide(rules, "rules/incident_fr.eml")
    assert decision.type is RequestType.INCIDENT and decision.level == 1 and decision.priority is None
    assert decision.set_by == {"type": ("first", "second"), "level": ("first",), "tags": ("first", "second"),
                               "notify": ("first", "second")}
    assert decision.stopped_by is None and decision.notes == ()
    stop = decide(ruleset(CASES[8][0]), "new_request.eml", attachment_names=("a.exe",))
    assert stop.stopped_by == "quarantine-exe" and stop.quarantine and stop.auto_reply is False


def test_missing_group_is_noted() -> None:
    decision = decide(ruleset(CASES[9][0]), "new_request.eml")
    assert decision.dedupe_key is None
    assert decision.notes == (
        "rule either: dedupe_key not set: group(s) ref did not take part in the match",
        "rule either: tags 'ref-{ref}' not added: group(s) ref did not take part in the match",
    )
    grouped = parse(b"From: a@b.example\r\nSubject: about ticket 42\r\n\r\nx\r\n")
    decision = evaluate(ruleset(CASES[9][0]), facts_from(grouped))
    assert decision.dedupe_key == "ref-42" and decision.tags == ("ref-42", "account") and decision.notes == ()


def test_groups_of_a_failed_branch_or_a_not_do_not_leak() -> None:
    rules = ruleset(r"""
rules:
  - name: r
    when:
      any:
        - all:
            - subject: {regex: '(?P<x>Demande)'}
            - subject: {contains: absent-word}
        - subject: {regex: '(?P<y>devis)'}
    then: {tags: ["{y}"]}
""")
    facts = facts_from(parse(eml("rules/devis_fr.eml")))
    condition = rules.rules[0].condition
    assert condition is not None
    assert match(condition, facts) == (True, {"y": "devis"})


def test_header_with_several_values_matches_any() -> None:
    mail = parse(b"Received: from a.example\r\nReceived: from relay.partner.example\r\nFrom: x@y.example\r\n"
                 b"Subject: s\r\n\r\nb\r\n")
    rules = ruleset("""
rules:
  - name: via-partner
    when: {header.received: {regex: 'relay\\.(?P<via>[a-z]+)\\.example'}}
    then: {tags: ["via-{via}"]}
""")
    decision = evaluate(rules, facts_from(mail))
    assert decision.tags == ("via-partner",)
    assert decision.hits[0].reason == ("header.received matches regex 'relay\\.(?P<via>[a-z]+)\\.example' at "
                                       "'from relay.partner.example' (via='partner')")


def test_body_is_capped_for_the_rules() -> None:
    rules = ruleset("""
rules:
  - name: late-keyword
    when: {body: {contains: needle}}
    then: {tags: [found]}
""")
    early = ParsedMail(message_id=None, subject="s", from_=None, text="needle " + "x" * (BODY_LIMIT * 2))
    late = ParsedMail(message_id=None, subject="s", from_=None, text="x" * BODY_LIMIT + " needle")
    early_facts, late_facts = facts_from(early), facts_from(late)
    assert len(early_facts.body) == BODY_LIMIT and early_facts.body_truncated
    assert evaluate(rules, early_facts).tags == ("found",)
    assert evaluate(rules, late_facts).tags == ()


def test_empty_ruleset_says_nothing() -> None:
    decision = decide(RuleSet(), "new_request.eml")
    assert decision == Decision()
    assert decision.fields() == {} and decision.matched == ()


def test_facts_from_mail() -> None:
    facts = facts_from(parse(eml("new_request.eml")), kind="human", is_agent=True)
    assert (facts.sender, facts.sender_domain) == ("fabrice@client.example", "client.example")
    assert facts.recipients == ("support@example.test", "julie@client.example")
    assert facts.subject == "Création de l'utilisateur Fabrice" and facts.is_agent
    no_from = facts_from(parse(b"Subject: x\r\n\r\nb\r\n"), envelope_from="<Bounce@X.example>")
    assert (no_from.sender, no_from.sender_domain) == ("bounce@x.example", "x.example")


def test_explain_agrees_with_evaluation_and_json_is_serialisable() -> None:
    import json

    rules = ruleset(CASES[6][0])
    facts = facts_from(parse(eml("rules/devis_fr.eml")))
    for rule in rules.rules:
        assert rule.condition is not None
        assert explain(rule.condition, facts)[0] == match(rule.condition, facts)[0]
    decision = evaluate(rules, facts)
    document = json.loads(json.dumps(decision.as_json()))
    assert document["fields"] == {"type": "evolution"}
    assert [h["rule"] for h in document["hits"]] == ["nested", "none-of"]
    assert decision.as_json(misses="none")["hits"] == [document["hits"][0]]
    assert decision.as_json(misses="names")["hits"] == [
        document["hits"][0], {"rule": "none-of", "file": "t.yaml", "line": 14, "matched": False}]
    assert Priority.HIGH.value == "high"
