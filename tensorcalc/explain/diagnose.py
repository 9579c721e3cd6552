"""Why a claim fails, in the user's terms.

In order, as far as each applies: shapes that differ (claimed vs true); the claim equals
the transpose of the truth; a constant factor (2, 1/2, -1, 1/N); another layout; a
formula right only when every size is 1; a one-place repair (a factor transposed,
f instead of f', a factor of a product replaced by the true derivative, a missing
factor, a shifted layer index, ...) found by trying the edits of ``mutations.py``;
the smallest sizes where the claim still fails and a concrete float network there;
the correct formula (the smallest confirmed of the repaired claim, the claim rescaled by
its constant factor and the derived formula, ``_correct_line``). Values shown come from float networks (readable numbers).

Every probe is an exact comparison at random rational points (the exact oracle);
the search stops after ``SECONDS`` and reports what it found so far.
"""
from __future__ import annotations

import re
import time
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from ..core import shapes as S
from ..core.expr import Expr, applied_functions, product_factors, walk
from ..core.indices import bound_indices, index_ranges
from ..core.layouts import arranged_shape, effective
from ..core.measure import formula_size
from ..core.model import Model
from ..core.notation import plain
from ..document import LAYOUTS
from ..errors import Inconclusive, Pos, TensorcalcError
from ..frontends.parse import parse
from ..oracles import draws
from ..oracles.evaluate import Evaluator, forward_env, numpy_algebra
from ..oracles.points import index_assignments
from ..verdicts.results import SHOWN_ENTRIES, SideValues
from .formulas import IndexMap, helper_names, true_gradient, with_helper_names
from .mutations import context_of, product, rescaled, side_edits

SECONDS = 6.0  # time budget of the repair and size searches, per failing instance
MAX_PROBES = 400
NETWORK_NUMBERS = 24  # print a concrete network only when it has at most this many numbers
REPAIR_ORDER = ("f' -> f", "f -> f'", "transpose", "shift a layer index", "drop a diag factor", "drop a ⊙ term", "swap two factors")


def with_layout(expr: Expr, layout: str) -> Expr:
    """The same expression with every derivative term read in ``layout``."""
    args = tuple(with_layout(a, layout) for a in expr.args)
    attr = (expr.attr[0], expr.attr[1], layout) if expr.op == "deriv" else expr.attr
    return Expr(expr.op, args, attr, expr.pos)

_NO_ANSWER = (TensorcalcError, ArithmeticError, Inconclusive)  # the claim cannot be evaluated at these sizes or points


# --- probes -------------------------------------------------------------------------------


class _Probe:
    """Exact comparisons of two resolved sides at fixed random points, within a budget."""

    def __init__(self, model, seed: int, seconds: float = SECONDS):
        self.model = model
        self.seed = seed
        self.deadline = time.perf_counter() + seconds
        self.count = 0

    @property
    def spent(self) -> bool:
        return time.perf_counter() > self.deadline or self.count >= MAX_PROBES

    def values(self, lhs: Expr, rhs: Expr, points: int = 1):
        from ..oracles.points import exact_points

        self.count += 1
        return exact_points(self.model, lhs, rhs, _ranges(self.model, lhs, rhs), points, self.seed)

    def equal(self, lhs: Expr, rhs: Expr, points: int = 1) -> bool:
        """Equal at random exact points and, exactly, at the numeric oracle's networks
        (piecewise functions such as relu can make random exact points degenerate)."""
        return bool(self.compare(lhs, rhs, points))

    def compare(self, lhs: Expr, rhs: Expr, points: int = 1) -> bool | None:
        """``equal``, or None when the sides cannot be evaluated (undefined at the points)."""
        from ..oracles.points import exact_points_at, network_leaves

        try:
            if not S.same(self.model.shape(lhs), self.model.shape(rhs)):
                return False
            if not all(_same_values(a, b) for p in self.values(lhs, rhs, points) for a, b in zip(p.lhs, p.rhs)):
                return False
            if not self.kinked:
                return True
            networks = network_leaves(self.model, self.model.spec.check.trials, self.seed)
            at = exact_points_at(self.model, lhs, rhs, _ranges(self.model, lhs, rhs), networks, self.seed)
            return all(_same_values(a, b) for p in at for a, b in zip(p.lhs, p.rhs))
        except _NO_ANSWER:
            return None

    @property
    def kinked(self) -> bool:
        functions = self.model.functions
        return any(functions.is_kinked(n) for n in functions.formulas if n in _used_functions(self.model))


def _used_functions(model) -> set[str]:
    return applied_functions(*model.defs.values())


