"""The emitted numpy function, imported from a temporary file, against jax on random networks."""
from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest

from tensorcalc.core.expr import var
from tensorcalc.core.layouts import effective
from tensorcalc.core.model import Prepared
from tensorcalc.frontends import load_spec
from tensorcalc.oracles import draws
from tensorcalc.outputs.emit import deepest_model, emit_numpy, identifier


def load_emitted(code: str, tmp_path, name: str):
    path = tmp_path / f"{name}.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # project-generated code, written by emit_numpy
    return module


@pytest.mark.parametrize("path, layout", [
    ("derivations/shallow.yaml", None),
    ("derivations/shallow.yaml", "denominator"),
    ("derivations/mlp.yaml", None),
    ("derivations/mlp.yaml", "numerator"),
])
def test_emitted_gradients_match_jax(root, tmp_path, path, layout):
    prepared = Prepared(load_spec(str(root / path)))
    code = emit_numpy(prepared, layout, deepest_model(prepared))
    assert "np.einsum" not in code and "tensordot" not in code
    assert_emitted_matches_jax(prepared, layout, code, tmp_path, arguments=identifier)


def assert_emitted_matches_jax(prepared, layout, code, tmp_path, arguments):
    """Import ``code`` and compare its gradients with jax at three random networks;
    ``arguments`` maps a tensor's name to the function's argument name."""
    from tensorcalc.oracles.jaxbackend import JaxDerivatives

    model = deepest_model(prepared)
    module = load_emitted(code, tmp_path, "emitted_" + identifier(prepared.spec.path + str(layout)))
    layout = layout or prepared.spec.layout
    for trial in range(3):
        leaves = draws.float_leaves(model, np.random.default_rng(trial))
        grads = module.gradients(**{arguments(k): v for k, v in leaves.items()})
        truth = JaxDerivatives(model, leaves)
        assert grads, "no gradient emitted"
        for name, value in grads.items():
            full = np.asarray(truth.full(var(model.loss), name)).reshape(model.numeric_shape(model.shapes[name]))
            expected = full.T if effective(layout, ()) == "numerator" else full
            assert value.shape == expected.shape, name
            np.testing.assert_allclose(value, expected, rtol=1e-10, atol=1e-12)


def test_emitted_code_is_straight_line_numpy(root):
    prepared = Prepared(load_spec(str(root / "derivations/shallow.yaml")))
    code = emit_numpy(prepared)
    assert "def gradients(x, W1, b1, W2, b2):" in code
    assert "    dloss_dW1 = (x @ dloss_dz.T)\n" in code and "'W1': dloss_dW1," in code
    assert "exec" not in code and "eval" not in code


def test_family_is_unrolled_at_the_deepest_checked_depth(root):
    prepared = Prepared(load_spec(str(root / "derivations/mlp.yaml")))
    code = emit_numpy(prepared)
    assert "def gradients(x, y, W_1, W_2, W_3, W_4, b_1, b_2, b_3, b_4):" in code
    assert "'W[4]'" in code


def test_each_array_is_dropped_after_its_last_use(root):
    """Live arrays as in hand-written backprop: a gradient is computed as soon as its inputs
    are, and every intermediate is deleted after the line that last reads it."""
    prepared = Prepared(load_spec(str(root / "derivations/mlp.yaml")))
    lines = [ln.strip() for ln in emit_numpy(prepared).splitlines()]
    body = lines[lines.index('"""d C / d each parameter (depth L=4); arrays as declared (a vector is n×1)."""') + 1 : lines.index("return {")]
    defined = [ln.split(" = ")[0] for ln in body if " = " in ln]
    for i, ln in enumerate(body):
        if ln.startswith("del "):
            for name in ln[4:].split(", "):
                assert name in defined
                assert not any(re.search(rf"\b{re.escape(name)}\b", later) for later in body[i + 1 :]), name
    assert sum(ln.startswith("del ") for ln in body) >= 4
