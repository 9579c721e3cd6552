"""Raw trees -> resolved expressions, and the shape of any resolved expression.

Resolution binds names: ``W[l]`` -> ``var W[2]``, ``sigma'(z)`` -> ``apply (sigma, 1)``,
``log A`` -> ``apply (log, 0)``, ``I(h)`` -> ``eye``, ``d C / d z[l]`` -> ``deriv``,
``y[i]`` -> ``entry``; numbers are folded (``1/2`` is one constant).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from ..errors import TensorcalcError
from . import shapes as S
from .expr import ELEMENTWISE_POWER, GLUED_CALL, ONE_NORM, TWO_NORM, Expr, num, product_factors, size, walk
from .notation import plain
from .layouts import arranged_shape
from .limits import Expansion, check_entries, loop_values
from ..suggest import did_you_mean
from .names import AXIS_REDUCTIONS, CONSTRUCTORS, PAIRWISE, REDUCTIONS, STRUCTURAL, builtin_names, split_name

if TYPE_CHECKING:
    from .model import Model

_FOLD = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "matmul": lambda a, b: a * b,
    "hadamard": lambda a, b: a * b,
    "div": lambda a, b: a / b if b else None,
}


class Resolver:
    def __init__(self, model: Model, scope: dict, free_indices: bool = False, budget: Expansion | None = None):
        self.model = model
        self.scope = scope
        self.free_indices = free_indices
        self.budget = budget or Expansion()  # shared with the resolvers of unrolled terms and helpers

    def resolve(self, raw: Expr) -> Expr:
        self.budget.spend(raw.pos)
        method = getattr(self, "_" + raw.op, None)
        if method is not None:
            return method(raw)
        args = tuple(self.value(a) for a in raw.args)
        if len(args) == 2 and raw.op in _FOLD and all(a.op == "num" for a in args):
            folded = _FOLD[raw.op](args[0].attr, args[1].attr)
            if folded is not None:
                return num(folded, pos=raw.pos)
        return Expr(raw.op, args, raw.attr, raw.pos)

    def value(self, raw: Expr) -> Expr:
        """Resolve, refusing a bare function name where a value is needed."""
        expr = self.resolve(raw)
        if expr.op == "fn":
            raise TensorcalcError(f"function {expr.attr[0]!r} needs an argument", raw.pos)
        return expr

    # --- leaves
    def _num(self, raw):
        return raw

    def _name(self, raw: Expr) -> Expr:
        model = self.model
        base, groups, primes = split_name(raw.attr, raw.pos)
        if base in model.functions and not groups:
            return Expr("fn", (), (base, primes), raw.pos)
        if primes:
            raise TensorcalcError(f"{raw.attr!r}: a prime marks the derivative of a function; {base!r} is not one (use ^T to transpose)", raw.pos)
        key = base
        if base not in model.prepared.families and groups and len(groups) == 1 and len(groups[0]) == 1:
            sized = f"{base}[{_int_or_none(model, groups[0][0], self.scope)}]"
            if sized in model.sizes:  # a layer width used as a value: n[L]
                return self._size(sized, raw.pos)
        if base in model.prepared.families:
            if not groups or len(groups[0]) != 1:
                raise TensorcalcError(f"{base!r} is a layer family: write {base}[l]", raw.pos)
            key = f"{base}[{model.eval_int(groups[0][0], self.scope)}]"
            groups = groups[1:]
        expr = self._lookup(key, base, raw)
        if groups:
            if len(groups) > 1:
                raise TensorcalcError(f"{raw.attr!r}: write entry indices in one bracket, [i, j]", raw.pos)
            expr = Expr("entry", (expr,), tuple(self._index(i) for i in groups[0]), raw.pos)
        return expr

    def _lookup(self, key: str, base: str, raw: Expr) -> Expr:
        model = self.model
        if key in model.leaves or key in model.defs:
            return Expr("var", (), key, raw.pos)
        if base in model.prepared.helpers:
            hkey, hraw = model.prepared.helpers[base]
            scope = dict(self.scope)
            if hkey.param:
                scope[hkey.param] = int(key[len(base) + 1 : -1])
            return Resolver(model, scope, budget=self.budget).value(hraw)
        if key == base and base in model.sizes:  # a size used as a value: 1/m, 1/N
            return self._size(base, raw.pos)
        if key == base and base in self.scope:  # a layer index used as a number
            return num(self.scope[base], pos=raw.pos)
        if base in model.sizes or f"{base}[0]" in model.sizes:
            raise TensorcalcError(f"{base!r} is a dimension, not a value (write I({base}) or ones({base}))", raw.pos)
        if base in model.prepared.families or key != base:
            raise TensorcalcError(f"{key!r} does not exist at depth L={model.depth}", raw.pos)
        known = self._known_names()
        if base.startswith("d") and base[1:] in known:  # dloss/dW1: a derivative run together
            raise TensorcalcError(f"unknown name {base!r}: write a derivative with spaces, d {base[1:]} / d ...", raw.pos)
        if base in ("d", "∂"):  # d c^2 / d c: the differentiated expression needs parentheses
            raise TensorcalcError(f"unknown name {base!r}: to differentiate an expression put it in parentheses, "
                                  f"{base} (a^T x) / {base} x", raw.pos)
        raise TensorcalcError(f"unknown name {base!r}{did_you_mean(base, known)}", raw.pos)

    def _known_names(self) -> set[str]:
        """Names a misspelling may have meant: tensors, definitions, helpers, functions and built-ins."""
        model = self.model
        declared = (*model.leaves, *model.defs, *model.prepared.helpers, *model.functions.formulas)
        return {name.split("[")[0] for name in declared} | builtin_names()

    def _size(self, name: str, pos) -> Expr:
        """The dimension ``name`` (``N``, ``n[3]``) as a value: a symbol, never its number."""
        return size(self.model.dim(Expr("name", (), name, pos), {}), pos=pos)

    def _index(self, raw: Expr):
        try:
            return self.model.eval_int(raw, self.scope)
        except TensorcalcError:
            if raw.op == "name" and raw.attr.isidentifier():
                return raw.attr
            raise

    def _T(self, raw: Expr) -> Expr:
        """``X^T``; ``A(B)^T`` written without a space is A times (B)ᵀ, as in ``δ (a)^T``,
        while ``f(x)^T`` of a function or an operator transposes its value."""
        (arg,) = raw.args
        if raw.attr == GLUED_CALL and arg.op == "call" and len(arg.args) == 1 and self._is_product_call(arg.attr):
            head = self.value(Expr("name", (), arg.attr, arg.pos))
            return Expr("matmul", (head, Expr("T", (self.value(arg.args[0]),), None, raw.pos)), None, raw.pos)
        return Expr("T", (self.value(arg),), None, raw.pos)

    def _is_product_call(self, written: str) -> bool:
        """Is ``written(...)`` a product (a tensor or definition before a bracket), not a call?"""
        name = written.rstrip("'′")
        return not (name in self.model.functions or name in builtin_names() or name.startswith("sum_"))

    # --- calls
    def _call(self, raw: Expr) -> Expr:
        model = self.model
        name = raw.attr.rstrip("'′")
        primes = len(raw.attr) - len(name)
        raw_args = raw.args
        if name in CONSTRUCTORS:
            dims = tuple(model.dim(a, self.scope) for a in raw_args)
            if name in ("I", "eye"):
                if len(dims) != 1:
                    raise TensorcalcError("I(n) takes one size", raw.pos)
                return Expr("eye", (), dims[0], raw.pos)
            if len(dims) == 1:
                dims = (dims[0], S.ONE)
            return Expr(name, (), dims, raw.pos)
        if name.startswith("sum_") and len(raw_args) == 1:
            return Expr("isum", (self.value(raw_args[0]),), name[4:], raw.pos)
        args = tuple(self.value(a) for a in raw_args)
        if name in model.functions:
            if len(args) != 1:
                raise TensorcalcError(f"{name} takes one argument", raw.pos)
            return Expr("apply", args, (name, primes), raw.pos)
        if primes:
            raise TensorcalcError(f"{raw.attr!r}: {name!r} is not an elementwise function", raw.pos)
        if name == TWO_NORM and len(args) == 1:
            return _two_norm(self.model, args[0], raw.pos)
        if name == ONE_NORM and len(args) == 1:
            return _one_norm(self.model, args[0], raw.pos)
        if name in AXIS_REDUCTIONS and len(args) == 2:
            return _axis_reduction(name, args, raw)
        if name in STRUCTURAL:
            if len(args) != 1:
                raise TensorcalcError(f"{name} takes one argument", raw.pos)
            if name in COMPOSITE:
                return COMPOSITE[name](self.model, args[0], raw.pos)
            return Expr("T" if name == "transpose" else name, args, None, raw.pos)
        if name in PAIRWISE:
            if len(args) != 2:
                raise TensorcalcError(f"{name} takes two arguments", raw.pos)
            return Expr(name, args, None, raw.pos)
        # x(y + z): a product written without a space
        if len(args) == 1:
            head = self.value(Expr("name", (), raw.attr, raw.pos))
            return Expr("matmul", (head, args[0]), None, raw.pos)
        raise TensorcalcError(f"unknown function {name!r}{did_you_mean(name, self._known_names())}", raw.pos)

    def _matmul(self, raw: Expr) -> Expr:
        """Juxtaposition; a bare function name applies to the factor after it (``log A``).
        A product in parentheses is one factor: ``A (e^T u) v`` multiplies A by a 1×1 scalar."""
        raws = product_factors(raw.args[0], juxtaposed_only=True) + product_factors(raw.args[1], juxtaposed_only=True)
        _refuse_unopened_derivative(raws)
        factors = [self.resolve(f) for f in raws]
        out = []
        i = 0
        while i < len(factors):
            f = factors[i]
            if f.op == "fn":
                if i + 1 >= len(factors) or factors[i + 1].op == "fn":
                    raise TensorcalcError(f"function {f.attr[0]!r} needs an argument", f.pos)
                f = Expr("apply", (factors[i + 1],), f.attr, f.pos)
                i += 1
            out.append(f)
            i += 1
        expr = out[0]
        for f in out[1:]:
            if expr.op == "num" and f.op == "num":
                expr = num(expr.attr * f.attr, pos=expr.pos)
            else:
                expr = Expr("matmul", (expr, f), None, expr.pos)
        return expr

    def _deriv(self, raw: Expr) -> Expr:
        top, bottom = raw.args
        of = self.value(top)
        wrt = self.resolve(bottom) if bottom.op == "name" else None
        indices = ()
        if wrt is not None and wrt.op == "entry":
            indices, wrt = wrt.attr, wrt.args[0]
        if wrt is None or wrt.op != "var":
            raise TensorcalcError(f"differentiate with respect to a tensor or a definition, not {plain(bottom)!r}", bottom.pos)
        if of.op == "entry" and top.op == "name":
            # d a[k] / d x[i] (or a scalar x): the entry k of d a / d x[i], whose axes are a's own
            if not indices and not S.is_scalar(self.model.shapes[wrt.attr]):
                raise TensorcalcError(
                    f"d {top.attr} / d {bottom.attr}: an entry differentiates by an entry or a scalar (write d {top.attr} / d {bottom.attr}[...])", raw.pos
                )
            inner = Expr("deriv", (of.args[0],), (wrt.attr, indices, "numerator"), raw.pos)
            return Expr("entry", (inner,), of.attr, raw.pos)
        return Expr("deriv", (of,), (wrt.attr, indices, self.model.layout), raw.pos)

    def _reduce(self, raw: Expr) -> Expr:
        """``prod(f(i) for i in 1..j)`` / ``sum(...)``: unrolled (left to right) over the index."""
        name, loop = raw.attr
        if name not in REDUCTIONS:
            raise TensorcalcError(f"{name}(... for {loop.index} in ...) needs sum or prod, not {name!r}", raw.pos)
        op, empty = REDUCTIONS[name]
        lo, hi = self.model.eval_int(loop.lo, self.scope), self.model.eval_int(loop.hi, self.scope)
        terms = [Resolver(self.model, {**self.scope, loop.index: i}, self.free_indices, self.budget).value(raw.args[0])
                 for i in loop_values(loop.index, lo, hi, loop.lo.pos)]
        if not terms:
            return num(empty, pos=raw.pos)
        expr = terms[0]
        for t in terms[1:]:
            expr = Expr(op, (expr, t), None, raw.pos)
        return expr

    def _pow(self, raw: Expr) -> Expr:
        """``c^k`` of a scalar; ``X^k`` of a square matrix is the matrix power (``X^{-1}`` the
        inverse); ``X.^k`` is the power of every entry. A power of any other non-scalar is refused."""
        base, exponent = self.value(raw.args[0]), _fold_sizes(self.model, self.value(raw.args[1]))
        if exponent.op != "num":
            raise TensorcalcError(f"exponent must be a number: {plain(raw.args[1])!r}", raw.args[1].pos)
        if base.op == "num" and exponent.attr.denominator == 1:
            return num(base.attr ** int(exponent.attr), pos=raw.pos)
        shape = shape_of(self.model, base)
        if S.is_scalar(shape):
            return Expr("pow", (base, exponent), None, raw.pos)
        if raw.attr == ELEMENTWISE_POWER:
            return Expr("pow", (base, exponent), ELEMENTWISE_POWER, raw.pos)
        return matrix_power(base, exponent.attr, shape, raw.pos)

    def _neg(self, raw: Expr) -> Expr:
        arg = self.value(raw.args[0])
        return num(-arg.attr, pos=raw.pos) if arg.op == "num" else Expr("neg", (arg,), None, raw.pos)


def _two_norm(model: Model, x: Expr, pos) -> Expr:
    """``||x||_2`` of a vector is ``norm(x)``; of a matrix it is the spectral norm (the largest
    singular value), not ``norm``'s Frobenius norm, so it is refused rather than misread."""
    shape = shape_of(model, x)
    if not S.is_vector(shape):
        raise TensorcalcError(
            f"||{plain(x)}||_2 of a matrix ({plain(x)} is {S.fmt(shape)}) is its spectral norm (largest singular value), "
            f"which tensorcalc does not have; for the Frobenius norm write ||{plain(x)}||_F or norm({plain(x)})", pos)
    return Expr("norm", (x,), None, pos)