def _ranges(model, lhs: Expr, rhs: Expr) -> dict:
    ranges = index_ranges(model, lhs, rhs)  # both sides share their indices: one range each
    for bound in bound_indices(lhs) | bound_indices(rhs):
        ranges.pop(bound, None)
    return ranges


def _flat(value) -> np.ndarray:
    return np.asarray(value, dtype=object).reshape(-1)


def _same_values(a, b) -> bool:
    a, b = _flat(a), _flat(b)
    return a.size == b.size and all(x == y for x, y in zip(a, b))


# --- the diagnosis ----------------------------------------------------------------------------


def diagnose(model, claim, lhs, rhs, scope, shapes=None, exact=None, numeric=None, numeric_error=None, found=None) -> str:
    """One line: why ``lhs = rhs`` (resolved in ``model`` at ``scope``) fails; both sides'
    values at the smallest failing sizes (``SideValues``) are appended to the list ``found``."""
    truth_left = lhs.op == "deriv" and rhs.op != "deriv"
    truth_right = rhs.op == "deriv" and lhs.op != "deriv"
    if truth_right:
        true, claimed, claimed_raw, side = rhs, lhs, claim.lhs, "lhs"
    else:
        true, claimed, claimed_raw, side = lhs, rhs, claim.rhs, "rhs"
    knows_truth = truth_left or truth_right
    words = ("claimed", "true") if knows_truth else ("right side", "left side")
    probe = _Probe(model, model.spec.check.seed)
    hints: list[str] = []
    if shapes is not None:
        hints.append(_shape_hint(model, true, claimed, words))
    try:
        other = lambda sizes: _sides_at(model, claim, scope, sizes, side)  # noqa: E731
        factors: list = []
        hints += _value_hints(model, probe, true, claimed, words, shapes is None, other, factors)
        layout = None if claim.latex and _second_derivative(lhs, rhs) else _layout_hint(model, probe, lhs, rhs)
        if layout:
            hints.append(layout)
        elif shapes is None and _holds_at_ones(model, claim, scope):
            hints.append("holds only when every size is 1 (right for scalars, wrong for vectors and matrices)")
        transposed = any("transpose of" in h for h in hints)
        repair = _repair(model, probe, claim, scope, true, claimed_raw, side)
        if repair and not (transposed and repair.whole):
            hints.append(repair.words)
        if shapes is None:
            smallest = _smallest(model, claim, scope, probe, words, side, found)
            if smallest:
                hints.append(smallest)
        if numeric_error is not None:
            hints.append(f"numeric max rel err {numeric_error:.1e}")
        scaled = [rescaled(claimed_raw, *form) for form in factors if form[0] != 0]  # a zero side cannot be rescaled
        correct = _correct_line(model, probe, claim, scope, true, side, repair, scaled, knows_truth)
        if correct:
            hints.append(f"correct: {correct}")
    except TensorcalcError:
        pass
    return "; ".join(h for h in hints if h) or "the sides differ"


def _resolved_at(model, claim, scope: dict, sizes: dict):
    """(model, lhs, rhs): the claim resolved at other sizes (raises when it does not apply there)."""
    other = Model(model.prepared, sizes)
    local = {**other.scope, **{k: v for k, v in scope.items() if k not in model.scope}}
    return other, other.resolve(claim.lhs, local), other.resolve(claim.rhs, local)


def _sides_at(model, claim, scope: dict, sizes: dict, side: str):
    """(model, true, claimed) of the claim resolved at other sizes, or None."""
    try:
        other, lhs, rhs = _resolved_at(model, claim, scope, sizes)
        if not S.same(other.shape(lhs), other.shape(rhs)):
            return None
    except _NO_ANSWER:
        return None
    return (other, rhs, lhs) if side == "lhs" else (other, lhs, rhs)


def _shape_hint(model, true: Expr, claimed: Expr, words) -> str:
    t, c = model.shape(true), model.shape(claimed)
    message = f"shapes differ: {words[0]} {S.fmt(c)}, {words[1]} {S.fmt(t)}"
    if len(t) == len(c) == 2 and S.same(tuple(reversed(t)), c):
        message += " (the shape of the transpose)"
    return message


