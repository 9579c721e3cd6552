"""LaTeX claims read into the same raw trees as the plain syntax, with exact positions on errors."""

import pytest

from tensorcalc.core.notation import grouped
from tensorcalc.errors import Pos, TensorcalcError
from tensorcalc.frontends.latex_input import SymbolMap, parse_latex_claims
from tensorcalc.frontends.parse import parse, parse_claim
from tensorcalc.verdicts.check import check_file
from tests.helpers import SHALLOW_MODEL

MAP = SymbolMap({k: parse(v, "def_line", Pos())[0] for k, v in {"W^{(1)}": "W1", "W^{(2)}": "W2", "\\ell": "loss", "\\tilde{x}": "xt"}.items()})


def same(latex: str, plain: str, symbols=MAP):
    (claim,) = parse_latex_claims(latex, Pos("n.md", 3, 1), symbols)
    expected = parse_claim(plain, Pos())
    assert (claim.parsed.kind, claim.parsed.lhs, claim.parsed.rhs) == (expected.kind, expected.lhs, expected.rhs)
    return claim


@pytest.mark.parametrize(
    "latex, plain",
    [
        (r"\frac{\partial \ell}{\partial \mathbf{W}^{(1)}} = \mathbf{x}\mathbf{r}^\top \mathbf{W}^{(2)} \operatorname{diag}(\sigma'(\mathbf{z}))",
         "d loss / d W1 = x r^T W2 diag(sigma'(z))"),
        (r"\frac{\partial \boldsymbol{z}}{\partial \bm{W}} = \mathbf{I}_h \otimes \mathbf{x}", "d z / d W = I(h) ⊗ x"),
        (r"\ell = \frac{1}{2}\left\|\mathbf{r}\right\|_2^2", "loss = 1/2 ||r||_2^2"),
        (r"\ell = \frac12 \Vert r \Vert_F^{2}", "loss = 1/2 norm(r)^2"),
        (r"\frac{df}{dA^{[L]}} = \frac 2m (A^{[L]} - Y)", "d f / d A[L] = 2/m (A[L] - Y)"),
        (r"\frac{\mathrm{d} f}{\mathrm{d} Z^{[l]}} = \frac{df}{dA^{[l]}} \odot g'(Z^{[l]})", "d f / d Z[l] = (d f / d A[l]) ⊙ g'(Z[l])"),
        (r"{W^{[l+1]}}^{\top} \cdot \delta^{(l+1)} = W^{[l+1]T} \delta^{[l+1]}", "W[l+1]^T delta[l+1] = W[l+1]^T delta[l+1]"),
        (r"\mathbf{W}^{(2)\top} = \mathbf{W}^{(2)}^T", "W2^T = W2^T"),
        (r"\tilde{\mathbf{x}} = \mathbf{b}_1 \times \sigma^{\prime}(z)", "xt = b1 * sigma'(z)"),
        (r"\ell = \frac{1}{2} \sum_{k=1}^{n} r_k^2", "loss = 1/2 sum_k(r[k]^2)"),
        (r"\ell \propto \mathrm{loss}", "loss ≈ loss"),
        (r"\operatorname{tr}(A) = \exp(x) - \log y", "trace(A) = exp(x) - log(y)"),
    ],
)
def test_latex_reads_like_plain_syntax(latex, plain):
    same(latex, plain)


