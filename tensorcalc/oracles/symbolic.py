"""Symbolic proof at concrete sizes: every entry a sympy expression in the leaf entries.

Each leaf entry is a symbol (``W1_2_3``); ``exp(a)`` becomes a symbol ``E_k`` standing for
that value (with ``exp(-a) = 1/E_k``, ``log(E_k) = a``, ``tanh(a) = (E² - 1)/(E² + 1)``).
Both sides are then rational functions, and the claim is proved when their difference
cancels to 0 — a proof for all values, not a test at points.
Piecewise functions (relu) and inputs too large for the budget are not attempted
(the exact random-point test and the numeric oracle still run).
"""
from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np
import sympy

from ..core.expr import applied_functions
from ..core.functions import SYMBOLIC, FunctionTable, UnknownFunction, formula_program
from ..core.model import Model, is_symmetric
from ..errors import SingularMatrix
from .evaluate import Evaluator, ExactAlgebra, forward_env

MAX_LEAF_ENTRIES = 40  # above this many scalar inputs the proof is not attempted
MAX_ENTRIES = 64  # entries compared per side
MAX_NODES = 2000  # above this many nodes in one entry's difference, cancelling can take minutes
MAX_INVERSE = 3  # inverses and determinants of larger matrices: not attempted (the entries grow too large to cancel quickly)


class OutsideFragment(Exception):
    """A value this proof does not attempt (the exact and numeric oracles still decide)."""


