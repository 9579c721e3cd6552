"""Text -> raw expression trees, with the grammar in ``grammar.lark``.

The raw tree keeps names as written (``W[l]``, ``sigma'``); ``model.py`` resolves
them against the file's tensors, definitions and functions. Nothing here ever
evaluates user text as Python.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import lark

from ..core.expr import ELEMENTWISE_POWER, GLUED_CALL, ONE_NORM, TWO_NORM, Expr, node, num
from ..core.limits import loop_values
from ..errors import Pos, TensorcalcError

_STARTS = ["claim_line", "def_line", "type_line", "lambda_line", "dim_line"]
GROUPED = "()"  # attr of a product written in parentheses
MAX_TEXT = 10_000  # characters in one expression: longer text is refused, not parsed
MAX_EXPONENT = 300  # |k| in 1e<k>: beyond it a float overflows, and the exact value would be a giant integer


@functools.lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    """Built at each start (about 50 ms), never loaded from lark's cache file: that file is a
    pickle, which runs code when loaded, and a cache folder is not always out of others' reach."""
    grammar = (Path(__file__).parent / "grammar.lark").read_text(encoding="utf-8")
    return lark.Lark(grammar, start=_STARTS, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def keywords() -> set[str]:
    """The words of the grammar (``for``, ``in``): not usable as names."""
    return {t.pattern.value for t in _parser().terminals if t.pattern.type == "str" and t.pattern.value.isidentifier()}


@dataclass(frozen=True)
class ForClause:
    """`for l in lo..hi`: an index name and two dimension expressions."""

    index: str
    lo: Expr
    hi: Expr


@dataclass(frozen=True)
class ParsedClaim:
    kind: str  # "equation" | "proportional" | "helper"
    lhs: Expr  # for a helper: a raw name node
    rhs: Expr
    loop: ForClause | None


@dataclass(frozen=True)
class ParsedType:
    kind: str  # scalar | vector | matrix | onehot | probability | ...
    dims: tuple[Expr, ...]
    flags: tuple[str, ...]
    loop: ForClause | None


def binary(op: str):
    """A transformer method building ``op(first, last)`` from a rule's children (operators in between)."""

    def build(self, items):
        left, right = items[0], items[-1]
        return node(op, left, right, pos=left.pos)

    return build


NORM_SUBSCRIPTS = {"F": "norm", "2": TWO_NORM, "1": ONE_NORM}
INFINITY_SUBSCRIPTS = {"\\infty", "∞", "inf", "infty", "max"}


def exact_number(text: str, pos: Pos) -> Fraction:
    """``2.5E3``, ``1e-5``, ``0.1``: the exact rational the digits spell; an exponent beyond
    ``MAX_EXPONENT`` is refused before any power of ten is built."""
    mantissa, _e, exponent = text.lower().partition("e")
    if not exponent:
        return Fraction(mantissa)
    digits = exponent.lstrip("+-").lstrip("0")
    if len(digits) > len(str(MAX_EXPONENT)) or int(exponent) > MAX_EXPONENT or int(exponent) < -MAX_EXPONENT:
        raise TensorcalcError(f"number {text!r}: the exponent is beyond ±{MAX_EXPONENT}", pos)
    return Fraction(mantissa) * Fraction(10) ** int(exponent)


class _ToExpr(lark.Transformer):
    """Lark tree -> raw Expr, every node carrying its file position."""

    def __init__(self, base: Pos, text: str = ""):
        super().__init__()
        self.base = base
        self.text = text

    def _pos(self, meta_or_token) -> Pos:
        line = getattr(meta_or_token, "line", None) or 1
        col = getattr(meta_or_token, "column", None) or 1
        if line == 1:
            return Pos(self.base.file, self.base.line, self.base.col + col - 1)
        return Pos(self.base.file, self.base.line + line - 1, col)

    def _tok(self, token) -> Pos:
        return self._pos(token)

    # --- atoms
    def number(self, items):
        (tok,) = items
        return num(exact_number(str(tok), self._tok(tok)), pos=self._tok(tok))

    def name(self, items):
        (tok,) = items
        return Expr("name", (), str(tok), self._tok(tok))

    def call(self, items):
        tok, *args = items
        return Expr("call", tuple(args), str(tok), self._tok(tok))

    def reduce(self, items):
        """``prod(expr for i in 1..j)``: a product or sum unrolled over a layer index."""
        tok, body, loop = items
        return Expr("reduce", (body,), (str(tok), loop), self._tok(tok))

    def block(self, items):
        rows = tuple(node("hstack", *r.children) if len(r.children) > 1 else r.children[0] for r in items)
        pos = rows[0].pos
        return rows[0] if len(rows) == 1 and rows[0].op == "hstack" else node("vstack", *rows, pos=pos)

    def deriv(self, items):
        dop, top, _dop2, bottom = items
        return node("deriv", top, bottom, pos=self._tok(dop))

    def group(self, items):
        """``(A B)``: a product in parentheses stays one factor of the product around it, so a
        1×1 product such as ``(e^T ones(k))`` acts as a scalar factor there."""
        (inner,) = items
        return Expr("matmul", inner.args, GROUPED, inner.pos) if inner.op == "matmul" else inner

    def norm_bars(self, items):
        """``||x||``, ``||X||_F``: the 2-norm or Frobenius norm; ``||x||_2`` (``norm_2``) and
        ``||x||_1`` (``norm_1``) are vector norms, which resolve refuses for a matrix (there they
        would be the spectral norm and the largest column sum)."""
        opener, inner, *rest = items
        rest = [t for t in rest if getattr(t, "type", None) == "NORMSUB"]
        sub = str(rest[0])[1:].strip("{}") if rest else "F"
        if sub in INFINITY_SUBSCRIPTS:
            raise TensorcalcError(f"norm subscript {str(rest[0])!r}: the max norm (the largest absolute entry) is not "
                                  "supported; a norm's subscript is 1, 2 or F", self._tok(rest[0]))
        if sub not in NORM_SUBSCRIPTS:
            raise TensorcalcError(f"norm subscript {str(rest[0])!r}: a norm's subscript is 1 (sum of absolute values), "
                                  "2 (Euclidean) or F (Frobenius)", self._tok(rest[0]))
        return Expr("call", (inner,), NORM_SUBSCRIPTS[sub], self._tok(opener))

    # --- operators
    add = binary("add")
    sub = binary("sub")
    hadamard = binary("hadamard")
    mul = binary("mul")
    otimes = binary("otimes")
    matmul = binary("matmul")
    div = binary("div")
    pow = binary("pow")

    def neg(self, items):
        (arg,) = items
        return node("neg", arg, pos=arg.pos)

    def transpose(self, items):
        arg, tok = items
        if arg.op == "call" and _after_glued_call(self.text, tok.start_pos):
            return Expr("T", (arg,), GLUED_CALL, arg.pos)  # A(B)^T: resolve decides whether only (B) is transposed
        return node("T", arg, pos=arg.pos)

    def inverse_transpose(self, items):
        """``X^{-T}``: the transpose of the inverse."""
        arg, _tok = items
        return node("T", Expr("call", (arg,), "inv", arg.pos), pos=arg.pos)

    def elementwise_pow(self, items):
        """``X.^2``: the power of every entry (``X^2`` of a square matrix is the matrix power)."""
        base, _tok, exponent = items
        return Expr("pow", (base, exponent), ELEMENTWISE_POWER, base.pos)

    # --- dimension expressions (sizes, layer indices)
    def dim_int(self, items):
        return num(int(items[0]), pos=self._tok(items[0]))

    def dim_name(self, items):
        return Expr("name", (), str(items[0]), self._tok(items[0]))

    dim_add = binary("add")
    dim_sub = binary("sub")
    dim_mul = binary("matmul")

    # --- lines
    def for_clause(self, items):
        index, lo, hi = items
        bounds = _constant(lo), _constant(hi)
        if None not in bounds:  # bounds given as numbers: refuse an over-long loop as it is read
            loop_values(str(index), *bounds, lo.pos)
        return ForClause(str(index), lo, hi)

    def equation(self, items):
        return ParsedClaim("equation", items[0], items[1], None)

    def proportional(self, items):
        return ParsedClaim("proportional", items[0], items[2], None)

    def helper(self, items):
        tok, rhs = items
        return ParsedClaim("helper", Expr("name", (), str(tok), self._tok(tok)), rhs, None)

    def claim_line(self, items):
        claim, loop = items
        return ParsedClaim(claim.kind, claim.lhs, claim.rhs, loop)

    def def_line(self, items):
        return items[0], items[1]

    def type_args(self, items):
        return tuple(items)

    def type_line(self, items):
        kind = str(items[0])
        dims, flags, loop = (), [], None
        for item in items[1:]:
            if isinstance(item, tuple):
                dims = item
            elif isinstance(item, ForClause):
                loop = item
            else:
                flags.append(str(item))
        return ParsedType(kind, dims, tuple(flags), loop)

    def lambda_line(self, items):
        return str(items[0]), items[1]

    def dim_line(self, items):
        return tuple(items)


class _NotAClaim(Exception):
    """A claim line that parsed as a bare expression (no '=', ':=' or '≈')."""


def parse(text: str, start: str, pos: Pos):
    """Parse ``text`` with grammar rule ``start``; errors carry file:line:column."""
    if len(text) > MAX_TEXT:
        raise TensorcalcError(f"expression longer than {MAX_TEXT} characters", pos)
    _refuse_glued_divisor(text, pos)
    try:
        tree = _parser().parse(text, start=start)
    except lark.exceptions.UnexpectedInput as err:
        where = _ToExpr(pos)._pos(err)
        raise TensorcalcError(_describe(err, text), where) from None
    except RecursionError:
        raise TensorcalcError("expression nested too deeply", pos) from None
    try:
        result = _ToExpr(pos, text).transform(_collapse_groups(tree))
    except RecursionError:
        raise TensorcalcError("expression nested too deeply", pos) from None
    except lark.exceptions.VisitError as err:
        if isinstance(err.orig_exc, TensorcalcError):
            raise err.orig_exc from None
        raise TensorcalcError(f"cannot read expression: {err.orig_exc}", pos) from None  # pragma: no cover
    return _wrap_single(result, start)


# ``1/2N``: lecture notes (``1/2m``) mean 1/(2N); read by precedence it would be N/2.
# The number is matched whole (a lookahead group cannot backtrack), so ``/1e5`` is a number, not 1·e5.
_GLUED_DIVISOR = re.compile(r"/\s*(?=(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?))\1([^\W\d]\w*)")


def _refuse_glued_divisor(text: str, pos: Pos) -> None:
    """A number glued to a name right after ``/`` is ambiguous: refuse it with both readings."""
    match = _GLUED_DIVISOR.search(text)
    if match is None:
        return
    number, name = match.groups()
    raise TensorcalcError(
        f"'/{number}{name}' is ambiguous: write 1/({number} {name}) to divide by {number}·{name}, "
        f"or /{number} {name} to multiply by {name}", _offset_pos(text, match.start(), pos))


def _offset_pos(text: str, offset: int, pos: Pos) -> Pos:
    """The file position of ``text[offset]``, ``text`` starting at ``pos``."""
    where = SimpleNamespace(line=text.count("\n", 0, offset) + 1, column=offset - text.rfind("\n", 0, offset))
    return _ToExpr(pos)._pos(where)


# A number token in scientific notation; its other reading is a number times a name (2e5: 2·e5; 2e-3: 2·e − 3).
_SCIENTIFIC = re.compile(r"(?<![\w.'′])(\d+(?:\.\d+)?)([eE])([+-]?)(\d+)")


def refuse_ambiguous_exponents(texts, names: set[str]) -> None:
    """``2e-3`` is the number 0.002; in a file that declares a name ``e`` (or ``e5`` for ``2e5``)
    it might mean 2·e − 3, so it is refused with both spellings. ``texts``: Text objects of plain syntax."""
    for text in texts:
        for match in _SCIENTIFIC.finditer(text.text):
            mantissa, letter, sign, digits = match.groups()
            name = letter if sign else letter + digits
            if name in names:
                product = f"{mantissa} {name} {sign} {digits}" if sign else f"{mantissa} {name}"
                raise TensorcalcError(
                    f"{match.group(0)!r} is ambiguous in a file that declares {name!r}: write {product} for the "
                    f"product with {name!r}, or rename {name!r} to keep the number {match.group(0)}",
                    _offset_pos(text.text, match.start(), text.pos))


def _after_glued_call(text: str, at: int) -> bool:
    """Does the bracket closing just before ``text[at]`` open right after a name (``A(B)``,
    not ``(A(B))``)?"""
    i = len(text[:at].rstrip()) - 1
    if i < 0 or text[i] != ")":
        return False
    depth = 0
    for j in range(i, -1, -1):
        depth += {")": 1, "(": -1}.get(text[j], 0)
        if depth == 0:
            return j > 0 and (text[j - 1].isalnum() or text[j - 1] in "_'′")
    return False


def _collapse_groups(tree):
    """``((A B))`` is one group: nested parentheses add no depth (walked without recursion)."""
    if not isinstance(tree, lark.Tree):  # a single token
        return tree
    for sub in tree.iter_subtrees():
        while sub.data == "group" and isinstance(sub.children[0], lark.Tree) and sub.children[0].data == "group":
            sub.children = sub.children[0].children
    return tree


_CONSTANT_OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "matmul": lambda a, b: a * b}


