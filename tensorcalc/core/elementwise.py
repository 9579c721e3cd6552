"""Elementwise algebra through sympy: collect, cancel and factor a tree of +, -, ⊙, /, powers
and elementwise functions whose operands all have one shape (or are scalars).

Entries of tensors of one shape form a commutative ring under + and ⊙, so such a tree is a
rational function of its operands: ``ElementwiseAlgebra`` maps each maximal operand that is not
elementwise (a name, a matrix product, ``sum(v)``, ``d L / d W``) to a sympy symbol, lets sympy
rewrite, and maps back, scalars first (``(p - y) x``), ``a - b`` for ``a + -b``. ``ones(d)``
is the unit (``ones(d) ⊙ x`` is ``x``); a derivative ``f'(u)`` is either kept opaque or replaced
by the table identity (``log'(u) = 1/u``), as the caller asks. Only the values of the entries
matter, never a transpose: a tree mixing operands of different shapes is left alone (a transposed
elementwise tree is read with the transpose on its operands, ``log'(p)ᵀ ⊙ pᵀ`` as ``log'(pᵀ) ⊙ pᵀ``).
``EntrySums`` reads the sum of a tensor's entries linearly, through the file's definitions.
"""
from __future__ import annotations

from fractions import Fraction
from itertools import islice
from typing import TYPE_CHECKING, Callable

import sympy
from sympy.core.function import AppliedUndef

from . import shapes as S
from .expr import ELEMENTWISE_POWER, Expr, node, num, product_factors, walk
from .functions import T
from .notation import plain

if TYPE_CHECKING:
    from .readable import Knowledge

ShapeFn = Callable[[Expr], tuple]
ELEMENTWISE_OPS = {"add", "sub", "neg", "hadamard", "mul", "div", "pow", "apply", "matmul"}
MAX_OPS = 120  # larger trees are left as they are (sympy's factor grows fast)
_PRIME = "__d"


class NotElementwise(Exception):
    """The tree mixes shapes or uses an operator that is not elementwise."""


def is_elementwise(e: Expr, shape: ShapeFn) -> bool:
    """Is ``e`` an elementwise operation (a product by a scalar counts)?"""
    if e.op == "matmul":
        return any(S.is_scalar(shape(a)) for a in e.args)
    if e.op == "pow":
        return e.args[1].op == "num"
    return e.op in ELEMENTWISE_OPS


