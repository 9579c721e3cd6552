"""The two oracles. Each evaluates both sides of a claim at random points; they differ in
where the truth of a derivative term comes from.

* exact: the chain-rule program of ``derive.py`` evaluated in exact rational arithmetic,
  transcendental values drawn as independent rationals (a Schwartz–Zippel identity test:
  a wrong claim survives a point with probability about degree / 10^6, and each size set
  uses several points).
* numeric: float64 numpy for the claim, ``jax.jacrev`` of the forward pass for every
  derivative term. The chain-rule program is also lowered to numpy and compared with jax:
  a disagreement there is an internal error, never a verdict.
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

import numpy as np

from . import draws
from .derive import COTANGENT, gradient_program
from .errors import TensorcalcError
from .evaluate import Algebra, Evaluator, arrange, exact_algebra, forward_env, numpy_algebra, unit_cotangents
from .expr import Expr, to_text
from .model import Model

KINK_MARGIN = 1e-3


class _Programs:
    """Chain-rule programs of one model, built once per (of, wrt)."""

    def __init__(self, model: Model):
        self.model = model
        self.cache: dict = {}

    def get(self, e: Expr):
        of, (wrt, _indices, _layout) = e.args[0], e.attr
        key = (to_text(of), wrt)
        if key not in self.cache:
            self.cache[key] = gradient_program(self.model, of, wrt)
        return self.cache[key]


def program_derivative(programs: _Programs):
    """Derivative provider: run the chain-rule program in the evaluator's algebra."""

    def provide(ev: Evaluator, e: Expr):
        prog = programs.get(e)
        model = ev.model
        wrt_shape = model.numeric_shape(prog.wrt_shape)

        def run(cotangent):
            env = dict(ev.env)
            if cotangent is not None:
                env[COTANGENT] = cotangent
            sub = Evaluator(model, ev.alg, env, None, ev.indices)
            for name, expr in prog.steps:
                env[name] = sub.eval(expr)
            return ev.xp.reshape(sub.eval(prog.result), wrt_shape)

        if prog.cotangent is None:
            full = run(None)
        else:
            of_shape = model.numeric_shape(prog.of_shape)
            rows = [run(unit) for _i, unit in unit_cotangents(ev.alg, of_shape)]
            full = ev.xp.stack(rows).reshape(of_shape + wrt_shape)
        return arrange(ev, e, full)

    return provide


@dataclass
class PointValues:
    """Both sides of a claim at one random point, for every assignment of free indices."""

    lhs: list
    rhs: list
    label: str = ""


@dataclass
class NumericValues(PointValues):
    truth_error: float = 0.0  # chain-rule program (numpy) vs jax, largest relative difference
    near_kink: bool = False


def _assignments(ranges: dict[str, int]):
    names = sorted(ranges)
    for values in itertools.product(*(range(1, ranges[n] + 1) for n in names)):
        yield dict(zip(names, values))


def _both_sides(model, alg, env, derivative, lhs, rhs, ranges):
    out_l, out_r = [], []
    for assignment in _assignments(ranges):
        ev = Evaluator(model, alg, env, derivative, assignment)
        out_l.append(ev.eval(lhs))
        out_r.append(ev.eval(rhs))
    return out_l, out_r


def exact_points(model: Model, lhs: Expr, rhs: Expr, ranges: dict, points: int, seed: int) -> list[PointValues]:
    programs = _Programs(model)
    out = []
    for k in range(points):
        rng = random.Random(f"exact:{seed}:{k}")
        for _attempt in range(20):
            alg = exact_algebra(model.functions, seed * 1000 + k)
            leaves = draws.exact_leaves(model, rng)
            try:
                env = forward_env(model, alg, leaves)
            except (ZeroDivisionError, ArithmeticError):
                continue  # a draw on a pole or outside a domain: draw again
            if not _on_kink(model, alg, env, exact=True):
                break
        values = _both_sides(model, alg, env, program_derivative(programs), lhs, rhs, ranges)
        out.append(PointValues(*values, label=f"exact point {k + 1}"))
    return out


def _on_kink(model: Model, alg: Algebra, env: dict, exact: bool) -> bool:
    """Is an argument of a kinked function (relu) at, or numerically near, its kink?"""
    kinked = [n for n in model.functions.formulas if model.functions.is_kinked(n)]
    if not kinked:
        return False
    ev = Evaluator(model, alg, env)
    for expr in model.defs.values():
        for node in _walk(expr):
            if node.op == "apply" and node.attr[0] in kinked:
                arg = np.asarray(ev.eval(node.args[0]), dtype=object if exact else float)
                if exact and any(v == 0 for v in arg.reshape(-1)):
                    return True
                if not exact and np.min(np.abs(arg)) < KINK_MARGIN:
                    return True
    return False


def _walk(e):
    yield e
    for a in e.args:
        yield from _walk(a)


def numeric_points(model: Model, lhs: Expr, rhs: Expr, ranges: dict, trials: int, seed: int) -> list[NumericValues]:
    from . import jaxbackend

    programs = _Programs(model)
    alg = numpy_algebra(model.functions)
    out = []
    for k in range(trials):
        rng = np.random.default_rng([seed, k])
        near_kink = True
        for _attempt in range(20):
            leaves = draws.float_leaves(model, rng)
            with np.errstate(all="ignore"):
                env = forward_env(model, alg, leaves)
                near_kink = _on_kink(model, alg, env, exact=False)
            if not near_kink:
                break
        oracle = jaxbackend.JaxDerivatives(model, leaves)
        lowered = program_derivative(programs)
        errors = []

        def derivative(ev, e):
            truth = np.asarray(oracle.derivative(ev, e))
            mine = np.asarray(lowered(ev, e))
            errors.append(relative_error(mine, truth))
            return truth

        with np.errstate(all="ignore"):
            values = _both_sides(model, alg, env, derivative, lhs, rhs, ranges)
        out.append(NumericValues(*values, label=f"network {k + 1}", truth_error=max(errors, default=0.0), near_kink=near_kink))
    return out


def relative_error(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return float("inf")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("nan")
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(a - b), initial=0.0)) / scale
