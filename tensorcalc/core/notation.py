"""Formulas as plain text in the derivation-file syntax, with as few parentheses as the
grammar's precedence allows (so the text parses back to the same value).

Precedence, loosest first (grammar.lark): + -  |  unary -  |  ⊙ * ⊗  |  juxtaposition  |  /  |  ^  |  ^T.
"""
from __future__ import annotations

import sympy

from .expr import ELEMENTWISE_POWER, Expr

ADD, NEG, ELEMENTWISE, PRODUCT, QUOTIENT, POWER, POSTFIX, ATOM = range(8)
LEVEL = {"add": ADD, "sub": ADD, "neg": NEG, "hadamard": ELEMENTWISE, "mul": ELEMENTWISE, "otimes": ELEMENTWISE,
         "matmul": PRODUCT, "div": QUOTIENT, "pow": POWER, "mpow": POWER, "T": POSTFIX}
INFIX = {"add": " + ", "sub": " - ", "hadamard": " ⊙ ", "mul": " * ", "otimes": " ⊗ ", "matmul": " ", "div": "/"}
# right operand of the same level needs no parentheses for these (associative in value)
ASSOCIATIVE = {"add", "hadamard", "mul", "matmul"}


def is_constant(e: Expr) -> bool:
    """Numbers and sizes only (``1/N``, ``2 N``): a coefficient written before what it scales."""
    if e.op in ("num", "size"):
        return True
    return e.op in ("mul", "matmul", "div", "pow", "neg") and all(is_constant(a) for a in e.args)


def level(e: Expr) -> int:
    if e.op == "mul" and e.args[0].op == "num" and e.args[0].attr < 0:
        return NEG
    if e.op == "mul" and is_constant(e.args[0]) and e.args[1].op == "hadamard":
        return ELEMENTWISE  # printed (c u) ⊙ v, as ``plain`` writes it
    if e.op == "mul" and is_constant(e.args[0]):
        return PRODUCT  # 2 x, 1/N x read better than 2 * x
    if e.op == "num" and e.attr.denominator != 1:
        return QUOTIENT
    if e.op == "num" and e.attr < 0:
        return NEG
    return LEVEL.get(e.op, ATOM)


def plain(e: Expr) -> str:
    op = e.op
    if op == "var":
        return e.attr
    if op == "num":
        v = e.attr
        return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"
    if op == "mul" and e.args[0].op == "num" and e.args[0].attr < 0:
        return "-" + plain(Expr("mul", (Expr("num", (), -e.args[0].attr), e.args[1])))
    if op == "mul" and is_constant(e.args[0]) and e.args[1].op == "hadamard":  # c (u ⊙ v) = (c u) ⊙ v: no parentheses
        scaled, other = e.args[1].args
        return plain(Expr("hadamard", (Expr("mul", (e.args[0], scaled)), other)))
    if op == "mul" and is_constant(e.args[0]):
        return f"{_wrap(e.args[0], PRODUCT, False)} {_wrap(e.args[1], PRODUCT, e.args[1].op != 'matmul')}"
    if op == "size":
        return size_text(e.attr)
    if op in INFIX:
        a, b = e.args
        mine = LEVEL[op]
        right_ok = op in ASSOCIATIVE and (level(b) != mine or b.op == op or {op, b.op} <= {"hadamard", "mul"})
        left_ok = level(a) != mine or a.op == op or {op, a.op} <= {"hadamard", "mul"} or op in ("add", "sub", "div", "matmul")
        left = _wrap(a, mine, not left_ok)
        right = _wrap(b, mine, not right_ok)
        return f"{left}{INFIX[op]}{right}"
    if op == "neg":
        return "-" + _wrap(e.args[0], NEG, True)
    if op in ("pow", "mpow"):  # X^k of a square X is the matrix power; X.^k the power of every entry
        caret = ".^" if e.attr == ELEMENTWISE_POWER else "^"
        return f"{_wrap(e.args[0], POSTFIX, True)}{caret}{_exponent(e.args[1])}"
    if op == "T":
        return f"{_wrap(e.args[0], ATOM, True)}^T"
    if op == "apply":
        name, order = e.attr
        return f"{name}{chr(39) * order}({plain(e.args[0])})"
    if op in ("eye", "ones", "zeros"):
        dims = e.attr if isinstance(e.attr, tuple) else (e.attr,)
        if op != "eye" and len(dims) == 2 and dims[1] == 1:
            dims = dims[:1]
        return f"{'I' if op == 'eye' else op}({', '.join(size_text(d) for d in dims)})"
    if op == "deriv":
        wrt, idx, _layout = e.attr
        suffix = f"[{', '.join(map(str, idx))}]" if idx else ""
        return f"(d {plain(e.args[0])} / d {wrt}{suffix})"
    if op == "vstack":
        return "[" + "; ".join(plain(a) for a in e.args) + "]"
    if op == "hstack":
        return "[" + " | ".join(plain(a) for a in e.args) + "]"
    if op == "entry":
        return f"{_wrap(e.args[0], ATOM, True)}[{', '.join(map(str, e.attr))}]"
    if op == "isum":
        return f"sum_{e.attr}({plain(e.args[0])})"
    if op in ("sum_axis", "mean"):
        axis = "" if e.attr is None else f", {e.attr}"
        return f"{'sum' if op == 'sum_axis' else 'mean'}({plain(e.args[0])}{axis})"
    if op == "slice":
        axis, start, stop = e.attr
        rows = f"{_one_based(start)}..{stop}"
        return f"({'rows' if axis == 0 else 'columns'} {rows} of {plain(e.args[0])})"
    return f"{op}({', '.join(plain(a) for a in e.args)})"


def _exponent(e: Expr) -> str:
    """An integer exponent bare (X^2, X^-1); any other in parentheses: K/2^(1/2), not K/2^1/2."""
    whole = e.args[0] if e.op == "neg" else e
    if whole.op == "num" and whole.attr.denominator == 1:
        return plain(e)
    return _wrap(e, ATOM, True)


def size_text(d) -> str:
    """A size as the grammar reads it: a power of a name as a product (``n*n``, not ``n**2``)."""
    if isinstance(d, sympy.Pow) and d.exp.is_Integer and 0 < d.exp <= 8 and d.base.is_Symbol:
        return "*".join([str(d.base)] * int(d.exp))
    if isinstance(d, sympy.Mul):
        return "*".join(f"({size_text(f)})" if isinstance(f, sympy.Add) else size_text(f) for f in d.as_ordered_factors())
    return str(d)


def _one_based(start) -> str:
    return "1" if start == 0 else f"{start}+1"


def _wrap(e: Expr, context: int, strict: bool) -> str:
    """Parenthesise ``e`` when it binds more loosely than ``context`` (or equally, if strict)."""
    text = plain(e)
    mine = level(e)
    if mine < context or (strict and mine == context and mine != ATOM):
        return f"({text})"
    return text


def shape_text(shape: tuple) -> str:
    if not shape or all(d == 1 for d in shape):
        return "scalar"
    return "×".join(str(d) for d in shape)
