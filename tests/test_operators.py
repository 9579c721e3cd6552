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


SQUARE = """
tensorcalc: 1
layout: mixed
dims: {n: 3, m: 2}
tensors:
  X: matrix(n, n)
  A: matrix(n, m)
  a: vector(n)
forward:
  f: trace(X^2)
  g: logdet(X) + a^T inv(X) a
"""


def test_powers_of_a_square_matrix_are_matrix_powers(tmp_path):
    """X^2 was computed entry by entry, so the Cookbook's d trace(X^2) / d X = 2 X^T failed."""
    holds = ["d f / d X = 2 X^T", "X X^{-1} = I(n)", "inv(X) X = I(n)", "X^{-T} = inv(X^T)", "X^-T = inv(X)^T",
             "X^{-2} = inv(X) inv(X)", "X^3 = X X X", "X^0 = I(n)", "X.^2 = X ⊙ X", "d trace(X^3) / d X = 3 (X^2)^T"]
    fails = ["d f / d X = 2 X", "X^2 = X ⊙ X", "X^{-1} = 1 / X"]
    check_claims(tmp_path, SQUARE, holds, fails)


def test_determinants_and_inverses(tmp_path):
    holds = ["d det(X) / d X = det(X) inv(X)^T", "d logdet(X) / d X = X^{-T}", "d log(det(X) ⊙ det(X)) / d X = 2 X^{-T}",
             "d g / d X = X^{-T} - X^{-T} a a^T X^{-T}", "det(X^2) = det(X) det(X)", "det(inv(X)) = 1 / det(X)"]
    fails = ["d det(X) / d X = det(X) inv(X)", "d g / d X = X^{-T} - X^{-1} a a^T X^{-1}", "det(X + X) = 2 det(X)"]
    check_claims(tmp_path, SQUARE, holds, fails)


