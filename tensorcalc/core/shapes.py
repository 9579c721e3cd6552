"""Static shapes: tuples of sympy dimension expressions, one rule per operator.

A column vector is (n, 1), a row vector (1, n), a scalar (); the literal 1 marks a
vector axis. Contraction products drop leading or middle axes of size 1 while a
result has more than two axes (seed 001 §1 item 4: 1×m×n = m×n).
"""
from __future__ import annotations

import sympy

from ..errors import ShapeError
from .expr import Expr
from .notation import plain

ONE = sympy.Integer(1)
Shape = tuple


def fmt(shape: Shape) -> str:
    if not shape:
        return "scalar"
    return "×".join(str(d) for d in shape)


def is_scalar(shape: Shape) -> bool:
    return all(d == 1 for d in shape)


def is_vector(shape: Shape) -> bool:
    return len(shape) == 2 and (shape[0] == 1 or shape[1] == 1)


def vector_length(shape: Shape):
    return shape[1] if shape[0] == 1 else shape[0]


def squeeze(shape: Shape) -> Shape:
    """Drop size-1 axes (first ones first) while the shape has more than two axes."""
    shape = tuple(shape)
    while len(shape) > 2 and any(d == 1 for d in shape):
        i = next(i for i, d in enumerate(shape) if d == 1)
        shape = shape[:i] + shape[i + 1 :]
    return shape


def same(a: Shape, b: Shape) -> bool:
    if is_scalar(a) and is_scalar(b):
        return True
    return len(a) == len(b) and all(sympy.expand(x - y) == 0 for x, y in zip(a, b))


def _err(expr: Expr, message: str) -> ShapeError:
    return ShapeError(message, expr.pos)


def _describe(expr: Expr, shape: Shape) -> str:
    return f"{plain(expr)} is {fmt(shape)}"


def broadcast(expr: Expr, a: Shape, b: Shape, what: str) -> Shape:
    if same(a, b):
        return a if len(a) >= len(b) else b
    return _scalar_factor(expr, a, b, f"{what} needs equal shapes")


def spread(a: Shape, b: Shape) -> bool:
    """Is ``b`` a 1×n row or an m×1 column that ``X W + b^T`` adds to every row / column of
    the m×n matrix ``a``? (Both axes of ``a`` larger than 1: a column plus a row is refused.)"""
    if len(a) != 2 or len(b) != 2 or is_vector(a) or not is_vector(b) or is_scalar(b):
        return False
    if b[0] == 1:
        return same((b[1],), (a[1],))
    return same((b[0],), (a[0],))


def add_like(expr: Expr, a: Shape, b: Shape, what: str) -> Shape:
    """+ and -: equal shapes, a scalar, or a row (column) vector added to every row (column) of a matrix."""
    if not same(a, b) and spread(a, b):
        return a
    if not same(a, b) and spread(b, a):
        return b
    return broadcast(expr, a, b, what)


def contract(expr: Expr, a: Shape, b: Shape) -> Shape:
    """Shape of the contraction product: last axis of a against first axis of b."""
    if not a or not b:
        return b if not a else a
    if sympy.expand(a[-1] - b[0]) == 0:
        return squeeze(a[:-1] + b[1:])
    return _scalar_factor(expr, a, b, "cannot multiply")


def _scalar_factor(expr: Expr, a: Shape, b: Shape, problem: str) -> Shape:
    """A scalar operand takes the other's shape; otherwise ``problem``, naming both operands."""
    if is_scalar(a):
        return b
    if is_scalar(b):
        return a
    left, right = expr.args
    raise _err(expr, f"{problem}: {_describe(left, a)}, {_describe(right, b)}")


def otimes(expr: Expr, a: Shape, b: Shape) -> Shape:
    """x ⊗ Y is p×m×n for x in R^p, Y in R^{n×m}; Y ⊗ x is m×p×n (seed 001 §1 items 6-7)."""
    if is_vector(a) and len(b) == 2:
        return squeeze((vector_length(a), b[1], b[0]))
    if is_vector(b) and len(a) == 2:
        return squeeze((a[1], vector_length(b), a[0]))
    left, right = expr.args
    raise _err(expr, f"⊗ needs a vector and a matrix: {_describe(left, a)}, {_describe(right, b)}")


def transpose(expr: Expr, a: Shape) -> Shape:
    if len(a) > 2:
        raise _err(expr, f"transpose of a {len(a)}-tensor is not defined ({_describe(expr.args[0], a)})")
    return tuple(reversed(a))


def diag(expr: Expr, a: Shape) -> Shape:
    if is_vector(a):
        n = vector_length(a)
        return (n, n)
    if len(a) == 2 and same((a[0],), (a[1],)):
        return (a[0], ONE)
    raise _err(expr, f"diag needs a vector or a square matrix: {_describe(expr.args[0], a)}")


