"""jax, imported only when the numeric oracle runs: the forward pass in jax.numpy and
``jax.jacrev`` for the derivative terms (float64).

One compiled function per (model, ``of``) gives the derivative of ``of`` with respect
to every leaf and every definition it depends on, at every random network at once
(``vmap`` over networks). A definition's derivative is taken through a zero offset
added to its value, which is the same as differentiating with that definition
replaced by a free variable.

Importing this module changes no jax setting: float64 and the CPU device are asked for
around each computation (``float64_on_cpu``). Fast compiling and the persistent
compilation cache are set up only by the command line (``jaxsetup.py``).
"""
from __future__ import annotations

import math
import warnings
from contextlib import contextmanager

import jax
import jax.numpy as jnp
import numpy as np

from ..core.derive import check_order
from ..core.expr import Expr, free_vars, var, walk
from ..core.model import Model, is_symmetric
from .evaluate import Algebra, Evaluator, arrange, derivative_key, forward_env, free_index_names
from .jaxsetup import discard_all_entries, own_cache_folder


@contextmanager
def float64_on_cpu():
    """float64 and the CPU for the work inside only: a host process's own jax defaults
    (float32, its platform) stay as they are outside."""
    with jax.enable_x64(True), jax.default_device(jax.devices("cpu")[0]):
        yield


def _float64(arrays: list[dict]) -> list[dict]:
    for found in arrays:
        for name, value in found.items():
            if value.dtype != np.float64:
                raise RuntimeError(f"jax computed d/d {name} in {value.dtype}, not float64")
    return arrays


# XLA's CPU backend at optimization level 0 (the command line's fast compiling, jaxsetup.py)
# computes NaN for some programs whose every value is finite (a small batched softmax
# classifier): a program that gives a value that is not finite is compiled again at the
# default level before its networks are dropped as overflowed.
CAREFUL = {"xla_backend_optimization_level": 2}


def run_compiled(function, *args):
    """``jax.jit(function)(*args)``, tracing errors untouched; compiled again with ``CAREFUL``
    options when a value is not finite."""
    out = _run_compiled(function, args, None)
    if all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree_util.tree_leaves(out)):
        return out
    return _run_compiled(function, args, CAREFUL)


