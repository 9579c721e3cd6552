"""Differential test: random well-typed forward programs, every gradient derived, printed,
re-read and checked as a claim, compared with ``jax.grad`` of the same program built here
from its description (not by tensorcalc's evaluator), and single-edit mutants that must fail.

A program is drawn from ``OPERATORS``: one row per operator (name, arity, shape rule, jax
implementation, text form), so a new operator is one more row. Shapes are ``()`` for a scalar
and ``(rows, cols)`` with a dimension name, a product of names (``"m*n"``, from ``kron`` and
``vec``) or ``"1"`` on each axis; a vector is ``(d, "1")``, a row times a column is a scalar.
Inverses and log-determinants are taken of ``I + h hᵀ + h - hᵀ`` (a positive definite part plus
a skew part: every singular value is at least 1, so no draw is singular or ill-conditioned) or
of an ``spd(n)`` input; inputs may be ``spd(n)`` or ``matrix(n, n) symmetric``, whose gradient
is sym(G) = (G + Gᵀ)/2 of jax's unconstrained G.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorcalc.core.notation import grouped
from tensorcalc.core.model import Model, Prepared
from tensorcalc.core.notation import plain, size_text
from tensorcalc.core.sizes import size_sets
from tensorcalc.errors import Pos
from tensorcalc.explain.formulas import NotDerivable, derive
from tensorcalc.explain.mutations import context_of, side_edits
from tensorcalc.frontends import load_spec
from tensorcalc.frontends.parse import parse
from tensorcalc.oracles import draws
from tensorcalc.oracles.evaluate import Evaluator, forward_env, numpy_algebra
from tensorcalc.verdicts.check import check_file

jax.config.update("jax_enable_x64", True)

ONE = "1"


@dataclass(frozen=True)
class Operator:
    """``shape(*arg_shapes)`` is the result shape or None (not applicable); ``text`` and
    ``jax`` take the arguments' texts / arrays and the argument shapes."""

    name: str
    arity: int
    shape: Callable[..., tuple | None]
    jax: Callable[..., object]
    text: Callable[..., str]


def _same(*shapes):
    return shapes[0] if all(s == shapes[0] for s in shapes) else None


def _tensor(s):
    return s if s != () else None


def _matmul_shape(a, b):
    if a == () or b == () or a[1] != b[0]:
        return None
    return () if a[0] == ONE and b[1] == ONE else (a[0], b[1])  # a row times a column is a scalar


def _matmul(x, y, s):
    product = x @ y
    return product.reshape(()) if s[0][0] == ONE and s[1][1] == ONE else product


def _unary(name: str, fn) -> Operator:
    return Operator(name, 1, lambda a: a, lambda x, _s: fn(x), lambda t, _s: f"{name}({t})")


def _square(a):
    return a if a != () and a[0] == a[1] else None


def _to_scalar(a):
    return () if a != () else None


def _times(a: str, b: str) -> str:
    """The axis of a Kronecker product or of vec: a product of names (``"1"`` is dropped)."""
    return a if b == ONE else b if a == ONE else f"{a}*{b}"


def _safe(t: str, s) -> str:
    """``I + t tᵀ + t - tᵀ``: invertible with every singular value at least 1, det > 0."""
    return f"I({s[0][0]}) + ({t}) ({t})^T + {t} - ({t})^T"


def _safe_jax(x):
    return jnp.eye(x.shape[0]) + x @ x.T + x - x.T


def _axis(axis: int):
    """``sum(X, 1)`` leaves a row, ``sum(X, 2)`` a column; never a 1×1 value."""
    def shape(a):
        if a == () or a[axis - 1] == ONE:
            return None
        return (ONE, a[1]) if axis == 1 else (a[0], ONE)
    return shape


def _groups_of_many(across: int):
    """softmax_rows (across the columns, 1) and log_softmax (across the rows, 0) of a tensor,
    except over groups of one entry (a column's rows, a row's columns), which tensorcalc refuses."""
    def shape(a):
        if a == () or (a[across] == ONE and a[1 - across] != ONE):
            return None
        return a
    return shape


