"""The "correct:" line of a failing claim reads like the notes: the file's names, short."""
from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from tensorcalc.core.expr import Expr, walk
from tensorcalc.core.measure import formula_size
from tensorcalc.core.model import Model, Prepared
from tensorcalc.core.notation import plain
from tensorcalc.core.sizes import size_sets
from tensorcalc.errors import Pos
from tensorcalc.explain import diagnose as D
from tensorcalc.explain.formulas import helper_names, with_helper_names
from tensorcalc.explain.mutations import rescaled, shifted_index
from tensorcalc.frontends import load_spec
from tensorcalc.frontends.parse import parse
from tensorcalc.verdicts.check import check_file
from tests.test_diagnose import run

ROOT = Path(__file__).resolve().parent.parent
WRONG_FILES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "derivations").rglob("*.yaml"))
MARGIN = 3  # nodes a one-place repair may add to the claimed side (a transpose, a factor, a sign)
BUILTIN_CALLS = {"I", "eye", "ones", "zeros", "inv", "det", "diag", "trace", "sum", "mean", "vec", "kron", "norm",
                 "sqrt", "exp", "log", "abs", "softmax", "log_softmax", "sin", "cos", "tanh", "sigmoid", "relu"}


def _raw(text: str) -> Expr:
    return parse(text, "def_line", Pos("test", 1, 1))[0]


def _correct(reason: str) -> str | None:
    """The corrected claim of a diagnosis (the claim-level reason ends with the sizes in brackets)."""
    if "correct: " not in reason:
        return None
    return re.sub(r" \[[^\[\]]*=[^\[\]]*\]$", "", reason.split("correct: ", 1)[1])


# --- unit tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("index, shift, expected", [
    ("1", 1, "2"), ("2", -1, "1"), ("l", 1, "l+1"), ("l+1", -1, "l"), ("L-1", 1, "L"), (" l - 1 ", -1, "l-2"),
    ("2*l", 1, "2*l+1"),
])
def test_shifted_index_is_written_as_a_file_writes_it(index, shift, expected):
    assert shifted_index(index, shift) == expected


@pytest.mark.parametrize("side, k, dim, e, expected", [
    ("2 x y", Fraction(2), None, 0, "x y"),  # the leading number absorbs the factor
    ("-x", Fraction(-1), None, 0, "x"),  # no double sign
    ("x", Fraction(-1), None, 0, "-x"),
    ("-2 x", Fraction(2), None, 0, "-x"),
    ("3 x", Fraction(2), None, 0, "3/2 x"),
    ("1/5 x y^T", Fraction(1, 5), "N", 1, "1/N x y^T"),
    ("1/5 x", Fraction(2), None, 0, "1/10 x"),  # claimed = 1/5 N × true
    ("x", Fraction(1, 2), "N", -1, "2 N x"),
    ("2 x", Fraction(1), "N", 1, "2/N x"),  # the size joins the leading number
    ("2 x", Fraction(-1), None, 0, "-2 x"),  # a sign, not (-2) x
    ("inv(Y) E inv(Y)", Fraction(-1), None, 0, "-inv(Y) E inv(Y)"),  # the whole product negated
    ("-x", Fraction(1), "N", 1, "-(1/N x)"),
])
def test_scaled_side_divides_by_the_factor(side, k, dim, e, expected):
    assert D._pretty(rescaled(_raw(side), k, dim, e)) == D._pretty(_raw(expected))


def test_layer_numbers_counts_numbered_members():
    assert D._layer_numbers(_raw("W[2]^T delta[l] ⊙ z[1]")) == 2
    assert D._layer_numbers(_raw("W[l]^T delta[l] ⊙ z[l-1]")) == 0


@pytest.mark.parametrize("claim, correct", [
    # a one-place repair ("drop a ⊙ term") that leaves 2 r^T - r^T: the derived r^T is smaller
    ("d loss / d r = 2 r^T - r^T ⊙ r^T", "d loss / d r = r^T"),
    ("d loss / d s = 2 r^T W2 - r^T W2 ⊙ r^T W2", "d loss / d s = r^T W2"),
    # off by a constant factor: the claim rescaled is smaller than the derived r^T W2 diag(sigma'(z))
    ("d loss / d b1 = -(d loss / d z)", "d loss / d b1 = d loss / d z"),
    ("d loss / d b1 = 2 (d loss / d z)", "d loss / d b1 = d loss / d z"),
    ("d loss / d W1 = 2 x r^T W2 diag(sigma'(z))", "d loss / d W1 = x r^T W2 diag(sigma'(z))"),
])
def test_correct_line_is_the_smallest_confirmed_form(tmp_path, claim, correct):
    (result,) = run(tmp_path, [claim])
    assert result.verdict == "fails"
    assert _correct(result.reason) == correct, result.reason