def _one_norm(model: Model, x: Expr, pos) -> Expr:
    """``||x||_1`` of a column is the sum of absolute values; of a matrix (a row included) it is the
    induced 1-norm, the largest column sum of absolute values, which is refused rather than misread."""
    shape = shape_of(model, x)
    if len(shape) != 2 or shape[1] != 1:
        raise TensorcalcError(
            f"||{plain(x)}||_1 of a matrix ({plain(x)} is {S.fmt(shape)}) is its largest column sum of absolute values, "
            f"which tensorcalc does not have; for the sum of the absolute values of all entries write norm1({plain(x)})", pos)
    return COMPOSITE["norm1"](model, x, pos)


def _axis_reduction(name: str, args: tuple, raw: Expr) -> Expr:
    """``sum(X, 1)`` / ``mean(X, 1)``: down the rows (a 1×n row); axis 2: along each row (an m×1 column)."""
    axis = args[1]
    if axis.op != "num" or axis.attr not in (1, 2):
        raise TensorcalcError(f"{name}(X, axis): the axis is 1 (down the rows, a 1×n row) or 2 (along each row, an m×1 column)", axis.pos)
    op = "sum_axis" if name == "sum" else "mean"
    return Expr(op, (args[0],), int(axis.attr), raw.pos)


def _single_entry_groups(name: str, z: Expr, shape: tuple, across: int, instead: str, pos) -> None:
    """softmax over groups of one entry (a row's columns, a column's rows) is constant: refused,
    since a note writing it means the softmax of the whole vector."""
    if len(shape) == 2 and shape[across] == 1 and shape[1 - across] != 1:
        raise S.ShapeError(f"{name} of {plain(z)} ({S.fmt(shape)}) works on groups of one entry, so it is constant; "
                           f"for the whole vector write {instead}", pos)


