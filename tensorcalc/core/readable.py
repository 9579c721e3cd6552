"""Formulas a careful author would write: the pass every printed formula goes through.

``readable(expr, knowledge)`` runs ``simplify`` (contraction -> matrix form), then rounds of

  rule                     before                              after
  definitions backwards    sigma(z), mu(z[l])                  p, a[l]   (the forward pass says p: sigma(z))
                           sqrt(eps + 1/d x^T x)               r         (r: sqrt(mean(x.^2) + eps): equal values
                                                                          after normalisation, core/elementwise.ValueKey)
  function identities      log'(p), sigma'(z), tanh'(u)        1/p, p ⊙ (1 - p), 1 - tanh(u).^2   (core/identities)
                           sqrt'(v)                            1/(2 s)      (s: sqrt(v), whatever v's grouping)
                           sigma''(z), log''(p)                p ⊙ (1 - p) ⊙ (1 - 2 p), -1/p.^2   (the first
                                                                             identity differentiated)
  elementwise algebra      (-y/p + (1-y)/(1-p)) p (1-p) x      (p - y) x   (collect, cancel, factor: core/elementwise)
  softmax                  exp(z)/(ones(1, k) exp(z))          p            (p: softmax(z); exp(z)/sum(exp(z)) too)
  sums to one              ones(k, k) y, sum(y)                ones(k), 1   (y onehot or probability, p = softmax(z),
                                                                             q: (1 - e) y + e/k ones(k) by its definition)
                           Y^T ones(k, k), P ones(k, m)        ones(N, k), ones(N, m)   (Y onehot(k, N): columns;
                                                                             P: softmax_rows(Z): rows)
  sums read linearly       sum(a c - v), sum(Y)                -sum(v), N   (c: x - mu ones(n), mu: 1/n ones(n)^T x:
                                                                             the entries of c sum to 0 by its definitions)
  names scaled back        (sum(v ⊙ c) c)/s^2                   sum(v ⊙ xhat) xhat   (xhat: c / s: one more pass
                                                                             reads c as s xhat)
  symmetric                S^T, inv(S)^T, (R R^T)^T            S, inv(S), R R^T   (S declared symmetric or spd,
                                                                             or a product equal to its transpose)
  named transposes         softmax(S^T)                        A^T          (A: softmax_rows(S) = softmax(S^T)^T)
  transpose of a sum       (V G^T - B)^T                       G V^T - B^T  (when fewer transposes remain)
  square of a transpose    Q^T Q^T                             (Q^2)^T
  row sums                 (P C^T ⊙ A) ones(n, m)              (P ⊙ A C) ones(q, m)
  sum of ones              sum(ones(n))                        n            (sums read linearly)
  inverse of an inverse    inv(inv(A)), inv(Xi)                A            (Xi: inv(A))
  scalar of a sum          sum(s)                              s            (s a scalar)
  scalars out of products  A (c B), A (-B)                     c A B, -A B
  rows back to ⊙           u^T diag(v), r diag(t)              (u ⊙ v)^T, r ⊙ t   (rows r, t: so the algebra sees
                                                                             it; simplify writes it back if nothing cancels)
  ones and diag            ones(1, n) diag(v), diag(v) ones(n)  v^T, v      (v n×1; a 1×n row v gives v, v^T)
                           diag(v) diag(w), diag(v) + diag(w)  diag(v ⊙ w), diag(v + w)
  transpose of a 1×1       (p - y)^T                           p - y
  common factor            B x + B^T x, u^T A - u^T S          (B + B^T) x, u^T (A - S)

A scalar added to a tensor is written times ``ones`` at the end (``1/n ones(n) + 2/n x``).
(a form a rule shortened and ``simplify`` lengthened again, ``(u ⊙ v)^T X``, stays a candidate)
until nothing changes, once without and (when a derivative f'(u) is present) once with the
function identities (and once with names scaled back, when the file has one), and returns the
smallest formula seen by ``formula_size`` (core/measure); ties go to constant coefficients
written before a product (``1/N X^T v``), then to the shorter text. Every rule is an identity of
values; a printed formula is still confirmed by the oracles (explain/formulas). ``inline`` is
the one place a gradient program's steps are substituted into each other (derive, the correct:
line of a diagnosis, emitted code).
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Callable

import sympy

from ..errors import ShapeError
from . import shapes as S
from .elementwise import EntrySums, NotElementwise, ValueKey, candidates, is_elementwise, is_ones
from .expr import Expr, node, num, product_factors, substitute, walk
from .functions import T, FunctionTable
from .identities import derivative_identity
from .measure import formula_size
from .notation import is_constant, plain
from .resolve import shape_of
from .simplify import simplify

ShapeFn = Callable[[Expr], tuple]
ROUNDS = 4
MAX_REWRITES = 2_000
STOCHASTIC_KINDS = {"onehot", "probability"}
SYMMETRY_DEPTH = 8


@dataclass
class Knowledge:
    """What the file guarantees: shapes, functions, its definitions and the kinds of its tensors."""

    shape: ShapeFn
    functions: FunctionTable | None = None
    definitions: dict[Expr, Expr] = field(default_factory=dict)  # resolved value -> its name (or derivative term)
    leaves: dict[str, tuple] = field(default_factory=dict)  # name -> (kind, shape, flags)
    values: dict[str, Expr] = field(default_factory=dict)  # name -> resolved value
    identities: bool = False
    by_value: dict = field(default_factory=dict, compare=False, repr=False)  # memo of keys and of named keys

    @classmethod
    def of(cls, model, shape: ShapeFn | None = None) -> "Knowledge":
        """From a ``Model``: its shapes (``shape``, or the model's, remembered), function table,
        definitions and declarations."""
        if shape is None:
            cache: dict = {}

            def shape(e: Expr) -> tuple:
                return shape_of(model, e, cache)

        named = {_associated(value): Expr("var", (), name) for name, value in model.defs.items() if value.op not in ("var", "num", "size")}
        return cls(shape, model.functions, named, dict(model.leaves), dict(model.defs))

    def identity(self, name: str, order: int = 1) -> sympy.Expr | None:
        """``name'(T)`` (``name''(T)``, ``order`` 2: the first identity differentiated, each
        derivative in it replaced by its own identity) in table functions of T, or None."""
        if not self.identities or self.functions is None or name not in self.functions or order not in (1, 2):
            return None
        first = derivative_identity(self.functions, name)
        if order == 1 or first is None:
            return first
        slope = sympy.diff(first, T)
        inner = {}
        for d in slope.atoms(sympy.Derivative):
            applied = d.expr
            known = applied.func.__name__ in self.functions and d.variables == (T,) and applied.args == (T,)
            inner[d] = derivative_identity(self.functions, applied.func.__name__) if known else None
            if inner[d] is None:
                return None
        return slope.xreplace(inner)

    def rename(self, e: Expr) -> Expr:
        """A subexpression the forward pass names, by its name (``sigma(z)`` -> ``p``)."""
        if not self.definitions:
            return e
        return self.definitions.get(e) or self.definitions.get(_associated(e), e)

    def rename_by_value(self, e: Expr) -> Expr | None:
        """A subexpression whose value equals a definition's after normalisation, by that name
        (``sqrt(eps + 1/d xᵀ x)`` -> ``r`` for ``r: sqrt(mean(x.^2) + eps)``; ``exp(1/2 v)`` ->
        ``s`` for ``s: exp(v/2)``): scalars and elementwise values, compared by ``ValueKey``."""
        if e.op in ("var", "num", "size", "ones", "zeros", "T") or not self.values:
            return None
        key = self._value_key(e)
        if key is None:
            return None
        shape = self.shape(e)
        return next((Expr("var", (), name) for named, dims, name in self._named_keys() if named == key and S.same(dims, shape)), None)

    def _named_keys(self) -> list[tuple]:
        """(key, shape, name) of each definition whose value is a scalar or elementwise."""
        if "named" not in self.by_value:
            named = []
            for name, value in self.values.items():
                key = None if value.op in ("var", "num", "size") else self._value_key(value)
                if key is not None:
                    named.append((key, self.shape(value), name))
            self.by_value["named"] = named
        return self.by_value["named"]

    def _value_key(self, e: Expr) -> sympy.Expr | None:
        memo = self.by_value.setdefault("keys", {})
        if e not in memo:
            memo[e] = None
            if S.is_scalar(self.shape(e)) or is_elementwise(e, self.shape):
                try:
                    memo[e] = ValueKey(self.shape, self.positive).key(e)
                except (NotElementwise, TypeError, ValueError, ShapeError):
                    memo[e] = None
        return memo[e]

    def _declared(self, e: Expr) -> tuple:
        return self.leaves.get(e.attr, ("", (), ())) if e.op == "var" else ("", (), ())

    def positive(self, e: Expr) -> bool:
        kind, _shape, flags = self._declared(e)
        return e.op == "size" or "positive" in flags or kind == "probability" or self._softmax(e)  # spd entries may be negative

    def symmetric(self, e: Expr, depth: int = 0) -> bool:
        """Declared symmetric (or spd), defined as a symmetric value, or built from such by sums,
        scalar multiples, inverses and transposes, or a product equal to its own transpose
        (``R Rᵀ``, ``inv(S) B inv(S)`` with B symmetric)."""
        if depth > SYMMETRY_DEPTH:
            return False
        kind, _shape, flags = self._declared(e)
        if kind == "spd" or "symmetric" in flags:
            return True
        if e.op == "var":
            return e.attr in self.values and self.symmetric(self.values[e.attr], depth + 1)
        if e.op in ("inv", "T", "neg"):
            return self.symmetric(e.args[0], depth + 1)
        if e.op in ("add", "sub", "hadamard"):
            return all(self.symmetric(a, depth + 1) for a in e.args)
        if e.op in ("mul", "matmul", "div") and S.is_scalar(self.shape(e.args[1 if e.op == "div" else 0])):
            return self.symmetric(e.args[0 if e.op == "div" else 1], depth + 1)
        if e.op == "matmul":
            factors = product_factors(e)
            return all(self._mirror(a, b, depth + 1) for a, b in zip(factors, reversed(factors)))
        return False

    def _mirror(self, a: Expr, b: Expr, depth: int) -> bool:
        """a = bᵀ."""
        if a == b:
            return self.symmetric(a, depth)
        return a == node("T", b) or b == node("T", a)

    def stochastic(self, e: Expr, rows: bool = False) -> bool:
        """Does every column (every row, ``rows``) of ``e`` sum to one (one-hot, probability,
        softmax; a transpose of one, ``softmax_rows``)?"""
        if e.op == "T":
            return self.stochastic(e.args[0], not rows)
        if e.op == "var" and e.attr in self.values:
            return self.stochastic(self.values[e.attr], rows) or self._defined_to_sum_to_one(e, rows)
        return not rows and (self._declared(e)[0] in STOCHASTIC_KINDS or e.op == "softmax")

    def _defined_to_sum_to_one(self, e: Expr, rows: bool) -> bool:
        """A named vector whose entries sum to 1 by its definition, read linearly
        (``q: (1 - ep) y + ep/n ones(n)`` with y one-hot), as its one column (row, ``rows``)."""
        shape = self.shape(e)
        if len(shape) != 2 or shape[1 if rows else 0] == 1 or shape[0 if rows else 1] != 1:
            return False
        memo = self.by_value.setdefault("sums to one", {})
        if e.attr not in memo:
            memo[e.attr] = False  # a definition read while it is being read is not assumed
            try:
                memo[e.attr] = sympy.cancel(sympy.expand(EntrySums(self).total(self.values[e.attr]) - 1)) == 0
            except (NotElementwise, TypeError, ValueError, ShapeError):
                memo[e.attr] = False
        return memo[e.attr]

    def sums_to_zero(self, e: Expr) -> bool:
        """Do the entries of ``e`` sum to 0 whatever the inputs (``c: x - mu ones(n)``, the
        mean ``mu: 1/n ones(n)^T x`` taken out), read linearly through the file's definitions?"""
        return not S.is_scalar(self.shape(e)) and sympy.expand(EntrySums(self).total(e)) == 0

    def scaled_names(self) -> dict[str, Expr]:
        """Tensors the file also names divided by a scalar: ``xhat: c / s`` gives c = s xhat,
        so a formula in c can read xhat."""
        out: dict[str, Expr] = {}
        for name, value in self.values.items():
            if value.op == "div" and value.args[0].op == "var" and S.is_scalar(self.shape(value.args[1])):
                out.setdefault(value.args[0].attr, node("mul", value.args[1], Expr("var", (), name)))
        return {k: v for k, v in out.items() if not S.is_scalar(self.shape(Expr("var", (), k)))}

    def _softmax(self, e: Expr) -> bool:
        value = self.values.get(e.attr) if e.op == "var" else e
        return value is not None and value.op == "softmax"


