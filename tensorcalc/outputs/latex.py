"""LaTeX views: expressions (as written in a file, or derived) in the notes' notation, and
whole documents of claims and derived formulas. Views only: they print results, never compute.

Notation: ``W1`` -> W_{1}, ``W[l+1]`` -> W^{(l+1)}, ``y[i]`` -> y_{i}, Greek names as letters,
``^T`` -> ^{\\top}, diag -> \\operatorname{diag}, ⊙ -> \\odot, ⊗ -> \\otimes, ``sigma'(z)`` ->
\\sigma'(z), ``d C / d W[l]`` -> \\frac{\\partial C}{\\partial W^{(l)}}, I(h) -> I_{h}.
"""
from __future__ import annotations

import re
import unicodedata

import sympy

from ..core.expr import ELEMENTWISE_POWER, Expr, substitute, walk
from ..core.notation import ATOM, ELEMENTWISE, LEVEL, NEG, PRODUCT, is_constant

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu",
    "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
}
UNICODE_GREEK = {"δ": "delta", "σ": "sigma", "λ": "lambda", "μ": "mu", "α": "alpha", "β": "beta", "η": "eta", "θ": "theta",
                 "φ": "phi", "ψ": "psi", "ω": "omega", "ε": "epsilon", "γ": "gamma", "ρ": "rho", "τ": "tau", "ℓ": "ell"}
_NAME = re.compile(r"^([^\[\]'′]+)((?:\[[^\[\]]*\])*)(['′]*)$")
_SPECIAL = str.maketrans({c: f"\\{c}" for c in "&%$#_{}"} | {"~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"})
OPERATORS = {"diag": r"\operatorname{diag}", "sum": r"\operatorname{sum}", "trace": r"\operatorname{tr}",
             "softmax": r"\operatorname{softmax}", "transpose": None, "hadamard": None, "otimes": None}
TIMES = r" \times "
INFIX = {"add": " + ", "sub": " - ", "hadamard": r" \odot ", "mul": r" \cdot ", "otimes": r" \otimes ", "matmul": r" \, "}


def _base(tex: str) -> str:
    """Brace a base that already carries a superscript or prime (W^{(l)} -> {W^{(l)}}) before ^."""
    return f"{{{tex}}}" if "^" in tex or tex.endswith("'") else tex


SYMBOLS = {"—": "---", "–": "--", "⊙": r"$\odot$", "⊗": r"$\otimes$", "ᵀ": r"$^\top$", "²": r"$^2$", "∂": r"$\partial$",
           "‖": r"$\|$", "→": r"$\to$", "·": r"$\cdot$", "≈": r"$\approx$", "×": r"$\times$", "′": "'", "…": r"\dots{}",
           "“": "``", "”": "''", "’": "'", "‘": "`", "≤": r"$\le$", "≥": r"$\ge$", "∈": r"$\in$", "∑": r"$\sum$",
           "§": r"\S{}", "¶": r"\P{}"}


def text(s: str) -> str:
    """Free text (titles, notes) escaped for LaTeX text mode; symbols and Greek letters in math."""
    out = []
    for c in s.translate(_SPECIAL):
        if c.isascii():
            out.append(c)
        elif c in SYMBOLS:
            out.append(SYMBOLS[c])
        elif c in UNICODE_GREEK:
            out.append(rf"$\{UNICODE_GREEK[c]}$")
        elif ord(c) < 0x180 and c.isalpha():
            out.append(c)  # accented Latin letters: inputenc handles them
        else:
            ascii_form = unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode()
            out.append(ascii_form or "?")
    return "".join(out)


def _symbol(base: str) -> str:
    base = "".join(UNICODE_GREEK.get(c, c) if len(base) == 1 else c for c in base)
    if base in GREEK:
        return "\\" + base
    if base == "ell":
        return r"\ell"
    head, sep, tail = base.partition("_")
    if sep and head and tail:
        return f"{_symbol(head)}_{{{_symbol(tail)}}}"
    m = re.match(r"^([A-Za-z]+?)(\d+)$", base)
    if m:
        return f"{_symbol(m.group(1))}_{{{m.group(2)}}}"
    if len(base) == 1 and base.isalpha():
        return base
    if base.isascii() and base.replace("_", "").isalnum():
        return rf"\mathrm{{{base}}}"
    return rf"\mathrm{{{text(base)}}}"


