"""Small edits of a claim's raw tree, each described in the user's terms.

Two users: mutation testing of the verifier (every edit of a true claim must make
it fail) and the repair search of ``diagnose.py`` (an edit that makes a failing
claim hold says what is wrong with it). Edits work on raw trees from ``parse.py``
(names as written, ``W[l]``, ``sigma'``), so a mutant is again a claim in the file's
notation and ``expr.plain`` prints it.

Each operator maps one node to replacements: (new node, kind, what it did).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterator

from ..core.expr import Expr, node, num, product_factors
from ..core.notation import plain
from ..errors import TensorcalcError

PRODUCTS = ("matmul", "hadamard", "mul", "otimes")
DIM_CALLS = ("I", "eye", "ones", "zeros")  # their arguments are sizes, not values
_FIRST_BRACKET = re.compile(r"^([^\[\]]+)\[([^\[\]]*)\](.*)$", re.S)


@dataclass(frozen=True)
class Edit:
    """One edit of one side: the new side, the operator's kind, and what changed."""

    side: str  # "lhs" | "rhs"
    kind: str
    before: str
    after: str
    expr: Expr
    old: Expr | None = None  # the sub-expression edited ...
    new: Expr | None = None  # ... and what replaced it

    @property
    def description(self) -> str:
        return f"{self.before} -> {self.after}"


@dataclass(frozen=True)
class Context:
    """What the operators need to know about the file: function and family names."""

    functions: frozenset[str]
    families: frozenset[str]


def context_of(prepared) -> Context:
    families = set(prepared.families) | {b for b, (k, _r) in prepared.helpers.items() if k.param}
    return Context(frozenset(prepared.functions.formulas), frozenset(families))


# --- tree positions --------------------------------------------------------------

Path = tuple[int, ...]


def positions(expr: Expr, path: Path = (), parent: Expr | None = None) -> Iterator[tuple[Path, Expr, Expr | None]]:
    """Every (path, node, parent) that denotes a value (not sizes, not exponents)."""
    yield path, expr, parent
    if expr.op == "call" and expr.attr.rstrip("'′") in DIM_CALLS:
        return
    for i, arg in enumerate(expr.args):
        if expr.op == "pow" and i == 1:
            continue
        yield from positions(arg, path + (i,), expr)


def replace_at(expr: Expr, path: Path, new: Expr) -> Expr:
    if not path:
        return new
    i = path[0]
    args = expr.args[:i] + (replace_at(expr.args[i], path[1:], new),) + expr.args[i + 1 :]
    return Expr(expr.op, args, expr.attr, expr.pos)


def product(factors: list[Expr], pos=None) -> Expr:
    out = factors[0]
    for f in factors[1:]:
        out = node("matmul", out, f, pos=pos or out.pos)
    return out


# --- operators on one node -----------------------------------------------------------

Replacement = tuple[Expr, str, str]  # (new node, kind, after-text)


def _is_wrt(parent: Expr | None, path: Path) -> bool:
    return parent is not None and parent.op == "deriv" and path[-1] == 1


def op_transpose(n: Expr, parent: Expr | None, path: Path, ctx: Context) -> list[Replacement]:
    if n.op == "num" or _is_wrt(parent, path) or (parent is not None and parent.op == "T"):
        return []
    if n.op == "T":
        return [(n.args[0], "transpose", plain(n.args[0]))]
    if n.op == "matmul" and parent is not None and parent.op == "matmul":
        return []  # a partial product of a chain is not a factor as written
    if n.op in ("name", "call", "deriv") or (parent is not None and parent.op in PRODUCTS):
        new = node("T", n, pos=n.pos)
        return [(new, "transpose", plain(new))]
    return []


def op_scalar(n: Expr, parent: Expr | None, path: Path, ctx: Context) -> list[Replacement]:
    """A number doubled, or dropped from the product it multiplies."""
    if n.op != "num":
        return []
    doubled = num(n.attr * 2, pos=n.pos)
    out = [(doubled, "double a scalar", plain(doubled))]
    if n.attr != 1 and (parent is None or parent.op in ("matmul", "mul", "div")):
        out.append((num(1, pos=n.pos), "drop a scalar", "1"))
    return out