def _add_row_shape(a, b):
    return a if a != () and b != () and a[0] != ONE and b == (a[1], ONE) else None


def _add_column_shape(a, b):
    return a if a != () and b != () and a[1] != ONE and b == (a[0], ONE) else None


OPERATORS: list[Operator] = [
    Operator("transpose", 1, lambda a: (a[1], a[0]) if a != () else None, lambda x, _s: x.T, lambda t, _s: f"({t})^T"),
    _unary("sigmoid", jax.nn.sigmoid),
    _unary("tanh", jnp.tanh),
    _unary("exp", jnp.exp),
    _unary("softplus", jax.nn.softplus),
    _unary("abs", jnp.abs),
    _unary("sign", jnp.sign),
    _unary("sin", jnp.sin),
    _unary("cos", jnp.cos),
    Operator("log_sigmoid", 1, lambda a: a, lambda x, _s: jnp.log(jax.nn.sigmoid(x)), lambda t, _s: f"log(sigmoid({t}))"),
    Operator("double", 1, lambda a: a, lambda x, _s: 2 * x, lambda t, _s: f"2 ({t})"),
    Operator("half", 1, lambda a: a, lambda x, _s: x / 2, lambda t, _s: f"1/2 ({t})"),
    Operator("negate", 1, lambda a: a, lambda x, _s: -x, lambda t, _s: f"-({t})"),
    Operator("diag", 1, lambda a: (a[0], a[0]) if a != () and a[1] == ONE else None,
             lambda x, _s: jnp.diag(x[:, 0]), lambda t, _s: f"diag({t})"),
    Operator("softmax", 1, lambda a: a if a != () and a[1] == ONE else None,
             lambda x, _s: jax.nn.softmax(x, axis=0), lambda t, _s: f"softmax({t})"),
    Operator("softmax_rows", 1, _groups_of_many(1), lambda x, _s: jax.nn.softmax(x, axis=1), lambda t, _s: f"softmax_rows({t})"),
    Operator("log_softmax", 1, _groups_of_many(0), lambda x, _s: jax.nn.log_softmax(x, axis=0), lambda t, _s: f"log_softmax({t})"),
    Operator("sum", 1, _to_scalar, lambda x, _s: jnp.sum(x), lambda t, _s: f"sum({t})"),
    Operator("sum_down", 1, _axis(1), lambda x, _s: jnp.sum(x, axis=0, keepdims=True), lambda t, _s: f"sum({t}, 1)"),
    Operator("sum_along", 1, _axis(2), lambda x, _s: jnp.sum(x, axis=1, keepdims=True), lambda t, _s: f"sum({t}, 2)"),
    Operator("mean", 1, _to_scalar, lambda x, _s: jnp.mean(x), lambda t, _s: f"mean({t})"),
    Operator("mean_down", 1, _axis(1), lambda x, _s: jnp.mean(x, axis=0, keepdims=True), lambda t, _s: f"mean({t}, 1)"),
    Operator("mean_along", 1, _axis(2), lambda x, _s: jnp.mean(x, axis=1, keepdims=True), lambda t, _s: f"mean({t}, 2)"),
    Operator("norm2", 1, _to_scalar, lambda x, _s: jnp.sum(x * x), lambda t, _s: f"norm({t})^2"),
    Operator("norm1", 1, _to_scalar, lambda x, _s: jnp.sum(jnp.abs(x)), lambda t, _s: f"norm1({t})"),
    Operator("max", 1, _to_scalar, lambda x, _s: jnp.max(x), lambda t, _s: f"max({t})"),
    Operator("trace", 1, lambda a: () if _square(a) else None, lambda x, _s: jnp.trace(x), lambda t, _s: f"trace({t})"),
    Operator("det", 1, lambda a: () if _square(a) else None, lambda x, _s: jnp.linalg.det(x), lambda t, _s: f"det({t})"),
    Operator("square", 1, _square, lambda x, _s: x @ x, lambda t, _s: f"({t})^2"),
    Operator("cube", 1, _square, lambda x, _s: x @ x @ x, lambda t, _s: f"({t})^3"),
    Operator("vec", 1, lambda a: (_times(a[0], a[1]), ONE) if a != () else None,
             lambda x, _s: x.T.reshape(-1, 1), lambda t, _s: f"vec({t})"),
    Operator("ones_left", 1, lambda a: (ONE, a[1]) if a != () and ONE not in a else None,
             lambda x, _s: jnp.sum(x, axis=0, keepdims=True), lambda t, s: f"ones({s[0][0]})^T ({t})"),
    Operator("ones_right", 1, lambda a: (a[0], ONE) if a != () and ONE not in a else None,
             lambda x, _s: jnp.sum(x, axis=1, keepdims=True), lambda t, s: f"({t}) ones({s[0][1]})"),
    Operator("identity_left", 1, lambda a: a if a != () and a[0] != ONE else None,
             lambda x, _s: x, lambda t, s: f"I({s[0][0]}) ({t})"),
    Operator("matmul", 2, _matmul_shape, _matmul, lambda a, b, _s: f"({a}) ({b})"),
    Operator("add", 2, _same, lambda x, y, _s: x + y, lambda a, b, _s: f"{a} + {b}"),
    Operator("add_row", 2, _add_row_shape, lambda x, y, _s: x + y.T, lambda a, b, _s: f"{a} + ({b})^T"),
    Operator("add_column", 2, _add_column_shape, lambda x, y, _s: x + y, lambda a, b, _s: f"{a} + {b}"),
    Operator("subtract", 2, _same, lambda x, y, _s: x - y, lambda a, b, _s: f"{a} - ({b})"),
    Operator("hadamard", 2, lambda a, b: _tensor(_same(a, b)), lambda x, y, _s: x * y, lambda a, b, _s: f"({a}) ⊙ ({b})"),
    Operator("kron", 2, lambda a, b: (_times(a[0], b[0]), _times(a[1], b[1])) if a != () and b != () else None,
             lambda x, y, _s: jnp.kron(x, y), lambda a, b, _s: f"kron({a}, {b})"),
    Operator("scalar_times", 2, lambda a, b: b if a == () and b != () else None,
             lambda x, y, _s: x * y, lambda a, b, _s: f"({a}) ({b})"),
    Operator("scalar_product", 2, lambda a, b: () if a == b == () else None, lambda x, y, _s: x * y, lambda a, b, _s: f"({a}) ({b})"),
]
# of a name only (a leaf or an earlier definition), so the text stays short
ON_NAMES: list[Operator] = [
    Operator("inverse", 1, _square, lambda x, _s: jnp.linalg.inv(_safe_jax(x)), lambda t, s: f"inv({_safe(t, s)})"),
    Operator("inverse_power", 1, _square, lambda x, _s: jnp.linalg.inv(_safe_jax(x)),
             lambda t, s: f"({_safe(t, s)})^{{-1}}"),
    Operator("inverse_transpose", 1, _square, lambda x, _s: jnp.linalg.inv(_safe_jax(x)).T,
             lambda t, s: f"({_safe(t, s)})^{{-T}}"),
    Operator("inverse_squared", 1, _square, lambda x, _s: jnp.linalg.matrix_power(jnp.linalg.inv(_safe_jax(x)), 2),
             lambda t, s: f"({_safe(t, s)})^{{-2}}"),
    Operator("logdet", 1, lambda a: () if _square(a) else None, lambda x, _s: jnp.linalg.slogdet(_safe_jax(x))[1],
             lambda t, s: f"logdet({_safe(t, s)})"),
]
# of an spd input only: invertible as it is
ON_SPD: list[Operator] = [
    Operator("spd_inverse", 1, _square, lambda x, _s: jnp.linalg.inv(x), lambda t, _s: f"{t}^{{-1}}"),
    Operator("spd_inverse_call", 1, _square, lambda x, _s: jnp.linalg.inv(x), lambda t, _s: f"inv({t})"),
    Operator("spd_inverse_transpose", 1, _square, lambda x, _s: jnp.linalg.inv(x).T, lambda t, _s: f"{t}^-T"),
    Operator("spd_logdet", 1, lambda a: () if _square(a) else None, lambda x, _s: jnp.linalg.slogdet(x)[1],
             lambda t, _s: f"logdet({t})"),
]
BY_NAME = {op.name: op for op in OPERATORS + ON_NAMES + ON_SPD}
REDUCTIONS = ("sum", "norm2", "trace", "mean", "norm1", "max", "det")


