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
import weakref
from dataclasses import dataclass

import numpy as np

from ..core.derive import COTANGENT, gradient_program
from ..core.expr import Expr, applied_functions, walk
from ..core.model import Model
from ..errors import Inconclusive, arithmetic_reason
from . import draws
from .compare import relative_error
from .evaluate import Algebra, Evaluator, arrange, derivative_key, exact_algebra, forward_env, numpy_algebra, unit_cotangents

KINK_MARGIN = 1e-3


class _Programs:
    """Chain-rule programs of one model, built once per (of, wrt)."""

    def __init__(self, model: Model):
        self.model = model
        self.cache: dict = {}

    def get(self, e: Expr):
        of, (wrt, _indices, _layout) = e.args[0], e.attr
        key = (of, wrt)
        if key not in self.cache:
            self.cache[key] = gradient_program(self.model, of, wrt)
        return self.cache[key]


def program_derivative(programs: _Programs):
    """Derivative provider: run the chain-rule program in the evaluator's algebra.

    Values are memoised for the point (the evaluator's ``env``): the full derivative per
    (of, indices of ``of``, wrt), and every adjoint step per (of, cotangent entry, step).
    Programs of one ``of`` share their adjoint steps, so the ``d C / d W[l]`` for every
    ``l`` together cost one backward pass, not one per layer.
    """
    state: dict = {"env": None, "memo": {}}

    def provide(ev: Evaluator, e: Expr):
        if state["env"] is not ev.env:
            state["env"], state["memo"] = ev.env, {}
        memo = state["memo"]
        of, wrt = e.args[0], e.attr[0]
        okey = (of, derivative_key(ev, of))
        full = memo.get((okey, wrt))
        if full is None:
            full = memo[(okey, wrt)] = _run_program(ev, programs.get(e), okey, memo)
        return arrange(ev, e, full)

    return provide


def chain_rule_derivative(model: Model):
    """A derivative provider running the model's (shared) chain-rule programs."""
    return program_derivative(_state(model).programs)


def _run_program(ev: Evaluator, prog, okey, memo: dict):
    """Full derivative (axes of ``of`` then ``wrt``) from the program, reusing memoised steps."""
    model = ev.model
    wrt_shape = model.numeric_shape(prog.wrt_shape)

    def run(cotangent, entry):
        env = dict(ev.env)
        if cotangent is not None:
            env[COTANGENT] = cotangent
        sub = Evaluator(model, ev.alg, env, None, ev.indices, prog.shapes)
        for name, expr in prog.steps:
            key = (okey, entry, name, expr)
            value = memo.get(key)
            if value is None:
                value = memo[key] = sub.evaluate(expr)
            env[name] = value
        return ev.xp.reshape(sub.evaluate(prog.result), wrt_shape)

    if prog.cotangent is None:
        return run(None, None)
    of_shape = model.numeric_shape(prog.of_shape)
    rows = [run(unit, index) for index, unit in unit_cotangents(ev.alg, of_shape)]
    return ev.xp.stack(rows).reshape(of_shape + wrt_shape)


@dataclass
class PointValues:
    """Both sides of a claim at one random point, for every assignment of free indices."""

    lhs: list
    rhs: list


@dataclass
class NumericValues(PointValues):
    truth_error: float = 0.0  # chain-rule program (numpy) vs jax, largest relative difference
    near_kink: bool = False
    scale: float = 0.0  # largest finite magnitude among the network's inputs and forward values

    def negligible(self, a, b) -> bool:
        """Both values are rounding noise next to the network's own magnitudes (a derivative
        that is 0 in exact arithmetic, e.g. of ``sum(softmax(v))``, comes out near 1e-17)."""
        return _negligible(a, b, self.scale)


NOISE = 1e-12  # relative to the network's scale, below which float64 values count as 0


def _negligible(a, b, scale: float) -> bool:
    with np.errstate(all="ignore"):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        largest = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return largest <= NOISE * scale


def _scale(env: dict) -> float:
    """The largest finite magnitude among a network's values (1 when there is none)."""
    sizes = [float(np.max(np.abs(v[np.isfinite(v)]), initial=0.0)) for v in (np.asarray(x, dtype=float) for x in env.values())]
    return max(sizes, default=0.0) or 1.0


def index_assignments(ranges: dict[str, int]):
    """Every assignment of the free indices, each from 1 to its range (1-based, as written)."""
    names = sorted(ranges)
    for values in itertools.product(*(range(1, ranges[n] + 1) for n in names)):
        yield dict(zip(names, values))


