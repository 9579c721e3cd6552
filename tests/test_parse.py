"""The expression grammar: spellings that must mean the same thing, and bad input with positions."""
import pytest

from tensorcalc.core.notation import grouped
from tensorcalc.errors import Pos, TensorcalcError
from tensorcalc.frontends import load_spec
from tensorcalc.frontends.parse import parse, parse_claim

P = Pos("f.yaml", 3, 5)


def text_of(source: str) -> str:
    raw, _loop = parse(source, "def_line", P)
    return grouped(raw)


@pytest.mark.parametrize(
    "a, b",
    [
        ("x ⊗ Y", "otimes(x, Y)"),
        ("a ⊙ b", "hadamard(a, b)"),
        ("W^T", "Wᵀ"),
        ("W^T", "W^{T}"),
        ("W^T", "W^\\top"),
        ("A @ B", "A B"),
        ("A · B", "A B"),
    ],
)
def test_equivalent_spellings_resolve_alike(a, b):
    from tests.helpers import deriv_expr, model_from

    model = model_from(
        """
tensorcalc: 1
dims: {m: 2, n: 3}
tensors:
  x: vector(m)
  Y: matrix(n, m)
  a: vector(n)
  b: vector(n)
  W: matrix(m, n)
  A: matrix(m, n)
  B: matrix(n, m)
forward: {loss: sum(x)}
claims: []
"""
    )
    assert deriv_expr(model, a) == deriv_expr(model, b)


def test_derivative_spellings():
    a = parse_claim("d loss / d W1 = x", P)
    b = parse_claim("∂loss/∂W1 = x", P)
    assert grouped(a.lhs) == grouped(b.lhs) == "(d loss / d W1)"


@pytest.mark.parametrize(
    "source, expected",
    [
        ("1/2 norm(r)^2", "(1/2) norm(r)^2"),  # / binds tighter than juxtaposition
        ("W^T d ⊙ s", "(W^T d) ⊙ s"),  # juxtaposition binds tighter than ⊙
        ("a - b + c", "(a - b) + c"),
        ("-x y", "-(x y)"),
        ("d (W x) / d x", "(d (W x) / d x)"),
        ("W^T d", "W^T d"),  # a vector named d is not a derivative
        # a call starting with d (diag) before `/` is a division, not `d iag(g) / ...`
        ("A diag(g) / s", "A (diag(g)/s)"),
        ("dloss / d x", "(d loss / d x)"),
        ("dsigma(z) / d z", "(d (sigma(z)) / d z)"),
        ("x r^T W2", "(x r^T) W2"),
        ("1/m ||A - Y||_F^2", "(1/m) norm(A - Y)^2"),
    ],
)
def test_precedence(source, expected):
    assert text_of(source) == expected


def test_for_clause_and_helper():
    claim = parse_claim("delta[l-1] = mu'(z[l-1]) ⊙ W[l]^T delta[l]   for l in 2..L", P)
    assert claim.kind == "equation" and claim.loop.index == "l"
    helper = parse_claim("delta[l] := d C / d z[l]", P)
    assert helper.kind == "helper" and helper.lhs.attr == "delta[l]"
    approx = parse_claim("g ≈ h", P)
    assert approx.kind == "proportional"


@pytest.mark.parametrize(
    "source, col, fragment",
    [
        ("d loss / d W1 = x )", 23, "unexpected ')'"),
        ("a = b $", 11, "unexpected character '$'"),
        ("a = (b", 10, "unexpected end"),
    ],
)
def test_errors_carry_positions(source, col, fragment):
    with pytest.raises(TensorcalcError) as err:
        parse_claim(source, P)
    assert fragment in err.value.message
    assert err.value.pos.line == 3 and err.value.pos.col == col


def test_claim_without_equals_is_an_error():
    with pytest.raises(TensorcalcError):
        parse_claim("loss", P)


def test_no_python_evaluation_of_text():
    with pytest.raises(TensorcalcError):
        parse("__import__('os').system('echo hi')", "def_line", P)


def test_yaml_errors_have_positions(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tensorcalc: 1\ndims: {d: 3}\ndims: {d: 4}\n")
    with pytest.raises(TensorcalcError) as err:
        load_spec(bad)
    assert "duplicate key 'dims'" in err.value.message and err.value.pos.line == 3
    bad.write_bytes(b"tensorcalc: 1\n\xff\xfe\n")
    with pytest.raises(TensorcalcError) as err:
        load_spec(bad)
    assert "UTF-8" in err.value.message
    bad.write_text("")
    with pytest.raises(TensorcalcError, match="empty"):
        load_spec(bad)


def test_unquoted_brackets_are_read_as_expressions(tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text("tensorcalc: 1\ndims: {d: 2}\ntensors: {x: vector(d)}\nforward:\n  xt: [x; 1]\n  loss: sum(xt)\nclaims: []\n")
    spec = load_spec(f)
    assert spec.forward["xt"].text == "[x; 1]"