@dataclass(frozen=True)
class Node:
    """An expression of a program: a name (leaf or earlier definition) or an operator applied."""

    op: str  # "name" or an operator name
    args: tuple = ()
    name: str = ""
    shape: tuple = ()


def text_of(n: Node) -> str:
    if n.op == "name":
        return n.name
    return BY_NAME[n.op].text(*(text_of(a) for a in n.args), [a.shape for a in n.args])


def jax_of(n: Node, env: dict):
    if n.op == "name":
        return env[n.name]
    return BY_NAME[n.op].jax(*(jax_of(a, env) for a in n.args), [a.shape for a in n.args])


@dataclass
class Program:
    dims: dict[str, int]
    tensors: dict[str, tuple]  # name -> shape
    defs: list[tuple[str, Node]]
    kinds: dict[str, str] = field(default_factory=dict)  # name -> "spd" or "symmetric" (square inputs)

    def yaml(self, claims: list[str] = ()) -> str:
        lines = ["tensorcalc: 1", "layout: denominator", "dims: {" + ", ".join(f"{k}: {v}" for k, v in self.dims.items()) + "}",
                 "check: {trials: 2, exact_points: 1}", "tensors:"]
        for name, shape in self.tensors.items():
            lines.append(f"  {name}: {self.declaration(name, shape)}")
        lines.append("forward:")
        lines += [f"  {name}: {text_of(node)}" for name, node in self.defs]
        lines.append("claims:" + ("" if claims else " []"))
        lines += [f"  - {_quoted(c)}" for c in claims]
        return "\n".join(lines) + "\n"

    def declaration(self, name: str, shape: tuple) -> str:
        kind = self.kinds.get(name)
        if kind == "spd":
            return f"spd({shape[0]})"
        if shape[1] == ONE:
            return f"vector({shape[0]})"
        return f"matrix({shape[0]}, {shape[1]})" + (" symmetric" if kind == "symmetric" else "")

    def loss(self, env: dict):
        env = dict(env)
        for name, node in self.defs:
            env[name] = jax_of(node, env)
        return env[self.defs[-1][0]]


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@st.composite
def expressions(draw, pool: list[Node], depth: int) -> Node:
    """A well-typed expression over ``pool`` with at most ``depth`` operators nested."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(pool))
    if draw(st.integers(0, 7)) == 0:  # an inverse or log-determinant, of a name
        op = draw(st.sampled_from(ON_NAMES))
        fits = [p for p in pool if op.shape(p.shape) is not None]
        if not fits:
            return draw(st.sampled_from(pool))
        arg = draw(st.sampled_from(fits))
        return Node(op.name, (arg,), shape=op.shape(arg.shape))
    op = draw(st.sampled_from(OPERATORS))
    args = [draw(expressions(pool, depth - 1))]
    if op.arity == 2:
        fits = [p for p in pool if op.shape(args[0].shape, p.shape) is not None]
        if not fits:
            return args[0]
        args.append(draw(st.sampled_from(fits)))
        if draw(st.booleans()):
            args.reverse()
            if op.shape(*(a.shape for a in args)) is None:
                args.reverse()
    shape = op.shape(*(a.shape for a in args))
    if shape is None:
        return args[0]
    return Node(op.name, tuple(args), shape=shape)


@st.composite
def inputs(draw, names: list[str]) -> tuple[dict, dict]:
    """Vectors u, v, w, matrices A, B, C (some square ones spd or symmetric: S, T)."""
    axes = st.sampled_from(names)
    tensors, kinds = {}, {}
    for i in range(draw(st.integers(1, 3))):
        shape = (draw(axes), ONE) if draw(st.booleans()) else (draw(axes), draw(axes))
        kind = draw(st.sampled_from(["", "", "spd", "symmetric"])) if shape[0] == shape[1] else ""
        name = ("u", "v", "w")[i] if shape[1] == ONE else ("S", "T", "U")[i] if kind else ("A", "B", "C")[i]
        tensors[name] = shape
        if kind:
            kinds[name] = kind
    return tensors, kinds


@st.composite
def programs(draw) -> Program:
    names = ["m", "n", "p"][: draw(st.integers(1, 3))]
    dims = {d: draw(st.integers(1, 3)) for d in names}
    tensors, kinds = draw(inputs(names))
    pool = [Node("name", name=k, shape=s) for k, s in tensors.items()]
    for k, kind in kinds.items():
        if kind == "spd" and draw(st.booleans()):
            op = draw(st.sampled_from(ON_SPD))
            pool.append(Node(op.name, (Node("name", name=k, shape=tensors[k]),), shape=op.shape(tensors[k])))
    defs = []
    for i in range(draw(st.integers(1, 3))):
        expr = draw(expressions(pool, 3))
        if expr.op == "name":
            continue
        name = f"h{i + 1}"
        defs.append((name, expr))
        pool.append(Node("name", name=name, shape=expr.shape))
    last = pool[-1]
    if last.shape != ():
        reductions = [BY_NAME[r] for r in REDUCTIONS if BY_NAME[r].shape(last.shape) is not None]
        last = Node(draw(st.sampled_from(reductions)).name, (last,), shape=())
    extra = draw(st.sampled_from(pool))  # a second use of some name in the loss
    if extra.shape == () and draw(st.booleans()):
        last = Node("add", (last, extra), shape=())
    defs.append(("L", last))
    return Program(dims, tensors, defs, kinds)


# --- the checks ---------------------------------------------------------------------------------


def _jax_gradients(program: Program, model: Model, leaves: dict) -> dict:
    """jax's gradient of every input; of a symmetric input, sym(G) = (G + Gᵀ)/2."""
    env = {k: jnp.asarray(np.asarray(leaves[k], dtype=float).reshape(_numeric(model, s))) for k, s in program.tensors.items()}
    grads = jax.grad(lambda e: program.loss(e))(env)
    return {k: np.asarray((v + v.T) / 2 if k in program.kinds else v) for k, v in grads.items()}


