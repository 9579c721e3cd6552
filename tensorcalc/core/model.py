"""A derivation file instantiated at concrete sizes (and depth): declarations, resolved
definitions, helper definitions, shapes.

``Prepared`` parses every text of a ``Spec`` once; ``Model`` resolves the raw trees
at one size set: layer families unrolled (``W[l]`` -> ``W[2]``), names bound to
tensors, definitions and functions, shapes inferred and checked.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import sympy

from ..document import Spec, Text
from ..errors import Pos, TensorcalcError
from ..suggest import did_you_mean
from ..frontends import parse as P
from . import shapes as S
from .expr import Expr, walk
from .notation import plain
from .functions import BUILTINS, SYMPY_FUNCTIONS, VARIADIC, FunctionTable, T
from .limits import check_entries, loop_values
from .names import refuse_builtin, split_name
from .resolve import Resolver, shape_of

TYPE_KINDS = {"scalar": 0, "vector": 1, "rowvector": 1, "matrix": 2, "onehot": (1, 2), "probability": (1, 2), "spd": 1}
FLAGS = {"positive", "symmetric"}


def is_symmetric(kind: str, flags: tuple[str, ...]) -> bool:
    """A symmetric input (``matrix(n, n) symmetric``, ``spd(n)``): drawn symmetric, and its
    gradient is the one on the space of symmetric matrices, sym(G) = (G + Gᵀ)/2."""
    return kind == "spd" or "symmetric" in flags


@dataclass(frozen=True)
class Key:
    """A declared name: ``W`` or a family member pattern ``W[l]`` / fixed ``a[0]``."""

    base: str
    param: str | None = None
    fixed: Expr | None = None
    pos: Pos | None = None


def parse_key(text: str, pos: Pos) -> Key:
    base, groups, primes = split_name(text, pos)
    if primes or len(groups) > 1:
        raise TensorcalcError(f"{text!r} is not a valid name to define", pos)
    if not groups:
        return Key(base, pos=pos)
    (group,) = groups
    if len(group) != 1:
        raise TensorcalcError(f"{text!r}: a layer index is one expression", pos)
    index = group[0]
    if index.op == "name" and not index.attr.isdigit():
        return Key(base, param=index.attr, pos=pos)
    return Key(base, fixed=index, pos=pos)


@dataclass(frozen=True)
class Declared:
    key: Key
    value: object  # ParsedType for tensors, raw Expr for definitions
    loop: P.ForClause | None
    pos: Pos


@dataclass(frozen=True)
class Claim:
    """A claim as written: kind, raw sides, loop, and the file entry it came from."""

    index: int
    kind: str
    lhs: Expr
    rhs: Expr
    loop: P.ForClause | None
    text: str
    pos: Pos
    expect: str
    name: str | None
    note_line: int | None
    latex: bool = False  # written in LaTeX: a second derivative there reads the same in every layout


class Prepared:
    """Every text of a Spec parsed once (no sizes yet)."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.functions = FunctionTable(self._functions(spec.functions))
        self.tensors = [self._declare(k, t, "type_line") for k, t in spec.tensors.items()]
        self.forward = [self._declare(k, t, "def_line") for k, t in spec.forward.items()]
        self.claims: list[Claim] = []
        for c in spec.claims:  # a LaTeX claim comes parsed by its frontend; plain text is parsed here
            parsed = c.parsed if c.parsed is not None else P.parse_claim(c.text.text, c.text.pos)
            read = [(parsed, c.text.text, c.text.pos)]
            for parsed, text, pos in read:
                _refuse_zero_denominator(parsed.lhs, parsed.rhs)
                self.claims.append(Claim(c.index, parsed.kind, parsed.lhs, parsed.rhs, parsed.loop, text, pos, c.expect, c.name, c.note_line,
                                         latex=c.parsed is not None))
        self.helpers = {}
        for claim in self.claims:
            if claim.kind == "helper":
                key = parse_key(claim.lhs.attr, claim.lhs.pos)
                refuse_builtin(key.base, "helper", claim.lhs.pos)
                self.helpers[key.base] = (key, claim.rhs)
        self.families = {d.key.base for d in self.tensors + self.forward if d.key.param or d.key.fixed}
        self.families |= {b for b, (k, _r) in self.helpers.items() if k.param}
        names = [d.key.base for d in self.tensors + self.forward]
        P.refuse_ambiguous_exponents([*spec.forward.values(), *(c.text for c in spec.claims if c.parsed is None)],
                                     {*names, *self.helpers})
        for name in names:
            if name in self.functions.formulas and name not in BUILTINS:
                raise TensorcalcError(f"{name!r} is both a function and a tensor", spec.tensors.get(name, spec.forward.get(name)).pos)

    def _declare(self, key_text: str, text: Text, start: str) -> Declared:
        key = parse_key(key_text, text.pos)
        refuse_builtin(key.base, "tensor" if start == "type_line" else "definition", text.pos)
        parsed = P.parse(text.text, start, text.pos)
        if start == "type_line":
            value, loop = parsed, parsed.loop
        else:
            value, loop = parsed
            _refuse_zero_denominator(value)
        if key.param and loop is None and key.param in self.spec.dims:  # A[L]: one member, at a size (the last layer)
            key = Key(key.base, fixed=P.parse(key.param, "dim_line", text.pos)[0], pos=key.pos)
        if key.param and (loop is None or loop.index != key.param):
            raise TensorcalcError(f"{key_text!r} needs ' for {key.param} in ...' at the end of its value", text.pos)
        return Declared(key, value, loop, text.pos)

    def _functions(self, functions: dict[str, Text]) -> dict[str, sympy.Expr]:
        formulas: dict[str, sympy.Expr] = {}
        for name, text in functions.items():
            refuse_builtin(name, "function", text.pos)
            if text.text.strip() in BUILTINS:
                formulas[name] = BUILTINS[text.text.strip()]
                continue
            if "->" not in text.text:
                known = ", ".join(sorted(BUILTINS))
                hint = did_you_mean(text.text.strip(), BUILTINS)
                raise TensorcalcError(f"function {name!r}: unknown built-in {text.text!r}{hint} (known: {known}; or write t -> formula)", text.pos)
            variable, body = P.parse(text.text, "lambda_line", text.pos)
            _refuse_zero_denominator(body)
            formulas[name] = _to_sympy(body, variable, {**BUILTINS, **formulas})
        return formulas