def _both_sides(model, alg, env, derivative, lhs, rhs, ranges):
    out_l, out_r = [], []
    for assignment in index_assignments(ranges):
        ev = Evaluator(model, alg, env, derivative, assignment)
        out_l.append(ev.evaluate(lhs))
        out_r.append(ev.evaluate(rhs))
    return out_l, out_r


class _State:
    """What every claim of one model shares: programs, random points and their forward
    values, memoised derivatives. Built on first use, dropped with the model."""

    def __init__(self, model: Model):
        self.model = model
        self.programs = _Programs(model)
        self.exact: dict = {}
        self.numeric: dict = {}

    def exact_points(self, points: int, seed: int) -> list[tuple]:
        key = (points, seed)
        if key not in self.exact:
            self.exact[key] = [self._exact_point(k, seed) for k in range(points)]
        return self.exact[key]

    def _exact_point(self, k: int, seed: int) -> tuple:
        model = self.model
        rng = random.Random(f"exact:{seed}:{k}")
        positive = _kinked(model) and k % 2 == 1  # every other point: all units active
        point, singular = None, None
        for _attempt in range(20):
            alg = exact_algebra(model.functions, seed * 1000 + k)
            leaves = draws.exact_leaves(model, rng, all_positive=positive)
            try:
                env = forward_env(model, alg, leaves)
            except ArithmeticError as err:  # a draw on a pole or outside a domain: draw again
                singular = err
                continue
            point = (alg, env)  # a value and the transcendentals it was computed with
            if not _on_kink(model, alg, env, exact=True):
                break
        if point is None:
            raise Inconclusive(f"the forward pass is undefined at every random exact point ({arithmetic_reason(singular)})")
        return (*point, program_derivative(self.programs))

    def trials(self, trials: int, seed: int) -> "_Trials":
        key = (trials, seed)
        if key not in self.numeric:
            self.numeric[key] = _Trials(self, trials, seed)
        return self.numeric[key]


class _Trials:
    """Random float64 networks of one model: leaves, numpy forward values, the lowered
    chain-rule programs, and jax derivatives for all networks at once (computed lazily)."""

    def __init__(self, state: _State, trials: int, seed: int):
        model = state.model
        self.model = model
        self.alg = numpy_algebra(model.functions)
        self.leaves, self.envs, self.near_kink, self.lowered = [], [], [], []
        for k in range(trials):
            rng = np.random.default_rng([seed, k])
            near_kink = True
            positive = _kinked(model) and k % 2 == 1  # every other network: all units active
            for _attempt in range(20):
                leaves = draws.float_leaves(model, rng, all_positive=positive)
                with np.errstate(all="ignore"):
                    env = forward_env(model, self.alg, leaves)
                    near_kink = _on_kink(model, self.alg, env, exact=False)
                if not near_kink:
                    break
            self._add(state, leaves, env, near_kink)
        if _kinked(model) and trials:  # one more network: the first one mirrored
            leaves = _mirrored(model, self.leaves[0])
            with np.errstate(all="ignore"):
                env = forward_env(model, self.alg, leaves)
                self._add(state, leaves, env, _on_kink(model, self.alg, env, exact=False))
        self._jax = None
        if any(n.op == "deriv" for expr in model.defs.values() for n in walk(expr)):
            self.envs = [self._jax_forward(k) for k in range(len(self.leaves))]

    def _add(self, state: _State, leaves: dict, env: dict, near_kink: bool) -> None:
        self.leaves.append(leaves)
        self.envs.append(env)
        self.near_kink.append(near_kink)
        self.lowered.append(program_derivative(state.programs))

    def _batch(self):
        if self._jax is None:
            from . import jaxbackend

            self._jax = jaxbackend.JaxBatch(self.model, self.leaves)
        return self._jax

    def truth(self, ev: Evaluator, e: Expr, k: int):
        of = e.args[0]
        full = self._batch().full(of, e.attr[0], derivative_key(ev, of))[k]
        return np.asarray(arrange(ev, e, full))

    def _jax_forward(self, k: int) -> dict:
        """Network ``k``'s values with every derivative term of a definition (``g: d f / d x``) from
        jax, as every derivative term of a claim: the numeric oracle never takes the chain rule's word."""
        with np.errstate(all="ignore"):
            return forward_env(self.model, self.alg, self.leaves[k], derivative=lambda ev, e: self.truth(ev, e, k))


_STATES: "weakref.WeakKeyDictionary[Model, _State]" = weakref.WeakKeyDictionary()


