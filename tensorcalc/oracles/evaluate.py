"""Resolved expressions -> values, in one of three algebras with the same code path:

* ``exact``: numpy object arrays of ``Fraction`` (the exact oracle);
* ``numpy``: float64 arrays (lowered formulas);
* ``jax``: jax.numpy float64 arrays (the forward pass that jax differentiates).

Every array has the numeric shape of the expression's static shape (a column vector
is n×1). Contraction products use ``tensordot`` over one axis, so no 3-tensor is
built unless the expression itself is a 3-tensor.
"""
from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Callable, Mapping

import numpy as np

from ..core import shapes as S
from ..core.derive import gradient_expr
from ..core.expr import Expr
from ..core.functions import FunctionTable, Transcendentals
from ..core.layouts import effective, permutation
from ..core.model import Model
from ..core.resolve import shape_of
from ..errors import SingularMatrix, TensorcalcError


class Algebra:
    """float64 arithmetic on arrays of the module ``xp`` (numpy here; jax.numpy in ``jaxbackend``)."""

    exact = False

    def __init__(self, xp, functions: FunctionTable):
        self.xp = xp
        self.functions = functions

    def const(self, value: Fraction, shape=()):
        return self.xp.full(shape, float(value))

    def wrap(self, value):
        return value

    def apply(self, name: str, order: int, x):
        return self.functions.numeric(name, order, x, self.xp)

    def power(self, x, k: int):
        return x**k

    def root(self, x, power: Fraction):
        return self.xp.sqrt(x) if power == Fraction(1, 2) else x ** float(power)

    def eye(self, n: int):
        return self.xp.eye(n)

    def diag(self, v):
        return self.xp.diag(v)

    def inverse(self, x):
        """The inverse of a square matrix; a singular one gives NaN entries (left out like an overflow)."""
        try:
            return self.xp.linalg.inv(x)
        except np.linalg.LinAlgError:
            return self.xp.full(x.shape, np.nan)

    def det(self, x):
        return self.xp.linalg.det(x)

    def softmax_numerator(self, z):
        """exp(z) scaled per column by exp(-max) (the same softmax, no overflow)."""
        return self.xp.exp(z - self.xp.max(z, axis=0, keepdims=True))

    def unit(self, shape: tuple[int, ...], index: tuple[int, ...]):
        out = np.zeros(shape)
        out[index] = 1.0
        return out


class ExactAlgebra(Algebra):
    """Exact arithmetic on object arrays of ``Fraction``s; transcendental values from ``memo``."""

    exact = True

    def __init__(self, functions: FunctionTable, memo):
        super().__init__(np, functions)
        self.memo = memo

    def const(self, value, shape=()):
        out = np.empty(shape, dtype=object)
        out[...] = value
        return out

    def wrap(self, value):
        """Keep exact values as object arrays (numpy turns 0-d object results into scalars)."""
        return value if isinstance(value, np.ndarray) else self.const(value)

    def _each(self, fn, x):
        return np.asarray(np.frompyfunc(fn, 1, 1)(x), dtype=object).reshape(np.shape(x))

    def apply(self, name: str, order: int, x):
        return self._each(lambda v: self.functions.exact(name, order, v, self.memo), x)

    def power(self, x, k: int):
        return self._each(lambda v: v**k, x)

    def root(self, x, power: Fraction):
        return self._each(lambda v: self.memo.root(v, power), x)

    def eye(self, n: int):
        return self.diag(self.const(Fraction(1), (n,)))

    def diag(self, v):
        out = self.const(Fraction(0), (len(v), len(v)))
        for i, value in enumerate(v):
            out[i, i] = value
        return out

    def softmax_numerator(self, z):
        return self.apply("exp", 0, z)

    def inverse(self, x):
        """Gauss–Jordan elimination over the rationals; a singular matrix raises ZeroDivisionError
        (an exact point where the claim is undefined: the forward pass draws again)."""
        n = x.shape[0]
        rows = [list(x[i]) + [Fraction(int(i == j)) for j in range(n)] for i in range(n)]
        _eliminate(rows, n, reduce_above=True)
        out = self.const(Fraction(0), (n, n))
        for i in range(n):
            out[i] = rows[i][n:]
        return out

    def det(self, x):
        """Gaussian elimination over the rationals: the product of the pivots, with the sign of the row swaps."""
        n = x.shape[0]
        rows = [list(x[i]) for i in range(n)]
        try:
            sign = _eliminate(rows, n, reduce_above=False)
        except ZeroDivisionError:
            return Fraction(0)
        value = Fraction(sign)
        for i in range(n):
            value *= rows[i][i]
        return value

    def unit(self, shape: tuple[int, ...], index: tuple[int, ...]):
        out = self.const(Fraction(0), shape)
        out[index] = Fraction(1)
        return out


