"""Claims with the Euclidean norm outside a square (``1/norm(a)``, ``a / norm(a)``): textbook
identities such as d(1/||a||)/da = -a/||a||^3 hold.

The exact oracle stands for the root of a non-square rational by a rational w with w·w ≠ the
radicand, so it called ``norm(a) norm(a) = a^T a`` different while float64 and jax found the sides
equal: an internal error for every true claim of this kind. Its points are set aside there (the
verdict is numeric, and says so); false claims still fail."""
from tensorcalc.cli import main

MODEL = """\
tensorcalc: 1
layout: mixed
dims: {n: [2, 3]}
tensors:
  a: vector(n)
  b: vector(n)
forward:
  f: 1 / norm(a)
  u: a / norm(a)
  c: a^T b / (norm(a) norm(b))
claims:
  - norm(a) norm(a) = a^T a
  - d f / d a = -a / norm(a)^3
  - d u / d a = (I(n) - u u^T) / norm(a)
  - d c / d a = b / (norm(a) norm(b)) - c a / norm(a)^2
  - claim: norm(a) norm(a) = 2 a^T a
    expect: fails
  - claim: d f / d a = -a / norm(a)^2
    expect: fails
  - claim: d u / d a = I(n) / norm(a) - a a^T / norm(a)^2
    expect: fails
"""


def test_norm_identities_hold_and_their_slips_fail(tmp_path, capsys):
    path = tmp_path / "norms.yaml"
    path.write_text(MODEL)
    code = main(["check", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "internal error" not in out
    assert "exact oracle set aside" in out  # the verdict says it rests on the floats alone


TINY = """\
tensorcalc: 1
layout: mixed
dims: {n: [2, 3]}
tensors:
  a: vector(n)
forward:
  g: sqrt(a^T a + 1e-12)
  h: exp(norm(a))
claims:
  - claim: norm(a) = sqrt(a^T a + 1e-12)
    expect: fails
  - claim: d g / d a = a / norm(a)
    expect: fails
  - d g / d a = a / g
  - d h / d a = h a / norm(a)
  - claim: d h / d a = h a / norm(a)^2
    expect: fails
"""


def test_a_difference_below_float64_resolution_is_not_set_aside(tmp_path, capsys):
    """float64 cannot tell sqrt(a^T a + 1e-12) from norm(a); true radicals to 40 digits can, so the
    exact oracle's "different" stands and the claims fail, while the true ones (exp included) hold."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    code = main(["check", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "internal error" not in out