def _refuse_zero_denominator(*raw: Expr) -> None:
    """A literal 0 as a denominator is invalid input, whatever the sizes and points."""
    for tree in raw:
        for e in walk(tree):
            if e.op == "div" and e.args[1].op == "num" and e.args[1].attr == 0:
                raise TensorcalcError("division by zero (the denominator is the number 0)", e.args[1].pos or e.pos)


def _to_sympy(raw: Expr, variable: str, known: dict[str, sympy.Expr]) -> sympy.Expr:
    """A one-variable formula (raw tree) -> sympy expression in ``t``; built, never parsed."""
    op = raw.op
    if op == "num":
        return sympy.Rational(raw.attr.numerator, raw.attr.denominator)
    if op == "name":
        if raw.attr == variable:
            return T
        if raw.attr in ("e",):
            return sympy.E
        raise TensorcalcError(f"unknown name {raw.attr!r} in function formula (the variable is {variable!r})", raw.pos)
    args = [_to_sympy(a, variable, known) for a in raw.args]
    simple = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "matmul": lambda a, b: a * b,
              "hadamard": lambda a, b: a * b, "div": lambda a, b: a / b, "pow": lambda a, b: a**b, "neg": lambda a: -a}
    if op in simple:
        return simple[op](*args)
    if op == "call" and len(args) == 1:
        name = raw.attr.rstrip("'′")
        order = len(raw.attr) - len(name)
        if name in SYMPY_FUNCTIONS:
            return sympy.diff(SYMPY_FUNCTIONS[name](T), T, order).subs(T, args[0])
        if name in known:
            return sympy.diff(known[name], T, order).subs(T, args[0])
    if op == "call" and len(args) > 1 and raw.attr in VARIADIC:
        return SYMPY_FUNCTIONS[raw.attr](*args)
    raise TensorcalcError(f"not allowed in a function formula: {plain(raw)}", raw.pos)


def _dim_symbol(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, positive=True, integer=True)