@functools.lru_cache(maxsize=65_536)
def _associated(e: Expr) -> Expr:
    """``e`` with its matrix products grouped from the left: ``(1/n cᵀ) c`` and ``1/n (cᵀ c)``
    are one key of the definitions."""
    if e.op == "matmul" and e.attr is None:
        return _product([_associated(f) for f in product_factors(e, juxtaposed_only=True)])
    return Expr(e.op, tuple(_associated(a) for a in e.args), e.attr) if e.args else e


def readable(expr: Expr, knowledge: Knowledge) -> Expr:
    """The smallest equal formula found (see the module table)."""
    base = simplify(expr, knowledge.shape)
    seen = [base]
    tidied_forms: list[Expr] = []
    primed = any(n.op == "apply" and n.attr[1] >= 1 for n in walk(base))
    passes = [(False, base), (True, base)] if primed else [(False, base)]  # without a derivative both agree
    scaled = knowledge.scaled_names()
    if scaled and any(n.op == "var" and n.attr in scaled for n in walk(base)):  # c read as s xhat (xhat: c / s)
        passes.append((primed, simplify(substitute(base, scaled), knowledge.shape)))
    for identities, start in passes:
        current = start
        tidy = _Tidy(dataclasses.replace(knowledge, identities=identities))
        for _ in range(ROUNDS):
            tidied = tidy.visit(current)
            following = simplify(tidied, knowledge.shape)
            seen.append(following)
            tidied_forms.append(tidied)  # simplify may undo a rule that shortened it: (u ⊙ v)ᵀ X -> uᵀ diag(v) X
            if following == current:
                break
            current = following
    best = min([*seen[1:], base, *tidied_forms], key=_measure)  # ties: the simplified, rewritten form
    return explicit_broadcasts(best, knowledge.shape)


