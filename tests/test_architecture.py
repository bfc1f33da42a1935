"""The shape of the code, checked: the core is pure (recursively), no module imports itself back through
others, every module says in its first line where it sits in the flow, and stays small."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mailgate"

# What the functional core may import: the standard library's pure parts, three pure parsing libraries,
# and itself. Anything else (I/O, the clock, logging, randomness, the shell) fails the test.
CORE_MAY_IMPORT = {
    "__future__", "base64", "binascii", "codecs", "collections", "dataclasses", "datetime", "decimal", "email", "enum",
    "functools", "hashlib", "heapq", "hmac", "html", "itertools", "json", "math", "operator", "re", "string",
    "quopri", "struct", "textwrap", "typing", "unicodedata",
    "inscriptis", "tnefparse", "authres",  # HTML to text, winmail.dat, Authentication-Results: pure parsers
    "Stemmer",  # PyStemmer: French and English stemming of the knowledge base's words (core/kb/text.py): pure
    "mailgate.core",
}
LAYERS = ("Core", "Shell", "Store")
MAX_LINES = 300


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(path: Path) -> list[tuple[str, int]]:
    """(module, line) of every import in the file, except those only for type checkers."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
            found.append((node.module, node.lineno))
    return found


def test_the_core_imports_no_io_clock_logging_or_shell() -> None:
    offenders = []
    for name, path in modules().items():
        if not name.startswith("mailgate.core"):
            continue
        for imported, line in imports(path):
            if imported.startswith("mailgate.") and not imported.startswith("mailgate.core"):
                offenders.append(f"{path.relative_to(PACKAGE)}:{line}: {imported}")
            elif not imported.startswith("mailgate") and imported.split(".")[0] not in CORE_MAY_IMPORT:
                offenders.append(f"{path.relative_to(PACKAGE)}:{line}: {imported}")
    assert offenders == []


def test_the_core_check_would_catch_an_offender(tmp_path: Path) -> None:
    # the contract itself: the imports a core module must never make are seen by `imports`
    sample = tmp_path / "m.py"
    sample.write_text("import time\nfrom mailgate.store import db\ndef f():\n    import socket\n")
    names = {n.split(".")[0] for n, _ in imports(sample)} - {"mailgate"}
    assert names == {"time", "socket"} and not names & CORE_MAY_IMPORT


def graph() -> dict[str, set[str]]:
    """module -> the mailgate modules it imports (a `from package import name` names a module when one
    exists by that name, else the package)."""
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for imported, _ in imports(path):
            if imported in known and imported != name:
                edges[name].add(imported)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle() -> None:
    assert cycles(graph()) == []


def test_the_circle_check_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_says_where_it_sits_and_stays_small() -> None:
    problems = []
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        doc = ast.get_docstring(ast.parse(text))
        first = (doc or "").splitlines()[0] if doc else ""
        if not first.startswith(LAYERS) and name not in ("mailgate", "mailgate.__main__"):
            problems.append(f"{name}: first docstring line should name its layer ({', '.join(LAYERS)}): {first!r}")
        lines = text.count("\n")
        if lines > MAX_LINES:
            problems.append(f"{name}: {lines} lines (at most {MAX_LINES}: one concept per module)")
    assert problems == []