def _eliminate(rows: list[list], n: int, reduce_above: bool) -> int:
    """Row-reduce the first ``n`` columns of ``rows`` in place (to the identity when
    ``reduce_above``, else to an upper triangle); returns the sign of the row swaps.
    ZeroDivisionError when the leading n×n block is singular."""
    sign = 1
    for col in range(n):
        pivot = next((r for r in range(col, n) if rows[r][col] != 0), None)
        if pivot is None:
            raise SingularMatrix("singular matrix")
        if pivot != col:
            rows[col], rows[pivot] = rows[pivot], rows[col]
            sign = -sign
        head = rows[col][col]
        if reduce_above:
            rows[col] = [v / head for v in rows[col]]
            head = 1
        for r in range(n):
            if (r > col or (reduce_above and r != col)) and rows[r][col] != 0:
                factor = rows[r][col] / head
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col])]
    return sign


def exact_algebra(functions: FunctionTable, seed: int) -> ExactAlgebra:
    return ExactAlgebra(functions, Transcendentals(seed))


def numpy_algebra(functions: FunctionTable) -> Algebra:
    return Algebra(np, functions)


Derivative = Callable[["Evaluator", Expr], object]


class Evaluator:
    """Evaluates expressions of one model in one algebra, with values of names in ``env``."""

    def __init__(
        self, model: Model, algebra: Algebra, env: dict, derivative: Derivative | None = None, indices: dict | None = None,
        names: Mapping[str, tuple] | None = None,
    ):
        self.model = model
        self.alg = algebra
        self.xp = algebra.xp
        self.env = env
        self.derivative = derivative
        self.indices = indices or {}
        self.names = names  # shapes of names beyond the model's (a chain-rule program's own)
        self.memo: dict[Expr, object] = {}
        self.shape_cache: dict = {}

    def static(self, e: Expr) -> tuple:
        return shape_of(self.model, e, self.shape_cache, self.names)

    def numeric(self, e: Expr) -> tuple[int, ...]:
        return self.model.numeric_shape(self.static(e))

    def evaluate(self, e: Expr):
        hit = self.memo.get(e)
        if hit is not None:
            return hit
        rule = EVAL.get(e.op)
        if rule is None:
            raise TensorcalcError(f"cannot evaluate {e.op!r}", e.pos)
        value = self.memo[e] = self.alg.wrap(rule(self, e))
        return value


def forward_env(model: Model, algebra: Algebra, leaves: dict, override: dict | None = None, derivative: Derivative | None = None) -> dict:
    """Values of every definition, in order; ``override`` replaces some definitions. A derivative
    term in a definition (``g: d f / d x``) comes from ``derivative``, by default the chain rule
    written out as an expression (``gradient_expr``)."""
    env = dict(leaves)
    override = override or {}
    ev = Evaluator(model, algebra, env, derivative or written_out_derivative)
    for name, expr in model.defs.items():
        env[name] = override[name] if name in override else ev.evaluate(expr)
    return env


def written_out_derivative(ev: "Evaluator", e: Expr):
    """A gradient term's value: its chain-rule expression evaluated in the evaluator's algebra."""
    return ev.evaluate(gradient_expr(ev.model, e))


# --- one evaluation rule per operator ------------------------------------------------


