"""Notation a textbook reader means differently from a literal reading: refused, never misread.

``||X||_2`` of a matrix is its spectral norm (Matrix Cookbook §10.4), not the Frobenius norm;
``1/2N`` in lecture notes (``1/2m``) means 1/(2N), not N/2."""
import textwrap

import pytest

from tensorcalc.errors import Pos, TensorcalcError
from tensorcalc.frontends.latex_input import SymbolMap, parse_latex_claims
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
