"""jax, imported only when the numeric oracle runs: the forward pass in jax.numpy and
``jax.jacrev`` for every derivative term (float64)."""
from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from .evaluate import Algebra, Evaluator, arrange, forward_env  # noqa: E402
from .expr import Expr, to_text  # noqa: E402
from .model import Model  # noqa: E402


class JaxDerivatives:
    """True derivatives by jax autodiff at one random point, cached per (of, wrt)."""

    def __init__(self, model: Model, leaves: dict):
        self.model = model
        self.alg = Algebra("jax", jnp, model.functions)
        self.leaves = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in leaves.items()}
        self.base = forward_env(model, self.alg, self.leaves)
        self.cache: dict = {}

    def full(self, of: Expr, wrt: str):
        key = (to_text(of), wrt)
        if key not in self.cache:
            model = self.model

            def f(value):
                if wrt in model.defs:
                    env = forward_env(model, self.alg, self.leaves, override={wrt: value})
                else:
                    env = forward_env(model, self.alg, {**self.leaves, wrt: value})
                return Evaluator(model, self.alg, env).eval(of)

            self.cache[key] = np.asarray(jax.jacrev(f)(self.base[wrt]))
        return self.cache[key]

    def derivative(self, ev: Evaluator, e: Expr):
        return arrange(ev, e, self.full(e.args[0], e.attr[0]))
