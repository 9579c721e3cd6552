"""Derived formulas: the chain-rule program inlined, simplified, arranged for a layout,
generalised over layer indices, and verified by both oracles before anyone sees it.

``derive(prepared, wrt)`` returns a ``Derivation``: ``d of / d wrt = formula`` in the
file's (or a requested) layout, the reverse-mode steps that lead to it (each a claim
``d of / d name = ...`` in the same layout), and for layer families the recursion and its
base case at a general ``l``. Nothing is returned unverified: a formula the oracles do not
confirm raises ``NotDerivable``.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import sympy

from ..core import shapes as S
from ..core.derive import gradient_program
from ..core.expr import Expr, node, substitute, var, walk
from ..core.layouts import effective
from ..core.model import Model, Prepared
from ..core.names import split_name
from ..core.resolve import shape_of
from ..core.readable import Knowledge, inline, readable
from ..core.simplify import contains_3tensor, simplify
from ..core.sizes import size_sets
from ..errors import ShapeError, TensorcalcError

EXACT_POINTS, NUMERIC_TRIALS = 1, 1  # per case; every size set, depth and l is a case
OVERFLOW_REDRAWS = 4  # more numeric networks drawn when some overflow in float64
DEPTH = 6  # depth at which a layer family is unrolled to read off the general formula
_MEMBER = re.compile(r"^(.*)\[(-?\d+)\]$")
_GENERAL = re.compile(r"^(.*)\[(l|L)([+-]\d+)?\]$")


class NotDerivable(TensorcalcError):
    """The formula cannot be written in matrix form, or it was not confirmed."""


@dataclass
class Line:
    """One displayed equation ``d of / d name = rhs``; ``rhs`` may hold other derivative terms."""

    lhs: Expr
    rhs: Expr
    shape: tuple
    loop: tuple[str, str] | None = None  # ("1", "L-1"): holds for l in that range
    role: str = "step"  # step | result | recursion | base


@dataclass
class Derivation:
    of: str
    wrt: str
    layout: str
    result: Line
    steps: list[Line] = field(default_factory=list)
    chain: Line | None = None  # the result in terms of the last step (plain models)
    model: Model | None = None
    general: bool = False
    jacobian: bool = False  # ``of`` is not a scalar: ``result`` is a Jacobian, 3-tensor or index formula
    jacobian_steps: list[tuple[Line, bool]] = field(default_factory=list)  # seed 001's chain, for --steps

    def displayed(self, steps: bool) -> list[tuple[Line, bool]]:
        """The lines shown, in order, each with whether it continues the line above (no left side):
        a general layer formula with its recursion; else the result, or with ``steps`` every step."""
        if self.general:
            return [(self.result, False)] + [(line, False) for line in self.steps]
        if not steps:
            return [(self.result, False)]
        shown = [(line, False) for line in self.steps]
        if self.chain is not None and self.chain.rhs != self.result.rhs:
            return shown + [(self.chain, False), (self.result, True)]
        return shown + [(self.result, False)]


# --- entry point ---------------------------------------------------------------------


def derive(prepared: Prepared, wrt: str, layout: str | None = None, of: str | None = None, verify: bool = True) -> Derivation:
    """``d of / d wrt`` (``of`` defaults to the loss) as a verified matrix formula."""
    spec = prepared.spec
    layout = layout or spec.layout
    base, groups, _primes = split_name(wrt, spec.tensors.get(wrt, None).pos if wrt in spec.tensors else _nopos())
    family = bool(groups) and base in prepared.families
    generic = family and not _is_int(groups[0])
    models = [Model(prepared, sizes) for sizes in size_sets(spec.dims, spec.check.seed)]
    if prepared.families and "L" in spec.dims:
        model = Model(prepared, deep_sizes(prepared))
    else:
        model = models[0]
    of_name = scalar_to_derive(model, of)
    if generic:
        members = sorted(int(m.group(2)) for k in model.shapes if (m := _MEMBER.match(k)) and m.group(1) == base)
        if not members:
            raise NotDerivable(f"{wrt!r}: no member of {base!r} exists")
        anchor = members[0] + 1 if len(members) > 2 else members[-1]
        wrt_key = f"{base}[{anchor}]"
    else:
        anchor = None
        wrt_key = f"{base}[{model.eval_int(groups[0][0], model.scope)}]" if family else base
    if wrt_key not in model.shapes:
        raise NotDerivable(f"unknown name {wrt!r} (not a tensor or definition of {spec.path})")
    for readable_forms in (True, False):  # the plainly simplified form when the readable one is not confirmed
        try:
            deriv = Deriver(model, of_name, layout, readable_forms)
            steps, chain, result = deriv.lines(wrt_key)
            mapper = IndexMap(anchor, model.depth) if (prepared.families and model.depth) else None
            out = Derivation(of_name, wrt, layout, result, steps, chain=None if mapper else chain, model=model,
                             general=mapper is not None)
            if mapper is not None:
                out.result, out.steps = _generalise(out, mapper, generic, deriv)
            if verify:
                verify_lines(out, prepared, models, deriv)
            return out
        except NotDerivable:
            if not readable_forms:
                raise
    raise AssertionError("unreachable")


def _nopos():
    from ..errors import Pos

    return Pos("<command line>", 1, 1)


def _is_int(group) -> bool:
    return len(group) == 1 and group[0].op == "num"


def scalar_to_derive(model: Model, of: str | None) -> str:
    """The definition to differentiate: ``of``, else the loss; ``NotDerivable`` unless a scalar one."""
    name = of or model.loss
    if name is None:
        raise NotDerivable("the file defines no scalar loss: name one with --of")
    if name not in model.defs:
        raise NotDerivable(f"{name!r} is not a forward definition")
    if not S.is_scalar(model.shapes[name]):
        raise NotDerivable(f"{name!r} is {S.fmt(model.shapes[name])}: in a layer family derive prints gradients of a scalar only")
    return name


def deep_sizes(prepared: Prepared) -> dict[str, int]:
    """A size set at depth ``DEPTH`` (family widths drawn as the file says)."""
    dims = dict(prepared.spec.dims)
    dims["L"] = dataclasses.replace(dims["L"], sizes=(DEPTH,), low=None, high=None)
    return size_sets(dims, prepared.spec.check.seed)[-1]


# --- the chain-rule program as displayed lines ---------------------------------------------


class Deriver:
    """Runs ``gradient_program`` and turns adjoint steps into simplified, arranged lines."""

    def __init__(self, model: Model, of: str, layout: str, readable_forms: bool = True):
        self.model = model
        self.readable_forms = readable_forms
        self.of = of
        self.layout = layout
        self.cache: dict = {}
        self.names: dict[str, tuple] = {}  # adjoints of ``of``: one shape each, whatever the program
        self.knowledge = Knowledge.of(model, self.shape)

    def shape(self, e: Expr) -> tuple:
        return shape_of(self.model, e, self.cache, self.names)

    def simplify(self, e: Expr) -> Expr:
        return readable(e, self.knowledge) if self.readable_forms else simplify(e, self.shape)

    def gradient_term(self, name: str) -> Expr:
        """``d of / d name`` in denominator layout (the shape of ``name``)."""
        return Expr("deriv", (var(self.of),), (name, (), "denominator"))

    def lines(self, wrt: str) -> tuple[list[Line], Line, Line]:
        """(steps, result in step form, result inlined), each arranged for the layout.

        Plain models: every adjoint is a named step and the result is fully inlined. Layer
        families: only the family the result reads stays named (its recursion and base case).
        """
        program = gradient_program(self.model, var(self.of), wrt)
        self.names.update(program.shapes)
        adj_of = {adj: adj[adj.index("]") + 1 :] for adj, _e in program.steps}
        family = bool(self.model.prepared.families)
        kept = self._kept(program, adj_of) if family else set()
        steps: list[Line] = []

        def named(adj: str, value: Expr) -> Expr:
            """A step shown as a line: later steps read it as ``d of / d name``."""
            name = adj_of[adj]
            if name == self.of or name not in kept:
                return value
            steps.append(self.line(name, value, "step"))
            return self.gradient_term(name)

        inline_env = inline(program.steps, self.simplify, named if family else None)
        named_env = inline_env
        if not family:
            kept = set(adj_of.values())
            named_env = inline(program.steps, self.simplify, named)
        chain = self.line(wrt, self.simplify(substitute(program.result, named_env)), "chain")
        result = self.line(wrt, self.simplify(substitute(program.result, inline_env)), "result")
        return steps, chain, result

    def _kept(self, program, adj_of: dict) -> set[str]:
        """Layer-family adjoints shown as named steps (δ[l] = d of / d z[l]): the family the
        result reads, or, when that family does not recur on itself (a[0]: x, B[l] = b[l] 1ᵀ),
        the family its steps read, until one recurs."""
        steps = dict(program.steps)

        def family(adj):
            m = _MEMBER.match(adj_of.get(adj, ""))
            return m.group(1) if m else None

        def reads(expr, stop: set, seen=None) -> set[str]:
            """Families read by ``expr`` once every adjoint outside ``stop`` is inlined."""
            seen = set() if seen is None else seen
            out = set()
            for n in walk(expr):
                if n.op != "var" or n.attr not in steps or n.attr in seen:
                    continue
                seen.add(n.attr)
                if family(n.attr) is not None:
                    out.add(family(n.attr))
                if family(n.attr) not in stop:
                    out |= reads(steps[n.attr], stop, seen)
            return out

        start = program.result
        while start.op == "var" and start.attr in steps and self.model.defs[adj_of[start.attr]].op == "var":
            start = steps[start.attr]  # a definition that only renames (a[0]: x): look through it
        chosen = _direct_families(start, family, steps)
        for _ in range(4):
            if not chosen:
                break
            members = [a for a in steps if family(a) in chosen]
            if any(chosen & reads(steps[a], chosen) for a in members):
                break
            after = set()
            for a in members:
                after |= {f for f in _direct_families(steps[a], family, steps) if f not in chosen}
            chosen = after
        return {adj_of[a] for a in steps if family(a) in chosen}

    def line(self, name: str, gradient: Expr, role: str, layout: str | None = None) -> Line:
        layout = layout or self.layout
        lhs = Expr("deriv", (var(self.of),), (name, (), layout))
        rhs = self.arrange(gradient, layout)
        if contains_3tensor(rhs, self.shape):
            raise NotDerivable(f"d {self.of} / d {name}: the formula keeps a 3-tensor; no matrix form found")
        return Line(lhs, rhs, self.shape(lhs), role=role)

    def arrange(self, gradient: Expr, layout: str) -> Expr:
        """Gradient (shape of the variable) -> the layout's arrangement, derivative terms too."""
        if effective(layout, ()) == "denominator":
            return gradient
        rows = {}
        for n in walk(gradient):
            if n.op == "deriv" and n.attr[2] == "denominator":
                rows[n] = node("T", Expr("deriv", n.args, (n.attr[0], n.attr[1], layout)))
        return self.simplify(node("T", _replace(gradient, rows)))