class ElementwiseAlgebra:
    """One elementwise tree of shape ``root`` <-> a sympy expression."""

    def __init__(self, shape: ShapeFn, root: tuple, knowledge: "Knowledge"):
        self.shape = shape
        self.root = root
        self.knowledge = knowledge
        self.leaves: dict[Expr, sympy.Symbol] = {}
        self.exprs: dict[sympy.Symbol, Expr] = {}
        self.scalar: set[sympy.Symbol] = set()

    # --- Expr -> sympy
    def to_sympy(self, e: Expr) -> sympy.Expr:
        e = self.knowledge.rename(e)
        if e.op == "num":
            return sympy.Rational(e.attr.numerator, e.attr.denominator)
        if e.op == "ones":
            return sympy.Integer(1)
        if e.op == "zeros":
            return sympy.Integer(0)
        if e.op == "T" and e.args[0].args and is_elementwise(e.args[0], self.shape):
            return self.to_sympy(self.transposed_inside(e.args[0]))
        if not is_elementwise(e, self.shape):
            return self.leaf(e)
        args = [self.to_sympy(a) for a in e.args if e.op != "pow"]
        if e.op in ("add", "sub"):
            return args[0] + args[1] if e.op == "add" else args[0] - args[1]
        if e.op == "neg":
            return -args[0]
        if e.op in ("hadamard", "mul", "matmul"):
            return args[0] * args[1]
        if e.op == "div":
            return args[0] / args[1]
        if e.op == "pow":
            exponent = e.args[1].attr
            return self.to_sympy(e.args[0]) ** sympy.Rational(exponent.numerator, exponent.denominator)
        return self.application(e, args[0])

    def transposed_inside(self, e: Expr) -> Expr:
        """``eᵀ`` for an elementwise ``e``, the transpose moved onto its operands
        (``log'(p)ᵀ ⊙ pᵀ`` -> ``log'(pᵀ) ⊙ pᵀ``, so the identity cancels it); scalars stay."""
        if e.op == "pow":
            return Expr("pow", (node("T", e.args[0]), e.args[1]), e.attr)
        args = tuple(a if S.is_scalar(self.shape(a)) else node("T", a) for a in e.args)
        return Expr(e.op, args, e.attr)

    def application(self, e: Expr, argument: sympy.Expr) -> sympy.Expr:
        """``f(u)``, ``f'(u)`` as an opaque function of u, or ``f'(u)`` by the table identity,
        its values of table functions read back as the file's names (sigma(z) -> p)."""
        name, order = e.attr
        if order == 0:
            return sympy.Function(name)(argument)
        identity = self.knowledge.identity(name, order)
        if identity is None:
            return sympy.Function(f"{name}{_PRIME}{order}")(argument)
        values = {f: self.to_sympy(Expr("apply", e.args, (f.func.__name__, 0))) for f in identity.atoms(AppliedUndef)}
        return identity.xreplace({**values, T: argument})

    def leaf(self, e: Expr) -> sympy.Symbol:
        if e in self.leaves:
            return self.leaves[e]
        s = self.shape(e)
        scalar = S.is_scalar(s)
        if not scalar and not S.same(s, self.root):
            raise NotElementwise(e.op)
        symbol = sympy.Symbol(f"_{len(self.leaves)}", positive=True if self.knowledge.positive(e) else None)
        self.leaves[e], self.exprs[symbol] = symbol, e
        if scalar:
            self.scalar.add(symbol)
        return symbol

    # --- sympy -> Expr
    def is_scalar(self, s: sympy.Expr) -> bool:
        return all(symbol in self.scalar for symbol in s.free_symbols)

    def to_expr(self, s: sympy.Expr) -> Expr:
        out = self._expr(s)
        if self.is_scalar(s) and not S.is_scalar(self.root):  # a constant tree keeps its shape
            out = _scale(out, Expr("ones", (), tuple(self.root)))
        return out

    def _expr(self, s: sympy.Expr) -> Expr:
        if s.is_Rational:
            return num(Fraction(int(s.p), int(s.q)))
        if s.is_Symbol:
            return self.exprs[s]
        if s.is_Add:
            return self._sum(s)
        if s.is_Mul or s.is_Pow:
            return self._product(s)
        if isinstance(s, AppliedUndef) and len(s.args) == 1:
            name = s.func.__name__
            base, _, order = name.partition(_PRIME)
            return Expr("apply", (self._expr(s.args[0]),), (base, int(order or 0)))
        raise NotElementwise(str(s.func))

    def _sum(self, s: sympy.Expr) -> Expr:
        terms = sorted(s.args, key=lambda a: (a.could_extract_minus_sign(), self._regulariser(a), sympy.default_sort_key(a)))
        out = None
        for term in terms:
            negative = term.could_extract_minus_sign()
            part = self._expr(-term if negative else term)
            if out is None:
                out = node("neg", part) if negative else part
            else:
                out = node("sub" if negative else "add", out, part)
        return out

    def is_constant(self, s: sympy.Expr) -> bool:
        """Numbers and sizes only: a coefficient written first (``1/N (a ⊙ b)``)."""
        return all(self.exprs[symbol].op == "size" for symbol in s.free_symbols)

    def _regulariser(self, term: sympy.Expr) -> bool:
        """A tensor scaled by a scalar name (``lam W``): written after the main terms."""
        factors = sympy.Mul.make_args(term)
        scaled = any(self.is_scalar(f) and not self.is_constant(f) for f in factors)
        return scaled and any(not self.is_scalar(f) for f in factors)

    def _product(self, s: sympy.Expr) -> Expr:
        coefficient, factors = s.as_coeff_mul()
        constant = [f for f in factors if self.is_constant(f)]
        if constant and len(constant) < len(factors):
            sign = -1 if coefficient < 0 else 1
            rest = self._product(sympy.Mul(sign, *[f for f in factors if not self.is_constant(f)]))
            scale = self._product(sympy.Mul(abs(coefficient), *constant))
            return node("neg", node("mul", scale, rest.args[0])) if rest.op == "neg" else node("mul", scale, rest)
        factors = list(factors)
        if coefficient < 0:  # -(y - p) x reads better as (p - y) x
            flip = next((i for i, f in enumerate(factors) if f.is_Add and _negatives(-f) <= _negatives(f)), None)
            if flip is not None:
                factors[flip] = sympy.expand(-factors[flip])
                coefficient = -coefficient
        up = [f for f in factors if not (f.is_Pow and f.exp.is_negative)]
        down = [f.base ** -f.exp for f in factors if f.is_Pow and f.exp.is_negative]
        top = self._juxtapose(up)
        bottom = self._juxtapose(down)
        if top is None and bottom is not None and coefficient.is_Integer:  # 2/N, not 2 1/N
            top, coefficient = num(Fraction(abs(int(coefficient)))), sympy.sign(coefficient)
        out = top if bottom is None else node("div", top if top is not None else num(1), bottom)
        if out is None:
            return num(Fraction(int(coefficient.p), int(coefficient.q)))
        return _scale(out, num(Fraction(int(coefficient.p), int(coefficient.q))))

    def _juxtapose(self, factors: list[sympy.Expr]) -> Expr | None:
        """Scalars first, joined by juxtaposition; tensors after, joined by ⊙."""
        if not factors:
            return None
        scalars = [f for f in factors if self.is_scalar(f)]
        tensors = [f for f in factors if not self.is_scalar(f)]
        out = None
        for f in scalars:
            out = self._power(f) if out is None else node("matmul", out, self._power(f))
        joined = None
        for f in tensors:
            joined = self._power(f) if joined is None else node("hadamard", joined, self._power(f))
        if joined is None:
            return out
        return joined if out is None else node("matmul", out, joined)

    def _power(self, f: sympy.Expr) -> Expr:
        if not f.is_Pow:
            return self._expr(f)
        exponent = Fraction(int(f.exp.p), int(f.exp.q)) if f.exp.is_Rational else None
        if exponent is None:
            raise NotElementwise("power")
        attr = None if self.is_scalar(f.base) else ELEMENTWISE_POWER
        return node("pow", self._expr(f.base), num(exponent), attr=attr)


