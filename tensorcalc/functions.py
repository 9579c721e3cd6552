"""Elementwise scalar functions: each is one sympy formula in ``t``; derivatives come from sympy.

A formula is evaluated by a small walker, never by ``lambdify``/``eval``:
  * on arrays (numpy or jax.numpy) for the numeric oracle and lowered code;
  * exactly on ``Fraction``s for the exact oracle, where every transcendental value
    (``exp(q)``, ``log(q)``, a square root) is an independent random rational kept
    in a ``Transcendentals`` memo, so the same value is used wherever it appears.
"""
from __future__ import annotations

import functools
import random
from fractions import Fraction

import sympy

T = sympy.Symbol("t", real=True)

BUILTINS: dict[str, sympy.Expr] = {
    "sigmoid": 1 / (1 + sympy.exp(-T)),
    "relu": sympy.Max(0, T),
    "tanh": sympy.tanh(T),
    "exp": sympy.exp(T),
    "log": sympy.log(T),
    "softplus": sympy.log(1 + sympy.exp(T)),
    "identity": T,
    "sqrt": sympy.sqrt(T),
}

# Functions with a kink: random points must avoid it (the report says so).
KINKED = {"relu"}


class FunctionTable:
    """Names the file may apply elementwise -> formulas in ``t``."""

    def __init__(self, formulas: dict[str, sympy.Expr] | None = None):
        self.formulas = dict(BUILTINS)
        self.formulas.update(formulas or {})

    def __contains__(self, name: str) -> bool:
        return name in self.formulas

    def formula(self, name: str, order: int = 0) -> sympy.Expr:
        return _derivative(self.formulas[name], order)

    def is_kinked(self, name: str) -> bool:
        formula = self.formulas[name]
        return name in KINKED or formula.has(sympy.Max, sympy.Min, sympy.Abs, sympy.Heaviside, sympy.Piecewise)

    def numeric(self, name: str, order: int, x, xp):
        """Apply the ``order``-th derivative elementwise to array ``x`` with module ``xp``."""
        return _walk_array(self.formula(name, order), x, xp)

    def exact(self, name: str, order: int, x: Fraction, memo: "Transcendentals") -> Fraction:
        return _walk_exact(self.formula(name, order), x, memo)


@functools.lru_cache(maxsize=None)
def _derivative(formula: sympy.Expr, order: int) -> sympy.Expr:
    return sympy.diff(formula, T, order) if order else formula


def _walk_array(f: sympy.Expr, x, xp):
    if f == T:
        return x
    if f.is_Number:
        return float(f) + 0 * x
    args = [_walk_array(a, x, xp) for a in f.args]
    if f.is_Add:
        return functools.reduce(lambda a, b: a + b, args)
    if f.is_Mul:
        return functools.reduce(lambda a, b: a * b, args)
    if f.is_Pow:
        return args[0] ** args[1]
    name = type(f).__name__
    if name == "Max":
        return functools.reduce(xp.maximum, args)
    if name == "Min":
        return functools.reduce(xp.minimum, args)
    if name == "Heaviside":
        return xp.where(args[0] > 0, 1.0, 0.0)
    if name == "DiracDelta":
        return 0 * args[0]
    if name == "Abs":
        return xp.abs(args[0])
    if name in ("exp", "log", "tanh", "sinh", "cosh", "sin", "cos"):
        return getattr(xp, name)(args[0])
    raise ValueError(f"no numeric rule for {name}")


class Transcendentals:
    """Random rational stand-ins for transcendental values, drawn once per argument.

    ``exp(-q) = 1/exp(q)`` and ``log(exp(q)) = q`` are kept; otherwise values are
    independent, which is what makes an exact identity test sound (a claim equal
    to the truth for these independent values is equal for the real ones).
    """

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.exp_of: dict[Fraction, Fraction] = {}
        self.log_of: dict[Fraction, Fraction] = {}
        self.root_of: dict[tuple[Fraction, Fraction], Fraction] = {}

    def _fresh(self) -> Fraction:
        return Fraction(self.rng.randint(1, 10**6), self.rng.randint(1, 10**4))

    def exp(self, q: Fraction) -> Fraction:
        if q == 0:
            return Fraction(1)
        key = abs(q)
        if key not in self.exp_of:
            value = 1 + self._fresh()  # exp(|q|) > 1, as in the reals
            self.exp_of[key] = value
            self.log_of[value] = key
        value = self.exp_of[key]
        return value if q > 0 else 1 / value

    def log(self, x: Fraction) -> Fraction:
        if x <= 0:
            raise ArithmeticError("log of a non-positive number")
        if x == 1:
            return Fraction(0)
        if x < 1:
            return -self.log(1 / x)
        if x not in self.log_of:
            self.log_of[x] = self._fresh()
        return self.log_of[x]

    def root(self, x: Fraction, power: Fraction) -> Fraction:
        """x ** power for a non-integer power: exact when possible, else a memo value."""
        num, den = x.numerator, x.denominator
        k = power.denominator
        rn, rd = _iroot(num, k), _iroot(den, k)
        if rn is not None and rd is not None:
            return Fraction(rn, rd) ** power.numerator
        if x < 0:
            raise ArithmeticError("fractional power of a negative number")
        key = (x, Fraction(1, k))
        if key not in self.root_of:
            self.root_of[key] = self._fresh()
        return self.root_of[key] ** power.numerator


def _iroot(n: int, k: int) -> int | None:
    if n < 0:
        return None
    r = round(n ** (1.0 / k))
    for c in (r - 1, r, r + 1):
        if c >= 0 and c**k == n:
            return c
    return None


def _walk_exact(f: sympy.Expr, x: Fraction, memo: Transcendentals) -> Fraction:
    if f == T:
        return x
    if f.is_Rational:
        return Fraction(int(f.p), int(f.q))
    if f.is_Pow:
        base = _walk_exact(f.args[0], x, memo)
        power = _walk_exact(f.args[1], x, memo)
        if power.denominator == 1:
            return base ** int(power)
        return memo.root(base, power)
    args = [_walk_exact(a, x, memo) for a in f.args]
    if f.is_Add:
        return sum(args, Fraction(0))
    if f.is_Mul:
        return functools.reduce(lambda a, b: a * b, args, Fraction(1))
    name = type(f).__name__
    if name == "exp":
        return memo.exp(args[0])
    if name == "log":
        return memo.log(args[0])
    if name == "tanh":
        e2 = memo.exp(2 * args[0])
        return (e2 - 1) / (e2 + 1)
    if name == "Max":
        return max(args)
    if name == "Min":
        return min(args)
    if name == "Abs":
        return abs(args[0])
    if name == "Heaviside":
        return Fraction(1) if args[0] > 0 else Fraction(0)
    if name == "DiracDelta":
        return Fraction(0)
    raise ArithmeticError(f"no exact rule for {name}")


SYMPY_FUNCTIONS = {"exp": sympy.exp, "log": sympy.log, "tanh": sympy.tanh, "sqrt": sympy.sqrt, "abs": sympy.Abs}
