"""Second derivatives written in LaTeX: each textbook form, in every layout, read as the plain syntax's
derivative of a derivative; verdicts compared with the plain claim's and with ``jax.hessian`` computed
here, independently of tensorcalc.

Convention (Matrix Cookbook, matrixcalculus.org): for a scalar f, (∂²f/∂x∂yᵀ)[i, j] = ∂²f/∂x_i∂y_j, and
∂²f/∂x² is ∂²f/∂x∂xᵀ. Plain ``d (d f / d x) / d y`` is that n×m matrix in numerator and mixed layout,
``d (d f / d y) / d x`` in denominator layout.
"""
from __future__ import annotations

import subprocess
import textwrap
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorcalc.core.notation import plain
from tensorcalc.errors import Pos, TensorcalcError
from tensorcalc.frontends.latex_input import SymbolMap, parse_latex_claims
from tensorcalc.frontends.parse import parse_claim
from tensorcalc.verdicts.check import check_file

jax.config.update("jax_enable_x64", True)
ROOT = Path(__file__).resolve().parent.parent
LAYOUTS = ["numerator", "denominator", "mixed"]
WHERE = Pos("n.md", 4, 1)

SAME_VARIABLE = [  # each is ∂²/∂x∂xᵀ: d (d f / d x) / d x in every layout
    r"\frac{\partial^2 f}{\partial x \partial x^\top}",
    r"\frac{\partial^2 f}{\partial x^2}",
    r"\frac{\partial^2 f}{\partial x \, \partial x^T}",
    r"\frac{\partial^{2} f}{\partial \mathbf{x}\partial \mathbf{x}^{\top}}",
    r"\frac{\partial}{\partial x}\left(\frac{\partial f}{\partial x}\right)",
    r"\frac{\partial}{\partial x} \frac{\partial f}{\partial x^\top}",
    r"\frac{\partial^2}{\partial x^2} f",
    r"\frac{d^2 f}{d x^2}",
    r"\frac{\mathrm{d}}{\mathrm{d} x}\left(\frac{\mathrm{d} f}{\mathrm{d} x}\right)",
]
MIXED = [  # ∂²f/∂x∂yᵀ, rows by x: d (d f / d x) / d y, or d (d f / d y) / d x in denominator layout
    r"\frac{\partial^2 f}{\partial x \partial y^\top}",
    r"\frac{\partial^2 f}{\partial x \partial y}",
    r"\frac{\partial}{\partial x} \frac{\partial f}{\partial y^\top}",
    r"\frac{\partial}{\partial x}\left(\frac{\partial f}{\partial y}\right)",
    r"\frac{\partial^2}{\partial x \partial y^\top} f",
    r"\frac{d^2 f}{dx \, dy^\top}",
]


def _lhs(latex: str, layout: str | None) -> str:
    return plain(parse_latex_claims(latex + " = B", WHERE, None, layout)[0].parsed.lhs)


def _plain_lhs(text: str) -> str:
    return plain(parse_claim(text + " = B", WHERE).lhs)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("latex", SAME_VARIABLE)
def test_a_hessian_by_one_variable_is_the_plain_derivative_of_the_gradient(latex, layout):
    assert _lhs(latex, layout) == _plain_lhs("d (d f / d x) / d x")


@pytest.mark.parametrize("layout, plain_form", [
    ("numerator", "d (d f / d x) / d y"), ("mixed", "d (d f / d x) / d y"), ("denominator", "d (d f / d y) / d x")])
@pytest.mark.parametrize("latex", MIXED)
def test_a_mixed_partial_has_rows_by_its_first_variable_in_every_layout(latex, layout, plain_form):
    assert _lhs(latex, layout) == _plain_lhs(plain_form)


SYMBOLS = {"x": "x", r"\mathbf{w}": "w", r"\boldsymbol{\beta}": "beta", r"\theta": "theta", "u_1": "u1", r"\bm{v}": "v"}
TEMPLATES = [  # ∂²f/∂a∂bᵀ as textbooks write it, with {f} {a} {b} to fill in
    r"\frac{{\partial^2 {f}}}{{\partial {a} \partial {b}^\top}}",
    r"\frac{{\partial^{{2}} {f}}}{{\partial {a} \, \partial {b}^{{T}}}}",
    r"\frac{{\partial^2 {f}}}{{\partial {a}\partial {b}}}",
    r"\frac{{\partial}}{{\partial {a}}}\left(\frac{{\partial {f}}}{{\partial {b}}}\right)",
    r"\frac{{\partial}}{{\partial {a}}} \frac{{\partial {f}}}{{\partial {b}^{{\top}}}}",
    r"\frac{{\partial^2}}{{\partial {a} \partial {b}^\top}} {f}",
]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(TEMPLATES), st.sampled_from(sorted(SYMBOLS)), st.sampled_from(sorted(SYMBOLS)),
       st.sampled_from([("J", "J"), (r"\ell", "loss"), (r"\mathcal{J}", "J")]), st.sampled_from(LAYOUTS))
