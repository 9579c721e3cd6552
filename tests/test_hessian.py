"""Second derivatives: ``d (d f / d x) / d x`` and ``g: d f / d x`` then ``d g / d x``.

The chain-rule Hessian (the program lowered to numpy, the exact oracle's program) and the
numeric oracle's nested ``jax.jacrev`` are both compared with ``jax.hessian`` of the same
function written here by hand in jax.numpy, independently of tensorcalc's evaluator.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorcalc.core.expr import Expr
from tensorcalc.errors import TensorcalcError
from tensorcalc.oracles import draws
from tensorcalc.oracles.evaluate import Evaluator, forward_env, numpy_algebra
from tensorcalc.oracles.jaxbackend import JaxDerivatives, float64_on_cpu
from tensorcalc.oracles.points import _Programs, program_derivative
from tensorcalc.verdicts.check import check_file
from tests.helpers import deriv_expr, model_from

ROOT = Path(__file__).resolve().parents[1]
SIGMOID = jax.nn.sigmoid
SOFTPLUS = jax.nn.softplus

# name -> (forward pass of f, the same f in jax.numpy of (x, leaves)); dims m: 3, n: 2.
CASES = {
    "quadratic form": ("f: x^T B x + b^T x", lambda x, t: x @ t["B"] @ x + t["b"] @ x),
    "least squares": ("f: norm(A x - y)^2", lambda x, t: jnp.sum((t["A"] @ x - t["y"]) ** 2)),
    "sigmoid inside a norm": ("f: 1/2 norm(sigma(A x) - y)^2", lambda x, t: 0.5 * jnp.sum((SIGMOID(t["A"] @ x) - t["y"]) ** 2)),
    "tanh": ("f: y^T tanh(A x) + 1/2 norm(tanh(A x))^2",
             lambda x, t: t["y"] @ jnp.tanh(t["A"] @ x) + 0.5 * jnp.sum(jnp.tanh(t["A"] @ x) ** 2)),
    "exp and log": ("f: sum(log(exp(A x) + ones(m)))", lambda x, t: jnp.sum(jnp.log(jnp.exp(t["A"] @ x) + 1))),
    "softplus and sigmoid": ("f: sum(softplus(A x)) - y^T log(sigma(A x))",
                             lambda x, t: jnp.sum(SOFTPLUS(t["A"] @ x)) - t["y"] @ jnp.log(SIGMOID(t["A"] @ x))),
    "through definitions": ("z: A x + y\n  s: sigma(z)\n  f: y^T s + (b^T x) (y^T s)",
                            lambda x, t: t["y"] @ SIGMOID(t["A"] @ x + t["y"]) * (1 + t["b"] @ x)),
    "product of scalars": ("f: (b^T x)^2 * sum(exp(A x))", lambda x, t: (t["b"] @ x) ** 2 * jnp.sum(jnp.exp(t["A"] @ x))),
}

HEADER = """tensorcalc: 1
layout: {layout}
dims: {{m: 3, n: 2}}
functions: {{sigma: sigmoid}}
tensors:
  x: vector(n)
  A: matrix(m, n)
  B: matrix(n, n)
  b: vector(n)
  y: vector(m)
forward:
  {forward}