def _direct_families(expr: Expr, family, steps: dict) -> set[str]:
    """Families whose adjoints ``expr`` reads, looking through adjoints of plain names."""
    out = set()
    for n in walk(expr):
        if n.op == "var" and n.attr in steps:
            f = family(n.attr)
            out |= {f} if f else _direct_families(steps[n.attr], family, steps)
    return out


def _replace(e: Expr, mapping: dict[Expr, Expr]) -> Expr:
    if e in mapping:
        return mapping[e]
    if not e.args:
        return e
    return Expr(e.op, tuple(_replace(a, mapping) for a in e.args), e.attr, e.pos)


# --- layer indices: concrete members <-> l, l±1, L, L-1 ---------------------------------


class IndexMap:
    """Concrete layer indices at depth ``depth`` -> text relative to ``anchor`` (l) or L."""

    def __init__(self, anchor: int | None, depth: int):
        self.anchor = anchor
        self.depth = depth

    def index(self, i: int, relative_to_l: bool) -> str:
        if relative_to_l and self.anchor is not None and abs(i - self.anchor) <= 1:
            return layer_offset("l", i - self.anchor)
        if abs(i - self.depth) <= 1:
            return layer_offset("L", i - self.depth)
        return str(i)

    def name(self, key: str, relative_to_l: bool) -> str:
        m = _MEMBER.match(key)
        return f"{m.group(1)}[{self.index(int(m.group(2)), relative_to_l)}]" if m else key

    def expr(self, e: Expr, relative_to_l: bool) -> Expr:
        if e.op == "var":
            return Expr("var", (), self.name(e.attr, relative_to_l), e.pos)
        if e.op == "deriv":
            wrt, idx, layout = e.attr
            return Expr("deriv", tuple(self.expr(a, relative_to_l) for a in e.args), (self.name(wrt, relative_to_l), idx, layout))
        if e.op in ("eye", "ones", "zeros", "size"):
            return Expr(e.op, (), _map_dims(e.attr, lambda s: self.name(s, relative_to_l)))
        if not e.args:
            return e
        return Expr(e.op, tuple(self.expr(a, relative_to_l) for a in e.args), e.attr, e.pos)

    def shape(self, shape: tuple, relative_to_l: bool) -> tuple:
        return tuple(_map_dims(shape, lambda s: self.name(s, relative_to_l)))


