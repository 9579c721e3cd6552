"""``A(B + A)^T`` is A times the transpose of (B + A), as in UFLDL's ``δ^{(l+1)} (a^{(l)})^T``;
a product written without a space must not pull the transpose over the whole product."""
import pytest

from tensorcalc.verdicts.check import check_file

FILE = """\
tensorcalc: 1
dims: {n: 3}
tensors: {A: matrix(n, n), B: matrix(n, n)}
forward:
  f: trace(A)
claims:
  - A(B + A)^T = A B^T + A A^T
  - claim: A(B + A)^T = (A (B + A))^T
    expect: fails
"""


# plain syntax
def test_transpose_after_a_glued_product_belongs_to_the_bracket(tmp_path):
    path = tmp_path / "glued.yaml"
    path.write_text(FILE)
    result = check_file(str(path))
    assert [c.verdict for c in result.claims] == ["holds", "fails"]


@pytest.mark.parametrize("claim", ["softmax(x)^T = softmax_rows(x^T)", "diag(x)^T = diag(x)", "tanh(x)^T = tanh(x^T)",
                                   "(A(x))^T = x^T A^T"])
def test_calls_and_bracketed_products_keep_the_transpose_outside(tmp_path, claim):
    path = tmp_path / "calls.yaml"
    path.write_text(FILE.replace("B: matrix(n, n)}", "B: matrix(n, n), x: vector(n)}").split("claims:")[0]
                    + f"claims:\n  - {claim}\n")
    assert [c.verdict for c in check_file(str(path)).claims] == ["holds"]


def test_latex_transpose_after_a_glued_product_belongs_to_the_bracket(tmp_path):
    path = tmp_path / "glued.md"
    path.write_text("# t\n\n```tensorcalc\n" + FILE.split("claims:")[0] + "```\n\n<!-- check -->\n$$\nA(B + A)^\\top = A B^\\top + A A^\\top\n$$\n")
    assert [c.verdict for c in check_file(str(path)).claims] == ["holds"]


def test_latex_function_and_bracketed_product_keep_the_transpose_outside(tmp_path):
    path = tmp_path / "calls.md"
    claims = [r"\tanh(x)^\top = \tanh(x^\top)", r"(A(x))^\top = x^\top A^\top"]
    body = "".join(f"<!-- check -->\n$$\n{c}\n$$\n\n" for c in claims)
    model = FILE.replace("B: matrix(n, n)}", "B: matrix(n, n), x: vector(n)}").split("claims:")[0]
    path.write_text("# t\n\n```tensorcalc\n" + model + "```\n\n" + body)
    assert [c.verdict for c in check_file(str(path)).claims] == ["holds", "holds"]
