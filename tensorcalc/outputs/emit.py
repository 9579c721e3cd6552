"""numpy code from the derived formulas: one function computing the forward pass and the
gradient of the loss with respect to every parameter, in the file's layout.

The code is straight-line: forward definitions, then the reverse-mode steps of
``derive.gradient_program`` after ``simplify`` (each step once, shared by all parameters).
Every product is a matrix product of two factors; ``diag(v)`` next to a matrix becomes a row
or column scaling; a 3-tensor is refused. Layer families are unrolled at one depth.
The package only writes this text; it never executes it.
"""
from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

import sympy

from ..core import shapes as S
from ..core.derive import gradient_program
from ..core.expr import Expr, free_vars, node, substitute, var, walk
from ..core.functions import CODE, Logistic, T, UnknownFunction, formula_program, stable_form
from ..core.layouts import effective
from ..core.model import Model, Prepared
from ..core.resolve import shape_of
from ..core.readable import inline as readable_inline
from ..core.simplify import simplify
from ..core.sizes import size_sets
from ..errors import TensorcalcError
from ..explain.formulas import NotDerivable, parameters
from .shared_values import forward_values, label, repeated
from .stable import LogCancellation

_SIGMA = sympy.Symbol("sigma")
_MEMBER = re.compile(r"^(.*)\[(-?\d+)\]$")
# Names the generated module must keep for itself: no variable may shadow them.
_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | {"np", "t", "_softmax"}


def identifier(name: str) -> str:
    """``W[2]`` -> ``W_2``; any name -> a valid Python identifier that Python reads as written
    (unchanged by NFKC normalisation), not a keyword, builtin or name the module uses itself."""
    out = re.sub(r"\[(-?\d+)\]", r"_\1", name)
    out = "".join(c if ("a" + c).isidentifier() else "_" for c in out)
    if unicodedata.normalize("NFKC", out) != out:
        out = "".join(c if c.isascii() else "_" for c in out)
    if not out or out[0].isdigit() or out in _RESERVED or out.startswith("__"):
        out = "v_" + out
    return out


def _docstring(text: str) -> str:
    """A triple-quoted literal of ``text`` (a file name, a loss name), whatever it contains:
    escaped as ``repr`` escapes, with every quote escaped so nothing can close it early."""
    literal = repr(text)
    inner = literal[1:-1]
    if literal[0] == "'":  # repr leaves double quotes as they are
        inner = inner.replace('"', '\\"')
    return f'"""{inner}"""'


class _Names:
    """Distinct identifiers for the generated code: two different names never share one."""

    def __init__(self, taken: set[str]):
        self.taken = set(taken)
        self.given: dict[tuple, str] = {}

    def __call__(self, key: tuple, name: str) -> str:
        """The identifier of ``key`` (what it names), made from ``name`` on first use."""
        if key not in self.given:
            wanted = identifier(name)
            while wanted in self.taken:
                wanted += "_"
            self.taken.add(wanted)
            self.given[key] = wanted
        return self.given[key]


def deepest_model(prepared: Prepared) -> Model:
    sets = size_sets(prepared.spec.dims, prepared.spec.check.seed)
    return Model(prepared, max(sets, key=lambda s: s.get("L", 0)))


def emit_numpy(prepared: Prepared, layout: str | None = None, model: Model | None = None, function: str = "gradients",
               wrt: list[str] | None = None) -> str:
    """The module's source; ``wrt``: the tensors whose gradients it returns (``W[l]`` for a family;
    default: every parameter, data included)."""
    model = model or deepest_model(prepared)
    layout = layout or prepared.spec.layout
    return _Emitter(model, layout).module(prepared, function, wrt)


