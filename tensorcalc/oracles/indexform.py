"""Proof for all sizes: both sides of a claim in a canonical index-notation form (Ricci calculus).

A value of static shape ``s`` is written with one index per axis of ``s`` that is not the
literal 1 (a column, a row and a squeezed axis carry no index). Each side becomes a sum of
terms; a term is a coefficient (a rational function of the dimension symbols: ``trace(I(n))``
is ``n``) times a product of factors, each a tuple ``(kind, head, indices)``:

  ``t`` a leaf tensor ``W[i, j]``;  ``d`` a Kronecker delta;  ``f`` an elementwise function
  of a canonical sub-sum;  ``p`` a power of a canonical sub-sum (``norm(r) = (Σ r_i r_i)^(1/2)``);
  ``m`` an opaque matrix function of a canonical sub-sum (``inv``, ``det``, ``logdet``).

Indices not free are summed, each over its dimension (a symbol). Derivative terms are first
expanded by the chain rule (``core/derive.py``): the cotangent ``@G`` becomes a product of
deltas on the derivative's own indices. A term is canonical after contracting deltas,
merging powers of one sub-sum, multiplying the dimension of every summed index no factor
uses, and renaming summed indices to the labelling with the smallest sorted factor list.

Every step is an identity, so equal canonical forms prove the claim for every size. Unequal
forms prove nothing (``None``: the other oracles decide); an operator outside this fragment
raises ``OutsideFragment`` with a reason.
"""
from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from fractions import Fraction

import sympy

from ..core import shapes as S
from ..core.derive import COTANGENT, gradient_program
from ..core.expr import Expr, node, walk
from ..core.functions import T
from ..core.layouts import effective, permutation
from ..core.model import Model, is_symmetric
from ..core.resolve import shape_of

MAX_TERMS = 4000  # terms of one expanded side: above this, not attempted
MAX_LABELLINGS = 5040  # renamings of summed indices tried for one term
U = sympy.Symbol("u", real=True)  # the argument of a formula factor
_ARGUMENTS = sympy.symbols("t0:16", real=True)  # the distinct arguments of one canonical term


class OutsideFragment(Exception):
    """An operator or a size this proof does not handle; the message says which."""


@dataclass
class Term:
    """``coef × Π factors``, summed over ``bound`` (index -> dimension)."""

    coef: sympy.Expr
    factors: tuple = ()
    bound: dict = field(default_factory=dict)

    def times(self, other: "Term") -> "Term":
        return Term(self.coef * other.coef, self.factors + other.factors, {**self.bound, **other.bound})

    def renamed(self, mapping: dict) -> "Term":
        return Term(self.coef, tuple(_renamed(self.factors, mapping)), {mapping.get(i, i): d for i, d in self.bound.items()})


CONSTRAINED = ("onehot", "probability")  # inputs whose entries are not independent
SYMMETRIC_KINDS = ("d", "s")  # factors whose two indices commute: deltas, symmetric inputs


def _renamed(factors, mapping: dict) -> list:
    """Factors with indices renamed; a delta's or a symmetric input's indices kept in order."""
    out = []
    for kind, head, idx in factors:
        idx = tuple(mapping.get(i, i) for i in idx)
        out.append((kind, head, tuple(sorted(idx)) if kind in SYMMETRIC_KINDS else idx))
    return out


def _product(a: list, b: list) -> list:
    if len(a) * len(b) > MAX_TERMS:
        raise OutsideFragment("too many terms once expanded")
    return [x.times(y) for x in a for y in b]


def _scaled(terms: list, c) -> list:
    return [Term(t.coef * c, t.factors, t.bound) for t in terms]


def slots(shape: tuple) -> list[int]:
    """Axes of ``shape`` that carry an index (every axis but the literal 1)."""
    return [k for k, d in enumerate(shape) if d != 1]


def _per_axis(shape: tuple, idx: tuple) -> list:
    """The index of each axis of ``shape`` (None for an axis of size 1)."""
    axes = slots(shape)
    if len(axes) != len(idx):
        raise OutsideFragment(f"indices {idx} do not fit shape {shape}")
    out = [None] * len(shape)
    for axis, i in zip(axes, idx):
        out[axis] = i
    return out


