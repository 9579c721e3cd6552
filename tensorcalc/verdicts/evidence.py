"""What the two oracles say about one case of a claim, gathered in one place (``gather``), and
what it costs: ``exact_cost`` estimates the exact oracle's work, which runs only below ``EXACT_BUDGET``."""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np

from ..core.expr import Expr, walk
from ..core.model import Model
from ..document import CheckSettings
from ..oracles.compare import exact_equal, numeric_error
from ..oracles.points import chain_rule_derivative, exact_points, exact_points_at, network_leaves, numeric_points, point_leaves
from ..oracles.symbolic import equal_with_true_roots
from .results import EXACT_BUDGET


@dataclass
class Evidence:
    """Both sides at the exact points (empty when the exact oracle was skipped) and at the
    finite numeric networks; ``truth_error`` compares the chain rule with jax."""

    exact: list
    numeric: list
    overflowed: int  # numeric networks with non-finite values, left out
    cost: int  # estimated scalar operations of one exact point
    exact_equal: bool  # at every exact point (true when there is none)
    numeric_error: float  # largest relative error over the numeric networks
    numeric_equal: bool  # numeric_error within rtol, re-checked where every network was degenerate
    truth_error: float
    near_kink: bool
    roots_set_aside: bool = False  # the exact points disagreed through stand-in roots and were dropped


def gather(model: Model, lhs: Expr, rhs: Expr, ranges: dict, settings: CheckSettings, proportional: bool) -> Evidence:
    """Evaluate both sides with both oracles (an ``ArithmeticError`` means the exact points are singular)."""
    seed = settings.seed
    cost = exact_cost(model, lhs, rhs, ranges)
    exact = exact_points(model, lhs, rhs, ranges, settings.exact_points, seed) if cost <= EXACT_BUDGET else []
    all_numeric = numeric_points(model, lhs, rhs, ranges, settings.trials, seed)
    numeric = [p for p in all_numeric if _finite(p)]
    exact_holds = _all_equal(exact, proportional)
    err = max((_numeric_error(p, l, r, proportional) for p in numeric for l, r in zip(p.lhs, p.rhs)), default=0.0)
    numeric_holds = bool(err <= settings.rtol)
    kink = any(getattr(p, "near_kink", False) for p in numeric)
    if exact and exact_holds and not numeric_holds and not kink:
        # piecewise functions (relu) can make every exact point degenerate (all units
        # off): confirm the numeric counterexamples exactly, at the same networks
        bad = [i for i, p in enumerate(all_numeric) if any(p is q for q in numeric) and _point_error(p, proportional) > settings.rtol]
        networks = network_leaves(model, settings.trials, seed)
        confirmed = exact_points_at(model, lhs, rhs, ranges, [networks[i] for i in bad[:2]], seed)
        if not _all_equal(confirmed, proportional):
            exact_holds = False
            exact = exact + confirmed
    if exact and not exact_holds and numeric_holds and not kink and _numeric_differs_at(model, lhs, rhs, ranges, settings, proportional):
        numeric_holds = False  # every random network was degenerate (relu units off); the exact points are not
    set_aside = False
    if exact and not exact_holds and numeric_holds and not kink and not ranges and _takes_roots(model, lhs, rhs):
        # true radicals to 40 digits: the difference is the stand-ins' alone (set aside), or real
        # but below float64's resolution (the exact verdict stands), or unknown (the oracles disagree)
        verdict = equal_with_true_roots(model, lhs, rhs, point_leaves(model, settings.exact_points, seed),
                                        lambda: chain_rule_derivative(model))
        set_aside = verdict is True
        if verdict is False:
            numeric_holds = False
    if set_aside:
        exact, exact_holds = [], True  # its roots are stand-ins (see ``_takes_roots``): numeric evidence only
    truth_error = max((p.truth_error for p in numeric), default=0.0)
    return Evidence(exact, numeric, len(all_numeric) - len(numeric), cost, exact_holds, err, numeric_holds, truth_error, kink,
                    set_aside)


def _takes_roots(model: Model, lhs: Expr, rhs: Expr) -> bool:
    """Does the claim or the forward pass take a root (``norm(a)``, ``sqrt``, ``x^(1/2)``)? The exact
    oracle stands for the root of a non-square rational by a rational w, and w·w is not the radicand:
    there ``norm(a) norm(a) = a^T a`` is exactly false, so where the floats (at its own points too)
    find the sides equal, its "different" may be no evidence: ``equal_with_true_roots`` decides."""
    for e in (*model.defs.values(), lhs, rhs):
        for n in walk(e):
            if n.op == "norm" or (n.op == "apply" and n.attr[0] == "sqrt"):
                return True
            if n.op == "pow" and n.args[1].op == "num" and getattr(n.args[1].attr, "denominator", 1) != 1:
                return True
    return False


def _all_equal(points: list, proportional: bool) -> bool:
    return all(exact_equal(l, r, proportional) for p in points for l, r in zip(p.lhs, p.rhs))


def _point_error(point, proportional: bool) -> float:
    return max(_numeric_error(point, l, r, proportional) for l, r in zip(point.lhs, point.rhs))


def _numeric_error(point, left, right, proportional: bool) -> float:
    """``numeric_error``, 0 where both sides are rounding noise at the network's scale."""
    return 0.0 if point.negligible(left, right) else numeric_error(left, right, proportional)


def exact_cost(model: Model, lhs: Expr, rhs: Expr, ranges: dict) -> int:
    """Estimated scalar operations of one exact point: one forward-sized pass per
    chain-rule run (one run per entry of a non-scalar differentiated expression)."""
    entries, width = _extent(model)
    runs = 1
    for side in (lhs, rhs):
        for n in walk(side):
            if n.op == "deriv":
                of_shape = model.numeric_shape(model.shape(n.args[0]))
                runs += math.prod(of_shape) * max(of_shape, default=1)
    return runs * entries * width * max(1, math.prod(ranges.values()))


_EXTENTS: "weakref.WeakKeyDictionary[Model, tuple[int, int]]" = weakref.WeakKeyDictionary()


def _extent(model: Model) -> tuple[int, int]:
    """(entries of every tensor and definition, widest axis of any shape), computed once per model."""
    if model not in _EXTENTS:
        own = [model.numeric_shape(s) for s in model.shapes.values()]
        _EXTENTS[model] = (sum(math.prod(s) for s in own), max((max(s, default=1) for s in own), default=1))
    return _EXTENTS[model]


def _numeric_differs_at(model, lhs, rhs, ranges, settings, proportional) -> bool:
    """Do the sides differ in float64 (jax for derivative terms) at the exact oracle's points?"""
    from ..explain.diagnose import float_sides  # rarely needed: the exact and numeric oracles disagree

    for leaves in point_leaves(model, settings.exact_points, settings.seed):
        sides = float_sides(model, lhs, rhs, {k: np.asarray(v, dtype=float) for k, v in leaves.items()})
        if sides and max((numeric_error(l, r, proportional) for l, r in zip(*sides)), default=0.0) > settings.rtol:
            return True
    return False


def _finite(p) -> bool:
    """Every value of a numeric network is finite (no overflow to inf, no nan)."""
    with np.errstate(all="ignore"):
        return all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in list(p.lhs) + list(p.rhs)) and p.truth_error == p.truth_error