def _value_hints(model, probe: _Probe, true: Expr, claimed: Expr, words, same_shape: bool, other=None,
                 factors: list | None = None) -> list[str]:
    """Transpose and constant-factor relations between the two sides, at several exact points.
    ``other(sizes)`` gives (model, true, claimed) at another size set: a factor is reported only
    when its form in the file's size names explains the ratio at both size sets (and, when not
    transposed, appended to ``factors`` as (k, N, e): claimed = k N^e × true)."""
    points = probe.values(true, claimed, FACTOR_POINTS)
    t2 = [np.asarray(v, dtype=object) for p in points for v in p.lhs]
    c2 = [np.asarray(v, dtype=object) for p in points for v in p.rhs]
    subject = "the claim" if words[0] == "claimed" else "the right side"
    target = "the truth" if words[0] == "claimed" else "the left side"
    square = all(v.ndim == 2 and v.shape[0] == v.shape[1] for v in t2)
    transposable = all(a.ndim == 2 and a.shape[::-1] == b.shape for a, b in zip(t2, c2))
    if transposable and (not same_shape or square):
        if all(_same_values(a.T, b) for a, b in zip(t2, c2)):
            return [f"{subject} equals the transpose of {target}"]
        c = _ratio([a.T for a in t2], c2)
        factor = _factor_text(model, c, other, transposed=True) if c is not None else None
        factor = factor or (_root_factor_text(model, true, claimed, other, True) if c is None else None)
        if factor:
            return [f"{subject} equals {factor} × the transpose of {target}"]
    if same_shape or all(a.size == b.size for a, b in zip(t2, c2)):
        c = _ratio(t2, c2)
        factor = _factor_text(model, c, other, False, factors) if c is not None and c != 1 else None
        factor = factor or (_root_factor_text(model, true, claimed, other, False) if c is None else None)
        if factor:
            return [f"off by a constant factor: {words[0]} = {factor} × {words[1]}"]
    if same_shape:
        return [_first_difference(model, true, claimed, words)]
    return []


FACTOR_POINTS = 3  # exact points at which a constant ratio must be the same
FACTOR_POWERS = (0, -1, 1, -2, 2)  # a factor is k × N^e for one size name N


def _ratio(truth: list, claimed: list) -> Fraction | None:
    """c with claimed = c × truth entry by entry, if one exists (and truth is not all zero)."""
    ratios = set()
    for a, b in zip(truth, claimed):
        a, b = _flat(a), _flat(b)
        if a.size != b.size:
            return None
        for x, y in zip(a, b):
            if x == 0:
                if y != 0:
                    return None
            else:
                ratios.add(Fraction(y) / Fraction(x))
    return ratios.pop() if len(ratios) == 1 else None


def _factor_text(model, c: Fraction, other, transposed: bool, forms: list | None = None) -> str | None:
    """``c`` written in the file's size names (``2``, ``1/N``, ``2 N``), confirmed at another
    size set when one can be evaluated; None when no such form explains both ratios. The form
    found, (k, N, e) for k × N^e, is appended to ``forms``."""
    form = _factor_form(model, c, other, transposed)
    if form is None:
        return None
    if forms is not None:
        forms.append(form)
    return _form_text(*form)


def _factor_form(model, c: Fraction, other, transposed: bool) -> tuple[Fraction, str | None, int] | None:
    """(k, N, e) with c = k × N^e for one size name N (None and 0 for a plain number)."""
    dims = sorted(d for d in _shape_dims(model) if d in model.sizes)
    bumped = {k: (v + 1 if k in dims else v) for k, v in model.sizes.items()}
    c1 = _ratio_elsewhere(other, bumped, transposed) if dims and other else None
    if c1 is False:
        return None  # the ratio is not constant at the other size set
    forms = [(d, e) for e in FACTOR_POWERS for d in (dims if e else [None])]
    for d, e in forms:
        k = c / Fraction(model.sizes[d]) ** e if d else c
        if c1 is not None and (k * Fraction(bumped[d]) ** e if d else k) != c1:
            continue
        if c1 is None and d and abs(k) != 1:
            continue  # one size set only: prefer a plain number unless the size explains it alone
        if c1 is None and not d and k.denominator > 2 and any(model.sizes[x] == abs(k.denominator) for x in dims):
            continue
        return k, d, e
    return None


ROOT_POWERS = (Fraction(-1, 2), Fraction(1, 2))  # a factor k × sqrt(N)^±1 (attention's 1/sqrt(dk))