def layer_offset(base: str, k: int) -> str:
    """``L``, ``L+1``, ``l-2``: a layer index written from its anchor."""
    return base if k == 0 else f"{base}{k:+d}"


def _map_dims(dims, rename):
    def one(d):
        if not isinstance(d, sympy.Basic):
            return d
        return d.subs({s: sympy.Symbol(rename(s.name), positive=True, integer=True) for s in d.free_symbols})

    return tuple(one(d) for d in dims) if isinstance(dims, tuple) else one(dims)


def _generalise(out: Derivation, mapper: IndexMap, generic: bool, deriv: Deriver):
    """Result at a general l; kept steps as recursion (general l, read at the lowest member)
    and base case (at L)."""
    r = out.result
    result = Line(mapper.expr(r.lhs, generic), mapper.expr(r.rhs, generic), mapper.shape(r.shape, generic),
                  ("?", "?") if generic else None, "result")
    bases, recursions = [], {}
    for line in out.steps:
        m = _MEMBER.match(line.lhs.attr[0])
        if m is None:
            bases.append(Line(mapper.expr(line.lhs, False), mapper.expr(line.rhs, False), mapper.shape(line.shape, False), None, "base"))
            continue
        family, index = m.group(1), int(m.group(2))
        if not _reads_family(line.rhs, family) or index == mapper.depth:
            bases.append(Line(mapper.expr(line.lhs, False), mapper.expr(line.rhs, False), mapper.shape(line.shape, False), None, "base"))
        elif family not in recursions or index < recursions[family][0]:
            recursions[family] = (index, line)
    steps = bases
    for index, line in recursions.values():
        at = IndexMap(index, mapper.depth)
        steps.append(Line(at.expr(line.lhs, True), at.expr(line.rhs, True), at.shape(line.shape, True), ("?", "?"), "recursion"))
    return result, steps