def test_helper_definition_chains_rows_and_ranges():
    claims = parse_latex_claims(r"\delta^{[l]} := \frac{\partial C}{\partial z^{[l]}}", Pos("n.md", 1, 1))
    assert claims[0].parsed.kind == "helper" and claims[0].parsed.lhs.attr == "delta[l]"
    text = "\\begin{aligned}\n\\frac{\\partial \\ell}{\\partial r} &= r^\\top \\\\\n &= r^T I_n.\n\\end{aligned}"
    rows = parse_latex_claims(text, Pos("n.md", 10, 1), MAP)
    assert [c.pos.line for c in rows] == [11, 12]
    assert rows[1].text == r"\frac{\partial \ell}{\partial r} = r^T I_n"
    assert rows[1].parsed.lhs == rows[0].parsed.lhs
    ranged = parse_latex_claims(r"\frac{df}{dA^{[\ell]}}=\frac{df}{dZ^{[\ell+1]}}\cdot {W^{[\ell+1]}}^T,\qquad \ell =1,2,\cdots,L-1",
                                Pos(), SymbolMap({"\\ell": parse("l", "def_line", Pos())[0]}))
    (claim,) = ranged
    assert claim.parsed.loop.index == "l" and claim.parsed.lhs.args[1].attr == "A[l]"
    assert str(parse("L-1", "def_line", Pos())[0]) == str(claim.parsed.loop.hi)
    two = parse_latex_claims(r"a = b, \quad c = d, \text{for } \ell = 1, \dots, L", Pos())
    assert len(two) == 2 and all(c.parsed.loop.index == "ell" for c in two)


@pytest.mark.parametrize(
    "latex, message, col",
    [
        (r"a = \int x", "unsupported LaTeX command '\\int'", 5),
        (r"a = \begin{bmatrix} 1 \end{bmatrix}", "unsupported LaTeX environment '\\begin{bmatrix}'", 5),
        (r"a = \lim{b}", "unsupported LaTeX command '\\lim'", 5),
        (r"a = |b|", "unsupported LaTeX: '|'", 5),
        (r"\hat{y} = y", "\\hat{y}: add it to the file's 'symbols' map", 1),
        (r"a + b", "a claim needs '='", 1),
        (r"a = \operatorname{foo}(b)", "unsupported operator 'foo'", 5),
    ],
)
def test_unsupported_latex_names_the_construct_and_position(latex, message, col):
    with pytest.raises(TensorcalcError) as err:
        parse_latex_claims(latex, Pos("n.md", 7, 3))
    assert message in err.value.message
    assert (err.value.pos.file, err.value.pos.line, err.value.pos.col) == ("n.md", 7, 2 + col)


def test_error_on_a_later_line_of_a_block():
    with pytest.raises(TensorcalcError) as err:
        parse_latex_claims("a = b\n  + \\foo", Pos("n.md", 7, 3))
    assert (err.value.pos.line, err.value.pos.col) == (8, 5)


FILE = """\
tensorcalc: 1
layout: numerator
dims: {d: 3, h: 4, n: 2}
functions: {sigma: sigmoid}
symbols:
  W^{(1)}: W1
  W^{(2)}: W2
  '\\ell': loss
""" + SHALLOW_MODEL + """claims:
  - latex: '\\frac{\\partial \\ell}{\\partial \\mathbf{W}^{(1)}} = \\mathbf{x}\\mathbf{r}^\\top \\mathbf{W}^{(2)} \\operatorname{diag}(\\sigma''(\\mathbf{z}))'
  - latex: '\\frac{\\partial \\ell}{\\partial \\mathbf{W}^{(1)}} = \\mathbf{x}\\mathbf{r}^\\top \\mathbf{W}^{(2)}'
    expect: fails
  - claim: d loss / d W2 = s r^T
    latex: '\\frac{\\partial \\ell}{\\partial \\mathbf{W}^{(2)}} = \\mathbf{s}\\mathbf{r}^\\top'
"""