def op_sign(n: Expr, parent: Expr | None, path: Path, ctx: Context) -> list[Replacement]:
    if n.op == "neg":
        return [(n.args[0], "flip a sign", plain(n.args[0]))]
    if n.op in ("add", "sub"):
        new = Expr("sub" if n.op == "add" else "add", n.args, None, n.pos)
        return [(new, "flip a sign", plain(new))]
    return []


def op_prime(n: Expr, parent: Expr | None, path: Path, ctx: Context) -> list[Replacement]:
    """f' -> f and f -> f' for elementwise functions."""
    if n.op != "call":
        return []
    base = n.attr.rstrip("'′")
    if base not in ctx.functions:
        return []
    out = []
    if base != n.attr:
        new = Expr("call", n.args, n.attr[:-1], n.pos)
        out.append((new, "f' -> f", plain(new)))
    new = Expr("call", n.args, n.attr + "'", n.pos)
    out.append((new, "f -> f'", plain(new)))
    return out


def op_layer(n: Expr, parent: Expr | None, path: Path, ctx: Context) -> list[Replacement]:
    """W[l] -> W[l+1], W[l-1] for layer families."""
    if n.op != "name":
        return []
    match = _FIRST_BRACKET.match(n.attr)
    if not match or match.group(1).strip() not in ctx.families:
        return []
    base, index, rest = match.groups()
    out = []
    for shift in (1, -1):
        new = Expr("name", (), f"{base}[{shifted_index(index, shift)}]{rest}", n.pos)
        out.append((new, "shift a layer index", new.attr))
    return out


_INDEX = re.compile(r"^\s*(?:([A-Za-z_]\w*)\s*)?([+-]?\s*\d+)?\s*$")  # l, l-1, L+2, 3


def shifted_index(index: str, shift: int) -> str:
    """A layer index moved by ``shift``, written as a file writes it: ``1`` -> ``2``,
    ``l+1`` -> ``l`` (not ``1+1``, ``l+1-1``); other index texts get ``+1``/``-1`` appended."""
    match = _INDEX.match(index)
    if not match or not (match.group(1) or match.group(2)):
        return f"{index.strip()}{shift:+d}"
    name, offset = match.group(1), int((match.group(2) or "0").replace(" ", "")) + shift
    if name is None:
        return str(offset)
    return name if offset == 0 else f"{name}{offset:+d}"


def op_drop_term(n: Expr, parent: Expr | None, path: Path, ctx: Context) -> list[Replacement]:
    """Drop one operand of ⊙, or a diag(...) factor of a product."""
    out = []
    if n.op == "hadamard":
        for keep in n.args:
            out.append((keep, "drop a ⊙ term", plain(keep)))
    if n.op == "matmul":
        factors = product_factors(n)
        if len(factors) > 1 and (parent is None or parent.op != "matmul"):
            for i, f in enumerate(factors):
                if f.op == "call" and f.attr == "diag":
                    new = product(factors[:i] + factors[i + 1 :], n.pos)
                    out.append((new, "drop a diag factor", plain(new)))
    return out


def op_swap(n: Expr, parent: Expr | None, path: Path, ctx: Context) -> list[Replacement]:
    """Swap two adjacent factors of a product (or the operands of ⊗)."""
    out = []
    if n.op == "otimes":
        new = Expr("otimes", n.args[::-1], None, n.pos)
        out.append((new, "swap two factors", plain(new)))
    if n.op == "matmul" and (parent is None or parent.op != "matmul"):
        factors = product_factors(n)
        for i in range(len(factors) - 1):
            swapped = factors[:i] + [factors[i + 1], factors[i]] + factors[i + 2 :]
            new = product(swapped, n.pos)
            out.append((new, "swap two factors", plain(new)))
    return out