def _reads_family(e: Expr, base: str | None) -> bool:
    if base is None:
        return False
    return any(n.op == "deriv" and (m := _MEMBER.match(n.attr[0])) and m.group(1) == base for n in walk(e))


def instantiate(e: Expr, l: int | None, depth: int) -> Expr:
    """General names (``W[l+1]``, ``z[L]``) -> concrete members at one l and depth."""

    def name(text: str) -> str:
        m = _GENERAL.match(text)
        if not m:
            return text
        base, anchor, off = m.groups()
        value = (l if anchor == "l" else depth) + (int(off) if off else 0)
        return f"{base}[{value}]"

    def walk_(e: Expr) -> Expr:
        if e.op == "var":
            return Expr("var", (), name(e.attr), e.pos)
        if e.op == "deriv":
            wrt, idx, layout = e.attr
            return Expr("deriv", tuple(walk_(a) for a in e.args), (name(wrt), idx, layout))
        if e.op in ("eye", "ones", "zeros", "size"):
            return Expr(e.op, (), _map_dims(e.attr, name))
        if not e.args:
            return e
        return Expr(e.op, tuple(walk_(a) for a in e.args), e.attr, e.pos)

    return walk_(e)


def uses_l(e: Expr) -> bool:
    for n in walk(e):
        text = n.attr if n.op == "var" else n.attr[0] if n.op == "deriv" else None
        if isinstance(text, str) and (m := _GENERAL.match(text)) and m.group(2) == "l":
            return True
    return False


# --- verification --------------------------------------------------------------------


def verify_lines(out: Derivation, prepared: Prepared, models: list[Model], deriv: Deriver) -> None:
    """Check every displayed line as a claim at every size set (and every valid l)."""
    settings = prepared.spec.check
    lines = [*out.steps, *([out.chain] if out.chain else []), out.result]
    for line in lines:
        cases, done = 0, []
        for model in models:
            depth = model.depth or 0
            ls = range(0, depth + 2) if uses_l(line.lhs) or uses_l(line.rhs) else [None]
            for l in ls:
                lhs, rhs = instantiate(line.lhs, l, depth), instantiate(line.rhs, l, depth)
                if not names_exist(model, lhs) or not names_exist(model, rhs):
                    continue
                if l is not None and line.role == "recursion" and instantiate(line.lhs, l, depth) == instantiate(line.lhs, depth, depth):
                    continue
                confirm(model, lhs, rhs, settings, l)
                cases += 1
                if l is not None:
                    done.append((depth, l))
        if cases == 0:
            raise NotDerivable("no size set where the derived formula could be checked")
        if line.loop is not None and done:
            line.loop = _loop_text(done)