class Registry:
    """Canonical sub-sums, shared by both sides of a claim: key -> (canonical terms, placeholder dims)."""

    def __init__(self):
        self.ids: dict = {}
        self.sums: list = []
        self.dims: dict = {}  # text of a dimension -> the dimension
        self.counter = itertools.count()
        self.functions: dict = {}  # formula of a kinked elementwise function -> its key
        self.formulas: list = []  # smooth functions of one argument, in U
        self.formula_ids: dict = {}
        self.arguments: dict = {}  # (argument, indices) -> its symbol when terms are compared

    def formula(self, expr: sympy.Expr) -> str:
        """A formula in ``U`` (a smooth function of one argument), as a key ``F<k>``."""
        key = sympy.srepr(expr)
        if key not in self.formula_ids:
            self.formula_ids[key] = f"F{len(self.formulas)}"
            self.formulas.append(expr)
        return self.formula_ids[key]

    def argument(self, ref: str, idx: tuple) -> sympy.Symbol:
        """One symbol per function argument at its indices, the same in every term."""
        return self.arguments.setdefault((ref, idx), sympy.Symbol(f"arg{len(self.arguments)}", real=True))

    def function(self, formula: sympy.Expr) -> str:
        return self.functions.setdefault(sympy.srepr(formula), f"fn{len(self.functions)}")

    def fresh(self) -> str:
        return f"b{next(self.counter)}"

    def intern(self, canonical: dict, dims: tuple) -> str:
        key = (tuple(sorted((k, sympy.srepr(c)) for k, c in canonical.items())), tuple(map(str, dims)))
        if key not in self.ids:
            self.ids[key] = f"#{len(self.sums)}"
            self.sums.append((canonical, dims))
        return self.ids[key]

    def instance(self, ref: str, idx: tuple) -> list:
        """The sub-sum ``ref`` with its placeholders ``p0, p1`` replaced by ``idx``, fresh summed indices."""
        canonical, _dims = self.sums[int(ref[1:])]
        out = []
        for (factors, bound_dims), coef in canonical.items():
            mapping = {f"p{k}": i for k, i in enumerate(idx)}
            bound = {}
            for label, dim in bound_dims:
                mapping[label] = name = self.fresh()
                bound[name] = self.dims[dim]
            out.append(Term(coef, factors, {}).renamed(mapping).times(Term(sympy.Integer(1), (), bound)))
        return out


class IndexForm:
    """Converts resolved expressions of one model to index form (``terms``) and canonicalises them."""

    def __init__(self, model: Model, registry: Registry, names=None, program=None, of_indices: tuple = ()):
        self.model, self.registry = model, registry
        self.names = names  # shapes of a chain-rule program's own names
        self.steps = dict(program.steps) if program else {}
        self.of_indices = of_indices  # the derivative's indices on the differentiated value (for @G)
        self.cache: dict = {}

    def shape(self, e: Expr) -> tuple:
        return shape_of(self.model, e, self.cache, self.names)

    def dim(self, e: Expr, axis: int):
        return self.shape(e)[axis]

    def terms(self, e: Expr, idx: tuple) -> list:
        """``e`` at indices ``idx`` (one per slot of its shape) as a list of terms."""
        rule = _RULES.get(e.op)
        if rule is None:
            raise OutsideFragment(f"{e.op} is outside the index-notation fragment")
        if len(idx) != len(slots(self.shape(e))):
            raise OutsideFragment(f"indices {idx} do not fit {e.op}")
        out = rule(self, e, tuple(idx))
        if len(out) > MAX_TERMS:
            raise OutsideFragment("too many terms once expanded")
        return out

    def bound(self, dim) -> tuple[str, dict]:
        name = self.registry.fresh()
        self.registry.dims[str(dim)] = dim
        return name, {name: dim}

    def sub_sum(self, e: Expr) -> tuple[str, tuple]:
        """``e`` canonicalised with placeholder indices: (registry reference, its dimensions)."""
        shape = self.shape(e)
        dims = tuple(shape[k] for k in slots(shape))
        placeholders = tuple(f"p{k}" for k in range(len(dims)))
        return self.registry.intern(canonical_sum(self.terms(e, placeholders), self.registry), dims), dims