def _numeric(model: Model, shape: tuple) -> tuple:
    return tuple(math.prod(1 if d == ONE else model.sizes[d] for d in axis.split("*")) for axis in shape)


def _formula_value(model: Model, formula: str, leaves: dict) -> np.ndarray:
    raw, _loop = parse(formula, "def_line", Pos("formula", 1, 1))
    alg = numpy_algebra(model.functions)
    env = forward_env(model, alg, leaves)
    expr = model.resolve(raw, model.scope)
    return np.asarray(Evaluator(model, alg, env, _no_derivatives).evaluate(expr), dtype=float)


def _no_derivatives(*_args):
    raise AssertionError("a derived formula has no derivative terms")


def _agrees(value: np.ndarray, truth: np.ndarray) -> bool:
    if value.shape != truth.shape and not (value.ndim < 2 and value.size == truth.size):
        return False
    value = value.reshape(truth.shape)
    return bool(np.allclose(value, truth, rtol=1e-7, atol=1e-9))


def _formulas(program: Program, tmp_path) -> tuple[Prepared, dict[str, str]]:
    text = program.yaml()
    prepared = Prepared(load_spec(str(tmp_path / "program.yaml"), text))
    out = {}
    for name in program.tensors:
        d = derive(prepared, name)
        if d.result.rhs.op != "zeros":
            out[name] = plain(d.result.rhs)
    return prepared, out