OPERATORS: dict[str, Callable] = {
    "transpose": op_transpose,
    "swap": op_swap,
    "scalar": op_scalar,
    "sign": op_sign,
    "prime": op_prime,
    "layer": op_layer,
    "drop": op_drop_term,
}


def side_edits(side: str, expr: Expr, ctx: Context, operators: dict[str, Callable] | None = None) -> list[Edit]:
    """Every single-node edit of one side, plus the side doubled and negated."""
    edits = []
    for path, n, parent in positions(expr):
        for operator in (operators or OPERATORS).values():
            for new, kind, after in operator(n, parent, path, ctx):
                edits.append(Edit(side, kind, plain(n), after, replace_at(expr, path, new), n, new))
    if expr.op != "deriv":
        doubled = node("matmul", num(2), expr, pos=expr.pos)
        negated = node("neg", expr, pos=expr.pos)
        edits.append(Edit(side, "double a scalar", plain(expr), plain(doubled), doubled, expr, doubled))
        edits.append(Edit(side, "flip a sign", plain(expr), plain(negated), negated, expr, negated))
    return edits


def claim_edits(lhs: Expr, rhs: Expr, ctx: Context) -> list[Edit]:
    """Edits of both sides of a claim, without duplicates (by rendered text)."""
    seen = {(plain(lhs), plain(rhs))}
    out = []
    for side, expr in (("lhs", lhs), ("rhs", rhs)):
        for edit in side_edits(side, expr, ctx):
            key = (plain(edit.expr), plain(rhs)) if side == "lhs" else (plain(lhs), plain(edit.expr))
            if key not in seen:
                seen.add(key)
                out.append(edit)
    return out


# --- a side divided by a constant factor ------------------------------------------


def rescaled(claimed_raw: Expr, k: Fraction, dim: str | None, e: int) -> Expr:
    """The claimed side divided by the factor k × dim^e it is off by, as a raw tree: the number
    it starts with absorbs 1/k (``2 x`` off by 2 -> ``x``), a size joins it (``2/N x``)."""
    scaled = _times(claimed_raw, 1 / k)
    if dim is None or e == 0:
        return scaled
    if scaled.op == "neg":
        return node("neg", rescaled(scaled.args[0], Fraction(1), dim, e))
    power = Expr("name", (), dim) if abs(e) == 1 else node("pow", Expr("name", (), dim), num(abs(e)))

    def coefficient(c: Fraction) -> Expr:  # c / N^e: 2/N, 1/N, N, 2 N
        if e > 0:
            return node("div", num(c), power)
        return power if c == 1 else node("matmul", num(c), power)

    if _leading_number(scaled) is None:
        return node("matmul", coefficient(Fraction(1)), scaled)
    return _replace_leading(scaled, coefficient)


def _times(raw: Expr, c: Fraction) -> Expr:
    """c × raw, c merged into raw's leading number (its first factor) or sign: a leading 1 is
    dropped, a negative number written as a sign (``-2 x``, not ``(-2) x``)."""
    if raw.op == "neg":
        return _times(raw.args[0], -c)
    if _leading_number(raw) is not None:
        raw = _replace_leading(raw, lambda n: num(n * c))
    elif c != 1:
        raw = node("matmul", num(c), raw)
    return _signed(raw)


def _signed(raw: Expr) -> Expr:
    lead = _leading_number(raw)
    if lead is not None and lead < 0:
        return node("neg", _signed(_replace_leading(raw, lambda n: num(-n))))
    if lead == 1 and raw.op not in ("num", "div"):
        return _without_leading(raw)
    return raw


def _leading_number(raw: Expr) -> Fraction | None:
    """The number a product starts with (``2`` of ``2 x y``, ``1/5`` of ``1/5 x``), or None."""
    if raw.op == "num" or _is_fraction(raw):
        return _number(raw)
    return _leading_number(raw.args[0]) if raw.op in ("matmul", "mul") else None