def explicit_broadcasts(e: Expr, shape: ShapeFn) -> Expr:
    """A scalar added to a tensor written as that scalar times ones, as a book writes it:
    ``1/n + 2/n x`` -> ``1/n ones(n) + 2/n x``, ``1 + B`` -> ``ones(n, m) + B``."""
    if not e.args:
        return e
    e = Expr(e.op, tuple(explicit_broadcasts(a, shape) for a in e.args), e.attr, e.pos)
    if e.op not in ("add", "sub"):
        return e
    shapes = [shape(a) for a in e.args]
    scalar = [S.is_scalar(s) for s in shapes]
    if scalar[0] == scalar[1]:
        return e
    dims = shapes[1] if scalar[0] else shapes[0]
    ones = Expr("ones", (), tuple(dims))
    spread = [a if not is_scalar else ones if a == num(1) else node("matmul", a, ones) for a, is_scalar in zip(e.args, scalar)]
    return Expr(e.op, tuple(spread), e.attr, e.pos)


def _measure(e: Expr) -> tuple:
    """``formula_size``, then coefficients written inside a product (``X^T 1/N v``, then
    ``1/N u ⊙ v`` rather than ``1/N (u ⊙ v)``, which prints the same), then the text length."""
    return formula_size(e), *_buried_coefficients(e), len(plain(e))