def _softmax_rows(model: Model, z: Expr, pos) -> Expr:
    """softmax of every row: softmax(zᵀ)ᵀ."""
    _single_entry_groups("softmax_rows", z, shape_of(model, z), 1, "softmax of the column", pos)
    return Expr("T", (Expr("softmax", (Expr("T", (z,), None, pos),), None, pos),), None, pos)


def _log_softmax(model: Model, z: Expr, pos) -> Expr:
    """Column-wise: z - 1 log(1ᵀ exp(z)), so every oracle computes it from exp and log."""
    shape = shape_of(model, z)
    if len(shape) != 2:
        raise S.ShapeError(f"log_softmax needs a vector or a matrix of columns: {plain(z)} is {S.fmt(shape)}", pos)
    _single_entry_groups("log_softmax", z, shape, 0, "log_softmax of the column, transposed", pos)
    ones = Expr("ones", (), (shape[0], S.ONE), pos)
    total = Expr("matmul", (Expr("T", (ones,), None, pos), Expr("apply", (z,), ("exp", 0), pos)), None, pos)
    return Expr("sub", (z, Expr("matmul", (ones, Expr("apply", (total,), ("log", 0), pos)), None, pos)), None, pos)


# Operators written as one name and resolved to the operators they are made of.
COMPOSITE = {
    "norm1": lambda model, x, pos: Expr("sum", (Expr("apply", (x,), ("abs", 0), pos),), None, pos),
    "softmax_rows": _softmax_rows,
    "log_softmax": _log_softmax,
}

