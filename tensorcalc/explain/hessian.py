"""Hessians as matrix formulas, verified like every derived formula.

The gradient g = ∂f/∂x (a column, the shape of x) is written out by the chain rule
(``gradient_expr``); reverse mode through g with a cotangent column G gives Jᵀ G, J = ∂g/∂x
(n×n, J[i, j] = ∂g_i/∂x_j). ``linear_factor`` reads the matrix M = Jᵀ off that expression
(M G, G appearing once per term). J is the Hessian; it is symmetric, so the layouts differ only
in the formula's transpose: numerator and mixed print J = Mᵀ (the Jacobian of the gradient
column, as the Cookbook's ∂²f/∂x∂xᵀ), denominator prints M. The formula goes through the
readable pass (second derivatives by their identities, diagonal terms merged, the file's
names), kept when the oracles confirm it equals the plainly simplified one.
"""
from __future__ import annotations

from ..core import shapes as S
from ..core.derive import COTANGENT, gradient_expr, gradient_program
from ..core.expr import Expr, node, num, substitute, var, walk
from ..core.layouts import effective
from ..core.model import Model, Prepared
from ..core.readable import Knowledge, readable
from ..core.resolve import shape_of
from ..core.simplify import simplify
from ..core.sizes import size_sets
from ..errors import TensorcalcError
from .formulas import Derivation, Line, NotDerivable, scalar_to_derive, unconfirmed, verify_lines


def hessian_term(of: str, wrt: str, layout: str) -> Expr:
    """``d (d of / d wrt) / d wrt`` in ``layout``."""
    inner = Expr("deriv", (var(of),), (wrt, (), layout))
    return Expr("deriv", (inner,), (wrt, (), layout))


def check_hessian_request(prepared: Prepared, wrt: str, of: str | None) -> None:
    """A Hessian is of a scalar by a scalar or a vector; anything else is a bad request (exit 2)."""
    model = Model(prepared, size_sets(prepared.spec.dims, prepared.spec.check.seed)[0])
    if wrt not in model.leaves and wrt not in model.defs:
        raise TensorcalcError(f"--hessian --wrt {wrt!r}: a Hessian is taken by a whole tensor or definition, not a layer family")
    shape = model.shapes[wrt]
    if not (S.is_scalar(shape) or S.is_vector(shape)):
        raise TensorcalcError(f"--hessian --wrt {wrt}: {wrt} is {S.fmt(shape)}; a Hessian is taken by a scalar or a vector "
                              "(a matrix would give a 4-tensor)")
    name = of or model.loss
    if name is not None and name in model.shapes and not S.is_scalar(model.shapes[name]):
        raise TensorcalcError(f"--hessian --of {name}: {name} is {S.fmt(model.shapes[name])}; a Hessian is of a scalar")


def derive_hessian(prepared: Prepared, wrt: str, layout: str | None = None, of: str | None = None) -> Derivation:
    """∂²of/∂wrt² as a matrix formula in ``layout`` (default: the file's), confirmed by both oracles."""
    layout = layout or prepared.spec.layout
    models = [Model(prepared, sizes) for sizes in size_sets(prepared.spec.dims, prepared.spec.check.seed)]
    model = models[0]
    of_name = scalar_to_derive(model, of)
    lhs = hessian_term(of_name, wrt, layout)
    result = Line(lhs, hessian_formula(model, var(of_name), wrt, layout), shape_of(model, lhs), role="result")
    out = Derivation(of_name, wrt, layout, result, model=model)
    verify_lines(out, prepared, models, None)
    return out


def hessian_formula(model: Model, of: Expr, wrt: str, layout: str) -> Expr:
    """The simplified matrix formula of ``d (d of / d wrt) / d wrt`` in ``layout`` (``of`` a scalar,
    ``wrt`` a vector or a scalar); NotDerivable when no matrix is read off."""
    cache: dict = {}

    def shape(e: Expr) -> tuple:
        return shape_of(model, e, cache, {COTANGENT: model.shapes[wrt]})

    gradient = gradient_expr(model, Expr("deriv", (of,), (wrt, (), "denominator")))
    program = gradient_program(model, gradient, wrt)
    values: dict[str, Expr] = {}
    for name, step in program.steps:
        values[name] = substitute(step, values)
    factor = substitute(program.result, values)
    if program.cotangent is not None:  # else the gradient is a scalar: the result is the Hessian itself
        factor = linear_factor(factor, shape, model.shapes[wrt])
    if effective(layout, ()) != "denominator":
        factor = node("T", factor)
    return _readable_if_confirmed(model, factor, shape)


