"""Structural performance properties (no timings): work grows linearly with depth, values are
shared across claims, no 3-tensor in a lowered gradient, parallel checking agrees."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import model_from

from tensorcalc.core.derive import gradient_program
from tensorcalc.core.expr import var
from tensorcalc.oracles import evaluate, jaxbackend
from tensorcalc.oracles import points as oracles
from tensorcalc.oracles.evaluate import Evaluator, forward_env, numpy_algebra

DEPTH = """
tensorcalc: 1
layout: mixed
dims:
  L: [{L}]
  n[l]: [3, 4, 2]
functions: {{mu: sigmoid}}
tensors:
  x: vector(n[0])
  y: vector(n[L])
  W[l]: matrix(n[l], n[l-1])  for l in 1..L
  b[l]: vector(n[l])          for l in 1..L
forward:
  a[0]: x
  z[l]: W[l] a[l-1] + b[l]    for l in 1..L
  a[l]: mu(z[l])              for l in 1..L
  C: norm(a[L] - y)^2
claims:
  - delta[l] := d C / d z[l]
  - d C / d W[l] = delta[l] a[l-1]^T              for l in 1..L
"""


def depth_model(L: int):
    return model_from(DEPTH.format(L=L))


@pytest.mark.parametrize("L", [1, 3, 6])
def test_one_step_per_definition(L):
    model = depth_model(L)
    prog = gradient_program(model, var("C"), "W[1]")
    names = [name for name, _expr in prog.steps]
    assert len(names) == len(set(names))
    # every definition that depends on W[1], once: C, a[L..1], z[L..1]
    assert len(prog.steps) == 2 * L + 1
    assert len(prog.steps) <= len(model.defs)


def test_step_count_is_linear_in_depth():
    counts = [len(gradient_program(depth_model(L), var("C"), "W[1]").steps) for L in (2, 4, 8)]
    assert counts[2] - counts[1] == 2 * (counts[1] - counts[0])


def test_adjoint_steps_are_shared_by_every_parameter(monkeypatch):
    """d C / d W[l] for all l at one point evaluates each adjoint step once, not once per l."""
    L = 6
    model = depth_model(L)
    alg = numpy_algebra(model.functions)
    leaves = {k: np.random.default_rng(0).standard_normal(model.numeric_shape(s)) for k, (_kind, s, _f) in model.leaves.items()}
    env = forward_env(model, alg, leaves)
    programs = oracles._Programs(model)
    provide = oracles.program_derivative(programs)
    terms = [model.resolve(oracles_raw(f"d C / d W[{l}]"), model.scope) for l in range(1, L + 1)]
    steps = {}
    for t in terms:
        for name, expr in programs.get(t).steps:
            steps.setdefault(expr, name)
    calls = []
    original = Evaluator.evaluate

    def counting(self, e):
        if e.op != "var" and e in steps:
            calls.append(steps[e])
        return original(self, e)

    monkeypatch.setattr(Evaluator, "evaluate", counting)
    ev = Evaluator(model, alg, env, provide)
    for t in terms:
        ev.evaluate(t)
    assert len(calls) == len(set(calls)) == 2 * L + 1  # each adjoint once


def oracles_raw(text: str):
    from tensorcalc.errors import Pos
    from tensorcalc.frontends.parse import parse

    raw, _loop = parse(text, "def_line", Pos("test", 1, 1))
    return raw


def test_random_points_are_built_once_per_model():
    model = depth_model(2)
    state = oracles._state(model)
    assert state.exact_points(2, 0) is state.exact_points(2, 0)
    assert state.trials(5, 0) is state.trials(5, 0)


def test_one_jax_program_per_model(monkeypatch):
    """Every derivative term of every claim at every layer: one compiled program per model."""
    from tensorcalc.verdicts.check import check_claim

    calls = []
    original = jaxbackend.JaxBatch._jacobians

    def counting(self, ofs, indices):
        calls.append(tuple(str(o) for o in ofs))
        return original(self, ofs, indices)

    monkeypatch.setattr(jaxbackend.JaxBatch, "_jacobians", counting)
    model = depth_model(5)
    claim = model.prepared.claims[1]
    result = check_claim(model.prepared, [model], claim, 60.0)
    assert result.verdict == "holds" and len(result.instances) == 5
    assert len(calls) == 1


def test_lowered_gradient_has_no_three_tensor(monkeypatch):
    """The chain-rule program of a batch MLP only ever computes matrices (no I ⊗ x)."""
    model = model_from("""
        tensorcalc: 1
        dims: {d: 3, h: 4, n: 2, N: 5}
        functions: {sigma: sigmoid}
        tensors:
          X: matrix(d, N)
          Y: matrix(n, N)
          W1: matrix(h, d)
          W2: matrix(n, h)
        forward:
          Z: W1 X
          S: sigma(Z)
          R: W2 S - Y
          loss: 1/2 norm(R)^2
        claims:
          - d loss / d W1 = X ((W2^T R) ⊙ sigma'(Z))^T
        """)
    alg = numpy_algebra(model.functions)
    leaves = {k: np.ones(model.numeric_shape(s)) for k, (_kind, s, _f) in model.leaves.items()}
    env = forward_env(model, alg, leaves)
    largest = [0]
    original = Evaluator.evaluate

    def spy(self, e):
        value = original(self, e)
        largest[0] = max(largest[0], np.ndim(value))
        return value

    monkeypatch.setattr(Evaluator, "evaluate", spy)
    for wrt in ("W1", "W2"):
        prog = gradient_program(model, var("loss"), wrt)
        sub = Evaluator(model, alg, dict(env), names=prog.shapes)
        for name, expr in prog.steps:
            sub.env[name] = sub.evaluate(expr)
        sub.evaluate(prog.result)
    assert largest[0] == 2


def test_entry_derivatives_are_slices_of_one_program(monkeypatch):
    """d z[i] / d W for every i: one jax program, not one per index value."""
    model = model_from("""
        tensorcalc: 1
        dims: {d: 3, h: 4}
        tensors:
          x: vector(d)
          W: matrix(h, d)
        forward:
          z: W x
          loss: sum(z)
        claims:
          - d z[i] / d W[i,j] = x[j]
        """)
    calls = []
    original = jaxbackend.JaxBatch._jacobians
    monkeypatch.setattr(jaxbackend.JaxBatch, "_jacobians", lambda self, ofs, ind: calls.append(1) or original(self, ofs, ind))
    from tensorcalc.verdicts.check import check_claim

    result = check_claim(model.prepared, [model], model.prepared.claims[0], 60.0)
    assert result.verdict == "holds"
    assert len(calls) == 1


def test_parallel_check_gives_the_same_verdicts(root):
    from tensorcalc.verdicts.workers import check_paths

    paths = [str(root / "derivations" / "shallow.yaml"), str(root / "derivations" / "shallow_wrong.yaml")]
    one = check_paths(paths, jobs=1)
    two = check_paths(paths, jobs=2)
    assert [r.path for r in two] == paths
    assert [[c.verdict for c in r.claims] for r in one] == [[c.verdict for c in r.claims] for r in two]
    assert any(c.verdict == "fails" for c in two[1].claims)


def test_derivative_key_only_uses_indices_inside_of():
    model = depth_model(1)
    ev = Evaluator(model, numpy_algebra(model.functions), {}, None, {"i": 2, "j": 3})
    assert evaluate.derivative_key(ev, var("C")) == ()