def _run_compiled(function, args: tuple, options: dict | None):
    """With tensorcalc's own compilation cache (the command line), a cache entry that does not
    load (truncated) or does not run (another program's) is dropped from the folder, and the
    program compiled anew once."""
    lowered = jax.jit(function).lower(*args)
    folder = own_cache_folder(jax.config.jax_compilation_cache_dir)
    if folder is None:
        return lowered.compile(compiler_options=options)(*args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = jax.block_until_ready(lowered.compile(compiler_options=options)(*args))
        except Exception:  # noqa: BLE001 - whatever a wrong executable raises; the retry compiles afresh
            discard_all_entries(folder)
            jax.clear_caches()
            out = jax.block_until_ready(jax.jit(function).lower(*args).compile(compiler_options=options)(*args))
    for w in caught:
        if "persistent compilation cache" in str(w.message):
            discard_all_entries(folder)  # jax compiled anew already, but would not replace the entry
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


def _ancestors(model: Model, of: Expr) -> set[str]:
    """Names (leaves and definitions) whose value ``of`` depends on, and the variables of the
    derivative terms inside (a definition differentiated by needs its offset)."""
    needed = _names_in(of)
    for name in reversed(list(model.defs)):
        if name in needed:
            needed |= _names_in(model.defs[name])
    return needed


def _names_in(e: Expr) -> set[str]:
    return free_vars(e) | {n.attr[0] for n in walk(e) if n.op == "deriv"}


# Small models (at most this many definition entries, and definitions × (leaves + definitions)
# Jacobian blocks): every derivative in one program. Compiling grows with the number of blocks,
# so larger models get one program per differentiated expression.
GROUP_ENTRIES = 256
GROUP_BLOCKS = 256


class JaxAlgebra(Algebra):
    """float64 arithmetic in jax.numpy (immutable arrays: a unit vector is built, not written)."""

    def __init__(self, functions):
        super().__init__(jnp, functions)

    def unit(self, shape: tuple[int, ...], index: tuple[int, ...]):
        return jnp.zeros(shape).at[index].set(1.0)


class JaxBatch:
    """True derivatives by jax autodiff at a batch of random networks of one model.

    ``full(of, wrt, index_key)`` has axes (network, *of axes, *wrt axes)."""

    def __init__(self, model: Model, leaves: list[dict]):
        self.model = model
        self.alg = JaxAlgebra(model.functions)
        self.count = len(leaves)
        self.leaves = {name: np.stack([np.asarray(t[name], dtype=np.float64) for t in leaves]) for name in leaves[0]}
        self.cache: dict = {}
        self._def_shapes = None

    def def_shapes(self) -> dict[str, tuple]:
        """Shapes of every definition's value (one network), by abstract evaluation."""
        if self._def_shapes is None:
            one = {n: jax.ShapeDtypeStruct(v.shape[1:], v.dtype) for n, v in self.leaves.items()}
            with float64_on_cpu():
                env = jax.eval_shape(lambda lv: {n: v for n, v in forward_env(self.model, self.alg, lv).items() if n in self.model.defs}, one)
            self._def_shapes = {n: s.shape for n, s in env.items()}
        return self._def_shapes

    def full(self, of: Expr, wrt: str, index_key: tuple = ()):
        if of.op == "entry":
            entry = self._entry(of, wrt, index_key)
            if entry is not None:
                return entry
        key = (of, index_key)
        if key not in self.cache and of.op == "var" and of.attr in self.model.defs and not index_key:
            self._every_definition()
        if key not in self.cache:
            self.cache[key] = self._jacobians((of,), dict(index_key))[0]
        found = self.cache[key].get(wrt)
        if found is None:  # ``of`` does not depend on ``wrt``
            return np.zeros((self.count,) + self._numeric(of) + self.model.numeric_shape(self.model.shapes[wrt]))
        return found

    def _numeric(self, e: Expr) -> tuple[int, ...]:
        return self.model.numeric_shape(Evaluator(self.model, self.alg, {}).static(e))

    def _entry(self, of: Expr, wrt: str, index_key: tuple):
        """d X[i, j] / d wrt as a slice of d X / d wrt (one program for every index value);
        None when the indices do not fit (the evaluator then reports it)."""
        inner = of.args[0]
        values = dict(index_key)
        index = [values.get(i) if isinstance(i, str) else i for i in of.attr]
        if any(not isinstance(i, int) for i in index):
            return None
        names = free_index_names(inner)
        full = self.full(inner, wrt, tuple(kv for kv in index_key if kv[0] in names))
        inner_shape = self._numeric(inner)
        wrt_shape = self.model.numeric_shape(self.model.shapes[wrt])
        axes = (math.prod(inner_shape),) if len(index) == 1 and inner_shape else inner_shape
        if len(index) != len(axes) or not all(1 <= i <= n for i, n in zip(index, axes)):
            return None
        full = np.asarray(full).reshape((self.count,) + axes + wrt_shape)
        return full[(slice(None),) + tuple(i - 1 for i in index)]

    def _every_definition(self) -> None:
        """Small models: the derivatives of every definition in one compiled program."""
        names = list(self.model.defs)
        if sum(math.prod(s) for s in self.def_shapes().values()) > GROUP_ENTRIES:
            return
        if len(names) * (len(names) + len(self.leaves)) > GROUP_BLOCKS:
            return
        for name, found in zip(names, self._jacobians(tuple(var(n) for n in names), {})):
            # a zero cotangent times an infinite local derivative of another definition is nan:
            # a non-finite result is recomputed from its own program
            if all(np.all(np.isfinite(v)) for v in found.values()):
                self.cache[(var(name), ())] = found

    def _jacobians(self, ofs: tuple[Expr, ...], indices: dict) -> list[dict]:
        """For each expression in ``ofs``: name -> d of / d name at every network."""
        model = self.model
        needed = set().union(*(_ancestors(model, of) for of in ofs))
        defs = [n for n in model.defs if n in needed]
        leaves = {n: v for n, v in self.leaves.items() if n in needed}
        shapes = self.def_shapes()
        offsets = {n: np.zeros(shapes[n], dtype=np.float64) for n in defs}

        def value(leaf_values, offset_values):
            return self._forward(defs, leaf_values, offset_values, indices, ofs)

        jacobians = jax.vmap(jax.jacrev(value, argnums=(0, 1)), in_axes=(0, None), axis_size=self.count)
        with float64_on_cpu():
            found = run_compiled(jacobians, leaves, offsets)
            out = [{n: np.asarray(v) for n, v in {**by_leaf, **by_def}.items()} for by_leaf, by_def in found]
        for found_one in out:  # a symmetric input: the gradient on symmetric matrices, sym(G) = (G + Gᵀ)/2
            for name in found_one:
                if name in model.leaves and is_symmetric(*model.leaves[name][::2]):
                    found_one[name] = (found_one[name] + np.swapaxes(found_one[name], -1, -2)) / 2
        return _float64(out)

    def _forward(self, defs: list[str], leaf_values: dict, offset_values: dict, indices: dict, ofs: tuple[Expr, ...]):
        """The values of ``ofs`` from the leaves and the offsets of ``defs``; derivative terms
        inside (``d (d f / d x) / d x``, ``g: d f / d x``) by ``jax.jacrev`` of this same function,
        so jax differentiates them again: second derivatives, independent of the chain rule."""
        model, alg = self.model, self.alg

        def nested(ev: Evaluator, e: Expr):
            of, wrt = e.args[0], e.attr[0]
            check_order(model, e)
            key = dict(derivative_key(ev, of))
            reads = _ancestors(model, of) | {wrt}
            inner = [n for n in defs if n in reads]  # not the definition being computed
            by_leaf, by_def = jax.jacrev(lambda lv, ov: self._forward(inner, lv, ov, key, (of,))[0], argnums=(0, 1))(
                leaf_values, offset_values
            )
            full = by_leaf.get(wrt, by_def.get(wrt))
            if full is None:  # ``of`` does not depend on ``wrt``
                full = jnp.zeros(ev.numeric(of) + model.numeric_shape(model.shapes[wrt]))
            elif wrt in model.leaves and is_symmetric(*model.leaves[wrt][::2]):
                full = (full + jnp.swapaxes(full, -1, -2)) / 2
            return arrange(ev, e, full)

        env = dict(leaf_values)
        ev = Evaluator(model, alg, env, nested)
        for name in defs:
            env[name] = ev.evaluate(model.defs[name]) + offset_values[name]
        ev = Evaluator(model, alg, env, nested, indices)
        return tuple(ev.evaluate(of) for of in ofs)


class JaxDerivatives:
    """True derivatives by jax autodiff at one random point, cached per (of, wrt)."""

    def __init__(self, model: Model, leaves: dict):
        self.batch = JaxBatch(model, [leaves])

    def full(self, of: Expr, wrt: str, index_key: tuple = ()):
        return self.batch.full(of, wrt, index_key)[0]

    def derivative(self, ev: Evaluator, e: Expr):
        of = e.args[0]
        return arrange(ev, e, self.full(of, e.attr[0], derivative_key(ev, of)))