# --- one rule per operator: (form, expression, indices) -> terms ------------------------------


def _var(f: IndexForm, e: Expr, idx):
    name = e.attr
    if name == COTANGENT:  # a unit cotangent: one delta per axis of the differentiated value
        return [Term(sympy.Integer(1), tuple(("d", "", tuple(sorted(p))) for p in zip(idx, f.of_indices)))]
    if name in f.steps:
        return f.terms(f.steps[name], idx)
    if name in f.model.defs:
        return f.terms(f.model.defs[name], idx)
    kind, _shape, flags = f.model.leaves[name]  # a one-hot or probability input is a special case of any values
    if is_symmetric(kind, flags):  # S[i, j] = S[j, i]: its indices kept in order, like a delta's
        return [Term(sympy.Integer(1), (("s", name, tuple(sorted(idx))),))]
    return [Term(sympy.Integer(1), (("t", name, idx),))]


def _scalar(value):
    return [Term(value)] if value != 0 else []


def _operand_indices(f: IndexForm, e: Expr, operand: Expr, idx) -> tuple:
    """The indices of an operand of an elementwise operation (a scalar, a spread row or column)."""
    own, out = f.shape(operand), f.shape(e)
    if S.is_scalar(own):
        return ()
    if len(own) != len(out):
        raise OutsideFragment("operands of different ranks")
    per_axis = _per_axis(out, idx)
    return tuple(per_axis[k] for k in slots(own))


def _elementwise(combine):
    def rule(f: IndexForm, e: Expr, idx):
        a, b = (f.terms(x, _operand_indices(f, e, x, idx)) for x in e.args)
        return combine(f, e, idx, a, b)

    return rule


def _divide(f: IndexForm, e: Expr, idx, a, _b):
    denominator = e.args[1]
    return _product(a, _power(f, denominator, _operand_indices(f, e, denominator, idx), Fraction(-1)))


def _matmul(f: IndexForm, e: Expr, idx):
    left, right = e.args
    sa, sb = f.shape(left), f.shape(right)
    if not (sa and sb and S.same((sa[-1],), (sb[0],))):  # a scalar times a tensor
        return _elementwise(lambda *x: _product(x[3], x[4]))(f, e, idx)
    full = tuple(sa[:-1]) + tuple(sb[1:])
    per_axis = _per_axis(full, idx)
    inner, bound = (), {}
    if sa[-1] != 1:
        name, bound = f.bound(sa[-1])
        inner = (name,)
    a_idx = tuple(per_axis[k] for k in slots(sa[:-1])) + inner
    b_idx = inner + tuple(per_axis[len(sa) - 1 + k] for k in slots(sb[1:]))
    return _product(_product(f.terms(left, a_idx), f.terms(right, b_idx)), [Term(sympy.Integer(1), (), bound)])


def _otimes(f: IndexForm, e: Expr, idx):
    """(x ⊗ Y)[i, j, k] = x_i Y[k, j]; (Y ⊗ x)[i, j, k] = x_j Y[k, i] (as ``evaluate._otimes``)."""
    a, b = e.args
    sa, sb = f.shape(a), f.shape(b)
    vector_first = S.is_vector(sa) and len(sb) == 2
    x, y = (a, b) if vector_first else (b, a)
    sx, sy = f.shape(x), f.shape(y)
    x_axis, y_axes = (0, (2, 1)) if vector_first else (1, (2, 0))
    full = [None, None, None]
    full[x_axis], full[y_axes[0]], full[y_axes[1]] = S.vector_length(sx), sy[0], sy[1]
    per_axis = _per_axis(tuple(full), idx)
    x_idx = (per_axis[x_axis],) if S.vector_length(sx) != 1 else ()
    y_idx = tuple(per_axis[y_axes[k]] for k in slots(sy))
    return _product(f.terms(x, x_idx), f.terms(y, y_idx))


def _transpose(f: IndexForm, e: Expr, idx):
    shape = f.shape(e)
    per_axis = _per_axis(shape, idx)[::-1]
    inner = f.shape(e.args[0])
    return f.terms(e.args[0], tuple(per_axis[k] for k in slots(inner)))


