"""Free and summed indices of index claims (``d C / d W[L][i,j] = ...``, ``sum_k(...)``)."""
from __future__ import annotations

import math

from ..errors import ShapeError
from .expr import Expr, walk
from .limits import check_index_values
from .model import Model
from .resolve import shape_of


def index_ranges(model: Model, expr: Expr, *more: Expr) -> dict[str, int]:
    """Each index name -> its range 1..size, from the axes it indexes in ``expr`` and ``more``
    (both sides of a claim share their indices); an index over two sizes is a ShapeError,
    more index values than ``MAX_INDEX_VALUES`` an input error."""
    ranges: dict[str, int] = {}

    def note(name, size, where):
        if name in ranges and ranges[name] != size:
            raise ShapeError(f"index {name!r} runs over sizes {ranges[name]} and {size}", where.pos)
        ranges[name] = size

    def visit(e: Expr):
        if e.op == "entry":
            shape = model.numeric_shape(shape_of(model, e.args[0]))
            axes = [math.prod(shape)] if len(e.attr) == 1 else list(shape)
            for i, size in zip(e.attr, axes):
                if isinstance(i, str):
                    note(i, size, e)
        if e.op == "deriv":
            wrt, indices, _ = e.attr
            shape = model.numeric_shape(model.shapes[wrt])
            if len(indices) == 1:
                shape = (math.prod(shape),)
            for i, size in zip(indices, shape):
                if isinstance(i, str):
                    note(i, size, e)
        for a in e.args:
            visit(a)

    for e in (expr, *more):
        visit(e)
    check_index_values(ranges, expr.pos)
    return ranges


def bound_indices(expr: Expr) -> set[str]:
    return {n.attr for n in walk(expr) if n.op == "isum"}