def _root_factor_text(model, true: Expr, claimed: Expr, other, transposed: bool) -> str | None:
    """A constant ratio involving the square root of a size (``1/sqrt(dk)``), which the exact
    oracle cannot see (its roots are stand-in values): found in float64 at two networks and
    confirmed at a second size set; None when no such form explains both ratios."""
    dims = sorted(d for d in _shape_dims(model) if d in model.sizes)
    c = _float_ratio(model, true, claimed, transposed) if dims and other else None
    if c is None:
        return None  # most differences: not a constant factor, decided without a second size set
    bumped = {k: (v + 1 if k in dims else v) for k, v in model.sizes.items()}
    found = other(bumped)
    c1 = _float_ratio(*found, transposed) if found is not None else None
    if c1 is None:
        return None
    for d in dims:
        for e in ROOT_POWERS:
            k = Fraction(c / model.sizes[d] ** float(e)).limit_denominator(12)
            if k and abs(float(k) * model.sizes[d] ** float(e) - c) <= 1e-9 * abs(c) \
                    and abs(float(k) * bumped[d] ** float(e) - c1) <= 1e-9 * abs(c1):
                root = f"sqrt({d})"
                if e > 0:
                    return root if k == 1 else f"{_form_text(k, None, 0)} {root}"
                return f"{k.numerator}/{root}" if k.denominator == 1 else f"{k.numerator}/({k.denominator} {root})"
    return None


def _float_ratio(model, true: Expr, claimed: Expr, transposed: bool) -> float | None:
    """c with claimed = c × truth in float64 at two random networks, or None."""
    ratios = []
    for k in (0, 1):
        sides = _float_sides(model, true, claimed, _float_leaves(model, k))
        if sides is None:
            return None
        for t, c in zip(*sides):
            t, c = (t.T if transposed else t).reshape(-1), c.reshape(-1)
            if t.size != c.size:
                return None
            seen = np.abs(t) > 1e-12
            if not seen.any() or np.any(np.abs(c[~seen]) > 1e-12):
                return None
            ratios += list(c[seen] / t[seen])
    return ratios[0] if np.allclose(ratios, ratios[0], rtol=1e-9, atol=0) else None


def _ratio_elsewhere(other, sizes: dict, transposed: bool):
    """The constant ratio at ``sizes`` (a Fraction), False when it is not constant, None when
    the claim cannot be evaluated there."""
    try:
        found = other(sizes)
        if found is None:
            return None
        model, true, claimed = found
        points = _Probe(model, model.spec.check.seed).values(true, claimed, FACTOR_POINTS)
    except _NO_ANSWER:
        return None
    t2 = [np.asarray(v, dtype=object) for p in points for v in p.lhs]
    c2 = [np.asarray(v, dtype=object) for p in points for v in p.rhs]
    if transposed:
        t2 = [a.T for a in t2]
    c = _ratio(t2, c2)
    return False if c is None else c


def _form_text(k: Fraction, d: str | None, e: int) -> str:
    if not d or e == 0:
        return str(k.numerator) if k.denominator == 1 else f"{k.numerator}/{k.denominator}"
    power = d if abs(e) == 1 else f"{d}^{abs(e)}"
    if e > 0:
        return power if k == 1 else f"-{power}" if k == -1 else f"{_form_text(k, None, 0)} {power}"
    return f"{k.numerator}/{power}" if k.denominator == 1 else f"{k.numerator}/({k.denominator} {power})"


def _first_difference(model, true: Expr, claimed: Expr, words) -> str:
    """The first entry where the sides differ, with float values from a random network."""
    sides = _float_sides(model, true, claimed, _float_leaves(model, 0))
    if sides is None:
        return "the sides differ"
    for t, c in zip(*sides):
        t, c = np.asarray(t, dtype=float), np.asarray(c, dtype=float)
        if t.size != c.size:
            continue
        t, c = (t, c.reshape(t.shape)) if t.ndim >= c.ndim else (t.reshape(c.shape), c)  # a scalar and a 1×1 matrix
        diff = np.abs(t - c) > 1e-9 * max(1.0, float(np.max(np.abs(t), initial=0.0)))
        if np.any(diff):
            index = tuple(int(i) for i in np.argwhere(diff)[0]) if diff.ndim else ()
            where = f" at entry [{', '.join(str(i + 1) for i in index)}]" if index else ""
            shown_c, shown_t = _distinct(c[index], t[index])
            return f"the sides differ{where}: {words[0]} {shown_c}, {words[1]} {shown_t} (random network 1)"
    return "the sides differ"


def _second_derivative(*sides: Expr) -> bool:
    """A derivative term inside another: in LaTeX it is read the same in every layout
    (the Cookbook's ∂²f/∂x∂yᵀ), so no other layout would make the claim hold."""
    return any(n.op == "deriv" and any(m.op == "deriv" for m in walk(n.args[0])) for side in sides for n in walk(side))


