"""The LaTeX subset reads formulas as lecture notes write them: each seed's stated formulas, written in
LaTeX the way a note would, read to the same raw claim as the plain syntax of derivations/seed*.yaml."""
from __future__ import annotations

import pytest

from tensorcalc.core.expr import to_text
from tensorcalc.errors import Pos
from tensorcalc.frontends.latex_input import parse_latex_claims
from tensorcalc.frontends.parse import parse_claim

P = Pos("note.tex", 1, 1)

SEED_FORMULAS = [  # (seed, LaTeX as the note writes it, the claim in derivations/seed*.yaml)
    ("000", r"\boldsymbol{\delta}^{[l]} := \frac{\partial C}{\partial \mathbf{z}^{[l]}}", "delta[l] := d C / d z[l]"),
    ("000", r"\frac{\partial \mathbf{a}^{(L)}}{\partial \mathbf{z}^{(L)}} = \operatorname{diag}(\sigma'(\mathbf{z}^{(L)}))",
     "d a[L] / d z[L] = diag(sigma'(z[L]))"),
    ("001", r"\frac{\partial \mathbf{z}}{\partial \mathbf{W}_1} = \mathbf{I}_h \otimes \mathbf{x}", "d z / d W1 = I(h) ⊗ x"),
    ("001", r"\frac{\partial \mathrm{loss}}{\partial W_1} = \mathbf{x} \mathbf{r}^\intercal W_3 \operatorname{diag}(\sigma^{\prime}(\mathbf{z}_2)) "
     r"W_2 \operatorname{diag}(\sigma'(\mathbf{z}_1))",
     "d loss / d W1 = x r^T W3 diag(sigma'(z2)) W2 diag(sigma'(z1))"),
    ("002", r"\frac{df}{dA^{[L]}} = \frac 1m \cdot 2 \left(A^{[L]} - Y\right)", "d f / d A[L] = 1/m (2 (A[L] - Y))"),
    ("002", r"\frac{\partial f}{\partial Z^{[L]}} = \frac{\partial f}{\partial A^{[L]}} \odot {g^{[L]}}'(Z^{[L]})", "d f / d Z[L] = (d f / d A[L]) ⊙ g'(Z[L])"),
    ("002", r"\frac{\partial f_1}{\partial X} = \frac{\partial f_1}{\partial G_1} W^{\mathsf{T}}", "d f1 / d X = (d f1 / d G1) W^T"),
    ("003", r"\frac{\partial C}{\partial w^{(L)}} = 2 (a^{(L)} - y) \mu'(z^{(L)}) a^{(L-1)}", "d C / d w[L] = 2 (a[L] - y) mu'(z[L]) a[L-1]"),
    ("003", r"\Delta^{[L]} = A^{[L]} - Y", "Delta[L] = A[L] - Y"),
    ("003", r"\mathcal{C} = \frac{1}{m} \sum_{k=1}^{n} r_k^2", "C = 1/m sum_k(r[k]^2)"),
    ("004", r"\frac{\partial \mathcal{C}}{\partial \boldsymbol{W}^{(l)}} = \boldsymbol{\delta}^{(l)} \bm{a}^{(l-1)\top}", "d C / d W[l] = delta[l] a[l-1]^T"),
    ("004", r"\frac{\partial \mathcal{C}}{\partial \mathbf{z}^{[l]}} = \tanh'(\mathbf{z}^{[l]}) \circ \mathbf{W}^{[l+1]T} \boldsymbol{\delta}^{[l+1]}",
     "d C / d z[l] = tanh'(z[l]) ⊙ W[l+1]^T delta[l+1]"),
]


def plain(text: str) -> tuple[str, str]:
    claim = parse_claim(text, P)
    return to_text(claim.lhs), to_text(claim.rhs)


def read(latex: str) -> tuple[str, str]:
    (claim,) = parse_latex_claims(latex, P)
    return to_text(claim.parsed.lhs), to_text(claim.parsed.rhs)


@pytest.mark.parametrize("seed, latex, expected", SEED_FORMULAS, ids=[f"seed{s}-{i}" for i, (s, _l, _e) in enumerate(SEED_FORMULAS)])
def test_seed_formula_in_latex_reads_as_the_plain_claim(seed, latex, expected):
    assert read(latex) == plain(expected)


@pytest.mark.parametrize("latex, expected", [
    (r"\mathcal{L} = \tanh'(Z)", "L = tanh'(Z)"),
    (r"\mathcal{L} = \tanh^{\prime}(Z)", "L = tanh'(Z)"),
    (r"\mathcal{L} = \operatorname{relu}'(Z) \odot A", "L = relu'(Z) ⊙ A"),
    (r"L = f^{\prime}(Z) \cdot B", "L = f'(Z) B"),
    (r"L = \mathbf{A}^{\mathsf{T}} B^\intercal C^\top D^T", "L = A^T B^T C^T D^T"),
    (r"L = \left( A \right) \cdot B \circ C", "L = (A B) ⊙ C"),
    (r"L = \mathscr{A} \otimes \mathfrak{B}", "L = A ⊗ B"),
    (r"L = W^{(l)} + W^{[l]} + W^{l} + W^L + x^n + x^2", "L = W[l] + W[l] + W[l] + W[L] + x^n + x^2"),
    (r"y = \boldsymbol{\delta}^{l} \bm{a}^{l-1\top} W^{l+1}", "y = delta[l] a[l-1]^T W[l+1]"),
])
def test_notation_of_lecture_notes(latex, expected):
    assert read(latex) == plain(expected)