def test_generated_second_derivatives_read_as_the_plain_term_of_their_layout(template, a, b, f, layout):
    latex = template.format(f=f[0], a=a, b=b) + " = B"
    symbols = SymbolMap({r"\ell": parse_claim("loss = B", WHERE).lhs})
    read = plain(parse_latex_claims(latex, WHERE, symbols, layout)[0].parsed.lhs)
    inner, outer = (SYMBOLS[b], SYMBOLS[a]) if layout == "denominator" else (SYMBOLS[a], SYMBOLS[b])
    assert read == _plain_lhs(f"d (d {f[1]} / d {inner}) / d {outer}")


def test_the_operator_on_anything_but_a_gradient_is_a_plain_derivative():
    assert _lhs(r"\frac{\partial}{\partial x}\left(A x\right)", "numerator") == _plain_lhs("d (A x) / d x")
    assert _lhs(r"\frac{\partial}{\partial x} A x", "denominator") == _plain_lhs("d (A x) / d x")


@pytest.mark.parametrize("latex, message, col", [
    (r"\frac{\partial^3 f}{\partial x^3} = B", "only second derivatives", 15),
    (r"\frac{\partial f}{\partial x^2} = B", "need \\partial^2 above it", 1),
    (r"\frac{\partial f}{\partial x \partial y} = B", "need \\partial^2 above it", 1),
    (r"\frac{\partial^2 f}{\partial x} = B", "\\partial^2 needs two variables below the bar", 1),
    (r"\frac{\partial^2 f}{\partial x^\top \partial y} = B", "the transpose goes on the second variable", 30),
    (r"\frac{\partial^2 f}{\partial (A x)^2} = B", "differentiate by one symbol", 31),
    (r"\frac{\partial}{\partial x} = B", "needs what it differentiates after it", 1),
    (r"\frac{\partial}{\partial x}(A) x = B", "put the whole operand inside the parentheses", 32),
    (r"\frac{d^2 f}{d x \, d y \, d z} = B", "write a second derivative \\frac{d^2 f}{d x^2}", 1),
    (r"\frac{d}{d (A x)} x = B", "d/dx: differentiate by one symbol", 13),
    (r"a = \partial x", "\\partial outside \\frac{\\partial ...}{\\partial ...}", 5),
])
def test_forms_that_make_no_sense_are_refused_at_their_position(latex, message, col):
    with pytest.raises(TensorcalcError) as err:
        parse_latex_claims(latex, WHERE, None, "mixed")
    assert message in err.value.message
    assert (err.value.pos.line, err.value.pos.col) == (4, col)


# ---------------------------------------------------------------- verdicts against jax.hessian
MODEL = """\
tensorcalc: 1
layout: {layout}
dims: {{N: 5, n: 3, m: 2}}
functions: {{sigma: sigmoid}}
symbols: {{'\\mathrm{{nll}}': nll}}
tensors:
  X: matrix(N, n)
  t: vector(N)
  beta: vector(n)
  x: vector(n)
  y: vector(n)
  z: vector(m)
  A: matrix(n, n)
  C: matrix(n, m)
forward:
  J: norm(t - X beta)^2
  q: x^T A x
  p: sigma(X beta)
  nll: -(t^T log(p) + (ones(N) - t)^T log(ones(N) - p))
  g: x^T A y + (x^T y)^2
  h: x^T C z
claims:
"""


def _sigmoid(u):
    return 1 / (1 + jnp.exp(-u))


FUNCTIONS = {  # f(v, first, second) as jax sees it; the Hessian block is d/d second of d f / d first
    "J": lambda v: jnp.sum((v["t"] - v["X"] @ v["beta"]) ** 2),
    "q": lambda v: v["x"] @ v["A"] @ v["x"],
    "nll": lambda v: -jnp.sum(v["t"] * jnp.log(_sigmoid(v["X"] @ v["beta"]))
                              + (1 - v["t"]) * jnp.log(1 - _sigmoid(v["X"] @ v["beta"]))),
    "g": lambda v: v["x"] @ v["A"] @ v["y"] + (v["x"] @ v["y"]) ** 2,
    "h": lambda v: v["x"] @ v["C"] @ v["z"],
}


def _p(v):
    return np.asarray(_sigmoid(v["X"] @ v["beta"]))