def _verdicts(program: Program, claims: list[str], tmp_path) -> list[tuple[str, str, str]]:
    path = tmp_path / "claims.yaml"
    path.write_text(program.yaml(claims), encoding="utf-8")
    result = check_file(str(path))
    assert result.error is None, f"{result.error}\n{program.yaml(claims)}"
    return [(c.text, c.verdict, "; ".join(i.reason for i in c.instances)) for c in result.claims]


def run_program(program: Program, tmp_path, mutants: int = 3) -> None:
    """Derive, compare with jax, check every printed formula as a claim, and check mutants fail."""
    try:
        prepared, formulas = _formulas(program, tmp_path)
    except NotDerivable as refused:  # exp(exp(exp(S))) of an spd S: float64 has no finite value to check
        assert "overflowed" in str(refused), str(refused)
        return
    models = [Model(prepared, sizes) for sizes in size_sets(prepared.spec.dims, prepared.spec.check.seed)]
    for k, model in enumerate(models):
        leaves = draws.float_leaves(model, np.random.default_rng(k))
        truth = _jax_gradients(program, model, leaves)
        if not all(np.all(np.isfinite(v)) for v in truth.values()):
            continue  # overflow in float64 (exp of exp): jax has nothing to compare with here
        for name, formula in formulas.items():
            value = _formula_value(model, formula, leaves)
            assert _agrees(value, truth[name]), f"d L / d {name} = {formula}: {value} vs jax {truth[name]}\n{program.yaml()}"
    claims = [f"d L / d {name} = {formula}" for name, formula in formulas.items()]
    wrong = _mutants(program, prepared, models, formulas, mutants)
    verdicts = _verdicts(program, claims + [c for c, _ in wrong], tmp_path)
    for text, verdict, reason in verdicts[: len(claims)]:
        assert verdict == "holds", f"{text}: {verdict} ({reason})\n{program.yaml()}"
    for text, verdict, reason in verdicts[len(claims):]:
        assert verdict == "fails", f"mutant {text}: {verdict} ({reason})\n{program.yaml()}"