def _buried_coefficients(e: Expr) -> tuple[int, int]:
    """Constant coefficients inside a matrix product (``X^T 1/N v``, ``(1/N u ⊙ v) X^T``) rather than before it."""

    def scaled(x: Expr) -> bool:
        return x.op in ("mul", "matmul") and is_constant(x.args[0]) and not is_constant(x)

    def buried(n: Expr) -> bool:  # a scaled factor of a matrix product (a scaled ⊙ on its own reads fine)
        if n.op != "matmul" or is_constant(n.args[0]):
            return False
        return scaled(n.args[1]) or any(a.op == "hadamard" and any(scaled(b) for b in a.args) for a in n.args)

    nodes = list(walk(e))
    inside_hadamard = sum(1 for n in nodes if n.op == "hadamard" and any(scaled(a) for a in n.args))
    return sum(1 for n in nodes if buried(n)), inside_hadamard


class _Tidy:
    """One bottom-up round: local rules at every node, elementwise algebra at each maximal
    elementwise tree."""

    def __init__(self, knowledge: Knowledge):
        self.knowledge = knowledge
        self.shape = knowledge.shape
        self.memo: dict[tuple[Expr, bool], Expr] = {}
        self.budget = MAX_REWRITES

    def visit(self, e: Expr, inside: bool = False) -> Expr:
        key = (e, inside)
        if key in self.memo:
            return self.memo[key]
        elementwise = is_elementwise(e, self.shape)
        rebuilt = e if not e.args else Expr(e.op, tuple(self.visit(a, elementwise) for a in e.args), e.attr, e.pos)
        current = self.local(rebuilt)
        if current != rebuilt:  # a rule fired: its result gets every rule, and the algebra, again
            current = self.visit(current, inside)
        elif not inside and is_elementwise(current, self.shape):
            options = [self.local_tree(c) for c in candidates(current, self.knowledge)]
            current = min([*options, current], key=_measure)  # ties: the algebra's order (main terms first)
        self.memo[key] = current
        return current

    def local(self, e: Expr) -> Expr:
        """Local rules at one node until none fires."""
        while self.budget > 0:
            for rule in LOCAL_RULES:
                try:
                    rewritten = rule(e, self.knowledge)
                except ShapeError:  # a part the rule would build has no shape (m×1 by m×1 at m = 1): not this rule
                    continue
                if rewritten is not None and rewritten != e:
                    self.budget -= 1
                    e = rewritten if not rewritten.args else Expr(rewritten.op, tuple(self.local(a) for a in rewritten.args), rewritten.attr)
                    break
            else:
                return e
        return e

    def local_tree(self, e: Expr) -> Expr:
        """Local rules everywhere in ``e`` (a candidate from the algebra), bottom-up."""
        if e.args:
            e = Expr(e.op, tuple(self.local_tree(a) for a in e.args), e.attr, e.pos)
        return self.local(e)


