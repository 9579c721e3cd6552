"""jax, imported only when the numeric oracle runs: the forward pass in jax.numpy and
``jax.jacrev`` for the derivative terms (float64).

One compiled function per (model, ``of``) gives the derivative of ``of`` with respect
to every leaf and every definition it depends on, at every random network at once
(``vmap`` over networks). A definition's derivative is taken through a zero offset
added to its value, which is the same as differentiating with that definition
replaced by a free variable.
"""
from __future__ import annotations

import os
import sys

# The programs compiled here are tiny and run a handful of times: compile them fast
# rather than well (several times faster to build). Only when jax is not loaded yet,
# and never over flags the user set.
if "jax" not in sys.modules:
    _flags = os.environ.get("XLA_FLAGS", "")
    for _flag in ("--xla_cpu_use_fusion_emitters=false", "--xla_backend_optimization_level=0"):
        if _flag.split("=")[0] not in _flags:
            _flags += " " + _flag
    os.environ["XLA_FLAGS"] = _flags.strip()

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from .evaluate import Algebra, Evaluator, arrange, derivative_key, forward_env  # noqa: E402
from .expr import Expr  # noqa: E402
from .model import Model  # noqa: E402


def _ancestors(model: Model, of: Expr) -> set[str]:
    """Names (leaves and definitions) whose value ``of`` depends on."""
    needed = _var_names(of)
    for name in reversed(list(model.defs)):
        if name in needed:
            needed |= _var_names(model.defs[name])
    return needed


def _var_names(expr: Expr) -> set[str]:
    out, stack = set(), [expr]
    while stack:
        e = stack.pop()
        if e.op == "var":
            out.add(e.attr)
        stack.extend(e.args)
    return out


class JaxBatch:
    """True derivatives by jax autodiff at a batch of random networks of one model.

    ``full(of, wrt, index_key)`` has axes (network, *of axes, *wrt axes)."""

    def __init__(self, model: Model, leaves: list[dict]):
        self.model = model
        self.alg = Algebra("jax", jnp, model.functions)
        self.count = len(leaves)
        self.leaves = {name: np.stack([np.asarray(t[name], dtype=float) for t in leaves]) for name in leaves[0]}
        self.cache: dict = {}
        self._def_shapes = None

    def def_shapes(self) -> dict[str, tuple]:
        """Shapes of every definition's value (one network), by abstract evaluation."""
        if self._def_shapes is None:
            one = {n: jax.ShapeDtypeStruct(v.shape[1:], v.dtype) for n, v in self.leaves.items()}
            env = jax.eval_shape(lambda lv: {n: v for n, v in forward_env(self.model, self.alg, lv).items() if n in self.model.defs}, one)
            self._def_shapes = {n: s.shape for n, s in env.items()}
        return self._def_shapes

    def full(self, of: Expr, wrt: str, index_key: tuple = ()):
        key = (of, index_key)
        if key not in self.cache:
            self.cache[key] = self._all(of, dict(index_key))
        found = self.cache[key].get(wrt)
        if found is None:  # ``of`` does not depend on ``wrt``
            model = self.model
            of_shape = model.numeric_shape(Evaluator(model, self.alg, {}).static(of))
            return np.zeros((self.count,) + of_shape + model.numeric_shape(model.shapes[wrt]))
        return found

    def _all(self, of: Expr, indices: dict) -> dict:
        model, alg = self.model, self.alg
        needed = _ancestors(model, of)
        defs = [n for n in model.defs if n in needed]
        leaves = {n: v for n, v in self.leaves.items() if n in needed}
        shapes = self.def_shapes()
        offsets = {n: np.zeros(shapes[n]) for n in defs}

        def value(leaf_values, offset_values):
            env = dict(leaf_values)
            ev = Evaluator(model, alg, env)
            for name in defs:
                env[name] = ev.eval(model.defs[name]) + offset_values[name]
            return Evaluator(model, alg, env, None, indices).eval(of)

        jacobians = jax.jit(jax.vmap(jax.jacrev(value, argnums=(0, 1)), in_axes=(0, None), axis_size=self.count))
        by_leaf, by_def = jacobians(leaves, offsets)
        return {n: np.asarray(v) for n, v in {**by_leaf, **by_def}.items()}


class JaxDerivatives:
    """True derivatives by jax autodiff at one random point, cached per (of, wrt)."""

    def __init__(self, model: Model, leaves: dict):
        self.batch = JaxBatch(model, [leaves])

    def full(self, of: Expr, wrt: str, index_key: tuple = ()):
        return self.batch.full(of, wrt, index_key)[0]

    def derivative(self, ev: Evaluator, e: Expr):
        of = e.args[0]
        return arrange(ev, e, self.full(of, e.attr[0], derivative_key(ev, of)))