def test_latex_claims_in_a_derivation_file_are_checked(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(FILE, encoding="utf-8")
    result = check_file(str(path))
    assert result.error is None
    assert [c.verdict for c in result.claims] == ["holds", "fails", "holds"]
    assert all(c.as_expected for c in result.claims)
    assert result.claims[1].pos.line == 22
    assert result.claims[2].text == "d loss / d W2 = s r^T"


def test_bad_symbol_map_entry_points_at_it(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(FILE.replace("  W^{(2)}: W2", "  W^{(2)} + 1: W2"), encoding="utf-8")
    result = check_file(str(path))
    assert result.error is not None and result.error.pos.line == 7
    assert "not one LaTeX symbol" in result.error.message


@pytest.mark.parametrize(
    "latex, plain",
    [
        (r"f = \det(X) + \det X", "f = det(X) + det(X)"),
        (r"f = \log\det(X) - \ln \det X + \operatorname{logdet}(X)", "f = logdet(X) - logdet(X) + logdet(X)"),
        (r"Y = X^{-1} + X^{-T} + X^{-\top} + X^\top + X^{-2}", "Y = X^{-1} + X^{-T} + X^{-T} + X^T + X^{-2}"),
        (r"y = x^{-n}", "y = x^{-n}"),  # a power by minus a size, not an inverse transpose
        (r"f = \operatorname{tr}(X) + \mathrm{tr}(X)", "f = trace(X) + trace(X)"),
        (r"y = \mathrm{vec}(X) + \operatorname{vec}(X)", "y = vec(X) + vec(X)"),
        (r"Y = \operatorname{kron}(A, B) + \operatorname{inv}(X)", "Y = kron(A, B) + inv(X)"),
        (r"Y = \operatorname{diag}(v) \sin(X) \cos(X)", "Y = diag(v) sin(X) cos(X)"),
        (r"f = \max(X) + \|x\|_1 + \operatorname{mean}(X)", "f = max(X) + ||x||_1 + mean(X)"),
        (r"Y = \operatorname{sum}(X, 1) + \operatorname{mean}(X, 2)", "Y = sum(X, 1) + mean(X, 2)"),
        (r"Y = \operatorname{sign}(X) \odot \operatorname{softmax\_rows}(X)", "Y = sign(X) ⊙ softmax_rows(X)"),
        (r"y = \operatorname{log\_softmax}(z) + \operatorname{logsoftmax}(z)", "y = log_softmax(z) + log_softmax(z)"),
        (r"Y = X^{\circ 2}", "Y = X.^2"),
        (r"y = \ln(x) + \sqrt{d}", "y = log(x) + sqrt(d)"),
    ],
)
def test_latex_matrix_operators(latex, plain):
    same(latex, plain)


def test_latex_square_root_in_a_fraction():
    (claim,) = parse_latex_claims(r"S = \frac{Q K^\top}{\sqrt{d}}", Pos("n.md", 1, 1), MAP)
    assert grouped(claim.parsed.rhs) == grouped(parse_claim("S = (Q K^T)/sqrt(d)", Pos()).rhs)


@pytest.mark.parametrize(
    "latex, message",
    [
        (r"Y = \operatorname{kron}(X)", "kron takes 2 argument(s)"),
        (r"Y = \operatorname{det}(X, X)", "det takes 1 argument(s)"),
        (r"Y = \operatorname{frob}(X)", "unsupported operator 'frob'"),
        (r"f = \|X\|_3", "a norm's subscript is 1, 2 or F"),
    ],
)
def test_latex_matrix_operator_errors(latex, message):
    with pytest.raises(TensorcalcError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_latex_claims(latex, Pos("n.md", 1, 1), MAP)


def test_latex_determinant_claims_are_checked(tmp_path):
    """A note's \\det and \\log\\det claims reach the same verdicts as the plain syntax."""
    path = tmp_path / "det.yaml"
    path.write_text(r"""tensorcalc: 1
layout: mixed
dims: {n: 3}
tensors:
  X: matrix(n, n)
  a: vector(n)
forward:
  f: logdet(X)
claims:
  - latex: '\frac{\partial \log\det X}{\partial X} = X^{-\top}'
  - latex: '\frac{\partial \det(X)}{\partial X} = \det(X) X^{-T}'
  - latex: '\frac{\partial\, a^\top X^{-1} a}{\partial X} = -X^{-\top} a a^\top X^{-\top}'
  - latex: '\frac{\partial f}{\partial X} = X^{-1}'
    expect: fails
""", encoding="utf-8")
    result = check_file(str(path))
    assert result.error is None, result.error
    assert [c.verdict for c in result.claims] == ["holds", "holds", "holds", "fails"]