def _args(ev, e):
    return [ev.evaluate(a) for a in e.args]


def _binary(fn):
    def rule(ev, e):
        a, b = _args(ev, e)
        sa, sb = ev.static(e.args[0]), ev.static(e.args[1])
        a, b = _scalar_view(ev, a, sa, sb), _scalar_view(ev, b, sb, sa)
        return fn(ev.xp, a, b)

    return rule


def _scalar_view(ev, value, own, other):
    """A 1×1 operand meeting a larger one acts as a scalar."""
    if S.is_scalar(own) and own and not S.is_scalar(other):
        return value.reshape(())
    return value


def _matmul(ev, e):
    a, b = _args(ev, e)
    sa, sb = ev.static(e.args[0]), ev.static(e.args[1])
    out = ev.numeric(e)
    if sa and sb and S.same((sa[-1],), (sb[0],)):
        if a.ndim == 2 and b.ndim == 2:  # matmul reads transposed operands in place (tensordot may not)
            return ev.alg.wrap(ev.xp.matmul(a, b)).reshape(out)
        return ev.alg.wrap(ev.xp.tensordot(a, b, axes=1)).reshape(out)
    return ev.alg.wrap(_scalar_view(ev, a, sa, sb) * _scalar_view(ev, b, sb, sa)).reshape(out)


def _otimes(ev, e):
    a, b = _args(ev, e)
    sa, sb = ev.static(e.args[0]), ev.static(e.args[1])
    xp = ev.xp
    if S.is_vector(sa) and len(sb) == 2:  # (x ⊗ Y)[i, j, k] = x_i Y[k, j]
        full = xp.multiply.outer(a.reshape(-1), b.T) if xp is np else a.reshape(-1)[:, None, None] * b.T[None]
    else:  # (Y ⊗ x)[i, j, k] = x_j Y[k, i]
        outer = xp.multiply.outer(b.reshape(-1), a.T) if xp is np else b.reshape(-1)[:, None, None] * a.T[None]
        full = xp.transpose(outer, (1, 0, 2))
    return full.reshape(ev.numeric(e))


def _var(ev, e):
    try:
        value = ev.env[e.attr]
    except KeyError:
        raise TensorcalcError(f"no value for {e.attr!r}", e.pos) from None
    if getattr(value, "ndim", 0) == 0 and ev.static(e):  # a 1×1 name bound to a scalar (the seed 1 of x^T x)
        return ev.xp.reshape(value, ev.numeric(e))
    return value


def _num(ev, e):
    return ev.alg.const(e.attr)


def _size(ev, e):
    return ev.alg.const(Fraction(ev.model.size(e.attr)))


def _eye(ev, e):
    return ev.alg.eye(ev.model.size(e.attr))


def _fill(value):
    def rule(ev, e):
        return ev.alg.const(Fraction(value), ev.numeric(e))

    return rule


def _pow(ev, e):
    base_expr, k = e.args[0], e.args[1].attr
    if base_expr.op == "norm":  # norm(X)^k = (sum of squares)^(k/2): one root of one number, so
        x = ev.evaluate(base_expr.args[0])  # norm(r)^(-1/2) and its derivative's norm(r)^(-5/2) agree exactly
        half = k / 2
        squares = ev.alg.wrap(ev.xp.sum(x * x))
        return ev.alg.power(squares, int(half)) if half.denominator == 1 else ev.alg.root(squares, half)
    base = ev.evaluate(base_expr)
    if k.denominator == 1:
        return ev.alg.power(base, int(k))
    return ev.alg.root(base, k)


def _mpow(ev, e):
    """X^k by repeated squaring (k >= 2, an integer)."""
    x, k = ev.evaluate(e.args[0]), int(e.args[1].attr)
    result = None
    while k:
        if k & 1:
            result = x if result is None else ev.xp.matmul(result, x)
        k >>= 1
        if k:
            x = ev.xp.matmul(x, x)
    return result


def _sum_axis(ev, e):
    return ev.xp.sum(ev.evaluate(e.args[0]), axis=e.attr - 1, keepdims=True)