MAX_MATRIX_POWER = 64


def matrix_power(base: Expr, k, shape: tuple, pos) -> Expr:
    """``X^k`` of a square matrix: X times itself k times; ``X^0 = I``, ``X^{-k} = inv(X)^k``."""
    text = plain(base)
    if len(shape) != 2 or not S.same((shape[0],), (shape[1],)):
        raise S.ShapeError(
            f"{text}^{k}: {text} is {S.fmt(shape)}, not square, so it has no matrix power; "
            f"for the power of every entry write {text}.^{k} (or {text} ⊙ {text})", pos)
    if k.denominator != 1:
        raise S.ShapeError(f"{text}^{k}: a matrix power needs an integer exponent (for every entry's power write {text}.^{k})", pos)
    if abs(k) > MAX_MATRIX_POWER:
        raise TensorcalcError(f"{text}^{k}: a matrix power is limited to exponents of at most {MAX_MATRIX_POWER}", pos)
    if k < 0:
        base, k = Expr("inv", (base,), None, pos), -k
    if k == 0:
        return Expr("eye", (), shape[0], pos)
    return base if k == 1 else Expr("mpow", (base, num(k)), None, pos)


def _fold_sizes(model: Model, expr: Expr) -> Expr:
    """An exponent built from numbers and sizes (``x^N``, ``x^(N-1)``) -> its number at the model's
    sizes: a power is evaluated elementwise, so its exponent is a number. Anything else unchanged."""
    if expr.op == "size":
        return num(model.size(expr.attr), pos=expr.pos)
    if expr.op == "neg" or (expr.op in _FOLD and len(expr.args) == 2):
        args = [_fold_sizes(model, a) for a in expr.args]
        if all(a.op == "num" for a in args):
            value = -args[0].attr if expr.op == "neg" else _FOLD[expr.op](args[0].attr, args[1].attr)
            if value is not None:
                return num(value, pos=expr.pos)
    return expr


