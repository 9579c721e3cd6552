"""Everyday matrix expressions end to end through ``check``: scalars made by row·column products,
matrix powers and inverses, determinants, reductions over one axis, Kronecker products, symmetric inputs."""
import json
import textwrap

from tensorcalc.verdicts.check import check_file


def check_claims(tmp_path, model: str, holds: list[str], fails: list[str] = ()) -> None:
    """Every claim of ``holds`` holds and every claim of ``fails`` fails, in a file made of ``model``
    (the keys before ``claims``) and these claims."""
    lines = [f"  - {json.dumps({'claim': c, 'expect': 'holds'}, ensure_ascii=False)}" for c in holds]
    lines += [f"  - {json.dumps({'claim': c, 'expect': 'fails'}, ensure_ascii=False)}" for c in fails]
    f = tmp_path / "t.yaml"
    f.write_text(textwrap.dedent(model) + "claims:\n" + "\n".join(lines) + "\n", encoding="utf-8")
    result = check_file(str(f))
    assert result.error is None, result.error
    expected = ["holds"] * len(holds) + ["fails"] * len(fails)
    for claim, want in zip(result.claims, expected):
        assert claim.verdict == want, (claim.text, claim.verdict, claim.reason)
    assert len(result.claims) == len(expected)


def test_minimal_row_times_column(tmp_path):
    """x^T x used to crash every oracle: a 1×1 definition whose seed cotangent was a bare 1."""
    model = """
    tensorcalc: 1
    dims: {n: 2}
    tensors:
      x: vector(n)
    forward:
      f: x^T x
    """
    check_claims(tmp_path, model, ["d f / d x = 2 x^T"], ["d f / d x = x^T"])


ROW_COLUMN = """
tensorcalc: 1
dims: {n: 3, m: 2}
tensors:
  x: vector(n)
  a: vector(n)
  A: matrix(n, n)
  B: matrix(m, n)
  c: vector(m)
  b: scalar
forward:
  f2: a^T x
  f3: x^T A x
  f4: (B x + c)^T (B x + c)
  f5: 1/n ones(n)^T x
  z: a^T x + b
  loss: log(1 + exp(-z))
"""


def test_scalars_made_by_row_times_column(tmp_path):
    holds = ["d f2 / d x = a^T", "d f3 / d x = x^T (A + A^T)", "d f4 / d x = 2 (B x + c)^T B",
             "d f5 / d x = 1/n ones(n)^T", "d loss / d a = -sigmoid(-z) x^T", "d loss / d b = -sigmoid(-z)"]
    fails = ["d f3 / d x = 2 x^T A", "d loss / d a = sigmoid(-z) x^T", "d loss / d b = sigmoid(z)"]
    check_claims(tmp_path, ROW_COLUMN, holds, fails)


def test_a_product_in_parentheses_is_one_factor(tmp_path):
    """(e^T ones(k)) is 1×1: inside a product it is a scalar that commutes, as notes use it."""
    model = """
    tensorcalc: 1
    layout: mixed
    dims: {m: 3, k: 2}
    functions: {phi: tanh}
    tensors:
      w: vector(m)
      e: vector(k)
    forward:
      s: e^T ones(k)
      f: s * sum(phi(w) ⊙ phi(w))
    """
    holds = ["d f / d w = 2 diag(phi'(w)) (e^T ones(k)) phi(w)", "d f / d w = 2 (e^T ones(k)) diag(phi'(w)) phi(w)",
             "d f / d w = 2 diag(phi'(w)) phi(w) (e^T ones(k))"]
    check_claims(tmp_path, model, holds, ["d f / d w = diag(phi'(w)) (e^T ones(k)) phi(w)"])