# --- local rules: (expr, knowledge) -> rewritten or None -----------------------------------


def definition_backwards(e: Expr, k: Knowledge) -> Expr | None:
    """A named value by its name; the transpose of a named value as the name's transpose
    (``softmax(Sᵀ)`` -> ``Aᵀ`` for ``A: softmax_rows(S)``, which is ``softmax(Sᵀ)ᵀ``)."""
    renamed = k.rename(e)
    if renamed is not e:
        return renamed
    by_value = k.rename_by_value(e)
    if by_value is not None:
        return by_value
    if e.op in ("var", "T", "num", "size", "ones", "zeros"):
        return None
    flipped = node("T", e)
    renamed = k.rename(flipped)
    return node("T", renamed) if renamed is not flipped and renamed.op == "var" else None


def sum_of_diags(e: Expr, k: Knowledge) -> Expr | None:
    """diag(a) ± diag(b) = diag(a ± b) for vectors a, b of one shape (the Hessian's terms)."""
    if e.op not in ("add", "sub") or any(a.op != "diag" for a in e.args):
        return None
    a, b = (x.args[0] for x in e.args)
    if not (_vector(a, k) and S.same(k.shape(a), k.shape(b))):
        return None
    return node("diag", node(e.op, a, b))


def symmetric_transpose(e: Expr, k: Knowledge) -> Expr | None:
    return e.args[0] if e.op == "T" and k.symmetric(e.args[0]) else None