def _layout_hint(model, probe: _Probe, lhs: Expr, rhs: Expr) -> str | None:
    if not any(n.op == "deriv" for side in (lhs, rhs) for n in walk(side)):
        return None
    for layout in LAYOUTS:
        if layout == model.layout:
            continue
        if probe.equal(with_layout(lhs, layout), with_layout(rhs, layout)):
            return f"holds in {layout} layout; the file says {model.layout}"
    return None


# --- other sizes -------------------------------------------------------------------------------


def _shape_dims(model) -> set[str]:
    """Dimension names that size some tensor (not, e.g., the depth L)."""
    used = set()
    for shape in model.shapes.values():
        for d in shape:
            used |= {str(s) for s in getattr(d, "free_symbols", ())}
    return used


def _fails_at(model, claim, scope: dict, sizes: dict) -> bool | None:
    """Does the claim fail at ``sizes`` (None: it does not apply there)?"""
    try:
        other, lhs, rhs = _resolved_at(model, claim, scope, sizes)
        if not S.same(other.shape(lhs), other.shape(rhs)):
            return True
        equal = _Probe(other, model.spec.check.seed).compare(lhs, rhs)
        return None if equal is None else not equal
    except _NO_ANSWER:
        return None


def _holds_at_ones(model, claim, scope: dict) -> bool:
    dims = _shape_dims(model)
    if not dims:
        return False
    ones = {k: (1 if k in dims else v) for k, v in model.sizes.items()}
    return ones != model.sizes and _fails_at(model, claim, scope, ones) is False


def _smallest(model, claim, scope: dict, probe: _Probe, words, side: str, found: list | None = None) -> str | None:
    """Greedily lower each size while the claim still fails; show a network there (and put
    both sides' values there, ``SideValues``, in ``found``)."""
    sizes = dict(model.sizes)
    for key in sorted(sizes, key=lambda k: (k != "L", k)):
        for value in range(1, sizes[key]):
            if probe.spent:
                break
            trial = {**sizes, key: value}
            probe.count += 1
            if _fails_at(model, claim, scope, trial):
                sizes = trial
                break
    small = Model(model.prepared, sizes)
    dims = _shape_dims(small)
    shown = {k: v for k, v in sizes.items() if "[" not in k or k in dims}
    shown.update({k: v for k, v in scope.items() if k not in model.scope})
    text = "fails already at " + ", ".join(f"{k}={v}" for k, v in shown.items())
    network = _small_network(small, claim, scope, side)
    if network is None:
        return text
    leaves, claimed, true = network
    values = side_values(shown, words, claimed, true)
    if found is not None and values is not None:
        found.append(values)
    if sum(np.size(v) for v in leaves.values()) > NETWORK_NUMBERS:
        return text
    given = ", ".join(f"{name}={_array(v)}" for name, v in leaves.items())
    shown_claimed, shown_true = _distinct(claimed, true)
    return text + f", e.g. at {given}: {words[0]} {shown_claimed}, {words[1]} {shown_true}"


def _small_network(model, claim, scope: dict, side: str):
    """(leaves, claimed value, true value) at the first rounded random network and index
    assignment where the sides differ, or None."""
    local = {**model.scope, **{k: v for k, v in scope.items() if k not in model.scope}}
    try:
        lhs, rhs = model.resolve(claim.lhs, local), model.resolve(claim.rhs, local)
    except TensorcalcError:
        return None
    for k in range(5):
        leaves = _float_leaves(model, k, rounded=True)
        sides = _float_sides(model, lhs, rhs, leaves)
        if sides is None:
            continue
        left, right = sides
        if side == "rhs":
            left, right = right, left  # the claimed side first
        for a, b in zip(left, right):
            if np.shape(a) != np.shape(b) or not np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-9):
                return leaves, a, b
    return None


def side_values(sizes: dict, words, claimed, true) -> SideValues | None:
    """Both values as ``SideValues`` (whole when each has at most ``SHOWN_ENTRIES`` entries),
    None when they do not have the same number of entries."""
    c, t = np.asarray(claimed, dtype=float), np.asarray(true, dtype=float)
    if c.size != t.size or c.size == 0:
        return None
    c, t = (c.reshape(t.shape), t) if t.ndim >= c.ndim else (c, t.reshape(c.shape))  # a scalar and a 1×1 matrix
    with np.errstate(all="ignore"):
        differs = ~(np.abs(c - t) <= 1e-9 * max(1.0, float(np.nanmax(np.abs(t), initial=0.0))))
    index = tuple(int(i) for i in np.argwhere(differs)[0]) if np.any(differs) else (0,) * c.ndim
    whole = (_rows(c), _rows(t)) if c.size <= SHOWN_ENTRIES and c.ndim <= 2 else None
    return SideValues(dict(sizes), (words[0], words[1]), tuple(int(n) for n in c.shape), tuple(i + 1 for i in index),
                      (float(c[index]), float(t[index])), _digits_to_tell(c[index], t[index]), whole)


