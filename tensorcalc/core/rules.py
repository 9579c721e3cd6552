"""The derivative rule table: one primitive, one entry.

Each entry maps (node, G) to the cotangent of every argument, where G is the
cotangent of the node (an expression with the node's shape). Cotangents have the
shape of the argument (denominator layout); ``layouts.py`` arranges the result.
A rule returns ``None`` for an argument that is not differentiated (an exponent).

  node            cotangents of the arguments
  a + b           G, G
  a - b           G, -G
  -a              -G
  a ⊙ b, a * b    G ⊙ b, G ⊙ a
  a / b           G / b, -G ⊙ a / b²
  A B             G Bᵀ, Aᵀ G                (scalar factor: sum(G ⊙ B), a G)
  Aᵀ              Gᵀ
  f(x)            G ⊙ f'(x)
  x^k, X.^k       G ⊙ k x^(k-1)         (norm(X)^2k: k norm(X)^(2k-2) G X, no division by the norm)
  diag(v)         diag(G) (the diagonal, shaped like v)
  sum(X)          G 1 1ᵀ
  norm(X)         G X / norm(X)
  trace(X)        G I
  inv(X)          -X⁻ᵀ G X⁻ᵀ
  X^k (matrix)    Σ_{i<k} (Xᵀ)^i G (Xᵀ)^(k-1-i)
  det(X)          G det(X) X⁻ᵀ
  logdet(X)       G X⁻ᵀ                     (log |det X|)
  max(X)          G argmax(X)               (the indicator of the largest entry)
  kron(A, B)      (I ⊗ 1ᵀ)(G ⊙ (1 1ᵀ ⊗ B))(I ⊗ 1), (1ᵀ ⊗ I)(G ⊙ (A ⊗ 1 1ᵀ))(1 ⊗ I)  (sums of G's blocks)
  vec(X)          (vec(I)ᵀ ⊗ I)(I ⊗ G) (the columns of G put back side by side)
  sum(X, 1)       1 G                       (G a row; sum(X, 2): G 1ᵀ)
  mean(X), mean(X, k)   the sum's cotangent / the number of terms (sum(1) over the same terms)
  softmax(z)      a ⊙ (G - 1 1ᵀ (G ⊙ a)),  a = softmax(z), column-wise
  [a; b], [a | b] the matching rows / columns of G
"""
from __future__ import annotations

from ..errors import TensorcalcError
from . import shapes as S
from .expr import ELEMENTWISE_POWER, Expr, node, num


def _neg(g):
    return node("neg", g)


def _had(a, b):
    if a.op == "num" and a.attr == 1:
        return b
    if b.op == "num" and b.attr == 1:
        return a
    return node("hadamard", a, b)


def _mm(a, b):
    return node("matmul", a, b)


def _t(a):
    return node("T", a)


def _add(e, g, shape):
    return [g, g]


def _sub(e, g, shape):
    return [g, _neg(g)]


def _negate(e, g, shape):
    return [_neg(g)]


def _hadamard(e, g, shape):
    a, b = e.args
    return [_had(g, b), _had(g, a)]


def _div(e, g, shape):
    a, b = e.args
    square = node("pow", b, num(2), attr=None if S.is_scalar(shape(b)) else ELEMENTWISE_POWER)
    return [node("div", g, b), _neg(node("div", _had(g, a), square))]


def _matmul(e, g, shape):
    a, b = e.args
    sa, sb = shape(a), shape(b)
    if max(len(sa), len(sb), len(shape(e))) > 2:
        raise TensorcalcError("cannot differentiate through a product of 3-tensors", e.pos)
    if S.is_scalar(sa) and not (len(sa) == 2 and len(sb) == 2 and sa[-1] == sb[0]):
        return [node("sum", _had(g, b)), _had(a, g)]
    if S.is_scalar(sb) and not (len(sa) == 2 and len(sb) == 2 and sa[-1] == sb[0]):
        return [_had(g, b), node("sum", _had(g, a))]
    return [_mm(g, _t(b)), _mm(_t(a), g)]


def _transpose(e, g, shape):
    return [_t(g)]


def _apply(e, g, shape):
    (x,) = e.args
    name, order = e.attr
    return [_had(g, Expr("apply", (x,), (name, order + 1)))]


def _pow(e, g, shape):
    x, k = e.args
    if x.op == "norm":
        # norm(X)^2k is differentiable at X = 0 though norm(X) is not: the cotangent of the
        # norm is given as (H * norm(X)) and _norm cancels the norm it would divide by; for any
        # other k, H = k norm(X)^(k-2) is one power of the sum of squares, as the value is
        power = num(k.attr - 2)
        h = node("mul", num(k.attr), node("pow", x, power)) if k.attr != 2 else num(2)
        return [node("mul", _had(g, h), x), None]
    if k.attr == 2:
        return [_had(g, node("mul", num(2), x)), None]
    return [_had(g, node("mul", k, node("pow", x, num(k.attr - 1), attr=e.attr))), None]


def _inv_t(x):
    return _t(node("inv", x))


def _inverse(e, g, shape):
    (x,) = e.args
    return [_neg(_mm(_mm(_inv_t(x), g), _inv_t(x)))]


