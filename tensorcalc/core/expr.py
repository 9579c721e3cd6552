"""The expression tree: small immutable nodes, one operator name each.

An ``Expr`` is ``op`` + ``args`` (child expressions) + ``attr`` (a name, a number,
a function and derivative order, dimension expressions...). Construction never
rewrites; shapes are inferred by ``shapes.py`` and values by ``evaluate.py``.

Operators (attr in brackets):
  var[name]  num[Fraction]  size[sympy size expression: N, n[2]]  add  sub  neg  matmul  hadamard  mul  div  pow
  otimes  T  diag  eye[dim]  ones[dims]  zeros[dims]  sum  norm  trace  softmax
  pow[None: a scalar's power, ".^": every entry's]  mpow (matrix power, integer k >= 2)  inv  det  logdet
  sum_axis[1: down the rows, 2: along each row]  mean[None: every entry, or an axis]
  apply[(function, order)]  vstack  hstack  slice[(axis, start, stop)]
  deriv[(wrt_name, wrt_indices, layout)]  entry[indices]  isum[(index, name)]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..errors import Pos


ELEMENTWISE_POWER = ".^"  # attr of a power of every entry of a non-scalar (X.^2); X^2 of a square X is mpow
TWO_NORM = "norm_2"  # ||x||_2: the Euclidean norm of a vector (of a matrix it would be the spectral norm)
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
        return to_text(self)


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


_INFIX = {"add": " + ", "sub": " - ", "hadamard": " ⊙ ", "mul": " * ", "div": "/", "otimes": " ⊗ ", "matmul": " "}


def _postfix_operand(e: Expr) -> str:
    """A power read as a base or transposed needs parentheses: ``(X^2)^T``, not ``X^2^T``."""
    text = to_text(e)
    return f"({text})" if e.op in ("pow", "mpow") else text


def to_text(e: Expr) -> str:
    """Plain-text rendering in the derivation-file syntax (re-parsable)."""
    op = e.op
    if op in ("var", "name"):  # "name": a raw (unresolved) name as written, e.g. W[l-1]
        return e.attr
    if op == "num":
        v = e.attr
        text = str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"
        return f"({text})" if v < 0 else text
    if op == "size":  # a dimension used as a value: printed by name, a number only when evaluated
        return str(e.attr)
    if op == "call":  # raw call as written: sigma'(z), diag(v), I(h)
        return f"{e.attr}({', '.join(to_text(a) for a in e.args)})"
    if op in _INFIX:
        return "(" + _INFIX[op].join(to_text(a) for a in e.args) + ")"
    if op == "neg":
        return f"(-{to_text(e.args[0])})"
    if op in ("pow", "mpow"):
        caret = ".^" if e.attr == ELEMENTWISE_POWER else "^"
        return f"{_postfix_operand(e.args[0])}{caret}{to_text(e.args[1])}"
    if op == "T":
        return f"{_postfix_operand(e.args[0])}^T"
    if op == "apply":
        fn, order = e.attr
        return f"{fn}{chr(39) * order}({to_text(e.args[0])})"
    if op in ("eye", "ones", "zeros"):
        dims = e.attr if isinstance(e.attr, tuple) else (e.attr,)
        name = {"eye": "I"}.get(op, op)
        return f"{name}({', '.join(str(d) for d in dims)})"
    if op == "vstack":
        return "[" + "; ".join(to_text(a) for a in e.args) + "]"
    if op == "hstack":
        return "[" + " | ".join(to_text(a) for a in e.args) + "]"
    if op == "deriv" and e.attr is None:  # raw: args are (top, bottom) as written
        top, bottom = e.args
        top_text = to_text(top) if top.op == "name" else f"({to_text(top)})"
        return f"(d {top_text} / d {to_text(bottom)})"
    if op == "deriv":
        wrt, idx, _layout = e.attr
        suffix = f"[{', '.join(map(str, idx))}]" if idx else ""
        return f"(d {to_text(e.args[0])} / d {wrt}{suffix})"
    if op == "entry":
        return f"{to_text(e.args[0])}[{', '.join(map(str, e.attr))}]"
    if op == "isum":
        return f"sum_{e.attr[0]}({to_text(e.args[0])})"
    if op in ("sum_axis", "mean"):
        axis = "" if e.attr is None else f", {e.attr}"
        return f"{'sum' if op == 'sum_axis' else 'mean'}({to_text(e.args[0])}{axis})"
    if op == "slice":
        axis, start, stop = e.attr
        return f"slice{axis}({to_text(e.args[0])}, {start}, {stop})"
    return f"{op}({', '.join(to_text(a) for a in e.args)})"


def product_factors(e: Expr, juxtaposed_only: bool = False) -> list[Expr]:
    """Factors of a contraction product ``A B C``, left to right. ``juxtaposed_only``: in a raw
    tree, split only products written by juxtaposition (``attr`` None), not ``·`` or ``@``."""
    if e.op == "matmul" and not (juxtaposed_only and e.attr is not None):
        return product_factors(e.args[0], juxtaposed_only) + product_factors(e.args[1], juxtaposed_only)
    return [e]
