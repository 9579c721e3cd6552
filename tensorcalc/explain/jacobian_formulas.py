"""Derived Jacobians: ``d Y / d X`` for any scalar, vector or matrix Y and X, and seed 001's chain
of Jacobian factors, each confirmed by both oracles before it is shown.

A Jacobian is printed as a matrix when Y and X are scalars or vectors, as a sum of ``A ⊗ a``
terms when Y is a vector and X a matrix and the layout has such a form, else in index notation
(``d Z[i, j] / d W[k, l] = δ[i, k] X[l, j]``). Each candidate is checked as a claim (index
formulas entry by entry, against the Jacobian the oracles compute); the first confirmed one is
shown, and none is shown unconfirmed.
"""
from __future__ import annotations

import math

from ..core import jacobians as J
from ..core import shapes as S
from ..core.derive import COTANGENT, dependents, gradient_program
from ..core.expr import Expr, node, substitute, var, walk
from ..core.indices import bound_indices, index_ranges
from ..core.layouts import effective
from ..core.model import Model, Prepared
from ..core.sizes import size_sets
from ..errors import TensorcalcError
from .formulas import Derivation, Line, NotDerivable, Deriver, confirm, derive
from .members import NoSuchMember, derive_member

MAX_CONFIRMED_ENTRIES = 4096  # entries of an index formula checked one by one (about 10 s of work at 4096)


def derive_any(prepared: Prepared, wrt: str, layout: str | None = None, of: str | None = None, steps: bool = False) -> Derivation:
    """``formulas.derive`` for a scalar ``of``; a Jacobian otherwise. With ``steps`` (plain
    models) the chain of Jacobian factors is added and confirmed too."""
    layout = layout or prepared.spec.layout
    models = [Model(prepared, sizes) for sizes in size_sets(prepared.spec.dims, prepared.spec.check.seed)]
    model = models[0]
    name = of or model.loss
    scalar = name is None or name not in model.shapes or S.is_scalar(model.shapes[name])
    if scalar or prepared.families:
        out = _member_or_family(prepared, wrt, layout, of)
    else:
        if wrt not in model.shapes:
            raise NotDerivable(f"unknown name {wrt!r} (not a tensor or definition of {prepared.spec.path})")
        out = Derivation(name, wrt, layout, jacobian_line(model, models, name, wrt, layout), model=model, jacobian=True)
    if steps and not prepared.families and out.result.rhs.op != "zeros":
        try:
            out.jacobian_steps = chain_lines(model, models, out, layout)
        except NotDerivable:
            out.jacobian_steps = []  # a factor without a confirmed form: the chain is not shown
    return out


def _member_or_family(prepared: Prepared, wrt: str, layout: str, of: str | None) -> Derivation:
    """One member of a layer family (``W[L-1]``) as its own formula when one is confirmed; else
    ``derive``'s form (a family's general formula and recursion)."""
    if prepared.families:
        try:
            member = derive_member(prepared, wrt, layout, of)
        except NoSuchMember:
            raise
        except TensorcalcError:  # no member formula confirmed: the family's form
            member = None
        if member is not None:
            return member
    return derive(prepared, wrt, layout, of)


def jacobian_line(model: Model, models: list[Model], of: str, wrt: str, layout: str) -> Line:
    """The first candidate form of ``d of / d wrt`` that both oracles confirm."""
    reasons = []
    for line in candidates(model, of, wrt, layout):
        try:
            for m in models:
                _refuse_long_confirmation(m, line)
                confirm(m, line.lhs, line.rhs, model.prepared.spec.check)
        except TensorcalcError as err:  # refuted, or not even evaluable: the next form is tried
            reasons.append(err.message)
            continue
        return line
    raise NotDerivable(f"d {of} / d {wrt}: no Jacobian form confirmed" + (f" ({reasons[-1]})" if reasons else ""))


def _refuse_long_confirmation(model: Model, line: Line) -> None:
    """An index formula is confirmed one entry at a time: beyond ``MAX_CONFIRMED_ENTRIES`` it is refused
    rather than left running for minutes."""
    ranges = index_ranges(model, line.lhs, line.rhs)
    count = math.prod(size for name, size in ranges.items() if name not in bound_indices(line.rhs))
    if count > MAX_CONFIRMED_ENTRIES:
        raise NotDerivable(f"{count} entries to confirm one by one at {', '.join(f'{k}={v}' for k, v in model.sizes.items())} "
                           f"(at most {MAX_CONFIRMED_ENTRIES})")