def confirm(model: Model, lhs: Expr, rhs: Expr, settings, l: int | None = None) -> None:
    """``lhs = rhs`` checked as a claim at one model by the exact and the numeric oracle, for every
    value of its free indices (index formulas); ``NotDerivable`` unless both confirm it."""
    try:
        same = S.same(model.shape(lhs), model.shape(rhs))
    except ShapeError:
        same = False
    if not same:
        raise NotDerivable(f"internal: derived formula has the wrong shape at {_where(model, l)}")
    problem = unconfirmed(model, lhs, rhs, settings)
    if problem:
        raise NotDerivable(f"derived formula not confirmed {problem} at {_where(model, l)}")


def unconfirmed(model: Model, lhs: Expr, rhs: Expr, settings=None) -> str | None:
    """Why the two sides are not confirmed equal (exact oracle, then float64) for every value of
    their free indices (index formulas), or None."""
    from ..core.indices import bound_indices, index_ranges
    from ..oracles.compare import exact_equal, numeric_error
    from ..oracles.points import exact_points

    settings = settings or model.spec.check
    ranges = index_ranges(model, lhs, rhs)
    for bound in bound_indices(lhs) | bound_indices(rhs):  # summed inside, not free
        ranges.pop(bound, None)
    exact = exact_points(model, lhs, rhs, ranges, EXACT_POINTS, settings.seed)
    if not all(exact_equal(a, b, False) for p in exact for a, b in zip(p.lhs, p.rhs)):
        return "by the exact oracle"
    numeric = _finite_points(model, lhs, rhs, settings.seed, ranges)
    # every entry of an index formula at once: the error is relative to the whole derivative, as for a matrix
    # as in check: both sides rounding noise at the network's scale (an exact 0 computed as 1e-17) count as equal
    err = max((0.0 if p.negligible(p.lhs, p.rhs) else numeric_error(p.lhs, p.rhs, False) for p in numeric), default=0.0)
    return None if err <= settings.rtol else f"numerically (rel err {err:.1e})"


def true_gradient(model: Model, of: Expr, wrt: str, layout: str = "denominator") -> Expr:
    """``d of / d wrt`` of a scalar, the chain rule inlined (arranged for ``layout``): the readable
    formula when the oracles confirm it equals the plainly simplified one, else that one."""
    program = gradient_program(model, of, wrt)
    raw = substitute(program.result, inline(program.steps, lambda e: e))
    if effective(layout, ()) == "numerator":  # the gradient has the shape of wrt; numerator reads it transposed
        raw = node("T", raw)
    plainly = simplify(raw, model.shape)
    knowledge = Knowledge.of(model)
    _name_helpers(model, (of, wrt), knowledge)
    tidy = readable(raw, knowledge)
    try:
        return tidy if tidy == plainly or unconfirmed(model, tidy, plainly) is None else plainly
    except (TensorcalcError, ArithmeticError):
        return plainly


MAX_HELPER_TERMS = 12  # helper gradients computed to be recognised in a correct formula


def _name_helpers(model: Model, target: tuple[Expr, str], knowledge: Knowledge) -> None:
    """Teach ``knowledge`` the readable value of every gradient the file names as a helper
    (``delta[l] := d C / d z[l]``), so a formula shows ``d C / d z[l]`` (printed by its name)
    where it would spell the value out. Nearest the loss first: an outer helper's value reads
    the inner one by name. Files in denominator layout only: there a helper has the shape of
    the tensor, as the terms inside the gradient do."""
    if effective(model.layout, ()) != "denominator":
        return
    order = {name: i for i, name in enumerate(model.defs)}
    terms = []
    for of, wrt in helper_names(model.prepared, model.layout):
        base = wrt[:-2] if wrt.endswith("[]") else None
        members = [k for k in model.shapes if (m := _MEMBER.match(k)) and m.group(1) == base] if base else [wrt]
        terms += [(var(of), member) for member in members if of in model.defs and (var(of), member) != target]
    for of, member in sorted(terms, key=lambda t: -order.get(t[1], -1))[:MAX_HELPER_TERMS]:
        try:
            program = gradient_program(model, of, member)
        except TensorcalcError:
            continue
        value = readable(substitute(program.result, inline(program.steps, lambda e: e)), knowledge)
        if value.op not in ("var", "num"):
            knowledge.definitions[value] = Expr("deriv", (of,), (member, (), "denominator"))


