"""The symbolic proof: exact identities over symbolic entries, and refusals outside its fragment."""
import pytest

from tensorcalc.oracles.points import _Programs, program_derivative
from tensorcalc.oracles.symbolic import prove
from tests.helpers import deriv_expr, model_from

SHALLOW = """
tensorcalc: 1
dims: {d: 2, h: 3, n: 2}
functions: {sigma: %s}
tensors:
  x: vector(d)
  W1: matrix(h, d)
  W2: matrix(n, h)
forward:
  z: W1 x
  s: sigma(z)
  r: W2 s
  loss: 1/2 norm(r)^2
claims: []
"""


def _prove(sigma, left, right):
    model = model_from(SHALLOW % sigma)
    return prove(model, deriv_expr(model, left), deriv_expr(model, right), {}, lambda: program_derivative(_Programs(model)))


@pytest.mark.parametrize(
    "sigma, left, right, expected",
    [
        ("sigmoid", "d loss / d W1", "x r^T W2 diag(sigma'(z))", True),
        ("sigmoid", "d loss / d W1", "x r^T W2 diag(s ⊙ (1 - s))", True),
        ("tanh", "d s / d z", "diag(1 - s ⊙ s)", True),
        ("exp", "d s / d z", "diag(s)", True),
        ("sigmoid", "d loss / d W1", "x r^T W2 diag(sigma(z))", False),
        ("sigmoid", "d loss / d W1", "2 x r^T W2 diag(sigma'(z))", False),
        ("relu", "d loss / d W1", "x r^T W2 diag(sigma'(z))", None),  # piecewise: not attempted
    ],
)
def test_prove(sigma, left, right, expected):
    assert _prove(sigma, left, right) is expected
