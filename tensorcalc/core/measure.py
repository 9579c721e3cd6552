"""The size of a formula: how the simplifier chooses among formulas of equal value.

``formula_size(expr)`` counts the nodes of the expression tree:

  * every leaf counts 1: a name (``x``, ``W[l]``), a number (``2``, ``1/2``), a size used as
    a value (``N``), ``I(n)``, ``ones(d)``, ``zeros(d)``;
  * every operator counts 1: ``+``, ``-`` (binary or unary), ``⊙``, ``*``, juxtaposition (a
    matrix product or a scalar factor), ``/``, ``^``, ``⊗``, ``^T``, and every function
    application (``sigma(z)``, ``sigma'(z)``, ``sum(v)``, ``diag(v)``, ``trace(A)``);
  * a derivative term ``d L / d W`` counts 1, like a name.

Parentheses are not counted (the printer adds only those the grammar needs). So ``(p - y) x``
has size 5 and ``p ⊙ (1 - p)`` size 5. Works on parsed claim sides (``name``/``call`` nodes) and
on resolved expressions alike. Ties are broken by the printed length (``simplify``'s choice).
"""
from __future__ import annotations

from .expr import Expr

_AS_ONE = {"deriv"}  # a derivative term reads as one symbol


def formula_size(expr: Expr) -> int:
    """Number of leaves and operators in ``expr`` (iterative: no recursion limit)."""
    count = 0
    stack = [expr]
    while stack:
        e = stack.pop()
        count += 1
        if e.op not in _AS_ONE:
            stack.extend(e.args)
    return count
