"""Why a claim fails, in the user's terms: shapes, transposes, constant factors, layouts,
and the first entry where the two sides differ."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from . import shapes as S
from .errors import TensorcalcError
from .expr import Expr, walk
from .layouts import arranged_shape
from .spec import LAYOUTS


def with_layout(expr: Expr, layout: str) -> Expr:
    """The same expression with every derivative term read in ``layout``."""
    args = tuple(with_layout(a, layout) for a in expr.args)
    attr = (expr.attr[0], expr.attr[1], layout) if expr.op == "deriv" else expr.attr
    return Expr(expr.op, args, attr, expr.pos)


def _has_deriv(expr: Expr) -> bool:
    return any(n.op == "deriv" for n in walk(expr))


def _layout_hint(model, lhs: Expr, rhs: Expr) -> str | None:
    from .oracles import exact_points

    if not (_has_deriv(lhs) or _has_deriv(rhs)):
        return None
    for layout in LAYOUTS:
        if layout == model.layout:
            continue
        left, right = with_layout(lhs, layout), with_layout(rhs, layout)
        try:
            if not S.same(model.shape(left), model.shape(right)):
                continue
            point = exact_points(model, left, right, {}, 1, 7)[0]
        except TensorcalcError:
            continue
        if all(np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object)) for a, b in zip(point.lhs, point.rhs)):
            return f"holds in {layout} layout; the file says {model.layout}"
    return None


def diagnose(model, claim, lhs, rhs, scope, shapes=None, exact=None, numeric=None, numeric_error=None) -> str:
    hints = []
    if shapes is not None:
        left, right = shapes
        message = f"shapes differ: left side is {S.fmt(left)}, right side is {S.fmt(right)}"
        if len(left) == len(right) == 2 and S.same(tuple(reversed(left)), right):
            message += " (the shape of the transpose)"
        hints.append(message)
    else:
        left_value = np.asarray(exact[0].lhs[0], dtype=object)
        right_value = np.asarray(exact[0].rhs[0], dtype=object)
        hints.append(_value_hint(left_value, right_value))
    layout = _layout_hint(model, lhs, rhs)
    if layout:
        hints.append(layout)
    if numeric is not None and numeric_error is not None:
        hints.append(f"numeric max rel err {numeric_error:.1e}")
    return "; ".join(h for h in hints if h)


def _value_hint(left: np.ndarray, right: np.ndarray) -> str:
    if left.ndim == 2 and left.shape == right.shape[::-1] and left.shape[0] == left.shape[1] and np.array_equal(left.T, right):
        return "the right side equals the transpose of the left side"
    flat_l, flat_r = left.reshape(-1), right.reshape(-1)
    ratios = {b / a for a, b in zip(flat_l, flat_r) if a != 0}
    zeros_match = all((a == 0) == (b == 0) for a, b in zip(flat_l, flat_r))
    if len(ratios) == 1 and zeros_match:
        (c,) = ratios
        return f"off by a constant factor: right side = {_frac(c)} × left side"
    for index in np.ndindex(*left.shape) if left.shape else [()]:
        if left[index] != right[index]:
            where = f" at entry [{', '.join(str(i + 1) for i in index)}]" if index else ""
            return f"the sides differ{where}: {float(left[index]):.6g} vs {float(right[index]):.6g} (exact point 1)"
    return "the sides differ"


def _frac(c: Fraction) -> str:
    return str(c.numerator) if c.denominator == 1 else f"{c.numerator}/{c.denominator}"


__all__ = ["diagnose", "with_layout", "arranged_shape"]
