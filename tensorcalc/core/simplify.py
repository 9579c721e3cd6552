"""Contraction -> matrix form: a separate rewriting pass over resolved expressions.

``simplify(expr, shape)`` rewrites bottom-up with the rule table ``RULES`` until no rule
fires. Every rule is an identity of values (tests compare both sides numerically) and
reads as one line of a matrix-calculus cheat sheet:

  rule                 before                      after
  scalar_factors       (1/2 ⊙ 1)(2 norm r)(r/norm r)  r        (numbers and scalar powers collected)
  transpose_*          (Aᵀ)ᵀ, (A B)ᵀ, (u ⊙ v)ᵀ, (-A)ᵀ  A, Bᵀ Aᵀ, uᵀ ⊙ vᵀ, -Aᵀ  (pushed down; (A + B)ᵀ stays)
  transpose_symmetric  diag(v)ᵀ, Iᵀ, cᵀ             diag(v), I, c
  identity_factor      I A, A I                     A
  trace_identity       trace(I(n))                  n            (sizes stay names: 1/N, not 1/5)
  diag_of_transpose    diag(vᵀ)                     diag(v)
  diag_column          diag(v) w      (w a column)  v ⊙ w
  row_hadamard_diag    uᵀ ⊙ vᵀ        (rows)        uᵀ diag(v)
  row_otimes_*         uᵀ (Y ⊗ x), uᵀ (x ⊗ Y)       x uᵀ Yᵀ, (uᵀ x) Yᵀ
  otimes_column_*      (Y ⊗ x) w, (x ⊗ Y) w         (Yᵀ w) xᵀ, x wᵀ Y
  matrix_otimes_*      A (Y ⊗ x), A (x ⊗ Y)         (Y Aᵀ) ⊗ x, (A x) ⊗ Y
  otimes_matrix_*      (Y ⊗ x) B, (x ⊗ Y) B         (Bᵀ Y) ⊗ x, x ⊗ (Bᵀ Y)

⊗ follows seed 001 §1: (x ⊗ Y)[i,j,k] = x_i Y[k,j], (Y ⊗ x)[i,j,k] = x_j Y[k,i]; a row
vector times a 3-tensor contracts its first axis. So a chain of Jacobians that ends in a
structured 3-tensor collapses to a matrix once a row (a gradient) meets it.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable

from . import shapes as S
from .expr import Expr, node, num
from .notation import INFIX, grouped

ShapeFn = Callable[[Expr], tuple]
MAX_REWRITES = 10_000


def simplify(expr: Expr, shape: ShapeFn, trace: list[str] | None = None) -> Expr:
    """Rewrite ``expr`` with ``RULES`` to a fixpoint; ``trace`` collects the names of fired rules (tests read it)."""
    memo: dict[Expr, Expr] = {}
    budget = [MAX_REWRITES]

    def visit(e: Expr) -> Expr:
        if e in memo:
            return memo[e]
        current = e if not e.args else Expr(e.op, tuple(visit(a) for a in e.args), e.attr, e.pos)
        for name, op, rule in RULES:
            if op != current.op or budget[0] <= 0:
                continue
            rewritten = rule(current, shape)
            if rewritten is not None and rewritten != current:
                budget[0] -= 1
                if trace is not None:
                    trace.append(name)
                current = visit(rewritten)
                break
        memo[e] = current
        return current

    return visit(expr)


# --- helpers -----------------------------------------------------------------------


def _is_row(s: tuple) -> bool:
    return len(s) == 2 and s[0] == 1 and s[1] != 1


def _is_column(s: tuple) -> bool:
    return len(s) == 2 and s[1] == 1 and s[0] != 1


def _is_matrix(s: tuple) -> bool:
    return len(s) == 2 and s[0] != 1 and s[1] != 1


def _t(e: Expr) -> Expr:
    return node("T", e)


def _mm(*factors: Expr) -> Expr:
    out = factors[0]
    for f in factors[1:]:
        out = node("matmul", out, f)
    return out


def _column(x: Expr, shape: ShapeFn) -> Expr:
    return _t(x) if _is_row(shape(x)) else x


def _otimes_parts(e: Expr, shape: ShapeFn):
    """For an unsqueezed 3-tensor ``x ⊗ Y`` / ``Y ⊗ x``: (kind, x, Y) with kind 'xY' or 'Yx'."""
    if e.op != "otimes" or len(shape(e)) != 3:
        return None
    a, b = e.args
    sa, sb = shape(a), shape(b)
    if S.is_vector(sa) and len(sb) == 2:
        return "xY", a, b
    if S.is_vector(sb) and len(sa) == 2:
        return "Yx", b, a
    return None


# --- scalar factors ---------------------------------------------------------------


class _Monomial:
    """coefficient × Π scalar^power × (at most one non-scalar core)."""

    def __init__(self, coef=Fraction(1), powers=None, core=None):
        self.coef = Fraction(coef)
        self.powers: dict[Expr, int] = dict(powers or {})
        self.core = core

    def times(self, other: "_Monomial") -> "_Monomial | None":
        if self.core is not None and other.core is not None:
            return None
        out = _Monomial(self.coef * other.coef, self.powers, self.core if self.core is not None else other.core)
        for k, p in other.powers.items():
            out.powers[k] = out.powers.get(k, 0) + p
        return out

    def inverse(self) -> "_Monomial | None":
        if self.core is not None or self.coef == 0:
            return None
        return _Monomial(1 / self.coef, {k: -p for k, p in self.powers.items()})

    def power(self, k: int) -> "_Monomial | None":
        if self.core is not None or (self.coef == 0 and k < 0):
            return None
        return _Monomial(self.coef**k, {b: p * k for b, p in self.powers.items()})


def _monomial(e: Expr, shape: ShapeFn) -> _Monomial:
    if e.op == "num":
        return _Monomial(e.attr)
    scalar = S.is_scalar(shape(e))
    if e.op == "neg":
        inner = _monomial(e.args[0], shape)
        return _Monomial(-inner.coef, inner.powers, inner.core)
    if e.op in ("mul", "hadamard", "matmul"):
        a, b = e.args
        if S.is_scalar(shape(a)) or S.is_scalar(shape(b)):
            product = _monomial(a, shape).times(_monomial(b, shape))
            if product is not None:
                return product
    if e.op == "div" and S.is_scalar(shape(e.args[1])):
        inverse = _monomial(e.args[1], shape).inverse()
        if inverse is not None:
            product = _monomial(e.args[0], shape).times(inverse)
            if product is not None:
                return product
    if e.op == "pow" and scalar and e.args[1].attr.denominator == 1:
        raised = _monomial(e.args[0], shape).power(int(e.args[1].attr))
        if raised is not None:
            return raised
    if scalar:
        return _Monomial(1, {e: 1})
    return _Monomial(1, {}, e)


def _rebuild(m: _Monomial) -> Expr:
    powers = sorted(m.powers.items(), key=lambda kv: _factor_order(kv[0]))
    sizes = [(b, p) for b, p in powers if b.op == "size"]
    ups = [(b, p) for b, p in powers if p > 0 and b.op != "size"]
    downs = [(b, -p) for b, p in powers if p < 0 and b.op != "size"]
    factors = [_raised(b, p) for b, p in ups]
    if m.core is not None:
        factors.append(m.core)
    coef = m.coef
    if sizes:  # 1/N, 2/(h N): one leading coefficient, the sizes by name
        constant = _size_coefficient(abs(coef), sizes)
        factors = [constant, *factors] if factors and constant != num(1) else factors or [constant]
        coef = Fraction(-1 if coef < 0 else 1)
    if not factors:
        out = num(coef)
    else:
        out = factors[0]
        for f in factors[1:]:  # juxtaposed, scalars first: lam W, (p - y) x
            out = node("matmul", out, f)
        if coef == -1:
            out = node("neg", out)
        elif coef != 1:
            out = node("mul", num(coef), out)
    for b, p in downs:
        out = node("div", out, _raised(b, p))
    return out


def _raised(b: Expr, p: int) -> Expr:
    return b if p == 1 else node("pow", b, num(p))


def _size_coefficient(coef: Fraction, sizes: list[tuple[Expr, int]]) -> Expr:
    """``coef`` × Π size^power as one constant: numbers and sizes over numbers and sizes."""

    def product(parts: list[Expr]) -> Expr | None:
        out = None
        for f in parts:
            out = f if out is None else node("matmul", out, f)
        return out

    top = ([num(coef.numerator)] if coef.numerator != 1 else []) + [_raised(b, p) for b, p in sizes if p > 0]
    bottom = ([num(coef.denominator)] if coef.denominator != 1 else []) + [_raised(b, -p) for b, p in sizes if p < 0]
    numerator = product(top) or num(1)
    return numerator if not bottom else node("div", numerator, product(bottom))


def scalar_factors(e: Expr, shape: ShapeFn) -> Expr | None:
    m = _monomial(e, shape)
    if m.coef == 0:
        return None
    return _rebuild(m)


# --- transposes -------------------------------------------------------------------


def transpose_transpose(e, shape):
    inner = e.args[0]
    return inner.args[0] if inner.op == "T" else None


def transpose_product(e, shape):
    inner = e.args[0]
    if inner.op != "matmul":
        return None
    a, b = inner.args
    sa, sb = shape(a), shape(b)
    if len(sa) > 2 or len(sb) > 2:
        return None
    if S.is_scalar(sa) or S.is_scalar(sb):
        return node("mul", a, _t(b)) if S.is_scalar(sa) else node("mul", _t(a), b)
    return _mm(_t(b), _t(a))


def transpose_elementwise(e, shape):
    inner = e.args[0]
    if inner.op in ("hadamard", "mul") and all(len(shape(a)) <= 2 for a in inner.args):
        return node(inner.op, *(a if not shape(a) else _t(a) for a in inner.args))
    if inner.op == "neg":
        return node("neg", _t(inner.args[0]))
    if inner.op == "div" and S.is_scalar(shape(inner.args[1])):
        return node("div", _t(inner.args[0]), inner.args[1])
    return None


def transpose_symmetric(e, shape):
    inner = e.args[0]
    if inner.op in ("num", "eye") or not shape(inner):
        return inner
    if inner.op == "diag" and S.is_vector(shape(inner.args[0])):
        return inner
    if inner.op in ("ones", "zeros") and len(inner.attr) == 2:
        return Expr(inner.op, (), tuple(reversed(inner.attr)))
    return None


# --- identities, diag, hadamard ----------------------------------------------------


def trace_identity(e, shape):
    """trace(I(n)) = n, the size by name."""
    inner = e.args[0]
    return Expr("size", (), inner.attr) if inner.op == "eye" else None


def identity_factor(e, shape):
    a, b = e.args
    if a.op == "eye" and not S.is_scalar(shape(b)):
        return b
    if b.op == "eye" and not S.is_scalar(shape(a)):
        return a
    return None


def diag_of_transpose(e, shape):
    inner = e.args[0]
    if inner.op == "T" and S.is_vector(shape(inner)):
        return node("diag", inner.args[0])
    return None


def diag_column(e, shape):
    a, b = e.args
    if a.op == "diag" and S.is_vector(shape(a.args[0])) and _is_column(shape(b)):
        return node("hadamard", _column(a.args[0], shape), b)
    return None


def _diag_preference(e: Expr) -> int:
    """How naturally a factor reads inside diag(·): an elementwise function first."""
    core = e.args[0] if e.op == "T" else e
    return {"apply": 2, "var": 1}.get(core.op, 0)


def row_hadamard_diag(e, shape):
    a, b = e.args
    if not (_is_row(shape(a)) and _is_row(shape(b))):
        return None
    if _diag_preference(a) > _diag_preference(b):
        a, b = b, a
    return _mm(a, node("diag", b))


# --- structured 3-tensors (⊗) -------------------------------------------------------


def otimes_contraction(e, shape):
    """A row, column or matrix contracted with ``x ⊗ Y`` / ``Y ⊗ x`` (see the module table)."""
    a, b = e.args
    right = _otimes_parts(b, shape)
    if right is not None:
        kind, x, Y = right
        sa = shape(a)
        x = _column(x, shape)
        if _is_row(sa):
            return _mm(x, a, _t(Y)) if kind == "Yx" else node("mul", _mm(a, x), _t(Y))
        if _is_matrix(sa):
            return node("otimes", _mm(Y, _t(a)), x) if kind == "Yx" else node("otimes", _mm(a, x), Y)
    left = _otimes_parts(a, shape)
    if left is not None:
        kind, x, Y = left
        sb = shape(b)
        x = _column(x, shape)
        if _is_column(sb):
            return _mm(_t(Y), b, _t(x)) if kind == "Yx" else _mm(x, _t(b), Y)
        if _is_matrix(sb):
            return node("otimes", _mm(_t(b), Y), x) if kind == "Yx" else node("otimes", x, _mm(_t(b), Y))
    return None


# (name, operator it applies to, rule): the first that fires wins, then the result is revisited.
RULES: list[tuple[str, str, Callable]] = [
    ("transpose_transpose", "T", transpose_transpose),
    ("transpose_symmetric", "T", transpose_symmetric),
    ("transpose_product", "T", transpose_product),
    ("transpose_elementwise", "T", transpose_elementwise),
    ("diag_of_transpose", "diag", diag_of_transpose),
    ("trace_identity", "trace", trace_identity),
    ("identity_factor", "matmul", identity_factor),
    ("otimes_contraction", "matmul", otimes_contraction),
    ("diag_column", "matmul", diag_column),
    ("row_hadamard_diag", "hadamard", row_hadamard_diag),
    ("scalar_factors", "mul", scalar_factors),
    ("scalar_factors", "hadamard", scalar_factors),
    ("scalar_factors", "matmul", scalar_factors),
    ("scalar_factors", "div", scalar_factors),
    ("scalar_factors", "neg", scalar_factors),
    ("scalar_factors", "pow", scalar_factors),
]


def contains_3tensor(expr: Expr, shape: ShapeFn) -> bool:
    """Does any subexpression have more than two axes?"""
    stack = [expr]
    while stack:
        e = stack.pop()
        if len(shape(e)) > 2:
            return True
        stack.extend(e.args)
    return False


def _factor_order(e: Expr) -> str:
    """Factors of a product are printed in the order of their grouped text, a compound factor
    (in parentheses) before a name: ``2 (a - y) x``, not ``2 x (a - y)``."""
    text = grouped(e)
    return f"({text})" if e.op in INFIX or e.op == "neg" else text
