"""Derived formulas as aligned text lines: the result, its recursion, or every chain-rule step with its shape."""
from __future__ import annotations

from ..core.expr import Expr
from ..core.jacobians import DELTA
from ..core.notation import plain, shape_text
from ..explain.formulas import with_helper_names


def derivation_text(d, names: dict, steps: bool = False) -> str:
    """A ``formulas.Derivation`` as aligned lines: result (and its recursion), or every step;
    with ``steps``, seed 001's chain of Jacobian factors as a block of its own."""
    blocks = []
    if not (steps and d.jacobian and d.jacobian_steps):
        blocks.append(_aligned(d.displayed(steps), names, steps, d.general))
    if steps and d.jacobian_steps:
        blocks.append(_aligned(d.jacobian_steps, names, True, False))
    return "\n\n".join(blocks)


def _aligned(lines, names: dict, with_shapes: bool, general: bool) -> str:
    rows: list[tuple[str, str, str]] = []
    for line, continued in lines:
        lhs, rhs = side_text(with_helper_names(line.lhs, names)), side_text(with_helper_names(line.rhs, names))
        loop = f"   for l in {line.loop[0]}..{line.loop[1]}" if line.loop else ""
        rows.append(("" if continued else lhs, rhs + loop, shape_text(line.shape)))
    width = max(len(r[0]) for r in rows)
    body = max(len(r[1]) for r in rows)
    out = []
    for i, (lhs, rhs, shape) in enumerate(rows):
        text = f"{lhs:<{width}} = {rhs}"
        out.append(f"{text:<{width + body + 3}}   {shape}" if with_shapes else text)
        if general and i == 0 and len(rows) > 1:
            out.append(f"{'':<{width}}   where")
    return "\n".join(out)


def side_text(e: Expr) -> str:
    """One side of a displayed line: a derivative term without its parentheses, an entry of a
    Jacobian as ``d Z[i, j] / d W[k, l]``, Kronecker deltas as ``δ[i, k]``."""
    if e.op == "entry" and e.args[0].op == "deriv":
        inner = e.args[0]
        return f"d {plain(inner.args[0])}[{', '.join(map(str, e.attr))}] / d {inner.attr[0]}{_indices(inner.attr[1])}"
    text = plain(_index_notation(e))
    return text[1:-1] if e.op == "deriv" and text.startswith("(d ") and text.endswith(")") else text


def _indices(indices: tuple) -> str:
    return f"[{', '.join(map(str, indices))}]" if indices else ""


def _index_notation(e: Expr) -> Expr:
    """Entries of identities as δ, products of entries as juxtaposition (for printing only)."""
    if e.op == "entry" and e.args[0].op == "eye":
        return Expr("entry", (Expr("var", (), DELTA),), e.attr)
    if not e.args:
        return e
    args = tuple(_index_notation(a) for a in e.args)
    if e.op == "mul" and all(a.op in ("entry", "matmul", "isum") for a in args):
        return Expr("matmul", args, None)
    return Expr(e.op, args, e.attr)
