"""Small builders shared by the tests: a model from YAML text, derivatives by program and by jax."""
from __future__ import annotations

import textwrap

import numpy as np

from tensorcalc.core.expr import Expr
from tensorcalc.core.model import Model, Prepared
from tensorcalc.core.sizes import size_sets
from tensorcalc.frontends import load_spec
from tensorcalc.oracles.evaluate import Evaluator, forward_env, numpy_algebra
from tensorcalc.oracles.points import _Programs, program_derivative

# The shallow network of seed 001 Prop. 2: tensors and forward pass, shared by the tests.
SHALLOW_MODEL = """tensors:
  x: vector(d)
  W1: matrix(h, d)
  b1: vector(h)
  W2: matrix(n, h)
  b2: vector(n)
forward:
  z: W1 x + b1
  s: sigma(z)
  r: W2 s + b2
  loss: 1/2 norm(r)^2
"""


def model_from(text: str, path: str = "test.yaml", which: int = 0) -> Model:
    spec = load_spec(path, textwrap.dedent(text))
    prepared = Prepared(spec)
    return Model(prepared, size_sets(spec.dims, spec.check.seed)[which])


def deriv_expr(model: Model, text: str) -> Expr:
    from tensorcalc.errors import Pos
    from tensorcalc.frontends.parse import parse

    raw, _loop = parse(text, "def_line", Pos("test", 1, 1))
    return model.resolve(raw, model.scope)


def lowered_and_jax(model: Model, text: str, seed: int = 0):
    """Value of a derivative term from the chain-rule program (numpy) and from jax."""
    from tensorcalc.oracles import draws
    from tensorcalc.oracles.jaxbackend import JaxDerivatives

    expr = deriv_expr(model, text)
    leaves = draws.float_leaves(model, np.random.default_rng(seed))
    alg = numpy_algebra(model.functions)
    env = forward_env(model, alg, leaves)
    mine = Evaluator(model, alg, env, program_derivative(_Programs(model))).evaluate(expr)
    oracle = JaxDerivatives(model, leaves)
    truth = Evaluator(model, alg, env, oracle.derivative).evaluate(expr)
    return np.asarray(mine, dtype=float), np.asarray(truth, dtype=float)
