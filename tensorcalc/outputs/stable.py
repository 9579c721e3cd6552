"""Backward expressions rewritten for floats before they become code: log'(u) ⊙ u = 1.

The chain rule through ``log(σ(z))``, ``log(1 - σ(z))`` or ``log(softmax(z))`` multiplies
``log'(u) = 1/u`` by a factor ``u`` (``σ'(z) = σ(z) ⊙ (1 - σ(z))``, softmax's own rule). In
floats ``u`` underflows to 0 at |z| = 40..800 and ``1/u · u`` is ``inf · 0`` = NaN; cancelling
the pair first leaves log-sigmoid's ``1 - σ(z)``, log-softmax's ``softmax(z) - y``: finite and
equal wherever the original is defined. Only emitted code is rewritten; claims never are.
"""
from __future__ import annotations

from typing import Callable

import sympy

from ..core import shapes as S
from ..core.expr import Expr, node, num, walk
from ..core.functions import Logistic, T, stable_form

MAX_TERMS = 64  # distributing ⊙ over sums multiplies terms: past this the expression stays as it is
_SIGMA = sympy.Symbol("sigma")


class LogCancellation:
    """``rewrite(e)``: ``e`` with every ``log'(u) ⊙ u`` pair of its elementwise products removed,
    or ``e`` itself when no pair cancels. ``forward``: the model's definitions (``A: sigmoid(z)``)."""

    def __init__(self, functions, forward: dict[str, Expr], shape: Callable[[Expr], tuple]):
        self.functions = functions
        self.forward = forward
        self.shape = shape
        self.log_names = {n for n in functions.formulas if functions.formula(n) == sympy.log(T)}
        self.cancelled = 0

    def is_log_derivative(self, e: Expr) -> bool:
        return e.op == "apply" and e.attr[0] in self.log_names and e.attr[1] == 1

    def has_log_derivative(self, e: Expr) -> bool:
        return any(self.is_log_derivative(n) for n in walk(e))

    def rewrite(self, e: Expr) -> Expr:
        if not self.has_log_derivative(e):
            return e
        before = self.cancelled
        out = self._visit(self._expand_sigma_derivatives(e))
        return out if self.cancelled > before else e

    # σ'(z) -> σ(z) ⊙ (1 - σ(z)), σ(z) read from the forward definition when there is one
    def _expand_sigma_derivatives(self, e: Expr) -> Expr:
        if e.op == "apply" and e.attr[1] == 1 and self._is_logistic(e.attr[0]):
            sigma = self._forward_name(Expr("apply", e.args, (e.attr[0], 0)))
            return node("hadamard", sigma, node("sub", num(1), sigma))
        if not e.args:
            return e
        return Expr(e.op, tuple(self._expand_sigma_derivatives(a) for a in e.args), e.attr, e.pos)

    def _is_logistic(self, fn: str) -> bool:
        return stable_form(self.functions.formula(fn)) == Logistic(T)

    def _forward_name(self, e: Expr) -> Expr:
        for name, value in self.forward.items():
            if value == e:
                return Expr("var", (), name)
        return e

    # distribute elementwise products over sums, cancel pairs, rebuild
    def _visit(self, e: Expr) -> Expr:
        terms = self._terms(e)
        if terms is None or len(terms) > MAX_TERMS:
            return e if not e.args else Expr(e.op, tuple(self._visit(a) for a in e.args), e.attr, e.pos)
        if len(terms) == 1 and len(terms[0][1]) == 1 and terms[0][0] == 1:
            (factor,) = terms[0][1]
            return factor if not factor.args else Expr(factor.op, tuple(self._visit(a) for a in factor.args), factor.attr, factor.pos)
        out = None
        for sign, factors in terms:
            product = self._product([self._visit(f) for f in self._cancel(factors, self.shape(e))])
            if out is None:
                out = product if sign > 0 else node("neg", product)
            else:
                out = node("add" if sign > 0 else "sub", out, product)
        return out

    def _terms(self, e: Expr) -> list[tuple[int, list[Expr]]] | None:
        """``e`` as ± products of elementwise factors (a factor may be a scalar); a sum without
        log' stays one factor (``1 - σ(z)`` is the partner that cancels ``log'(1 - σ(z))``)."""
        if e.op in ("add", "sub") and self.has_log_derivative(e):
            left, right = self._terms(e.args[0]), self._terms(e.args[1])
            if left is None or right is None or len(left) + len(right) > MAX_TERMS:
                return None
            return left + [(-s if e.op == "sub" else s, f) for s, f in right]
        if e.op == "neg":
            inner = self._terms(e.args[0])
            return None if inner is None else [(-s, f) for s, f in inner]
        if e.op == "T" and len(self.shape(e)) <= 2:  # (a ⊙ b)ᵀ = aᵀ ⊙ bᵀ, (a + b)ᵀ = aᵀ + bᵀ
            inner = self._terms(e.args[0])
            return None if inner is None else [(s, [_transposed(f) for f in fs]) for s, fs in inner]
        row_diag = e.op == "matmul" and e.args[1].op == "diag" and self._row_times_diag(e)
        if row_diag or (e.op in ("hadamard", "mul") and self._elementwise(e)):
            left, right = self._terms(e.args[0]), self._terms(self._as_row(e.args[1].args[0]) if row_diag else e.args[1])
            if left is None or right is None or len(left) * len(right) > MAX_TERMS:
                return None
            return [(sa * sb, fa + fb) for sa, fa in left for sb, fb in right]
        return [(1, [e])]

    def _row_times_diag(self, e: Expr) -> bool:
        """``uᵀ diag(v)`` (simplify's form of a row product ``uᵀ ⊙ vᵀ``)."""
        sa, sv = self.shape(e.args[0]), self.shape(e.args[1].args[0])
        return len(sa) == 2 and sa[0] == 1 and S.is_vector(sv)

    def _as_row(self, v: Expr) -> Expr:
        return v if self.shape(v)[0] == 1 else _transposed(v)

    def _elementwise(self, e: Expr) -> bool:
        sa, sb = (self.shape(a) for a in e.args)
        return S.is_scalar(sa) or S.is_scalar(sb) or S.same(sa, sb)

    def _cancel(self, factors: list[Expr], shape: tuple) -> list[Expr]:
        factors = list(factors)
        for p in [f for f in factors if self.is_log_derivative(_plain(f))]:
            partner = next((q for q in factors if q is not p and (p.op == "T") == (q.op == "T")
                            and self._same_value(_plain(p).args[0], _plain(q))), None)
            if partner is None or p not in factors:
                continue
            factors.remove(p)
            factors.remove(partner)
            self.cancelled += 1
        if all(S.is_scalar(self.shape(f)) for f in factors) and not S.is_scalar(shape):
            factors.append(Expr("ones", (), tuple(shape)))  # log'(u) ⊙ u is a tensor of ones
        return factors or [num(1)]

    def _same_value(self, u: Expr, q: Expr) -> bool:
        u, q = _one_minus(u), _one_minus(q)
        if u == q:
            return True
        if u.op == "var" and self.forward.get(u.attr) == q:
            return True
        return q.op == "var" and self.forward.get(q.attr) == u

    def _product(self, factors: list[Expr]) -> Expr:
        out = factors[0]
        for f in factors[1:]:
            scalar = S.is_scalar(self.shape(out)) or S.is_scalar(self.shape(f))
            out = node("mul" if scalar else "hadamard", out, f)
        return out


def _transposed(f: Expr) -> Expr:
    return f.args[0] if f.op == "T" else node("T", f)


def _plain(f: Expr) -> Expr:
    """A factor without its transpose (factors are compared transposed alike)."""
    return f.args[0] if f.op == "T" else f


def _one_minus(e: Expr) -> Expr:
    """``ones(...) - x`` and ``1 - x`` alike: an elementwise factor's value, whatever broadcasts."""
    if e.op == "sub" and e.args[0].op == "ones":
        return node("sub", num(1), e.args[1])
    return e