def _power_of(x, i):
    return x if i == 1 else node("mpow", x, num(i))


def _matrix_power(e, g, shape):
    x, k = e.args
    k = int(k.attr)
    terms = []
    for i in range(k):
        term = g
        if i:
            term = _mm(_t(_power_of(x, i)), term)
        if k - 1 - i:
            term = _mm(term, _t(_power_of(x, k - 1 - i)))
        terms.append(term)
    total = terms[0]
    for term in terms[1:]:
        total = node("add", total, term)
    return [total, None]


def _det(e, g, shape):
    (x,) = e.args
    return [node("mul", node("mul", g, e), _inv_t(x))]


def _ones_column(n):
    return Expr("ones", (), (n, S.ONE))


def _sum_axis(e, g, shape):
    (x,) = e.args
    m, n = shape(x)
    return [_mm(_ones_column(m), g) if e.attr == 1 else _mm(g, _t(_ones_column(n)))]


def _mean(e, g, shape):
    (x,) = e.args
    if e.attr is None:
        ones = Expr("ones", (), tuple(shape(x)))
        return [node("mul", g, node("div", ones, node("sum", ones)))]
    (spread,) = _sum_axis(e, g, shape)
    count = _ones_column(shape(x)[e.attr - 1])
    return [node("div", spread, node("sum", count))]


def _max(e, g, shape):
    (x,) = e.args
    return [node("mul", g, Expr("argmax", (x,)))]


def _kron(e, g, shape):
    """A m×n, B p×q, G mp×nq in blocks G_ij (p×q): dA_ij = sum(G_ij ⊙ B), dB = Σ_ij A_ij G_ij.
    Written with readable operators (so a derived formula parses back): weight every block,
    then sum the blocks with Kronecker products of identities and ones."""
    a, b = e.args
    (m, n), (p, q) = shape(a), shape(b)
    blocks_a = _mm(_mm(_kron_of(_eye(m), _t(_ones_column(p))), _had(g, _kron_of(Expr("ones", (), (m, n)), b))),
                   _kron_of(_eye(n), _ones_column(q)))
    blocks_b = _mm(_mm(_kron_of(_t(_ones_column(m)), _eye(p)), _had(g, _kron_of(a, Expr("ones", (), (p, q))))),
                   _kron_of(_ones_column(n), _eye(q)))
    return [blocks_a, blocks_b]


def _vec(e, g, shape):
    """X m×n, G mn×1: X's cotangent is G's columns of length m side by side,
    (vec(I_n)ᵀ ⊗ I_m)(I_n ⊗ G) (Magnus & Neudecker)."""
    (x,) = e.args
    m, n = shape(x)
    return [_mm(_kron_of(_t(Expr("vec", (_eye(n),))), _eye(m)), _kron_of(_eye(n), g))]


def _kron_of(a, b):
    return Expr("kron", (a, b))


def _eye(n):
    return Expr("eye", (), n)


def _logdet(e, g, shape):
    (x,) = e.args
    return [node("mul", g, _inv_t(x))]


def _diag(e, g, shape):
    (v,) = e.args
    sv = shape(v)
    if S.is_vector(sv) and not S.is_scalar(sv):
        part = node("diag", g)  # the diagonal of G as a column
        return [_t(part) if sv[0] == 1 else part]
    return [node("diag", g)]


def _sum(e, g, shape):
    (x,) = e.args
    return [node("mul", g, Expr("ones", (), tuple(shape(x))))]


def _norm(e, g, shape):
    (x,) = e.args
    if g.op == "mul" and g.args[1] is e:  # (H norm(X)) X / norm(X) = H X, defined at X = 0 too
        return [node("mul", g.args[0], x)]
    return [node("mul", g, node("div", x, e))]


def _trace(e, g, shape):
    (x,) = e.args
    return [node("mul", g, Expr("eye", (), shape(x)[0]))]


def _softmax(e, g, shape):
    (z,) = e.args
    n = shape(z)[0]
    column_sums = _mm(Expr("ones", (), (n, n)), _had(g, e))
    return [_had(e, node("sub", g, column_sums))]


def _stack(axis):
    def rule(e, g, shape):
        cotangents, start = [], 0
        for part in e.args:
            s = shape(part)
            size = s[axis] if len(s) == 2 else S.ONE
            cotangents.append(Expr("slice", (g,), (axis, start, start + size)))
            start = start + size
        return cotangents

    return rule


VJP = {
    "add": _add,
    "sub": _sub,
    "neg": _negate,
    "hadamard": _hadamard,
    "mul": _hadamard,
    "div": _div,
    "matmul": _matmul,
    "T": _transpose,
    "apply": _apply,
    "pow": _pow,
    "diag": _diag,
    "sum": _sum,
    "norm": _norm,
    "trace": _trace,
    "inv": _inverse,
    "mpow": _matrix_power,
    "det": _det,
    "logdet": _logdet,
    "sum_axis": _sum_axis,
    "kron": _kron,
    "max": _max,
    "argmax": lambda e, g, shape: [Expr("zeros", (), tuple(shape(e.args[0])))],
    "vec": _vec,
    "mean": _mean,
    "softmax": _softmax,
    "vstack": _stack(0),
    "hstack": _stack(1),
}
