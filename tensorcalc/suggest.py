"""Did-you-mean: the known words closest to a misspelled one, by edit distance."""
from __future__ import annotations

from collections.abc import Iterable


def edit_distance(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of two neighbours (``layuot`` -> ``layout`` is 1)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return previous[-1]


# Names other tools and textbooks give to built-ins, too far from ours by edit distance to be found (tr -> trace).
ALIASES = {"tr": "trace", "ln": "log", "inverse": "inv", "logistic": "sigmoid", "kronecker": "kron", "sgn": "sign"}


def closest(word: str, known: Iterable[str]) -> list[str]:
    """The known words nearest to ``word``: the built-in it is another tool's name for, else those
    at most 2 edits away (1 for words of up to 3 characters), best first."""
    known = set(known)
    alias = ALIASES.get(word.lower())
    if alias in known and alias != word:
        return [alias]
    limit = 1 if len(word) <= 3 else 2
    scored = sorted((edit_distance(word.lower(), k.lower()), k) for k in known if k != word)
    best = [(d, k) for d, k in scored if d <= limit]
    return [k for d, k in best if d == best[0][0]][:3] if best else []


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """``"; did you mean 'b1'?"`` (or ``"'b1' or 'b2'"``), or an empty string when nothing is close."""
    found = closest(word, known)
    return f"; did you mean {' or '.join(repr(k) for k in found)}?" if found else ""
