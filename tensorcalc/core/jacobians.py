"""Jacobians read off a vector-Jacobian product: matrix, ⊗ and index forms of ``d Y / d X``.

The chain-rule program of ``d Y / d X`` (``derive.gradient_program`` with a cotangent ``G`` of
Y's shape) is linear in ``G``. ``linear_terms`` writes it as a sum of terms
``c · L op(G) R`` (op: identity or transpose; L, R free of G, absent meaning an identity) or
``c · (op(G) ⊙ M)``. From one term the full Jacobian ``J[y..., x...] = ∂Y[y...]/∂X[x...]`` is
``L[x1, y1] R[y2, x2]`` (``L[x1, y2] R[y1, x2]`` when transposed), which gives:

- ``matrix_form``: Y and X scalars or vectors, the matrix ``D[x, y]`` (denominator layout);
- ``otimes_form``: Y a vector and X a matrix, seed 001's ``A ⊗ a`` in each layout
  (``(Y ⊗ x)_{ijk} = x_j Y_{ki}``, ``(x ⊗ Y)_{ijk} = x_i Y_{kj}``), where one exists;
- ``index_form``: any shapes, ``d Y[i, j] / d X[k, l] = δ[i, k] X[l, j]``.

These are candidates only: nothing here is printed before the oracles confirm it.
Sizes stay symbols: identities and ones are built from the shapes' dimension expressions.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from . import shapes as S
from .expr import Expr, node, num, walk

ShapeFn = Callable[[Expr], tuple]
INDEX_LETTERS = "ijklmpqrstuvw"
DELTA = "δ"
MAX_TERMS = 64  # an index formula longer than this is not worth printing (and is not built further)


class NoForm(Exception):
    """The expression is not of a form this module reads (the caller tries another form)."""


@dataclass(frozen=True)
class Term:
    """``coef · left op(G) right`` (``transposed``: op is ^T), or ``coef · (op(G) ⊙ mask)``."""

    coef: tuple[Expr, ...] = ()  # scalar factors free of G
    left: Expr | None = None
    transposed: bool = False
    right: Expr | None = None
    mask: Expr | None = None

    def scaled(self, factor: Expr) -> "Term":
        return replace(self, coef=self.coef + (factor,))


def linear_terms(e: Expr, g: str, shape: ShapeFn) -> list[Term]:
    """``e`` (linear in the variable ``g``) as a sum of ``Term``s; ``NoForm`` if not readable."""
    if not _depends(e, g):
        if e.op == "zeros":
            return []
        raise NoForm("a term free of the cotangent")
    if e.op == "var":
        return [Term()]
    if e.op in ("add", "sub"):
        minus = [t.scaled(num(-1)) for t in linear_terms(e.args[1], g, shape)] if e.op == "sub" else None
        return linear_terms(e.args[0], g, shape) + (minus if minus is not None else linear_terms(e.args[1], g, shape))
    if e.op == "neg":
        return [t.scaled(num(-1)) for t in linear_terms(e.args[0], g, shape)]
    if e.op == "T":
        return [Term(t.coef, _t(t.right), not t.transposed, _t(t.left), _t(t.mask)) for t in linear_terms(e.args[0], g, shape)]
    if e.op == "div" and not _depends(e.args[1], g) and S.is_scalar(shape(e.args[1])):
        return [t.scaled(node("div", num(1), e.args[1])) for t in linear_terms(e.args[0], g, shape)]
    if e.op == "sum":
        rows, cols = _dims(shape(e.args[0]))
        ones_row, ones_col = node("T", Expr("ones", (), (rows, S.ONE))), Expr("ones", (), (cols, S.ONE))
        return [_wrapped(t, ones_row, ones_col, shape) for t in linear_terms(e.args[0], g, shape)]
    if e.op in ("matmul", "mul", "hadamard"):
        return _product_terms(e, g, shape)
    raise NoForm(f"no Jacobian form through {e.op!r}")


def _product_terms(e: Expr, g: str, shape: ShapeFn) -> list[Term]:
    a, b = e.args
    if _depends(a, g) and _depends(b, g):
        raise NoForm("not linear")
    fixed, moving, fixed_first = (a, b, True) if _depends(b, g) else (b, a, False)
    terms = linear_terms(moving, g, shape)
    if S.is_scalar(shape(fixed)):
        return [t.scaled(fixed) for t in terms]
    if S.is_scalar(shape(moving)):  # a 1×1 value scaling a vector or matrix: it commutes
        return [_wrapped(t, fixed, None, shape) for t in terms]
    if e.op == "matmul":
        return [_wrapped(t, fixed, None, shape) if fixed_first else _wrapped(t, None, fixed, shape) for t in terms]
    return [_masked(t, fixed, shape(moving), shape) for t in terms]


def _masked(t: Term, m: Expr, moving: tuple, shape: ShapeFn) -> Term:
    """``term ⊙ m``: a row or column scaling of a vector term, else a mask on a bare ``op(G)``."""
    ms = shape(m)
    if _is_column(ms) and _is_column(moving) and S.same(ms, moving):
        return _wrapped(t, node("diag", m), None, shape)
    if _is_row(ms) and _is_row(moving) and S.same(ms, moving):
        return _wrapped(t, None, node("diag", node("T", m)), shape)
    if t.left is None and t.right is None and S.same(ms, moving):
        return replace(t, mask=m if t.mask is None else node("hadamard", t.mask, m))
    raise NoForm("an elementwise product that is not a scaling")


def _wrapped(t: Term, left: Expr | None, right: Expr | None, shape: ShapeFn) -> Term:
    if t.mask is not None:
        raise NoForm("a product around an elementwise product")
    new_left = t.left if left is None else left if t.left is None else node("matmul", left, t.left)
    new_right = t.right if right is None else right if t.right is None else node("matmul", t.right, right)
    return Term(t.coef, new_left, t.transposed, new_right)


def _depends(e: Expr, g: str) -> bool:
    return any(n.op == "var" and n.attr == g for n in walk(e))


def _t(e: Expr | None) -> Expr | None:
    return None if e is None else e.args[0] if e.op == "T" else node("T", e)


def _dims(s: tuple) -> tuple:
    s = tuple(s)
    return (S.ONE, S.ONE) if not s else (s[0], S.ONE) if len(s) == 1 else s


def _is_column(s: tuple) -> bool:
    return len(s) == 2 and s[1] == 1


def _is_row(s: tuple) -> bool:
    return len(s) == 2 and s[0] == 1


def _product(factors: list[Expr | None], coef: tuple[Expr, ...] = ()) -> Expr:
    parts = [f for f in factors if f is not None]
    out = parts[0] if parts else None
    for f in parts[1:]:
        out = node("matmul", out, f)
    for c in coef:
        out = c if out is None else node("mul", c, out)
    return out if out is not None else num(1)


def _total(parts: list[Expr]) -> Expr:
    if not parts:
        raise NoForm("the derivative is zero")
    out = parts[0]
    for p in parts[1:]:
        out = node("add", out, p)
    return out


def _scalar_sides(t: Term, shape: ShapeFn) -> Term:
    """Left and right factors of size 1×1 moved into the coefficient (they commute)."""
    coef, left, right = t.coef, t.left, t.right
    if left is not None and S.is_scalar(shape(left)):
        coef, left = coef + (left,), None
    if right is not None and S.is_scalar(shape(right)):
        coef, right = coef + (right,), None
    return Term(coef, left, t.transposed, right, t.mask)


# --- the three forms ------------------------------------------------------------------


def matrix_form(terms: list[Term], g_shape: tuple, shape: ShapeFn) -> Expr:
    """Y (the cotangent's shape) and X scalars or vectors: ``D[x, y] = ∂Y[y]/∂X[x]``, the
    derivative in denominator layout (its transpose in numerator layout)."""
    parts = []
    for t in terms:
        t = _scalar_sides(t, shape)
        if t.mask is not None:
            parts.append(_product([node("diag", t.mask if _is_column(shape(t.mask)) else node("T", t.mask))], t.coef))
            continue
        g_column = _is_column(_dims(g_shape)) != t.transposed  # op(G) is a column
        if g_column:  # L op(G) R, R a 1×q row or absent: D = L (column result) or R^T L (row result)
            if t.right is None:
                parts.append(_product([t.left if t.left is not None else _eye(g_shape)], t.coef))
            else:
                if t.left is None:
                    raise NoForm("a row result needs a left factor")
                parts.append(_product([node("T", t.right), t.left], t.coef))
        else:  # L op(G) R with op(G) a row: R (n×q) or absent; L a column or absent
            if t.left is None:
                parts.append(_product([_t(t.right) if t.right is not None else _eye(g_shape)], t.coef))
            else:
                parts.append(_product([t.left, _t(t.right) if t.right is not None else None], t.coef))
    return _total(parts)


def otimes_form(terms: list[Term], layout: str, g_shape: tuple, shape: ShapeFn) -> Expr:
    """Y a vector, X a matrix: the 3-tensor ``d Y / d X`` as a sum of ``A ⊗ a`` / ``a ⊗ A``
    (``layout``: numerator or denominator)."""
    parts = []
    for t in terms:
        t = _scalar_sides(t, shape)
        if t.mask is not None:
            raise NoForm("an elementwise product has no ⊗ form")
        g_column = _is_column(_dims(g_shape)) != t.transposed
        left = t.left if t.left is not None else _eye(g_shape)
        right = t.right if t.right is not None else _eye(g_shape)
        if g_column and t.right is not None:  # J[i, l, k] = L[k, i] R[l]: L ⊗ R^T (numerator)
            tensor = node("otimes", left if layout == "numerator" else node("T", left), node("T", t.right))
        elif not g_column and t.left is not None and layout == "denominator":  # D[k, l, i] = L[k] R[i, l]
            tensor = node("otimes", t.left, right)
        else:
            raise NoForm(f"no ⊗ form in {layout} layout")
        parts.append(_product([tensor], t.coef))
    return _total(parts)


def _eye(g_shape: tuple) -> Expr:
    rows, cols = _dims(g_shape)
    return Expr("eye", (), cols if rows == 1 else rows)


@dataclass(frozen=True)
class IndexForm:
    """``d Y[of_indices] / d X[wrt_indices] = rhs``: ``rhs`` a sum of (summed) products of entries."""

    of_indices: tuple
    wrt_indices: tuple
    rhs: Expr


@dataclass(frozen=True)
class _Monomial:
    """``coef · Π factors`` summed over ``sums``; a factor is ("entry", matrix, a, b) or ("delta", size, a, b)."""

    coef: tuple = ()
    factors: tuple = ()
    sums: tuple = ()  # (index name, size)

    def times(self, other: "_Monomial") -> "_Monomial":
        return _Monomial(self.coef + other.coef, self.factors + other.factors, self.sums + other.sums)


def index_form(e: Expr, g: str, g_shape: tuple, x_shape: tuple, shape: ShapeFn, taken: set[str]) -> IndexForm:
    """``e`` (the chain-rule program's result, linear in the cotangent ``g`` of Y's shape) read
    entry by entry: ``J[i, j, k, l] = ∂e[k, l] / ∂g[i, j]``, sums over a Kronecker delta done.
    An axis of size 1 takes the index 1 and is not written."""
    letters = iter(c for c in INDEX_LETTERS + "abcdefgh" if c not in taken)
    gi, gj = (next(letters) if d != 1 else 1 for d in _dims(g_shape))
    k, l = (next(letters) if d != 1 else 1 for d in _dims(x_shape))
    reader = _IndexReader(g, (gi, gj), _dims(g_shape), shape, letters)
    monomials = [_contract(m) for m in reader.entry(e, k, l)]
    if len(monomials) > MAX_TERMS:
        raise NoForm(f"more than {MAX_TERMS} terms")
    if not monomials:
        raise NoForm("the derivative is zero")
    order = [i for i in (gi, gj, k, l) if i != 1]
    return IndexForm(tuple(i for i in (gi, gj) if i != 1), tuple(i for i in (k, l) if i != 1),
                     _signed_total([_render(m, order) for m in monomials]))


class _IndexReader:
    """Entry ``[a, b]`` of an expression linear in ``g`` as monomials in the entries of ``g``'s
    Jacobian (``g[a, b]`` becomes ``δ[a, i] δ[b, j]``)."""

    def __init__(self, g: str, g_indices: tuple, g_dims: tuple, shape: ShapeFn, letters):
        self.g, self.g_indices, self.g_dims, self.shape, self.letters = g, g_indices, g_dims, shape, letters

    def fresh(self, size) -> object:
        if size == 1:
            return 1
        try:
            return next(self.letters)
        except StopIteration:
            raise NoForm("too many indices") from None

    def entry(self, e: Expr, a, b) -> list[_Monomial]:
        if not _depends(e, self.g):
            if S.is_scalar(self.shape(e)):
                return [_Monomial(coef=(e,))]
            return [_Monomial(factors=(("entry", e, a, b),))]
        op = e.op
        if op == "var":
            return [_Monomial(factors=(("delta", self.g_dims[0], a, self.g_indices[0]), ("delta", self.g_dims[1], b, self.g_indices[1])))]
        if op in ("add", "sub"):
            right = self.entry(e.args[1], a, b)
            return self.entry(e.args[0], a, b) + ([_Monomial(coef=(num(-1),)).times(m) for m in right] if op == "sub" else right)
        if op == "neg":
            return [_Monomial(coef=(num(-1),)).times(m) for m in self.entry(e.args[0], a, b)]
        if op == "T":
            return self.entry(e.args[0], b, a)
        if op == "div" and not _depends(e.args[1], self.g) and S.is_scalar(self.shape(e.args[1])):
            return [_Monomial(coef=(node("div", num(1), e.args[1]),)).times(m) for m in self.entry(e.args[0], a, b)]
        if op == "sum":
            rows, cols = _dims(self.shape(e.args[0]))
            c, d = self.fresh(rows), self.fresh(cols)
            return [_summed(m, (c, rows), (d, cols)) for m in self.entry(e.args[0], c, d)]
        if op in ("matmul", "mul", "hadamard"):
            return self._product(e, a, b)
        raise NoForm(f"no index form through {op!r}")

    def _product(self, e: Expr, a, b) -> list[_Monomial]:
        x, y = e.args
        if _depends(x, self.g) and _depends(y, self.g):
            raise NoForm("not linear")
        xs, ys = _dims(self.shape(x)), _dims(self.shape(y))
        if S.is_scalar(xs) or S.is_scalar(ys):  # a 1×1 factor scales the other
            return _times(self.entry(x, *((1, 1) if S.is_scalar(xs) else (a, b))), self.entry(y, *((1, 1) if S.is_scalar(ys) else (a, b))))
        if e.op == "matmul":
            c = self.fresh(xs[1])
            return [_summed(m, (c, xs[1])) for m in _times(self.entry(x, a, c), self.entry(y, c, b))]
        return _times(self.entry(x, *_spread(xs, a, b)), self.entry(y, *_spread(ys, a, b)))


def _spread(dims: tuple, a, b) -> tuple:
    """Indices of an operand broadcast over a larger value (a column over every column...)."""
    return (a if dims[0] != 1 else 1, b if dims[1] != 1 else 1)


def _times(xs: list[_Monomial], ys: list[_Monomial]) -> list[_Monomial]:
    if len(xs) * len(ys) > MAX_TERMS:
        raise NoForm(f"more than {MAX_TERMS} terms")
    return [x.times(y) for x in xs for y in ys]


def _summed(m: _Monomial, *sums) -> _Monomial:
    return _Monomial(m.coef, m.factors, m.sums + tuple((n, size) for n, size in sums if n != 1))


def _contract(m: _Monomial) -> _Monomial:
    """Sums over an index that a Kronecker delta fixes are done: ``sum_c δ[c, k] A[c, j] = A[k, j]``."""
    factors, sums = list(m.factors), dict(m.sums)
    changed = True
    while changed:
        changed = False
        for f in factors:
            if f[0] != "delta":
                continue
            _kind, _size, a, b = f
            gone, kept = (a, b) if a in sums else (b, a) if b in sums else (None, None)
            if a == b or gone is not None:
                factors.remove(f)
                if gone is not None:
                    del sums[gone]
                    factors = [(k, v, kept if x == gone else x, kept if y == gone else y) for k, v, x, y in factors]
                changed = True
                break
    return _Monomial(m.coef, tuple(factors), tuple(sums.items()))


def _render(m: _Monomial, order: list) -> Expr:
    """Deltas first (Y's index first), then entries; factors free of a summed index outside its sum."""
    summed = {name for name, _size in m.sums}

    def rank(i):
        return order.index(i) if i in order else len(order)

    deltas = [(kind, size, *sorted((a, b), key=rank)) for kind, size, a, b in m.factors if kind == "delta"]
    factors = deltas + [f for f in m.factors if f[0] == "entry"]
    factors = [f for f in factors if not _needless_one(f, factors, order)]
    outside = [_factor(f) for f in factors if not {f[2], f[3]} & summed]
    inside = [_factor(f) for f in factors if {f[2], f[3]} & summed]
    body = _scalar_product(inside, ()) if inside else None
    for name, _size in reversed(m.sums):
        body = Expr("isum", (body,), name)
    return _scalar_product(outside + ([body] if body is not None else []), m.coef)


def _needless_one(f: tuple, factors: list, free: list) -> bool:
    """An entry of ``ones`` is 1; it stays only to give an index its range when nothing else does."""
    if f[0] != "entry" or f[1].op != "ones":
        return False
    others = {i for g in factors if g is not f for i in g[2:]} | set(free)
    return all(i == 1 or i in others for i in f[2:])


def _factor(f: tuple) -> Expr:
    kind, value, a, b = f
    return Expr("entry", (Expr("eye", (), value),), (a, b)) if kind == "delta" else entry(value, a, b)


def entry(m: Expr, a, b) -> Expr:
    """Entry (a, b) of ``m``, written with one index for a vector and through a transpose."""
    if m.op == "T":
        return entry(m.args[0], b, a)
    indices = tuple(i for i in (a, b) if i != 1) or (1,)
    return Expr("entry", (m,), indices)


def _scalar_product(factors: list[Expr], coef: tuple[Expr, ...]) -> Expr:
    """Coefficients in front (``-δ[i, k] X[l, j]``, ``1/N ...``; numbers multiplied out), then the factors."""
    number, symbolic = 1, []
    for c in coef:
        if c.op == "num":
            number *= c.attr
        else:
            symbolic.append(c)
    out = None
    for f in factors:
        out = f if out is None else node("mul", out, f)
    for c in reversed(symbolic):
        out = c if out is None else node("mul", c, out)
    if out is None:
        return num(number)
    return out if number == 1 else node("neg", out) if number == -1 else node("mul", num(number), out)


def _signed_total(parts: list[Expr]) -> Expr:
    """``a + -b`` written ``a - b``."""
    out = _total(parts[:1])
    for p in parts[1:]:
        out = node("sub", out, p.args[0]) if p.op == "neg" else node("add", out, p)
    return out
