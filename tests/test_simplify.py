"""Each simplification rule, both ways: it fires where it should (and not elsewhere), and the
rewritten expression has the same value as the contraction it replaces."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import deriv_expr, model_from

from tensorcalc.core.notation import plain
from tensorcalc.core.resolve import shape_of
from tensorcalc.core.simplify import RULES, contains_3tensor, simplify
from tensorcalc.oracles import draws
from tensorcalc.oracles.evaluate import Evaluator, forward_env, numpy_algebra

# all sizes distinct and > 1: a transpose or a swapped axis cannot hide
MODEL = """
tensorcalc: 1
layout: numerator
dims: {d: 3, h: 4, n: 2}
functions: {sigma: sigmoid}
tensors:
  x: vector(d)
  u: vector(h)
  v: vector(h)
  w: vector(h)
  q: vector(n)
  A: matrix(n, h)
  B: matrix(h, d)
  W1: matrix(h, d)
  W2: matrix(n, h)
forward:
  z: W1 x + u
  s: sigma(z)
  r: W2 s + q
  loss: 1/2 norm(r)^2
claims: []
"""

# (rule that must fire, expression, expected text or None when only the value is compared)
FIRES = [
    ("scalar_factors", "(1/2 * 2) * (norm(u) * (u / norm(u)))", "u"),
    ("scalar_factors", "-(-(3 u))", "3 u"),
    ("transpose_transpose", "(u^T)^T", "u"),
    ("transpose_product", "(A u)^T", "u^T A^T"),
    ("transpose_elementwise", "(u ⊙ v)^T", "u^T diag(v)"),
    ("transpose_symmetric", "diag(u)^T", "diag(u)"),
    ("transpose_symmetric", "I(h)^T", "I(h)"),
    ("identity_factor", "I(h) u", "u"),
    ("trace_identity", "trace(I(h)) u", "h u"),
    ("scalar_factors", "(u / (2 h)) * 4", "2/h u"),
    ("scalar_factors", "-(h n u) / (3 d)", "-(h n)/(3 d) u"),
    ("identity_factor", "A I(h)", "A"),
    ("diag_of_transpose", "diag(u^T)", "diag(u)"),
    ("diag_column", "diag(v) w", "v ⊙ w"),
    ("row_hadamard_diag", "u^T ⊙ sigma'(v)^T", "u^T diag(sigma'(v))"),
    ("otimes_contraction", "u^T (I(h) ⊗ x)", "x u^T"),
    ("otimes_contraction", "u^T (u ⊗ B)", None),
    ("otimes_contraction", "(A ⊗ x) q", "A^T q x^T"),
    ("otimes_contraction", "(x ⊗ A) q", "x q^T A"),
    ("otimes_contraction", "A (A ⊗ x)", "A A^T ⊗ x"),
    ("otimes_contraction", "A (u ⊗ B)", "A u ⊗ B"),
    ("otimes_contraction", "(A ⊗ x) A", "A^T A ⊗ x"),
    ("otimes_contraction", "(x ⊗ A) A", "x ⊗ A^T A"),
    # a chain of Jacobians (seed 001, Proposition 2) collapses to the backprop formula
    ("otimes_contraction", "r^T W2 diag(sigma'(z)) (I(h) ⊗ x)", "x r^T W2 diag(sigma'(z))"),
    ("otimes_contraction", "r^T (W2 (diag(sigma'(z)) (I(h) ⊗ x)))", "x r^T W2 diag(sigma'(z))"),
]

# expressions no rule may change (each is already in matrix form, or no identity applies)
STAYS = ["diag(u) B", "u ⊙ v", "(u + v)^T", "u^T A^T", "x u^T", "W2 diag(sigma'(z))"]


@pytest.fixture(scope="module")
def model():
    return model_from(MODEL)


def _values(model, *exprs):
    leaves = draws.float_leaves(model, np.random.default_rng(7))
    alg = numpy_algebra(model.functions)
    env = forward_env(model, alg, leaves)
    return [np.asarray(Evaluator(model, alg, env).evaluate(e), dtype=float) for e in exprs]


@pytest.mark.parametrize("rule, text, expected", FIRES)
def test_rule_fires_and_keeps_the_value(model, rule, text, expected):
    expr = deriv_expr(model, text)
    cache: dict = {}
    trace: list[str] = []
    out = simplify(expr, lambda e: shape_of(model, e, cache), trace)
    assert rule in trace
    if expected is not None:
        assert plain(out) == expected
    before, after = _values(model, expr, out)
    assert before.shape == after.shape
    np.testing.assert_allclose(after, before, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("text", STAYS)
def test_no_rule_fires_where_it_should_not(model, text):
    expr = deriv_expr(model, text)
    trace: list[str] = []
    out = simplify(expr, lambda e: shape_of(model, e, {}), trace)
    assert trace == [] and out == expr


def test_every_rule_in_the_table_is_exercised():
    names = {name for name, _op, _fn in RULES}
    assert names <= {rule for rule, _t, _e in FIRES}


def test_collapsed_chain_has_no_3tensor(model):
    expr = deriv_expr(model, "r^T W2 diag(sigma'(z)) (I(h) ⊗ x)")
    cache: dict = {}
    shape = lambda e: shape_of(model, e, cache)  # noqa: E731
    assert contains_3tensor(expr, shape)
    assert not contains_3tensor(simplify(expr, shape), shape)


def test_scalar_factors_keep_a_sign_and_a_factor_two(model):
    """Numbers are collected, never dropped: a wrong factor 2 or sign stays visible."""
    shape = lambda e: shape_of(model, e, {})  # noqa: E731
    assert plain(simplify(deriv_expr(model, "2 * (norm(u) * (u / norm(u)))"), shape)) == "2 u"
    assert plain(simplify(deriv_expr(model, "(-1/2) * (2 u)"), shape)) == "-u"