claims: []
"""


def _jax_leaves(leaves: dict) -> dict:
    """The leaves as jax float64 arrays, vectors 1-d (call inside ``float64_on_cpu``)."""
    return {k: jnp.asarray(np.asarray(v, dtype=float).reshape(-1) if v.shape[-1:] == (1,) else np.asarray(v, dtype=float))
            for k, v in leaves.items()}


def _jax_hessian(fn, leaves: dict) -> np.ndarray:
    with float64_on_cpu():
        t = _jax_leaves(leaves)
        hessian = np.asarray(jax.hessian(lambda x: fn(x, t))(t["x"]))
    assert hessian.dtype == np.float64
    return hessian


def _ours(forward: str, term: str, layout: str = "numerator", seed: int = 0):
    """(chain-rule program in numpy, nested jax of the numeric oracle, leaves) for ``term``."""
    model, leaves, env, mine = _chain_rule(HEADER.format(layout=layout, forward=forward), term, seed)
    expr = deriv_expr(model, term)
    truth = Evaluator(model, numpy_algebra(model.functions), env, JaxDerivatives(model, leaves).derivative).evaluate(expr)
    return mine, np.asarray(truth, dtype=float), leaves


def _chain_rule(text: str, term: str, seed: int):
    """(model, leaves, forward values, value of ``term`` by the chain-rule program in numpy)."""
    model = model_from(text)
    leaves = draws.float_leaves(model, np.random.default_rng(seed))
    alg = numpy_algebra(model.functions)
    env = forward_env(model, alg, leaves)
    mine = Evaluator(model, alg, env, program_derivative(_Programs(model))).evaluate(deriv_expr(model, term))
    return model, leaves, env, np.asarray(mine, dtype=float)


@pytest.mark.parametrize("case", sorted(CASES))
def test_hessian_matches_jax_hessian(case):
    forward, fn = CASES[case]
    mine, nested, leaves = _ours(forward, "d (d f / d x) / d x")
    expected = _jax_hessian(fn, leaves)
    np.testing.assert_allclose(mine, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(nested, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("layout", ["numerator", "denominator", "mixed"])
def test_every_layout_puts_the_hessian_as_an_n_by_n_matrix(layout):
    forward, fn = CASES["quadratic form"]
    mine, nested, leaves = _ours(forward, "d (d f / d x) / d x", layout)
    assert mine.shape == (2, 2)
    np.testing.assert_allclose(mine, _jax_hessian(fn, leaves), rtol=1e-12)


def test_a_gradient_definition_differentiated_again():
    forward, fn = CASES["sigmoid inside a norm"]
    mine, nested, leaves = _ours(forward + "\n  g: d f / d x", "d g / d x")
    expected = _jax_hessian(fn, leaves)
    np.testing.assert_allclose(mine, expected, rtol=1e-9)
    np.testing.assert_allclose(nested, expected, rtol=1e-9)


def test_mixed_second_derivative_by_a_definition():
    """d (d f / d z) / d x: the gradient by an intermediate, moved by x."""
    mine, nested, leaves = _ours("z: A x\n  f: sum(tanh(z))", "d (d f / d z) / d x", "mixed")
    a = np.asarray(leaves["A"], dtype=float)
    z = a @ np.asarray(leaves["x"], dtype=float).reshape(-1)
    expected = np.diag(-2 * np.tanh(z) / np.cosh(z) ** 2) @ a  # d tanh'(z) / d x
    np.testing.assert_allclose(mine, expected, rtol=1e-9)
    np.testing.assert_allclose(nested, expected, rtol=1e-9)


FUNCTIONS = {"sigmoid": SIGMOID, "tanh": jnp.tanh, "exp": jnp.exp, "softplus": SOFTPLUS, "identity": lambda v: v}


@st.composite
def programs(draw):
    """A random scalar of x: layers u = phi(M u + y) and a final c^T psi(u) (+ a quadratic term)."""
    names = sorted(FUNCTIONS)
    depth = draw(st.integers(1, 2))
    text, fns = "x", []
    for k in range(depth):
        phi = draw(st.sampled_from(names))
        matrix = "A" if k == 0 else "C"
        text = f"{phi}({matrix} {text} + y)" if k == 0 else f"{phi}({matrix} {text})"
        fns.append((phi, matrix))
    psi = draw(st.sampled_from(names))
    quadratic = draw(st.booleans())
    return f"f: y^T {psi}({text})" + (" + x^T B x" if quadratic else ""), fns, psi, quadratic


def _jax_program(fns, psi, quadratic):
    def f(x, t):
        u = x
        for k, (phi, matrix) in enumerate(fns):
            u = FUNCTIONS[phi](t[matrix] @ u + (t["y"] if k == 0 else 0))
        return t["y"] @ FUNCTIONS[psi](u) + (x @ t["B"] @ x if quadratic else 0)

    return f


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 10**6))
def test_random_programs_hessian_matches_jax(program, seed):
    forward, fns, psi, quadratic = program
    header = HEADER.replace("  y: vector(m)", "  y: vector(m)\n  C: matrix(m, m)")
    _model, leaves, _env, mine = _chain_rule(header.format(layout="mixed", forward=forward), "d (d f / d x) / d x", seed)
    expected = _jax_hessian(_jax_program(fns, psi, quadratic), leaves)
    np.testing.assert_allclose(mine, expected, rtol=1e-8, atol=1e-10)


VERDICTS = """tensorcalc: 1
layout: {layout}
dims: {{n: 3, m: 4}}
functions: {{sigma: sigmoid}}
tensors: {{x: vector(n), B: matrix(n, n), A: matrix(m, n), X: matrix(m, n), y: vector(m), lam: scalar positive}}
forward:
  q: x^T B x
  h: 1/2 norm(A x)^2
  ls: norm(X x - y)^2
  ridge: norm(X x - y)^2 + lam norm(x)^2
  p: sigma(X x)
  nll: -(y^T log(p) + (ones(m) - y)^T log(ones(m) - p))
  g: d h / d x