def sum_of_scalar(e: Expr, k: Knowledge) -> Expr | None:
    """sum(s) = s for a scalar s; sum(-v) = -sum(v); sum(c v) = c sum(v); sum(v / c) = sum(v) / c."""
    if e.op != "sum":
        return None
    inner = e.args[0]
    if S.is_scalar(k.shape(inner)):
        return inner
    if inner.op == "neg":
        return node("neg", node("sum", inner.args[0]))
    if inner.op in ("mul", "matmul") and S.is_scalar(k.shape(inner.args[0])):
        return node(inner.op, inner.args[0], node("sum", inner.args[1]))
    if inner.op == "div" and S.is_scalar(k.shape(inner.args[1])):
        return node("div", node("sum", inner.args[0]), inner.args[1])
    return None


def ones_times_stochastic(e: Expr, k: Knowledge) -> Expr | None:
    """ones(a, k) V = ones(a, m) when every column of the k×m V sums to one, and
    V ones(m, a) = ones(k, a) when every row of the k×m V does (``Yᵀ ones(k, k)``, Y one-hot)."""
    if e.op != "matmul":
        return None
    a, b = e.args
    if not ((is_ones(a) and k.stochastic(b)) or (is_ones(b) and k.stochastic(a, rows=True))):
        return None
    dims = (k.shape(a)[0], k.shape(b)[1])
    return num(1) if S.is_scalar(dims) else Expr("ones", (), dims)


def sum_by_linearity(e: Expr, k: Knowledge) -> Expr | None:
    """sum(a ± b) = sum(a) ± sum(b), scalars out, when that is shorter: a centred c sums to 0
    (``sum(k c - v)`` -> ``-sum(v)``), a one-hot matrix to its number of columns."""
    if e.op != "sum" or S.is_scalar(k.shape(e.args[0])):
        return None
    sums = EntrySums(k)
    total = sums.total(e.args[0])
    try:
        out = min((sums.algebra.to_expr(t) for t in (total, sympy.expand(total))), key=_measure)  # expanded: terms cancel
    except (NotElementwise, TypeError, KeyError):
        return None
    return out if formula_size(out) <= formula_size(e) else None  # as long: scalars out, where the algebra sees them


def scalar_out_of_product(e: Expr, k: Knowledge) -> Expr | None:
    """A (c B) = c (A B) and A (-B) = -(A B) for a matrix product and a scalar c."""
    if e.op != "matmul" or any(S.is_scalar(k.shape(a)) for a in e.args):
        return None
    a, b = e.args
    for i, part in enumerate((a, b)):
        if part.op == "neg":
            rest = (part.args[0], b) if i == 0 else (a, part.args[0])
            return node("neg", node("matmul", *rest))
        if part.op in ("mul", "matmul") and S.is_scalar(k.shape(part.args[0])) and not S.is_scalar(k.shape(part.args[1])):
            rest = (part.args[1], b) if i == 0 else (a, part.args[1])
            return node("mul" if part.op == "mul" else "matmul", part.args[0], node("matmul", *rest))
        if part.op == "div" and S.is_scalar(k.shape(part.args[1])):
            rest = (part.args[0], b) if i == 0 else (a, part.args[0])
            return node("div", node("matmul", *rest), part.args[1])
    return None


def row_diag_to_hadamard(e: Expr, k: Knowledge) -> Expr | None:
    """uᵀ diag(v) = (u ⊙ v)ᵀ for a row uᵀ and a column v; = uᵀ ⊙ v for a row v."""
    if e.op != "matmul" or e.args[1].op != "diag":
        return None
    row, v = e.args[0], e.args[1].args[0]
    sr, sv = k.shape(row), k.shape(v)
    if not (len(sr) == 2 and sr[0] == 1 and _vector(v, k)):
        return None
    if sv[0] == 1:
        return node("hadamard", row, v)
    column = row.args[0] if row.op == "T" else node("T", row)
    return node("T", node("hadamard", column, v))