def square(expr: Expr, a: Shape) -> Shape:
    """trace, det, logdet: a square matrix in, a scalar out."""
    if len(a) == 2 and same((a[0],), (a[1],)):
        return ()
    raise _err(expr, f"{expr.op} needs a square matrix: {_describe(expr.args[0], a)}")


def square_matrix(expr: Expr, a: Shape, *exponent: Shape) -> Shape:
    """inv(X), X^k: a square matrix in, one of the same shape out."""
    if len(a) == 2 and same((a[0],), (a[1],)):
        return a
    word = "inverse" if expr.op == "inv" else "matrix power"
    raise _err(expr, f"the {word} needs a square matrix: {_describe(expr.args[0], a)}")


def stack(expr: Expr, shapes: list[Shape], axis: int) -> Shape:
    """[a; b] stacks rows (axis 0), [a | b] stacks columns (axis 1); a scalar is 1×1."""
    shapes = [s if len(s) == 2 else (ONE, ONE) for s in shapes]
    other = 1 - axis
    for part, s in zip(expr.args[1:], shapes[1:]):
        if not same((s[other],), (shapes[0][other],)):
            word = "columns" if axis == 0 else "rows"
            raise _err(part, f"cannot stack: {_describe(expr.args[0], shapes[0])}, {_describe(part, s)} (different {word})")
    total = sympy.Add(*[s[axis] for s in shapes])
    return (total, shapes[0][1]) if axis == 0 else (shapes[0][0], total)


def elementwise(expr: Expr, a: Shape) -> Shape:
    return a


def scalar(expr: Expr, a: Shape) -> Shape:
    return ()


def axis_reduction(expr: Expr, a: Shape) -> Shape:
    """sum(X, 1) of an m×n X is 1×n (down the rows); sum(X, 2) is m×1 (along each row); mean(X) is a scalar."""
    if expr.attr is None:
        return ()
    if len(a) != 2:
        raise _err(expr, f"{expr.op.split('_')[0]}(X, {expr.attr}) needs a vector or a matrix: {_describe(expr.args[0], a)}")
    return (ONE, a[1]) if expr.attr == 1 else (a[0], ONE)


def kron(expr: Expr, a: Shape, b: Shape) -> Shape:
    """kron(A, B) of an m×n A and a p×q B is mp×nq (vectors are n×1 matrices)."""
    if len(a) != 2 or len(b) != 2:
        left, right = expr.args
        raise _err(expr, f"kron needs two matrices: {_describe(left, a)}, {_describe(right, b)}")
    return (a[0] * b[0], a[1] * b[1])


def vec(expr: Expr, a: Shape) -> Shape:
    """vec(X) stacks the columns of an m×n X: mn×1."""
    if len(a) != 2:
        raise _err(expr, f"vec needs a matrix: {_describe(expr.args[0], a)}")
    return (a[0] * a[1], ONE)


def softmax(expr: Expr, a: Shape) -> Shape:
    if len(a) != 2:
        raise _err(expr, f"softmax needs a vector or a matrix of columns: {_describe(expr.args[0], a)}")
    if a[0] == 1 and a[1] != 1:  # column-wise, a row would give ones: never what a note means by it
        raise _err(expr, f"softmax is taken down each column, so of a row it is all ones: {_describe(expr.args[0], a)}; "
                         "for the softmax of a row use softmax_rows")
    return a


def power(expr: Expr, a: Shape, b: Shape) -> Shape:
    if not is_scalar(b):
        raise _err(expr, f"exponent must be a scalar: {_describe(expr.args[1], b)}")
    return a


# op -> rule(expr, *argument shapes) -> shape. Leaves (var, num, eye, ones, deriv, entry)
# are handled by the model, which knows declarations and layouts.
RULES = {
    "add": lambda e, a, b: add_like(e, a, b, "+"),
    "sub": lambda e, a, b: add_like(e, a, b, "-"),
    "hadamard": lambda e, a, b: broadcast(e, a, b, "⊙"),
    "mul": lambda e, a, b: broadcast(e, a, b, "*"),
    "div": lambda e, a, b: broadcast(e, a, b, "/"),
    "neg": elementwise,
    "apply": elementwise,
    "matmul": contract,
    "otimes": otimes,
    "T": transpose,
    "diag": diag,
    "sum": scalar,
    "norm": scalar,
    "trace": square,
    "det": square,
    "logdet": square,
    "inv": square_matrix,
    "mpow": square_matrix,
    "softmax": softmax,
    "sum_axis": axis_reduction,
    "kron": kron,
    "max": scalar,
    "argmax": elementwise,
    "vec": vec,
    "mean": axis_reduction,
    "pow": power,
    "isum": scalar,
}
