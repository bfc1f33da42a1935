"""Measure mail hygiene on the third-party corpus (../shared/corpus): classification, bounces, reply text.

    .venv/bin/python benchmarks/corpus_eval.py [--corpus PATH] [--show-failures]

Per source: classification accuracy against the corpus's label (INDEX.tsv `kind`, where it names a
kind mailgate has), and for unlabelled mails how they were classified; bounce detection precision
and recall, exact match of the failed recipients, permanent/temporary accuracy; reply-stripping
accuracy (exact after normalising whitespace) through mailgate.core.quotes.strip_reply when that
module exists. Expectations come from the corpus only; nothing here knows a file by name.

Conventions that differ from a source's are reported, not hidden: bounceparser counts a delay
warning as "not a bounce" where mailgate classifies it as a temporary bounce.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailgate.core.mail.bounce import Bounce  # noqa: E402
from mailgate.core.mail.classify import Kind, classify  # noqa: E402
from mailgate.core.mail.parse import parse  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
# INDEX.tsv kind -> the kind mailgate should say; kinds not listed carry no classification label.
LABELS = {
    "bounce": "bounce", "bounce-delay": "bounce", "not-bounce": None, "auto-reply": "auto_reply",
    "auto-generated": "auto_reply", "challenge-response": "challenge", "read-receipt": "auto_reply",
    "feedback-report": "auto_reply", "reply": "human", "forward": "human",
}
OWN = dict(loop_token="corpus-eval-token-0000", own_addresses=frozenset({"support@mailgate-eval.invalid"}),
           own_msgid_domain="mailgate-eval.invalid")


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def add(self, name: str, ok: bool, failure: str) -> None:
        self.counts[name + "_n"] += 1
        self.counts[name + "_ok"] += ok
        if not ok:
            self.failures.append(f"{name}: {failure}")

    def rate(self, name: str) -> str:
        n = self.counts[name + "_n"]
        return f"{self.counts[name + '_ok']}/{n} ({100 * self.counts[name + '_ok'] / n:.1f}%)" if n else "-"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--show-failures", action="store_true", help="list every mismatch")
    args = ap.parse_args()
    corpus: Path = args.corpus
    if not (corpus / "INDEX.tsv").is_file():
        print(f"corpus not found at {corpus} (expected INDEX.tsv there); nothing to measure")
        return 0
    loader = _load_module(corpus / "load_cases.py")
    rows = list(csv.DictReader((corpus / "INDEX.tsv").open(encoding="utf-8"), delimiter="\t"))
    tallies: dict[str, Tally] = defaultdict(Tally)
    kinds, seconds, mails = _classify_all(corpus, rows, tallies)
    _bounces(corpus, loader, rows, kinds, tallies)
    print(f"classified {mails} mails in {seconds:.2f} s: {1000 * seconds / max(mails, 1):.2f} ms per mail "
          f"(parse + classify)\n")
    _report(tallies, args.show_failures)
    _replies(corpus, loader, args.show_failures)
    return 0


def _load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_load_cases", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _classify_all(corpus: Path, rows: list[dict[str, str]], tallies: dict[str, Tally]) -> \
        tuple[dict[str, Kind], float, int]:
    kinds: dict[str, Kind] = {}
    seconds = 0.0
    for row in rows:
        if row["format"] != "rfc822":
            continue
        raw = (corpus / row["path"]).read_bytes()
        start = time.perf_counter()
        kind = classify(parse(raw), raw, None, **OWN)  # type: ignore[arg-type]
        seconds += time.perf_counter() - start
        kinds[row["path"]] = kind
        tally = tallies[row["source"]]
        label = LABELS.get(row["kind"], "unlabelled")
        if label == "unlabelled" or label is None:
            tally.counts[f"unlabelled:{kind.kind}"] += 1
            if kind.kind != "human":
                tally.failures.append(f"unlabelled ({row['kind']}) -> {kind.kind}: {row['path']} ({kind.reason})")
            continue
        tally.add("class", kind.kind == label, f"{row['path']}: want {label}, got {kind.kind} ({kind.reason})")
    return kinds, seconds, len(kinds)


def _bounce_cases(corpus: Path, loader: ModuleType, rows: list[dict[str, str]]) -> Iterator[dict[str, Any]]:
    """One case per mail: load_cases' bounce cases merged per file, plus flanker and ruby_mail_gem."""
    merged: dict[str, dict[str, Any]] = {}
    for case in loader.bounce_cases():
        path = str(Path(case["path"]).resolve().relative_to(corpus.resolve()))
        into = merged.setdefault(path, dict(source=case["source"], path=path, recipients=set(), temporary=None,
                                            status=None, is_bounce=case["is_bounce"]))
        if case["recipients"]:
            into["recipients"] |= case["recipients"]
        if case.get("temporary") is not None:
            into["temporary"] = case["temporary"]
        if case.get("status"):
            into["status"] = case["status"]
        if case["is_bounce"] is not None:
            into["is_bounce"] = case["is_bounce"]
    for source, keys in (("flanker", ("is_bounce", "status", "original_recipient")),
                         ("ruby_mail_gem", ("bounced", "error_status", "final_recipient"))):
        expected = corpus / source / "expected.json"
        if not expected.is_file():
            continue
        for name, e in json.loads(expected.read_text(encoding="utf-8"))["files"].items():
            if keys[0] not in e:
                continue
            rcpt = e.get(keys[2])
            merged[f"{source}/{name}"] = dict(
                source=source, path=f"{source}/{name}", is_bounce=bool(e[keys[0]]) or "action" in e,
                recipients={rcpt.split(";")[-1].strip().lower()} if rcpt else set(),
                status=[e[keys[1]]] if e.get(keys[1]) else None,
                temporary=(e["action"] == "delayed") if "action" in e else None)
    labelled = {row["path"]: row for row in rows}
    for path, case in merged.items():
        row = labelled.get(path)
        if case["is_bounce"] is None and row is not None and row["kind"] in LABELS:
            case["is_bounce"] = row["kind"] in ("bounce", "bounce-delay")
        case["delay"] = row is not None and row["kind"] == "bounce-delay"
        yield case
    for path, row in labelled.items():  # every other labelled mail is a negative (or positive) for is-bounce
        if path not in merged and row["kind"] in LABELS and row["format"] == "rfc822":
            yield dict(source=row["source"], path=path, recipients=set(), temporary=None, status=None,
                       is_bounce=row["kind"] in ("bounce", "bounce-delay"), delay=row["kind"] == "bounce-delay")


