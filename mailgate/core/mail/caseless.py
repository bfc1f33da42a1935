"""Core, beside the classifier and the reply stripper: a case-insensitive pattern asked as its case-sensitive twin
over the text lowered. The same answer, the same spans and groups (of the lowered text), because the pattern is
checked when made; re.IGNORECASE took 9 to 30 us a search of a subject for the bounce subject pattern, the
twin 2 to 5 (tests/test_core_caseless.py compares them on any text)."""

from __future__ import annotations

import re
from typing import Any

try:  # the stdlib's own case folds and pattern parser (3.11 on); without them, every text goes to the pattern
    from re import _casefix, _parser  # type: ignore[attr-defined]
    from re import _constants as sre  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover  (a Python that moved them)
    _casefix = _parser = sre = None

# The characters IGNORECASE takes for others than their own case (the stdlib's table): each pairs a plain letter
# (i, s, Greek and Cyrillic ones) with one lower() leaves as it is (dotless i, long s, micro sign, final sigma,
# old Cyrillic forms). A pattern may hold the plain ones, never these; a text holding one of them, the dotted
# capital I (lowered to two characters) or the capital sigma (lowered to the final one at a word's end, where
# IGNORECASE reads a sigma) is asked of the pattern itself.
_EXOTIC = "".join(sorted({chr(c) for key, more in (_casefix._EXTRA_CASES.items() if _casefix else ())
                          for c in (key, *more) if chr(c).upper().lower() != chr(c)} | {"İ", "Σ"}))
_UNLIKE = re.compile(f"[{re.escape(_EXOTIC)}]")


class Caseless:
    """`pattern`, compiled with re.IGNORECASE, and its twin without, used for any text without `_EXOTIC` characters.
    A match from the twin is over the text lowered: ask `pattern` for the text as written."""

    __slots__ = ("pattern", "_twin")
    _twin: re.Pattern[str] | None

    def __init__(self, source: str, flags: int = 0) -> None:
        self.pattern = re.compile(source, flags | re.IGNORECASE)
        if _parser is None:
            self._twin = None
            return
        parsed = _parser.parse(source, flags | re.IGNORECASE)
        if parsed.state.flags & re.ASCII:  # IGNORECASE would fold ASCII letters only, lower() folds them all
            raise ValueError(f"{source[:60]!r}: ASCII-only matching would not read the lowered text as it does now")
        _check(parsed, caseless=True, source=source)
        self._twin = re.compile(source, flags & ~re.IGNORECASE)

    def search(self, text: str) -> re.Match[str] | None:
        twin = self._twin
        return twin.search(text.lower()) if twin is not None and _alike(text) else self.pattern.search(text)

    def match(self, text: str) -> re.Match[str] | None:
        twin = self._twin
        return twin.match(text.lower()) if twin is not None and _alike(text) else self.pattern.match(text)


def _alike(text: str) -> bool:
    """lower() makes of `text` what IGNORECASE reads in it."""
    return text.isascii() or _UNLIKE.search(text) is None


def _check(parsed: Any, *, caseless: bool, source: str) -> None:
    """Raise ValueError for a pattern the twin would answer otherwise: a character of another case than the
    lowered text's under IGNORECASE, a cased one (or a reference to a group) where the case counts (the text may
    have been upper case), an exotic one, or ASCII-only matching."""
    for op, arg in parsed:
        if op in (sre.LITERAL, sre.NOT_LITERAL):
            _characters(arg, arg, caseless, source)
        elif op == sre.RANGE:
            _characters(arg[0], arg[1], caseless, source)
        elif op in (sre.IN, sre.ATOMIC_GROUP):
            _check(arg, caseless=caseless, source=source)
        elif op == sre.GROUPREF and not caseless:  # the group's text as written, not as lowered
            raise ValueError(f"{source[:60]!r}: a reference to a group where the case counts")
        elif op == sre.SUBPATTERN:
            _group, add, remove, inner = arg
            if add & re.ASCII:
                raise ValueError(f"{source[:60]!r}: ASCII-only matching would not read the lowered text as it does now")
            scoped = (caseless or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            _check(inner, caseless=scoped, source=source)
        elif op == sre.BRANCH:
            for item in arg[1]:
                _check(item, caseless=caseless, source=source)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            _check(arg[2], caseless=caseless, source=source)
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            _check(arg[1], caseless=caseless, source=source)
        elif op == sre.GROUPREF_EXISTS:
            for branch in arg[1:]:
                if branch is not None:
                    _check(branch, caseless=caseless, source=source)


def _characters(low: int, high: int, caseless: bool, source: str) -> None:
    if high - low > 0x3000:
        raise ValueError(f"{source[:60]!r}: a range too wide to check ({low:#x}-{high:#x})")
    for char in map(chr, range(low, high + 1)):
        cased = char.lower() != char.upper()
        if char in _EXOTIC or (char != char.lower() if caseless else cased):
            raise ValueError(f"{source[:60]!r}: {char!r} would not match the lowered text as it matches now")