def _mutants(program: Program, prepared: Prepared, models: list[Model], formulas: dict, limit: int) -> list[tuple[str, str]]:
    """Single edits of the derived formulas that jax says are wrong at some size set."""
    ctx = context_of(prepared)
    out = []
    for name, formula in formulas.items():
        raw, _loop = parse(formula, "def_line", Pos("formula", 1, 1))
        for edit in side_edits("rhs", raw, ctx):
            text = grouped(edit.expr)
            if _wrong_somewhere(program, models, name, text):
                out.append((f"d L / d {name} = {text}", name))
            if len(out) >= limit:
                return out
    return out


def _wrong_somewhere(program: Program, models: list[Model], name: str, formula: str) -> bool:
    """True when jax shows the formula wrong (or ill-shaped) at some size set; False when it
    agrees everywhere or cannot be evaluated (then it is not used as a mutant)."""
    from tensorcalc.errors import TensorcalcError

    for k, model in enumerate(models):
        leaves = draws.float_leaves(model, np.random.default_rng(100 + k))
        try:
            value = _formula_value(model, formula, leaves)
        except TensorcalcError:
            return True  # ill-formed at these sizes: check must say it fails
        except (ArithmeticError, ValueError):
            return False
        if not _agrees(value, _jax_gradients(program, model, leaves)[name]):
            return True
    return False


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


@settings(max_examples=12, derandomize=True, **SETTINGS)
@given(program=programs())
def test_random_programs_derive_check_and_agree_with_jax(program, tmp_path_factory):
    run_program(program, tmp_path_factory.mktemp("p"), mutants=2)


# the slow job's number of programs: TENSORCALC_DIFFERENTIAL_PROGRAMS=2000 for a longer search
MANY = int(os.environ.get("TENSORCALC_DIFFERENTIAL_PROGRAMS", "300"))


