"""Values the emitted code computes once: subexpressions that several gradient statements
(or one statement, several times) contain, and those the forward pass already holds.

Works on expression trees (structural equality of ``Expr``), never on printed text.
"""
from __future__ import annotations

from collections.abc import Iterable

from ..core.elementwise import is_ones
from ..core.expr import Expr, node, walk

# Cheap to write again, or read by their parent's printing as a pattern (``1ᵀ X`` is a column
# sum, ``A diag(v)`` a column scaling): naming them would materialise what the pattern avoids.
_NEVER_SHARED = frozenset({"var", "num", "size", "ones", "zeros", "eye", "diag"})


def worth_sharing(e: Expr) -> bool:
    """Anything beyond a name, a number, a constant matrix or a transpose (a view in numpy:
    the transposed value is what is shared)."""
    if e.op in _NEVER_SHARED or e.op == "T":
        return False
    if e.op == "matmul" and any(is_ones(a) for a in e.args):
        return False
    return True


def repeated(trees: Iterable[Expr]) -> list[Expr]:
    """Subtrees worth sharing that occur at least twice, counted as the code would compute
    them: inside a repeated subtree only its first occurrence counts, so a part of it is
    repeated only when it also occurs elsewhere. Outermost first."""
    count: dict[Expr, int] = {}
    order: list[Expr] = []
    stack = list(reversed(list(trees)))
    while stack:
        e = stack.pop()
        if not worth_sharing(e):
            stack.extend(reversed(e.args))
            continue
        count[e] = count.get(e, 0) + 1
        if count[e] == 1:
            order.append(e)
            stack.extend(reversed(e.args))
    return [e for e in order if count[e] >= 2]


def forward_values(defs: dict[str, Expr]) -> dict[Expr, tuple[str, bool]]:
    """Each forward definition's value -> (its name, transposed?): ``A = softmax(Sᵀ)ᵀ`` also
    gives ``softmax(Sᵀ)`` as ``Aᵀ``. The first definition of a value wins."""
    found: dict[Expr, tuple[str, bool]] = {}
    for name, value in defs.items():
        inner = value.args[0] if value.op == "T" else value
        if not worth_sharing(inner):  # an alias or a transpose of a name: nothing computed
            continue
        found.setdefault(value, (name, False))
        found.setdefault(node("T", value), (name, True))
        if value.op == "T" and worth_sharing(value.args[0]):  # softmax(Sᵀ)ᵀ read back as Aᵀ
            found.setdefault(value.args[0], (name, True))
    return found


_WORDS = {"inv": "inv", "matmul": "prod", "hadamard": "had", "mul": "scaled", "div": "ratio", "add": "sum",
          "sub": "diff", "neg": "neg", "pow": "pow", "mpow": "pow", "det": "det", "logdet": "logdet",
          "softmax": "softmax", "sum": "total", "sum_axis": "sums", "mean": "mean", "trace": "trace", "norm": "norm",
          "kron": "kron", "vec": "vec", "slice": "part", "vstack": "stack", "hstack": "stack", "max": "max"}


def label(e: Expr, spell) -> str:
    """A readable name for the value of ``e``: its outer operation and up to two of the names it
    reads (``inv(S)`` -> ``inv_S``); ``spell`` turns a tree's name into an identifier."""
    word = e.attr[0] if e.op == "apply" else _WORDS.get(e.op, e.op)
    names = list(dict.fromkeys(x.attr for x in walk(e) if x.op == "var"))[:2]  # in reading order
    return "_".join([str(word)] + [spell(n) for n in names])