def _finite_points(model: Model, lhs: Expr, rhs: Expr, seed: int, ranges: dict | None = None) -> list:
    """``NUMERIC_TRIALS`` numeric networks without overflow (inf/nan), from a few more drawn."""
    import numpy as np

    from ..oracles.points import numeric_points

    with np.errstate(all="ignore"):
        drawn = numeric_points(model, lhs, rhs, ranges or {}, NUMERIC_TRIALS + OVERFLOW_REDRAWS, seed)
        finite = [p for p in drawn if all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in (*p.lhs, *p.rhs))]
    if not finite:
        raise NotDerivable(f"every numeric network overflowed (inf/nan) at {_where(model, None)}")
    return finite[:NUMERIC_TRIALS]


def _loop_text(done: list[tuple[int, int]]) -> tuple[str, str]:
    """The checked range of l, its end written relative to L when it always ends at L+k."""
    low = min(l for _d, l in done)
    ends = {max(l for d2, l in done if d2 == d) - d for d, _l in done}
    high = layer_offset("L", ends.pop()) if len(ends) == 1 else str(max(l for _d, l in done))
    return str(low), high


def names_exist(model: Model, e: Expr) -> bool:
    """Does every tensor and derivative term of ``e`` exist in this model (at its depth)?"""
    for n in walk(e):
        if n.op == "var" and n.attr not in model.shapes:
            return False
        if n.op == "deriv" and n.attr[0] not in model.shapes:
            return False
    return True


def _where(model: Model, l: int | None) -> str:
    parts = [f"{k}={v}" for k, v in model.sizes.items() if "[" not in k]
    if l is not None:
        parts.insert(0, f"l={l}")
    return ", ".join(parts) or "the file's sizes"


# --- names the file gave to derivative terms -------------------------------------------


def helper_names(prepared: Prepared, layout: str) -> dict[tuple[str, str], str]:
    """``delta[l] := d C / d z[l]`` -> {("C", "z"): "delta"} (family) or {("C", "r"): "g"}."""
    if layout != prepared.spec.layout:
        return {}
    out = {}
    for base, (key, raw) in prepared.helpers.items():
        if raw.op != "deriv" or raw.args[0].op != "name" or raw.args[1].op != "name":
            continue
        of, wrt = raw.args[0].attr, raw.args[1].attr
        wbase, groups, primes = split_name(wrt, raw.pos)
        if primes:
            continue
        if key.param and len(groups) == 1 and len(groups[0]) == 1 and groups[0][0].op == "name" and groups[0][0].attr == key.param:
            out[(of, wbase + "[]")] = base
        elif not key.param and not groups:
            out[(of, wbase)] = base
    return out


def with_helper_names(e: Expr, names: dict[tuple[str, str], str]) -> Expr:
    """Derivative terms the file named (``d C / d z[l+1]`` -> ``delta[l+1]``) shown by name."""
    if not names:
        return e
    if e.op == "deriv" and e.args[0].op == "var" and not e.attr[1]:
        of, wrt = e.args[0].attr, e.attr[0]
        m = re.match(r"^(.*)\[([^\[\]]*)\]$", wrt)
        if (of, wrt) in names:
            return var(names[(of, wrt)])
        if m and (of, m.group(1) + "[]") in names:
            return var(f"{names[(of, m.group(1) + '[]')]}[{m.group(2)}]")
        return e
    if not e.args:
        return e
    return Expr(e.op, tuple(with_helper_names(a, names) for a in e.args), e.attr, e.pos)


def parameters(prepared: Prepared) -> list[str]:
    """Tensors to differentiate by default: the file's ``parameters``, else declared names (``W[l]`` for families), data excluded."""
    if prepared.spec.parameters is not None:
        return [p.text for p in prepared.spec.parameters]
    out = []
    for decl in prepared.tensors:
        if decl.value.kind in ("onehot", "probability"):
            continue
        key = decl.key
        if key.param:
            out.append(f"{key.base}[{key.param}]")
        elif key.fixed is None:
            out.append(key.base)
        elif key.fixed.op == "num":
            out.append(f"{key.base}[{key.fixed.attr}]")
    return out