@pytest.mark.slow
@settings(max_examples=MANY, derandomize=True, **SETTINGS)
@given(program=programs())
def test_many_random_programs(program, tmp_path_factory):
    run_program(program, tmp_path_factory.mktemp("p"), mutants=4)


def test_derive_redraws_networks_that_overflow(tmp_path):
    """exp(exp(exp(sum(A)))) overflows float64 at some random networks: derive still confirms
    the formula at networks that do not (it used to refuse: "rel err inf")."""
    a = Node("name", name="A", shape=("n", "n"))
    h1 = Node("exp", (Node("sum", (a,), shape=()),), shape=())
    loss = Node("exp", (Node("exp", (Node("name", name="h1", shape=()),), shape=()),), shape=())
    program = Program({"n": 3}, {"A": ("n", "n")}, [("h1", h1), ("L", loss)])
    _prepared, formulas = _formulas(program, tmp_path)
    assert set(formulas) == {"A"}


def test_operator_table_is_well_formed():
    """Every row applies to a vector, a square or a non-square matrix, and its shape rule,
    text and jax value agree there."""
    leaves = {"x": ("m", ONE), "X": ("m", "m"), "Y": ("m", "n")}
    env = {k: jnp.arange(1.0, 1.0 + math.prod(_sizes(s))).reshape(_sizes(s)) / 7 for k, s in leaves.items()}
    applied = set()
    for op in OPERATORS + ON_NAMES + ON_SPD:
        for first, second in [(a, b) for a in leaves for b in leaves]:
            args = [Node("name", name=first, shape=leaves[first]), Node("name", name=second, shape=leaves[second])][: op.arity]
            if op.name == "scalar_times":
                args[0] = Node("sum", (args[0],), shape=())
            shape = op.shape(*(a.shape for a in args))
            if shape is None:
                continue
            value = np.asarray(jax_of(Node(op.name, tuple(args), shape=shape), env))
            assert value.shape == (_sizes(shape) if shape != () else ()), (op.name, first, second)
            assert text_of(Node(op.name, tuple(args), shape=shape))
            applied.add(op.name)
    assert applied == set(BY_NAME) - {"scalar_product"}


def _sizes(shape: tuple) -> tuple:
    return tuple(math.prod({"m": 2, "n": 3}.get(d, 1) for d in axis.split("*")) for axis in shape)


@pytest.mark.parametrize("source", ["((S S)^2)^T", "(X^2)^3", "(X^T)^2", "(X.^2)^T"])
def test_text_of_a_transposed_or_raised_power_parses_back(source):
    """A mutant of ``((S S)^2)^T`` used to print as ``(S S)^2^T``, which does not parse."""
    raw, _loop = parse(source, "def_line", Pos("formula", 1, 1))
    again, _loop = parse(grouped(raw), "def_line", Pos("formula", 1, 1))
    assert grouped(again) == grouped(raw)


def test_gradients_through_kron_and_vec_are_readable_formulas(tmp_path):
    """The derivatives of kron and vec used to print internal operators (kron_adjoint, unvec)
    that the parser cannot read; now they are Kronecker products of identities and ones."""
    a, b, c = (Node("name", name=k, shape=s) for k, s in [("A", ("m", "n")), ("B", ("p", "m")), ("C", ("n", "p"))])
    k = Node("kron", (a, b), shape=("m*p", "n*m"))
    h1 = Node("norm2", (Node("sin", (k,), shape=k.shape),), shape=())
    loss = Node("add", (Node("name", name="h1", shape=()), Node("sum", (Node("exp", (Node("vec", (c,), shape=("n*p", ONE)),),
                                                                                    shape=("n*p", ONE)),), shape=())), shape=())
    program = Program({"m": 2, "n": 3, "p": 2}, {"A": ("m", "n"), "B": ("p", "m"), "C": ("n", "p")}, [("h1", h1), ("L", loss)])
    _prepared, formulas = _formulas(program, tmp_path)
    assert set(formulas) == {"A", "B", "C"}
    assert not any("adjoint" in f or "unvec" in f for f in formulas.values()), formulas
    run_program(program, tmp_path, mutants=2)


