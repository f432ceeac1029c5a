"""JSON Schema ``pattern``s run in linear time: ECMA-262 regular expressions translated to RE2.

Why: Python's ``re`` (what jsonschema uses) backtracks, so a tool schema's ``"^(a+)+$"`` against forty
``a``s and a ``!`` runs for minutes, and a record is untrusted input. RE2 (Google's engine, through the
``google-re2`` binding) matches in time linear in the text, but it is not ECMA-262, the dialect JSON
Schema prescribes, and it has no backtracking features. So a pattern is *parsed as ECMA-262* here and
written out as an RE2 expression with the same meaning; what cannot be said that way raises
:class:`PatternUnsupported` with the reason, which the caller reports instead of guessing:

- supported: literals, ``.``, ``^``, ``$``, ``|``, groups ``( )``, ``(?: )``, ``(?<name> )``, the
  quantifiers ``* + ? {n} {n,} {n,m}`` and their lazy forms (RE2 caps counts at 1000), classes
  ``[...]`` ``[^...]`` with ranges, ``\\d \\D \\w \\W \\s \\S \\b \\B``, ``\\t \\n \\v \\f \\r \\0``,
  ``\\xHH``, ``\\uHHHH`` (a surrogate pair as one character), ``\\cX``, ``\\p{...}`` / ``\\P{...}``
  where RE2 knows the property (``L``, ``Lu``, ``Greek``...), and escaped punctuation;
- refused: lookarounds ``(?= (?! (?<= (?<!``, backreferences ``\\1`` ``\\k<name>``, inline flags such as
  Python's ``(?i)`` (not ECMA-262), letter escapes ECMA-262 does not define, lone surrogates, syntax
  errors, and what RE2 cannot compile (a repetition count over 1000, a program over its memory cap).

ECMA-262's meanings are kept where RE2's differ: ``.`` does not match ``\\r``, U+2028 or U+2029 either,
``\\s``/``\\S`` use ECMA-262's Unicode white space list, ``\\d``/``\\w`` are ASCII, ``$`` is the end of
the text only (Python's also matches before a final newline). Characters are code points, as with
ECMA-262's ``u`` flag (and as JSON Schema implementations such as ajv run patterns).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["PatternUnsupported", "compile_pattern", "search", "translate"]


class PatternUnsupported(ValueError):
    """A ``pattern`` that cannot be run with its ECMA-262 meaning in linear time; ``reason`` says why."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(f"pattern {pattern!r}: {reason}")
        self.pattern = pattern
        self.reason = reason


# ECMA-262 WhiteSpace and LineTerminator code points (what \s matches), as ranges.
_WHITE = ((0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF))
_DIGIT = ((0x30, 0x39),)
_WORD = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
_MAX = 0x10FFFF