def _rows(a: np.ndarray) -> list:
    """A scalar, vector (a column) or matrix as rows of floats."""
    if a.ndim == 0:
        return [[float(a)]]
    if a.ndim == 1:
        return [[float(x)] for x in a]
    return a.tolist()


def _float_leaves(model, k: int, rounded: bool = False) -> dict:
    leaves = draws.float_leaves(model, np.random.default_rng([model.spec.check.seed, 7919, k]))
    if rounded:
        for name, (kind, _shape, flags) in model.leaves.items():
            if kind in ("scalar", "vector", "rowvector", "matrix"):
                v = np.array(np.round(leaves[name], 1), dtype=float)  # 0-d for scalars
                v[v == 0] = 0.1
                leaves[name] = np.abs(v) if "positive" in flags else v
    return leaves


def _float_sides(model, lhs: Expr, rhs: Expr, leaves: dict):
    """Both sides in float64 at given leaves (derivative terms from jax)."""
    from ..oracles import jaxbackend
    alg = numpy_algebra(model.functions)
    try:
        with np.errstate(all="ignore"):
            env = forward_env(model, alg, leaves)
            oracle = jaxbackend.JaxDerivatives(model, leaves)
            left, right = [], []
            for assignment in index_assignments(_ranges(model, lhs, rhs)):
                ev = Evaluator(model, alg, env, lambda e_, d: np.asarray(oracle.derivative(e_, d)), assignment)
                left.append(np.asarray(ev.evaluate(lhs), dtype=float))
                right.append(np.asarray(ev.evaluate(rhs), dtype=float))
        return left, right
    except (TensorcalcError, ArithmeticError, ValueError):
        return None


def _num(x: float, digits: int = 4) -> str:
    return f"{float(x):.{digits}g}"