def row_sums_moved(e: Expr, k: Knowledge) -> Expr | None:
    """(P Cᵀ ⊙ A) ones(n, m) = (P ⊙ A C) ones(q, m): the row sums Σ_j Σ_q P_iq C_jq A_ij
    (A n'×n, P n'×q, C n×q), read with the transpose gone (``(G Vᵀ ⊙ A) 1`` -> ``(G ⊙ A V) 1``)."""
    if e.op != "matmul" or e.args[1].op != "ones" or e.args[0].op != "hadamard":
        return None
    for product, weights in (e.args[0].args, reversed(e.args[0].args)):
        factors = product_factors(product)
        if len(factors) < 2 or factors[-1].op != "T" or len(k.shape(weights)) != 2:
            continue
        rest = _product(factors[:-1])
        shape = k.shape(rest)
        if len(shape) != 2 or S.is_scalar(k.shape(factors[-1])):
            continue
        ones = Expr("ones", (), (shape[1], *k.shape(e.args[1])[1:]))
        return node("matmul", node("hadamard", rest, node("matmul", weights, factors[-1].args[0])), ones)
    return None


def square_of_transpose(e: Expr, k: Knowledge) -> Expr | None:
    """Aᵀ Aᵀ = (A²)ᵀ for a square A: one transpose, and a term like-terms can collect
    (``2 (Q²)ᵀ + Qᵀ Qᵀ`` -> ``3 (Q²)ᵀ``)."""
    if e.op != "matmul" or e.args[0] != e.args[1] or e.args[0].op != "T":
        return None
    base = e.args[0].args[0]
    shape = k.shape(base)
    if len(shape) != 2 or S.is_scalar(shape) or not S.same((shape[0],), (shape[1],)):
        return None
    return node("T", Expr("mpow", (base, num(2))))


def transpose_of_sum(e: Expr, k: Knowledge) -> Expr | None:
    """(A ± B)ᵀ = Aᵀ ± Bᵀ when that leaves fewer transposes once simplified
    (``(V Gᵀ - 1 (V Gᵀ ⊙ Aᵀ))ᵀ`` -> ``G Vᵀ - (G Vᵀ ⊙ A) 1``; ``(p - y)ᵀ`` stays)."""
    if e.op != "T" or e.args[0].op not in ("add", "sub"):
        return None
    inner = e.args[0]
    spread = node(inner.op, *(node("T", a) for a in inner.args))
    fewer = _transposes(simplify(spread, k.shape)) < _transposes(simplify(e, k.shape))
    return spread if fewer else None


def _transposes(e: Expr) -> int:
    return sum(1 for n in walk(e) if n.op == "T")


def transpose_of_scalar(e: Expr, k: Knowledge) -> Expr | None:
    """sᵀ = s for a 1×1 expression s (a value, not only a constant: ``(p - y)ᵀ``)."""
    return e.args[0] if e.op == "T" and S.is_scalar(k.shape(e.args[0])) else None


def common_factor(e: Expr, k: Knowledge) -> Expr | None:
    """A C ± B C = (A ± B) C and C A ± C B = C (A ± B) for matrix products with a shared
    outer factor (the remaining factors are of one shape, so their sum is defined)."""
    if e.op not in ("add", "sub") or any(a.op != "matmul" for a in e.args):
        return None
    left, right = (product_factors(a) for a in e.args)
    for side in (-1, 0):  # the right factor first: B x + Bᵀ x
        if left[side] != right[side] or min(len(left), len(right)) < 2:
            continue
        rest = [_product(f[:-1] if side == -1 else f[1:]) for f in (left, right)]
        if not S.same(k.shape(rest[0]), k.shape(rest[1])):
            continue
        summed = node(e.op, *rest)
        return node("matmul", summed, left[-1]) if side == -1 else node("matmul", left[0], summed)
    return None


def _product(factors: list[Expr]) -> Expr:
    return functools.reduce(lambda a, b: node("matmul", a, b), factors)