def _mean(ev, e):
    """The sum (of all entries, or along an axis) over the number of terms summed."""
    x = ev.evaluate(e.args[0])
    if e.attr is None:
        return ev.xp.sum(x) * ev.alg.const(Fraction(1, max(1, x.size)))
    return _sum_axis(ev, e) * ev.alg.const(Fraction(1, x.shape[e.attr - 1]))


def _argmax(ev, e):
    """1/k at each of the k largest entries of X (k = 1 unless entries tie), 0 elsewhere: d max(X) / d X."""
    x = ev.evaluate(e.args[0])
    hits = x == ev.xp.max(x)
    if ev.alg.exact:
        count = int(np.sum(hits))
        return np.where(hits, Fraction(1, count), Fraction(0)).astype(object)
    hits = hits.astype(x.dtype)
    return hits / ev.xp.sum(hits)


def _kron(ev, e):
    a, b = _args(ev, e)
    m, n = a.shape
    p, q = b.shape
    outer = ev.xp.multiply.outer(a, b) if ev.xp is np else a[:, :, None, None] * b[None, None]  # [i, j, k, l] = A_ij B_kl
    return ev.xp.transpose(outer, (0, 2, 1, 3)).reshape(m * p, n * q)


def _vec(ev, e):
    """Columns stacked: vec(X)[j m + i] = X[i, j]."""
    return ev.xp.transpose(ev.evaluate(e.args[0])).reshape(-1, 1)


def _logdet(ev, e):
    """log |det X| (the Cookbook's ln|det X|: defined for every invertible X)."""
    d = ev.alg.wrap(ev.alg.det(ev.evaluate(e.args[0])))
    return ev.alg.apply("log", 0, abs(d))


def _norm(ev, e):
    x = ev.evaluate(e.args[0])
    return ev.alg.root(ev.xp.sum(x * x), Fraction(1, 2))


def _diag(ev, e):
    x = ev.evaluate(e.args[0])
    s = ev.static(e.args[0])
    if S.is_vector(s):
        return ev.alg.diag(x.reshape(-1))
    return ev.xp.diagonal(x).reshape(-1, 1)


def _softmax(ev, e):
    z = ev.evaluate(e.args[0])
    ex = ev.alg.softmax_numerator(z)
    return ex / ev.xp.sum(ex, axis=0, keepdims=True)


def _apply(ev, e):
    name, order = e.attr
    return ev.alg.apply(name, order, ev.evaluate(e.args[0]))


def _stack(axis):
    def rule(ev, e):
        parts = []
        for a in e.args:
            value = ev.evaluate(a)
            parts.append(value.reshape(1, 1) if value.ndim == 0 else value)
        return ev.xp.concatenate(parts, axis=axis)

    return rule


def _slice(ev, e):
    x = ev.evaluate(e.args[0])
    axis, start, stop = e.attr
    lo, hi = ev.model.size(start) if start != 0 else 0, ev.model.size(stop)
    return x[lo:hi] if axis == 0 else x[:, lo:hi]


def _entry(ev, e):
    x = ev.evaluate(e.args[0])
    idx = [ev.indices[i] if isinstance(i, str) else i for i in e.attr]
    if len(idx) == 1 and x.ndim >= 1:
        x = x.reshape(-1)
    for i, size in zip(idx, x.shape):
        if not 1 <= i <= size:
            raise TensorcalcError(f"index {i} out of range 1..{size}", e.pos)
    return x[tuple(i - 1 for i in idx)]


def _isum(ev, e):
    from ..core.indices import index_ranges

    name = e.attr
    size = index_ranges(ev.model, e.args[0]).get(name)
    if size is None:
        raise TensorcalcError(f"sum_{name}: index {name!r} is not used inside", e.pos)
    total = None
    for i in range(1, size + 1):
        sub = Evaluator(ev.model, ev.alg, ev.env, ev.derivative, {**ev.indices, name: i}, ev.names)
        sub.shape_cache = ev.shape_cache
        value = sub.evaluate(e.args[0])
        total = value if total is None else total + value
    return total