class Model:
    """The file at one size set: leaves, ordered definitions, shapes, layout.

    Read-only once built (its mappings are views, setting an attribute raises): claims,
    oracles and chain-rule programs share one model, so none of them may change it."""

    _frozen = False

    def __init__(self, prepared: Prepared, sizes: dict[str, int]):
        self.prepared = prepared
        self.spec = prepared.spec
        self.layout = self.spec.layout
        self.functions = prepared.functions
        self.sizes = MappingProxyType(dict(sizes))
        self.depth = sizes.get("L")
        self.scope = MappingProxyType({k: v for k, v in sizes.items() if "[" not in k})
        self.leaves: dict[str, tuple[str, tuple, tuple[str, ...]]] = {}
        self.defs: dict[str, Expr] = {}
        self.shapes: dict[str, tuple] = {}
        self._size_memo: dict = {}  # sympy substitution is slow; sizes are few
        for decl in prepared.tensors:
            for key, scope in self._expand(decl):
                kind, shape, flags = self._type(decl.value, scope, decl.pos)
                self.leaves[key] = (kind, shape, flags)
                self.shapes[key] = shape
        raw_defs = {}
        for decl in prepared.forward:
            for key, scope in self._expand(decl):
                if key in self.leaves or key in raw_defs:
                    raise TensorcalcError(f"{key!r} is defined twice", decl.pos)
                raw_defs[key] = (decl.value, scope, decl.pos)
        for key in self._order(raw_defs):
            raw, scope, pos = raw_defs[key]
            try:
                self.defs[key] = self.resolve(raw, scope)
            except RecursionError:
                raise TensorcalcError("expression nested too deeply", pos) from None
            self.shapes[key] = self.shape(self.defs[key])
        self.loss = self._loss()
        self._check_claim_loops()
        self.leaves, self.defs = MappingProxyType(self.leaves), MappingProxyType(self.defs)
        self.shapes = MappingProxyType(self.shapes)
        self._frozen = True

    def __setattr__(self, name: str, value) -> None:
        if self._frozen:
            raise AttributeError(f"a Model is read-only once built (setting {name!r})")
        super().__setattr__(name, value)

    # --- declarations
    def _range(self, loop: P.ForClause, scope: dict) -> range:
        return loop_values(loop.index, *self._bounds(loop, scope), loop.lo.pos)

    def _bounds(self, loop: P.ForClause, scope: dict) -> tuple[int, int]:
        return self.eval_int(loop.lo, scope), self.eval_int(loop.hi, scope)

    def _check_claim_loops(self) -> None:
        """Each claim is checked for every value of its loop: refuse an over-long loop now,
        before any claim is checked (an unknown bound is reported with its claim)."""
        for claim in self.prepared.claims:
            if claim.loop is None:
                continue
            try:
                bounds = self._bounds(claim.loop, self.scope)
            except TensorcalcError:
                continue
            loop_values(claim.loop.index, *bounds, claim.loop.lo.pos)

    def _expand(self, decl: Declared):
        key = decl.key
        if key.param:
            for i in self._range(decl.loop, self.scope):
                yield f"{key.base}[{i}]", {**self.scope, key.param: i}
        elif key.fixed is not None:
            yield f"{key.base}[{self.eval_int(key.fixed, self.scope)}]", self.scope
        else:
            yield key.base, self.scope

    def _type(self, parsed: P.ParsedType, scope: dict, pos: Pos):
        kind = parsed.kind
        if kind not in TYPE_KINDS:
            raise TensorcalcError(f"unknown tensor type {kind!r} (known: {', '.join(TYPE_KINDS)})", pos)
        arity = TYPE_KINDS[kind]
        allowed = arity if isinstance(arity, tuple) else (arity,)
        if len(parsed.dims) not in allowed:
            raise TensorcalcError(f"{kind} takes {' or '.join(map(str, allowed))} sizes, got {len(parsed.dims)}", pos)
        for flag in parsed.flags:
            if flag not in FLAGS:
                raise TensorcalcError(f"unknown tensor flag {flag!r} (known: {', '.join(sorted(FLAGS))})", pos)
        dims = tuple(self.dim(d, scope) for d in parsed.dims)
        if "symmetric" in parsed.flags and (kind != "matrix" or not S.same((dims[0],), (dims[1],))):
            raise TensorcalcError(f"only a square matrix can be symmetric: write matrix(n, n) symmetric (or spd(n)), not {kind}", pos)
        check_entries(tuple(self.size(d) for d in dims), f"{kind}({', '.join(map(str, dims))})", pos)
        if kind == "rowvector":
            return kind, (S.ONE, dims[0]), parsed.flags
        if kind == "spd":
            return kind, (dims[0], dims[0]), parsed.flags
        if len(dims) == 1 and kind != "scalar":
            dims = (dims[0], S.ONE)
        return kind, dims, parsed.flags

    def _order(self, raw_defs: dict) -> list[str]:
        """Definitions in dependency order (families may be declared in any order)."""
        deps = {}
        for key, (raw, scope, pos) in raw_defs.items():
            deps[key] = {n for n in self._raw_names(raw, scope) if n in raw_defs and n != key}
            if key in self._raw_names(raw, scope):
                raise TensorcalcError(f"{key!r} is defined in terms of itself", pos)
        order, state = [], {}

        def visit(k, chain):
            if state.get(k) == "done":
                return
            if state.get(k) == "active":
                cycle = " -> ".join(chain[chain.index(k):] + [k])
                raise TensorcalcError(f"cycle in definitions: {cycle}", raw_defs[k][2])
            state[k] = "active"
            for d in sorted(deps[k], key=list(raw_defs).index):
                visit(d, chain + [k])
            state[k] = "done"
            order.append(k)

        for k in raw_defs:
            visit(k, [])
        return order

    def _raw_names(self, raw: Expr, scope: dict) -> set[str]:
        names = set()
        for n in _raw_walk(raw):
            if n.op == "name":
                base, groups, _p = split_name(n.attr, n.pos)
                if base in self.prepared.families and groups and len(groups[0]) == 1:
                    try:
                        names.add(f"{base}[{self.eval_int(groups[0][0], scope)}]")
                    except TensorcalcError:
                        pass
                names.add(base)
        return names

    def _loss(self) -> str | None:
        if self.spec.loss is not None:
            text = self.spec.loss
            base, groups, _ = split_name(text.text, text.pos)
            key = f"{base}[{self.eval_int(groups[0][0], self.scope)}]" if groups else base
            if key not in self.defs:
                raise TensorcalcError(f"loss {text.text!r} is not a forward definition", text.pos)
            return key
        scalars = [k for k in self.defs if S.is_scalar(self.shapes[k])]
        return scalars[-1] if scalars else None

    # --- integers and dimensions
    def eval_int(self, raw: Expr, scope: dict) -> int:
        if raw.op == "num" and raw.attr.denominator == 1:
            return int(raw.attr)
        if raw.op == "name" and raw.attr in scope:
            return int(scope[raw.attr])
        ops = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "matmul": lambda a, b: a * b, "mul": lambda a, b: a * b}
        if raw.op in ops:
            return ops[raw.op](*(self.eval_int(a, scope) for a in raw.args))
        if raw.op == "neg":
            return -self.eval_int(raw.args[0], scope)
        raise TensorcalcError(f"{plain(raw)!r} is not a known whole number here", raw.pos)

    def dim(self, raw: Expr, scope: dict) -> sympy.Expr:
        """A size expression (``n[l-1]``, ``d + 1``) -> sympy expression in dimension symbols."""
        if raw.op == "num":
            return sympy.Integer(int(raw.attr))
        if raw.op == "name":
            if raw.attr in scope and raw.attr not in self.sizes:
                return sympy.Integer(scope[raw.attr])
            base, groups, _p = split_name(raw.attr, raw.pos)
            name = f"{base}[{self.eval_int(groups[0][0], scope)}]" if groups else base
            if name not in self.sizes:
                raise TensorcalcError(f"unknown dimension {raw.attr!r} (declare it under 'dims')", raw.pos)
            return _dim_symbol(name)
        ops = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "matmul": lambda a, b: a * b, "mul": lambda a, b: a * b}
        if raw.op in ops:
            return ops[raw.op](*(self.dim(a, scope) for a in raw.args))
        raise TensorcalcError(f"{plain(raw)!r} is not a size", raw.pos)

    def size(self, d: sympy.Expr) -> int:
        memo = self._size_memo
        if d in memo:
            return memo[d]
        value = d.subs({_dim_symbol(k): v for k, v in self.sizes.items()}) if not d.is_Integer else d
        if not value.is_Integer or int(value) < 1:
            raise TensorcalcError(f"size {d} is not a positive whole number at sizes {dict(self.sizes)}")
        memo[d] = int(value)
        return memo[d]

    def numeric_shape(self, shape: tuple) -> tuple[int, ...]:
        return tuple(self.size(d) for d in shape)

    # --- names in expressions
    def resolve(self, raw: Expr, scope: dict) -> Expr:
        return Resolver(self, scope).resolve(raw)

    def shape(self, expr: Expr) -> tuple:
        return shape_of(self, expr)


def _raw_walk(raw: Expr):
    yield raw
    for a in raw.args:
        yield from _raw_walk(a)