def _constant(e: Expr) -> int | None:
    """The value of a dimension expression made of numbers only (``1``, ``2*3+1``), else None."""
    if e.op == "num":
        return int(e.attr)
    if e.op not in _CONSTANT_OPS:
        return None
    left, right = _constant(e.args[0]), _constant(e.args[1])
    return None if left is None or right is None else _CONSTANT_OPS[e.op](left, right)


def _wrap_single(result, start):
    if start == "claim_line" and isinstance(result, ParsedClaim):
        return result
    if start == "claim_line":  # a bare expression is not a claim
        raise _NotAClaim
    if start == "def_line":
        return result if isinstance(result, tuple) else (result, None)
    if start == "type_line":
        return result if isinstance(result, ParsedType) else ParsedType(str(result), (), (), None)
    if start == "dim_line":
        return result if isinstance(result, tuple) else (result,)
    return result


# Characters that look like ones the syntax knows: what to write instead.
LOOK_ALIKES = {
    "’": "write a straight apostrophe ' for a derivative (sigma'(z))",
    "‘": "write a straight apostrophe ' for a derivative (sigma'(z))",
    "´": "write a straight apostrophe ' for a derivative (sigma'(z))",
    "“": "formulas take no quotes; to quote a YAML value use straight quotes \"...\"",
    "”": "formulas take no quotes; to quote a YAML value use straight quotes \"...\"",
    "|": "write norm(x) for ||x||, abs(x) for |x| and [W | b] for a block matrix",
}
_RUN_TOGETHER = re.compile(r"(?<![\w'])d(\w+)\s*/\s*d(\w+)")


