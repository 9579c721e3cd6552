"""``d (expression) / d W`` whose expression nests parentheses deeply (``d (sum(sin(W x))) / d W``)
or is raised to a power (``d (x^T x)^2 / d x``).

The grammar opens a derivative only when its lookahead sees the whole target, and that lookahead
follows six levels of parentheses. Such text used to be read as the product ``d · ((...) / d) · W``
when a dimension is called ``d``, so a false claim was proved; deeper than six it is refused."""
import pytest

from tensorcalc.cli import main

MODEL = """\
tensorcalc: 1
layout: mixed
dims: {{n: 2, {dim}: 3}}
tensors:
  W: matrix(n, {dim})
  x: vector({dim})
forward:
  z: W x
claims:
  - claim: {claim}
    expect: {expect}
"""


def _check(tmp_path, capsys, claim, expect="holds", dim="d"):
    path = tmp_path / "deep.yaml"
    path.write_text(MODEL.format(dim=dim, claim=claim, expect=expect))
    code = main(["check", str(path)])
    return code, capsys.readouterr().out


def test_a_product_by_a_dimension_named_d_is_never_proved_as_a_derivative(tmp_path, capsys):
    # read as d · (sum(sin(W x)) / d) · W, the two sides are equal; as a derivative they are not
    code, out = _check(tmp_path, capsys, "d (sum(sin(W x))) / d W = sum(sin(W x)) W", expect="fails")
    assert code == 0, out
    assert "FAILS" in out and "correct: d sum(sin(W x)) / d W = cos(z) x^T" in out


DEEP = "d ((((((sum(x))))))) / d x = ones(d)"  # seven levels of parentheses


@pytest.mark.parametrize("dim", ["d", "m"])
def test_deeper_than_six_levels_the_refusal_names_the_cause_whether_or_not_d_is_a_name(tmp_path, capsys, dim):
    code, out = _check(tmp_path, capsys, DEEP.replace("ones(d)", f"ones({dim})"), dim=dim)
    assert code == 2, out
    assert "nested at most six deep" in out and "put it in parentheses" not in out


@pytest.mark.parametrize("claim, expect", [
    ("d (x^T x)^2 / d x = 4 (x^T x) x", "holds"),
    ("d (x^T x)^{2} / d x = 4 (x^T x) x", "holds"),
    ("d (x^T x)^2 / d x = (x^T x)^2 x", "fails"),  # read as d · ((...)^2 / d) · x it held
    ("d sum(x)^3 / d x = 3 sum(x)^2 ones(d)", "holds"),
])
def test_a_power_of_a_group_is_differentiated(tmp_path, capsys, claim, expect):
    code, out = _check(tmp_path, capsys, claim, expect=expect)
    assert code == 0, out
    assert ("holds" if expect == "holds" else "FAILS") in out


def test_two_levels_of_parentheses_still_read_as_a_derivative(tmp_path, capsys):
    code, out = _check(tmp_path, capsys, "d sum(sin(W x)) / d W = cos(W x) x^T")
    assert code == 0, out


@pytest.mark.parametrize("depth", [3, 6])
def test_up_to_six_levels_of_parentheses_read_as_a_derivative(tmp_path, capsys, depth):
    inner = "(" * (depth - 2) + "sum(sin(W x))" + ")" * (depth - 2)
    code, out = _check(tmp_path, capsys, f"d {inner} / d W = cos(W x) x^T")
    assert code == 0, out