def _deriv(ev, e):
    if ev.derivative is None:
        raise TensorcalcError("a derivative term is not allowed here", e.pos)
    return ev.derivative(ev, e)


def derivative_key(ev: Evaluator, of: Expr) -> tuple:
    """The index values a derivative of ``of`` depends on: those of the free indices inside ``of``."""
    if not ev.indices:
        return ()
    names = free_index_names(of)
    return tuple(sorted((k, v) for k, v in ev.indices.items() if k in names))


def free_index_names(expr: Expr) -> set[str]:
    """Index names used by entries (``y[i]``) and indexed derivatives inside ``expr``."""
    names = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if node.op == "entry":
            names.update(i for i in node.attr if isinstance(i, str))
        elif node.op == "deriv":
            names.update(i for i in node.attr[1] if isinstance(i, str))
        stack.extend(node.args)
    return names


def arrange(ev: Evaluator, e: Expr, full):
    """Full derivative (axes of ``of`` then ``wrt``) -> the layout's arrangement of ``e``."""
    wrt, indices, layout = e.attr
    of_shape = ev.static(e.args[0])
    of_ndim = 0 if S.is_scalar(of_shape) else len(of_shape)
    wrt_shape = ev.model.shapes[wrt]
    full = full.reshape(ev.model.numeric_shape(() if of_ndim == 0 else of_shape) + ev.model.numeric_shape(wrt_shape))
    if indices:
        idx = [ev.indices[i] if isinstance(i, str) else i for i in indices]
        if len(idx) == 1:
            full = full.reshape(full.shape[:of_ndim] + (-1,))
        full = full[(Ellipsis,) + tuple(i - 1 for i in idx)]
        wrt_ndim = 0
    else:
        wrt_ndim = len(wrt_shape)
    order = permutation(effective(layout, () if of_ndim == 0 else of_shape), of_ndim, wrt_ndim)
    xp = ev.xp
    return xp.transpose(full, order).reshape(ev.numeric(e))


EVAL: dict[str, Callable] = {
    "var": _var,
    "num": _num,
    "size": _size,
    "eye": _eye,
    "ones": _fill(1),
    "zeros": _fill(0),
    "add": _binary(lambda xp, a, b: a + b),
    "sub": _binary(lambda xp, a, b: a - b),
    "hadamard": _binary(lambda xp, a, b: a * b),
    "mul": _binary(lambda xp, a, b: a * b),
    "div": _binary(lambda xp, a, b: a / b),
    "neg": lambda ev, e: -ev.evaluate(e.args[0]),
    "matmul": _matmul,
    "otimes": _otimes,
    "T": lambda ev, e: ev.xp.transpose(ev.evaluate(e.args[0])),
    "diag": _diag,
    "sum": lambda ev, e: ev.xp.sum(ev.evaluate(e.args[0])),
    "norm": _norm,
    "trace": lambda ev, e: ev.xp.trace(ev.evaluate(e.args[0])),
    "inv": lambda ev, e: ev.alg.inverse(ev.evaluate(e.args[0])),
    "det": lambda ev, e: ev.alg.det(ev.evaluate(e.args[0])),
    "logdet": _logdet,
    "sum_axis": _sum_axis,
    "kron": _kron,
    "max": lambda ev, e: ev.xp.max(ev.evaluate(e.args[0])),
    "argmax": _argmax,
    "vec": _vec,
    "mean": _mean,
    "mpow": _mpow,
    "softmax": _softmax,
    "apply": _apply,
    "pow": _pow,
    "vstack": _stack(0),
    "hstack": _stack(1),
    "slice": _slice,
    "entry": _entry,
    "isum": _isum,
    "deriv": _deriv,
}


def unit_cotangents(algebra: Algebra, shape: tuple[int, ...]):
    """Yield (index, one-hot array) over every entry of ``shape``."""
    for index in itertools.product(*(range(n) for n in shape)):
        yield index, algebra.unit(shape, index)
