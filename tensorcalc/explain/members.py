"""One member of a layer family: ``d C / d w[L-1]`` as a single formula, not the family's recursion.

``derive_member(prepared, wrt)`` answers a request such as ``w[L]`` or ``W[L-1]`` (an index
that is the depth ``L`` plus a fixed offset) with the chain rule inlined from the loss down to
that member, every layer index written relative to ``L`` (``a[L-2]``, never ``a[4]``). The
formula is derived once at the deep size set and confirmed by both oracles at every size set of
the file where the member exists. It returns None when the request is not such a member (the
family's own index ``l``, a plain number, a name without an index): those keep the family form.
"""
from __future__ import annotations

from ..core.expr import walk
from ..core.model import Model, Prepared
from ..core.names import split_name
from ..core.sizes import size_sets
from ..errors import Pos, TensorcalcError
from .formulas import (Derivation, IndexMap, Line, NotDerivable, Deriver, deep_sizes, names_exist, scalar_to_derive, layer_offset,
                       confirm, instantiate)


class NoSuchMember(NotDerivable):
    """The requested member is no layer at any size set of the file (``w[L-7]`` with L ≤ 4)."""


COMMAND_LINE = Pos("<command line>", 1, 1)


def request_problem(prepared: Prepared, name: str) -> str | None:
    """Why ``name`` (a ``--wrt`` or ``--of`` value whose base the file declares) names nothing to
    derive: not a name (``W[``), a member with other than one index (``W[]``), or a member that is
    no layer at any size set of the file (``W[L-7]``, ``W[9]``); None when it may name something."""
    try:
        base, groups, _primes = split_name(name, COMMAND_LINE)
    except TensorcalcError:
        return "not a name: write a tensor or definition (W1), or a family member (W[l], W[L-1])"
    if base not in prepared.families or not groups:
        return None
    if len(groups) != 1 or len(groups[0]) != 1:
        return f"a member of the family {base!r} has one index: {base}[l] for the family, {base}[L-1] for one member"
    index = groups[0][0]
    if any(n.op == "name" and n.attr not in prepared.spec.dims for n in walk(index)):
        return None  # the family's own index (l): the whole family
    for sizes in size_sets(prepared.spec.dims, prepared.spec.check.seed):
        model = Model(prepared, sizes)
        try:
            if f"{base}[{model.eval_int(index, model.scope)}]" in model.shapes:
                return None
        except (TensorcalcError, ArithmeticError, KeyError, TypeError):
            return f"cannot read the index {name!r}"
    return f"no layer of {base!r} has that index at the file's sizes"


class _FromTop(IndexMap):
    """Every concrete layer index at depth ``depth`` written as ``L`` plus an offset."""

    def index(self, i: int, relative_to_l: bool) -> str:
        return layer_offset("L", i - self.depth)


class _Unrolled(Deriver):
    """The chain rule inlined all the way: no layer adjoint is kept as a named step."""

    def _kept(self, program, adj_of: dict) -> set[str]:
        return set()


def member_offset(prepared: Prepared, wrt: str, models: list[Model]) -> int | None:
    """``w[L-1]`` -> -1: the member's index minus the depth, the same at every size set; None
    unless ``wrt`` names one member of a family by an index that moves with ``L``."""
    spec = prepared.spec
    base, groups, primes = split_name(wrt, COMMAND_LINE)
    if primes or base not in prepared.families or len(groups) != 1 or len(groups[0]) != 1 or "L" not in spec.dims:
        return None
    index = groups[0][0]
    if any(n.op == "name" and n.attr not in spec.dims for n in walk(index)):
        return None  # the family's own index (l): the whole family
    try:
        offsets = {m.eval_int(index, m.scope) - m.depth for m in models}
    except (TensorcalcError, ArithmeticError, KeyError, TypeError):
        return None
    return offsets.pop() if len(offsets) == 1 else None


def derive_member(prepared: Prepared, wrt: str, layout: str, of: str | None = None) -> Derivation | None:
    """``d of / d wrt`` for one member ``wrt`` (``W[L]``, ``b[L-1]``) as one confirmed formula;
    None when ``wrt`` is no such member; ``NotDerivable`` when no form is confirmed."""
    models = [Model(prepared, sizes) for sizes in size_sets(prepared.spec.dims, prepared.spec.check.seed)]
    deep = Model(prepared, deep_sizes(prepared))
    offset = member_offset(prepared, wrt, [deep, *models])
    if offset is None:
        return None
    base = split_name(wrt, COMMAND_LINE)[0]
    key = f"{base}[{deep.depth + offset}]"
    present = [m for m in models if f"{base}[{m.depth + offset}]" in m.shapes]
    if key not in deep.shapes or not present:
        raise NoSuchMember(f"{wrt!r}: no layer of {base!r} has that index at the file's sizes")
    of_name = scalar_to_derive(deep, of)
    top = _FromTop(None, deep.depth)
    problem = None
    for readable_forms in (True, False):  # the plainly simplified form when the readable one is not confirmed
        try:
            _steps, _chain, result = _Unrolled(deep, of_name, layout, readable_forms).lines(key)
            line = Line(top.expr(result.lhs, False), top.expr(result.rhs, False), top.shape(result.shape, False),
                        role="result")
            _confirm_everywhere(line, present, prepared)
            return Derivation(of_name, wrt, layout, line, model=deep)
        except NotDerivable as err:
            problem = err
    raise problem


def _confirm_everywhere(line: Line, models: list[Model], prepared: Prepared) -> None:
    """``line`` confirmed by both oracles at every size set of ``models`` (each holds its member)."""
    for model in models:
        lhs, rhs = (instantiate(side, None, model.depth) for side in (line.lhs, line.rhs))
        if not names_exist(model, rhs):
            raise NotDerivable(f"the formula reads a layer below the input at L={model.depth}")
        confirm(model, lhs, rhs, prepared.spec.check)
