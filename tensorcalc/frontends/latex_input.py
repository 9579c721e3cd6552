"""LaTeX claims -> the same raw ``Expr`` trees and ``ParsedClaim``s that ``parse.py`` makes.

The subset (grammar in ``latex.lark``; nothing is ever evaluated):
  symbols     letters ``x``, bold/plain alike (``\\mathbf{x}``, ``\\boldsymbol``, ``\\bm``, ``\\mathrm{loss}``),
              Greek (``\\sigma`` -> ``sigma``), subscripts as part of the name (``b_1`` -> ``b1``),
              layer indices ``W^{(l)}`` / ``W^{[l]}`` -> ``W[l]``, accents ``\\tilde``/``\\widetilde``/``\\hat``/``\\bar``
              (only through the symbol map); the file's ``symbols:`` map renames any of them.
  operators   ``+ -``, juxtaposition and ``\\cdot`` (contraction), ``\\odot`` (elementwise), ``\\otimes``,
              ``\\times`` (scalar/elementwise ``*``), ``/``, ``\\frac{a}{b}``, ``\\frac12``, powers ``^2``,
              ``^\\top`` / ``^T`` / ``^{\\top}``, ``\\sigma'(z)`` / ``\\sigma^{\\prime}``,
              ``\\operatorname{diag}``, ``\\mathrm{diag}``, ``\\operatorname{tr}``, ``\\exp``, ``\\log``,
              ``\\|x\\|_2^2`` / ``\\Vert x\\Vert_F``, ``\\sum_{k=1}^{n} r_k^2`` (subscript ``k`` becomes an entry),
              ``\\mathbf{I}_h`` (identity), ``\\left( \\right)``, ``{ }`` groups; matrix operators ``\\det X``,
              ``\\log\\det X`` (logdet), ``X^{-1}``, ``X^{-T}`` / ``X^{-\\top}``, ``X^{\\circ 2}`` (every entry),
              ``\\sqrt{d}``, ``\\sin``, ``\\cos``, ``\\max``, ``\\ln``, ``\\|x\\|_1`` (of a column),
              ``\\operatorname{vec|inv|logdet|mean|sign|softmax\\_rows|log\\_softmax|...}(X)``,
              ``\\operatorname{kron}(A, B)``, ``\\operatorname{sum}(X, 1)``.
  derivatives ``\\frac{\\partial A}{\\partial B}``, ``\\frac{dA}{dB}``, ``\\frac{\\mathrm{d} A}{\\mathrm{d} B}``.
              Second derivatives ``\\frac{\\partial^2 f}{\\partial x \\partial y^\\top}``, ``\\frac{\\partial^2 f}{\\partial x^2}``,
              ``\\frac{\\partial}{\\partial x}\\left(\\frac{\\partial f}{\\partial y}\\right)``: the Cookbook's matrix, rows by x
              (``_Binder.second_derivative`` places it in the file's layout).
  claims      ``A = B`` (``:=`` with a plain name on the left defines a helper), chains ``A = B = C``,
              rows ``\\\\`` with ``&= C`` continuing the first left side, several relations separated by commas,
              ``\\propto``; a range ``\\ell = 1, \\dots, L-1`` (optionally after ``\\text{for}``) loops the row.
Anything else is refused with its file:line:column and the construct's name.
"""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import lark
import yaml

from ..core.expr import ELEMENTWISE_POWER, GLUED_CALL, ONE_NORM, TWO_NORM, Expr, IdentityMap, node, num, product_factors
from ..document import Text
from ..errors import Pos, TensorcalcError
from .parse import MAX_TEXT, ForClause, ParsedClaim, binary, parse
from .identifiers import refuse_invisible
from .spec import yaml_pos