def _readable_if_confirmed(model: Model, factor: Expr, shape) -> Expr:
    """The readable form of the Hessian (function identities, the file's names, diag products
    merged) when the oracles confirm it equals the plainly simplified one, else that one."""
    plainly = simplify(factor, shape)
    tidy = readable(factor, Knowledge.of(model, shape))
    try:
        return tidy if tidy == plainly or unconfirmed(model, tidy, plainly) is None else plainly
    except (TensorcalcError, ArithmeticError):
        return plainly


def linear_factor(e: Expr, shape, cotangent_shape: tuple) -> Expr:
    """M with ``e = M G`` for an expression ``e`` linear in the cotangent G (a column or a scalar).
    Raises NotDerivable for a form it does not read (the Hessian is then not printed)."""
    g = var(COTANGENT)
    has = _Contains(g)

    def scalar(x: Expr) -> bool:
        return S.is_scalar(shape(x))

    def factor(x: Expr) -> Expr:
        if x == g:
            return num(1) if S.is_scalar(cotangent_shape) else Expr("eye", (), cotangent_shape[0])
        if x.op in ("add", "sub") and has(x.args[0]) and has(x.args[1]):
            return node(x.op, factor(x.args[0]), factor(x.args[1]))
        if x.op == "neg":
            return node("neg", factor(x.args[0]))
        if x.op == "T":
            return factor(x.args[0] if scalar(x) else _pushed(x.args[0]))
        if x.op in ("matmul", "mul", "hadamard") and has(x.args[0]) != has(x.args[1]):
            return _product(x, factor, has, scalar)
        if x.op == "div" and has(x.args[0]) and not has(x.args[1]) and scalar(x.args[1]):
            return node("div", factor(x.args[0]), x.args[1])
        if x.op == "sum" and has(x.args[0]) and S.is_vector(shape(x.args[0])):
            ones = Expr("ones", (), tuple(shape(x.args[0])))
            return node("matmul", node("T", ones) if shape(x.args[0])[0] != 1 else ones, factor(x.args[0]))
        raise NotDerivable(f"no matrix form read off for the Hessian (at {x.op!r})")

    return factor(e)


def _product(x: Expr, factor, has, scalar) -> Expr:
    """One factor of a product holds G: M of (c · e) for a constant c (scalar, column, matrix)."""
    a, b = x.args
    moving, fixed = (b, a) if has(b) else (a, b)
    if scalar(fixed):
        return node("mul", fixed, factor(moving))
    if scalar(moving):  # a column times a scalar holding G: the outer product c (r G)
        return node("matmul", fixed, factor(moving))
    if x.op == "matmul" and moving is b:
        return node("matmul", a, factor(b))
    if x.op == "matmul" and scalar(x):  # (row holding G) b = bᵀ (row)ᵀ
        return factor(node("matmul", node("T", b), node("T", a)))
    if x.op in ("hadamard", "mul"):
        return node("matmul", node("diag", fixed), factor(moving))
    if x.op == "matmul" and a.op == "diag" and has(a.args[0]):
        return node("matmul", node("diag", b), factor(a.args[0]))
    raise NotDerivable("no matrix form read off for the Hessian (a product of a cotangent matrix)")


def _pushed(x: Expr) -> Expr:
    """An expression equal to xᵀ with the transpose moved one level in (towards G)."""
    if x.op == "T":
        return x.args[0]
    if x.op == "matmul":
        return node("matmul", node("T", x.args[1]), node("T", x.args[0]))
    if x.op in ("add", "sub", "mul", "hadamard"):
        return node(x.op, node("T", x.args[0]), node("T", x.args[1]))
    if x.op == "neg":
        return node("neg", node("T", x.args[0]))
    if x.op == "div":
        return node("div", node("T", x.args[0]), x.args[1])
    raise NotDerivable(f"no matrix form read off for the Hessian (the transpose of {x.op!r})")


class _Contains:
    """Does an expression hold the cotangent variable? (memoised per node)"""

    def __init__(self, g: Expr):
        self.g = g
        self.memo: dict[Expr, bool] = {}

    def __call__(self, e: Expr) -> bool:
        hit = self.memo.get(e)
        if hit is None:
            hit = self.memo[e] = any(n == self.g for n in walk(e)) if e.args else e == self.g
        return hit
