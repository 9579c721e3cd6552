"""Emitted numpy code computes each value once: a repeated subexpression goes to one named
temporary, a value the forward pass holds is read from its variable."""
from __future__ import annotations

import re

import numpy as np
import pytest
from test_emit import load_emitted
from test_emit_any_size import _grown, assert_close, jax_gradients

from tensorcalc.core.expr import num, var
from tensorcalc.core.model import Model, Prepared
from tensorcalc.core.sizes import size_sets
from tensorcalc.frontends import load_spec
from tensorcalc.oracles import draws
from tensorcalc.outputs.emit import emit_numpy, identifier
from tensorcalc.outputs.shared_values import forward_values, repeated


def _body(code: str) -> str:
    return code[code.index("def gradients(") :]


def test_inverse_of_the_covariance_is_computed_once(root):
    """The gradient reads inv(S) four times; the module inverts S once."""
    code = emit_numpy(Prepared(load_spec(str(root / "derivations/textbook/gaussian_mean_covariance.yaml"))))
    assert code.count("np.linalg.inv") == 1
    assert "    inv_S = np.linalg.inv(S)\n" in code
    assert re.search(r"\binv_S\b.*\binv_S\b", code)  # read where the inverse was written before


@pytest.mark.parametrize("path", ["derivations/textbook/multihead_attention.yaml",
                                  "derivations/textbook/attention_single_head.yaml"])
def test_attention_backward_reads_the_forward_softmax(root, path):
    """softmax(S) is computed by the forward line A = softmax(S) only: the backward pass reads A."""
    prepared = Prepared(load_spec(str(root / path)))
    body = _body(emit_numpy(prepared))
    softmaxes = [ln.strip() for ln in body.splitlines() if "_softmax(" in ln]
    holders = [k for k, d in Model(prepared, size_sets(prepared.spec.dims, 0)[0]).defs.items() if "softmax" in str(d)]
    defined = [ln.split(" = ")[0] for ln in softmaxes]
    assert defined and all(d in holders for d in defined) and len(set(defined)) == len(defined), softmaxes


def test_the_whole_value_of_a_step_is_read_from_its_variable(root):
    """dL/dY = -dL/dYhat: the second reads the first instead of computing (1/N)(Yhat - Y) again."""
    code = emit_numpy(Prepared(load_spec(str(root / "derivations/batch_regression.yaml"))))
    assert code.count("(Yhat - Y)") == 1 and "dL_dY = (-dL_dYhat)" in code


def test_repeated_counts_a_shared_part_once_inside_a_repeated_whole():
    from tensorcalc.core.expr import node

    inner = node("inv", var("S"))
    whole = node("matmul", inner, var("x"))
    assert repeated([whole, whole]) == [whole]  # inv(S) is computed once, inside the shared product
    assert repeated([whole, node("T", inner)]) == [inner]
    assert repeated([node("T", var("x")), node("T", var("x")), num(2), num(2)]) == []  # views and numbers


def test_forward_values_find_a_transposed_definition():
    from tensorcalc.core.expr import node

    soft = node("softmax", node("T", var("S")))
    found = forward_values({"A": node("T", soft), "B": var("x")})
    assert found[soft] == ("A", True) and found[node("T", soft)] == ("A", False)
    assert var("x") not in found


# --- generated programs: the same subexpressions written several times, against jax
_VECTORS = ["W x", "tanh(W x)", "sigmoid(W A x)", "W inv(A) x", "exp(1/4 W x)", "softmax(W x)", "W (A + A^T) x"]

_PROGRAM = """tensorcalc: 1
title: shared values
layout: {layout}
dims: {{n: 3, m: 4}}
tensors:
  x: vector(n)
  y: vector(m)
  W: matrix(m, n)
  A: spd(n)
forward:
  h: {h}
  L: sum(h ⊙ ({p})) + 1/2 norm({q} - y)^2 + sum(({p}) ⊙ ({r}))
loss: L
claims:
  - d L / d y = y - ({q})
"""


def _program():
    from hypothesis import strategies as st

    pick = st.sampled_from(_VECTORS)
    return st.tuples(st.sampled_from(["numerator", "denominator", "mixed"]), pick, pick, pick, pick)


@pytest.mark.slow
def test_generated_programs_with_repeated_parts_match_jax(tmp_path_factory):
    """Forward values written again in the loss and parts repeated across terms: the module
    shares them and its gradients equal jax's, at the file's sizes and at larger ones."""
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(_program())
    def check(case):
        layout, h, p, q, r = case
        prepared = Prepared(load_spec("shared.yaml", _PROGRAM.format(layout=layout, h=h, p=p, q=q, r=r)))
        sizes = size_sets(prepared.spec.dims, 0)[0]
        code = emit_numpy(prepared, model=Model(prepared, sizes))
        assert code.count("np.linalg.inv(") <= 1 and code.count("_softmax(") <= 2  # the helper's def and one call
        module = load_emitted(code, tmp_path_factory.mktemp("shared"), f"emitted_shared_{abs(hash(case))}")
        for trial, at in enumerate((sizes, _grown(sizes))):
            model = Model(prepared, at)
            leaves = draws.float_leaves(model, np.random.default_rng(trial))
            got = module.gradients(**{identifier(k): v for k, v in leaves.items()})
            assert_close(got, jax_gradients(model, leaves), layout)

    check()