class _Emitter:
    def __init__(self, model: Model, layout: str):
        self.model = model
        self.layout = layout
        self.cache: dict = {}
        self.program_shapes: dict[str, tuple] = {}  # adjoints of the loss: one shape each, whatever the program
        self.functions: dict[tuple[str, int], str] = {}
        self.helpers: set[str] = set()
        self.dims: dict[sympy.Symbol, str] = {}
        self.names = _Names(_RESERVED)
        self.read: set[str] = set()  # names the generated code reads
        self.backward = False  # in the backward pass, σ'(z) reads the forward σ(z) when there is one
        self.forward_values: dict[Expr, tuple[str, bool]] = {}  # backward pass: values read from forward variables
        self.temps: dict[Expr, str] = {}  # backward pass: repeated values -> the key of their temporary
        self.uses: dict[str, int] = {}  # reads of each temporary in the lines written so far
        self.logistic_of = {d.args[0]: k for k, d in model.defs.items()
                            if d.op == "apply" and d.attr[1] == 0 and stable_form(model.functions.formula(d.attr[0])) == Logistic(T)}

    def shape(self, e: Expr) -> tuple:
        return shape_of(self.model, e, self.cache, self.program_shapes)

    def _as_given(self, name: str, gradient: str) -> str:
        """A scalar input's gradient shaped as the caller passed the scalar (a float, a 0-d or a 1×1 array)."""
        if name in self.model.leaves and S.is_scalar(self.model.leaves[name][1]):
            return f"np.reshape({gradient}, np.shape({self.variable(name)}))"
        return gradient

    # --- the module
    def module(self, prepared: Prepared, function: str, wrt: list[str] | None = None) -> str:
        model = self.model
        loss = model.loss
        if loss is None:
            raise NotDerivable("the file defines no scalar loss")
        names = self._parameter_keys(wrt or parameters(prepared))
        self.names.taken.add(function)
        sig = ", ".join(self.variable(k) for k in model.leaves)  # first, so arguments keep their plain names
        for k in model.defs:
            self.variable(k)  # then the forward pass, in its order
        steps, temps, results = self._print_backward(*self._backward(loss, names))
        self.backward = False
        forward = []
        read = set().union(*(r for _t, r, _d in steps), *(r for _t, r, _d in temps.values()), *(r for _n, _c, r in results))
        for k in self._needed(read):
            self.read = set()
            forward.append((f"{self.variable(k)} = {self.code(model.defs[k])}", self.read, k))
        lines = _with_temporaries(forward + steps, temps, [r for _n, _c, r in results])
        body = _schedule(lines, [(self.names(("gradient", n), f"d{loss}_d{n}"), code, r) for n, code, r in results])
        body.append("return {")
        body += [f"    {n!r}: {self._as_given(n, self.names(('gradient', n), ''))}," for n, _c, _r in results]
        body.append("}")
        dims = [f"{self.names(('dim', str(sym)), str(sym))} = {where}" for sym, where in self.dims.items()]
        header = [
            _docstring(f"Generated by tensorcalc from {prepared.spec.path}: gradients of {loss} in {self.layout} layout."),
            "import numpy as np",
            "",
        ]
        for (fn, order), code_name in self.functions.items():
            code = self._function_code(fn, order)
            if "np.exp(-" in code and stable_form(model.functions.formula(fn, order)).has(Logistic):
                # σ(-800) = 1/(1 + inf) = 0 is the right value: the overflow of exp is expected
                header += [f"def {code_name}(t):", "    with np.errstate(over='ignore'):", f"        return {code}", ""]
            else:
                header += [f"def {code_name}(t):", f"    return {code}", ""]
        if "softmax" in self.helpers:
            header += ["def _softmax(z):", "    e = np.exp(z - np.max(z, axis=0, keepdims=True))", "    return e / np.sum(e, axis=0, keepdims=True)", ""]
        depth = f" (depth L={model.depth})" if model.depth is not None else ""
        doc = "    " + _docstring(f"d {loss} / d each parameter{depth}; arrays as declared (a vector is n×1).")
        lines = header + [f"def {function}({sig}):", doc] + ["    " + ln for ln in dims + body]
        return "\n".join(lines) + "\n"

    def _needed(self, read: set[str]) -> list[str]:
        """Forward definitions the backward pass reads, with what they read, in forward order
        (the loss value itself is not returned, so it is not computed)."""
        needed = set(read)
        for k in reversed(list(self.model.defs)):
            if k in needed:
                needed |= free_vars(self.model.defs[k])
        return [k for k in self.model.defs if k in needed]

    def _parameter_keys(self, wanted: list[str]) -> list[str]:
        keys = []
        for p in wanted:
            base = p.split("[")[0]
            if "[" in p and not re.search(r"\[\d+\]$", p):
                keys += sorted((k for k in self.model.leaves if (m := _MEMBER.match(k)) and m.group(1) == base), key=_index)
            elif p in self.model.leaves:
                keys.append(p)
        return keys

    def _backward(self, loss: str, names: list[str]):
        """Shared adjoint steps (each once, reverse order) and each parameter's gradient."""
        model = self.model
        programs = {n: gradient_program(model, var(loss), n) for n in names}
        order = {name: i for i, name in enumerate(reversed(list(model.defs)))}
        steps: dict[str, Expr] = {}
        for prog in programs.values():
            self.program_shapes.update(prog.shapes)
            for adj, expr in prog.steps:
                steps.setdefault(adj, expr)
        lines: list[tuple[str, Expr]] = []
        stable = LogCancellation(model.functions, dict(model.defs), self.shape)

        def tidy(e: Expr) -> Expr:
            return stable.rewrite(simplify(e, self.shape))

        def seen_as(adj: str, value: Expr) -> Expr:
            if value.op in ("num", "var") or stable.has_log_derivative(value):  # log'(u): its reader cancels it against u
                return value
            lines.append((adj, value))
            return var(adj)

        ordered = sorted(steps, key=lambda a: order[a[a.index("]") + 1 :]])
        inline = readable_inline(((adj, steps[adj]) for adj in ordered), tidy, seen_as)
        numerator = effective(self.layout, ()) == "numerator"
        results = []
        for name, prog in programs.items():
            gradient = tidy(substitute(prog.result, inline))
            if numerator:
                gradient = simplify(node("T", gradient), self.shape)
            results.append((name, gradient))
        return lines, results

    def _print_backward(self, steps: list[tuple[str, Expr]], results: list[tuple[str, Expr]]):
        """The backward lines, each value computed once: a value the forward pass holds is read
        from its variable, a repeated one goes to a temporary (kept only if read twice or more).
        Returns (step lines, temporary lines by key, gradients) as ``_schedule`` takes them."""
        self.backward = True
        self.forward_values = forward_values(self.model.defs)
        candidates = repeated([e for _a, e in steps] + [g for _n, g in results])
        self.temps = {e: f"@shared[{i}]" for i, e in enumerate(candidates)}
        self.temps.update(_whole_steps(steps, self.temps))  # held by that step's own variable
        while True:
            self.uses = {}
            temp_lines = {key: self._line(lambda k=key, e=e: self._temporary(k, e), self._compute, e, key)
                          for e, key in self.temps.items() if key.startswith("@shared[")}
            lines = [self._line(lambda a=adj: self._adjoint(a), self._compute if self.temps.get(e) == adj else self.code, e, adj)
                     for adj, e in steps]
            gradients = []
            for name, gradient in results:
                self.read = set()
                gradients.append((name, self.code(gradient), self.read))
            kept = {e: key for e, key in self.temps.items() if self.uses.get(key, 0) >= 2 or not key.startswith("@shared[")}
            if len(kept) == len(self.temps):
                return lines, temp_lines, gradients
            self.temps = kept

    def _line(self, target, write, e: Expr, defines: str) -> tuple[str, set, str]:
        """(``target() = write(e)``, names read, ``defines``); the value is written first so the
        functions it calls take their names before the variable does."""
        self.read = set()
        value = write(e)
        return f"{target()} = {value}", self.read, defines

    def _temporary(self, key: str, e: Expr) -> str:
        if ("shared", key) not in self.names.given:
            spell = lambda n: self._adjoint(n) if n.startswith("@adj[") else self.variable(n)  # noqa: E731
            wanted, count = identifier(label(e, spell)), 1
            while (wanted if count == 1 else f"{wanted}_{count}") in self.names.taken:
                count += 1
            return self.names(("shared", key), wanted if count == 1 else f"{wanted}_{count}")
        return self.names(("shared", key), "")

    def _shared(self, e: Expr) -> str | None:
        """The variable already holding the value of ``e`` in the backward pass, if any."""
        if not self.backward:
            return None
        if e in self.forward_values:
            name, transposed = self.forward_values[e]
            self.read.add(name)
            return self.variable(name) + (".T" if transposed else "")
        key = self.temps.get(e)
        if key is None:
            return None
        self.read.add(key)
        self.uses[key] = self.uses.get(key, 0) + 1
        return self._temporary(key, e) if key.startswith("@shared[") else self._adjoint(key)

    def _adjoint(self, adj: str) -> str:
        of, name = adj[len("@adj[") :].split("]", 1)
        return self.names(("adjoint", adj), f"d{of}_d{name}")

    # --- expressions
    def code(self, e: Expr) -> str:
        shared = self._shared(e)
        return shared if shared is not None else self._compute(e)

    def _compute(self, e: Expr) -> str:
        """``e`` written out at the top (its parts may still be read from variables)."""
        method = getattr(self, "_" + e.op, None)
        if method is None:
            raise NotDerivable(f"cannot write {e.op!r} as numpy code in matrix form")
        return method(e)

    def _var(self, e):
        self.read.add(e.attr)
        return self._adjoint(e.attr) if e.attr.startswith("@adj[") else self.variable(e.attr)

    def variable(self, name: str) -> str:
        return self.names(("var", name), name)

    def _num(self, e):
        return repr(float(e.attr))

    def _size(self, e):
        return self.dim(e.attr)

    def _binary(self, e, op):
        a, b = e.args
        return f"({self.code(a)} {op} {self.code(b)})"

    def _add(self, e):
        return self._broadcast(e, "+")

    def _sub(self, e):
        return self._broadcast(e, "-")

    def _broadcast(self, e, op):
        """``Z + b 1ᵀ``: numpy adds the column ``b`` to every column; no ones matrix, no outer product."""
        a, b = (self._spread(x) for x in e.args)
        return f"({a} {op} {b})"

    def _spread(self, e) -> str:
        ones = e.op == "matmul" and (e.args[1].op == "ones" or (e.args[1].op == "T" and e.args[1].args[0].op == "ones"))
        if ones and e.args[0].op != "ones":
            column, row = self.shape(e.args[0]), self.shape(e.args[1])
            if len(column) == 2 and column[1] == 1 and len(row) == 2 and row[0] == 1:
                return self.code(e.args[0])
        return self.code(e)

    def _hadamard(self, e):
        return self._binary(e, "*")

    def _mul(self, e):
        return self._binary(e, "*")

    def _div(self, e):
        return self._binary(e, "/")

    def _neg(self, e):
        return f"(-{self.code(e.args[0])})"

    def _matmul(self, e):
        a, b = e.args
        sa, sb = self.shape(a), self.shape(b)
        if len(sa) > 2 or len(sb) > 2:
            raise NotDerivable("a 3-tensor is left in the formula; no matrix form to emit")
        if S.is_scalar(sa) or S.is_scalar(sb):
            return self._binary(e, "*")
        if a.op == "ones" and len(sa) == 2 and sa[0] == 1:  # 1ᵀ X: column sums, no ones vector
            return f"np.sum({self.code(b)}, axis=0, keepdims=True)"
        if b.op == "ones" and len(sb) == 2 and sb[1] == 1:  # X 1: row sums
            return f"np.sum({self.code(a)}, axis=1, keepdims=True)"
        if b.op == "diag" and S.is_vector(self.shape(b.args[0])):  # A diag(v): scale columns
            return f"({self.code(a)} * {self._as_row(b.args[0])})"
        if a.op == "diag" and S.is_vector(self.shape(a.args[0])):  # diag(v) B: scale rows
            return f"({self._as_column(a.args[0])} * {self.code(b)})"
        return self._binary(e, "@")

    def _as_row(self, v):
        return self.code(v) if self.shape(v)[0] == 1 else f"{self.code(v)}.T"

    def _as_column(self, v):
        return self.code(v) if self.shape(v)[1] == 1 else f"{self.code(v)}.T"

    def _T(self, e):
        return f"{self.code(e.args[0])}.T"

    def _diag(self, e):
        (v,) = e.args
        if S.is_vector(self.shape(v)):
            return f"np.diagflat({self.code(v)})"
        return f"np.diag({self.code(v)}).reshape(-1, 1)"

    def _apply(self, e):
        fn, order = e.attr
        reused = self._from_forward(fn, order, e.args[0])
        if reused is not None:
            return reused
        key = (fn, order)
        if key not in self.functions:
            self.functions[key] = self.names(("function", fn, order), fn + ("" if order == 0 else f"_d{order}"))
        return f"{self.functions[key]}({self.code(e.args[0])})"

    def _from_forward(self, fn: str, order: int, arg: Expr) -> str | None:
        """σ'(z) = a (1 - a) when the forward pass computed a = σ(z): no exponential twice."""
        if not self.backward or arg not in self.logistic_of:
            return None
        stable = stable_form(self.model.functions.formula(fn, order))
        in_sigma = stable.subs(Logistic(T), _SIGMA)
        if in_sigma.has(T) or not in_sigma.has(_SIGMA):
            return None
        self.read.add(self.logistic_of[arg])
        sigma = self.variable(self.logistic_of[arg])
        if sympy.expand(in_sigma - _SIGMA * (1 - _SIGMA)) == 0:
            return f"({sigma} * (1.0 - {sigma}))"  # as written by hand, one multiplication fewer
        return formula_program(in_sigma.subs(_SIGMA, T), CODE)(sigma, None)

    def _pow(self, e):
        base, k = e.args
        if base.op == "norm" and k.attr == 2:
            return f"np.sum({self.code(base.args[0])} ** 2)"
        return f"({self.code(base)} ** {float(k.attr)!r})"

    def _sum_axis(self, e):
        return f"np.sum({self.code(e.args[0])}, axis={e.attr - 1}, keepdims=True)"

    def _mean(self, e):
        if e.attr is None:
            return f"np.mean({self.code(e.args[0])})"
        return f"np.mean({self.code(e.args[0])}, axis={e.attr - 1}, keepdims=True)"

    def _max(self, e):
        return f"np.max({self.code(e.args[0])})"

    def _argmax(self, e):
        x = self.code(e.args[0])
        return f"(({x} == np.max({x})) / np.sum({x} == np.max({x})))"

    def _kron(self, e):
        return f"np.kron({self.code(e.args[0])}, {self.code(e.args[1])})"

    def _vec(self, e):
        return f"{self.code(e.args[0])}.T.reshape(-1, 1)"

    def _mpow(self, e):
        return f"np.linalg.matrix_power({self.code(e.args[0])}, {int(e.args[1].attr)})"

    def _inv(self, e):
        return f"np.linalg.inv({self.code(e.args[0])})"

    def _det(self, e):
        return f"np.linalg.det({self.code(e.args[0])})"

    def _logdet(self, e):
        return f"np.linalg.slogdet({self.code(e.args[0])})[1]"

    def _norm(self, e):
        return f"np.sqrt(np.sum({self.code(e.args[0])} ** 2))"

    def _sum(self, e):
        return f"np.sum({self.code(e.args[0])})"

    def _trace(self, e):
        return f"np.trace({self.code(e.args[0])})"

    def _softmax(self, e):
        self.helpers.add("softmax")
        return f"_softmax({self.code(e.args[0])})"

    def _eye(self, e):
        return f"np.eye({self.dim(e.attr)})"

    def _ones(self, e, fn="np.ones"):
        return f"{fn}(({', '.join(self.dim(d) for d in e.attr)}))"

    def _zeros(self, e):
        return self._ones(e, "np.zeros")

    def _vstack(self, e):
        return f"np.vstack([{', '.join('np.atleast_2d(' + self.code(a) + ')' for a in e.args)}])"

    def _hstack(self, e):
        return f"np.hstack([{', '.join('np.atleast_2d(' + self.code(a) + ')' for a in e.args)}])"

    def _slice(self, e):
        axis, start, stop = e.attr
        lo = "" if start == 0 else self.dim(start)
        part = f"{lo}:{self.dim(stop)}"
        return f"{self.code(e.args[0])}[{part}]" if axis == 0 else f"{self.code(e.args[0])}[:, {part}]"

    def dim(self, d) -> str:
        """A size expression, read from the shapes of the arguments."""
        d = sympy.Integer(int(d)) if not isinstance(d, sympy.Basic) else d
        if d.is_Integer:
            return str(int(d))
        for sym in d.free_symbols:
            if sym not in self.dims:
                self.dims[sym] = self._locate(sym)
        return str(d.subs({s: sympy.Symbol(self.names(("dim", str(s)), str(s))) for s in d.free_symbols}))

    def _locate(self, sym) -> str:
        for name, (_kind, shape, _flags) in self.model.leaves.items():
            for axis, size in enumerate(shape):
                if size == sym:
                    return f"{self.variable(name)}.shape[{axis}]"
        raise NotDerivable(f"size {sym} is not the size of any argument")

    # --- elementwise functions: sympy formula in t -> numpy code
    def _function_code(self, fn: str, order: int) -> str:
        formula = self.model.functions.formula(fn, order)
        if not formula.free_symbols:
            return f"np.full(np.shape(t), {float(formula)!r})"
        try:
            return formula_program(stable_form(formula), CODE)("t", None)
        except UnknownFunction as err:
            raise TensorcalcError(f"no numpy form: {err}") from None