def name(raw: str, families: set[str] | frozenset = frozenset()) -> str:
    """A name as written (``W[l+1]``, ``y[i]``, ``sigma'``) -> LaTeX."""
    m = _NAME.match(raw.strip())
    if not m:
        return rf"\mathrm{{{text(raw)}}}"
    base, brackets, primes = m.groups()
    groups = re.findall(r"\[([^\[\]]*)\]", brackets)
    out = _symbol(base.strip())
    sup = ""
    if groups and (base.strip() in families or _looks_like_layer(groups[0])):
        sup = f"^{{({_index(groups[0])})}}"
        groups = groups[1:]
    sub = ",".join(_index(g) for g in groups)
    if sub:
        out = f"{{{out}}}_{{{sub}}}" if "_" in out else f"{out}_{{{sub}}}"
    out += sup
    return out + "'" * len(primes)


def _looks_like_layer(group: str) -> bool:
    return bool(re.fullmatch(r"\s*(\d+|[lL]\s*([+-]\s*\d+)?)\s*", group))


def _index(group: str) -> str:
    return re.sub(r"\s+", "", group)


def dim(d, families=frozenset()) -> str:
    """A size (sympy expression in dimension symbols, or a raw dimension text) -> LaTeX."""
    if isinstance(d, sympy.Basic):
        names = {s: name(s.name, families | {s.name.split("[")[0]}) for s in d.free_symbols}
        return sympy.latex(d, symbol_names=names)
    return name(str(d), families)


def shape(s: tuple, families=frozenset()) -> str:
    if not s or all(d == 1 for d in s):
        return "1"
    return TIMES.join(dim(d, families) for d in s)


