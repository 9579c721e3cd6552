"""One table (``functions.HEADS``) drives every algebra: arrays, exact rationals, symbolic
entries and emitted numpy code compute the same function formulas."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy

from tensorcalc.core.functions import (
    ARRAY, BUILTINS, CODE, EXACT, HEADS, Logistic, Softplus, T, Transcendentals, formula_program, stable_form,
)
from tensorcalc.oracles.symbolic import SymbolicTranscendentals
from tensorcalc.verdicts.check import check_file

POINTS = [Fraction(-7, 3), Fraction(-1, 2), Fraction(2, 5), Fraction(3, 1)]
ALGEBRAIC = {  # formulas whose exact value is the real value (no transcendental stand-in)
    "Abs": sympy.Abs(T - 1), "sign": sympy.sign(T), "Max": sympy.Max(T, T / 10), "Min": sympy.Min(0, 2 * T),
    "Heaviside": sympy.Heaviside(T), "DiracDelta": sympy.DiracDelta(T),
}
TRANSCENDENTAL = {name: getattr(sympy, name)(T) for name in ("exp", "log", "tanh", "sinh", "cosh", "sin", "cos")}
TRANSCENDENTAL.update({"Logistic": Logistic(T), "Softplus": Softplus(T)})  # the stable forms of emitted code


def _code_value(formula: sympy.Expr, t: np.ndarray) -> np.ndarray:
    source = formula_program(formula, CODE)("t", None)
    return eval(compile(source, "<emitted>", "eval"), {"np": np}, {"t": t})  # our own generated code, not user text


def test_every_head_is_exercised_here():
    assert set(HEADS) == set(ALGEBRAIC) | set(TRANSCENDENTAL)


@pytest.mark.parametrize("name", sorted(ALGEBRAIC))
def test_algebraic_heads_agree_in_every_algebra(name):
    formula = ALGEBRAIC[name]
    points = np.array([float(p) for p in POINTS])
    array = formula_program(formula, ARRAY)(points, np)
    exact = [formula_program(formula, EXACT)(p, Transcendentals(0)) for p in POINTS]
    np.testing.assert_allclose(np.broadcast_to(array, points.shape), [float(v) for v in exact], rtol=1e-15, atol=0)
    np.testing.assert_allclose(np.broadcast_to(_code_value(formula, points), points.shape), array, rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(TRANSCENDENTAL))
def test_transcendental_heads_array_and_code_agree(name):
    formula = TRANSCENDENTAL[name]
    points = np.array([0.3, 1.7, 2.5]) if name == "log" else np.array([-1.3, 0.4, 2.0])
    np.testing.assert_allclose(_code_value(formula, points), formula_program(formula, ARRAY)(points, np), rtol=1e-15)


@pytest.mark.parametrize("memo", [Transcendentals(3), SymbolicTranscendentals()], ids=["exact", "symbolic"])
def test_stand_ins_keep_the_identities_claims_rely_on(memo):
    q = Fraction(5, 7) if isinstance(memo, Transcendentals) else sympy.Symbol("q", real=True)
    sin, cos = formula_program(sympy.sin(T), EXACT), formula_program(sympy.cos(T), EXACT)
    assert sympy.simplify(sin(q, memo) ** 2 + cos(q, memo) ** 2 - 1) == 0
    assert sympy.simplify(sin(-q, memo) + sin(q, memo)) == 0 and sympy.simplify(cos(-q, memo) - cos(q, memo)) == 0
    tanh, sinh, cosh = (formula_program(f(T), EXACT) for f in (sympy.tanh, sympy.sinh, sympy.cosh))
    assert sympy.simplify(tanh(q, memo) - sinh(q, memo) / cosh(q, memo)) == 0


def test_an_unknown_head_is_refused_not_guessed():
    with pytest.raises(ArithmeticError):
        formula_program(sympy.gamma(T), ARRAY)


SIN_FILE = """tensorcalc: 1
layout: mixed
dims: {n: 3}
functions: {wave: t -> sin(t) + cos(2 t)}
tensors:
  x: vector(n)
forward:
  f: sum(wave(x))
claims:
  - d f / d x = wave'(x)
  - d f / d x = cos(x) - 2 sin(2 x)
  - claim: d f / d x = cos(x) + 2 sin(2 x)
    expect: fails
"""


def test_trigonometric_formulas_are_checked_by_both_oracles(tmp_path):
    path = tmp_path / "wave.yaml"
    path.write_text(SIN_FILE, encoding="utf-8")
    result = check_file(str(path))
    assert result.error is None, result.error
    assert [c.verdict for c in result.claims] == ["holds", "holds", "fails"]
    assert all(i.exact_points for c in result.claims for i in c.instances)  # decided exactly, not only numerically


SIGMOID = BUILTINS["sigmoid"]
STABLE = [  # (formula, its stable form as text)
    (SIGMOID, "Logistic(t)"),
    (sympy.diff(SIGMOID, T), "-(Logistic(t) - 1)*Logistic(t)"),  # σ' = σ (1 - σ)
    (sympy.diff(SIGMOID, T, 2), None),
    (BUILTINS["softplus"], "Softplus(t)"),
    (sympy.diff(BUILTINS["softplus"], T), "Logistic(t)"),
    (sympy.log(SIGMOID), "-Softplus(-t)"),  # log-sigmoid
    (sympy.diff(sympy.log(SIGMOID), T), "1 - Logistic(t)"),
    (sympy.log(1 - SIGMOID), "-Softplus(t)"),
]


@pytest.mark.parametrize("formula, text", STABLE)
def test_stable_form_is_the_same_function_and_finite_everywhere(formula, text):
    stable = stable_form(formula)
    if text is not None:
        assert str(stable) == text
    t = np.array([-800.0, -40.0, -3.0, 0.0, 0.5, 40.0, 800.0])
    fast = formula_program(stable, ARRAY)(t, np) + 0 * t
    with np.errstate(over="ignore"):  # as emitted: exp(800) = inf, 1/(1 + inf) = 0
        code = _code_value(stable, t) + 0 * t
    assert np.all(np.isfinite(fast)) and np.all(np.isfinite(code))
    np.testing.assert_allclose(code, fast, rtol=1e-14, atol=0)
    moderate = np.abs(t) < 5  # where the naive formula is still accurate
    with np.errstate(all="ignore"):
        naive = formula_program(formula, ARRAY)(t, np) + 0 * t
    np.testing.assert_allclose(fast[moderate], naive[moderate], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("formula", [sympy.exp(T), sympy.tanh(T), sympy.diff(sympy.exp(T) / (1 + sympy.exp(T) ** 2), T)])
def test_stable_form_leaves_other_formulas_alone(formula):
    assert stable_form(formula) == formula