def _describe(err: lark.exceptions.UnexpectedInput, text: str) -> str:
    run_together = _RUN_TOGETHER.search(text)
    at = getattr(err, "pos_in_stream", None)
    if run_together and at is not None and run_together.start() <= at < run_together.end():
        of, wrt = run_together.groups()
        return f"{run_together.group(0)!r} in {text!r}: write a derivative with spaces, d {of} / d {wrt}"
    if isinstance(err, lark.exceptions.UnexpectedCharacters):
        found = text[err.pos_in_stream]
        fix = f": {LOOK_ALIKES[found]}" if found in LOOK_ALIKES else ""
        return f"unexpected character {found!r} in {text!r}{fix}"
    if isinstance(err, lark.exceptions.UnexpectedEOF) or getattr(err, "token", None) == "" or (
        isinstance(err, lark.exceptions.UnexpectedToken) and err.token.type == "$END"
    ):
        return f"unexpected end of {text!r}"
    token = str(getattr(err, "token", None))
    fix = f": {LOOK_ALIKES[token]}" if token in LOOK_ALIKES else ""
    return f"unexpected {token!r} in {text!r}{fix}"


def parse_claim(text: str, pos: Pos) -> ParsedClaim:
    try:
        return parse(text, "claim_line", pos)
    except _NotAClaim:
        raise TensorcalcError(f"a claim needs '=' (or ':=' / '≈'): {text!r}", pos) from None