def _negatives(s: sympy.Expr) -> int:
    """How many terms of a sum are written with a minus sign."""
    return sum(1 for term in sympy.Add.make_args(s) if term.could_extract_minus_sign())


def _scale(e: Expr, coefficient: Expr) -> Expr:
    """``c e`` for a number ``c``: ``-e``, ``2 e``, ``1/N e`` (a unit coefficient disappears)."""
    if coefficient.op == "num" and coefficient.attr == 1:
        return e
    if coefficient.op == "num" and coefficient.attr == -1:
        return node("neg", e)
    if e.op == "num" and e.attr == 1:
        return coefficient
    return node("mul", coefficient, e)


def candidates(e: Expr, knowledge: "Knowledge") -> list[Expr]:
    """Equal rewrites of an elementwise tree (collected, cancelled, factored, expanded)."""
    algebra = ElementwiseAlgebra(knowledge.shape, knowledge.shape(e), knowledge)
    try:
        original = algebra.to_sympy(e)
    except NotElementwise:
        return []
    forms = [original]
    if sympy.count_ops(original) <= MAX_OPS:
        for rewrite in (sympy.cancel, sympy.factor, sympy.expand, sympy.factor_terms):
            try:
                forms.append(rewrite(original))
            except (sympy.PolynomialError, ValueError, TypeError, RecursionError):  # a form sympy cannot give is skipped
                continue
    out = []
    for form in forms:
        if form.has(sympy.zoo, sympy.nan, sympy.oo):
            continue
        try:
            out.append(algebra.to_expr(form))
        except (NotElementwise, TypeError, KeyError):
            continue
    return out