def _delta(i, j):
    return ("d", "", tuple(sorted((i, j))))


def _diag(f: IndexForm, e: Expr, idx):
    arg = e.args[0]
    if not idx:  # diag of a 1×1 value is itself
        return f.terms(arg, ())
    if S.is_vector(f.shape(arg)):  # diag(v)[i, j] = δ_ij v_i
        i, j = idx
        return _product(f.terms(arg, (i,)), [Term(sympy.Integer(1), (_delta(i, j),))])
    (i,) = idx  # diag(X)[i] = X[i, i]
    return f.terms(arg, (i, i))


def _sum_all(f: IndexForm, arg: Expr, scale=1):
    shape = f.shape(arg)
    names, bound = [], {}
    for k in slots(shape):
        name, b = f.bound(shape[k])
        names.append(name)
        bound.update(b)
    return _scaled(_product(f.terms(arg, tuple(names)), [Term(sympy.Integer(1), (), bound)]), scale)


def _trace(f: IndexForm, e: Expr, idx):
    name, bound = f.bound(f.dim(e.args[0], 0))
    return _product(f.terms(e.args[0], (name, name)), [Term(sympy.Integer(1), (), bound)])


def _axis_sum(f: IndexForm, e: Expr, idx):
    """sum(X, 1) / mean(X, 1) sums down the rows (1×n); axis 2 along each row (m×1); no axis: every entry."""
    arg = e.args[0]
    shape = f.shape(arg)
    if e.attr is None:
        scale = 1 if e.op == "sum_axis" else 1 / sympy.Mul(*[shape[k] for k in slots(shape)])
        return _sum_all(f, arg, scale)
    axis = e.attr - 1
    per_axis = _per_axis(f.shape(e), idx)
    name, bound = f.bound(shape[axis]) if shape[axis] != 1 else (None, {})
    per_axis[axis] = name
    scale = 1 if e.op == "sum_axis" else 1 / shape[axis]
    inner = f.terms(arg, tuple(per_axis[k] for k in slots(shape)))
    return _scaled(_product(inner, [Term(sympy.Integer(1), (), bound)]), scale)


def _apply(f: IndexForm, e: Expr, idx):
    """A smooth function is a formula of its argument (``sigma'(u) = σ(u)(1 - σ(u))`` once
    written out), composed with the argument's own formula when that is a function of one
    value (``log(1 - σ(u))``); a kinked one stays an opaque function of its argument."""
    name, order = e.attr
    ref, _dims = f.sub_sum(e.args[0])
    table = f.model.functions
    if name in table and not table.is_kinked(name):
        return [_formula_factor(f.registry, ref, table.formula(name, order), idx)]
    return [Term(sympy.Integer(1), (("f", f"{_function_key(f, name)}:{order}:{ref}", idx),))]


def _formula_factor(registry: "Registry", ref: str, formula: sympy.Expr, idx) -> Term:
    """``formula`` (in ``T``) of the sub-sum ``ref``: a ``g`` factor on the innermost argument."""
    inner = _one_argument(*registry.sums[int(ref[1:])])
    argument, of = inner if inner else (ref, U)
    return Term(sympy.Integer(1), (("g", f"{registry.formula(formula.subs(T, of))}|{argument}", idx),))


def _one_argument(canonical: dict, dims: tuple):
    """(argument, formula in U) when a canonical sub-sum is a function of one argument at all
    of its own placeholders, in order (``1 - σ(u)``); else None."""
    argument, total = None, sympy.Integer(0)
    for (factors, bound), coef in canonical.items():
        if bound or len(factors) > 1:
            return None
        if factors:
            kind, ref, idx = factors[0]
            if kind != "a" or list(idx) != [f"p{k}" for k in range(len(dims))] or argument not in (None, ref):
                return None
            argument, coef = ref, coef.subs(_ARGUMENTS[0], U)
        if coef.free_symbols & set(_ARGUMENTS):
            return None
        total += coef
    return (argument, total) if argument else None


def _function_key(f: IndexForm, name: str) -> str:
    """A kinked function: one key per formula (its derivative at the kink is a convention)."""
    table = f.model.functions
    if name not in table:
        return name
    return f.registry.function(table.formulas[name])


