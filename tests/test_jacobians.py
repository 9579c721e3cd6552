"""derive --of Y --wrt X for non-scalar Y: matrix, ⊗ and index forms, seed 001's chain with
--steps, refusals; and random forward programs whose printed Jacobian is compared with jax.jacobian."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from tensorcalc.cli import main
from tensorcalc.core import jacobians as J
from tensorcalc.core.model import Prepared
from tensorcalc.explain import jacobian_formulas
from tensorcalc.explain.jacobian_formulas import derive_any
from tensorcalc.frontends import load_spec
from tensorcalc.oracles.evaluate import Evaluator, forward_env, numpy_algebra
from tensorcalc.outputs.pretty import side_text

MATRIX_PRODUCTS = """tensorcalc: 1
layout: numerator
dims: {m: 2, p: 3, q: 4}
tensors:
  W: matrix(m, p)
  X: matrix(p, q)
  v: vector(q)
forward:
  Z: W X
  S: tanh(Z)
  y: S v
claims:
  - d Z / d W = d Z / d W
"""


def run(capsys, *argv):
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def first_line(capsys, path, *argv) -> str:
    status, out, err = run(capsys, "derive", str(path), *argv)
    assert status == 0, out + err
    return " ".join(out.splitlines()[0].split())


@pytest.mark.parametrize("argv, formula", [
    (["--of", "r", "--wrt", "s"], "d r / d s = W2"),
    (["--of", "r", "--wrt", "s", "--layout", "denominator"], "d r / d s = W2^T"),
    (["--of", "s", "--wrt", "z"], "d s / d z = diag(sigma'(z))"),
    (["--of", "z", "--wrt", "b1"], "d z / d b1 = I(h)"),
])
def test_matrix_forms(root, capsys, argv, formula):
    assert first_line(capsys, root / "derivations/shallow.yaml", *argv) == formula


@pytest.mark.parametrize("layout", ["numerator", "denominator", "mixed"])
def test_vector_by_matrix_is_the_seeds_otimes_form_in_each_layout(root, capsys, layout):
    line = first_line(capsys, root / "derivations/shallow.yaml", "--of", "z", "--wrt", "W1", "--layout", layout)
    assert line == "d z / d W1 = I(h) ⊗ x"


def test_otimes_form_through_a_chain(root, capsys):
    line = first_line(capsys, root / "derivations/shallow.yaml", "--of", "r", "--wrt", "W1")
    assert line == "d r / d W1 = diag(sigma'(z)) W2^T ⊗ x"


@pytest.fixture
def products(tmp_path):
    path = tmp_path / "products.yaml"
    path.write_text(MATRIX_PRODUCTS)
    return path


@pytest.mark.parametrize("argv, formula", [
    (["--of", "Z", "--wrt", "W"], "d Z[i, j] / d W[k, l] = δ[i, k] X[l, j]"),
    (["--of", "Z", "--wrt", "X"], "d Z[i, j] / d X[k, l] = δ[j, l] W[i, k]"),
    (["--of", "S", "--wrt", "Z"], "d S[i, j] / d Z[k, l] = δ[i, k] δ[j, l] tanh'(Z)[k, l]"),
    (["--of", "y", "--wrt", "W"], "d y[i] / d W[j, k] = δ[i, j] sum_l(v[l] tanh'(Z)[j, l] X[k, l])"),
])
def test_index_notation_when_no_matrix_or_otimes_form_exists(capsys, products, argv, formula):
    assert first_line(capsys, products, *argv) == formula


def test_steps_show_seed_001s_chain_of_jacobians(root, capsys):
    status, out, _ = run(capsys, "derive", str(root / "derivations/shallow.yaml"), "--wrt", "W1", "--steps")
    assert status == 0
    chain = [" ".join(line.split()) for line in out.split("\n\n")[1].splitlines()]
    assert chain == [
        "d loss / d r = r^T 1×n",
        "d r / d s = W2 n×h",
        "d s / d z = diag(sigma'(z)) h×h",
        "d z / d W1 = I(h) ⊗ x h×d×h",
        "d loss / d W1 = (d loss / d r) (d r / d s) (d s / d z) (d z / d W1) d×h",
        "= r^T W2 diag(sigma'(z)) (I(h) ⊗ x) d×h",
        "= x r^T W2 diag(sigma'(z)) d×h",
    ]


def test_steps_of_a_vector_end_in_its_jacobian(root, capsys):
    status, out, _ = run(capsys, "derive", str(root / "derivations/shallow.yaml"), "--of", "r", "--wrt", "z", "--steps",
                         "--layout", "denominator")
    assert status == 0
    lines = [" ".join(line.split()) for line in out.split("\n\n")[0].splitlines()]
    assert lines == ["d r / d s = W2^T h×n", "d s / d z = diag(sigma'(z)) h×h",
                     "d r / d z = (d s / d z) (d r / d s) h×n", "= diag(sigma'(z)) W2^T h×n"]


@pytest.mark.parametrize("argv, message", [
    (["--of", "nope", "--wrt", "W1"], "--of 'nope': not a definition"),
    (["--of", "z", "--wrt", "nope"], "--wrt 'nope': not a tensor or definition"),
])
def test_bad_of_or_wrt_is_one_line_exit_2(root, capsys, argv, message):
    status, out, err = run(capsys, "derive", str(root / "derivations/shallow.yaml"), *argv)
    assert status == 2
    assert out == "" and len(err.strip().splitlines()) == 1 and message in err


def test_an_unconfirmed_candidate_is_never_printed(root, capsys, monkeypatch):
    """A wrong matrix form (here: twice the true one) is refuted by the oracles and the next form is shown."""
    right = J.matrix_form
    monkeypatch.setattr(J, "matrix_form", lambda *a: J.node("matmul", right(*a), J.num(2)))
    status, out, _ = run(capsys, "derive", str(root / "derivations/shallow.yaml"), "--of", "r", "--wrt", "s")
    assert status == 0
    assert out.splitlines()[0] == "d r[i] / d s[j] = W2[i, j]"


# --- random forward programs against jax.jacobian ------------------------------------------

DIMS = {"a": 2, "b": 3, "c": 4}


def program(choices: list[tuple[str, str]], start_vector: bool):
    """A chain of definitions u1, u2, ... from a leaf X; each step (op, dim) applies one operation
    (an operation that does not fit the current shape is skipped). Returns (yaml text, jax
    function of the leaves, leaf shapes, last name)."""
    import jax.numpy as jnp

    shape = ("b", "1") if start_vector else ("a", "b")
    leaves = {"X": shape}
    forward, steps = {}, []
    prev = "X"
    for t, (op, dim) in enumerate(choices, 1):
        name, leaf = f"u{t}", f"P{t}"
        if op == "left" and shape[0] != "1":
            leaves[leaf], expr, shape = (dim, shape[0]), f"{leaf} {prev}", (dim, shape[1])
            steps.append(lambda env, p=prev, q=leaf: env[q] @ env[p])
        elif op == "right" and shape[1] != "1":
            leaves[leaf], expr, shape = (shape[1], dim), f"{prev} {leaf}", (shape[0], dim)
            steps.append(lambda env, p=prev, q=leaf: env[p] @ env[q])
        elif op == "tanh":
            expr = f"tanh({prev})"
            steps.append(lambda env, p=prev: jnp.tanh(env[p]))
        elif op == "T":
            expr, shape = f"{prev}^T", shape[::-1]
            steps.append(lambda env, p=prev: env[p].T)
        elif op in ("add", "hadamard"):
            leaves[leaf], expr = shape, f"{prev} + {leaf}" if op == "add" else f"{prev} ⊙ {leaf}"
            steps.append((lambda env, p=prev, q=leaf: env[p] + env[q]) if op == "add" else (lambda env, p=prev, q=leaf: env[p] * env[q]))
        else:
            continue
        forward[name], prev = expr, name
        steps[-1] = (name, steps[-1])
    text = "tensorcalc: 1\nlayout: numerator\ndims: {a: 2, b: 3, c: 4}\ntensors:\n"
    text += "".join(f"  {k}: matrix({r}, {c})\n" for k, (r, c) in leaves.items())
    text += "forward:\n" + "".join(f"  {k}: {v}\n" for k, v in forward.items()) + "claims: []\n"

    def f(env):
        env = dict(env)
        for name, step in steps:
            env[name] = step(env)
        return env[prev]

    return text, f, leaves, prev


def arranged(full: np.ndarray, y_ndim: int, layout: str) -> np.ndarray:
    """The full Jacobian (Y's axes, then X's) in a layout, written here independently of tensorcalc."""
    outs, ins = list(range(y_ndim)), list(range(y_ndim, full.ndim))
    order = outs + ins[::-1] if layout in ("numerator", "mixed") else ins + outs[::-1]
    out = np.transpose(full, order)
    while out.ndim > 2 and 1 in out.shape:
        axis = out.shape.index(1)
        out = out.reshape(out.shape[:axis] + out.shape[axis + 1:])
    return out


def check_against_jax(tmp_path, choices, start_vector, wrt_pick, layout):
    import jax

    text, f, leaves, last = program(choices, start_vector)
    if last == "X":
        return
    path = tmp_path / "random.yaml"
    path.write_text(text)
    prepared = Prepared(load_spec(str(path)))
    wrt = sorted(leaves)[wrt_pick % len(leaves)]
    d = derive_any(prepared, wrt, layout, last)
    model = d.model
    rng = np.random.default_rng(0)
    values = {k: rng.uniform(-1, 1, size=tuple(1 if s == "1" else DIMS[s] for s in shape)) for k, shape in leaves.items()}
    jac = np.asarray(jax.jacobian(lambda x: f({**values, wrt: x}))(values[wrt]))
    env = forward_env(model, numpy_algebra(model.functions), {k: np.asarray(v) for k, v in values.items()})
    lhs, rhs = d.result.lhs, d.result.rhs
    assert side_text(rhs)  # printable
    if lhs.op == "entry":  # index notation: every entry of the Jacobian
        y_axes = [n for n in jac.shape[:2] if n != 1]
        x_axes = [n for n in jac.shape[2:] if n != 1]
        full = jac.reshape(tuple(y_axes) + tuple(x_axes))
        names = list(lhs.attr) + list(lhs.args[0].attr[1])
        for values_ in itertools.product(*(range(1, n + 1) for n in full.shape)):
            got = Evaluator(model, numpy_algebra(model.functions), env, None, dict(zip(names, values_))).evaluate(rhs)
            assert np.allclose(float(np.asarray(got).reshape(())), full[tuple(v - 1 for v in values_)], atol=1e-12), (text, wrt)
    else:
        got = np.asarray(Evaluator(model, numpy_algebra(model.functions), env).evaluate(rhs), dtype=float)
        want = arranged(jac, 2, layout)
        assert got.shape == want.shape and np.allclose(got, want, atol=1e-12), (text, wrt, side_text(rhs))


def test_one_random_program_against_jax(tmp_path):
    check_against_jax(tmp_path, [("left", "c"), ("tanh", ""), ("right", "a")], False, 1, "denominator")


@pytest.mark.slow
def test_random_programs_against_jax(tmp_path_factory):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    step = st.tuples(st.sampled_from(["left", "right", "tanh", "T", "add", "hadamard"]), st.sampled_from(sorted(DIMS)))

    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(step, min_size=1, max_size=3), st.booleans(), st.integers(0, 5), st.sampled_from(["numerator", "denominator", "mixed"]))
    def run_one(choices, start_vector, wrt_pick, layout):
        check_against_jax(tmp_path_factory.mktemp("p"), choices, start_vector, wrt_pick, layout)

    run_one()


def test_chain_path_needs_a_single_chain(root):
    prepared = Prepared(load_spec(str(root / "derivations/shallow.yaml")))
    from tensorcalc.core.model import Model
    from tensorcalc.core.sizes import size_sets

    model = Model(prepared, size_sets(prepared.spec.dims, 0)[0])
    assert jacobian_formulas.chain_path(model, "loss", "W1") == ["loss", "r", "s", "z", "W1"]
    assert jacobian_formulas.chain_path(model, "z", "W1") is None  # one factor: no chain to show


@pytest.mark.slow  # about 16 s: check proves each claim with symbolic entries
def test_printed_matrix_and_otimes_forms_read_back_as_claims_that_hold(root, capsys, tmp_path):
    shallow = (root / "derivations/shallow.yaml").read_text()
    lines = {}
    for layout in ("numerator", "denominator"):
        for of, wrt in [("r", "W1"), ("z", "W1"), ("r", "z"), ("s", "z")]:
            lines.setdefault(layout, []).append(first_line(capsys, root / "derivations/shallow.yaml", "--of", of, "--wrt", wrt,
                                                           "--layout", layout))
    for layout, claims in lines.items():
        path = tmp_path / f"{layout}.yaml"
        head = shallow.split("claims:")[0].replace("layout: numerator", f"layout: {layout}")
        path.write_text(head + "claims:\n" + "".join(f"  - {c}\n" for c in claims))
        status, out, err = run(capsys, "check", str(path))
        assert status == 0, out + err
        assert f"1 file: {len(claims)} hold, 0 fail" in out


def test_softmax_jacobian_in_index_notation(root, capsys):
    line = first_line(capsys, root / "derivations/seed003_softmax_example.yaml", "--of", "A2", "--wrt", "Z2")
    assert line == "d A2[i, j] / d Z2[k, l] = δ[i, k] δ[j, l] A2[k, l] - δ[j, l] A2[k, l] A2[i, l]"


def test_a_jacobian_that_is_zero_is_not_listed(root, capsys):
    status, out, _ = run(capsys, "derive", str(root / "derivations/shallow.yaml"), "--of", "z")
    assert status == 0
    assert [line for line in out.splitlines() if line.startswith("d ")] == ["d z / d W1 = I(h) ⊗ x", "d z / d b1 = I(h)"]


def test_an_index_formula_too_long_to_confirm_is_refused_quickly(tmp_path, capsys):
    path = tmp_path / "large.yaml"
    path.write_text(MATRIX_PRODUCTS.replace("{m: 2, p: 3, q: 4}", "{m: 9, p: 8, q: 8}"))
    status, out, _ = run(capsys, "derive", str(path), "--of", "S", "--wrt", "W")
    assert status == 3
    assert "5184 entries to confirm one by one at m=9, p=8, q=8 (at most 4096)" in out


@pytest.mark.slow  # derives and confirms every chain of two files, then runs pdflatex
def test_latex_steps_show_the_chain_of_jacobians_and_compile(root, tmp_path):
    import shutil
    import subprocess

    out = tmp_path / "chain.tex"
    files = [str(root / "derivations/shallow.yaml"), str(root / "derivations/batch_regression.yaml")]
    assert main(["latex", *files, "--standalone", "--steps", "-o", str(out)]) == 0
    tex = out.read_text(encoding="utf-8")
    assert r"\frac{\partial z}{\partial W_{1}} &= \underbrace{I_{h} \otimes x}_{h \times d \times h}" in tex
    assert r"\frac{\partial {Z_{1}}_{i,j}}{\partial X_{l,m}} &= \delta_{j,m} \cdot {W_{1}}_{i,l}" in tex
    engine = shutil.which("pdflatex")
    if engine is None:
        pytest.skip("pdflatex not installed")
    result = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", out.name], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:]