# (function, first variable, second variable, LaTeX left side, LaTeX right side, plain right side, numpy right side)
CASES = [
    ("J", "beta", "beta", r"\frac{\partial^2 J}{\partial \beta \partial \beta^\top}", r"2 X^\top X", "2 X^T X",
     lambda v: 2 * v["X"].T @ v["X"]),
    ("J", "beta", "beta", r"\frac{\partial}{\partial \beta}\left(\frac{\partial J}{\partial \beta}\right)", r"X^\top X", "X^T X",
     lambda v: v["X"].T @ v["X"]),
    ("q", "x", "x", r"\frac{\partial^2 q}{\partial x^2}", r"A + A^\top", "A + A^T", lambda v: v["A"] + v["A"].T),
    ("q", "x", "x", r"\frac{\partial^2 q}{\partial x \, \partial x^T}", r"2 A", "2 A", lambda v: 2 * v["A"]),
    ("nll", "beta", "beta", r"\frac{\partial}{\partial\beta} \frac{\partial \mathrm{nll}}{\partial\beta^\top}",
     r"X^\top \operatorname{diag}(p \odot (\mathbf{1}_N - p)) X", "X^T diag(p ⊙ (ones(N) - p)) X",
     lambda v: v["X"].T @ np.diag(_p(v) * (1 - _p(v))) @ v["X"]),
    ("nll", "beta", "beta", r"\frac{\partial^{2} \mathrm{nll}}{\partial \boldsymbol{\beta}\partial \boldsymbol{\beta}^{\top}}",
     r"X^\top \operatorname{diag}(p) X", "X^T diag(p) X", lambda v: v["X"].T @ np.diag(_p(v)) @ v["X"]),
    ("g", "x", "y", r"\frac{\partial^2 g}{\partial x \partial y^\top}", r"A + 2 y x^\top + 2 (x^\top y) I_n",
     "A + 2 y x^T + 2 (x^T y) I(n)", lambda v: v["A"] + 2 * np.outer(v["y"], v["x"]) + 2 * (v["x"] @ v["y"]) * np.eye(3)),
    ("g", "x", "y", r"\frac{\partial^2 g}{\partial x \partial y^\top}", r"A^\top + 2 x y^\top + 2 (x^\top y) I_n",
     "A^T + 2 x y^T + 2 (x^T y) I(n)", lambda v: v["A"].T + 2 * np.outer(v["x"], v["y"]) + 2 * (v["x"] @ v["y"]) * np.eye(3)),
    ("g", "y", "x", r"\frac{\partial}{\partial y}\left(\frac{\partial g}{\partial x}\right)", r"A^\top + 2 x y^\top + 2 (x^\top y) I_n",
     "A^T + 2 x y^T + 2 (x^T y) I(n)", lambda v: v["A"].T + 2 * np.outer(v["x"], v["y"]) + 2 * (v["x"] @ v["y"]) * np.eye(3)),
    ("h", "x", "z", r"\frac{\partial^2 h}{\partial x \partial z^\top}", "C", "C", lambda v: v["C"]),
    ("h", "x", "z", r"\frac{\partial^2 h}{\partial x \partial z^\top}", r"C^\top", "C^T", lambda v: v["C"].T),
]