def candidates(model: Model, of: str, wrt: str, layout: str):
    """Matrix, ⊗ and index forms of ``d of / d wrt``, in that order, as far as they exist."""
    deriver = Deriver(model, of, layout)
    program = gradient_program(model, var(of), wrt)
    deriver.names.update(program.shapes)
    env: dict[str, Expr] = {}
    for adj, expr in program.steps:
        env[adj] = substitute(expr, env)
    of_shape, wrt_shape = model.shapes[of], model.shapes[wrt]
    result = substitute(program.result, env)
    try:
        terms = J.linear_terms(result, COTANGENT, deriver.shape)
    except J.NoForm:
        terms = None
    lhs = Expr("deriv", (var(of),), (wrt, (), layout))
    if result.op == "zeros":  # Y does not depend on X
        yield Line(lhs, Expr("zeros", (), deriver.shape(lhs)), deriver.shape(lhs), role="result")
        return
    arranged = effective(layout, () if S.is_scalar(of_shape) else of_shape)
    if terms is not None and _at_most_vector(of_shape) and _at_most_vector(wrt_shape):
        yield from _attempt(lambda: _matrix(J.matrix_form(terms, of_shape, deriver.shape), arranged), lhs, deriver)
    if terms is not None and S.is_vector(of_shape) and len(wrt_shape) == 2 and not S.is_vector(wrt_shape):
        yield from _attempt(lambda: J.otimes_form(terms, arranged, of_shape, deriver.shape), lhs, deriver)
    taken = set(model.shapes) | {str(s) for s in model.sizes}
    try:
        form = J.index_form(result, COTANGENT, of_shape, wrt_shape, deriver.shape, taken)
    except J.NoForm:
        return
    inner = Expr("deriv", (var(of),), (wrt, form.wrt_indices, "numerator"))
    index_lhs = Expr("entry", (inner,), form.of_indices) if form.of_indices else inner
    axes = tuple(d for d in (*of_shape, *wrt_shape) if d != 1)  # shown: the Jacobian's axes, Y's then X's
    yield Line(index_lhs, _simplify_entries(form.rhs, deriver), axes, role="result")


def _attempt(build, lhs: Expr, deriver: Deriver):
    try:
        rhs = deriver.simplify(build())
    except J.NoForm:
        return
    if S.same(deriver.shape(lhs), deriver.shape(rhs)):
        yield Line(lhs, rhs, deriver.shape(lhs), role="result")


def _matrix(d: Expr, arranged: str) -> Expr:
    return d if arranged == "denominator" else node("T", d)


def _at_most_vector(shape: tuple) -> bool:
    return S.is_scalar(shape) or S.is_vector(shape)


def _simplify_entries(e: Expr, deriver: Deriver) -> Expr:
    """Each matrix inside an entry simplified (entries of identities stay Kronecker deltas)."""
    if e.op == "entry":
        inner = e.args[0]
        return e if inner.op == "eye" else Expr("entry", (deriver.simplify(inner),), e.attr)
    if not e.args:
        return e
    return Expr(e.op, tuple(_simplify_entries(a, deriver) for a in e.args), e.attr)


# --- seed 001's chain: Jacobian factors and their contraction products --------------------


def chain_path(model: Model, of: str, wrt: str) -> list[str] | None:
    """``[of, u_n, ..., u_1, wrt]`` when each definition on the way reads exactly one name that
    depends on ``wrt`` (a single chain); else None."""
    moved = dependents(model, wrt)
    path = [of]
    while path[-1] != wrt:
        expr = model.defs.get(path[-1])
        if expr is None:
            return None
        read = sorted({n.attr for n in walk(expr) if n.op == "var"} & moved)
        if len(read) != 1 or read[0] in path:
            return None
        path.append(read[0])
    return path if len(path) > 2 else None


def chain_lines(model: Model, models: list[Model], derived: Derivation, layout: str) -> list[tuple[Line, bool]]:
    """Each factor ``d u_{t+1} / d u_t`` with its shape, then ``d of / d wrt`` as their product,
    the product of their formulas and the derived result, each line confirmed."""
    path = chain_path(model, derived.of, derived.wrt)
    if path is None:
        return []
    scalar_of = S.is_scalar(model.shapes[derived.of])
    factors = [_factor(model, models, a, b, layout) for a, b in zip(path, path[1:])]
    terms = _ordered([f.lhs for f in factors], layout, scalar_of)
    formulas = _ordered([f.rhs for f in factors], layout, scalar_of)
    result_lhs, shape = derived.result.lhs, derived.result.shape
    out = [(f, False) for f in factors]
    products = [] if any(f.lhs.op == "entry" for f in factors) else [terms, formulas]  # index forms do not multiply
    for rhs in products:
        line = Line(result_lhs, rhs, shape, role="chain")
        try:
            for m in models:
                confirm(m, line.lhs, line.rhs, model.prepared.spec.check)
        except TensorcalcError:
            continue  # a product the oracles do not confirm is not shown
        out.append((line, len(out) > len(factors)))
    if len(out) == len(factors) or out[-1][0].rhs != derived.result.rhs:
        out.append((derived.result, len(out) > len(factors)))
    return out


def _factor(model: Model, models: list[Model], of: str, wrt: str, layout: str) -> Line:
    """``d of / d wrt`` as one factor of the chain: a gradient as derive prints it when ``of`` is a scalar."""
    if S.is_scalar(model.shapes[of]):
        line = derive(model.prepared, wrt, layout, of).result
    else:
        line = jacobian_line(model, models, of, wrt, layout)
    line.role = "step"
    return line


def _ordered(factors: list[Expr], layout: str, scalar_of: bool) -> Expr:
    """The contraction product of the factors (``of`` side first) in ``layout``: numerator
    left to right, denominator right to left; mixed: the scalar's gradient, transposed."""
    if layout == "denominator":
        factors = factors[::-1]
    mixed_scalar = layout == "mixed" and scalar_of
    if mixed_scalar:
        factors = [node("T", factors[0]), *factors[1:]]
    out = factors[0]
    for f in factors[1:]:
        out = node("matmul", out, f)
    return node("T", out) if mixed_scalar else out
