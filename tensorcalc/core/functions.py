"""Elementwise scalar functions: each is one sympy formula in ``t``; derivatives come from sympy.

A formula is run by one walker (``formula_program``), never by ``lambdify``/``eval``, in one of
four interpretations (``ARRAY``, ``EXACT``, ``SYMBOLIC``, ``CODE``). What each sympy function
head (``exp``, ``Max``, ...) means in each interpretation is one row of ``HEADS``:
  * array: numpy or jax.numpy arrays, for the numeric oracle and lowered programs;
  * exact: ``Fraction``s for the exact oracle (and sympy values for the symbolic proof), where
    every transcendental value (``exp(q)``, ``log(q)``, ``sin(q)``, a root) comes from a memo of
    independent random stand-ins (``Transcendentals``), the same value wherever it appears;
  * code: numpy source text for emitted modules.
"""
from __future__ import annotations

import functools
import math
import operator
import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

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
    "sin": sympy.sin(T),
    "cos": sympy.cos(T),
    "abs": sympy.Abs(T),
    "sign": sympy.sign(T),
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
        return name in KINKED or formula.has(sympy.Max, sympy.Min, sympy.Abs, sympy.sign, sympy.Heaviside, sympy.Piecewise)

    def numeric(self, name: str, order: int, x, xp):
        """Apply the ``order``-th derivative elementwise to array ``x`` with module ``xp``."""
        value = formula_program(self.formula(name, order), ARRAY)(x, xp)
        return value + 0 * x if isinstance(value, float) else value  # a constant still has x's shape

    def exact(self, name: str, order: int, x: Fraction, memo: "Transcendentals") -> Fraction:
        return formula_program(self.formula(name, order), EXACT)(x, memo)


@functools.lru_cache(maxsize=None)
def _derivative(formula: sympy.Expr, order: int) -> sympy.Expr:
    return sympy.diff(formula, T, order) if order else formula


@dataclass(frozen=True)
class Interpretation:
    """How one algebra computes the arithmetic of a formula; function heads come from ``HEADS``.

    Every callable gets the already computed values of the arguments. ``power`` also gets
    the exponent's formula, so an integer exponent stays an integer power."""

    name: str  # the column of ``HEADS``: "array", "exact" or "code"
    constant: Callable[[sympy.Number], Any]
    add: Callable[[list], Any]
    mul: Callable[[list], Any]
    power: Callable[[Any, Any, sympy.Expr, Any], Any]  # (base, exponent value, exponent formula, context)


@dataclass(frozen=True)
class Head:
    """One sympy function head in every interpretation: ``array(xp, args)``,
    ``exact(memo, args)`` (memo: ``Transcendentals`` or the symbolic proof's), ``code(args)``."""

    array: Callable
    exact: Callable
    code: Callable


def _unary(numpy_name: str, exact: Callable) -> Head:
    return Head(lambda xp, a: getattr(xp, numpy_name)(a[0]), exact, lambda a: f"np.{numpy_name}({a[0]})")


def _fold(fn: str, args: list[str]) -> str:
    out = args[0]
    for a in args[1:]:
        out = f"{fn}({out}, {a})"
    return out


def _tanh(memo, a):
    e2 = memo.exp(a[0]) ** 2  # through exp(a) itself, so tanh, sinh, cosh and exp of one argument agree
    return (e2 - 1) / (e2 + 1)


def _sinh(memo, a):
    e = memo.exp(a[0])
    return (e - 1 / e) / 2


def _cosh(memo, a):
    e = memo.exp(a[0])
    return (e + 1 / e) / 2


class Logistic(sympy.Function):
    """σ(t) = 1/(1 + e^-t) as one head, so code can compute it without overflow."""


class Softplus(sympy.Function):
    """log(1 + e^t) as one head: np.logaddexp(0, t) is finite and exact at any t."""


def _logistic_code(a: list[str]) -> str:
    return f"(1.0 / (1.0 + np.exp(-{a[0]})))"  # exp(800) = inf gives 0, the right value (emit silences the overflow)


def _logistic_exact(memo, a):
    return 1 / (1 + memo.exp(-a[0]))