def _replace_leading(raw: Expr, make) -> Expr:
    """raw (with a leading number c) with that number replaced by ``make(c)``."""
    if raw.op in ("matmul", "mul"):
        return Expr(raw.op, (_replace_leading(raw.args[0], make), raw.args[1]), raw.attr, raw.pos)
    return make(_number(raw))


def _without_leading(raw: Expr) -> Expr:
    """A product (with a leading number) without that number."""
    first = raw.args[0]
    if first.op == "num" or _is_fraction(first):
        return raw.args[1]
    return Expr(raw.op, (_without_leading(first), raw.args[1]), raw.attr, raw.pos)


def _is_fraction(raw: Expr) -> bool:
    """``1/5`` as the parser reads it: a number divided by a number."""
    return raw.op == "div" and all(a.op == "num" for a in raw.args)


def _number(raw: Expr) -> Fraction:
    return raw.attr if raw.op == "num" else raw.args[0].attr / raw.args[1].attr


# --- equivalence of resolved expressions --------------------------------------------

COMMUTATIVE = ("add", "hadamard", "mul")
SYMMETRIC = ("eye",)


def normal_form(model, expr: Expr) -> str:
    """Text of a canonical form of a resolved expression, equal for trivially equal ones.

    Rules (each an identity at every size): Aᵀᵀ = A; a scalar, I(n) or diag(v)
    equals its transpose; f(Aᵀ) = f(A)ᵀ for elementwise f; diag(vᵀ) = diag(v);
    --A = A; + ⊙ * commute; scalar factors of a product move to its front; a vector
    operand of ⊗ and a differentiated vector are read as vectors, whatever their
    orientation (d zᵀ / d W = d z / d W once the size-1 axis is squeezed).
    """
    return plain(_normal(model, expr))


def _normal(model, e: Expr) -> Expr:
    args = tuple(_normal(model, a) for a in e.args)
    e = Expr(e.op, args, e.attr, e.pos)
    if e.op == "T":
        inner = args[0]
        if inner.op == "T":
            return inner.args[0]
        if inner.op in SYMMETRIC or inner.op == "num" or (inner.op == "diag" and _is_vector(model, inner.args[0])):
            return inner
        if _is_scalar(model, inner):
            return inner
    if e.op == "apply" and args[0].op == "T":
        return _normal(model, Expr("T", (Expr("apply", args[0].args, e.attr, e.pos),), None, e.pos))
    if e.op == "diag" and args[0].op == "T" and _is_vector(model, args[0].args[0]):
        return Expr("diag", args[0].args, None, e.pos)
    if e.op == "otimes" and any(a.op == "T" and _is_vector(model, a.args[0]) for a in args):
        return Expr("otimes", tuple(a.args[0] if a.op == "T" and _is_vector(model, a.args[0]) else a for a in args), None, e.pos)
    if e.op == "deriv" and args[0].op == "T" and _is_vector(model, args[0].args[0]):
        return Expr("deriv", args[0].args, e.attr, e.pos)
    if e.op == "neg" and args[0].op == "neg":
        return args[0].args[0]
    if e.op in COMMUTATIVE:
        return Expr(e.op, tuple(sorted(args, key=plain)), e.attr, e.pos)
    if e.op == "matmul":
        factors = product_factors(e)
        scalars = sorted((f for f in factors if _is_scalar(model, f)), key=plain)
        rest = [f for f in factors if not _is_scalar(model, f)]
        if scalars and rest:
            return product(scalars + rest, e.pos)
        if scalars and not rest:  # scalars commute
            return product(scalars, e.pos)
    return e


def _shape(model, e: Expr):
    try:
        return model.shape(e)
    except TensorcalcError:  # an ill-formed part is simply not normalised
        return None


def _is_scalar(model, e: Expr) -> bool:
    from ..core.shapes import is_scalar

    shape = _shape(model, e)
    return shape is not None and is_scalar(shape)


def _is_vector(model, e: Expr) -> bool:
    from ..core.shapes import is_vector

    shape = _shape(model, e)
    return shape is not None and is_vector(shape)