def _power(f: IndexForm, base: Expr, idx, exponent: Fraction) -> list:
    """``base ** exponent`` entry by entry: a product for a natural exponent, else a power
    factor; the coefficient of a one-term base comes out (``(2 N)^-1 = 1/(2 N)``)."""
    if exponent.denominator == 1 and exponent >= 0:
        out = [Term(sympy.Integer(1))]
        for _ in range(int(exponent)):
            out = _product(out, f.terms(base, idx))
        return out
    ref, dims = f.sub_sum(base)
    canonical = f.registry.sums[int(ref[1:])][0]
    if _one_argument(canonical, dims):  # (1 - σ(u))^-1: one formula of u
        return [_formula_factor(f.registry, ref, T ** sympy.Rational(exponent.numerator, exponent.denominator), idx)]
    coef = sympy.Integer(1)
    if len(canonical) == 1:
        (key, c), = canonical.items()
        if c != 1 and (exponent.denominator == 1 or c.is_positive):
            coef = c ** sympy.Rational(exponent.numerator, exponent.denominator)
            if key == ((), ()):
                return [Term(coef)]
            ref = f.registry.intern({key: sympy.Integer(1)}, dims)
    return [Term(coef, (("p", f"{ref}^{exponent}", idx),))]


def _pow(f: IndexForm, e: Expr, idx):
    base, exponent = e.args
    if exponent.op != "num":
        raise OutsideFragment("a power with an exponent that is not a number")
    if base.op == "norm":  # norm(X)^k = (Σ X X)^(k/2), as the evaluator computes it
        squares = node("hadamard", base.args[0], base.args[0])
        return _power(f, node("sum", squares), (), exponent.attr / 2)
    return _power(f, base, idx, exponent.attr)


def _norm(f: IndexForm, e: Expr, idx):
    x = e.args[0]
    return _power(f, node("sum", node("hadamard", x, x)), (), Fraction(1, 2))


def _mpow(f: IndexForm, e: Expr, idx):
    x, k = e.args[0], int(e.args[1].attr)
    product = x
    for _ in range(k - 1):
        product = node("matmul", product, x)
    return f.terms(product, idx)


def _opaque(f: IndexForm, e: Expr, idx):
    """inv(X), det(X), logdet(X): a function of the canonical X, nothing assumed about it but
    inv(Xᵀ) = inv(X)ᵀ and det(Xᵀ) = det(X)."""
    if e.args[0].op == "T":
        return f.terms(node(e.op, e.args[0].args[0]), idx[::-1])
    ref, _dims = f.sub_sum(e.args[0])
    symmetric = e.op == "inv" and ref == f.sub_sum(node("T", e.args[0]))[0]  # inv(A)ᵀ = inv(A) when Aᵀ = A
    kind = "s" if symmetric else "m"
    return [Term(sympy.Integer(1), ((kind, f"{e.op}:{ref}", tuple(sorted(idx)) if symmetric else idx),))]


def _softmax(f: IndexForm, e: Expr, idx):
    """softmax(Z)[i, k] = exp(Z[i, k]) / Σ_j exp(Z[j, k]): column by column, as the evaluator."""
    z = e.args[0]
    if "exp" not in f.model.functions:
        raise OutsideFragment("softmax without the exponential")
    exps = node("apply", z, attr=("exp", 0))
    shape = f.shape(z)
    column = tuple(_per_axis(shape, idx)[1:]) if shape[1] != 1 else ()
    return _product(f.terms(exps, idx), _power(f, node("sum_axis", exps, attr=1), column, Fraction(-1)))