def _bounces(corpus: Path, loader: ModuleType, rows: list[dict[str, str]], kinds: dict[str, Kind],
             tallies: dict[str, Tally]) -> None:
    for case in _bounce_cases(corpus, loader, rows):
        kind = kinds.get(case["path"])
        if kind is None:
            continue
        tally = tallies[case["source"]]
        found: Bounce | None = kind.bounce
        said = found is not None
        if case["is_bounce"] is not None:
            want = bool(case["is_bounce"])
            key = "tp" if said and want else "fp" if said else "fn" if want else "tn"
            tally.counts[key] += 1
            if said != want:
                note = " (a delay notice: this source counts it as no bounce)" if said and case["delay"] else ""
                tally.counts["fp_delay"] += bool(note)
                tally.failures.append(f"is-bounce: {case['path']}: want {want}, got {kind.kind} ({kind.reason}){note}")
        if found is None:
            continue
        got = {r.email for r in found.recipients}
        if case["recipients"]:
            tally.add("rcpt", got == case["recipients"], f"{case['path']}: want {sorted(case['recipients'])}, "
                      f"got {sorted(got)}")
        want_permanent = None
        if case["temporary"] is not None:
            want_permanent = not case["temporary"]
        elif case["status"]:
            want_permanent = any(str(s).startswith("5") for s in case["status"])
        if want_permanent is not None:
            tally.add("perm", found.permanent == want_permanent,
                      f"{case['path']}: want permanent={want_permanent}, got {found.permanent}")


def _report(tallies: dict[str, Tally], show: bool) -> None:
    total = Tally()
    print(f"{'source':22} {'classification':>18} {'bounce P':>9} {'bounce R':>9} {'recipients exact':>18} "
          f"{'perm/temp':>16}  unlabelled mails classified as")
    for source in sorted(tallies):
        t = tallies[source]
        total.counts.update(t.counts)
        _row(source, t)
    print("-" * 120)
    _row("TOTAL", total)
    print("\n(bounce P/R over every labelled mail; fp counts delay notices that bounceparser calls no bounce: "
          f"{total.counts['fp_delay']})")
    if show:
        print("\nmismatches:")
        for source in sorted(tallies):
            for failure in tallies[source].failures:
                print(f"  [{source}] {failure}")


def _row(name: str, t: Tally) -> None:
    c = t.counts
    precision = f"{c['tp']}/{c['tp'] + c['fp']}" if c["tp"] + c["fp"] else "-"
    recall = f"{c['tp']}/{c['tp'] + c['fn']}" if c["tp"] + c["fn"] else "-"
    unlabelled = ", ".join(f"{k.split(':')[1]} {v}" for k, v in sorted(c.items()) if k.startswith("unlabelled:"))
    print(f"{name:22} {t.rate('class'):>18} {precision:>9} {recall:>9} {t.rate('rcpt'):>18} "
          f"{t.rate('perm'):>16}  {unlabelled}")


def _replies(corpus: Path, loader: ModuleType, show: bool) -> None:
    try:
        from mailgate.core.mail import quotes
    except ImportError:
        print("\nreply stripping: mailgate.core.quotes not available")
        return
    strip: Callable[[str], str] = quotes.strip_reply
    tallies: dict[str, Tally] = defaultdict(Tally)
    start, n = time.perf_counter(), 0
    for case in loader.reply_cases():
        if case.get("html"):
            continue
        n += 1
        try:
            got = strip(case["input"])
        except Exception as exc:  # a stripper that raises is a failure to report, not a crash
            got = f"<raised {type(exc).__name__}>"
        ok = " ".join(got.split()) == " ".join(case["expected"].split())
        tallies[case["source"]].add("reply", ok, f"{case['id']}: want {case['expected'][:80]!r}, got {got[:80]!r}")
    seconds = time.perf_counter() - start
    print(f"\nreply stripping (exact after normalising whitespace), {1000 * seconds / max(n, 1):.2f} ms per text:")
    total = Tally()
    for source in sorted(tallies):
        total.counts.update(tallies[source].counts)
        print(f"  {source:24} {tallies[source].rate('reply')}")
    print(f"  {'TOTAL':24} {total.rate('reply')}")
    if show:
        for source in sorted(tallies):
            for failure in tallies[source].failures:
                print(f"  [{source}] {failure}")


if __name__ == "__main__":
    sys.exit(main())