class Printer:
    """Expression -> LaTeX for raw trees (as written) and resolved ones (derived)."""

    def __init__(self, families=frozenset(), names: dict[str, str] | None = None):
        self.families = set(families)
        self.names = names or {}

    def __call__(self, e: Expr) -> str:
        return self.latex(e)

    def level(self, e: Expr) -> int:
        if e.op == "mul" and e.args[0].op == "num" and e.args[0].attr < 0:
            return NEG
        if e.op == "mul" and is_constant(e.args[0]):
            return PRODUCT
        if e.op == "num":
            return ATOM if e.attr >= 0 else NEG
        if e.op == "div":
            return ATOM  # \frac groups itself
        if e.op == "call" and e.attr.rstrip("'′") in ("hadamard", "otimes"):
            return ELEMENTWISE
        return LEVEL.get(e.op, ATOM)

    def wrap(self, e: Expr, context: int, strict: bool = False) -> str:
        inner = self.latex(e)
        mine = self.level(e)
        if mine < context or (strict and mine == context and mine != ATOM):
            return rf"\left({inner}\right)"
        return inner

    def latex(self, e: Expr) -> str:
        op = e.op
        method = getattr(self, "_" + op, None)
        if method is not None:
            return method(e)
        if op in INFIX:
            a, b = e.args
            mine = LEVEL[op]
            same_ok = op in ("add", "hadamard", "mul", "matmul")
            return f"{self.wrap(a, mine, op == 'otimes')}{INFIX[op]}{self.wrap(b, mine, not same_ok or b.op != op)}"
        return rf"\operatorname{{{text(op)}}}\left({', '.join(self.latex(a) for a in e.args)}\right)"

    # leaves
    def _var(self, e):
        return self.names.get(e.attr) or name(e.attr, self.families)

    def _name(self, e):
        return name(e.attr, self.families)

    def _num(self, e):
        v = e.attr
        if v.denominator == 1:
            return str(v.numerator)
        sign = "-" if v < 0 else ""
        return rf"{sign}\tfrac{{{abs(v.numerator)}}}{{{v.denominator}}}"

    def _size(self, e):
        return dim(e.attr, frozenset(self.families))

    def _eye(self, e):
        return rf"I_{{{dim(e.attr, frozenset(self.families))}}}"

    def _ones(self, e, symbol=r"\mathbf{1}"):
        dims = e.attr if isinstance(e.attr, tuple) else (e.attr,)
        if len(dims) == 2 and dims[1] == 1:
            dims = dims[:1]
        joined = TIMES.join(dim(d, frozenset(self.families)) for d in dims)
        return rf"{symbol}_{{{joined}}}"

    def _zeros(self, e):
        return self._ones(e, r"\mathbf{0}")

    # operators
    def _neg(self, e):
        return "-" + self.wrap(e.args[0], NEG, True)

    def _div(self, e):
        a, b = e.args
        if a.op == "num" and b.op == "num":
            return rf"\tfrac{{{self.latex(a)}}}{{{self.latex(b)}}}"
        return rf"\frac{{{self.latex(e.args[0])}}}{{{self.latex(e.args[1])}}}"

    def _mul(self, e):
        a, b = e.args
        if a.op == "num":
            if a.attr < 0:
                return "-" + self._mul(Expr("mul", (Expr("num", (), -a.attr), b)))
            return f"{self.wrap(a, PRODUCT)} \\, {self.wrap(b, PRODUCT, True)}"
        if is_constant(a):  # 1/N x: the coefficient before what it scales
            return f"{self.wrap(a, PRODUCT)} \\, {self.wrap(b, PRODUCT, True)}"
        return f"{self.wrap(a, ELEMENTWISE)} \\cdot {self.wrap(b, ELEMENTWISE, b.op != 'mul')}"

    def _pow(self, e):
        base, k = e.args
        if base.op == "call" and base.attr == "norm" or base.op == "norm":
            return f"{self.latex(base)}^{{{self.latex(k)}}}"
        circle = r"\circ " if e.attr == ELEMENTWISE_POWER else ""  # the Hadamard power X^{∘k}
        return f"{_base(self.wrap(base, ATOM, True))}^{{{circle}{self.latex(k)}}}"

    def _mpow(self, e):
        return self._pow(e)

    def _inv(self, e):
        return f"{_base(self.wrap(e.args[0], ATOM, True))}^{{-1}}"

    def _det(self, e):
        return rf"\det\left({self.latex(e.args[0])}\right)"

    def _sum_axis(self, e):
        return rf"\operatorname{{sum}}_{{{e.attr}}}\left({self.latex(e.args[0])}\right)"

    def _mean(self, e):
        axis = "" if e.attr is None else f"_{{{e.attr}}}"
        return rf"\operatorname{{mean}}{axis}\left({self.latex(e.args[0])}\right)"

    def _logdet(self, e):
        return rf"\log\left|\det\left({self.latex(e.args[0])}\right)\right|"

    def _T(self, e):
        return f"{_base(self.wrap(e.args[0], ATOM, True))}^{{\\top}}"

    def _transpose(self, e):
        return self._T(e)

    def _apply(self, e):
        fn, order = e.attr
        return f"{name(fn)}{chr(39) * order}\\left({self.latex(e.args[0])}\\right)"

    def _diag(self, e):
        return rf"\operatorname{{diag}}\left({self.latex(e.args[0])}\right)"

    def _norm(self, e):
        return rf"\left\lVert {self.latex(e.args[0])} \right\rVert"

    def _sum(self, e):
        return rf"\operatorname{{sum}}\left({self.latex(e.args[0])}\right)"

    def _trace(self, e):
        return rf"\operatorname{{tr}}\left({self.latex(e.args[0])}\right)"

    def _softmax(self, e):
        return rf"\operatorname{{softmax}}\left({self.latex(e.args[0])}\right)"

    def _vstack(self, e):
        return r"\begin{bmatrix} " + r" \\ ".join(self.latex(a) for a in e.args) + r" \end{bmatrix}"

    def _hstack(self, e):
        return r"\begin{bmatrix} " + " & ".join(self.latex(a) for a in e.args) + r" \end{bmatrix}"

    def _slice(self, e):
        axis, start, stop = e.attr
        rng = f"{dim(start + 1 if isinstance(start, sympy.Basic) else start + 1)}:{dim(stop)}"
        where = f"{rng},:" if axis == 0 else f":,{rng}"
        return rf"\left({self.latex(e.args[0])}\right)_{{{where}}}"

    def _entry(self, e):
        indices = ','.join(str(i) for i in e.attr)
        inner = e.args[0]
        if inner.op == "eye":  # an entry of an identity: the Kronecker delta
            return rf"\delta_{{{indices}}}"
        if inner.op == "deriv":  # an entry of a Jacobian: d Z[i, j] / d W[k, l]
            wrt, idx, _layout = inner.attr
            bottom = _subscripted(name(wrt, self.families), ",".join(map(str, idx))) if idx else name(wrt, self.families)
            return rf"\frac{{\partial {_subscripted(self.wrap(inner.args[0], ATOM, True), indices)}}}{{\partial {bottom}}}"
        return _subscripted(self.wrap(inner, ATOM, True), indices)

    def _isum(self, e):
        return rf"\sum_{{{e.attr}}} {self.wrap(e.args[0], PRODUCT)}"

    def _deriv(self, e):
        of = e.args[0]
        if len(e.args) == 2:  # raw: d top / d bottom
            bottom = self.latex(e.args[1])
        else:
            wrt, idx, _layout = e.attr
            if of.op == "var" and (of.attr, wrt) in self.names:
                return self.names[(of.attr, wrt)]
            bottom = name(wrt, self.families) + (f"_{{{','.join(map(str, idx))}}}" if idx else "")
        if of.op == "deriv" and self._same_bottom(of, e):
            inner = self.latex(of.args[0])  # d (d f / d x) / d x: the Hessian, ∂²f/∂x∂x
            inner = rf"\left({inner}\right)" if self.level(of.args[0]) < ATOM else inner
            return rf"\frac{{\partial^2 {inner}}}{{\partial {bottom} \, \partial {bottom}}}"
        top = self.latex(of)
        if self.level(of) < ATOM:
            top = rf"\left({top}\right)"
        return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"

    @staticmethod
    def _same_bottom(inner, outer) -> bool:
        """Are two derivative terms (both raw, or both resolved) taken by the same variable?"""
        if len(inner.args) != len(outer.args):
            return False
        return inner.args[1] == outer.args[1] if len(outer.args) == 2 else inner.attr == outer.attr

    def _call(self, e):
        fn = e.attr
        base = fn.rstrip("'′")
        args = e.args
        if base in ("I", "eye") and len(args) == 1:
            return rf"I_{{{self.latex(args[0])}}}"
        if base in ("ones", "zeros"):
            symbol = r"\mathbf{1}" if base == "ones" else r"\mathbf{0}"
            joined = TIMES.join(self.latex(a) for a in args)
            return rf"{symbol}_{{{joined}}}"
        if base == "norm" and len(args) == 1:
            return self._norm(e)
        if base == "hadamard" and len(args) == 2:
            return f"{self.wrap(args[0], ELEMENTWISE)} \\odot {self.wrap(args[1], ELEMENTWISE, True)}"
        if base == "otimes" and len(args) == 2:
            return f"{self.wrap(args[0], ELEMENTWISE, True)} \\otimes {self.wrap(args[1], ELEMENTWISE, True)}"
        if base == "transpose" and len(args) == 1:
            return f"{_base(self.wrap(args[0], ATOM, True))}^{{\\top}}"
        if base in ("inv", "det", "logdet") and len(args) == 1:
            return self.latex(Expr(base, args))
        if base.startswith("sum_"):
            return rf"\sum_{{{name(base[4:])}}} {self.wrap(args[0], PRODUCT)}"
        head = OPERATORS.get(base) or name(fn, self.families)
        return rf"{head}\left({', '.join(self.latex(a) for a in args)}\right)"


