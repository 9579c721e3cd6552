"""A failing claim's two sides at the smallest failing sizes: carried in its result
(``SideValues``), typeset as matrices in the HTML report, or, when large, one differing entry."""
from __future__ import annotations

import json

import numpy as np

from tensorcalc.explain.diagnose import side_values
from tensorcalc.outputs.claim_latex import number
from tensorcalc.outputs.html import to_html
from tensorcalc.outputs.report import to_json
from tensorcalc.verdicts.check import ClaimResult, FileResult, Instance
from tensorcalc.errors import Pos
from tests.test_diagnose import run


def _result(values) -> FileResult:
    claim = ClaimResult(0, "d loss / d W1 = 2 x", Pos("f.yaml", 3, 5), "holds", "equation",
                        instances=[Instance({"d": 3}, "fails", "off by a constant factor", values=values)])
    return FileResult("f.yaml", claims=[claim])


def _page(values) -> str:
    page = to_html([_result(values)])
    return page[: page.index("<script>")]


def test_a_failing_claim_carries_both_sides_at_its_smallest_failing_sizes(tmp_path):
    (result,) = run(tmp_path, ["d loss / d W1 = 2 x r^T W2 diag(sigma'(z))"])
    values = result.values
    assert result.verdict == "fails" and values is not None
    assert set(values.sizes) == {"d", "h", "n"} and f"fails already at d={values.sizes['d']}" in result.reason
    assert values.names == ("claimed", "true")
    assert values.shape == (values.sizes["d"], values.sizes["h"])  # d loss / d W1, numerator layout
    claimed, true = (np.array(side) for side in values.sides)
    assert claimed.shape == true.shape == values.shape
    assert np.allclose(claimed, 2 * true) and not np.allclose(claimed, true)


def test_a_claim_that_holds_carries_no_values(tmp_path):
    (result,) = run(tmp_path, ["d loss / d W1 = x r^T W2 diag(sigma'(z))"])
    assert result.verdict == "holds" and result.values is None


def test_small_sides_are_typeset_as_matrices_with_digits_that_tell_them_apart():
    claimed = np.array([[1.000011, 2.0], [3.0, 4.0]])
    true = np.array([[1.000012, 2.0], [3.0, 4.0]])
    values = side_values({"d": 2, "h": 2}, ("claimed", "true"), claimed, true)
    assert values.entry == (1, 1) and values.differing == (1.000011, 1.000012) and values.digits == 7
    markup = _page(values)
    assert "At the smallest failing sizes, d=2, h=2" in markup
    assert (r"\text{claimed} = \begin{bmatrix}1.000011 &amp; 2 \\ 3 &amp; 4\end{bmatrix},\qquad "
            r"\text{true} = \begin{bmatrix}1.000012 &amp; 2 \\ 3 &amp; 4\end{bmatrix}") in markup


def test_large_sides_give_their_size_and_the_first_entry_that_differs():
    true = np.arange(49.0).reshape(7, 7)
    claimed = true.copy()
    claimed[2, 5] += 0.5
    values = side_values({"n": 7}, ("right side", "left side"), claimed, true)
    assert values.sides is None and values.entry == (3, 6) and values.differing == (19.5, 19.0)
    markup = _page(values)
    assert "bmatrix" not in markup
    assert "each side is 7×7, too large to show; they differ at entry [3, 6]: right side 19.5, left side 19" in markup


def test_sides_of_different_sizes_carry_nothing():
    assert side_values({"n": 2}, ("claimed", "true"), np.zeros((2, 1)), np.zeros((2, 2))) is None


def test_numbers_in_latex():
    assert number(1.5e-7, 4) == r"1.5\times 10^{-7}"
    assert number(-0.1234567, 4) == "-0.1235"
    assert number(float("inf"), 4) == r"\infty" and number(float("nan"), 4) == r"\text{NaN}"


def test_json_carries_the_values():
    values = side_values({"d": 1, "h": 2}, ("claimed", "true"), np.array([[0.1, 0.52]]), np.array([[0.1, 0.26]]))
    [instance] = json.loads(to_json([_result(values)]))["files"][0]["claims"][0]["instances"]
    assert instance["values"] == {"sizes": {"d": 1, "h": 2}, "names": ["claimed", "true"], "shape": [1, 2], "entry": [1, 2],
                                  "differing": [0.52, 0.26], "digits": 4, "sides": [[[0.1, 0.52]], [[0.1, 0.26]]]}
    [instance] = json.loads(to_json([_result(None)]))["files"][0]["claims"][0]["instances"]
    assert "values" not in instance


def test_digits_tell_apart_the_first_entry_that_differs():
    claimed, true = np.array([[1.0, 1.2345678], [0.0, 0.0]]), np.array([[1.0, 1.2345679], [0.5, 0.0]])
    values = side_values({"n": 2}, ("claimed", "true"), claimed, true)
    assert values.entry == (1, 2) and values.digits == 8