def test_a_power_of_a_non_square_value_is_refused(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text(textwrap.dedent(SQUARE) + "claims:\n  - A^2 = A ⊙ A\n  - a^2 = a ⊙ a\n  - A.^2 = A ⊙ A\n", encoding="utf-8")
    first, second, third = check_file(str(f)).claims
    assert first.verdict == second.verdict == "fails"
    assert "A is n×m, not square" in first.reason and "A.^2 (or A ⊙ A)" in first.reason
    assert "a.^2" in second.reason
    assert third.verdict == "holds", third.reason


def test_every_draw_singular_is_inconclusive(tmp_path):
    """An inverse of a matrix that is singular at every point: no crash, an inconclusive verdict that says why."""
    f = tmp_path / "t.yaml"
    model = SQUARE.replace("  f: trace(X^2)\n", "  S: inv(a a^T)\n  f: sum(S)\n")
    f.write_text(textwrap.dedent(model) + "claims:\n  - d f / d a = a^T\n", encoding="utf-8")
    (claim,) = check_file(str(f)).claims
    assert claim.verdict == "error" and "singular matrix" in claim.reason, claim.reason


def test_vec_and_kronecker_identities(tmp_path):
    """The Cookbook's vec(A X B) = (Bᵀ ⊗ A) vec(X), with kron distinct from the seeds' ⊗."""
    model = """
    tensorcalc: 1
    layout: mixed
    dims: {m: 2, n: 3, p: 4, q: 2}
    tensors:
      A: matrix(m, n)
      X: matrix(n, p)
      B: matrix(p, q)
      C: matrix(q, m)
      D: matrix(m, m)
    forward:
      f: sum(vec(A X B)) + trace(kron(D, D))
    """
    holds = ["vec(A X B) = kron(B^T, A) vec(X)", "kron(A, B)^T = kron(A^T, B^T)", "kron(A, B) kron(X, C) = kron(A X, B C)",
             "trace(kron(D, D)) = trace(D) trace(D)", "d f / d X = A^T ones(m) ones(q)^T B^T", "d f / d D = 2 trace(D) I(m)"]
    fails = ["vec(A X B) = kron(A, B^T) vec(X)", "vec(A X B) = kron(B, A) vec(X)", "vec(X) = vec(X^T)"]
    check_claims(tmp_path, model, holds, fails)


def test_symmetric_and_positive_definite_inputs(tmp_path):
    """Gaussian maximum likelihood; the gradient on symmetric matrices is sym(G) (Srinivasan & Panda 2019):
    the handbook lifting G + Gᵀ - diag(G) fails."""
    model = """
    tensorcalc: 1
    layout: mixed
    dims: {n: 3, N: 4}
    tensors:
      S: spd(n)
      A: matrix(n, n) symmetric
      B: matrix(n, n)
      X: matrix(n, N)
      mu: vector(n)
    forward:
      R: X - mu ones(N)^T
      nll: N/2 logdet(S) + 1/2 trace(R^T inv(S) R)
      g: trace(A B)
    """
    holds = ["S = S^T", "A = A^T", "d logdet(S) / d S = inv(S)", "d nll / d mu = -inv(S) R ones(N)",
             "d nll / d S = N/2 inv(S) - 1/2 inv(S) R R^T inv(S)", "d g / d A = (B + B^T)/2"]
    fails = ["d g / d A = B + B^T - diag(diag(B))", "d g / d A = B^T", "d nll / d S = N inv(S) - inv(S) R R^T inv(S)"]
    check_claims(tmp_path, model, holds, fails)


def test_only_a_square_matrix_is_symmetric(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("tensorcalc: 1\ndims: {n: 2, m: 3}\ntensors:\n  A: matrix(n, m) symmetric\nforward: {f: sum(A)}\nclaims: []\n")
    result = check_file(str(f))
    assert result.error is not None and "only a square matrix can be symmetric" in result.error.message


def test_largest_entry(tmp_path):
    model = """
    tensorcalc: 1
    layout: mixed
    dims: {n: 3, m: 2}
    tensors:
      X: matrix(n, m)
      W: matrix(m, n)
      x: vector(n)
    forward:
      Y: X W
      f: max(Y) + max(X) + max(x) * max(x)
    """
    holds = ["d max(X) / d X = argmax(X)", "d f / d W = X^T argmax(Y)", "d f / d x = 2 max(x) argmax(x)",
             "sum(argmax(X)) = 1", "max(X) = sum(argmax(X) ⊙ X)"]
    check_claims(tmp_path, model, holds, ["d f / d W = argmax(Y)^T X", "d f / d x = argmax(x)"])


def test_the_documented_example_holds(tmp_path, root):
    """The example file of docs/derivation-format.md, section Matrix operators."""
    doc = (root / "docs" / "derivation-format.md").read_text(encoding="utf-8")
    section = doc.split("## Matrix operators", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    f = tmp_path / "example.yaml"
    f.write_text(example, encoding="utf-8")
    result = check_file(str(f))
    assert result.error is None, result.error
    assert result.claims and all(c.verdict == c.expected for c in result.claims), [(c.text, c.reason) for c in result.claims]


BATCH = """
tensorcalc: 1
layout: mixed
dims: {N: 4, d: 3, k: 2}
tensors:
  X: matrix(N, d)
  W: matrix(d, k)
  b: vector(k)
  Y: onehot(k, N)
  z: vector(k)
  u: vector(d)
forward:
  Z: X W + b^T
  P: softmax_rows(Z)
  c: mean(X) + sum(mean(X, 1)) + sum(mean(X, 2)) + norm1(W) + sum(sin(X) + cos(X) ⊙ abs(X) + sign(X))
  loss: -1/N sum(Y^T ⊙ log(P)) + c
"""


def test_reductions_over_one_axis_and_row_softmax(tmp_path):
    holds = ["sum(X, 1) = ones(N)^T X", "sum(X, 2) = X ones(d)", "mean(X, 1) = 1/N ones(N)^T X", "mean(X) = 1/N 1/d sum(X)",
             "norm1(W) = sum(abs(W))", "softmax_rows(Z) = softmax(Z^T)^T", "sum(softmax_rows(Z), 2) = ones(N)",
             "log_softmax(z) = z - ones(k) log(ones(k)^T exp(z))", "Z = X W + ones(N) b^T",
             "d loss / d W = 1/N X^T (P - Y^T) + sign(W)", "d loss / d b = 1/N (P - Y^T)^T ones(N)",
             "d c / d X = 1/N 1/d ones(N, d) + 1/N ones(N, d) + 1/d ones(N, d) + cos(X) - sin(X) ⊙ abs(X) + cos(X) ⊙ sign(X)"]
    fails = ["d loss / d W = X^T (P - Y^T) + sign(W)", "sum(X, 1) = X ones(d)", "mean(X, 2) = sum(X, 2)",
             "d loss / d b = 1/N (P - Y^T)^T ones(N) + b"]
    check_claims(tmp_path, BATCH, holds, fails)


def test_a_vector_is_spread_only_over_a_matching_matrix(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text(textwrap.dedent(BATCH) + "claims:\n  - Z = X W + b\n  - u + u^T = u\n", encoding="utf-8")
    first, second = check_file(str(f)).claims
    assert first.verdict == second.verdict == "fails"
    assert "+ needs equal shapes: X W is N×k, b is k×1" in first.reason
    assert "u is d×1, u^T is 1×d" in second.reason


def test_an_axis_is_1_or_2(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text(textwrap.dedent(BATCH) + "claims:\n  - sum(X, 3) = X\n", encoding="utf-8")
    result = check_file(str(f))
    assert result.error is not None and "the axis is 1 (down the rows, a 1×n row)" in result.error.message


def test_irrational_constants_and_fractional_powers_of_a_norm(tmp_path):
    """These true claims made the oracles disagree: the exact oracle drew unrelated stand-ins for
    norm(r)^(-1/2) and the norm(r)^(-5/2) of its derivative."""
    model = """
    tensorcalc: 1
    dims: {n: 3}
    tensors:
      x: vector(n)
      r: vector(n)
    forward:
      f: sum(x) / n^(1/2)
      g: norm(r)^(-1/2) + norm(x)^3
    """
    holds = ["d f / d x = ones(n)^T / n^(1/2)", "d g / d r = -1/2 norm(r)^(-5/2) r^T", "d g / d x = 3 norm(x) x^T",
             "d norm(r) / d r = r^T / norm(r)"]
    fails = ["d g / d r = -1/2 norm(r)^(-3/2) r^T", "d f / d x = ones(n)^T / n"]
    check_claims(tmp_path, model, holds, fails)


def test_emitted_numpy_for_the_new_operators_matches_jax(tmp_path):
    from tensorcalc.core.model import Prepared
    from tensorcalc.frontends import load_spec
    from tensorcalc.outputs.emit import deepest_model, emit_numpy, identifier
    from tests.test_emit import assert_emitted_matches_jax

    text = """
    tensorcalc: 1
    layout: mixed
    dims: {n: 3, m: 2, N: 4}
    tensors:
      X: matrix(n, n)
      S: spd(n)
      A: matrix(n, m)
      B: matrix(m, m)
      b: vector(m)
      Z: matrix(N, n)
    forward:
      H: Z A + b^T
      loss: logdet(S)^2 + det(X) + trace(X^3) + sum(inv(X) A) + norm(vec(kron(A, B)))^2 + norm(mean(H, 1))^2 + sum(H, 2)^T ones(N) + mean(A.^2)
    """
    path = tmp_path / "ops.yaml"
    path.write_text(textwrap.dedent(text) + "claims: []\n", encoding="utf-8")
    prepared = Prepared(load_spec(str(path)))
    code = emit_numpy(prepared, None, deepest_model(prepared))
    # only gradients are emitted: each operator appears inside one (the squares keep their values in the gradients)
    for call in ("np.linalg.inv", "np.linalg.det", "np.linalg.slogdet", "np.linalg.matrix_power", "np.kron", "np.mean"):
        assert call in code, call
    assert_emitted_matches_jax(prepared, None, code, tmp_path, arguments=identifier)