_DERIVATIVE_OPS = ("d", "∂")


def _refuse_unopened_derivative(factors: list[Expr]) -> None:
    """``d (E) / d W`` that the grammar did not open as a derivative (E nests parentheses more than
    six deep) arrives as the product ``d · (E / d) · W``: refused, never read as that product."""
    for left, middle, right in zip(factors, factors[1:], factors[2:]):
        if (left.op == "name" and left.attr in _DERIVATIVE_OPS and middle.op == "div"
                and middle.args[1].op == "name" and middle.args[1].attr == left.attr and right.op == "name"):
            raise TensorcalcError(f"this reads as a derivative {left.attr} (...) / {left.attr} {right.attr}, but a "
                                  "derivative term takes a name, a call or one parenthesised expression nested at most "
                                  "six deep (maybe raised to a power), right before '/': name the expression under "
                                  "forward and differentiate that name", left.pos)


def _int_or_none(model: Model, raw: Expr, scope: dict):
    try:
        return model.eval_int(raw, scope)
    except TensorcalcError:
        return None


NOT_A_GRADIENT = "only the derivative of a scalar by a whole tensor (a gradient) can be differentiated again or used in a definition"


def _refuse_inner_jacobians(model: Model, inner: Expr, cache: dict, names) -> None:
    """A derivative term inside another one must be a gradient (``d (d f / d x) / d x``, f a scalar)."""
    for term in walk(inner):
        if term.op == "deriv" and (term.attr[1] or not S.is_scalar(shape_of(model, term.args[0], cache, names))):
            raise TensorcalcError(NOT_A_GRADIENT, term.pos)


