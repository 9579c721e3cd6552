"""Notation a textbook reader means differently from a literal reading: refused, never misread.

``||X||_2`` of a matrix is its spectral norm (Matrix Cookbook §10.4), not the Frobenius norm;
``1/2N`` in lecture notes (``1/2m``) means 1/(2N), not N/2."""
import textwrap

import pytest

from tensorcalc.errors import Pos, TensorcalcError
from tensorcalc.frontends.latex_input import SymbolMap, parse_latex_claims
from tensorcalc.frontends.parse import parse_claim
from tensorcalc.verdicts.check import check_file

MODEL = """\
tensorcalc: 1
layout: denominator
dims: {n: 3, m: 2, N: 4}
tensors:
  X: matrix(n, m)
  x: vector(n)
  r: vector(m)
forward:
  f: {definition}
claims:
  - {claim}
"""


def _verdicts(tmp_path, definition="x^T x", claim="f = x^T x"):
    path = tmp_path / "t.yaml"
    path.write_text(MODEL.replace("{definition}", definition).replace("{claim}", claim))
    return check_file(str(path))


def _refused(tmp_path, definition, claim, words):
    with pytest.raises(TensorcalcError) as err:
        result = _verdicts(tmp_path, definition, claim)
        if getattr(result, "error", None):  # a file-level error reported rather than raised
            raise result.error
    assert words in str(err.value)
    return err.value


@pytest.mark.parametrize("definition, claim, line", [
    ("x^T x", "'||X||_2 = sqrt(trace(X^T X))'", 11),
    ("'||X||_{2}'", "d f / d X = X / sqrt(trace(X^T X))", 9),
])
def test_two_norm_of_a_matrix_is_refused_not_read_as_frobenius(tmp_path, definition, claim, line):
    err = _refused(tmp_path, definition, claim, "spectral norm")
    assert err.pos.line == line


@pytest.mark.parametrize("claim", ["'||x||_2^2 = x^T x'", "'||X||_F^2 = trace(X^T X)'", "'||r^T||_2 = norm(r)'"])
def test_two_norm_of_a_vector_and_frobenius_norm_still_hold(tmp_path, claim):
    result = _verdicts(tmp_path, "x^T x", claim)
    assert [c.verdict for c in result.claims] == ["holds"]


def test_latex_two_norm_of_a_matrix_is_refused():
    with pytest.raises(TensorcalcError, match="spectral norm"):
        claims = parse_latex_claims(r"\|X\|_2 = 1", Pos("n.md", 3, 1), SymbolMap({}))
        _check_shapes_of(claims)


def test_latex_one_norm_of_a_matrix_is_refused_and_of_a_column_is_the_sum_of_absolute_values():
    with pytest.raises(TensorcalcError, match="largest column sum"):
        _check_shapes_of(parse_latex_claims(r"\|X\|_1 = 1", Pos("n.md", 3, 1), SymbolMap({})))
    (claim,) = parse_latex_claims(r"\|x\|_1 = 1", Pos("n.md", 3, 1), SymbolMap({}))
    assert claim.parsed.lhs == parse_claim("||x||_1 = 1", Pos()).lhs


def _check_shapes_of(claims):
    from tensorcalc.core.model import Model, Prepared
    from tensorcalc.core.sizes import size_sets
    from tensorcalc.frontends import load_spec

    spec = load_spec("t.yaml", textwrap.dedent(MODEL.replace("{definition}", "x^T x").replace("{claim}", "f = x^T x")))
    model = Model(Prepared(spec), size_sets(spec.dims, spec.check.seed)[0])
    for claim in claims:
        model.resolve(claim.parsed.lhs, model.scope)


@pytest.mark.parametrize("definition", ["1/2N x^T x", "x^T x / 2N", "1/2.5N x^T x"])
def test_a_number_glued_to_a_name_after_a_slash_is_refused(tmp_path, definition):
    err = _refused(tmp_path, definition, "f = x^T x", "1/(2 N)" if "2N" in definition else "ambiguous")
    assert err.pos.line == 9


@pytest.mark.parametrize("definition", ["1/(2 N) x^T x", "1/2 N x^T x", "2N x^T x", "x^T x / (2 N)"])
def test_spaced_or_bracketed_divisions_still_read(tmp_path, definition):
    result = _verdicts(tmp_path, definition, "f = " + definition)
    assert [c.verdict for c in result.claims] == ["holds"]


@pytest.mark.parametrize("claim, words", [
    ("softmax(x^T) = ones(n)^T", "of a row it is all ones"),
    ("softmax_rows(x) = ones(n)", "groups of one entry"),
    ("log_softmax(x^T) = 0 x^T", "groups of one entry"),
])
def test_softmax_over_one_entry_groups_is_ill_formed_not_a_true_claim(tmp_path, claim, words):
    """Column-wise softmax of a row is all ones: a claim built on it must not hold."""
    (result,) = _verdicts(tmp_path, "x^T x", claim).claims
    assert result.verdict == "fails" and words in result.reason


def test_softmax_of_a_row_written_as_the_row_softmax_holds(tmp_path):
    (result,) = _verdicts(tmp_path, "x^T x", "softmax_rows(x^T) = softmax(x)^T").claims
    assert result.verdict == "holds"


def test_derivative_of_an_unbracketed_expression_says_to_bracket_it(tmp_path):
    err = _refused(tmp_path, "x^T x", "d x^T x / d x = 2 x", "put it in parentheses")
    assert (err.pos.line, err.pos.col) == (11, 5)


@pytest.mark.parametrize("claim", [
    "'||x||_1 = sum(abs(x))'", "'||x||_{1} = norm1(x)'", "'‖x‖_1 = ones(n)^T abs(x)'",
    "d f / d x = sign(x)",
])
def test_one_norm_of_a_column_is_the_sum_of_absolute_values(tmp_path, claim):
    result = _verdicts(tmp_path, "'||x||_1'", claim)
    assert [c.verdict for c in result.claims] == ["holds"]


def test_one_norm_is_not_the_two_norm(tmp_path):
    result = _verdicts(tmp_path, "'||x||_1'", "'f = ||x||_2'")
    assert [c.verdict for c in result.claims] == ["fails"]


@pytest.mark.parametrize("definition, claim, line", [
    ("x^T x", "'||X||_1 = sum(abs(X))'", 11),
    ("'||r^T||_1'", "f = sum(abs(r))", 9),
])
def test_one_norm_of_a_matrix_is_refused_with_what_to_write(tmp_path, definition, claim, line):
    """The induced 1-norm of a matrix is its largest column sum, not the sum of every entry."""
    err = _refused(tmp_path, definition, claim, "largest column sum of absolute values")
    assert "write norm1(" in str(err) and err.pos.line == line


@pytest.mark.parametrize("norm, words", [
    ("||x||_\\infty", "the max norm"), ("||x||_inf", "the max norm"), ("||x||_∞", "the max norm"),
    ("||x||_{\\infty}", "the max norm"), ("||x||_p", "a norm's subscript is 1"), ("||x||_{3}", "a norm's subscript is 1"),
    ("||x||_12", "a norm's subscript is 1"), ("||x||_F2", "a norm's subscript is 1"),
])
def test_other_norm_subscripts_are_refused_by_name(tmp_path, norm, words):
    err = _refused(tmp_path, "x^T x", f"'{norm} = 1'", words)
    assert err.pos.line == 11 and err.pos.col == 6 + norm.index("_")  # after "  - '"