class EntrySums:
    """The sum of the entries of a tensor expression as a sympy expression, read linearly:
    ``sum(a ± b) = sum(a) ± sum(b)``, scalars come out, ``ones(a, n) B`` sums to ``a sum(B)``,
    a one-hot or probability matrix (a softmax) sums to its number of columns, and a definition
    is read through its value, so ``c: x - mu ones(n)`` with ``mu: 1/n ones(n)^T x`` sums to 0.
    What is not linear (``sum(u ⊙ v)``, ``sqrt(t)``) is one symbol of an ``ElementwiseAlgebra``
    of scalars, which writes the result back as a formula."""

    def __init__(self, knowledge: "Knowledge"):
        self.knowledge = knowledge
        self.shape = knowledge.shape
        self.algebra = ElementwiseAlgebra(knowledge.shape, (1, 1), knowledge)
        self.memo: dict[Expr, sympy.Expr] = {}

    def total(self, e: Expr) -> sympy.Expr:
        """Σ of the entries of ``e`` (its value when ``e`` is a scalar)."""
        if e not in self.memo:  # a name read twice (h: g + g) is opened once
            self.memo[e] = self._total(e)
        return self.memo[e]

    def _total(self, e: Expr) -> sympy.Expr:
        shape = self.shape(e)
        if S.is_scalar(shape):
            return self.value(e)
        if e.op in ("add", "sub"):
            a, b = (self.total(x) * self.repeats(shape, x) for x in e.args)
            return a + b if e.op == "add" else a - b
        if e.op in ("T", "sum_axis", "mean"):
            return self.total(e.args[0]) / (self.terms(e) if e.op == "mean" else 1)
        if e.op in ("ones", "zeros", "eye"):
            return {"ones": self.count(shape), "zeros": sympy.Integer(0), "eye": self.count(shape[:1])}[e.op]
        if self.knowledge.stochastic(e) or self.knowledge.stochastic(e, rows=True):
            return self.count(shape[1:] if self.knowledge.stochastic(e) else shape[:1])
        if e.op == "matmul" and not any(S.is_scalar(self.shape(a)) for a in e.args):
            return self.product(e)
        if e.op in ("hadamard", "mul", "matmul", "neg", "div"):
            return self.scaled(e)
        if e.op == "var" and e.attr in self.knowledge.values:
            return self.through_definition(e, self.total)
        return self.algebra.leaf(node("sum", e))

    def value(self, e: Expr) -> sympy.Expr:
        """A scalar expression as sympy, sums of entries read by ``total``."""
        if e.op == "num":
            return sympy.Rational(e.attr.numerator, e.attr.denominator)
        if e.op in ("add", "sub", "neg", "mul", "div") or (e.op == "matmul" and all(S.is_scalar(self.shape(a)) for a in e.args)):
            return _arithmetic(e.op, [self.value(a) for a in e.args])
        if e.op == "pow" and e.args[1].op == "num":
            return self.value(e.args[0]) ** sympy.Rational(e.args[1].attr.numerator, e.args[1].attr.denominator)
        if e.op in ("sum", "T", "sum_axis", "mean"):
            return self.total(e.args[0]) / (self.terms(e) if e.op == "mean" else 1)
        if e.op == "matmul":
            return self.product(e)
        if e.op == "var" and e.attr in self.knowledge.values:
            return self.through_definition(e, self.value)
        return self.algebra.leaf(e)

    def through_definition(self, e: Expr, read) -> sympy.Expr:
        """A name read through its value, unless that value is one opaque symbol (``s: sqrt(t)``
        stays ``s``)."""
        opened = read(self.knowledge.values[e.attr])
        if opened.is_Symbol and self.algebra.exprs[opened].op != "size":
            return self.algebra.leaf(e if S.is_scalar(self.shape(e)) else node("sum", e))
        return opened

    def product(self, e: Expr) -> sympy.Expr:
        """Σ of a matrix product: 1×1 factors come out, a ones factor at either end counts."""
        factors = product_factors(e)
        scalars = [self.value(f) for f in factors if S.is_scalar(self.shape(f))]
        rest = [f for f in factors if not S.is_scalar(self.shape(f))]
        scale = sympy.Mul(*scalars)
        if not rest:
            return scale
        for end, axis in ((0, 0), (-1, 1)):
            if len(rest) > 1 and is_ones(rest[end]):
                inner = rest[1:] if end == 0 else rest[:-1]
                return scale * self.count(self.shape(rest[end])[axis : axis + 1]) * self.total(_chain(inner))
        if len(rest) == 1:
            return scale * self.total(rest[0])
        return scale * self.algebra.leaf(node("sum", _chain(rest)))

    def scaled(self, e: Expr) -> sympy.Expr:
        """Σ of an elementwise product: scalar factors come out, ones factors drop."""
        scalars, tensors = self.split(e)
        scale = sympy.Mul(*scalars)
        if not tensors:  # c ones(n)
            return scale * self.count(self.shape(e))
        joined = tensors[0]
        for t in tensors[1:]:
            joined = node("hadamard", joined, t)
        inner = self.total(joined) if len(tensors) == 1 else self.algebra.leaf(node("sum", joined))
        return scale * inner * self.repeats(self.shape(e), joined)

    def repeats(self, shape: tuple, part: Expr) -> sympy.Expr:
        """How many times the entries of ``part`` appear in a ``shape`` it is broadcast to
        (a scalar added to a vector, a row ``bᵀ`` added to a matrix; 1 when the shapes agree)."""
        own = self.shape(part)
        return sympy.Integer(1) if S.same(own, shape) else self.count(shape) / self.count(own)

    def split(self, e: Expr) -> tuple[list[sympy.Expr], list[Expr]]:
        """(scalar factors, tensor factors) of ``e`` read as an elementwise product."""
        if S.is_scalar(self.shape(e)):
            return [self.value(e)], []
        if e.op == "ones":
            return [], []
        if e.op == "neg":
            scalars, tensors = self.split(e.args[0])
            return [sympy.Integer(-1), *scalars], tensors
        if e.op == "div" and S.is_scalar(self.shape(e.args[1])):
            scalars, tensors = self.split(e.args[0])
            return [*scalars, 1 / self.value(e.args[1])], tensors
        if e.op in ("hadamard", "mul") or (e.op == "matmul" and any(S.is_scalar(self.shape(a)) for a in e.args)):
            parts = [self.split(a) for a in e.args]
            return [s for p in parts for s in p[0]], [t for p in parts for t in p[1]]
        return [], [e]

    def terms(self, mean: Expr) -> sympy.Expr:
        """How many entries one value of ``mean(X)`` (all of X) or ``mean(X, axis)`` averages."""
        shape = self.shape(mean.args[0])
        return self.count(shape if mean.attr is None else shape[mean.attr - 1 : mean.attr])

    def count(self, dims: tuple) -> sympy.Expr:
        """The number of entries of a ``dims`` tensor, sizes as symbols of the algebra."""
        return _count(dims, lambda d: self.algebra.leaf(Expr("size", (), d)))