def _schedule(lines: list[tuple[str, set, str]], gradients: list[tuple[str, str, set]]) -> list[str]:
    """Straight-line code: each gradient right after the last line it reads, and every array
    dropped (``del``) after its last use, so the live arrays are those of hand-written backprop.
    ``lines``: (text, names read, name defined); ``gradients``: (variable, code, names read)."""
    defined_at = {d: i for i, (_t, _r, d) in enumerate(lines)}
    last_use: dict[str, int] = {}
    for i, (_t, reads, _d) in enumerate(lines):
        for n in reads:
            last_use[n] = i
    placed: dict[int, list[str]] = {}
    for variable, code, reads in gradients:
        at = max((defined_at[n] for n in reads if n in defined_at), default=-1)
        placed.setdefault(at, []).append(f"{variable} = {code}")
        for n in reads:
            last_use[n] = max(last_use.get(n, -1), at)
    out = placed.get(-1, [])
    for i, (text, _r, _d) in enumerate(lines):
        out.append(text)
        out += placed.get(i, [])
        dead = [lines[defined_at[n]][0].split(" = ", 1)[0] for n, last in last_use.items() if last == i and n in defined_at]
        if dead:
            out.append(f"del {', '.join(sorted(dead))}")
    return out


def _whole_steps(steps: list[tuple[str, Expr]], temps: dict[Expr, str]) -> dict[Expr, str]:
    """Repeated values first met as the whole value of a backward step: value -> that step's
    adjoint (the step computes it; no line reads it earlier)."""
    whole: dict[Expr, str] = {}
    seen: set[Expr] = set()
    for adj, e in steps:
        if e in temps and e not in seen and e not in whole:
            whole[e] = adj
        seen.update(walk(e))
    return whole