def _deriv(f: IndexForm, e: Expr, idx):
    """The chain-rule program of the derivative, its cotangent a product of deltas on the
    derivative's own indices, arranged by the layout (as ``evaluate.arrange``)."""
    wrt, indices, layout = e.attr
    if indices:
        raise OutsideFragment("a derivative with respect to one entry")
    if f.model.leaves.get(wrt, ("",))[0] in CONSTRAINED:
        raise OutsideFragment(f"a derivative with respect to the {f.model.leaves[wrt][0]} input {wrt}")
    of = e.args[0]
    of_shape = f.shape(of)
    of_shape = () if S.is_scalar(of_shape) else tuple(of_shape)
    wrt_shape = tuple(f.model.shapes[wrt])
    order = permutation(effective(layout, of_shape), len(of_shape), len(wrt_shape))
    full = of_shape + wrt_shape
    per_arranged = _per_axis(tuple(full[k] for k in order), idx)
    per_full = [None] * len(full)
    for position, axis in enumerate(order):
        per_full[axis] = per_arranged[position]
    of_idx = tuple(per_full[k] for k in slots(of_shape))
    wrt_idx = tuple(per_full[len(of_shape) + k] for k in slots(wrt_shape))
    program = gradient_program(f.model, of, wrt)
    sub = IndexForm(f.model, f.registry, {**(f.names or {}), **program.shapes}, program, of_idx)
    return sub.terms(program.result, wrt_idx)


def _elementwise_rules() -> dict:
    return {
        "add": _elementwise(lambda f, e, idx, a, b: a + b),
        "sub": _elementwise(lambda f, e, idx, a, b: a + _scaled(b, -1)),
        "hadamard": _elementwise(lambda f, e, idx, a, b: _product(a, b)),
        "mul": _elementwise(lambda f, e, idx, a, b: _product(a, b)),
        "div": lambda f, e, idx: _divide(f, e, idx, f.terms(e.args[0], _operand_indices(f, e, e.args[0], idx)), None),
    }


_RULES = {
    "var": _var,
    "num": lambda f, e, idx: _scalar(sympy.Rational(e.attr.numerator, e.attr.denominator)),
    "size": lambda f, e, idx: _scalar(e.attr),
    "eye": lambda f, e, idx: [Term(sympy.Integer(1), (_delta(*idx),))] if idx else [Term(sympy.Integer(1))],
    "ones": lambda f, e, idx: [Term(sympy.Integer(1))],
    "zeros": lambda f, e, idx: [],
    "neg": lambda f, e, idx: _scaled(f.terms(e.args[0], idx), -1),
    **_elementwise_rules(),
    "matmul": _matmul,
    "otimes": _otimes,
    "T": _transpose,
    "diag": _diag,
    "sum": lambda f, e, idx: _sum_all(f, e.args[0]),
    "sum_axis": _axis_sum,
    "mean": _axis_sum,
    "trace": _trace,
    "norm": _norm,
    "apply": _apply,
    "pow": _pow,
    "mpow": _mpow,
    "inv": _opaque,
    "det": _opaque,
    "logdet": _opaque,
    "deriv": _deriv,
    "softmax": _softmax,
}


# --- canonical form -----------------------------------------------------------------------


def canonical_sum(terms: list, registry: Registry) -> dict:
    """Terms -> {canonical term key: coefficient}, like terms collected, zeros dropped."""
    out: dict = {}
    pending = list(terms)
    while pending:
        term = _contract_deltas(pending.pop())
        expanded = _merge_powers(term, registry)
        if expanded is not None:
            pending.extend(expanded)
            continue
        key, coef = _canonical_term(term, registry)
        out[key] = out.get(key, 0) + coef
    collected: dict = {}
    for key, coef in out.items():
        coef = sympy.cancel(coef)
        if coef != 0:
            key, coef = _unused_arguments(key, coef, registry)
            collected[key] = collected.get(key, 0) + coef
    return {k: c for k, c in ((k, sympy.cancel(c)) for k, c in collected.items()) if c != 0}


def _unused_arguments(key: tuple, coef: sympy.Expr, registry: Registry) -> tuple:
    """A term whose collected coefficient no longer depends on some of its arguments
    (``-y σ'(u)/σ(u) + …`` = ``-y``) is named again without them, when at most one is left."""
    factors, dims = key
    arguments = [x for x in factors if x[0] == "a"]
    present = [k for k in range(len(arguments)) if _ARGUMENTS[k] in coef.free_symbols]
    if len(present) == len(arguments) or len(present) > 1:
        return key, coef
    plain = [x for x in factors if x[0] != "a"]
    if present:
        _kind, ref, idx = arguments[present[0]]
        plain.append(("g", f"{registry.formula(coef.subs(_ARGUMENTS[present[0]], U))}|{ref}", idx))
        coef = sympy.Integer(1)
    bound = {label: registry.dims[dim] for label, dim in dims}
    return _canonical_term(Term(coef, tuple(plain), bound), registry)