def _count(dims: tuple, size: Callable) -> sympy.Expr:
    """The number of entries of a ``dims`` tensor; a named size is ``size(d)``."""
    out = sympy.Integer(1)
    for d in dims:
        out *= sympy.Integer(int(d)) if isinstance(d, int) or getattr(d, "is_Integer", False) else size(d)
    return out


def _arithmetic(op: str, args: list[sympy.Expr]) -> sympy.Expr:
    """``op`` (add, sub, neg, div; mul or matmul of scalars) applied to sympy values."""
    if op == "neg":
        return -args[0]
    if op in ("add", "sub"):
        return args[0] + args[1] if op == "add" else args[0] - args[1]
    return args[0] / args[1] if op == "div" else args[0] * args[1]


def is_ones(e: Expr) -> bool:
    """``ones(a, b)`` or its transpose."""
    return e.op == "ones" or (e.op == "T" and e.args[0].op == "ones")


def _chain(factors: list[Expr]) -> Expr:
    out = factors[0]
    for f in factors[1:]:
        out = node("matmul", out, f)
    return out


MAX_KEY_NODES = 80  # larger subexpressions are not compared by value (the exact match still applies)


class ValueKey:
    """The value of one entry of an expression as a sympy expression whose symbols are named by
    what they stand for, so values that are equal after normalisation get one key whatever their
    spelling: sum order, ``x ⊙ x`` and ``x.^2``, ``xᵀ x``, ``ones(1, n) (x ⊙ x)`` and
    ``sum(x.^2)``, ``mean(v)`` and ``1/n sum(v)``, ``exp(v/2)`` and ``exp(1/2 v)``. A sum
    carries the number of entries it adds (``sum(ones(n))`` is not ``sum(ones(m))``); names are
    not opened; functions stay opaque (``sqrt(exp(v))`` is not ``exp(1/2 v)``: the exact oracle,
    which confirms every printed formula, does not see that identity); what is not elementwise is
    one symbol named by its text. The caller compares keys of expressions of one shape."""

    def __init__(self, shape: ShapeFn, positive: Callable[[Expr], bool]):
        self.shape = shape
        self.positive = positive
        self.scalars: set[sympy.Symbol] = set()

    def key(self, e: Expr) -> sympy.Expr:
        """The key of ``e`` (``NotElementwise`` when it has too many nodes to compare)."""
        if sum(1 for _ in islice(walk(e), MAX_KEY_NODES + 1)) > MAX_KEY_NODES:
            raise NotElementwise("too large")
        return self._key(e)

    def _key(self, e: Expr) -> sympy.Expr:
        if e.op == "num":
            return sympy.Rational(e.attr.numerator, e.attr.denominator)
        if e.op in ("ones", "zeros"):
            return sympy.Integer(1 if e.op == "ones" else 0)
        if e.op == "size":
            return self.size(e.attr)
        if e.op == "T" and S.is_vector(self.shape(e.args[0])):  # a vector's entries, in a row or a column
            return self._key(e.args[0])
        if e.op in ("sum", "mean") and e.attr is None:
            total = self.total(e.args[0])
            return total / self.count(self.shape(e.args[0])) if e.op == "mean" else total
        if e.op == "matmul" and not is_elementwise(e, self.shape):
            return self.inner_product(e)
        if e.op == "apply":
            return self.application(e)
        if e.op == "pow" and e.args[1].op == "num":
            return self._key(e.args[0]) ** self._key(e.args[1])
        if e.op in ("add", "sub", "neg", "hadamard", "mul", "div", "matmul"):
            return _arithmetic("mul" if e.op == "hadamard" else e.op, [self._key(a) for a in e.args])
        return self.leaf(e)

    def total(self, e: Expr) -> sympy.Expr:
        """Σ of the entries of ``e``: the key of one entry summed over how many there are."""
        return self.summed(self._key(e), self.count(self.shape(e)))

    def inner_product(self, e: Expr) -> sympy.Expr:
        """uᵀ v for a 1×n row and an n×1 column is Σ u ⊙ v; other products are one symbol."""
        a, b = e.args
        sa, sb = self.shape(a), self.shape(b)
        if len(sa) == 2 and len(sb) == 2 and sa[0] == 1 and sb[1] == 1 and not S.is_scalar(sa):
            return self.summed(self._key(a) * self._key(b), self.count(sa))
        return self.leaf(e)

    def application(self, e: Expr) -> sympy.Expr:
        name, order = e.attr
        argument = self._key(e.args[0])
        return sympy.Function(name if order == 0 else f"{name}{_PRIME}{order}")(argument)

    def leaf(self, e: Expr) -> sympy.Symbol:
        symbol = sympy.Symbol(plain(e), real=True, positive=True if self.positive(e) else None)
        if S.is_scalar(self.shape(e)):
            self.scalars.add(symbol)
        return symbol

    def size(self, d) -> sympy.Symbol:
        symbol = sympy.Symbol(f"size:{d}", positive=True)
        self.scalars.add(symbol)
        return symbol

    def count(self, dims: tuple) -> sympy.Expr:
        return _count(dims, self.size)

    def summed(self, entries: sympy.Expr, n: sympy.Expr) -> sympy.Expr:
        """Σ over n entries, read linearly: each term's scalar factors come out, a constant
        term counts n times (``Σ (1/n x² + c)`` is ``1/n Σ x² + n c``)."""
        out = sympy.Integer(0)
        for term in sympy.Add.make_args(sympy.expand(entries)):
            factors = sympy.Mul.make_args(term)
            scalar = sympy.Mul(*[f for f in factors if self.is_scalar(f)])
            rest = sympy.Mul(*[f for f in factors if not self.is_scalar(f)])
            out += scalar * (n if rest == 1 else sympy.Function("sum")(rest, n))
        return out

    def is_scalar(self, s: sympy.Expr) -> bool:
        """One value for every entry: scalar names, sizes and sums only."""
        opaque = s.replace(lambda x: isinstance(x, AppliedUndef) and x.func.__name__ == "sum", lambda x: sympy.Integer(1))
        return opaque.free_symbols <= self.scalars

