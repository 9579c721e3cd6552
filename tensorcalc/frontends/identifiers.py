"""Names that look alike are refused: a Cyrillic ``х`` beside a Latin ``x`` prints the same.

Formula text (every name, claim and definition) may not contain invisible characters
(format characters such as a zero-width space or a bidi control, control characters,
unassigned code points). An identifier is written in one alphabet (digits, ``_`` and
marks go with any): ``σ`` and ``W1`` are fine, ``xх`` is not. Two different identifiers
of one file may not have the same skeleton: the identifier with the look-alike letters
of other alphabets (and NFKC compatibility forms such as ``𝑥``) replaced by Latin ones.
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from typing import Callable

from ..errors import Pos, TensorcalcError

_WORD = re.compile(r"[^\W\d](?:(?!ᵀ)\w)*")  # an identifier, as the grammar's NAME reads it
_UNUSUAL = re.compile(r"[^\t\n\r\x20-\x7e]")  # only these need a closer look
_INVISIBLE = {"Cf", "Cc", "Co", "Cn", "Cs", "Zl", "Zp"}
# Default-ignorable characters of other categories: drawn as nothing, yet part of a name
_BLANK = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]")

# Letters of other alphabets drawn like a Latin letter (Unicode's confusables, the common ones).
# Greek letters with a shape of their own (α, ν, ρ, σ, ...) are left out: notes use them as names.
HOMOGLYPHS = str.maketrans(
    "асеорхуіјѕһԁԛԝ" "АВЕКМНОРСТХУІЈЅ" "ο" "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aceopxyijshdqw" "ABEKMHOPCTXYIJS" "o" "ABEZHIKMNOPTYX",
)


def describe(ch: str) -> str:
    """``U+0445 CYRILLIC SMALL LETTER HA``."""
    name = unicodedata.name(ch, "")
    if not name:
        name = "(a control character)" if unicodedata.category(ch) == "Cc" else "(no character name)"
    return f"U+{ord(ch):04X} {name}"


def refuse_invisible(text: str, pos_at: Callable[[int], Pos]) -> None:
    """Refuse an invisible character in ``text``; ``pos_at(i)`` is where its character ``i`` is."""
    for m in _UNUSUAL.finditer(text):
        ch = m.group()
        if unicodedata.category(ch) in _INVISIBLE or _BLANK.match(ch):
            raise TensorcalcError(f"invisible character {describe(ch)} in formula text: delete it", pos_at(m.start()))


def script(ch: str) -> str | None:
    """The alphabet of a letter (``LATIN``, ``GREEK``, ``CYRILLIC``, ...); None for digits, ``_``, marks."""
    for c in unicodedata.normalize("NFKC", ch):
        if unicodedata.category(c).startswith("L"):
            return unicodedata.name(c, "?").split()[0]
    return None


def skeleton(word: str) -> str:
    return unicodedata.normalize("NFKC", word).translate(HOMOGLYPHS)


class Identifiers:
    """The identifiers of one file's formula text: each in one alphabet, no two alike."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, Pos]] = {}  # skeleton -> (first identifier with it, where)

    def scan(self, text: str, pos_at: Callable[[int], Pos]) -> None:
        """Every identifier of ``text``; ``pos_at(i)`` is where character ``i`` of ``text`` is."""
        refuse_invisible(text, pos_at)
        for m in _WORD.finditer(text):
            self.identifier(m.group(), lambda i, start=m.start(): pos_at(start + i))

    def identifier(self, word: str, pos_at: Callable[[int], Pos]) -> None:
        if not word.isascii():
            _refuse_mixed(word, pos_at)
        key = word if word.isascii() else skeleton(word)
        if key not in self.seen:
            self.seen[key] = (word, pos_at(0))
            return
        other, where = self.seen[key]
        if other != word:
            i = next((i for i, (a, b) in enumerate(zip(word, other)) if a != b), 0)
            odd = word[i] if not word[i].isascii() else other[min(i, len(other) - 1)]
            raise TensorcalcError(
                f"identifier {word!r} looks like {other!r} (line {where.line}, column {where.col}) but is a different name "
                f"({describe(odd)}): use one spelling",
                pos_at(i),
            )


def _refuse_mixed(word: str, pos_at: Callable[[int], Pos]) -> None:
    """Refuse an identifier whose letters come from two alphabets, naming the odd letter."""
    scripts = [script(ch) for ch in word]
    alphabets = {s for s in scripts if s}
    if len(alphabets) > 1:
        first = "LATIN" if "LATIN" in alphabets else next(s for s in scripts if s)
        i = next(i for i, s in enumerate(scripts) if s and s != first)
        raise TensorcalcError(
            f"identifier {word!r} mixes {first.title()} and {scripts[i].title()} letters ({describe(word[i])}): "
            "write it in one alphabet",
            pos_at(i),
        )


class SourcePositions:
    """Offsets of a text -> file:line:column."""

    def __init__(self, path: str, source: str):
        self.path = path
        self.starts = [0] + [m.end() for m in re.finditer("\n", source)]

    def at(self, offset: int) -> Pos:
        line = bisect.bisect_right(self.starts, offset)
        return Pos(self.path, line, offset - self.starts[line - 1] + 1)
