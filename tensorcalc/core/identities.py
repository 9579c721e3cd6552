"""Derivative identities of the elementwise functions, read off their sympy formulas.

Every function in the table (``FunctionTable``: the built-ins and the file's own ``functions:``)
is one sympy formula ``F(t)``; its derivative ``F'(t)`` is rewritten, when possible, in terms
that read like the notes:

  form                            example
  another function of the table   softplus'(t) = sigmoid(t),  exp'(t) = exp(t)
  a polynomial of degree <= 2     sigmoid'(t) = sigmoid(t) (1 - sigmoid(t)),  tanh'(t) = 1 - tanh(t)^2
  in the function's own value
  a rational function of t        log'(t) = 1/t

The identity is a sympy expression in ``T`` (the argument) and ``Function(name)(T)`` (a value of
a table function), found from the formula already parsed (never from text) and confirmed by
``sympy.simplify``. Functions with none (relu, abs, sqrt) keep their primed name.
"""
from __future__ import annotations

import functools
from fractions import Fraction

import sympy

from .functions import T, FunctionTable

SAMPLES = (sympy.Rational(3, 10), sympy.Rational(7, 10), sympy.Rational(11, 10))  # away from kinks at 0
MAX_DENOMINATOR = 12


def derivative_identity(table: FunctionTable, name: str) -> sympy.Expr | None:
    """``name'(T)`` as a sympy expression in ``T`` and table functions applied to ``T``, or None."""
    others = tuple(sorted((n, f) for n, f in table.formulas.items() if n != name))
    return _identity(name, table.formulas[name], others)


@functools.lru_cache(maxsize=256)
def _identity(name: str, formula: sympy.Expr, others: tuple) -> sympy.Expr | None:
    slope = sympy.diff(formula, T)
    if slope.has(sympy.Heaviside, sympy.DiracDelta, sympy.sign, sympy.Piecewise, sympy.Max, sympy.Min, sympy.Abs):
        return None
    own = (_as_own_polynomial(name, formula, slope), _in_own_value(name, formula, slope))
    found = [f for f in (_as_other_function(slope, others), *own) if f is not None]
    if slope.is_rational_function(T):
        found.append(slope)
    return min(found, key=sympy.count_ops) if found else None


def _equal(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Equal as functions of T: a numeric screen at the sample points, then sympy.simplify."""
    try:
        if any(abs(complex((a - b).subs(T, t).evalf())) > 1e-9 for t in SAMPLES):
            return False
    except (TypeError, ValueError):
        return False
    return sympy.simplify(a - b) == 0


def _as_other_function(slope: sympy.Expr, others: tuple) -> sympy.Expr | None:
    for other, formula in others:
        if formula != T and formula.has(T) and _equal(slope, formula):
            return sympy.Function(other)(T)
    return None


def _as_own_polynomial(name: str, formula: sympy.Expr, slope: sympy.Expr) -> sympy.Expr | None:
    """``slope = a + b F + c F^2`` with small rational a, b, c (fitted at three points, then proved)."""
    if formula.is_polynomial(T):
        return None  # a polynomial's derivative reads best in t itself
    try:
        rows = [[1, float(formula.subs(T, t)), float(formula.subs(T, t)) ** 2] for t in SAMPLES]
        rhs = [float(slope.subs(T, t)) for t in SAMPLES]
        coefficients = _solve3(rows, rhs)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if coefficients is None:
        return None
    value = sympy.Function(name)(T)
    a, b, c = (sympy.Rational(Fraction(x).limit_denominator(MAX_DENOMINATOR)) for x in coefficients)
    if b == 0 and c == 0:
        return None
    candidate = a + b * value + c * value**2
    return candidate if _equal(slope, candidate.subs(value, formula)) else None


def _in_own_value(name: str, formula: sympy.Expr, slope: sympy.Expr) -> sympy.Expr | None:
    """``slope`` written in the function's value where it appears whole: sqrt'(t) = 1/(2 sqrt(t))."""
    if formula.is_polynomial(T) or not formula.has(T):
        return None
    value = sympy.Function(name)(T)
    candidate = slope.subs(formula, value)
    if T in candidate.subs(value, sympy.Symbol("_value")).free_symbols:
        return None
    return candidate if _equal(slope, candidate.subs(value, formula)) else None


def _solve3(rows: list[list[float]], rhs: list[float]) -> list[float] | None:
    """Gaussian elimination for a 3×3 system (None when singular)."""
    m = [row[:] + [r] for row, r in zip(rows, rhs)]
    for i in range(3):
        pivot = max(range(i, 3), key=lambda k: abs(m[k][i]))
        if abs(m[pivot][i]) < 1e-12:
            return None
        m[i], m[pivot] = m[pivot], m[i]
        for k in range(3):
            if k != i:
                factor = m[k][i] / m[i][i]
                m[k] = [x - factor * y for x, y in zip(m[k], m[i])]
    return [m[i][3] / m[i][i] for i in range(3)]