claims:
  - d (d q / d x) / d x = B + B^T
  - claim: d (d q / d x) / d x = 2 B
    expect: fails
  - claim: d (d q / d x) / d x = B
    expect: fails
  - d (d h / d x) / d x = A^T A
  - d g / d x = A^T A
  - claim: d g / d x = A A^T
    expect: fails
  - d (d ls / d x) / d x = 2 X^T X
  - claim: d (d ls / d x) / d x = X^T X
    expect: fails
  - d (d ridge / d x) / d x = 2 (X^T X + lam I(n))
  - claim: d (d ridge / d x) / d x = 2 X^T X + lam I(n)
    expect: fails
  - d (d nll / d x) / d x = X^T diag(p ⊙ (ones(m) - p)) X
  - claim: d (d nll / d x) / d x = X^T diag(p) X
    expect: fails
"""


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["numerator", "denominator", "mixed"])
def test_cookbook_second_order_identities_get_their_verdicts(tmp_path, layout):
    path = tmp_path / "hessians.yaml"
    path.write_text(VERDICTS.format(layout=layout))
    result = check_file(str(path))
    assert result.error is None, result.error
    got = [(c.text, c.verdict) for c in result.claims]
    assert all(c.verdict == ("fails" if c.expected == "fails" else "holds") for c in result.claims), got


def test_a_wrong_hessian_fails_in_the_exact_oracle():
    """A true Hessian and a false one, evaluated by the exact oracle alone (rationals)."""
    from tensorcalc.oracles.compare import exact_equal
    from tensorcalc.oracles.points import exact_points

    model = model_from(HEADER.format(layout="mixed", forward="f: x^T B x"))
    term = deriv_expr(model, "d (d f / d x) / d x")
    true, false = deriv_expr(model, "B + B^T"), deriv_expr(model, "2 B")
    assert all(exact_equal(a, b, False) for p in exact_points(model, term, true, {}, 2, 0) for a, b in zip(p.lhs, p.rhs))
    assert not all(exact_equal(a, b, False) for p in exact_points(model, term, false, {}, 2, 0) for a, b in zip(p.lhs, p.rhs))


def test_second_derivatives_of_functions_come_from_the_table():
    """sigma'', tanh'', softplus'' in the claim: every algebra takes them from one formula."""
    forward = "f: sum(tanh(A x)) + sum(softplus(A x)) + sum(sigma(A x))"
    model = model_from(HEADER.format(layout="mixed", forward=forward))
    rhs = deriv_expr(model, "A^T diag(tanh''(A x) + softplus''(A x) + sigma''(A x)) A")
    mine, _nested, leaves = _ours(forward, "d (d f / d x) / d x", "mixed")
    alg = numpy_algebra(model.functions)
    claimed = Evaluator(model, alg, forward_env(model, alg, leaves)).evaluate(rhs)
    np.testing.assert_allclose(np.asarray(claimed, dtype=float), mine, rtol=1e-9)


def test_a_jacobian_inside_a_derivative_is_refused_in_one_line():
    model = model_from(HEADER.format(layout="mixed", forward="z: A x\n  f: sum(z)"))
    from tensorcalc.oracles.points import exact_points

    term = deriv_expr(model, "d (d z / d x) / d x")
    with pytest.raises(TensorcalcError, match="only the derivative of a scalar by a whole tensor"):
        exact_points(model, term, term, {}, 1, 0)


def test_a_jacobian_inside_a_claim_is_refused_before_shapes_are_compared(tmp_path):
    """The claimed side has the shape of a Hessian, the term would be a 3-tensor: the refusal, not a shape failure."""
    path = tmp_path / "j.yaml"
    path.write_text(HEADER.format(layout="mixed", forward="z: A x\n  f: sum(z)").replace("claims: []", "claims:\n  - d (d z / d x) / d x = A"))
    result = _cli("check", str(path))
    assert result.returncode == 2, result.stdout
    assert "only the derivative of a scalar by a whole tensor" in result.stdout and "Traceback" not in result.stderr


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "tensorcalc", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.mark.slow
def test_derive_hessian_prints_the_verified_formula(tmp_path):
    path = tmp_path / "h.yaml"
    path.write_text(HEADER.format(layout="numerator", forward="f: 1/2 norm(A x)^2").replace("claims: []\n", "claims: []\nloss: f\n"))
    out = _cli("derive", str(path), "--hessian", "--wrt", "x")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "d (d f / d x) / d x = A^T A"


@pytest.mark.parametrize("args, message", [
    (["--wrt", "A"], "a Hessian is taken by a scalar or a vector"),
    (["--wrt", "x", "--of", "z"], "a Hessian is of a scalar"),
    ([], "--hessian needs --wrt"),
])
def test_derive_hessian_refuses_what_is_not_a_matrix_in_one_line(tmp_path, args, message):
    path = tmp_path / "h.yaml"
    path.write_text(HEADER.format(layout="mixed", forward="z: A x\n  f: sum(z)"))
    out = _cli("derive", str(path), "--hessian", *args)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr



def test_the_numeric_oracle_values_gradient_definitions_by_jax(monkeypatch):
    """``g: d f / d x`` in the numeric oracle's networks comes from jax, not from the chain rule:
    with the chain rule's expression replaced by a wrong one, the values stay right."""
    from tensorcalc.oracles import evaluate
    from tensorcalc.oracles.points import _State

    forward, fn = CASES["sigmoid inside a norm"]
    model = model_from(HEADER.format(layout="mixed", forward=forward + "\n  g: d f / d x"))
    monkeypatch.setattr(evaluate, "gradient_expr", lambda model, e: Expr("zeros", (), model.shapes["x"]))
    trials = _State(model).trials(2, 0)
    for leaves, env in zip(trials.leaves, trials.envs):
        with float64_on_cpu():
            t = _jax_leaves(leaves)
            gradient = np.asarray(jax.grad(lambda x: fn(x, t))(t["x"]))
        np.testing.assert_allclose(np.asarray(env["g"], dtype=float).reshape(-1), gradient, rtol=1e-12)