def _distinct(a, b) -> tuple[str, str]:
    """Two values printed with the fewest significant digits (at least 4) that tell them apart."""
    digits = _digits_to_tell(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    return _array(a, digits), _array(b, digits)


def _digits_to_tell(a: np.ndarray, b: np.ndarray) -> int:
    for digits in range(4, 18):
        if a.shape != b.shape or any(_num(x, digits) != _num(y, digits) for x, y in zip(a.reshape(-1), b.reshape(-1))):
            return digits
    return 17


def _array(v, digits: int = 4) -> str:
    a = np.asarray(v, dtype=float)
    if a.size == 1:
        return _num(a.reshape(-1)[0], digits)
    if a.ndim == 2 and 1 in a.shape:
        inner = ", ".join(_num(x, digits) for x in a.reshape(-1))
        return f"[{inner}]" + ("ᵀ" if a.shape[0] == 1 else "")
    if a.ndim == 2:
        return "[" + "; ".join(", ".join(_num(x, digits) for x in row) for row in a) + "]"
    return "[" + ", ".join(_num(x, digits) for x in a.reshape(-1)) + "]"


# --- repairs ------------------------------------------------------------------------------------


class Repair(NamedTuple):
    """A one-place edit of the claimed side that makes the claim hold."""

    words: str  # what the edit did, in the file's notation
    lhs: Expr  # the corrected claim's raw sides
    rhs: Expr
    fixed: Expr  # the edited side (raw)
    whole: bool  # the edit transposes the whole side

    @property
    def text(self) -> str:
        return f"{_side_text(self.lhs)} = {_side_text(self.rhs)}"


def _repair(model, probe: _Probe, claim, scope: dict, true: Expr, claimed_raw: Expr, side: str) -> Repair | None:
    """A one-place edit of the claimed side that makes the claim hold."""
    ctx = context_of(model.prepared)
    other_raw = claim.lhs if side == "rhs" else claim.rhs
    candidates = []
    edits = side_edits(side, claimed_raw, ctx)
    rank = {k: i for i, k in enumerate(REPAIR_ORDER)}
    for edit in sorted(edits, key=lambda e: rank.get(e.kind, len(rank))):
        if edit.kind in rank:
            candidates.append((_edit_words(edit), edit.expr))
    candidates += _factor_candidates(model, scope, claimed_raw)
    for words, raw in candidates:
        if probe.spent:
            return None
        try:
            fixed = model.resolve(raw, scope)
        except TensorcalcError:
            continue
        if probe.equal(true, fixed, points=2):
            lhs_raw, rhs_raw = (other_raw, raw) if side == "rhs" else (raw, other_raw)
            whole = words.startswith("holds with") and edits_whole(raw, claimed_raw)
            return Repair(words, lhs_raw, rhs_raw, raw, whole)
    return None


def edits_whole(fixed: Expr, claimed: Expr) -> bool:
    """The repair transposes the whole side (already reported as 'the transpose of the truth')."""
    return (fixed.op == "T" and fixed.args[0] == claimed) or (claimed.op == "T" and claimed.args[0] == fixed)


def _side_text(raw: Expr) -> str:
    text = _pretty(raw)
    return text[1:-1] if raw.op == "deriv" and text.startswith("(") and text.endswith(")") else text


def _edit_words(edit) -> str:
    if edit.kind == "swap two factors":
        return f"holds with two factors swapped: {_pretty_text(edit.after)}"
    if edit.kind == "transpose":
        return f"holds with {_pretty_text(edit.before)} transposed"
    return f"holds with {_pretty_text(edit.before)} replaced by {_pretty_text(edit.after)}"


def _pretty_text(text: str) -> str:
    try:
        return _pretty(parse(text, "def_line", Pos())[0])
    except TensorcalcError:
        return text


def _one_step_derivatives(model) -> list[Expr]:
    """Raw terms ``d u / d v`` for every definition u and every name v it uses directly."""
    out = []
    for name, expr in model.defs.items():
        used = [n.attr for n in walk(expr) if n.op == "var" and n.attr != name]
        for v in dict.fromkeys(used):
            out.append(Expr("deriv", (Expr("name", (), name), Expr("name", (), v)), None))
    return out


def _shape_or_none(model, raw: Expr, scope: dict):
    """The shape of a raw expression, or None where it does not resolve or type-check."""
    try:
        return model.shape(model.resolve(raw, scope))
    except TensorcalcError:
        return None


def _factor_candidates(model, scope: dict, claimed_raw: Expr) -> list[tuple[str, Expr]]:
    """A factor of the product replaced by a one-step true derivative, or one inserted."""
    factors = product_factors(claimed_raw)
    terms = _one_step_derivatives(model)
    out = []
    shapes = [_shape_or_none(model, f, scope) for f in factors]
    term_shapes = [_shape_or_none(model, t, scope) for t in terms]
    if len(factors) > 1:
        for i, (f, fs) in enumerate(zip(factors, shapes)):
            for t, ts in zip(terms, term_shapes):
                if fs is not None and ts is not None and S.same(fs, ts) and f != t:
                    new = product(factors[:i] + [t] + factors[i + 1 :], claimed_raw.pos)
                    out.append((f"factor {i + 1} of the product, {_pretty(f)}, is wrong: {_pretty(t)} in its place makes it hold", new))
    for i in range(len(factors) + 1):
        for t, ts in zip(terms, term_shapes):
            if ts is None or len(ts) != 2 or not S.same((ts[0],), (ts[1],)):
                continue  # only square terms can be inserted without changing the shape
            new = product(factors[:i] + [t] + factors[i:], claimed_raw.pos)
            where = "at the end" if i == len(factors) else f"before {_pretty(factors[i])}"
            out.append((f"a factor is missing: inserting {_pretty(t)} {where} makes it hold", new))
    return out


# --- printing formulas ---------------------------------------------------------------------------


def _pretty(raw: Expr) -> str:
    """A raw tree in the file's notation with few parentheses."""
    return plain(_as_resolved(raw))


def _as_resolved(e: Expr) -> Expr:
    args = tuple(_as_resolved(a) for a in e.args)
    if e.op == "name":
        return Expr("var", (), e.attr, e.pos)
    if e.op == "call" and e.attr in ("ones", "zeros", "eye"):  # sizes as written: ones(n), not ones(None)
        return Expr(e.attr, (), tuple(plain(a) for a in args), e.pos)
    if e.op == "call":
        return Expr(e.attr, args, None, e.pos)
    if e.op == "deriv" and e.attr is None:
        top, bottom = args
        return Expr("deriv", (top,), (bottom.attr if bottom.op == "var" else _pretty(bottom), (), None), e.pos)
    return Expr(e.op, args, e.attr, e.pos)


def _correct_line(model, probe: _Probe, claim, scope: dict, true: Expr, side: str, repair: Repair | None,
                  scaled: list[Expr], knows_truth: bool) -> str | None:
    """The corrected claim: the smallest (``formula_size``, then fewest layer numbers) of the
    repaired claim, the claimed side rescaled by the constant factor it is off by, and the
    claim's true side = its derived formula, each confirmed equal to the truth (the repair by
    ``_repair``, the others here); on a tie the first, in the claim's own words."""
    sides = ([repair.fixed] if repair else []) + [raw for raw in scaled if _confirmed_raw(model, probe, scope, true, raw)]
    options = [(_printed_size(_pretty(raw), raw), _layer_numbers(raw), i, _claim_text(claim, side, raw))
               for i, raw in enumerate(sides)]
    derived = _derived_rhs(model, true) if knows_truth else None
    if derived is not None and probe.equal(true, derived):
        shown = _as_claim_indices(model, scope, with_helper_names(derived, helper_names(model.prepared, true.attr[2])))
        true_raw = claim.rhs if side == "lhs" else claim.lhs
        text = plain(shown)
        options.append((_printed_size(text, shown), _layer_numbers(shown), len(options), f"{_side_text(true_raw)} = {text}"))
    return min(options)[3] if options else None


def _printed_size(text: str, formula: Expr) -> int:
    """``formula_size`` of a formula as printed (``text``) and read back, so raw and resolved
    trees are measured alike (they can spell ``-x`` or ``1/N`` with different nodes)."""
    try:
        return formula_size(parse(text, "def_line", Pos())[0])
    except TensorcalcError:
        return formula_size(formula)


def _confirmed_raw(model, probe: _Probe, scope: dict, true: Expr, raw: Expr) -> bool:
    try:
        return probe.equal(true, model.resolve(raw, scope), points=2)
    except TensorcalcError:
        return False


def _claim_text(claim, side: str, raw: Expr) -> str:
    """The claim with its ``side`` replaced by the raw tree ``raw``."""
    lhs, rhs = (raw, claim.rhs) if side == "lhs" else (claim.lhs, raw)
    return f"{_side_text(lhs)} = {_side_text(rhs)}"


_LAYER_NUMBER = re.compile(r"\[-?\d+\]")


def _layer_numbers(formula: Expr) -> int:
    """How many names carry a number as a layer index (``W[2]``) where notes write ``W[l]``."""
    return sum(1 for n in walk(formula) if n.op in ("name", "var") and _LAYER_NUMBER.search(n.attr))


def _derived_rhs(model, true: Expr) -> Expr | None:
    """The true value of a derivative term of a scalar as a resolved formula (chain rule, made
    readable), or None where there is none in matrix form."""
    of, (wrt, indices, layout) = true.args[0], true.attr
    if _is_hessian(model, true):
        from .hessian import hessian_formula

        return hessian_formula(model, of.args[0], wrt, layout)
    if indices or not S.is_scalar(model.shape(of)):
        return None
    return true_gradient(model, of, wrt, effective(layout, ()))


def _as_claim_indices(model, scope: dict, formula: Expr) -> Expr:
    """Layer members of one instance (``W[2]``) written as a claim over layers writes them:
    relative to its layer index l (``W[l+1]``) or else to the depth (``W[L]``); at this
    instance both read the same tensors."""
    if not model.depth:
        return formula
    loop = {k: v for k, v in scope.items() if k not in model.scope and isinstance(v, int)}
    anchor = loop.get("l")
    return IndexMap(anchor, model.depth).expr(formula, anchor is not None)


def _is_hessian(model, term: Expr) -> bool:
    """d (d f / d x) / d x for a scalar f and a vector (or scalar) x."""
    of, (wrt, indices, _layout) = term.args[0], term.attr
    if indices or of.op != "deriv" or of.attr[0] != wrt or of.attr[1]:
        return False
    return S.is_scalar(model.shape(of.args[0])) and S.is_vector(model.shapes[wrt])


__all__ = ["diagnose", "with_layout", "arranged_shape"]


def diagnose_ill_formed(model, claim, scope, message: str) -> str:
    """A claim whose side does not type-check: the shape error, and a repair if one exists."""
    hints = [f"ill-formed: {message}"]
    try:
        lhs = model.resolve(claim.lhs, scope)
        if lhs.op == "deriv":
            model.shape(lhs)
            probe = _Probe(model, model.spec.check.seed)
            repair = _repair(model, probe, claim, scope, lhs, claim.rhs, "rhs")
            correct = _correct_line(model, probe, claim, scope, lhs, "rhs", repair, [], True)
            hints += ([repair.words] if repair else []) + ([f"correct: {correct}"] if correct else [])
    except TensorcalcError:
        pass
    return "; ".join(hints)
float_sides = _float_sides  # both sides in float64 at given leaves (check.py re-checks exact counterexamples)
