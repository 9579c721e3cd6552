"""The LaTeX of checked claims, for views that typeset them (``html.py``).

A check result keeps each claim's text, not its tree: the file is read again (parsed, never
checked) and every claim printed as the ``latex`` command prints it. The correct formula a
diagnosis names (``correct: d f / d W = ...``) is parsed from the diagnosis the same way.
A claim that cannot be printed gets ``None``: views then show its text as written.

A note's claim is LaTeX already: its own text comes first (the formula as the author wrote
it, sizes and all), the printed tree second, for when the author's macros cannot be typeset.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..core.model import Prepared
from ..errors import Pos
from ..frontends import load_spec
from ..frontends.notes import is_note
from ..frontends.parse import parse_claim
from .latex import Printer, claim_row, layer_families

# "...; correct: d loss / d r = r^T [d=3, h=4, n=2]": the formula, without the size set.
_CORRECT = re.compile(r"(?:^|; )correct: (.+?)( \[[^\[\]]*\])?$")


@dataclass
class FileLatex:
    """Every claim of one file as LaTeX, keyed by where it was written and its text."""

    path: str
    claims: dict[tuple, str] = field(default_factory=dict)
    families: set[str] = field(default_factory=set)

    def claim(self, result) -> list[str]:
        """A ``ClaimResult``'s claim as LaTeX to try in order (empty: show its text)."""
        printed = self.claims.get(_key(result.pos, result.text))
        choices = [result.text] if is_note(self.path) else []
        return choices + ([aligned(printed)] if printed else [])

    def correct(self, reason: str) -> tuple[str, str | None]:
        """A diagnosis split into its words and the correct formula it names, as LaTeX
        (None, and the words unchanged, when it names none or the formula cannot be printed)."""
        m = _CORRECT.search(reason or "")
        if not m:
            return reason, None
        try:
            tex = aligned(claim_row(Printer(self.families), parse_claim(m.group(1), Pos(self.path, 1, 1))))
        except Exception:  # a view: an unprintable formula stays in the words, never a traceback
            return reason, None
        return reason[: m.start()] + (m.group(2) or ""), tex


def number(x: float, digits: int) -> str:
    """``x`` with ``digits`` significant digits, as LaTeX (``1.5\\times 10^{-7}``, ``\\infty``)."""
    if x != x:
        return r"\text{NaN}"
    if x in (float("inf"), float("-inf")):
        return r"\infty" if x > 0 else r"-\infty"
    mantissa, _e, exponent = f"{x:.{digits}g}".partition("e")
    return rf"{mantissa}\times 10^{{{int(exponent)}}}" if exponent else mantissa


def side_values(values) -> str:
    """Both sides of a ``SideValues`` as ``\\text{claimed} = \\begin{bmatrix}…`` (each whole)."""
    def matrix(rows: list) -> str:
        body = r" \\ ".join(" & ".join(number(x, values.digits) for x in row) for row in rows)
        return rf"\begin{{bmatrix}}{body}\end{{bmatrix}}"

    return r",\qquad ".join(rf"\text{{{name}}} = {matrix(rows)}" for name, rows in zip(values.names, values.sides))


def aligned(row: str) -> str:
    """An ``align*`` row (``lhs &= rhs && loop``) as one display formula."""
    return rf"\begin{{aligned}}{row}\end{{aligned}}"


def _key(pos: Pos, text: str) -> tuple:
    return (pos.line, pos.col, text)


def file_latex(path: str) -> FileLatex:
    """Read ``path`` again and print each of its claims; an unreadable file gives no formulas."""
    out = FileLatex(path)
    try:
        prepared = Prepared(load_spec(path))
    except Exception:  # the check already reported why the file is invalid
        return out
    out.families = layer_families(prepared)
    printer = Printer(out.families)
    for claim in prepared.claims:
        try:
            out.claims[_key(claim.pos, claim.text)] = claim_row(printer, claim)
        except Exception:  # shown as text
            continue
    return out