ORDERS = """tensorcalc: 1
layout: mixed
dims: {{n: 2}}
functions: {{sigma: sigmoid}}
tensors: {{c: scalar, x: vector(n)}}
forward:
  f: sum(sigma(c x)) * c^2
  g1: d f / d c
  g2: d g1 / d c
  g3: d g2 / d c
claims:
  - {claim}
"""


def test_a_third_derivative_is_checked(tmp_path):
    """d³(c² Σσ(c x))/dc³ against jax's third derivative, written by hand."""
    path = tmp_path / "third.yaml"
    path.write_text(ORDERS.format(claim="g3 = g3"))
    result = check_file(str(path))
    assert result.error is None and [c.verdict for c in result.claims] == ["holds"]
    model = model_from(path.read_text())
    leaves = draws.float_leaves(model, np.random.default_rng(0))
    env = forward_env(model, numpy_algebra(model.functions), leaves)
    with float64_on_cpu():
        t = _jax_leaves(leaves)
        third = jax.grad(jax.grad(jax.grad(lambda c: c**2 * jnp.sum(SIGMOID(c * t["x"])))))(jnp.float64(leaves["c"]))
    np.testing.assert_allclose(float(np.asarray(env["g3"], dtype=float).reshape(())), float(third), rtol=1e-9)


