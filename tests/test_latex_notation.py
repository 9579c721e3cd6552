"""The LaTeX subset reads formulas as lecture notes write them: each seed's stated formulas, written in
LaTeX the way a note would, read to the same raw claim as the plain syntax of derivations/seed*.yaml."""
from __future__ import annotations

import pytest

from tensorcalc.core.notation import grouped
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
    ("003", r"\frac{\partial C}{\partial W^{[L]}_{ij}} = 2 (a^{[L]}_i - y_i) \mu'(z^{[L]}_i) a^{[L-1]}_j",
     "d C / d W[L][i,j] = 2 (a[L][i] - y[i]) mu'(z[L][i]) a[L-1][j]"),
    ("004", r"\frac{\partial C_0}{\partial w^{(l)}_{jk}} = a^{(l-1)}_k \sigma'(z^{(l)}_j) \frac{\partial C_0}{\partial a^{(l)}_j}",
     "d C0 / d w[l][j,k] = a[l-1][k] sigma'(z[l][j]) (d C0 / d a[l][j])"),
    ("004", r"\frac{\partial \mathcal{C}}{\partial \mathbf{z}^{[l]}} = \tanh'(\mathbf{z}^{[l]}) \circ \mathbf{W}^{[l+1]T} \boldsymbol{\delta}^{[l+1]}",
     "d C / d z[l] = tanh'(z[l]) ⊙ W[l+1]^T delta[l+1]"),
]


def plain(text: str) -> tuple[str, str]:
    claim = parse_claim(text, P)
    return _spelled(claim.lhs), _spelled(claim.rhs)


def read(latex: str) -> tuple[str, str]:
    (claim,) = parse_latex_claims(latex, P)
    return _spelled(claim.parsed.lhs), _spelled(claim.parsed.rhs)


def _spelled(raw) -> str:
    """The raw tree as text; ``W[i, j]`` and ``W[i,j]`` are one name (the core reads the brackets)."""
    return grouped(raw).replace(", ", ",")


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
    (r"\frac{\partial C}{\partial W_h} = x_h", "d C / d Wh = xh"),  # one letter under \partial: a name, not an entry
    (r"L = W^{(l)} + W^{[l]} + W^{l} + W^L + x^n + x^2", "L = W[l] + W[l] + W[l] + W[L] + x^n + x^2"),
    (r"y = \boldsymbol{\delta}^{l} \bm{a}^{l-1\top} W^{l+1}", "y = delta[l] a[l-1]^T W[l+1]"),
])
def test_notation_of_lecture_notes(latex, expected):
    assert read(latex) == plain(expected)


INDEX_NOTE = """# Index claims

```tensorcalc
tensorcalc: 1
layout: mixed
dims: {L: [1, 2], n[l]: 1..3}
functions: {mu: sigmoid}
tensors: {x: vector(n[0]), y: vector(n[L]), W[l]: matrix(n[l], n[l-1])  for l in 1..L}
forward: {a[0]: x, z[l]: W[l] a[l-1]  for l in 1..L, a[l]: mu(z[l])  for l in 1..L, C: norm(a[L] - y)^2}
```

<!-- check -->
$$ \\frac{\\partial C}{\\partial W^{[L]}_{ij}} = 2 (a^{[L]}_i - y_i) \\mu'(z^{[L]}_i) a^{[L-1]}_j $$

<!-- check: expect fails -->
$$ \\frac{\\partial C}{\\partial W^{[L]}_{ij}} = 2 (a^{[L]}_i - y_i) \\mu'(z^{[L]}_i) a^{[L-1]}_i $$

<!-- check -->
$$ \\frac{\\partial \\mathcal{C}}{\\partial \\mathbf{z}^{L}} = 2 (\\mathbf{a}^{L} - \\mathbf{y}) \\odot \\mu^{\\prime}(\\mathbf{z}^{L}) $$
"""


def test_index_claims_of_a_note_get_their_verdicts(tmp_path):
    from tensorcalc.verdicts.check import check_file

    (tmp_path / "index.md").write_text(INDEX_NOTE, encoding="utf-8")
    result = check_file(str(tmp_path / "index.md"))
    assert [c.verdict for c in result.claims] == ["holds", "fails", "holds"], [c.reason for c in result.claims]
