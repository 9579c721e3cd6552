"""Emitted numpy code for any size: written once, run at sizes and depths other than the file's
and at extreme inputs (|z| = 800), compared with jax."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_emit import load_emitted
from test_sizes_symbols import prepared_batch

from tensorcalc.core.expr import var
from tensorcalc.core.layouts import effective
from tensorcalc.core.model import Model, Prepared
from tensorcalc.core.sizes import size_sets
from tensorcalc.frontends import load_spec
from tensorcalc.oracles import draws
from tensorcalc.outputs.emit import emit_numpy, identifier

BATCH_SIZES = (1, 3, 7, 64)


def model_at(prepared: Prepared, **sizes: int) -> Model:
    """The file's model with some dimensions fixed (``N=7``, ``L=8``); the others as the file says."""
    dims = dict(prepared.spec.dims)
    for name, value in sizes.items():
        dims[name] = dataclasses.replace(dims[name], sizes=(value,), low=None, high=None)
    return Model(prepared, size_sets(dims, prepared.spec.check.seed)[0])


def jax_gradients(model: Model, leaves: dict) -> dict:
    from tensorcalc.oracles.jaxbackend import JaxDerivatives

    truth = JaxDerivatives(model, leaves)
    return {name: np.asarray(truth.full(var(model.loss), name)).reshape(model.numeric_shape(model.shapes[name]))
            for name in model.leaves}


def assert_close(got: dict, expected: dict, layout: str) -> None:
    assert got
    for name, value in got.items():
        want = expected[name].T if effective(layout, ()) == "numerator" else expected[name]
        assert value.shape == want.shape, name
        assert np.all(np.isfinite(value)), name
        scale = max(float(np.max(np.abs(want))), 1e-300)
        assert float(np.max(np.abs(value - want))) <= 1e-10 * scale, name


def depths(prepared: Prepared) -> list[int | None]:
    if "L" not in prepared.spec.dims:
        return [None]
    deepest = max(prepared.spec.dims["L"].sizes)
    return [1, 2 * deepest]


@pytest.mark.slow
@pytest.mark.parametrize("path", [
    "derivations/batch_regression.yaml",
    "derivations/seed003_batch_squared.yaml",
    "derivations/seed003_softmax_summary.yaml",
])
def test_emitted_code_is_right_at_other_batch_sizes_and_depths(root, tmp_path, path):
    prepared = Prepared(load_spec(str(root / path)))
    for depth in depths(prepared):
        at_depth = {} if depth is None else {"L": depth}
        code = emit_numpy(prepared, model=model_at(prepared, **at_depth))
        assert "= 3" not in code and "0.2 *" not in code  # no size of the file's as a number
        module = load_emitted(code, tmp_path, f"emitted_{identifier(path)}_{depth}")
        for n in BATCH_SIZES:
            model = model_at(prepared, N=n, **at_depth)
            leaves = draws.float_leaves(model, np.random.default_rng(n))
            got = module.gradients(**{identifier(k): v for k, v in leaves.items()})
            assert_close(got, jax_gradients(model, leaves), prepared.spec.layout)


def test_batch_gradient_reads_n_from_the_arguments(root):
    code = emit_numpy(Prepared(load_spec(str(root / "derivations/batch_regression.yaml"))))
    assert "N = X.shape[1]" in code
    assert "dL_dYhat = ((1.0 / N) * (Yhat - Y))" in code


LOGISTIC = """tensorcalc: 1
title: logistic regression
layout: denominator
dims: {d: 3, N: 4}
tensors:
  X: matrix(d, N)
  y: rowvector(N)
  w: vector(d)
forward:
  z: w^T X
  p: sigmoid(z)
  L: -1/N sum(y ⊙ log(p) + (ones(N)^T - y) ⊙ log(ones(N)^T - p))
loss: L
claims:
  - d L / d w = 1/N X (p - y)^T
"""


def _extreme_logistic(n: int):
    rng = np.random.default_rng(n)
    X = rng.standard_normal((3, n))
    X[0] = rng.choice([-800.0, -40.0, 40.0, 800.0], n)
    return X, rng.integers(0, 2, (1, n)).astype(float), np.array([[1.0], [0.01], [-0.01]])


@pytest.mark.parametrize("n", BATCH_SIZES)
def test_logistic_regression_gradient_is_finite_at_extreme_inputs(tmp_path, n):
    import jax
    import jax.numpy as jnp

    code = emit_numpy(Prepared(load_spec("logistic.yaml", LOGISTIC)))
    module = load_emitted(code, tmp_path, f"emitted_logistic_{n}")
    X, y, w = _extreme_logistic(n)
    with np.errstate(divide="ignore", invalid="ignore"):  # the loss value itself may be -inf; its gradient is not
        got = module.gradients(X, y, w)

    def loss(w, X, y):
        z = w.T @ X
        return -jnp.sum(y * jax.nn.log_sigmoid(z) + (1 - y) * jax.nn.log_sigmoid(-z)) / X.shape[1]

    with jax.enable_x64(True):
        grads = jax.grad(loss, argnums=(0, 1))(w, X, y)
    assert_close({"w": got["w"], "X": got["X"]}, {"w": np.asarray(grads[0]), "X": np.asarray(grads[1])}, "denominator")