def shape_of(model: Model, expr: Expr, cache: dict | None = None, names: Mapping[str, tuple] | None = None) -> tuple:
    """Static shape of a resolved expression; raises ShapeError with the position.

    ``names``: shapes of names the model does not declare (a chain-rule program's
    cotangent and adjoints). One ``cache`` serves one model and one ``names``."""
    cache = {} if cache is None else cache
    hit = cache.get(expr)
    if hit is not None:
        return hit
    op = expr.op
    if op == "var":
        shape = names[expr.attr] if names and expr.attr in names else model.shapes[expr.attr]
    elif op in ("num", "size"):
        shape = ()
    elif op == "eye":
        shape = (expr.attr, expr.attr)
    elif op in ("ones", "zeros"):
        shape = tuple(expr.attr)
    elif op == "deriv":
        wrt, indices, layout = expr.attr
        of_shape = shape_of(model, expr.args[0], cache, names)
        in_shape = () if indices else model.shapes[wrt]
        _refuse_inner_jacobians(model, expr.args[0], cache, names)
        if indices and len(indices) not in (1, len(model.shapes[wrt])):
            raise S.ShapeError(f"{wrt} has {len(model.shapes[wrt])} axes, got {len(indices)} indices", expr.pos)
        shape = arranged_shape(layout, of_shape, in_shape)
    elif op == "entry":
        inner = shape_of(model, expr.args[0], cache, names)
        axes = [d for d in inner if d != 1] if len(expr.attr) == 1 else inner
        if len(expr.attr) != len(axes) and not (len(expr.attr) == 1 and not axes):
            raise S.ShapeError(f"{plain(expr.args[0])} is {S.fmt(inner)}: {len(expr.attr)} indices do not fit", expr.pos)
        shape = ()
    elif op in ("vstack", "hstack"):
        parts = [shape_of(model, a, cache, names) for a in expr.args]
        shape = S.stack(expr, parts, 0 if op == "vstack" else 1)
    elif op == "slice":
        inner = shape_of(model, expr.args[0], cache, names)
        axis, start, stop = expr.attr
        shape = tuple(stop - start if i == axis else d for i, d in enumerate(inner))
    elif op == "fn":
        raise TensorcalcError(f"function {expr.attr[0]!r} needs an argument", expr.pos)
    elif op in S.RULES:
        shape = S.RULES[op](expr, *(shape_of(model, a, cache, names) for a in expr.args))
    else:
        raise TensorcalcError(f"no shape rule for {op!r}", expr.pos)
    if op != "var":  # declared shapes are checked where they are declared
        _check_entries(model, expr, shape)
    cache[expr] = shape
    return shape


def _check_entries(model: Model, expr: Expr, shape: tuple) -> None:
    """Refuse a value too large to allocate, before anything evaluates it."""
    try:
        numeric = model.numeric_shape(shape)
    except TensorcalcError:  # a size that is not a positive number is reported where it is used
        return
    check_entries(numeric, lambda: repr(plain(expr)), expr.pos)