def test_a_fifth_derivative_is_refused_in_one_line(tmp_path):
    """Each order differentiates everything below it again: derivative terms nested more than three
    deep (here four, then differentiated once more) are refused before they are built."""
    path = tmp_path / "fifth.yaml"
    path.write_text(ORDERS.format(claim="d (d g3 / d c) / d c = 0"))
    out = _cli("check", str(path))
    assert out.returncode == 2
    assert "derivative terms nested more than 3 deep" in out.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_hessian_formula_read_off_matches_jax_hessian(case):
    """The matrix formula that ``derive --hessian`` and the failure hints print, evaluated."""
    from tensorcalc.core.expr import var
    from tensorcalc.explain.hessian import hessian_formula

    forward, fn = CASES[case]
    for layout in ("numerator", "denominator"):
        model = model_from(HEADER.format(layout=layout, forward=forward))
        leaves = draws.float_leaves(model, np.random.default_rng(3))
        alg = numpy_algebra(model.functions)
        formula = hessian_formula(model, var("f"), "x", layout)
        value = Evaluator(model, alg, forward_env(model, alg, leaves)).evaluate(formula)
        np.testing.assert_allclose(np.asarray(value, dtype=float), _jax_hessian(fn, leaves), rtol=1e-9, atol=1e-12)


def test_a_wrong_hessian_claim_is_told_the_right_formula(tmp_path):
    path = tmp_path / "wrong.yaml"
    claims = "claims:\n  - claim: d (d f / d x) / d x = 2 B\n    expect: fails"
    path.write_text(HEADER.format(layout="mixed", forward="f: x^T B x").replace("claims: []", claims))
    (claim,) = check_file(str(path)).claims
    assert claim.verdict == "fails"
    assert "correct: d (d f / d x) / d x = B^T + B" in claim.instances[0].reason


def test_derive_hessian_by_a_scalar(tmp_path):
    """A scalar is a 1-vector: the request is accepted and the formula is d²f/dc²."""
    from tensorcalc.core.expr import var
    from tensorcalc.explain.hessian import check_hessian_request, hessian_formula

    text = ORDERS.format(claim="g1 = g1")
    model = model_from(text)
    check_hessian_request(model.prepared, "c", "f")
    leaves = draws.float_leaves(model, np.random.default_rng(1))
    alg = numpy_algebra(model.functions)
    value = Evaluator(model, alg, forward_env(model, alg, leaves)).evaluate(hessian_formula(model, var("f"), "c", "mixed"))
    with float64_on_cpu():
        t = _jax_leaves(leaves)
        second = jax.grad(jax.grad(lambda c: c**2 * jnp.sum(SIGMOID(c * t["x"]))))(jnp.float64(leaves["c"]))
    np.testing.assert_allclose(float(np.asarray(value, dtype=float).reshape(())), float(second), rtol=1e-9)


@pytest.mark.parametrize("layout, transposed", [("numerator", True), ("mixed", True), ("denominator", False)])
def test_a_second_derivative_by_two_vectors_is_arranged_by_the_layout(layout, transposed):
    """f = yᵀ A x: d (d f / d x) / d y is Aᵀ (n×m) in numerator and mixed layout, A (m×n) in denominator."""
    model, leaves, _env, mine = _chain_rule(HEADER.format(layout=layout, forward="f: y^T A x"), "d (d f / d x) / d y", 0)
    a = np.asarray(leaves["A"], dtype=float)
    np.testing.assert_allclose(mine, a.T if transposed else a, rtol=1e-12)
