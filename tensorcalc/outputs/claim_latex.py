"""The LaTeX of checked claims, for views that typeset them (``html.py``).

A check result keeps each claim's text, not its tree: the file is read again (parsed, never
checked) and every claim printed as the ``latex`` command prints it. The correct formula a
diagnosis names (``correct: d f / d W = ...``) is parsed from the diagnosis the same way.
A claim that cannot be printed gets ``None``: views then show its text as written.

A note's claim is LaTeX already: its own text comes first (the formula as the author wrote
it, sizes and all), the printed tree second, for when the author's macros cannot be typeset.

``derived_formulas`` derives a file's gradients as the ``derive`` and ``latex`` commands do
(each confirmed by both oracles), within one claim time limit for the whole file; a gradient
not derived in time, or not at all, comes with the reason in words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import time

from ..core.model import Prepared
from ..errors import Pos, TensorcalcError
from ..explain.formulas import helper_names, parameters, with_helper_names
from ..frontends import load_spec
from ..frontends.notes import is_note
from ..frontends.parse import parse_claim
from ..verdicts.check import internal_error
from ..verdicts.timer import OutOfTime, wall_clock
from .latex import Printer, claim_row, derivation_block, layer_families, shapes_of, underbraced
from .views import derive_file

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


# --- derived formulas -------------------------------------------------------------------------


@dataclass
class DerivedFormula:
    """``d of / d wrt``: the result with each factor's shape underbraced (a plain form second,
    for when the braces cannot be typeset), the chain-rule steps (None: the result is the only
    step), or, when not derived, ``reason`` in words."""

    wrt: str
    result: list[str] = field(default_factory=list)
    steps: str | None = None
    reason: str = ""


def derived_formulas(path: str, limit: float | None = None) -> tuple[list[DerivedFormula], float]:
    """Every gradient ``derive`` prints for ``path``, all within ``limit`` seconds (default: the
    file's claim time limit), and the seconds spent. Never raises: a failure is a reason."""
    start = time.perf_counter()
    try:
        prepared = Prepared(load_spec(path))
        names = parameters(prepared)
    except Exception:  # the check already reported why the file is invalid
        return [], 0.0
    limit = limit or prepared.spec.check.timeout
    out: list[DerivedFormula] = []
    for wrt in names:
        left = limit - (time.perf_counter() - start)
        out += _derived(path, wrt, left, limit) if left > 0 else [DerivedFormula(wrt, reason=_gave_up(limit))]
    return out, time.perf_counter() - start


def _gave_up(limit: float) -> str:
    return f"gave up after {limit:g} s (the claim time limit, for all gradients of the file)"


def _derived(path: str, wrt: str, seconds: float, limit: float) -> list[DerivedFormula]:
    """``d loss / d wrt`` derived within ``seconds`` (nothing when the loss does not depend on it)."""
    try:
        with wall_clock(seconds):
            derived = derive_file(path, [wrt])
            return [_typeset(d, derived) for d in derived.derivations] + [
                DerivedFormula(name, reason=reason) for name, reason in derived.refused]
    except OutOfTime:
        return [DerivedFormula(wrt, reason=_gave_up(limit))]
    except TensorcalcError as err:
        return [DerivedFormula(wrt, reason=err.message)]
    except RecursionError:
        return [DerivedFormula(wrt, reason="expression nested too deeply")]
    except Exception as err:  # a bug in deriving or printing: said in words, the report goes on
        return [DerivedFormula(wrt, reason=internal_error(err))]


def _typeset(d, derived) -> DerivedFormula:
    """One ``formulas.Derivation`` as LaTeX: the result with shapes, then the chain-rule steps."""
    prepared = derived.prepared
    names = helper_names(prepared, derived.layout)
    braced = _or_none(lambda: _braced_result(d, prepared, names))
    result = ([braced] if braced else []) + [derivation_block(d, prepared, names)]
    steps = _or_none(lambda: derivation_block(d, prepared, names, steps=True)) if len(d.displayed(True)) > 1 else None
    return DerivedFormula(d.wrt, result, steps)


def _or_none(typeset) -> str | None:
    """``typeset()``, else None: the formula is then shown without underbraced shapes or steps.
    (A named derivative term's shape is read back by ``latex.shapes_of``, so names always stay.)"""
    try:
        return typeset()
    except Exception:  # a view: the plain formula still stands
        return None


def _braced_result(d, prepared, names: dict) -> str:
    """``d of / d wrt = …`` with each top-level factor's shape underbraced."""
    families = layer_families(prepared)
    printer = Printer(families)
    line = d.result
    lhs = printer(with_helper_names(line.lhs, names))
    rhs = underbraced(with_helper_names(line.rhs, names), printer, shapes_of(d, line, names), families)
    loop = rf" && l = {line.loop[0]}, \dots, {line.loop[1]}" if line.loop else ""
    return aligned(f"{lhs} &= {rhs}{loop}")