class SymbolicTranscendentals:
    def __init__(self):
        self.exp_symbols: dict[sympy.Expr, sympy.Symbol] = {}
        self.log_of: dict[sympy.Symbol, sympy.Expr] = {}
        self.log_symbols: dict[sympy.Expr, sympy.Symbol] = {}
        self.half_angle: dict[sympy.Expr, sympy.Symbol] = {}

    def exp(self, a: sympy.Expr) -> sympy.Expr:
        a = sympy.expand(a)
        if a == 0:
            return sympy.Integer(1)
        if a.could_extract_minus_sign():
            return 1 / self.exp(-a)
        if a not in self.exp_symbols:
            sym = sympy.Symbol(f"E{len(self.exp_symbols)}", positive=True)
            self.exp_symbols[a] = sym
            self.log_of[sym] = a
        return self.exp_symbols[a]

    def sin(self, a: sympy.Expr) -> sympy.Expr:
        return self._circle(a)[0]

    def cos(self, a: sympy.Expr) -> sympy.Expr:
        return self._circle(a)[1]

    def _circle(self, a: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
        """(sin a, cos a) through the half-angle tangent symbol H_k: rational in H_k, sin² + cos² = 1."""
        a = sympy.expand(a)
        if a == 0:
            return sympy.Integer(0), sympy.Integer(1)
        if a.could_extract_minus_sign():
            s, c = self._circle(-a)
            return -s, c
        if a not in self.half_angle:
            self.half_angle[a] = sympy.Symbol(f"H{len(self.half_angle)}", real=True)
        h = self.half_angle[a]
        return 2 * h / (1 + h**2), (1 - h**2) / (1 + h**2)

    def log(self, x: sympy.Expr) -> sympy.Expr:
        if x in self.log_of:
            return self.log_of[x]
        if x not in self.log_symbols:
            self.log_symbols[x] = sympy.Symbol(f"L{len(self.log_symbols)}", real=True)
        return self.log_symbols[x]


class SymbolicAlgebra(ExactAlgebra):
    """Exact arithmetic on sympy entries: transcendental values are symbols (``SymbolicTranscendentals``)."""

    def __init__(self, functions: FunctionTable):
        super().__init__(functions, SymbolicTranscendentals())

    def apply(self, name: str, order: int, x):
        program = formula_program(self.functions.formula(name, order), SYMBOLIC)
        return self._each(lambda v: program(v, self.memo), x)

    def root(self, x, power):
        return self._each(lambda v: _sympy_number(v) ** sympy.Rational(power.numerator, power.denominator), x)

    def inverse(self, x):
        """adj(X) / det(X), both division-free (Berkowitz): no pivot is tested for zero."""
        matrix = _small_matrix(x)
        det = matrix.det(method="berkowitz")
        if det == 0:
            raise SingularMatrix("singular matrix")
        return np.array((matrix.adjugate(method="berkowitz") / det).tolist(), dtype=object).reshape(x.shape)

    def det(self, x):
        return _small_matrix(x).det(method="berkowitz")


def _sympy_number(v):
    """A ``Fraction`` (a size or a constant) as a sympy rational: ``Fraction ** Rational`` would give a float."""
    return sympy.Rational(v.numerator, v.denominator) if isinstance(v, Fraction) else v


def _small_matrix(x) -> sympy.Matrix:
    if x.shape[0] > MAX_INVERSE:
        raise OutsideFragment(f"inverse or determinant of a {x.shape[0]}×{x.shape[0]} matrix")
    return sympy.Matrix(x.tolist())


def symbolic_leaves(model: Model, seed: int) -> dict[str, np.ndarray]:
    rng = random.Random(seed)
    values = {}
    for name, (kind, shape, flags) in model.leaves.items():
        dims = model.numeric_shape(shape)
        out = np.empty(dims, dtype=object)
        positive = "positive" in flags or kind == "probability"
        for index in np.ndindex(*dims) if dims else [()]:
            label = "_".join(str(i + 1) for i in index)
            out[index] = sympy.Symbol(f"{name}_{label}" if label else name, positive=positive or None, real=True)
        if is_symmetric(kind, flags):  # one symbol per pair (i, j), i <= j
            for i, j in np.ndindex(*dims):
                if i > j:
                    out[i, j] = out[j, i]
        if kind == "onehot":  # a discrete input: one random pattern, like the other oracles
            out[...] = sympy.Integer(0)
            for col in range(out.shape[1]):
                out[rng.randrange(out.shape[0]), col] = sympy.Integer(1)
        elif kind == "probability":  # the last entry of each column is 1 - the others
            for col in range(out.shape[1]):
                out[-1, col] = 1 - sum(out[:-1, col])
        values[name] = out
    return values


def prove(model: Model, lhs, rhs, ranges: dict, derivative_factory) -> bool | None:
    """True: proved equal; False: proved different; None: not attempted (budget, piecewise)."""
    leaf_entries = sum(math.prod(model.numeric_shape(s)) for _k, s, _f in model.leaves.values())
    if leaf_entries > MAX_LEAF_ENTRIES or ranges:
        return None
    if any(model.functions.is_kinked(n) for n in applied_functions(lhs, rhs, *model.defs.values())):
        return None
    alg = SymbolicAlgebra(model.functions)
    try:
        env = forward_env(model, alg, symbolic_leaves(model, 0))
        ev = Evaluator(model, alg, env, derivative_factory())
        left, right = np.asarray(ev.evaluate(lhs), dtype=object), np.asarray(ev.evaluate(rhs), dtype=object)
    except (UnknownFunction, ZeroDivisionError, TypeError, OutsideFragment):  # outside the fragment this proof handles
        return None
    if left.shape != right.shape and not (left.size == right.size == 1):
        return False
    if left.size > MAX_ENTRIES:
        return None
    differences = [a - b for a, b in zip(left.reshape(-1), right.reshape(-1))]
    if any(_larger_than(d, MAX_NODES) for d in differences):
        return None  # exp/sigmoid of matrix products nested: the exact and numeric oracles decide alone
    return all(_zero(d) for d in differences)


DIGITS = 60  # working precision of ``equal_with_true_roots``
AGREE = sympy.Rational(1, 10**40)  # relative difference below which two values agree there


def equal_with_true_roots(model: Model, lhs, rhs, points: list[dict], derivative_factory) -> bool | None:
    """Are the sides equal at these rational points (leaves as ``Fraction`` arrays) when every
    root is a true radical and every exp, log, sin and cos its true value, to 40 digits? Where
    the exact oracle's stand-in roots call sides different that float64 finds equal, this tells a
    stand-in artefact (True) from a difference below float64's resolution (False); None when the
    values cannot be computed this way."""
    try:
        for leaves in points:
            alg = SymbolicAlgebra(model.functions)
            env = forward_env(model, alg, {k: np.asarray(v, dtype=object) for k, v in leaves.items()})
            ev = Evaluator(model, alg, env, derivative_factory())
            left, right = np.asarray(ev.evaluate(lhs), dtype=object), np.asarray(ev.evaluate(rhs), dtype=object)
            if left.size != right.size or left.size > MAX_ENTRIES:
                return None
            values = _true_values(alg.memo)
            for a, b in zip(left.reshape(-1), right.reshape(-1)):
                a, b = _numeric(a, values), _numeric(b, values)
                if a is None or b is None:
                    return None
                if abs(a - b) > AGREE * (1 + abs(a)):
                    return False
    except (UnknownFunction, ZeroDivisionError, TypeError, ValueError, ArithmeticError, OutsideFragment):
        return None
    return True


def _true_values(memo: SymbolicTranscendentals) -> dict:
    """Each stand-in symbol of ``memo`` -> the value it stands for (which may hold other stand-ins)."""
    out = {s: sympy.exp(a) for a, s in memo.exp_symbols.items()}
    out.update({h: sympy.tan(a / 2) for a, h in memo.half_angle.items()})
    out.update({sym: sympy.log(x) for x, sym in memo.log_symbols.items()})
    return out


def _numeric(value, stand_ins: dict):
    """``value`` with every stand-in replaced (nested ones too) as a real number of ``DIGITS`` digits, or None."""
    value = _sympy_number(value)
    for _ in range(len(stand_ins) + 1):
        if not getattr(value, "free_symbols", None):
            break
        value = value.xreplace(stand_ins)
    number = sympy.N(value, DIGITS)
    return number if number.is_real and number.is_finite else None


def _larger_than(e, limit: int) -> bool:
    """Does the expression tree of ``e`` have more than ``limit`` nodes? (stops counting there)"""
    if not isinstance(e, sympy.Basic):
        return False
    for count, _node in enumerate(sympy.preorder_traversal(e)):
        if count >= limit:
            return True
    return False


def _zero(difference: sympy.Expr) -> bool:
    """Is this rational function identically 0? (``cancel`` brings it to p/q with p, q coprime.)"""
    return sympy.cancel(difference) == 0

