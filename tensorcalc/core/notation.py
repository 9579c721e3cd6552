"""Formulas as plain text in the derivation-file syntax, with as few parentheses as the
grammar's precedence allows (so the text parses back to the same value). The one printer
of expression trees: resolved ones and raw ones as parsed (names, calls, d top / d bottom).

Precedence, loosest first (grammar.lark): + -  |  unary -  |  ⊙ * ⊗  |  juxtaposition  |  /  |  ^  |  ^T.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import sympy

if TYPE_CHECKING:
    from .expr import Expr

ELEMENTWISE_POWER = ".^"  # attr of a power of every entry of a non-scalar (X.^2); X^2 of a square X is mpow

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
    """``e`` (resolved or raw) as derivation-file text that parses back to the same value,
    with as few parentheses as precedence allows."""
    return _text(e, False)


def grouped(e: Expr) -> str:
    """``plain`` with every operand of an infix or unary operator in parentheses: the tree's
    grouping spelt out (``(a b) c`` and ``a (b c)`` differ), for reading how a text was parsed."""
    return _text(e, True)


def _text(e: Expr, explicit: bool) -> str:
    """``plain`` text, or with ``explicit`` the grouping of every infix and unary operation spelt out."""
    op = e.op
    if op == "mul" and is_constant(e.args[0]):
        return _scaled(e, explicit)
    if op in INFIX:
        a, b = e.args
        mine = LEVEL[op]
        right_ok = op in ASSOCIATIVE and (level(b) != mine or b.op == op or {op, b.op} <= {"hadamard", "mul"})
        left_ok = level(a) != mine or a.op == op or {op, a.op} <= {"hadamard", "mul"} or op in ("add", "sub", "div", "matmul")
        return f"{_wrap(a, mine, not left_ok, explicit)}{INFIX[op]}{_wrap(b, mine, not right_ok, explicit)}"
    if op == "neg":
        return "-" + _wrap(e.args[0], NEG, True, explicit)
    if op in ("pow", "mpow"):  # X^k of a square X is the matrix power; X.^k the power of every entry
        caret = ".^" if e.attr == ELEMENTWISE_POWER else "^"
        return f"{_wrap(e.args[0], POSTFIX, True, explicit)}{caret}{_exponent(e.args[1], explicit)}"
    if op == "T":
        return f"{_wrap(e.args[0], ATOM, True, explicit)}^T"
    if op == "entry":
        return f"{_wrap(e.args[0], ATOM, True, explicit)}[{', '.join(map(str, e.attr))}]"
    return _bracketed(e, lambda a: _text(a, explicit))


def _bracketed(e: Expr, text) -> str:
    """Leaves and the operators whose operands stand inside brackets of their own (calls,
    stacks, derivatives), so they never need parentheses; ``text`` prints an operand."""
    op = e.op
    if op in ("var", "name"):  # "name": a raw (unresolved) name as written, e.g. W[l-1]
        return e.attr
    if op == "num":
        return number_text(e.attr)
    if op == "size":
        return size_text(e.attr)
    if op == "call":  # a raw call as written: sigma'(z), diag(v), I(h)
        return f"{e.attr}({', '.join(text(a) for a in e.args)})"
    if op == "deriv" and e.attr is None:  # raw: args are (top, bottom) as written
        top, bottom = e.args
        return f"(d {text(top) if top.op == 'name' else '(' + text(top) + ')'} / d {text(bottom)})"
    if op == "deriv":
        wrt, idx, _layout = e.attr
        suffix = f"[{', '.join(map(str, idx))}]" if idx else ""
        return f"(d {text(e.args[0])} / d {wrt}{suffix})"
    if op == "apply":
        name, order = e.attr
        return f"{name}{chr(39) * order}({text(e.args[0])})"
    if op in ("eye", "ones", "zeros"):
        dims = e.attr if isinstance(e.attr, tuple) else (e.attr,)
        if op != "eye" and len(dims) == 2 and dims[1] == 1:
            dims = dims[:1]
        return f"{'I' if op == 'eye' else op}({', '.join(size_text(d) for d in dims)})"
    if op in ("vstack", "hstack"):
        return "[" + (" | " if op == "hstack" else "; ").join(text(a) for a in e.args) + "]"
    if op == "isum":
        return f"sum_{e.attr}({text(e.args[0])})"
    if op in ("sum_axis", "mean"):
        axis = "" if e.attr is None else f", {e.attr}"
        return f"{'sum' if op == 'sum_axis' else 'mean'}({text(e.args[0])}{axis})"
    if op == "slice":
        axis, start, stop = e.attr
        return f"({'rows' if axis == 0 else 'columns'} {_one_based(start)}..{stop} of {text(e.args[0])})"
    return f"{op}({', '.join(text(a) for a in e.args)})"


def number_text(v) -> str:
    """A rational as the grammar reads it back exactly: ``3``, ``1/3``, and a short numerator
    over a power of ten at least 10^4 in scientific notation (``1e-5``, not ``1/100000``)."""
    if v.denominator == 1:
        return str(v.numerator)
    exponent = len(str(v.denominator)) - 1
    if exponent >= 4 and v.denominator == 10**exponent and abs(v.numerator) < 1000:
        return f"{v.numerator}e-{exponent}"
    return f"{v.numerator}/{v.denominator}"


def _scaled(e: Expr, explicit: bool) -> str:
    """A product ``c x`` with a constant ``c`` written before ``x``: ``-2 x``, ``2 u ⊙ v``."""
    coefficient, x = e.args
    if coefficient.op == "num" and coefficient.attr < 0:
        return "-" + _text(replace(e, args=(replace(coefficient, attr=-coefficient.attr), x)), explicit)
    if x.op == "hadamard" and not explicit:  # c (u ⊙ v) = (c u) ⊙ v: no parentheses
        scaled, other = x.args
        return _text(replace(x, args=(replace(e, args=(coefficient, scaled)), other)), explicit)
    return f"{_wrap(coefficient, PRODUCT, False, explicit)} {_wrap(x, PRODUCT, x.op != 'matmul', explicit)}"


def _exponent(e: Expr, explicit: bool) -> str:
    """An integer exponent bare (X^2, X^-1); any other in parentheses: K/2^(1/2), not K/2^1/2."""
    whole = e.args[0] if e.op == "neg" else e
    if whole.op == "num" and whole.attr.denominator == 1:
        return _text(e, explicit)
    return _wrap(e, ATOM, True, explicit)


def size_text(d) -> str:
    """A size as the grammar reads it: a power of a name as a product (``n*n``, not ``n**2``)."""
    if isinstance(d, sympy.Pow) and d.exp.is_Integer and 0 < d.exp <= 8 and d.base.is_Symbol:
        return "*".join([str(d.base)] * int(d.exp))
    if isinstance(d, sympy.Mul):
        return "*".join(f"({size_text(f)})" if isinstance(f, sympy.Add) else size_text(f) for f in d.as_ordered_factors())
    return str(d)


def _one_based(start) -> str:
    return "1" if start == 0 else f"{start}+1"


def _wrap(e: Expr, context: int, strict: bool, explicit: bool) -> str:
    """Parenthesise ``e`` when it binds more loosely than ``context`` (or equally, if strict);
    ``explicit``: whenever it is an infix or unary operation (powers and ^T bind tightest)."""
    text = _text(e, explicit)
    mine = level(e)
    if mine < context or (strict and mine == context and mine != ATOM) or (explicit and mine < POWER):
        return f"({text})"
    return text


def shape_text(shape: tuple) -> str:
    if not shape or all(d == 1 for d in shape):
        return "scalar"
    return "×".join(str(d) for d in shape)