def _subscripted(base: str, indices: str) -> str:
    """``base_{indices}``; a base that has a subscript of its own (``W_{1}``) is grouped first."""
    return f"{{{base}}}_{{{indices}}}" if "_" in base else f"{base}_{{{indices}}}"


def underbraced(e: Expr, printer: Printer, shape_of, families=frozenset()) -> str:
    """Top-level factors of a product (or ⊙) chain, each with its shape underneath."""
    op, factors = _chain(e)
    context = PRODUCT if op == "matmul" else ELEMENTWISE
    parts = [rf"\underbrace{{{printer.wrap(f, context, i > 0)}}}_{{{shape(shape_of(f), families)}}}" for i, f in enumerate(factors)]
    return INFIX.get(op, "").join(parts) if op else parts[0]


def _chain(e: Expr, op: str | None = None) -> tuple[str | None, list[Expr]]:
    if e.op in ("matmul", "hadamard") and op in (None, e.op) and e.args[0].op != "num":
        _o, left = _chain(e.args[0], e.op)
        _o, right = _chain(e.args[1], e.op)
        return e.op, left + right
    return None, [e]


# --- documents --------------------------------------------------------------------------

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[utf8]{inputenc}
\usepackage{amsmath,amssymb}
\usepackage[margin=2cm]{geometry}
\allowdisplaybreaks
\begin{document}
"""
RELATION = {"equation": "=", "proportional": r"\propto", "helper": ":="}


def layer_families(prepared) -> set[str]:
    """Names printed with a layer superscript (``W[l]`` -> W^{(l)})."""
    out = set(prepared.families)
    out |= {base for base, (key, _raw) in prepared.helpers.items() if key.param}
    return out


def _loop(printer: Printer, loop) -> str:
    if loop is None:
        return ""
    return rf" && {name(loop.index)} = {printer(loop.lo)}, \dots, {printer(loop.hi)}"


def claim_row(printer: Printer, claim, expected_to_fail: bool = False) -> str:
    """One claim (kind, lhs, rhs, loop) as written: ``lhs &= rhs`` and its loop or a tag."""
    lhs = printer(claim.lhs)
    rhs = printer(claim.rhs)
    note = r" && \text{(expected to fail)}" if expected_to_fail else ""
    return f"{lhs} &{RELATION.get(claim.kind, '=')} {rhs}{_loop(printer, claim.loop) or note}"


def claims_block(prepared) -> str:
    """Every claim of the file as written, one aligned line each."""
    printer = Printer(layer_families(prepared))
    rows = [claim_row(printer, claim, claim.expect == "fails") for claim in prepared.claims]
    if not rows:
        return ""
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n"


def derivation_block(d, prepared, names: dict, steps: bool = False) -> str:
    """One align block: the derived formula (and its recursion), or every step with shapes."""
    from ..explain.formulas import with_helper_names

    families = layer_families(prepared)
    printer = Printer(families)
    rows = []

    def row(line, lhs_override=None, braces=False):
        lhs = printer(with_helper_names(line.lhs, names)) if lhs_override is None else lhs_override
        rhs_expr = with_helper_names(line.rhs, names)
        rhs = underbraced(rhs_expr, printer, shapes_of(d, line, names), families) if braces else printer(rhs_expr)
        loop = rf" && l = {line.loop[0]}, \dots, {line.loop[1]}" if line.loop else ""
        rows.append(f"{lhs} &= {rhs}{loop}")

    for line, continued in d.displayed(steps):
        row(line, lhs_override="" if continued else None, braces=steps and not d.general)
    block = "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n"
    if not (steps and d.jacobian_steps):
        return block
    rows.clear()  # seed 001's chain of Jacobian factors, a block of its own
    for line, continued in d.jacobian_steps:
        row(line, lhs_override="" if continued else None, braces=line.lhs.op != "entry")
    return block + "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n"


def shapes_of(d, line, names: dict):
    """The shape of each displayed factor of ``line``; a factor the file names (``delta2 := d L / d z2``)
    has the shape of its derivative term."""
    from ..explain.formulas import with_helper_names

    named = {m.attr: n for n in walk(line.rhs) if n.op == "deriv" and (m := with_helper_names(n, names)).op == "var"}
    return lambda e: _shape_of(d, substitute(e, named), line)


def _shape_of(d, e: Expr, line) -> tuple:
    """Shape of a displayed factor: at the unrolled model (names mapped back when general)."""
    from ..explain.formulas import IndexMap, instantiate

    model = d.model
    if not d.general:
        return model.shape(e)
    anchor = int(line.loop[0]) if line.loop and line.loop[0].isdigit() else None
    concrete = model.shape(instantiate(e, anchor, model.depth))
    return IndexMap(anchor, model.depth).shape(concrete, anchor is not None)


def file_section(derived, steps: bool = False) -> str:
    from ..explain.formulas import helper_names

    spec = derived.prepared.spec
    title = text(spec.title or derived.path)
    out = [rf"\section*{{{title}}}", rf"\noindent\texttt{{{text(derived.path)}}} --- {text(derived.layout)} layout."]
    if spec.source:
        out.append(rf"Source: {text(spec.source)}.")
    out.append(r"\subsection*{Claims}")
    out.append(claims_block(derived.prepared))
    out.append(r"\subsection*{Derived formulas}")
    out.append(r"Each formula below was checked by the exact and the floating-point oracle before it was printed.")
    names = helper_names(derived.prepared, derived.layout)
    for d in derived.derivations:
        out.append(derivation_block(d, derived.prepared, names, steps))
    for wrt, reason in derived.refused:
        out.append(rf"\noindent Not shown: $\partial / \partial$\texttt{{{text(wrt)}}} --- {text(reason)}.")
    return "\n".join(out) + "\n"


def document(parts: list, standalone: bool = False, steps: bool = False) -> str:
    body = "\n".join(file_section(p, steps) for p in parts)
    return PREAMBLE + body + "\\end{document}\n" if standalone else body