LAYERS = """tensorcalc: 1
layout: denominator
dims: {L: [2, 3], n[l]: [2, 3], N: 2}
functions: {mu: tanh}
tensors:
  A[0]: matrix(n[0], N)
  Y: matrix(n[L], N)
  W[l]: matrix(n[l], n[l-1])    for l in 1..L
forward:
  Z[l]: W[l] A[l-1]             for l in 1..L
  A[l]: mu(Z[l])                for l in 1..L
  C: 1/N norm(A[L] - Y)^2
claims:
  - delta[l] := d C / d Z[l]
  - claim: delta[L] = 2 (A[L] - Y) ⊙ mu'(Z[L])
    expect: fails
  - claim: delta[l-1] = mu'(Z[1]) ⊙ W[1]^T delta[l]     for l in 2..L
    expect: fails
check: {trials: 1}
"""


@pytest.mark.slow
def test_layer_claims_are_corrected_in_layer_names(tmp_path):
    """Layer members named l, L as the claim names them, not numbers; helpers by name."""
    path = tmp_path / "layers.yaml"
    path.write_text(LAYERS, encoding="utf-8")
    result = check_file(str(path))
    assert result.error is None, result.error
    scaled, shifted = result.claims[1:]
    assert _correct(scaled.reason) == "delta[L] = 2/N (A[L] - Y) ⊙ mu'(Z[L])", scaled.reason
    assert "[1+1]" not in shifted.reason, shifted.reason
    assert _correct(shifted.reason) in ("delta[l-1] = W[l]^T delta[l] ⊙ mu'(Z[l-1])",
                                        "delta[l-1] = mu'(Z[l-1]) ⊙ W[l]^T delta[l]"), shifted.reason


# --- every "correct:" line of the failing claims in derivations/ -------------------------------


def _names_of(raw: Expr) -> set[str]:
    """Bases of the names and functions a formula reads (``W`` of ``W[l]``, ``sigma`` of ``sigma'``)."""
    out = set()
    for n in walk(raw):
        if n.op == "name":
            out.add(n.attr.split("[")[0])
        elif n.op == "call" and n.attr.rstrip("'′") not in BUILTIN_CALLS:
            out.add(n.attr.rstrip("'′"))
    return out


def _derived_size(prepared: Prepared, claim, where: dict) -> int | None:
    """Size of the verified derived formula of the claim's derivative side at one case, or None."""
    model = next(Model(prepared, s) for s in size_sets(prepared.spec.dims, prepared.spec.check.seed)
                 if all(s.get(k) == v for k, v in where.items() if k in s))
    scope = {**model.scope, **{k: v for k, v in where.items() if k not in model.sizes}}
    lhs, rhs = model.resolve(claim.lhs, scope), model.resolve(claim.rhs, scope)
    true = rhs if rhs.op == "deriv" and lhs.op != "deriv" else lhs
    if true.op != "deriv" or (lhs.op == "deriv" and rhs.op == "deriv"):
        return None
    derived = D._derived_rhs(model, true)
    if derived is None or D._Probe(model, prepared.spec.check.seed).equal(true, derived) is False:
        return None
    return formula_size(_raw(plain(with_helper_names(derived, helper_names(prepared, true.attr[2])))))


@pytest.mark.slow
@pytest.mark.parametrize("path", WRONG_FILES)
def test_every_correct_line_reads_like_the_notes(path):
    """For each failing claim whose diagnosis prints ``correct: lhs = rhs``:

    * it parses in the file's notation and every name in it is a name of the file (text of the
      file) or a built-in function; no ``@``, no ``None``;
    * its right side is no larger (``formula_size``) than the verified derived formula of the
      claim's derivative side at the same case: a repair that keeps a longer student tree
      (``2 inv(S) - inv(S)``) where the chain rule gives ``inv(S)`` fails this;
    * with no derived formula to compare with, it is within ``MARGIN`` nodes of the claim's
      own side (a one-place repair or the claim rescaled).
    """
    text = (ROOT / path).read_text(encoding="utf-8")
    prepared = Prepared(load_spec(str(ROOT / path)))
    result = check_file(str(ROOT / path))
    assert result.error is None, result.error
    words = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", text))
    for claimed in result.claims:
        for inst in claimed.instances:
            correct = inst.verdict == "fails" and _correct(inst.reason)
            if not correct:
                continue
            assert "@" not in correct and "None" not in correct, correct
            lhs_text, rhs_text = correct.split(" = ", 1) if " = " in correct else (correct, "")
            fixed = _raw(rhs_text)
            assert _names_of(_raw(lhs_text)) | _names_of(fixed) <= words, (path, correct)
            claim = next(c for c in prepared.claims if c.index == claimed.index)
            limit = _derived_size(prepared, claim, inst.where)
            if limit is None:
                claimed_side = claim.lhs if claim.rhs.op == "deriv" and claim.lhs.op != "deriv" else claim.rhs
                limit = formula_size(claimed_side) + MARGIN
            assert formula_size(fixed) <= limit, (path, claimed.text, correct, limit)