def _with_temporaries(lines: list[tuple[str, set, str]], temps: dict[str, tuple[str, set, str]],
                      gradients: list[set]) -> list:
    """``lines`` with each temporary (key -> line) just before the first line that reads it.
    One read only by gradients (``gradients``: the names each reads) goes as late as its first
    reader allows: after what it reads and after the other lines that reader waits for."""
    out: list[tuple[str, set, str]] = []
    placed: set[str] = set()
    for line in lines:
        for key in _temporaries_read(line[1], temps):
            if key not in placed:
                placed.add(key)
                out.append(temps[key])
        out.append(line)

    def after(reads: set) -> int:
        return max((i for i, (_t, _r, d) in enumerate(out) if d in reads), default=-1)

    for key in _temporaries_read(set(temps), temps):
        if key not in placed:
            placed.add(key)
            waits = [after(r - set(temps)) for r in gradients if key in r]
            out.insert(max(after(temps[key][1]), min(waits, default=-1)) + 1, temps[key])
    return out


def _temporaries_read(reads: set, temps: dict[str, tuple[str, set, str]]) -> list[str]:
    """The temporaries ``reads`` needs, directly or through other temporaries, each after those it reads."""
    needed: set[str] = set()
    todo = [r for r in reads if r in temps]
    while todo:
        key = todo.pop()
        if key not in needed:
            needed.add(key)
            todo += [r for r in temps[key][1] if r in temps]
    ordered: list[str] = []
    waiting = sorted(needed)
    while waiting:  # a temporary reads only proper parts of its value: no cycle
        ready = [k for k in waiting if not (temps[k][1] & needed) - set(ordered)]
        ordered += ready
        waiting = [k for k in waiting if k not in ready]
    return ordered


def _index(key: str) -> int:
    m = _MEMBER.match(key)
    return int(m.group(2)) if m else 0