def _complement(ranges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    out, start = [], 0
    for lo, hi in ranges:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= _MAX:
        out.append((start, _MAX))
    return tuple(out)


def _ranges_text(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(_char(lo) if lo == hi else f"{_char(lo)}-{_char(hi)}" for lo, hi in ranges)


def _char(cp: int) -> str:
    """One code point as RE2 text that means exactly that character, inside or outside a class."""
    c = chr(cp)
    if c.isascii() and (c.isalnum() or c == "_"):
        return c
    return "\\x{%X}" % cp


_CLASS_ESCAPES = {"d": _DIGIT, "D": _complement(_DIGIT), "w": _WORD, "W": _complement(_WORD), "s": _WHITE, "S": _complement(_WHITE)}
_CONTROL_ESCAPES = {"t": 0x09, "n": 0x0A, "v": 0x0B, "f": 0x0C, "r": 0x0D}
_SYNTAX = set("^$\\.*+?()[]{}|/")
_HEX = set("0123456789abcdefABCDEF")
_DOT = "[^\\x{A}\\x{D}\\x{2028}\\x{2029}]"


class _Parser:
    """A single left-to-right pass over the pattern that writes the RE2 text as it goes."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []

    def fail(self, reason: str) -> PatternUnsupported:
        return PatternUnsupported(self.p, reason)

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.p[j] if j < len(self.p) else ""

    def run(self) -> str:
        depth = 0
        # whether the last thing written can take a quantifier (an atom, not an assertion or a quantifier)
        quantifiable = False
        p = self.p
        while self.i < len(p):
            c = p[self.i]
            if c == "(":
                quantifiable = False
                depth += 1
                if p.startswith("(?:", self.i):
                    self.out.append("(?:")
                    self.i += 3
                elif p.startswith("(?=", self.i) or p.startswith("(?!", self.i) or p.startswith("(?<=", self.i) or p.startswith("(?<!", self.i):
                    raise self.fail("a lookaround assertion ((?=, (?!, (?<=, (?<!) needs a backtracking engine")
                elif p.startswith("(?<", self.i):
                    end = p.find(">", self.i + 3)
                    name = p[self.i + 3 : end] if end > 0 else ""
                    if not name or not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")) or not all(ch.isascii() and (ch.isalnum() or ch == "_") for ch in name):
                        raise self.fail("a group name must be ASCII letters, digits and _")
                    self.out.append(f"(?P<{name}>")
                    self.i = end + 1
                elif p.startswith("(?", self.i):
                    raise self.fail(f"{p[self.i:self.i + 3]!r} is not ECMA-262 syntax (inline flags such as (?i) are Python's, not JSON Schema's)")
                else:
                    self.out.append("(")
                    self.i += 1
            elif c == ")":
                if depth == 0:
                    raise self.fail("a ')' without its '('")
                depth -= 1
                self.out.append(")")
                self.i += 1
                quantifiable = True
            elif c == "|":
                self.out.append("|")
                self.i += 1
                quantifiable = False
            elif c in "^$":
                self.out.append(c)
                self.i += 1
                quantifiable = False
            elif c == ".":
                self.out.append(_DOT)
                self.i += 1
                quantifiable = True
            elif c in "*+?":
                if not quantifiable:
                    raise self.fail(f"nothing to repeat before {c!r}")
                self.out.append(c)
                self.i += 1
                self._lazy()
                quantifiable = False
            elif c == "{":
                bounds = self._brace()
                if bounds is None:  # not a quantifier: a literal '{' (ECMA-262 Annex B)
                    self.out.append(_char(0x7B))
                    self.i += 1
                    quantifiable = True
                    continue
                if not quantifiable:
                    raise self.fail("nothing to repeat before '{'")
                self.out.append(bounds)
                self._lazy()
                quantifiable = False
            elif c == "[":
                self._class()
                quantifiable = True
            elif c == "\\":
                quantifiable = self._escape()
            else:
                self.out.append(self._literal(c))
                self.i += 1
                quantifiable = True
        if depth:
            raise self.fail("a '(' without its ')'")
        return "".join(self.out)

    def _literal(self, c: str) -> str:
        cp = ord(c)
        if 0xD800 <= cp <= 0xDFFF:
            raise self.fail("a lone surrogate code point")
        return _char(cp)

    def _lazy(self) -> None:
        if self.peek() == "?":
            self.out.append("?")
            self.i += 1
        if self.peek() in ("*", "+", "?") or (self.peek() == "{" and self._brace(advance=False) is not None):
            raise self.fail("a quantifier cannot follow a quantifier")

    def _brace(self, advance: bool = True) -> str | None:
        """``{n}``, ``{n,}`` or ``{n,m}`` at the cursor as RE2 text (advancing past it), else ``None``."""
        p, j = self.p, self.i + 1
        k = j
        while k < len(p) and p[k].isdigit() and p[k].isascii():
            k += 1
        if k == j:
            return None
        lo = int(p[j:k])
        hi: int | None = lo
        if k < len(p) and p[k] == ",":
            m = k + 1
            while m < len(p) and p[m].isdigit() and p[m].isascii():
                m += 1
            hi = int(p[k + 1 : m]) if m > k + 1 else None
            k = m
        if k >= len(p) or p[k] != "}":
            return None
        if hi is not None and hi < lo:
            raise self.fail(f"numbers out of order in {p[self.i:k + 1]!r}")
        if advance:
            self.i = k + 1
        if hi == lo:
            return "{%d}" % lo
        return "{%d,}" % lo if hi is None else "{%d,%d}" % (lo, hi)

    def _code_unit_escape(self) -> int | None:
        """The code point of a character escape at the cursor (just past the backslash), advancing past
        it, or ``None`` when the escape is not a character escape."""
        p = self.p
        c = self.peek()
        if c in _CONTROL_ESCAPES:
            self.i += 1
            return _CONTROL_ESCAPES[c]
        if c == "0" and not self.peek(1).isdigit():
            self.i += 1
            return 0
        if c == "x":
            h = p[self.i + 1 : self.i + 3]
            if len(h) != 2 or not set(h) <= _HEX:
                raise self.fail("\\x must be followed by two hexadecimal digits")
            self.i += 3
            return int(h, 16)
        if c == "u":
            cp = self._u4(self.i + 1)
            self.i += 5
            if 0xD800 <= cp <= 0xDBFF and p.startswith("\\u", self.i):
                low = self._u4(self.i + 2)
                if 0xDC00 <= low <= 0xDFFF:
                    self.i += 6
                    return 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
            if 0xD800 <= cp <= 0xDFFF:
                raise self.fail("a lone surrogate \\u escape")
            return cp
        if c == "c":
            letter = self.peek(1)
            if not (letter.isascii() and letter.isalpha()):
                raise self.fail("\\c must be followed by a letter")
            self.i += 2
            return ord(letter) % 32
        if c and (c in _SYNTAX or c == "-" or not (c.isascii() and c.isalnum() or c == "_")):
            self._literal(c)  # refuses a lone surrogate
            self.i += 1
            return ord(c)
        return None

    def _u4(self, j: int) -> int:
        h = self.p[j : j + 4]
        if len(h) != 4 or not set(h) <= _HEX:
            raise self.fail("\\u must be followed by four hexadecimal digits (\\u{...} is not supported)")
        return int(h, 16)

    def _property(self) -> str:
        """``\\p{Name}`` / ``\\P{Name}`` at the cursor (on the letter), as RE2 text."""
        p = self.p
        if self.peek(1) != "{":
            raise self.fail("\\p and \\P must be followed by {Name}")
        end = p.find("}", self.i + 2)
        name = p[self.i + 2 : end] if end > 0 else ""
        if not name or not all(ch.isascii() and (ch.isalnum() or ch == "_") for ch in name):
            raise self.fail(f"unknown Unicode property {name!r}")
        text = f"\\{p[self.i]}{{{name}}}"
        self.i = end + 1
        return text

    def _escape(self) -> bool:
        """An escape outside a class; returns whether it can take a quantifier."""
        self.i += 1
        c = self.peek()
        if not c:
            raise self.fail("the pattern ends with a lone backslash")
        if c in "bB":
            self.out.append("\\" + c)
            self.i += 1
            return False
        if c in _CLASS_ESCAPES:
            self.out.append("[" + _ranges_text(_CLASS_ESCAPES[c]) + "]")
            self.i += 1
            return True
        if c in "pP":
            self.out.append(self._property())
            return True
        if c.isdigit() and c != "0" or c == "k":
            raise self.fail("a backreference (\\1, \\k<name>) needs a backtracking engine")
        cp = self._code_unit_escape()
        if cp is None:
            raise self.fail(f"\\{c} is not an escape ECMA-262 defines")
        self.out.append(_char(cp))
        return True

    def _class_atom(self) -> tuple[int | None, str]:
        """One class member at the cursor: (its code point, or None for a set such as \\d), and its RE2
        text inside a class."""
        c = self.peek()
        if c != "\\":
            text = self._literal(c)
            self.i += 1
            return ord(c), text
        self.i += 1
        c = self.peek()
        if not c:
            raise self.fail("the pattern ends with a lone backslash")
        if c in _CLASS_ESCAPES:
            self.i += 1
            return None, _ranges_text(_CLASS_ESCAPES[c])
        if c in "pP":
            return None, self._property()
        if c == "b":
            self.i += 1
            return 0x08, _char(0x08)
        if c.isdigit() and c != "0" or c in "kB":
            raise self.fail(f"\\{c} inside a class is not supported")
        cp = self._code_unit_escape()
        if cp is None:
            raise self.fail(f"\\{c} is not an escape ECMA-262 defines")
        return cp, _char(cp)

    def _class(self) -> None:
        p = self.p
        self.i += 1
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        parts: list[str] = []
        while True:
            if self.i >= len(p):
                raise self.fail("a '[' without its ']'")
            if p[self.i] == "]":
                self.i += 1
                break
            lo, text = self._class_atom()
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                hi, hi_text = self._class_atom()
                if lo is None or hi is None:  # [\d-z]: the '-' is a literal (ECMA-262 Annex B)
                    parts.extend((text, _char(0x2D), hi_text))
                    continue
                if hi < lo:
                    raise self.fail("a class range out of order")
                parts.append(f"{text}-{hi_text}")
            else:
                parts.append(text)
        if not parts:  # [] matches nothing, [^] any character
            self.out.append("[^\\x{0}-\\x{10FFFF}]" if not negated else "[\\x{0}-\\x{10FFFF}]")
            return
        self.out.append(("[^" if negated else "[") + "".join(parts) + "]")


def translate(pattern: str) -> str:
    """The RE2 expression with ``pattern``'s ECMA-262 meaning; raises :class:`PatternUnsupported`."""
    if not isinstance(pattern, str):
        raise PatternUnsupported(str(pattern), "a pattern must be a string")
    return _Parser(pattern).run()


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 program of an ECMA-262 ``pattern`` (cached); raises :class:`PatternUnsupported`."""
    import re2

    text = translate(pattern)
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.never_capture = True
    try:
        return re2.compile(text.encode("utf-8"), options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternUnsupported(pattern, f"RE2 cannot run it ({reason})") from None


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` (ECMA-262) matches anywhere in ``text``, in time linear in ``text``; raises
    :class:`PatternUnsupported`. Text holding a lone surrogate is matched as its WTF-8 bytes."""
    return compile_pattern(pattern).search(text.encode("utf-8", "surrogatepass")) is not None