HEADS: dict[str, Head] = {
    "Logistic": Head(lambda xp, a: xp.exp(-xp.logaddexp(0.0, -a[0])), _logistic_exact, _logistic_code),
    "Softplus": Head(lambda xp, a: xp.logaddexp(0.0, a[0]), lambda memo, a: memo.log(1 + memo.exp(a[0])),
                     lambda a: f"np.logaddexp(0.0, {a[0]})"),
    "exp": _unary("exp", lambda memo, a: memo.exp(a[0])),
    "log": _unary("log", lambda memo, a: memo.log(a[0])),
    "tanh": _unary("tanh", _tanh),
    "sinh": _unary("sinh", _sinh),
    "cosh": _unary("cosh", _cosh),
    "sin": _unary("sin", lambda memo, a: memo.sin(a[0])),
    "cos": _unary("cos", lambda memo, a: memo.cos(a[0])),
    "Abs": _unary("abs", lambda memo, a: abs(a[0])),
    "sign": _unary("sign", lambda memo, a: (a[0] > 0) - (a[0] < 0)),
    "Max": Head(lambda xp, a: functools.reduce(xp.maximum, a), lambda memo, a: max(a), lambda a: _fold("np.maximum", a)),
    "Min": Head(lambda xp, a: functools.reduce(xp.minimum, a), lambda memo, a: min(a), lambda a: _fold("np.minimum", a)),
    "Heaviside": Head(lambda xp, a: xp.where(a[0] > 0, 1.0, 0.0), lambda memo, a: Fraction(int(a[0] > 0)),
                      lambda a: f"np.where({a[0]} > 0, 1.0, 0.0)"),
    "DiracDelta": Head(lambda xp, a: 0 * a[0], lambda memo, a: Fraction(0), lambda a: f"(0 * {a[0]})"),
}


def _exact_constant(f: sympy.Number) -> Fraction:
    if not f.is_Rational:
        raise ArithmeticError(f"no exact value for the constant {f}")
    return Fraction(int(f.p), int(f.q))


def _exact_power(base, exponent, _formula, memo):
    return base ** int(exponent) if exponent.denominator == 1 else memo.root(base, exponent)


def _array_power(base, exponent, formula, _xp):
    return base ** int(formula) if formula.is_Integer else base ** exponent


def _code_power(base, exponent, formula, _ctx):
    return f"({base} ** {int(formula) if formula.is_Integer else exponent})"


ARRAY = Interpretation("array", lambda f: float(f), lambda v: functools.reduce(operator.add, v),
                       lambda v: functools.reduce(operator.mul, v), _array_power)
EXACT = Interpretation("exact", _exact_constant, lambda v: sum(v[1:], v[0]), lambda v: functools.reduce(operator.mul, v), _exact_power)
SYMBOLIC = Interpretation("exact", lambda f: f, lambda v: sympy.Add(*v), lambda v: sympy.Mul(*v), lambda b, e, _f, _m: b**e)
CODE = Interpretation("code", lambda f: repr(float(f)), lambda v: "(" + " + ".join(v) + ")", lambda v: "(" + " * ".join(v) + ")",
                      _code_power)


@functools.lru_cache(maxsize=None)
def formula_program(f: sympy.Expr, how: Interpretation) -> Callable[[Any, Any], Any]:
    """A formula -> a function (x, context) -> value, built once (the formula tree is walked
    once, not at every call). The context is ``xp`` (array), the memo (exact, symbolic) or
    unused (code, where x is the argument's source text)."""
    if f == T:
        return lambda x, ctx: x
    if f.is_Number:
        value = how.constant(f)
        return lambda x, ctx: value
    args = [formula_program(a, how) for a in f.args]
    if f.is_Add:
        return lambda x, ctx: how.add([g(x, ctx) for g in args])
    if f.is_Mul:
        return lambda x, ctx: how.mul([g(x, ctx) for g in args])
    if f.is_Pow:
        base, power = args
        return lambda x, ctx: how.power(base(x, ctx), power(x, ctx), f.args[1], ctx)
    name = type(f).__name__
    if name not in HEADS:
        raise UnknownFunction(f"no rule for {name} in a function formula")
    rule = getattr(HEADS[name], how.name)
    if how.name == "code":
        return lambda x, ctx: rule([g(x, ctx) for g in args])
    return lambda x, ctx: rule(ctx, [g(x, ctx) for g in args])


_S = sympy.Symbol("s")


@functools.lru_cache(maxsize=None)
def stable_form(f: sympy.Expr) -> sympy.Expr:
    """The same function written so floats cannot overflow: a formula in e^±t that is a
    rational function of σ(t) (σ and its derivatives: σ' = σ(1 - σ), softplus', log-sigmoid')
    is written in σ (a polynomial in σ only: e^t = σ/(1 - σ) would overflow again); log σ and log(1 - σ) become -softplus(-t), -softplus(t). Other formulas
    are returned unchanged. ``f == stable_form(f)`` as functions of t (tests check it)."""
    if not f.has(sympy.exp):
        return f
    in_s = sympy.factor(sympy.simplify(f.subs(sympy.exp(-T), (1 - _S) / _S).subs(sympy.exp(T), _S / (1 - _S))))
    logs = {}
    for term in in_s.atoms(sympy.log):
        (a,) = term.args
        if sympy.simplify(a - _S) == 0:
            logs[term] = -Softplus(-T)
        elif sympy.simplify(a - (1 - _S)) == 0:
            logs[term] = -Softplus(T)
        elif sympy.simplify(a * (1 - _S) - 1) == 0:
            logs[term] = Softplus(T)
        else:
            return f
    out = in_s.xreplace(logs)
    if out.has(T) and not out.has(Softplus) or out.has(sympy.log):
        return f
    if not out.free_symbols - {T, _S} and out.subs(Softplus(T), 0).subs(Softplus(-T), 0).is_polynomial(_S):  # no 1/(1 - σ)
        return out.subs(_S, Logistic(T))
    return f