MAX_TEXT = MAX_TEXT
GREEK_NAME = {"ell": "ell", "varepsilon": "epsilon", "vartheta": "theta", "varrho": "rho", "varsigma": "sigma", "varphi": "phi"}
ACCENTS = {"tilde": "tilde", "widetilde": "tilde", "hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "check": "check"}
OPERATORS = {"tr": "trace", "trace": "trace", "diag": "diag", "softmax": "softmax", "sum": "sum", "exp": "exp", "log": "log", "tanh": "tanh",
             "ln": "log", "det": "det", "logdet": "logdet", "inv": "inv", "vec": "vec", "kron": "kron", "mean": "mean",
             "max": "max", "argmax": "argmax", "sign": "sign", "sgn": "sign", "abs": "abs", "sin": "sin", "cos": "cos",
             "sqrt": "sqrt", "sigmoid": "sigmoid", "softplus": "softplus", "relu": "relu", "norm1": "norm1",
             "softmax_rows": "softmax_rows", "log_softmax": "log_softmax", "logsoftmax": "log_softmax"}
ARITIES = {"kron": (2,), "sum": (1, 2), "mean": (1, 2)}  # sum(X, 1): an axis
RELATIONS = {"=": "equation", ":=": "define", "\\coloneqq": "define", "\\propto": "proportional"}
UNSUPPORTED = {
    "CMD": "unsupported LaTeX command {tok}",
    "ENV": "unsupported LaTeX environment {tok}",
    "NORM_R": "norm bars do not match",
    "TOP": "\\top outside a superscript",
    "PRIMECMD": "\\prime outside a superscript",
    "PARTIAL": "\\partial outside \\frac{{\\partial ...}}{{\\partial ...}}",  # braces doubled: str.format
}
_norms = threading.local()


def _flip_norm(token: lark.Token) -> lark.Token:
    """``\\|`` opens and closes a norm: alternate the two token kinds within one parse."""
    _norms.count = getattr(_norms, "count", 0) + 1
    token.type = "NORM_L" if _norms.count % 2 else "NORM_R"
    return token


@functools.lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = (Path(__file__).parent / "latex.lark").read_text(encoding="utf-8")
    return lark.Lark(grammar, start="start", parser="lalr", lexer="basic", propagate_positions=True,
                     maybe_placeholders=False, lexer_callbacks={"NORM": _flip_norm})


@dataclass(frozen=True)
class Sym:
    """A symbol as written: base (``W``, ``\\sigma``, ``loss``), accent, subscript, layer index, primes."""

    base: str
    accent: str | None = None
    sub: Expr | None = None
    layer: Expr | None = None
    primes: int = 0

    def key(self, sub: bool = True, layer: bool = True) -> str:
        text = f"\\{self.accent}{{{self.base}}}" if self.accent else self.base
        if sub and self.sub is not None:
            text += f"_{{{_compact(self.sub)}}}"
        if layer and self.layer is not None:
            text += f"^{{({_compact(self.layer)})}}"
        return text


def _compact(e: Expr) -> str:
    """A canonical spelling of a subscript/layer expression (symbol-map keys and names)."""
    if e.op == "sym":
        return e.attr.key()
    if e.op == "num":
        return str(e.attr.numerator) if e.attr.denominator == 1 else f"{e.attr.numerator}/{e.attr.denominator}"
    sep = {"add": "+", "sub": "-", "matmul": "", "mul": "*"}.get(e.op)
    if sep is None:
        if e.op == "neg":
            return "-" + _compact(e.args[0])
        raise TensorcalcError("only symbols, numbers, + and - may appear in a subscript or layer index", e.pos)
    return sep.join(_compact(a) for a in e.args)


@dataclass(frozen=True)
class LatexClaim:
    """One relation read from LaTeX: the parsed claim, its text (as written) and position."""

    parsed: ParsedClaim
    text: str
    pos: Pos


class SymbolMap:
    """``symbols:`` of a file: LaTeX symbol (canonical key) -> plain-syntax raw expression."""

    def __init__(self, entries: dict[str, Expr] | None = None):
        self.entries = dict(entries or {})

    @classmethod
    def from_yaml(cls, entry, path: str) -> "SymbolMap":
        """``entry`` is the (key node, value node) pair kept by spec.py, or None."""
        if entry is None:
            return cls()
        _key, mapping = entry
        if not isinstance(mapping, yaml.MappingNode):
            raise TensorcalcError("'symbols' must map LaTeX symbols to names", yaml_pos(path, mapping))
        entries = {}
        for key_node, value_node in mapping.value:
            if not isinstance(key_node, yaml.ScalarNode) or not isinstance(value_node, yaml.ScalarNode):
                raise TensorcalcError("'symbols' entries are 'LaTeX: name'", yaml_pos(path, key_node))
            key_pos = yaml_pos(path, key_node)
            rows, _reader = _parse_tree(str(key_node.value), key_pos, SymbolMap())
            items = [item for row in rows for item in row]
            if len(items) != 1 or items[0][2] or len(items[0][1]) != 1 or items[0][1][0].op != "sym":
                raise TensorcalcError(f"symbols: {key_node.value!r} is not one LaTeX symbol", key_pos)
            sym = items[0][1][0].attr
            value, loop = parse(str(value_node.value), "def_line", yaml_pos(path, value_node))
            if loop is not None:
                raise TensorcalcError("symbols: a value is a name or an expression, without 'for'", yaml_pos(path, value_node))
            entries[sym.key()] = value
        return cls(entries)

    def get(self, key: str) -> Expr | None:
        return self.entries.get(key)


# ---------------------------------------------------------------- lark tree -> intermediate Expr ("sym" leaves)
class _Reader(lark.Transformer):
    def __init__(self, text: str, base: Pos):
        super().__init__()
        self.text = text
        self.base = base
        self.grouped = IdentityMap()  # () / [] groups (this node, not an equal one): in a superscript they are layer indices
        self.spans = IdentityMap()  # expression -> (start, end) offsets in the text

    def _call_userfunc(self, tree, new_children=None):
        result = super()._call_userfunc(tree, new_children)
        meta = tree.meta
        if isinstance(result, Expr) and not meta.empty:
            self.spans[result] = (meta.start_pos, meta.end_pos)
        return result

    def pos(self, token) -> Pos:
        line = getattr(token, "line", None) or 1
        col = getattr(token, "column", None) or 1
        if line == 1:
            return Pos(self.base.file, self.base.line, self.base.col + col - 1)
        return Pos(self.base.file, self.base.line + line - 1, col)

    def at(self, offset: int) -> Pos:
        line = self.text.count("\n", 0, offset)
        col = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return self.pos(lark.Token("X", "", line=line + 1, column=col))

    # --- symbols
    def letter(self, c):
        return Expr("sym", (), Sym(str(c[0])), self.pos(c[0]))

    def greek(self, c):
        name = str(c[0])[1:]
        return Expr("sym", (), Sym("\\" + name), self.pos(c[0]))

    def font(self, c):
        parts = [t for t in c[1:] if t.type not in ("LBRACE", "RBRACE")]
        text = "".join(("\\" + str(t)[1:]) if t.type == "GREEK" else str(t) for t in parts)
        return Expr("sym", (), Sym(text), self.pos(c[0]))

    def function_name(self, c):
        """``\\tanh`` or ``\\operatorname{relu}`` before a prime: the function's symbol, to be primed."""
        text = str(c[0])
        word = text.split("{")[1].rstrip("} ").strip() if "{" in text else text[1:]
        return Expr("sym", (), Sym(word), self.pos(c[0]))

    def accent(self, c):
        inner = c[-2] if len(c) == 4 else Expr("sym", (), Sym(str(c[1])), self.pos(c[1]))
        if inner.op != "sym" or inner.attr.accent:
            raise TensorcalcError(f"{c[0]} applies to one symbol", self.pos(c[0]))
        return Expr("sym", (), replace(inner.attr, accent=ACCENTS[str(c[0])[1:]]), self.pos(c[0]))

    def number(self, c):
        return num(Fraction(str(c[0])), pos=self.pos(c[0]))

    # --- groups and operators
    def paren(self, c):
        self.grouped[c[1]] = True
        return c[1]

    bracket = paren

    def group(self, c):
        return c[1]

    add = binary("add")
    sub = binary("sub")
    hadamard = binary("hadamard")
    otimes = binary("otimes")
    mul = binary("mul")
    div = binary("div")

    def matmul(self, c):
        """Juxtaposition; ``\\frac{\\partial}{\\partial x}`` applies to every factor after it."""
        left, right = c[0], c[-1]
        if left.op == "d_operator":
            return Expr("d_apply", (right, *left.args), None, left.pos)
        if left.op == "d_apply" and left.args[0] in self.grouped:
            raise TensorcalcError("after \\frac{\\partial}{\\partial x}(...) put the whole operand inside the parentheses", right.pos)
        if left.op == "d_apply":
            return Expr("d_apply", (node("matmul", left.args[0], right, pos=left.args[0].pos), *left.args[1:]), None, left.pos)
        return node("matmul", left, right, pos=left.pos)

    def neg(self, c):
        return node("neg", c[1], pos=self.pos(c[0]))

    def frac_arg(self, c):
        return c[1]

    def partial_arg(self, c):
        return ("partial", c[2], self.pos(c[1]))

    def partial_alone(self, c):
        """``{\\partial}`` above a fraction bar: the operator ∂/∂x, applied to what follows."""
        return ("partial", None, self.pos(c[1]))

    def partial_pair(self, c):
        """``{\\partial x \\partial y^\\top}`` below a fraction bar: two variables of a second derivative."""
        return ("partials", (c[2], c[4]), self.pos(c[1]))

    def partial_power(self, c):
        """``{\\partial^2 f}`` (or ``{\\partial^{2}}`` alone): the numerator of a second derivative."""
        kinds = c[3]
        if len(kinds) != 1 or kinds[0][0] != "pow" or kinds[0][1].op != "num" or kinds[0][1].attr != 2:
            raise TensorcalcError("only second derivatives \\partial^2 are read (or nest \\frac{\\partial}{\\partial x})", self.pos(c[2]))
        return ("partial2", c[4] if isinstance(c[4], Expr) else None, self.pos(c[1]))

    def frac(self, c):
        tok, top, bottom = c
        where = self.pos(tok)
        partial = [isinstance(x, tuple) for x in (top, bottom)]
        second_order = all(partial) and ((top[0], bottom[0]) != ("partial", "partial") or _squared(bottom[1]))
        if second_order:  # ∂² above, two variables or x^2 below (or one of them without the other: refused)
            return _second_derivative(top, bottom, where)
        if all(partial) and top[1] is None:
            return Expr("d_operator", (_variable(bottom[1], "\\partial/\\partial x"),), None, where)
        if all(partial):
            return node("deriv", top[1], bottom[1], pos=where)
        if any(partial):
            raise TensorcalcError("\\partial on one side of a fraction only", where)
        second = _d_second_derivative(top, bottom, where)
        if second is not None:
            return second
        if _is_d(top) and _strip_d(bottom) is not None:  # \frac{d}{dx}: the operator, as with \partial
            return Expr("d_operator", (_variable(_strip_d(bottom), "d/dx"),), None, where)
        d_top, d_bottom = _strip_d(top), _strip_d(bottom)
        if d_top is not None and d_bottom is not None:
            return node("deriv", d_top, d_bottom, pos=where)
        return node("div", top, bottom, pos=where)

    def frac_short(self, c):
        tok = c[0]
        chars = [ch for ch in str(tok)[str(tok).index("frac") + 4:] if not ch.isspace()]
        where = self.pos(tok)
        parts = [num(int(ch), pos=where) if ch.isdigit() else Expr("sym", (), Sym(ch), where) for ch in chars]
        return node("div", parts[0], parts[1], pos=where)

    def unsupported(self, c):
        tok = c[0]
        kind = "environment" if tok.type == "ENV" else "command"
        raise TensorcalcError(f"unsupported LaTeX {kind} '{tok}'", self.pos(tok))

    def norm(self, c):
        return Expr("call", (c[1],), "norm", self.pos(c[0]))

    def opcall(self, c):
        tok, args = c[0], tuple(x for x in c[1:] if not isinstance(x, lark.Token))
        text = str(tok).split("{")[-1] if "{" in str(tok) else str(tok)[1:]
        word = "logdet" if "det" in text and text[:2] in ("lo", "ln") else "".join(ch for ch in text if ch.isalpha() or ch == "_")
        if word not in OPERATORS:
            raise TensorcalcError(f"unsupported operator {word!r} (known: {', '.join(sorted(OPERATORS))})", self.pos(tok))
        if len(args) not in ARITIES.get(word, (1,)):
            raise TensorcalcError(f"{word} takes {' or '.join(map(str, ARITIES.get(word, (1,))))} argument(s)", self.pos(tok))
        return Expr("call", args, OPERATORS[word], self.pos(tok))

    def sqrt(self, c):
        return Expr("call", (c[2],), "sqrt", self.pos(c[0]))

    def inverse_transpose(self, c):
        letter = c[2]
        if letter.type == "LETTER" and str(letter) != "T":  # x^{-n}: a power by minus a size
            return [("pow", node("neg", Expr("sym", (), Sym(str(letter)), self.pos(letter)), pos=self.pos(c[1])))]
        return [("inverse_transpose", None)]

    def hadamard_power(self, c):
        return [("hadamard_power", c[2])]

    def isum(self, c):
        tok, _sub, lower, *rest = c
        index = lower
        if index.op != "sym" or index.attr.sub or index.attr.layer or index.attr.accent:
            raise TensorcalcError("\\sum needs an index letter below it: \\sum_{k=1}^{n}", self.pos(tok))
        return Expr("isum", (rest[-1],), index.attr, self.pos(tok))

    def sum_lower(self, c):
        return c[1] if len(c) > 1 else c[0]

    def sub_arg(self, c):
        inner = c[1] if len(c) == 3 else c[0]
        if isinstance(inner, lark.Token):
            if inner.type == "NUMBER":
                return num(Fraction(str(inner)), pos=self.pos(inner))
            base = ("\\" + str(inner)[1:]) if inner.type == "GREEK" else str(inner)
            return Expr("sym", (), Sym(base), self.pos(inner))
        return inner

    def sup_arg(self, c):
        inner = [x for x in c if not (isinstance(x, lark.Token) and x.type in ("LBRACE", "RBRACE"))]
        kinds = []
        for x in inner:
            if isinstance(x, lark.Token):
                if x.type == "TOP" or (x.type == "LETTER" and str(x) == "T"):
                    kinds.append(("T", None))
                elif x.type == "PRIMECMD":
                    kinds.append(("prime", None))
                elif x.type == "NUMBER":
                    kinds.append(("pow", num(Fraction(str(x)), pos=self.pos(x))))
                else:
                    kinds.append(("pow", Expr("sym", (), Sym(str(x)), self.pos(x))))
            else:
                kinds.extend(self._sup_expr(x))
        return kinds

    def _sup_expr(self, x: Expr) -> list:
        """``{(l)}`` layer, ``{T}`` transpose, ``{[l+1]T}`` both; anything else is a power."""
        factors = product_factors(x, juxtaposed_only=True)
        marks = [("layer", f) if f in self.grouped else ("T", None) if f.op == "sym" and f.attr == Sym("T") else None for f in factors]
        if all(marks) and (len(marks) == 1 or marks[0][0] == "layer"):
            return marks
        return [("pow", x)]

    def sup(self, c):
        base, _tok, kinds = c
        for kind, value in kinds:
            if kind == "T" and base.op == "call" and base not in self.grouped:  # A(B)^\top: see parse.py
                base = Expr("T", (base,), GLUED_CALL, base.pos)
            elif kind == "T":
                base = node("T", base, pos=base.pos)
            elif kind == "inverse_transpose":  # X^{-T}, X^{-\top}: as parse.py reads X^{-T}
                base = node("T", Expr("call", (base,), "inv", base.pos), pos=base.pos)
            elif kind == "hadamard_power":  # X^{\circ 2}: the power of every entry, X.^2
                base = Expr("pow", (base, value), ELEMENTWISE_POWER, base.pos)
            elif kind == "prime":
                base = self._prime(base)
            elif kind == "layer" or kind == "pow" and _layer_like(value) and base.op == "sym" and base.attr.layer is None:
                if base.op != "sym" or base.attr.layer is not None or base.attr.primes:
                    raise TensorcalcError("a layer index ^{(l)} belongs right after a symbol", value.pos)
                base = Expr("sym", (), replace(base.attr, layer=value), base.pos)
            else:
                base = node("pow", base, value, pos=base.pos)
        return base

    def subscript(self, c):
        base, tok, sub = c
        if base.op == "call" and base.attr == "norm":
            if sub.op == "num" and sub.attr == 1:  # \|x\|_1: the sum of absolute values; of a matrix the largest column sum, refused
                return Expr("call", base.args, ONE_NORM, base.pos)
            if sub.op == "num" and sub.attr == 2:  # \|x\|_2: Euclidean; of a matrix the spectral norm, refused
                return Expr("call", base.args, TWO_NORM, base.pos)
            if not (sub.op == "sym" and sub.attr.base == "F"):
                raise TensorcalcError("a norm's subscript is 1, 2 or F", self.pos(tok))
            return base
        if base.op != "sym" or base.attr.sub is not None or base.attr.primes:  # W^{[L]}_{ij} as W_{ij}^{[L]}
            raise TensorcalcError("a subscript belongs right after a symbol", self.pos(tok))
        return Expr("sym", (), replace(base.attr, sub=sub), base.pos)

    def prime(self, c):
        return self._prime(c[0])

    def _prime(self, base: Expr) -> Expr:
        if base.op != "sym":
            raise TensorcalcError("a prime marks the derivative of a function symbol", base.pos)
        return Expr("sym", (), replace(base.attr, primes=base.attr.primes + 1), base.pos)

    def call(self, c):
        head, _l, arg, _r = c
        if head.op == "d_operator":  # \frac{\partial}{\partial x}\left( ... \right)
            self.grouped[arg] = True
            return self.matmul([head, arg])
        return Expr("call", (arg,), head, head.pos)

    # --- rows
    def chain(self, c):
        return ("chain", c)

    def continuation(self, c):
        return ("continuation", c)

    def item(self, c):
        return c[-1]

    def dots(self, c):
        return ("dots", [])

    def row(self, c):
        return [x for x in c if not (isinstance(x, lark.Token) and x.type in ("PERIOD",))]

    def start(self, c):
        return [x for x in c if not isinstance(x, lark.Token)]


def _squared(e: Expr | None) -> bool:
    """``x^2`` below ``\\partial``: the Hessian's ∂x² (never a derivative by a power)."""
    return e is not None and e.op == "pow" and e.args[1].op == "num" and e.args[1].attr == 2


def _variable(e: Expr, form: str) -> Expr:
    """The symbol a derivative is taken by (as written, before the symbol map)."""
    if e.op != "sym":
        raise TensorcalcError(f"{form}: differentiate by one symbol", e.pos)
    return e


def _second_derivative(top: tuple, bottom: tuple, where: Pos) -> Expr:
    """``\\partial^2 f`` over ``\\partial x^2`` or ``\\partial x \\partial y^\\top`` -> ``hessian(f, x, y)``: the
    Matrix Cookbook's ∂²f/∂x∂yᵀ, rows by x and columns by y (a transpose, if any, on y)."""
    form = "\\frac{\\partial^2 f}{\\partial x \\partial y^\\top}"
    if top[0] != "partial2":
        raise TensorcalcError(f"\\partial x^2 or two variables below the bar need \\partial^2 above it: {form}", where)
    if bottom[0] == "partials":
        first, second = bottom[1]
        if first.op == "T":
            raise TensorcalcError(f"the transpose goes on the second variable: {form}", first.pos)
        if second.op == "T":
            second = second.args[0]
    elif _squared(bottom[1]):
        first = second = bottom[1].args[0]
    else:
        raise TensorcalcError("\\partial^2 needs two variables below the bar: \\partial x^2 or \\partial x \\partial y^\\top", where)
    variables = (_variable(first, form), _variable(second, form))
    if top[1] is None:  # \frac{\partial^2}{\partial x^2} f: an operator, applied to what follows
        return Expr("d_operator", variables, None, where)
    return Expr("hessian", (top[1], *variables), None, where)


def _d_second_derivative(top: Expr, bottom: Expr, where: Pos) -> Expr | None:
    """``\\frac{d^2 f}{d x^2}``, ``\\frac{d^2 f}{dx \\, dy^\\top}``, ``\\frac{d^2}{dx^2} f``: read as with ``\\partial``
    (None when the fraction is not ``d^2 ...`` over ``d ...``: a quotient)."""
    factors, below = product_factors(top, juxtaposed_only=True), product_factors(bottom, juxtaposed_only=True)
    if not (_squared(factors[0]) and _is_d(factors[0].args[0]) and _is_d(below[0])):
        return None
    f = functools.reduce(lambda a, b: node("matmul", a, b, pos=a.pos), factors[1:]) if len(factors) > 1 else None
    if len(below) == 2:
        variables = ("partial", below[1], where)
    elif len(below) == 4 and _is_d(below[2]):
        variables = ("partials", (below[1], below[3]), where)
    else:
        raise TensorcalcError("write a second derivative \\frac{d^2 f}{d x^2} or \\frac{d^2 f}{d x \\, d y^\\top}", where)
    return _second_derivative(("partial2", f, where), variables, where)


def _strip_d(e) -> Expr | None:
    """``d f`` (a product whose first factor is the letter d) -> ``f``; else None."""
    if isinstance(e, tuple):
        return None
    if e.op == "call" and isinstance(e.attr, Expr) and _is_d(e.attr):
        return e.args[0]
    if e.op == "matmul":
        first = _strip_d(e.args[0])
        if first is None:
            return e.args[1] if _is_d(e.args[0]) else None
        return node("matmul", first, e.args[1], pos=first.pos)
    return None


def _is_d(e: Expr) -> bool:
    return e.op == "sym" and e.attr == Sym("d")


# ---------------------------------------------------------------- parsing entry points
def _parse_tree(text: str, pos: Pos, symbols: SymbolMap):
    """-> (rows, reader): rows of items; an item is (kind, [tokens and expressions])."""
    if len(text) > MAX_TEXT:
        raise TensorcalcError(f"LaTeX longer than {MAX_TEXT} characters", pos)
    reader = _Reader(text, pos)
    refuse_invisible(text, reader.at)
    _norms.count = 0
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedCharacters as err:
        where = reader.pos(lark.Token("X", "", line=err.line, column=err.column))
        raise TensorcalcError(f"unsupported LaTeX: '{text[err.pos_in_stream]}'", where) from None
    except lark.exceptions.UnexpectedToken as err:
        tok = err.token
        if tok.type == "$END":
            raise TensorcalcError(f"unexpected end of LaTeX {text.strip()!r}", reader.at(len(text.rstrip()))) from None
        message = UNSUPPORTED.get(tok.type, "unexpected '{tok}' here").format(tok=str(tok))
        raise TensorcalcError(message, reader.pos(tok)) from None
    except lark.exceptions.UnexpectedInput as err:  # pragma: no cover - other lark errors
        raise TensorcalcError(f"cannot read LaTeX: {err}", pos) from None
    except RecursionError:
        raise TensorcalcError("LaTeX nested too deeply", pos) from None
    try:
        rows = reader.transform(tree)
    except lark.exceptions.VisitError as err:
        if isinstance(err.orig_exc, TensorcalcError):
            raise err.orig_exc from None
        raise TensorcalcError(f"cannot read LaTeX: {err.orig_exc}", pos) from None
    except RecursionError:
        raise TensorcalcError("LaTeX nested too deeply", pos) from None
    return [[_items(item) for item in row] for row in rows], reader


def _items(item):
    kind, parts = item
    return kind, [p for p in parts if isinstance(p, Expr)], [p for p in parts if isinstance(p, lark.Token) and p.type == "REL"]


def read_latex_claims(spec, symbols: SymbolMap) -> None:
    """Replace each LaTeX claim of ``spec`` by the relations it states, each parsed, with its own
    position and its own index (claims are numbered in order, every relation of a block counted)."""
    claims = []
    for claim in spec.claims:
        if claim.latex is None or claim.text.text != claim.latex:  # plain syntax (a `claim:` beside `latex:` wins)
            claims.append(replace(claim, index=len(claims)))
            continue
        for read in parse_latex_claims(claim.text.text, claim.text.pos, symbols, spec.layout, spec.tensors, spec.forward):
            claims.append(replace(claim, index=len(claims), text=Text(read.text, read.pos), parsed=read.parsed))
    spec.claims = claims


def parse_latex_claims(text: str, pos: Pos, symbols: SymbolMap | None = None, layout: str | None = None,
                       tensors: dict[str, Text] | None = None, definitions=()) -> list[LatexClaim]:
    """Every relation of a LaTeX block, as plain-syntax claims (raw trees, file positions).
    ``layout`` places second derivatives (None: as numerator layout); ``tensors``, the file's declarations,
    refuse a second derivative of a declared non-scalar or by a declared matrix, and with the names of
    ``definitions`` read ``\\partial x_i`` of a declared vector x as its entry i (when no ``xi`` is declared)."""
    symbols = symbols or SymbolMap()
    raw_rows, reader = _parse_tree(text, pos, symbols)
    kinds = _declared_kinds(tensors or {})
    vectors = {name for name, (_kind, axes) in kinds.items() if axes == 1}
    binder = _Binder(symbols, layout, vectors, set(kinds) | {d.split("[")[0] for d in definitions})
    claims: list[LatexClaim] = []
    first_lhs = None
    for row in raw_rows:
        loop, relations = _row_loop(row, binder)
        row_claims = []
        for kind, exprs, rels in relations:
            if kind == "chain" and not rels:
                raise TensorcalcError("a claim needs '=' (or ':=' / '\\propto')", exprs[0].pos)
            if kind == "chain":
                first_lhs, rest = exprs[0], exprs[1:]
            elif first_lhs is None:
                raise TensorcalcError("a row starts with '=' but no row above gives its left side", reader.pos(rels[0]))
            else:
                rest = exprs
            for i, (rel, rhs) in enumerate(zip(rels, rest)):
                row_claims.append(_claim(binder, first_lhs, rel, rhs, i == 0 and kind == "chain", text, reader))
        claims.extend(LatexClaim(replace(c.parsed, loop=loop), c.text, c.pos) for c in row_claims)
    if not claims:
        raise TensorcalcError("no claim in this LaTeX", pos)
    _refuse_senseless_hessians(binder.hessians, kinds)
    return claims


def _declared_kinds(tensors: dict[str, Text]) -> dict[str, tuple[str, int]]:
    """Declared tensor name (a family by its base) -> (kind, the number of its sizes other than 1:
    1 for a vector, 2 for a matrix)."""
    kinds = {}
    for key, text in tensors.items():
        try:
            parsed = parse(text.text, "type_line", text.pos)
        except TensorcalcError:
            continue  # the model reports a bad declaration with its own position
        axes = sum(1 for d in parsed.dims if not (d.op == "num" and d.attr == 1))
        kinds[key.split("[")[0]] = (parsed.kind, 2 if parsed.kind == "spd" else axes)
    return kinds


def _refuse_senseless_hessians(hessians: list, kinds: dict[str, tuple[str, int]]) -> None:
    """∂²f/∂x∂yᵀ is a matrix only for a scalar f and vectors (or scalars) x, y: refuse what the
    declarations (``_declared_kinds``) show is not (a matrix variable, a vector or matrix f) with the term's position."""
    for f, x, y in hessians:
        for var in (x, y):
            kind, axes = kinds.get(var.attr.split("[")[0], ("", 0))
            if axes == 2:
                raise TensorcalcError(f"\\partial^2 by {var.attr}, a {kind}: the Hessian \\partial^2 f/\\partial x \\partial y^\\top "
                                      f"is taken by vectors or scalars (by a matrix it is a 4-tensor: d (d f / d {var.attr}) / d {var.attr})", var.pos)
        kind = kinds.get(f.attr.split("[")[0], ("scalar",))[0] if f.op == "name" else "scalar"
        if kind != "scalar":
            raise TensorcalcError(f"\\partial^2 of {f.attr}, a {kind}: a Hessian is of a scalar", f.pos)


def _entry_indices(e: Expr, binder: "_Binder") -> frozenset:
    """Letters of ``\\partial W_{ij}``: two or more index letters under a derivative's ``\\partial`` make an
    index claim, and those letters are entry indices on both sides (``a_i b_j``); one letter (``W_h``) stays a
    name, unless the symbol is a declared vector and the joined name is no name of the file (``\\partial x_i``)."""
    found: set[str] = set()
    stack = [e]
    while stack:
        x = stack.pop()
        stack.extend(a for a in x.args if isinstance(a, Expr))
        bottom = x.args[1] if x.op == "deriv" else None
        if bottom is not None and bottom.op == "sym" and bottom.attr.sub is not None:
            letters = _compact(bottom.attr.sub)
            if not all(ch.isalpha() and ch.islower() for ch in letters):
                continue
            if len(letters) >= 2 or binder.entry_of_vector(bottom.attr):
                found |= set(letters)
    return frozenset(found)


def _claim(binder, lhs_raw: Expr, rel, rhs_raw: Expr, first: bool, text: str, reader) -> LatexClaim:
    relation = RELATIONS[str(rel)]
    entries = _entry_indices(lhs_raw, binder)
    lhs, rhs = binder.bind(lhs_raw, entries), binder.bind(rhs_raw, entries)
    if relation == "define" and first and lhs.op == "name":
        parsed = ParsedClaim("helper", lhs, rhs, None)
    else:
        parsed = ParsedClaim("proportional" if relation == "proportional" else "equation", lhs, rhs, None)
    left_text = _source(text, lhs_raw, reader)
    right_text = _source(text, rhs_raw, reader)
    shown = f"{left_text} {'=' if relation == 'define' and parsed.kind != 'helper' else str(rel)} {right_text}"
    return LatexClaim(parsed, shown, lhs_raw.pos if first else rhs_raw.pos)


def _source(text: str, e: Expr, reader) -> str:
    """The LaTeX an expression was read from (approximate: from its first to its last position)."""
    start, end = reader.spans.get(e, (0, len(text)))
    return " ".join(text[start:end].replace("&", " ").split())


def _row_loop(row, binder):
    """Split a row into relations and an optional range ``l = 1, \\dots, L`` (the row's loop)."""
    relations, loop = [], None
    for i, (kind, exprs, rels) in enumerate(row):
        if kind != "dots":
            continue
        if loop is not None:
            raise TensorcalcError("one range per row", exprs[0].pos if exprs else None)
        start = i - 1
        while start >= 0 and not row[start][2]:
            start -= 1
        if start < 0 or i + 1 >= len(row) or row[i + 1][2] or len(row[start][1]) != 2:
            where = row[i - 1][1][0].pos if i and row[i - 1][1] else None
            raise TensorcalcError("a range is written  l = 1, \\dots, L", where)
        index, lo = row[start][1]
        index = binder.bind(index)
        if index.op != "name":
            raise TensorcalcError("a range needs an index name on the left of '='", index.pos)
        loop = ForClause(index.attr, binder.bind(lo), binder.bind(row[i + 1][1][0]))
        row = row[:start] + row[i + 2:]
        break
    for kind, exprs, rels in row:
        if kind == "dots":
            raise TensorcalcError("\\dots outside a range l = 1, \\dots, L", None)
        if kind == "chain" and not rels and loop is None:
            raise TensorcalcError("a claim needs '=' (or ':=' / '\\propto')", exprs[0].pos)
        if kind == "chain" and not rels:
            raise TensorcalcError("unexpected expression in a row with a range", exprs[0].pos)
        relations.append((kind, exprs, rels))
    return loop, relations


# ---------------------------------------------------------------- symbols -> plain names
LAYER_LETTERS = {"l", "L", "\\ell"}


def _layer_like(e: Expr) -> bool:
    """``l``, ``L``, ``\\ell``, ``l-1``, ``L+1``: a bare superscript that names a layer (``a^{l-1}``), never a power."""
    if e.op in ("add", "sub"):
        return _layer_like(e.args[0]) and e.args[1].op == "num"
    return e.op == "sym" and e.attr.base in LAYER_LETTERS and e.attr == Sym(e.attr.base)


def _primes(name: str) -> int:
    return len(name) - len(name.rstrip("'"))


class _Binder:
    """Intermediate trees -> raw trees of parse.py: symbols renamed through the map, sums bound."""

    def __init__(self, symbols: SymbolMap, layout: str | None = None, vectors: frozenset = frozenset(), taken: frozenset = frozenset()):
        self.symbols = symbols
        self.layout = layout
        self.vectors = vectors  # declared column vectors: \partial x_i is an entry of x
        self.taken = taken  # every declared or defined name: \partial x_i stays the name xi if that is one
        self.hessians: list[tuple[Expr, Expr, Expr]] = []  # (f, x, y) of each second derivative read, bound

    def entry_of_vector(self, sym: "Sym") -> bool:
        """``x_i`` under ``\\partial``, x a declared vector and ``xi`` no name of the file: entry i of x."""
        if sym.layer is not None or sym.accent or sym.primes or self.symbols.get(sym.key()) is not None:
            return False
        base = self.symbols.get(sym.key(sub=False, layer=False))
        plain_name = GREEK_NAME.get(sym.base[1:], sym.base[1:]) if sym.base.startswith("\\") else sym.base
        name = plain_name if base is None else base.attr if base.op == "name" else None
        return name in self.vectors and name + _compact(sym.sub) not in self.taken

    def bind(self, e: Expr, bound: frozenset = frozenset()) -> Expr:
        if e.op == "sym":
            return self.symbol(e, bound)
        if e.op == "isum":
            index = self.name_of(Expr("sym", (), e.attr, e.pos), bound)
            body = self.bind(e.args[0], bound | {e.attr.key()})
            return Expr("call", (body,), f"sum_{index}", e.pos)
        if e.op == "call" and isinstance(e.attr, Expr):
            arg = self.bind(e.args[0], bound)
            head = self.bind(e.attr, bound)
            if head.op == "name" and "[" not in head.attr:
                return Expr("call", (arg,), head.attr, e.pos)
            if head.op == "name" and head.attr.endswith("'"):  # {g^{[L]}}'(Z): a primed name applied is a function;
                return Expr("call", (arg,), head.attr.split("[")[0] + "'" * _primes(head.attr), e.pos)  # one g for every layer
            return node("matmul", head, arg, pos=e.pos)
        if e.op == "deriv":
            return node("deriv", self.bind(e.args[0], bound), self.bind(e.args[1], bound), pos=e.pos)
        if e.op in ("hessian", "d_apply", "d_operator"):
            return self.second_derivative(e, bound)
        if not e.args:
            return e
        return Expr(e.op, tuple(self.bind(a, bound) for a in e.args), e.attr, e.pos)

    def second_derivative(self, e: Expr, bound: frozenset) -> Expr:
        """``hessian(f, x, y)`` (∂²f/∂x∂yᵀ, rows by x) as the plain syntax's derivative of a derivative in the
        file's layout: ``d (d f / d x) / d y`` in numerator and mixed layout, ``d (d f / d y) / d x`` in
        denominator layout (each n×m, entry [i, j] = ∂²f/∂x_i∂y_j). ``∂/∂x`` applied to ``∂f/∂y`` (or to
        ``∂f/∂y^\\top``) is that term; applied to anything else it is ``d (...) / d x``."""
        if e.op == "d_operator":
            raise TensorcalcError("\\frac{\\partial}{\\partial x} needs what it differentiates after it", e.pos)
        if e.op == "d_apply" and len(e.args) == 3:  # \frac{\partial^2}{\partial x \partial y^\top} f
            e = Expr("hessian", e.args, None, e.pos)
        elif e.op == "d_apply":
            operand, x = e.args
            inner = operand.args[1] if operand.op == "deriv" else None
            if inner is not None and inner.op == "T" and inner.args[0].op == "sym":
                inner = inner.args[0]
            if inner is None or inner.op != "sym":
                return node("deriv", self.bind(operand, bound), self.bind(x, bound), pos=e.pos)
            e = Expr("hessian", (operand.args[0], x, inner), None, e.pos)
        f, x, y = (self.bind(a, bound) for a in e.args)
        for var in (x, y):
            if var.op != "name":
                raise TensorcalcError("a second derivative is taken by a tensor or a definition, not an expression", var.pos)
        self.hessians.append((f, x, y))
        first, second = (y, x) if self.layout == "denominator" else (x, y)
        return node("deriv", node("deriv", f, first, pos=e.pos), second, pos=e.pos)

    def name_of(self, e: Expr, bound: frozenset = frozenset()) -> str:
        out = self.symbol(e, bound)
        if out.op != "name":
            raise TensorcalcError(f"{e.attr.key()} must stand for a name here", e.pos)
        return out.attr

    def symbol(self, e: Expr, bound: frozenset) -> Expr:
        sym: Sym = e.attr
        primes = "'" * sym.primes
        full = self.symbols.get(sym.key())
        if full is not None:
            return self._with(full, "", None, primes, e)
        if sym.sub is not None and _mentions(sym.sub, bound):
            entry = ", ".join(self._dim_text(Expr("sym", (), Sym(ch), e.pos), bound) if ch.isalpha() else ch
                              for ch in _compact(sym.sub))
            base = self.symbol(Expr("sym", (), replace(sym, sub=None, primes=0), e.pos), bound)
            return self._with(base, "", None, "", e, entry=entry)
        if sym.sub is not None and sym.base == "I" and not sym.accent and sym.layer is None and self.symbols.get("I") is None:
            return Expr("call", (self._dim(sym.sub, bound),), "I", e.pos)
        if sym.sub is not None and sym.base == "1" and not sym.accent and sym.layer is None:
            return Expr("call", (self._dim(sym.sub, bound),), "ones", e.pos)
        no_layer = self.symbols.get(sym.key(layer=False))
        if no_layer is not None:
            return self._with(no_layer, "", sym.layer, primes, e, bound=bound)
        base = self.symbols.get(sym.key(sub=False, layer=False))
        suffix = self._sub_text(sym.sub, e.pos) if sym.sub is not None else ""
        if base is None:
            if sym.accent:
                raise TensorcalcError(f"{sym.key()}: add it to the file's 'symbols' map (e.g. '{sym.key(layer=False)}': name)", e.pos)
            if sym.base[:1].isdigit():
                raise TensorcalcError(f"{sym.base!r} is not a symbol", e.pos)
            base = Expr("name", (), GREEK_NAME.get(sym.base[1:], sym.base[1:]) if sym.base.startswith("\\") else sym.base, e.pos)
        return self._with(base, suffix, sym.layer, primes, e, bound=bound)

    def _with(self, value: Expr, suffix: str, layer: Expr | None, primes: str, e: Expr, bound=frozenset(), entry: str = "") -> Expr:
        if not (suffix or layer is not None or primes or entry):
            return Expr(value.op, value.args, value.attr, e.pos)
        if value.op != "name":
            raise TensorcalcError(f"{e.attr.key()}: the symbol map gives an expression, which cannot take an index or a prime", e.pos)
        name = value.attr.rstrip("'′")
        old_primes = value.attr[len(name):]
        name += suffix
        if layer is not None:
            name += f"[{self._dim_text(layer, bound)}]"
        if entry:
            name += f"[{entry}]"
        return Expr("name", (), name + old_primes + primes, e.pos)

    def _sub_text(self, sub: Expr, pos: Pos) -> str:
        text = _compact(sub)
        if not text.replace("\\", "").isalnum():
            raise TensorcalcError(f"subscript {text!r} cannot be part of a name; map the symbol in 'symbols'", pos)
        return text.replace("\\", "")

    def _dim(self, e: Expr, bound) -> Expr:
        return parse(self._dim_text(e, bound), "dim_line", e.pos)[0]

    def _dim_text(self, e: Expr, bound) -> str:
        """A layer index or size in plain syntax: ``\\ell+1`` -> ``l+1`` (symbols through the map)."""
        if e.op == "sym":
            return self.name_of(e, bound)
        if e.op == "num":
            return _compact(e)
        if e.op == "neg":
            return "-" + self._dim_text(e.args[0], bound)
        sep = {"add": "+", "sub": "-", "matmul": "*", "mul": "*"}.get(e.op)
        if sep is None:
            raise TensorcalcError("a layer index or size uses symbols, numbers, + - and products only", e.pos)
        return sep.join(self._dim_text(a, bound) for a in e.args)


def _mentions(e: Expr, bound: frozenset) -> bool:
    if not bound:
        return False
    if e.op == "sym":
        return e.attr.key() in bound or any(ch in bound for ch in e.attr.base if ch.isalpha())
    return any(_mentions(a, bound) for a in e.args)


__all__ = ["parse_latex_claims", "SymbolMap", "LatexClaim", "Sym"]
