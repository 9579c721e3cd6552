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
        value = _array_program(self.formula(name, order))(x, xp)
        return value + 0 * x if isinstance(value, float) else value  # a constant still has x's shape

    def exact(self, name: str, order: int, x: Fraction, memo: "Transcendentals") -> Fraction:
        return _exact_program(self.formula(name, order))(x, memo)


@functools.lru_cache(maxsize=None)
def _derivative(formula: sympy.Expr, order: int) -> sympy.Expr:
    return sympy.diff(formula, T, order) if order else formula


@functools.lru_cache(maxsize=None)
def _array_program(f: sympy.Expr):
    """A formula -> a function (x, xp) -> value, built once (the formula tree is walked once,
    not at every call). Constants stay Python floats and integer powers stay integer, so
    the operations (and a traced jax program) are the formula's own and no more."""
    if f == T:
        return lambda x, xp: x
    if f.is_Number:
        value = float(f)
        return lambda x, xp: value
    args = [_array_program(a) for a in f.args]
    if f.is_Add:
        return lambda x, xp: functools.reduce(lambda a, b: a + b, [g(x, xp) for g in args])
    if f.is_Mul:
        return lambda x, xp: functools.reduce(lambda a, b: a * b, [g(x, xp) for g in args])
    if f.is_Pow:
        base, exponent = args[0], f.args[1]
        if exponent.is_Integer:
            k = int(exponent)
            return lambda x, xp: base(x, xp) ** k
        power = args[1]
        return lambda x, xp: base(x, xp) ** power(x, xp)
    name = type(f).__name__
    if name in _ARRAY_RULES:
        rule = _ARRAY_RULES[name]
        return lambda x, xp: rule(xp, [g(x, xp) for g in args])
    raise ValueError(f"no numeric rule for {name}")


_ARRAY_RULES = {
    "Max": lambda xp, a: functools.reduce(xp.maximum, a),
    "Min": lambda xp, a: functools.reduce(xp.minimum, a),
    "Heaviside": lambda xp, a: xp.where(a[0] > 0, 1.0, 0.0),
    "DiracDelta": lambda xp, a: 0 * a[0],
    "Abs": lambda xp, a: xp.abs(a[0]),
    **{name: (lambda fn: lambda xp, a: getattr(xp, fn)(a[0]))(name) for name in ("exp", "log", "tanh", "sinh", "cosh", "sin", "cos")},
}


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


@functools.lru_cache(maxsize=None)
def _exact_program(f: sympy.Expr):
    """A formula -> a function (x: Fraction, memo) -> Fraction, built once."""
    if f == T:
        return lambda x, memo: x
    if f.is_Rational:
        value = Fraction(int(f.p), int(f.q))
        return lambda x, memo: value
    args = [_exact_program(a) for a in f.args]
    if f.is_Pow:
        base, power = args

        def pow_rule(x, memo):
            b, p = base(x, memo), power(x, memo)
            return b ** int(p) if p.denominator == 1 else memo.root(b, p)

        return pow_rule
    if f.is_Add:
        return lambda x, memo: sum((g(x, memo) for g in args), Fraction(0))
    if f.is_Mul:
        return lambda x, memo: functools.reduce(lambda a, b: a * b, (g(x, memo) for g in args), Fraction(1))
    name = type(f).__name__
    if name not in _EXACT_RULES:
        raise ArithmeticError(f"no exact rule for {name}")
    rule = _EXACT_RULES[name]
    return lambda x, memo: rule(memo, [g(x, memo) for g in args])


def _tanh(memo, a):
    e2 = memo.exp(2 * a[0])
    return (e2 - 1) / (e2 + 1)


_EXACT_RULES = {
    "exp": lambda memo, a: memo.exp(a[0]),
    "log": lambda memo, a: memo.log(a[0]),
    "tanh": _tanh,
    "Max": lambda memo, a: max(a),
    "Min": lambda memo, a: min(a),
    "Abs": lambda memo, a: abs(a[0]),
    "Heaviside": lambda memo, a: Fraction(1) if a[0] > 0 else Fraction(0),
    "DiracDelta": lambda memo, a: Fraction(0),
}


SYMPY_FUNCTIONS = {"exp": sympy.exp, "log": sympy.log, "tanh": sympy.tanh, "sqrt": sympy.sqrt, "abs": sympy.Abs}