class UnknownFunction(ArithmeticError):
    """A function formula uses a sympy function that ``HEADS`` does not know."""

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
        self.unit_root: dict[Fraction, Fraction] = {}  # radicand -> its ROOT_DEGREE-th root
        self.root_units: dict[Fraction, tuple[Fraction, int]] = {}  # a returned value -> (radicand, power of its unit root)
        self.circle_of: dict[Fraction, Fraction] = {}

    def _fresh(self) -> Fraction:
        return Fraction(self.rng.randint(1, 10**6), self.rng.randint(1, 10**4))

    def sin(self, q: Fraction) -> Fraction:
        """sin and cos share a point of the unit circle drawn once per |q| (rational,
        by the half-angle tangent): sin² + cos² = 1, sin(-q) = -sin(q), cos(-q) = cos(q)."""
        s, _c = self._circle(q)
        return s

    def cos(self, q: Fraction) -> Fraction:
        return self._circle(q)[1]

    def _circle(self, q: Fraction) -> tuple[Fraction, Fraction]:
        if q == 0:
            return Fraction(0), Fraction(1)
        if abs(q) not in self.circle_of:
            self.circle_of[abs(q)] = self._fresh()
        h = self.circle_of[abs(q)]
        s, c = 2 * h / (1 + h * h), (1 - h * h) / (1 + h * h)
        return (s if q > 0 else -s), c

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
        """x ** power for a non-integer power: exact when possible, else a power of one memo
        value ``w`` standing for ``x ** (1/ROOT_DEGREE)``, so that roots of roots and products
        of powers of one radicand agree: ``(x^(1/2))^(-3/2) = x^(-3/4)``, ``x^(-1/2) = 1/x^(1/2)``."""
        num, den = x.numerator, x.denominator
        k = power.denominator
        rn, rd = _iroot(num, k), _iroot(den, k)
        if rn is not None and rd is not None:
            return Fraction(rn, rd) ** power.numerator
        if x < 0:
            raise ArithmeticError("fractional power of a negative number")
        base, units = self.root_units.get(x, (x, ROOT_DEGREE))  # x = base ** (units / ROOT_DEGREE)
        if base < 1:
            base, units = 1 / base, -units
        exponent = units * power  # of w
        if exponent.denominator != 1:  # a root the common degree does not cover: its own memo value
            key = (x, Fraction(1, k))
            if key not in self.root_of:
                self.root_of[key] = self._fresh()
            return self.root_of[key] ** power.numerator
        if exponent.numerator % ROOT_DEGREE == 0:
            return base ** (exponent.numerator // ROOT_DEGREE)
        if base not in self.unit_root:
            self.unit_root[base] = 1 + self._fresh()
        value = self.unit_root[base] ** int(exponent)
        self.root_units.setdefault(value, (base, int(exponent)))
        return value


ROOT_DEGREE = 12  # roots of degree 2, 3, 4, 6 and 12 (and their towers) share one memo value per radicand


def _iroot(n: int, k: int) -> int | None:
    """The exact integer ``k``-th root of ``n``, or None; integers only (``n`` may be far
    beyond the float range)."""
    if n < 0:
        return None
    root = math.isqrt(n) if k == 2 else _floor_root(n, k)
    return root if root**k == n else None


def _floor_root(n: int, k: int) -> int:
    """floor(n ** (1/k)) by Newton's method on integers, from an upper bound down."""
    if n < 2:
        return n
    r = 1 << -(-n.bit_length() // k)
    while True:
        s = ((k - 1) * r + n // r ** (k - 1)) // k
        if s >= r:
            return r
        r = s


# Functions a formula ``t -> ...`` may call, by the name it writes (each head is in ``HEADS``).
SYMPY_FUNCTIONS = {
    "exp": sympy.exp, "log": sympy.log, "tanh": sympy.tanh, "sinh": sympy.sinh, "cosh": sympy.cosh, "sin": sympy.sin,
    "cos": sympy.cos, "sqrt": sympy.sqrt, "abs": sympy.Abs, "Abs": sympy.Abs, "sign": sympy.sign, "max": sympy.Max,
    "Max": sympy.Max, "min": sympy.Min, "Min": sympy.Min,
}
VARIADIC = {"max", "Max", "min", "Min"}  # of these, a formula may call with several arguments
