"""Layouts and the seed-001 tensor products, checked entry by entry."""
import numpy as np
import pytest
import sympy

from tensorcalc.core.layouts import arranged_shape
from tensorcalc.core.shapes import ONE
from tests.helpers import SHALLOW_MODEL, lowered_and_jax, model_from

m, n, p, q = sympy.symbols("m n p q", positive=True, integer=True)


@pytest.mark.parametrize(
    "layout, out, inn, expected",
    [
        ("numerator", (m, ONE), (n, ONE), (m, n)),  # ∂y/∂x is m×n
        ("denominator", (m, ONE), (n, ONE), (n, m)),
        ("mixed", (m, ONE), (n, ONE), (m, n)),
        ("numerator", (), (n, ONE), (ONE, n)),  # ∂ℓ/∂x is a row
        ("denominator", (), (n, ONE), (n, ONE)),
        ("mixed", (), (n, ONE), (n, ONE)),
        ("numerator", (), (m, n), (n, m)),  # ∂ℓ/∂W has the shape of Wᵀ
        ("denominator", (), (m, n), (m, n)),
        ("mixed", (), (m, n), (m, n)),
        ("numerator", (p, ONE), (m, n), (p, n, m)),  # seed 001 §1 item 4: p×m×n for X n×m
        ("numerator", (m, ONE), (), (m, ONE)),  # ∂y/∂x for scalar x stays a column
        ("numerator", (ONE, ONE), (m, n), (n, m)),  # a 1×1 output counts as a scalar
    ],
)
def test_arranged_shapes(layout, out, inn, expected):
    assert arranged_shape(layout, out, inn) == expected


SHALLOW = """
tensorcalc: 1
layout: {layout}
dims: {{d: 3, h: 4, n: 2}}
functions: {{sigma: sigmoid}}
""" + SHALLOW_MODEL + """claims: []
"""


def test_layouts_are_transposes_of_each_other():
    values = {}
    for layout in ("numerator", "denominator", "mixed"):
        model = model_from(SHALLOW.format(layout=layout))
        values[layout] = {t: lowered_and_jax(model, t)[1] for t in ("d loss / d W1", "d r / d s", "d z / d W1")}
    num, den, mix = values["numerator"], values["denominator"], values["mixed"]
    np.testing.assert_array_equal(num["d loss / d W1"], den["d loss / d W1"].T)
    np.testing.assert_array_equal(mix["d loss / d W1"], den["d loss / d W1"])
    np.testing.assert_array_equal(num["d r / d s"], den["d r / d s"].T)
    np.testing.assert_array_equal(mix["d r / d s"], num["d r / d s"])
    assert num["d z / d W1"].shape == (4, 3, 4)  # h×d×h
    np.testing.assert_array_equal(den["d z / d W1"], np.transpose(num["d z / d W1"]))


def test_entries_follow_the_numerator_definition():
    model = model_from(SHALLOW.format(layout="numerator"))
    _mine, jac = lowered_and_jax(model, "d z / d W1")
    # (∂z/∂W)_{ijk} = ∂z_i / ∂W_{kj} = δ_ik x_j  (seed 001 Prop. 1: I_h ⊗ x)
    _mine, x = lowered_and_jax(model, "x")
    for i in range(4):
        for j in range(3):
            for k in range(4):
                assert jac[i, j, k] == (x[j, 0] if i == k else 0.0)


def _values(text, expr, seed=0):
    from tensorcalc.oracles import draws
    from tensorcalc.oracles.evaluate import Evaluator, forward_env, numpy_algebra
    from tests.helpers import deriv_expr

    model = model_from(text)
    leaves = draws.float_leaves(model, np.random.default_rng(seed))
    alg = numpy_algebra(model.functions)
    env = forward_env(model, alg, leaves)
    return Evaluator(model, alg, env).evaluate(deriv_expr(model, expr)), leaves


OTIMES = """
tensorcalc: 1
dims: {m: 3, p: 2, n: 4}
tensors:
  x: vector(p)
  y: vector(m)
  Y: matrix(n, m)
forward: {loss: sum(x)}
claims: []
"""


def test_seed001_identity_row_times_I_otimes_x():
    # yᵀ (I_m ⊗ x) = x yᵀ for any y in R^m (seed 001 §1 item 7)
    left, leaves = _values(OTIMES, "y^T (I(m) ⊗ x)")
    right, _ = _values(OTIMES, "x y^T")
    assert left.shape == (2, 3)
    np.testing.assert_allclose(left, right, rtol=0, atol=1e-15)


def test_otimes_definitions_entrywise():
    xY, leaves = _values(OTIMES, "x ⊗ Y")
    Yx, _ = _values(OTIMES, "Y ⊗ x")
    x, Y = leaves["x"].reshape(-1), leaves["Y"]
    assert xY.shape == (2, 3, 4) and Yx.shape == (3, 2, 4)  # p×m×n and m×p×n
    for i, j, k in np.ndindex(*xY.shape):
        assert xY[i, j, k] == x[i] * Y[k, j]  # (x ⊗ Y)_ijk = x_i Y_kj
    for i, j, k in np.ndindex(*Yx.shape):
        assert Yx[i, j, k] == x[j] * Y[k, i]  # (Y ⊗ x)_ijk = x_j Y_ki
    # Y ⊗ x is not (x ⊗ Y)ᵀ in general (seed 001 §1 item 7)
    assert Yx.shape != xY.T.shape or not np.allclose(Yx, xY.T)