def _zero(c: sympy.Expr) -> bool:
    """Is ``c`` identically 0? A rational function of the sizes cancels; one with formulas of
    arguments (``σ'(t0) - σ(t0)(1 - σ(t0))``) is simplified."""
    c = sympy.cancel(c)
    if c == 0 or not any(_is_argument(x) for x in c.free_symbols):
        return c == 0
    if _differs_somewhere(c):
        return False
    return sympy.simplify(c) == 0


def _differs_somewhere(c: sympy.Expr) -> bool:
    """Is ``c`` clearly non-zero at one point (arguments in (-1, 1), sizes 2, 3, …)? Spares a
    slow ``simplify`` of a coefficient that is not 0; never used to conclude equality."""
    rng = random.Random(0)
    point = {x: sympy.Rational(rng.randint(-99, 99), 101) if _is_argument(x) else k + 2
             for k, x in enumerate(sorted(c.free_symbols, key=str))}
    try:
        value = complex(c.evalf(30, subs=point))
    except (TypeError, ValueError, ZeroDivisionError):
        return False
    return value == value and abs(value) > 1e-9


def _contract_deltas(term: Term) -> Term:
    """δ_ii = 1; a delta with a summed index renames it to the other index and goes."""
    factors, bound = list(term.factors), dict(term.bound)
    while True:
        position = next((k for k, (kind, _h, (*idx,)) in enumerate(factors)
                         if kind == "d" and (idx[0] == idx[1] or idx[0] in bound or idx[1] in bound)), None)
        if position is None:
            break
        i, j = factors.pop(position)[2]
        if i == j:
            continue
        gone, kept = (j, i) if j in bound else (i, j)
        if kept in bound and sympy.expand(bound[kept] - bound[gone]) != 0:
            raise OutsideFragment("a delta between indices of different dimensions")
        del bound[gone]
        factors = _renamed(factors, {gone: kept})
    return Term(term.coef, tuple(_free_deltas(factors)), bound)


def _free_deltas(factors: list) -> list:
    """δ_ij X_j = δ_ij X_i for free i < j: every other factor uses the smaller index."""
    for i, j in sorted({idx for kind, _h, idx in factors if kind == "d"}):
        rename = _renamed([x for x in factors if x != ("d", "", (i, j))], {j: i})
        if ("d", "", (i, j)) in factors:
            factors = [x for x in rename if not (x[0] == "d" and x[2][0] == x[2][1])] + [("d", "", (i, j))]
    return factors


def _merge_powers(term: Term, registry: Registry) -> list | None:
    """Powers of one sub-sum at the same indices multiply: exponents add. A natural total
    exponent is multiplied out (returned as terms); None when nothing is left to expand."""
    powers: dict = {}
    others = []
    for factor in term.factors:
        if factor[0] == "p":
            ref, exponent = factor[1].split("^")
            key = (ref, factor[2])
            powers[key] = powers.get(key, Fraction(0)) + Fraction(exponent)
        else:
            others.append(factor)
    rest = Term(term.coef, tuple(others), term.bound)
    expand = [(ref, idx, e) for (ref, idx), e in powers.items() if e.denominator == 1 and e >= 0]
    kept = tuple(("p", f"{ref}^{e}", idx) for (ref, idx), e in sorted(powers.items()) if not (e.denominator == 1 and e >= 0))
    rest = Term(rest.coef, rest.factors + kept, rest.bound)
    if not expand:
        return None if len(kept) == sum(1 for x in term.factors if x[0] == "p") else [rest]
    out = [rest]
    for ref, idx, e in expand:
        for _ in range(int(e)):
            out = _product(out, registry.instance(ref, idx))
    return out


