"""The expression tree: small immutable nodes, one operator name each.

An ``Expr`` is ``op`` + ``args`` (child expressions) + ``attr`` (a name, a number,
a function and derivative order, dimension expressions...). Construction never
rewrites; shapes are inferred by ``shapes.py``, values by ``evaluate.py``, text by ``notation.py``.

Operators (attr in brackets):
  var[name]  num[Fraction]  size[sympy size expression: N, n[2]]  add  sub  neg  matmul  hadamard  mul  div  pow
  otimes  T  diag  eye[dim]  ones[dims]  zeros[dims]  sum  norm  trace  softmax
  pow[None: a scalar's power, ".^": every entry's]  mpow (matrix power, integer k >= 2)  inv  det  logdet
  sum_axis[1: down the rows, 2: along each row]  mean[None: every entry, or an axis]
  apply[(function, order)]  vstack  hstack  slice[(axis, start, stop)]
  deriv[(wrt_name, wrt_indices, layout)]  entry[indices]  isum[index]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..errors import Pos
from .notation import ELEMENTWISE_POWER as ELEMENTWISE_POWER  # the tree's power attr, spelt as the syntax writes it
from .notation import plain
TWO_NORM = "norm_2"  # ||x||_2: the Euclidean norm of a vector (of a matrix it would be the spectral norm)
ONE_NORM = "norm_1"  # ||x||_1: the sum of absolute values of a column (of a matrix: the largest column sum)
GLUED_CALL = "glued"  # attr of ^T written right after name(...): A(B)^T, whose bracket alone may be transposed


@dataclass(frozen=True)
class Expr:
    """Equal (and hashed alike) when operator, arguments and attribute are; the position
    is not compared. The hash is computed once, from the children's, so an expression
    is a cheap dictionary key however large it is."""

    op: str
    args: tuple["Expr", ...] = ()
    attr: Any = None
    pos: Pos | None = field(default=None, compare=False, hash=False, repr=False)
    _hash: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.op, self.args, self.attr)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self):
        # rebuilt, not copied: string hashes differ between processes
        return (Expr, (self.op, self.args, self.attr, self.pos))

    def __eq__(self, other) -> bool:
        if not isinstance(other, Expr):
            return NotImplemented
        pairs = [(self, other)]  # iterative: deep trees compare without recursion
        while pairs:
            a, b = pairs.pop()
            if a is b:
                continue
            if a._hash != b._hash or a.op != b.op or len(a.args) != len(b.args) or a.attr != b.attr:
                return False
            pairs.extend(zip(a.args, b.args))
        return True

    def __str__(self) -> str:
        return plain(self)


class IdentityMap:
    """A mapping keyed by the object itself, not its value (equal trees from different
    places stay apart); it holds each key, so an id is never that of a freed object."""

    def __init__(self) -> None:
        self._items: dict[int, tuple[Any, Any]] = {}

    def __setitem__(self, key, value) -> None:
        self._items[id(key)] = (key, value)

    def get(self, key, default=None):
        item = self._items.get(id(key))
        return item[1] if item is not None and item[0] is key else default

    def __contains__(self, key) -> bool:
        item = self._items.get(id(key))
        return item is not None and item[0] is key


def var(name: str, pos: Pos | None = None) -> Expr:
    return Expr("var", (), name, pos)


def num(value, pos: Pos | None = None) -> Expr:
    return Expr("num", (), Fraction(value), pos)


def size(dim, pos: Pos | None = None) -> Expr:
    """A dimension used as a value (``1/N``, ``n[L]``): a scalar that stays a name until an
    oracle evaluates it at one size set. ``dim``: a sympy expression in dimension symbols."""
    return Expr("size", (), dim, pos)


def node(op: str, *args: Expr, attr: Any = None, pos: Pos | None = None) -> Expr:
    return Expr(op, tuple(args), attr, pos)


def walk(expr: Expr):
    """Every node of the tree, parents before children, left to right (no recursion limit)."""
    stack = [expr]
    while stack:
        e = stack.pop()
        yield e
        stack.extend(reversed(e.args))


def free_vars(expr: Expr) -> set[str]:
    return {n.attr for n in walk(expr) if n.op == "var"}


def applied_functions(*exprs: Expr) -> set[str]:
    """Names of the elementwise functions applied anywhere in ``exprs``."""
    return {n.attr[0] for e in exprs for n in walk(e) if n.op == "apply"}


def substitute(expr: Expr, mapping: dict[str, Expr]) -> Expr:
    """Replace variables by expressions (used to inline helper definitions)."""
    if expr.op == "var" and expr.attr in mapping:
        return mapping[expr.attr]
    if not expr.args:
        return expr
    return Expr(expr.op, tuple(substitute(a, mapping) for a in expr.args), expr.attr, expr.pos)


def product_factors(e: Expr, juxtaposed_only: bool = False) -> list[Expr]:
    """Factors of a contraction product ``A B C``, left to right. ``juxtaposed_only``: in a raw
    tree, split only products written by juxtaposition (``attr`` None), not ``·`` or ``@``."""
    if e.op == "matmul" and not (juxtaposed_only and e.attr is not None):
        return product_factors(e.args[0], juxtaposed_only) + product_factors(e.args[1], juxtaposed_only)
    return [e]
