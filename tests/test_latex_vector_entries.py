"""``\\partial x_i`` of a declared vector x in a LaTeX claim: the entry i of x (an index claim), unless
the file names ``xi`` itself; one letter under a matrix or a non-letter stays part of a name."""
from __future__ import annotations

from tensorcalc.verdicts.check import check_file

HEADER = """\
tensorcalc: 1
layout: denominator
dims: {n: 3, m: 2}
symbols: {'\\ell': l}
tensors: {x: vector(n), beta: vector(n), W: matrix(m, n), Wh: matrix(m, n)%s}
forward:
  f: x^T x
  l: sum(exp(x)) + beta^T beta
  g: sum(Wh x)
claims:
"""


def _verdicts(tmp_path, claims: list[tuple[str, str]], extra: str = ""):
    body = "".join(f"  - latex: '{latex}'\n    expect: {expect}\n" for latex, expect in claims)
    path = tmp_path / "entries.yaml"
    path.write_text(HEADER % extra + body, encoding="utf-8")
    result = check_file(str(path))
    assert result.error is None, result.error
    return [c.verdict for c in result.claims]


def test_an_entry_of_a_vector_under_partial_is_an_index_claim(tmp_path):
    verdicts = _verdicts(tmp_path, [
        (r"\frac{\partial f}{\partial x_i} = 2 x_i", "holds"),
        (r"\frac{\partial f}{\partial x_i} = x_i", "fails"),
        (r"\frac{\partial \ell}{\partial x_k} = \exp(x_k)", "holds"),
        (r"\frac{\partial \ell}{\partial \beta_j} = 2 \beta_j", "holds"),
        (r"\frac{\partial \ell}{\partial \beta_j} = \beta_j", "fails"),
    ])
    assert verdicts == ["holds", "fails", "holds", "holds", "fails"]


def test_a_declared_joined_name_stays_that_name(tmp_path):
    """With a tensor called xi, x_i is that tensor (as the LaTeX subset documents)."""
    verdicts = _verdicts(tmp_path, [(r"\frac{\partial f}{\partial x_i} = 2 x_i", "fails")], extra=", xi: vector(n)")
    assert verdicts == ["fails"]  # d f / d xi is zero: f does not depend on the tensor xi


def test_one_letter_under_a_matrix_stays_a_name(tmp_path):
    verdicts = _verdicts(tmp_path, [(r"\frac{\partial g}{\partial W_h} = \mathbf{1}_m x^\top", "holds")])
    assert verdicts == ["holds"]  # the tensor Wh
