"""The chain rule: reverse accumulation over the forward definitions.

``gradient_program(model, of, wrt)`` returns a ``Program``: named adjoint steps, one
per definition on a path from ``wrt`` to ``of`` (so its size grows linearly with
depth), and a result expression, the cotangent of ``wrt`` (shape of ``wrt``; for a symmetric
input sym(G) = (G + Gᵀ)/2, the gradient on the space of symmetric matrices). When
``of`` is not a scalar the program is linear in a cotangent variable ``@G`` (shape
of ``of``); feeding unit cotangents gives the Jacobian / 3-tensor row by row.

The program's own names (``@G``, ``@adj[...]``) have their shapes in ``Program.shapes``,
never in the model: programs of one model share nothing but the model, which they only read.

A derivative term inside a differentiated expression (``d (d f / d x) / d x``, or a definition
``g: d f / d x``) is first written out as an expression (``gradient_expr``: the inner program's
steps substituted into its result), then differentiated like any other: second derivatives.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Mapping

from ..errors import TensorcalcError
from . import shapes as S
from .expr import Expr, node, num, substitute, var, walk
from .layouts import effective
from .limits import MAX_EXPANSION
from .model import Model, is_symmetric
from .resolve import NOT_A_GRADIENT, shape_of
from .rules import VJP

COTANGENT = "@G"


def adjoint_name(of_key: str, name: str) -> str:
    return f"@adj[{of_key}]{name}"


@dataclass(frozen=True)
class Program:
    steps: tuple[tuple[str, Expr], ...]
    result: Expr
    cotangent: str | None
    of_shape: tuple
    wrt_shape: tuple
    shapes: Mapping[str, tuple] = field(default_factory=dict, compare=False)  # of the program's own names, read-only


def dependents(model: Model, wrt: str) -> set[str]:
    """Definitions whose value changes when ``wrt`` does."""
    moved = {wrt}
    for name, expr in model.defs.items():
        if name != wrt and any(n.op == "var" and n.attr in moved for n in walk(expr)):
            moved.add(name)
    return moved


def gradient_program(model: Model, of: Expr, wrt: str) -> Program:
    if wrt not in model.shapes:
        raise TensorcalcError(f"unknown name {wrt!r}")
    cache: dict = {}
    own: dict[str, tuple] = {}

    def shape(e):
        return shape_of(model, e, cache, own)

    of_shape = shape(of)
    if S.is_scalar(of_shape):
        seed, cotangent = num(1), None
    else:
        own[COTANGENT] = of_shape
        seed, cotangent = var(COTANGENT), COTANGENT
    moved = dependents(model, wrt)
    depends_cache: dict[Expr, bool] = {}

    def depends(e: Expr) -> bool:
        if e not in depends_cache:
            if e.op == "var":
                depends_cache[e] = e.attr in moved
            else:
                depends_cache[e] = any(depends(a) for a in e.args)
        return depends_cache[e]

    contributions: dict[str, list[Expr]] = {}

    def backprop(e: Expr, g: Expr) -> None:
        if not depends(e):
            return
        if e.op == "var":
            contributions.setdefault(e.attr, []).append(g)
            return
        if e.op == "deriv":
            backprop(gradient_expr(model, e), g)
            return
        rule = VJP.get(e.op)
        if rule is None:
            raise TensorcalcError(f"no derivative rule for {e.op!r}", e.pos)
        for child, cot in zip(e.args, rule(e, g, shape)):
            if cot is not None and depends(child):
                backprop(child, _unbroadcast(cot, shape(child), shape))

    backprop(of, seed)
    steps = []
    of_key = getattr(of, "attr", None) if of.op == "var" else "expr"
    for name in reversed(list(model.defs)):
        if name == wrt or name not in contributions:
            continue
        adj = adjoint_name(str(of_key), name)
        steps.append((adj, _total(contributions.pop(name))))
        own[adj] = model.shapes[name]
        backprop(model.defs[name], var(adj))
    parts = contributions.get(wrt)
    result = _total(parts) if parts else Expr("zeros", (), tuple(model.shapes[wrt]) or ())
    if parts and wrt in model.leaves and is_symmetric(*model.leaves[wrt][::2]):
        result = node("mul", num(Fraction(1, 2)), node("add", result, node("T", result)))  # sym(G): Srinivasan & Panda 2019
    return Program(tuple(steps), result, cotangent, of_shape, model.shapes[wrt], MappingProxyType(own))


def gradient_expr(model: Model, e: Expr) -> Expr:
    """The derivative term ``e`` (d A / d B, A a scalar, B a whole tensor) as an expression in the
    model's names, arranged in the term's layout: the gradient (shape of B) in denominator layout
    and for a scalar in mixed, its transpose in numerator layout. Other derivative terms (a
    Jacobian, a derivative by an entry) have no such expression and are refused."""
    cached = _GRADIENTS.setdefault(model, {}).get(e)
    if cached is not None:
        return cached
    wrt, indices, layout = e.attr
    of = e.args[0]
    check_order(model, e)
    if indices or not S.is_scalar(shape_of(model, of)):
        raise TensorcalcError(NOT_A_GRADIENT, e.pos)
    program = gradient_program(model, of, wrt)
    values: dict[str, Expr] = {}
    for name, step in program.steps:
        values[name] = substitute(step, values)
    result = substitute(program.result, values)
    if effective(layout, ()) == "numerator" and not S.is_scalar(model.shapes[wrt]):
        result = node("T", result)
    if _unrolled_size(result) > MAX_EXPANSION:  # differentiating it again walks every term
        raise TensorcalcError(f"this derivative written out grows beyond {MAX_EXPANSION} terms: differentiate it fewer times", e.pos)
    _GRADIENTS[model][e] = result
    return result


MAX_ORDER = 3  # each order differentiates everything below it again: the cost grows steeply with the order


def check_order(model: Model, e: Expr) -> None:
    """Refuse a derivative term to be written out (or nested in jax) that holds derivative terms
    nested more than ``MAX_ORDER`` deep, directly or through the definitions it reads."""
    orders: dict[str, int] = {}
    for name, expr in model.defs.items():
        orders[name] = _order(expr, orders)
    if _order(e, orders) > MAX_ORDER:
        raise TensorcalcError(f"derivative terms nested more than {MAX_ORDER} deep (derivatives of derivatives) are not checked", e.pos)


def _order(e: Expr, orders: dict[str, int]) -> int:
    """How many derivative terms are nested in ``e``, through the definitions it names."""
    best = 0
    for n in walk(e):
        if n.op == "var":
            best = max(best, orders.get(n.attr, 0))
        elif n.op == "deriv":
            best = max(best, 1 + _order(n.args[0], orders))
    return best


def _unrolled_size(e: Expr) -> int:
    """Nodes of ``e`` as a tree (a shared subexpression counted at every use), without recursion."""
    sizes: dict[Expr, int] = {}
    stack = [e]
    while stack:
        x = stack[-1]
        todo = [a for a in x.args if a not in sizes]
        if todo:
            stack.extend(todo)
            continue
        stack.pop()
        sizes[x] = 1 + sum(sizes[a] for a in x.args)
    return sizes[e]


_GRADIENTS: "weakref.WeakKeyDictionary[Model, dict]" = weakref.WeakKeyDictionary()


def _unbroadcast(cot: Expr, child_shape: tuple, shape) -> Expr:
    """The cotangent of an operand that was spread over a larger value: summed back to the
    operand's shape (a scalar: every entry; a row added to every row of a matrix: its columns)."""
    if S.is_scalar(child_shape):
        return cot if S.is_scalar(shape(cot)) else node("sum", cot)
    if not S.is_vector(child_shape):
        return cot
    cot_shape = shape(cot)
    if not S.spread(cot_shape, child_shape):
        return cot
    if child_shape[0] == 1:  # a row: ones(m)^T G
        return node("matmul", node("T", Expr("ones", (), (cot_shape[0], S.ONE))), cot)
    return node("matmul", cot, Expr("ones", (), (cot_shape[1], S.ONE)))  # a column: G ones(n)


def _total(parts: list[Expr]) -> Expr:
    total = parts[0]
    for p in parts[1:]:
        total = node("add", total, p)
    return total
