"""Names as the files write them: ``W[L][i,j]'`` is a base, bracket groups and primes."""
from __future__ import annotations

import re

from ..errors import Pos, TensorcalcError
from ..frontends import parse as P
from .expr import Expr
from .functions import BUILTINS, SYMPY_FUNCTIONS

_NAME = re.compile(r"^([^\[\]'′]+)((?:\[[^\[\]]*\])*)(['′]*)$")
# Built-in operators that take a tensor and are not elementwise functions.
STRUCTURAL = {"diag", "sum", "norm", "trace", "softmax", "transpose", "inv", "det", "logdet", "mean", "norm1", "softmax_rows",
              "log_softmax", "vec", "max", "argmax"}
AXIS_REDUCTIONS = {"sum", "mean"}  # sum(X, 1): down the rows (a 1×n row); sum(X, 2): along each row (an m×1 column)
CONSTRUCTORS = {"I", "eye", "ones", "zeros"}  # I(n), ones(m, n): a size in, a constant tensor out
PAIRWISE = {"hadamard", "otimes", "kron"}
REDUCTIONS = {"prod": ("matmul", 1), "sum": ("add", 0)}  # prod(... for i in a..b): combining op, empty value


def builtin_names() -> set[str]:
    """Every name the language gives a meaning: a file may not declare one of its own."""
    return set(BUILTINS) | set(SYMPY_FUNCTIONS) | STRUCTURAL | CONSTRUCTORS | PAIRWISE | set(REDUCTIONS) | P.keywords()


def refuse_builtin(name: str, what: str, pos: Pos) -> None:
    if name in builtin_names():
        raise TensorcalcError(f"{name!r} is a built-in name and cannot be redefined: choose another name for this {what}", pos)


def split_name(text: str, pos: Pos) -> tuple[str, list[tuple[Expr, ...]], int]:
    """``W[L][i,j]`` -> ("W", [(L,), (i, j)], primes=0)."""
    pos = pos or Pos()  # names built by tensorcalc itself (repairs, rewrites) carry no position
    match = _NAME.match(text.strip())
    if not match:
        raise TensorcalcError(f"cannot read name {text!r}", pos)
    base, brackets, primes = match.groups()
    groups = []
    offset = len(base)
    for content in re.findall(r"\[([^\[\]]*)\]", brackets):
        inner = Pos(pos.file, pos.line, pos.col + offset + 1)
        groups.append(P.parse(content, "dim_line", inner) if content.strip() else ())
        offset += len(content) + 2
    return base.strip(), groups, len(primes)