def _canonical_term(term: Term, registry: Registry) -> tuple:
    """(key, coefficient): unused summed indices become their dimension, the others are renamed
    to the labelling whose sorted factor list is smallest. Formula factors leave in the key only
    their argument (``a``) and go into the coefficient, a function of ``t0, t1, …``, one symbol
    per distinct argument."""
    used = {i for _k, _h, idx in term.factors for i in idx}
    coef = term.coef * sympy.Mul(*[d for i, d in term.bound.items() if i not in used])
    bound = [i for i in term.bound if i in used]
    plain = [x for x in term.factors if x[0] != "g"]
    formulas = [(head.split("|"), idx) for kind, head, idx in term.factors if kind == "g"]
    arguments = sorted({("a", ref, idx) for (_f, ref), idx in formulas})
    best = None
    for labelling in _labellings(tuple(plain + arguments), bound):
        mapping = {i: f"c{n}" for n, i in enumerate(labelling)}
        candidate = (tuple(sorted(_renamed(plain, mapping) + sorted(set(_renamed(arguments, mapping))))),
                     tuple((f"c{n}", str(term.bound[i])) for n, i in enumerate(labelling)), mapping)
        if best is None or candidate[:2] < best[:2]:
            best = candidate
    factors, dims, mapping = best
    position = {a: k for k, a in enumerate(sorted({a for a in factors if a[0] == "a"}))}
    if len(position) > len(_ARGUMENTS):
        raise OutsideFragment("too many function arguments in one term")
    for (formula, ref), idx in formulas:
        symbol = _ARGUMENTS[position[_renamed([("a", ref, idx)], mapping)[0]]]
        coef *= registry.formulas[int(formula[1:])].subs(U, symbol)
    return (factors, dims), coef


def _labellings(factors: tuple, bound: list):
    """Orders of the summed indices to try: sorted by a renaming-invariant signature, every
    order within groups of equal signature (at most ``MAX_LABELLINGS`` in all)."""
    def signature(i):
        return tuple(sorted((k, h, tuple("*" if x == i else ("?" if x in bound else x) for x in idx))
                            for k, h, idx in factors if i in idx))

    groups: dict = {}
    for i in bound:
        groups.setdefault(signature(i), []).append(i)
    ordered = [groups[s] for s in sorted(groups)]
    if math.prod(math.factorial(len(g)) for g in ordered) > MAX_LABELLINGS:
        raise OutsideFragment("too many equivalent summed indices to name canonically")
    for choice in itertools.product(*(itertools.permutations(g) for g in ordered)):
        yield [i for group in choice for i in group]


# --- the proof ----------------------------------------------------------------------------


def prove_all_sizes(model: Model, lhs: Expr, rhs: Expr) -> bool | None:
    """True when both sides have the same canonical index form (equal for every size);
    None when the forms differ (nothing proved). Raises ``OutsideFragment``."""
    if any(n.op in ("entry", "isum") for side in (lhs, rhs) for n in walk(side)):
        raise OutsideFragment("indexed entries")
    registry = Registry()
    form = IndexForm(model, registry)
    shape = form.shape(lhs)
    if not S.same(shape, form.shape(rhs)):
        return None
    free = () if S.is_scalar(shape) else tuple(f"f{k}" for k in range(len(slots(shape))))
    left = canonical_sum(form.terms(lhs, free), registry)
    right = canonical_sum(form.terms(rhs, free), registry)
    left, right = _by_plain_factors(left, registry), _by_plain_factors(right, registry)
    zero = sympy.Integer(0)
    return all(_zero(left.get(k, zero) - right.get(k, zero)) for k in set(left) | set(right)) or None


def _by_plain_factors(canonical: dict, registry: Registry) -> dict:
    """Terms with the same factors besides function arguments, added: each argument a symbol of
    its own (``(σ(u)² - 1) y`` and ``-y + σ(u)² y`` meet), so coefficients compare as functions."""
    out: dict = {}
    for (factors, dims), coef in canonical.items():
        arguments = [x for x in factors if x[0] == "a"]
        for k, (_kind, ref, idx) in enumerate(arguments):
            named = registry.argument(ref, idx)
            coef = coef.subs(_ARGUMENTS[k], named)
        key = (tuple(x for x in factors if x[0] != "a"), dims)
        out[key] = out.get(key, 0) + coef
    return out


def _is_argument(x: sympy.Symbol) -> bool:
    return x in _ARGUMENTS or x.name.startswith("arg")