def diag_products(e: Expr, k: Knowledge) -> Expr | None:
    """ones(1, n) diag(v) = vᵀ, diag(v) ones(n) = v (v an n×1 column; a 1×n row v gives v and
    vᵀ), and diag(v) diag(w) = diag(v ⊙ w) (v, w vectors of one length)."""
    if e.op != "matmul":
        return None
    a, b = e.args
    if a.op == "diag" and b.op == "diag" and _vector(a.args[0], k) and _vector(b.args[0], k):
        v, w = (_as_column(x.args[0], k) for x in (a, b))
        return node("diag", node("hadamard", v, w)) if S.same(k.shape(v), k.shape(w)) else None
    if a.op == "ones" and b.op == "diag" and _vector(b.args[0], k) and _ones_along(a, k, row=True):
        return _as_row(b.args[0], k)
    if a.op == "diag" and b.op == "ones" and _vector(a.args[0], k) and _ones_along(b, k, row=False):
        return _as_column(a.args[0], k)
    return None


def softmax_of_exponentials(e: Expr, k: Knowledge) -> Expr | None:
    """exp(u) / (ones(1, n) exp(u)) = exp(u) / sum(exp(u)) = softmax(u) for a column u (what
    the derivative of ``log_softmax`` is made of); definitions backwards then name it (p)."""
    if e.op != "div" or not _exponential(e.args[0]):
        return None
    u, total = e.args[0].args[0], e.args[1]
    if not _vector(u, k) or k.shape(u)[1] != 1:
        return None
    summed = total.args[0] if total.op == "sum" else total.args[1] if total.op == "matmul" and _ones_along(total.args[0], k, row=True) else None
    return node("softmax", u) if summed == e.args[0] else None


def _exponential(e: Expr) -> bool:
    return e.op == "apply" and e.attr == ("exp", 0)


def _vector(e: Expr, k: Knowledge) -> bool:
    shape = k.shape(e)
    return S.is_vector(shape) and not S.is_scalar(shape)


def _ones_along(ones: Expr, k: Knowledge, row: bool) -> bool:
    """Is ``ones`` a single row (``row``) or a single column, as a vector?"""
    shape = k.shape(ones)
    return len(shape) == 2 and shape[0 if row else 1] == 1 and not S.is_scalar(shape)


def _as_column(v: Expr, k: Knowledge) -> Expr:
    return _oriented(v, k, row=False)


def _as_row(v: Expr, k: Knowledge) -> Expr:
    return _oriented(v, k, row=True)


def _oriented(v: Expr, k: Knowledge, row: bool) -> Expr:
    """The vector ``v`` as a row (``row``) or a column: transposed when it is the other one."""
    if k.shape(v)[0 if row else 1] == 1:
        return v
    return v.args[0] if v.op == "T" else node("T", v)


def inverse_of_inverse(e: Expr, k: Knowledge) -> Expr | None:
    """inv(inv(A)) = A, also when the file names inv(A) (Xi: inv(X))."""
    if e.op != "inv":
        return None
    inner = e.args[0]
    inner = k.values.get(inner.attr, inner) if inner.op == "var" else inner
    return inner.args[0] if inner.op == "inv" else None


LOCAL_RULES: list[Callable[[Expr, Knowledge], Expr | None]] = [
    definition_backwards,
    softmax_of_exponentials,
    symmetric_transpose,
    sum_of_scalar,
    sum_by_linearity,
    ones_times_stochastic,
    scalar_out_of_product,
    diag_products,
    sum_of_diags,
    row_diag_to_hadamard,
    inverse_of_inverse,
    transpose_of_scalar,
    transpose_of_sum,
    square_of_transpose,
    row_sums_moved,
    common_factor,
]


def inline(steps, tidy: Callable[[Expr], Expr], seen_as: Callable[[str, Expr], Expr] | None = None) -> dict[str, Expr]:
    """The adjoint steps of a gradient program, each with the earlier ones substituted and
    passed through ``tidy``: adjoint -> what later steps read for it (``seen_as(adjoint, value)``:
    the value itself by default, or a name that keeps the step apart)."""
    env: dict[str, Expr] = {}
    for adj, expr in steps:
        value = tidy(substitute(expr, env))
        env[adj] = value if seen_as is None else seen_as(adj, value)
    return env