@pytest.mark.parametrize("depth, n", [(1, 1), (1, 64), (8, 3), (8, 7)])
def test_softmax_classifier_gradient_is_finite_at_extreme_inputs(root, tmp_path, depth, n):
    import jax
    import jax.numpy as jnp

    prepared = Prepared(load_spec(str(root / "derivations/seed003_softmax_summary.yaml")))
    model = model_at(prepared, N=n, L=depth)
    module = load_emitted(emit_numpy(prepared, model=model), tmp_path, f"emitted_softmax_{depth}_{n}")
    leaves = draws.float_leaves(model, np.random.default_rng(depth * 100 + n))
    leaves = {k: v * (800.0 if k.startswith("b[") else 1.0) for k, v in leaves.items()}  # |Z| ~ 800
    with np.errstate(divide="ignore", invalid="ignore"):
        got = module.gradients(**{identifier(k): v for k, v in leaves.items()})

    def loss(params):
        a = leaves["A[0]"]
        for l in range(1, depth + 1):
            z = params[f"W[{l}]"] @ a + params[f"b[{l}]"]
            a = jax.nn.relu(z) if l < depth else z
        return -jnp.sum(leaves["Y"] * jax.nn.log_softmax(a, axis=0)) / n

    params = {k: v for k, v in leaves.items() if k.startswith(("W[", "b["))}
    with jax.enable_x64(True):
        truth = {k: np.asarray(v) for k, v in jax.grad(loss)(params).items()}
    assert_close({k: got[k] for k in truth}, truth, "denominator")


def test_readme_batch_example_runs_at_another_n(root, tmp_path):
    """README: the emitted module, saved as grad.py, matches jax.grad at N = 7."""
    import re
    import subprocess
    import sys

    readme = (root / "README.md").read_text(encoding="utf-8")
    (command, module), = re.findall(r"```\n\$ python -m tensorcalc (derive derivations/batch_regression.yaml --emit numpy)\n(.*?)```",
                                    readme, re.S)
    assert module == emit_numpy(Prepared(load_spec(str(root / "derivations/batch_regression.yaml")))).replace(
        str(root / "derivations/batch_regression.yaml"), "derivations/batch_regression.yaml")
    (script,) = re.findall(r"```python\n(import jax.*?from grad import gradients.*?)```", readme, re.S)
    (tmp_path / "grad.py").write_text(module, encoding="utf-8")
    (tmp_path / "run.py").write_text(script, encoding="utf-8")
    done = subprocess.run([sys.executable, "run.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == script.strip().splitlines()[-1].lstrip("# ")




def _generated_case():
    from hypothesis import strategies as st

    return st.tuples(
        st.sampled_from(["sigmoid", "tanh", "softplus", "exp"]),
        st.sampled_from(["1/N", "1/(2 N)", "3/(d N)", "N/(h k)", "(d + h)/N^2", "2"]),
        st.sampled_from(["numerator", "denominator", "mixed"]),
        st.sampled_from([2, 5]),
        st.sampled_from([1, 3, 7, 64]),
    )


def test_generated_batch_losses_match_jax_at_every_batch_size(tmp_path_factory):
    """Random activations, size-valued coefficients and layouts: code emitted at one N is right at another."""
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(_generated_case())
    def check(case):
        f, coefficient, layout, file_n, run_n = case
        prepared = prepared_batch(str(file_n), layout, f, coefficient)
        code = emit_numpy(prepared)
        assert f"= {file_n}" not in code
        module = load_emitted(code, tmp_path_factory.mktemp("gen"), f"emitted_generated_{abs(hash(case))}")
        model = model_at(prepared, N=run_n)
        leaves = draws.float_leaves(model, np.random.default_rng(run_n))
        got = module.gradients(**{identifier(k): v for k, v in leaves.items()})
        assert_close(got, jax_gradients(model, leaves), layout)

    check()


def _derivation_files() -> list[str]:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    return sorted(str(p.relative_to(root)) for p in [*root.glob("derivations/*.yaml"), *root.glob("derivations/textbook/*.yaml")])


def _grown(sizes: dict[str, int]) -> dict[str, int]:
    """Every size but the depth one larger: the same program at other dimensions and batch size."""
    return {name: value if name == "L" else value + 1 for name, value in sizes.items()}


@pytest.mark.slow
@pytest.mark.parametrize("path", _derivation_files())
def test_every_derivation_emits_code_matching_jax_at_two_sizes(root, tmp_path, path):
    """Each file's module, written once at its first size set, against jax there and with every size grown."""
    prepared = Prepared(load_spec(str(root / path)))
    sizes = size_sets(prepared.spec.dims, prepared.spec.check.seed)[0]
    module = load_emitted(emit_numpy(prepared, model=Model(prepared, sizes)), tmp_path, "emitted_" + identifier(path))
    for trial, at in enumerate((sizes, _grown(sizes))):
        model = Model(prepared, at)
        leaves = draws.float_leaves(model, np.random.default_rng(trial))
        got = module.gradients(**{identifier(k): v for k, v in leaves.items()})
        assert_close(got, {k: v for k, v in jax_gradients(model, leaves).items() if k in got}, prepared.spec.layout)
