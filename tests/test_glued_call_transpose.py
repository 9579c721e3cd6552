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


@pytest.mark.xfail(strict=True, reason="the parsers read A(B)^T as a call A(B) transposed, i.e. (A B)^T; "
                                       "telling it from (A(B))^T needs the raw tree to keep the grouping of a call")
def test_transpose_after_a_glued_product_belongs_to_the_bracket(tmp_path):
    path = tmp_path / "glued.yaml"
    path.write_text(FILE)
    result = check_file(str(path))
    assert [c.verdict for c in result.claims] == ["holds", "fails"]