def _state(model: Model) -> _State:
    state = _STATES.get(model)
    if state is None:
        state = _STATES[model] = _State(model)
    return state


def exact_points(model: Model, lhs: Expr, rhs: Expr, ranges: dict, points: int, seed: int) -> list[PointValues]:
    out = []
    for k, (alg, env, derivative) in enumerate(_state(model).exact_points(points, seed)):
        values = _both_sides(model, alg, env, derivative, lhs, rhs, ranges)
        out.append(PointValues(*values))
    return out


KINKED_OPS = {"max", "argmax"}  # piecewise like relu (abs, sign and norm1 = sum(abs(x)) apply kinked functions)


def _kinked(model: Model) -> bool:
    """Does the forward pass apply a piecewise function (relu, abs, norm1, max)?"""
    if any(n.op in KINKED_OPS for e in model.defs.values() for n in walk(e)):
        return True
    return any(model.functions.is_kinked(name) for name in applied_functions(*model.defs.values()))


def _mirrored(model: Model, leaves: dict) -> dict:
    """The leaves negated (constrained ones kept): the other side of every kink that a claim
    right only for positive inputs (ones(n) for d norm1(x) / d x) would otherwise pass at."""
    out = dict(leaves)
    for name, (kind, _shape, flags) in model.leaves.items():
        if kind in ("scalar", "vector", "rowvector", "matrix") and "positive" not in flags:
            out[name] = -np.asarray(leaves[name])
    return out


def _on_kink(model: Model, alg: Algebra, env: dict, exact: bool) -> bool:
    """Is an argument of a kinked function (relu) at, or numerically near, its kink?"""
    kinked = [n for n in model.functions.formulas if model.functions.is_kinked(n)]
    if not kinked:
        return False
    ev = Evaluator(model, alg, env)
    for expr in model.defs.values():
        for node in walk(expr):
            if node.op == "apply" and node.attr[0] in kinked:
                arg = np.asarray(ev.evaluate(node.args[0]), dtype=object if exact else float)
                if exact and any(v == 0 for v in arg.reshape(-1)):
                    return True
                if not exact and np.min(np.abs(arg)) < KINK_MARGIN:
                    return True
    return False


def numeric_points(model: Model, lhs: Expr, rhs: Expr, ranges: dict, trials: int, seed: int) -> list[NumericValues]:
    state = _state(model).trials(trials, seed)
    out = []
    for k in range(len(state.leaves)):
        errors = []
        lowered = state.lowered[k]
        with np.errstate(all="ignore"):
            scale = _scale(state.envs[k])

        def derivative(ev, e, k=k, lowered=lowered, errors=errors, scale=scale):
            truth = state.truth(ev, e, k)
            mine = np.asarray(lowered(ev, e))
            errors.append(0.0 if _negligible(mine, truth, scale) else relative_error(mine, truth))
            return truth

        with np.errstate(all="ignore"):
            values = _both_sides(model, state.alg, state.envs[k], derivative, lhs, rhs, ranges)
        out.append(NumericValues(*values, truth_error=max(errors, default=0.0), near_kink=state.near_kink[k], scale=scale))
    return out


def network_leaves(model: Model, trials: int, seed: int) -> list[dict]:
    """The float leaves of the numeric oracle's random networks."""
    return _state(model).trials(trials, seed).leaves


def exact_points_at(model: Model, lhs: Expr, rhs: Expr, ranges: dict, networks: list[dict], seed: int) -> list[PointValues]:
    """Both sides in exact arithmetic at given float networks (a float is a rational
    exactly), so a numeric counterexample can be confirmed by the exact oracle."""
    from fractions import Fraction

    state = _state(model)
    out = []
    for k, leaves in enumerate(networks):
        alg = exact_algebra(model.functions, seed * 1000 + 500 + k)
        exact = {}
        for name, value in leaves.items():
            arr = np.asarray(value, dtype=float)
            exact[name] = np.asarray(np.frompyfunc(Fraction, 1, 1)(arr), dtype=object).reshape(arr.shape)
        try:
            env = forward_env(model, alg, exact)
        except (ZeroDivisionError, ArithmeticError):
            continue
        values = _both_sides(model, alg, env, program_derivative(state.programs), lhs, rhs, ranges)
        out.append(PointValues(*values))
    return out


def point_leaves(model: Model, points: int, seed: int) -> list[dict]:
    """The leaves (exact rationals) of the exact oracle's random points."""
    return [{n: env[n] for n in model.leaves} for _alg, env, _d in _state(model).exact_points(points, seed)]