def _values(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    shapes = {"X": (5, 3), "t": (5,), "beta": (3,), "x": (3,), "y": (3,), "z": (2,), "A": (3, 3), "C": (3, 2)}
    return {name: rng.normal(size=shape) for name, shape in shapes.items()}


def _jax_block(function: str, first: str, second: str, values: dict) -> np.ndarray:
    """[i, j] = ∂²f/∂first_i ∂second_j, by jax alone (``jax.hessian`` when both are one variable)."""
    def of(a, b):
        return FUNCTIONS[function]({**values, first: a, second: b} if first != second else {**values, first: a})

    if first == second:
        return np.asarray(jax.hessian(lambda a: of(a, a))(values[first]))
    return np.asarray(jax.jacfwd(jax.grad(of, argnums=0), argnums=1)(values[first], values[second]))


def _truth(case) -> str:
    function, first, second, *_rest, rhs = case
    agree = []
    for seed in range(3):
        values = _values(seed)
        expected, claimed = _jax_block(function, first, second, values), rhs(values)
        agree.append(expected.shape == claimed.shape and np.allclose(expected, claimed, rtol=1e-9, atol=1e-12))
    return "holds" if all(agree) else "fails"


def _twin(case, layout: str) -> str:
    """The plain claim the LaTeX states in ``layout``."""
    function, first, second, _left, _right, plain_rhs, _rhs = case
    inner, outer = (second, first) if layout == "denominator" else (first, second)
    return f"d (d {function} / d {inner}) / d {outer} = {plain_rhs}"


@pytest.mark.slow
@pytest.mark.parametrize("layout", LAYOUTS)
def test_latex_hessians_agree_with_the_plain_claim_and_with_jax(tmp_path, layout):
    truths = [_truth(case) for case in CASES]
    assert truths.count("fails") == 5  # a false variant of each kind of claim
    lines = []
    for case in CASES:
        latex = f"{case[3]} = {case[4]}".replace("'", "''")
        lines += [f"  - latex: '{latex}'\n", f"  - {_twin(case, layout)}\n"]
    path = tmp_path / "hessians.yaml"
    path.write_text(MODEL.format(layout=layout) + "".join(lines), encoding="utf-8")
    result = check_file(str(path))
    assert result.error is None
    verdicts = [c.verdict for c in result.claims]
    assert verdicts[0::2] == truths
    assert verdicts[1::2] == truths


# ---------------------------------------------------------------- invalid input: one line, exit 2
def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "tensorcalc", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.mark.parametrize("latex, message, col", [
    (r"\frac{\partial^2 r}{\partial x^2} = A", "\\partial^2 of r, a vector: a Hessian is of a scalar", 30),
    (r"\frac{\partial^2 q}{\partial X^2} = A", "\\partial^2 by X, a matrix: the Hessian", 42),
    (r"\frac{\partial^2 q}{\partial x \partial S^\top} = A", "\\partial^2 by S, a spd", 53),
    (r"\frac{\partial}{\partial X} \frac{\partial q}{\partial x^\top} = A", "\\partial^2 by X, a matrix", 38),
])
def test_a_hessian_of_a_non_scalar_or_by_a_matrix_is_invalid_input(tmp_path, latex, message, col):
    path = tmp_path / "bad.yaml"
    path.write_text("tensorcalc: 1\nlayout: mixed\ndims: {n: 3}\ntensors:\n  x: vector(n)\n  r: vector(n)\n"
                    "  X: matrix(n, n)\n  S: spd(n)\n  A: matrix(n, n)\nforward:\n  q: x^T A x\nclaims:\n"
                    f"  - latex: '{latex}'\n", encoding="utf-8")
    out = _cli("check", str(path))
    assert out.returncode == 2, out.stdout + out.stderr
    errors = [line for line in (out.stdout + out.stderr).splitlines() if f"{path}:" in line]
    assert len(errors) == 1 and "Traceback" not in out.stderr
    assert errors[0].startswith(f"{path}:13:{col}: ") and message in errors[0]


NOTE = """\
# Ridge regression

```tensorcalc
tensorcalc: 1
layout: denominator
dims: {N: 5, d: 3}
symbols: {'\\lambda': lam}
tensors:
  X: matrix(N, d)
  y: vector(N)
  beta: vector(d)
  lam: scalar positive
forward:
  J: norm(y - X beta)^2 + lam norm(beta)^2
```

The Hessian of the ridge objective:

<!-- check -->
$$
\\frac{\\partial^2 J}{\\partial \\boldsymbol{\\beta} \\, \\partial \\boldsymbol{\\beta}^\\top} = 2 \\left(X^\\top X + \\lambda I_d\\right)
$$

<!-- check: expect fails, name: lambda not doubled -->
$$ \\frac{\\partial}{\\partial \\beta}\\left(\\frac{\\partial J}{\\partial \\beta}\\right) = 2 X^\\top X + \\lambda I_d $$
"""


def test_a_markdown_note_with_a_tagged_hessian_is_checked_end_to_end(tmp_path):
    path = tmp_path / "note.md"
    path.write_text(NOTE, encoding="utf-8")
    out = _cli("check", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert any(line.lstrip().startswith("holds    [0] \\frac{\\partial^2 J}") for line in lines), out.stdout
    assert any(line.lstrip().startswith("FAILS    [1] \\frac{\\partial}{\\partial \\beta}") and "expected: fails" in line
               for line in lines), out.stdout
    assert "1 hold, 1 fail" in out.stdout


def test_a_transposed_mixed_partial_gets_no_other_layout_as_its_explanation(tmp_path):
    """The LaTeX reading is the Cookbook's in every layout, so no layout makes the transpose hold."""
    path = tmp_path / "mixed.yaml"
    path.write_text(textwrap.dedent("""\
        tensorcalc: 1
        layout: denominator
        dims: {n: 3, m: 2}
        tensors: {x: vector(n), z: vector(m), C: matrix(n, m)}
        forward:
          h: x^T C z
        claims:
          - latex: '\\frac{\\partial^2 h}{\\partial x \\, \\partial z^\\top} = C^\\top'
            expect: fails
          - claim: d (d h / d x) / d z = C
            expect: fails
        """), encoding="utf-8")
    result = check_file(str(path))
    latex_reason, plain_reason = (c.instances[0].reason for c in result.claims)
    assert "transpose of the truth" in latex_reason and "layout" not in latex_reason
    assert "holds in numerator layout" in plain_reason  # the plain term is read in the file's layout