def test_sizes_that_are_powers_print_as_products(tmp_path):
    """kron(v, v) of an n-vector is n²×1: its derivative used to print ones(n**2), which does not parse."""
    v = Node("name", name="v", shape=("n", ONE))
    k = Node("kron", (v, v), shape=("n*n", ONE))
    program = Program({"n": 2}, {"v": ("n", ONE)}, [("L", Node("sum", (Node("sin", (k,), shape=k.shape),), shape=()))])
    _prepared, formulas = _formulas(program, tmp_path)
    assert "**" not in formulas["v"], formulas
    assert size_text(sympy.Symbol("n") ** 2) == "n*n" and size_text(2 * sympy.Symbol("n") ** 3) == "2*n*n*n"
    run_program(program, tmp_path, mutants=2)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_claim_right_only_for_positive_inputs_fails(tmp_path, seed):
    """d norm1(u) / d u = ones(m) at m = 1 used to hold when every random draw of u was
    positive (seeds 0 and 1 with two networks); a mirrored network sees the other side."""
    path = tmp_path / "norm1.yaml"
    path.write_text(f"""tensorcalc: 1
layout: denominator
dims: {{m: 1}}
check: {{trials: 2, exact_points: 1, seed: {seed}}}
tensors:
  u: vector(m)
forward:
  L: norm1(u)
claims:
  - 'd L / d u = ones(m)'
  - 'd L / d u = sign(u)'
""", encoding="utf-8")
    assert [c.verdict for c in check_file(str(path)).claims] == ["fails", "holds"]


def test_inverse_of_an_inverse_and_overflow_everywhere(tmp_path):
    """Programs the generator drew: an inverse of ``S^{-1}`` (printed in parentheses, as
    ``S^{-1}^T`` does not parse) and exp(exp(exp(T))) of an spd T, which overflows at every
    network (derive refuses it with a message; nothing to compare)."""
    s = Node("name", name="S", shape=("m", "m"))
    inner = Node("spd_inverse", (s,), shape=("m", "m"))
    program = Program({"m": 2}, {"S": ("m", "m")}, [("L", Node("logdet", (inner,), shape=()))], {"S": "spd"})
    run_program(program, tmp_path, mutants=2)
    t = Node("name", name="T", shape=("n", "n"))
    h = Node("exp", (Node("exp", (Node("exp", (t,), shape=t.shape),), shape=t.shape),), shape=t.shape)
    run_program(Program({"n": 3}, {"T": ("n", "n")}, [("L", Node("trace", (h,), shape=()))], {"T": "spd"}), tmp_path)


def test_log_softmax_of_a_one_entry_vector(tmp_path):
    """sum(log_softmax(u)) with u m×1 at m = 1: a readability rule tried a product of two m×1 factors
    and raised a shape error instead of leaving the formula as it was."""
    u = Node("name", name="u", shape=("m", ONE))
    h1 = Node("log_softmax", (u,), shape=("m", ONE))
    program = Program({"m": 1, "n": 1}, {"u": ("m", ONE)}, [("h1", h1), ("L", Node("sum", (Node("name", name="h1", shape=("m", ONE)),), shape=()))])
    run_program(program, tmp_path, mutants=2)


def test_a_gradient_that_is_exactly_zero_at_one_entry_is_derived(tmp_path):
    """norm(log_softmax(A))^2 with A 1×1: log_softmax is exactly 0, and float64 computes 1e-17
    where jax computes 0; derive counts rounding noise as 0, as check does, instead of refusing."""
    a = Node("name", name="A", shape=("m", "m"))
    h3 = Node("log_softmax", (a,), shape=("m", "m"))
    program = Program({"m": 1}, {"A": ("m", "m")}, [("h3", h3), ("L", Node("norm2", (Node("name", name="h3", shape=("m", "m")),), shape=()))])
    run_program(program, tmp_path, mutants=4)
